"""A POST without any of the form's text fields (only a crafted request sends that) is refused, never read as
"everything emptied": a held meeting's report and agenda keep their content."""

from __future__ import annotations

from pathlib import Path

from tests.support.ui import LaunchedApp, launched
from tests.unit.plugin.goals.test_goals_views import held_meeting_uid, text


def record(env: LaunchedApp) -> dict[str, list[tuple[str, str]]]:
    types = ("Appointment", "Communication", "Task", "Goal", "CarePlan", "Provenance")
    return {t: sorted((r["id"], r["meta"]["versionId"]) for r in env.resources(t)) for t in types}


def test_an_empty_post_does_not_clear_a_report_or_an_agenda(tmp_path: Path) -> None:
    with launched(tmp_path) as env:
        held = held_meeting_uid(env)
        before = record(env)
        for form in ("verslag", "agenda"):
            answer = env.post(f"/bijeenkomsten/{held}/{form}", {})
            assert answer.status_code == 422, (form, answer.status_code)
            assert "Dit formulier is niet compleet verstuurd" in text(answer), form
        assert record(env) == before


def test_a_form_sent_with_its_fields_empty_is_still_read_as_emptied(tmp_path: Path) -> None:
    with launched(tmp_path) as env:
        answer = env.post("/naam", {"name": ""})  # a real browser's empty field: the field's own message
        assert answer.status_code == 422 and "Vul dit veld in" in text(answer)
        assert "niet compleet verstuurd" not in text(answer)
