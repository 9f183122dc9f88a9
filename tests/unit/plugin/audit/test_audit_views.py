"""Every page view and every save leaves an access record naming user and patient (NEN 7513), refusals too;
the care professional and the patient can see who looked at the group."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fhir_mappings.audit import AccessRecord, AuditAction, AuditOutcome, from_audit_event
from plugin.audit.trail import AuditTrail
from plugin.sync.errors import ServerUnavailable
from plugin.sync.repository import GroupRepository
from tests.support.ui import WRITE_SCOPES, LaunchedApp, launched

SANNE = "Patient/sanne-bakker"
ANNA = "Practitioner/anna-de-vries"


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", str(response.get_data(as_text=True)))


def records(env: LaunchedApp) -> list[AccessRecord]:
    """Everything the trail wrote, oldest first (flushed now)."""
    trail: AuditTrail = env.app.extensions["audit"]
    trail.flush()
    return sorted(trail.log.records(), key=lambda r: r.recorded)


def test_every_page_view_and_save_is_recorded_with_user_patient_action_and_outcome(tmp_path: Path) -> None:
    with launched(tmp_path) as env:
        for path in ("/", "/leden", "/doelen", "/afspraken", "/bijeenkomsten", "/tijdlijn"):
            assert env.get(path).status_code == 200, path
        saved = env.post("/doelen/nieuw", {"text": "Elke week boodschappen doen", "term": "kort"})
        assert saved.status_code == 303
        found = records(env)
        assert [r.app_action for r in found] == [
            "view_overview",
            "view_members",
            "view_goals",
            "view_own_agreements",
            "view_meetings",
            "view_timeline",
            "add_goal",
        ]
        assert {(r.user, r.patient, r.role, r.outcome) for r in found} == {
            (ANNA, SANNE, "regieondersteuner", AuditOutcome.SUCCESS)
        }
        views, save = found[:-1], found[-1]
        assert all(r.action is AuditAction.READ and any(e.startswith("CareTeam/") for e in r.entities) for r in views)
        new_goal = next(g for g in env.resources("Goal") if g["description"]["text"] == "Elke week boodschappen doen")
        assert save.action is AuditAction.UPDATE and f"Goal/{new_goal['id']}" in save.entities
        assert not any(e.startswith("Provenance/") for e in save.entities)
        line = (tmp_path / "audit" / "audit.jsonl").read_text()
        assert "boodschappen" not in line and "Anna de Vries" not in line  # no free text, no names


def test_opening_a_form_is_a_read_and_only_its_save_an_update(tmp_path: Path) -> None:
    """A form's page (GET) is named after the action its save would do, and read as such in the access log: a look,
    not a change, until a save wrote something."""
    with launched(tmp_path) as env:
        for path in ("/doelen/nieuw", "/bijeenkomsten/nieuw", "/naam"):
            assert env.get(path).status_code == 200, path
        found = records(env)
        assert [(r.app_action, r.action) for r in found] == [
            ("add_goal", AuditAction.READ),
            ("plan_meeting", AuditAction.READ),
            ("rename_group", AuditAction.READ),
        ], found
        assert env.post("/doelen/nieuw", {"text": "Elke week boodschappen doen", "term": "kort"}).status_code == 303
        assert (records(env)[-1].app_action, records(env)[-1].action) == ("add_goal", AuditAction.UPDATE)


def test_refusals_are_recorded_as_refused_and_write_nothing(tmp_path: Path) -> None:
    with launched(tmp_path, user="Practitioner/lotte-smit") as env:  # a plain member
        before = len(env.resources("Goal"))
        assert env.get("/doelen").status_code == 403
        assert env.post("/doelen/nieuw", {"text": "Niet van mij", "term": "kort"}).status_code == 403
        assert len(env.resources("Goal")) == before
        refused = records(env)
        assert [(r.app_action, r.action, r.outcome, r.role) for r in refused] == [
            ("view_goals", AuditAction.READ, AuditOutcome.REFUSED, "member"),
            ("add_goal", AuditAction.UPDATE, AuditOutcome.REFUSED, "member"),
        ]
        assert all(r.user == "Practitioner/lotte-smit" and r.patient == SANNE for r in refused)


def test_the_caseload_leaves_one_record_per_patient_shown(tmp_path: Path) -> None:
    scopes = (
        "launch",
        "openid",
        "fhirUser",
        *(f"user/{t}.rs" for t in ("CareTeam", "CarePlan", "Patient", "Appointment", "Task")),
    )
    with launched(tmp_path, patient=None, scopes=scopes) as env:
        assert "Sanne Bakker" in text(env.get("/caseload"))
        found = records(env)
        assert {r.patient for r in found} >= {SANNE}
        assert all(r.app_action == "view_caseload" and r.action is AuditAction.READ for r in found)
        assert len({r.patient for r in found}) == len(found)  # one per patient


def test_the_care_professional_sees_who_looked_and_the_patient_sees_it_too(tmp_path: Path) -> None:
    with launched(tmp_path) as env:
        env.get("/doelen")
        env.act_as("Practitioner/lotte-smit")
        env.get("/bijeenkomsten")
        assert env.get("/inzage").status_code == 403  # a member may not see it
        env.act_as(ANNA)
        html = text(env.get("/inzage"))
        assert "<h1>Wie heeft deze groep bekeken</h1>" in html
        rows = re.findall(r'<tr class="access-(\w+)">(.*?)</tr>', html)
        assert [kind for kind, _ in rows[:3]] == ["refused", "read", "read"]  # newest first
        assert (
            "Lotte Smit" in rows[0][1]
            and 'probeerde te bekijken: wie de groep heeft bekeken <span class="badge badge-warn">geweigerd</span>'
            in rows[0][1]
        )
        assert "Lotte Smit" in rows[1][1] and "bekeken: bijeenkomsten" in rows[1][1]
        assert "Anna de Vries" in rows[2][1] and "(u)" in rows[2][1] and "bekeken: doelen" in rows[2][1]
        assert 'href="/c/' in html and '/inzage">Wie heeft deze groep bekeken</a>' in html  # the footer link
        assert "Dit zijn alle keren die zijn vastgelegd." in html  # fewer than the page lists: every one
        env.act_as(SANNE)
        mine = text(env.get("/inzage"))
        assert "<h1>Wie heeft je groep bekeken</h1>" in mine and "Je hebt het recht" in mine
        assert "Anna de Vries" in mine and "Lotte Smit" in mine


def test_audit_events_go_to_a_fhir_server_that_takes_them_and_the_page_reads_them_back(tmp_path: Path) -> None:
    with launched(tmp_path, scopes=(*WRITE_SCOPES, "patient/AuditEvent.cs")) as env:
        env.get("/doelen")
        env.post("/doelen/nieuw", {"text": "Vaker wandelen", "term": "kort"})
        trail: AuditTrail = env.app.extensions["audit"]
        trail.flush()
        events = [from_audit_event(e) for e in env.resources("AuditEvent")]
        assert sorted(r.app_action for r in events if r is not None) == ["add_goal", "view_goals"]
        assert trail.log.records() == []  # the server took them all
        html = text(env.get("/inzage"))
        assert "bekeken: doelen" in html and "gewijzigd: doelen" in html


def test_an_ehr_outage_on_a_page_is_a_dutch_503_not_a_crash_and_is_recorded_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with launched(tmp_path) as env:

        def down(self: object, plan_id: str | None = None, **options: object) -> None:
            raise ServerUnavailable("connection refused", status=503)

        monkeypatch.setattr(GroupRepository, "load", down)
        page = env.get("/doelen")
        assert page.status_code == 503
        html = text(page)
        assert "Het EPD is nu niet bereikbaar" in html and "Er is niets gewijzigd" in html
        monkeypatch.undo()
        env.get("/doelen")
        assert [(r.app_action, r.outcome) for r in records(env)] == [
            ("view_goals", AuditOutcome.FAILED),  # the attempt counts, though nothing could be read
            ("view_goals", AuditOutcome.SUCCESS),
        ]
        rows = re.findall(r'<tr class="access-(\w+)">(.*?)</tr>', text(env.get("/inzage")))
        failed = [row for kind, row in rows if kind == "failed"]
        assert (
            len(failed) == 1
            and 'probeerde te bekijken: doelen <span class="badge badge-warn">mislukt</span>' in failed[0]
        )


def test_a_page_shown_with_a_word_about_its_filter_is_a_read_and_a_form_with_an_error_a_refusal(
    tmp_path: Path,
) -> None:
    """A timeline day it cannot read (422) still shows the timeline: a read. A form it cannot save (422): refused."""
    with launched(tmp_path) as env:
        assert env.get("/tijdlijn?datum=abc").status_code == 422
        assert env.post("/doelen/nieuw", {"text": "", "term": "kort"}).status_code == 422
        page, form = records(env)
        assert (page.app_action, page.action, page.outcome) == ("view_timeline", AuditAction.READ, AuditOutcome.SUCCESS)
        assert page.entities  # what it read
        assert (form.app_action, form.outcome) == ("add_goal", AuditOutcome.REFUSED)  # nothing written
        rows = re.findall(r'<tr class="access-(\w+)">(.*?)</tr>', text(env.get("/inzage")))
        assert [kind for kind, _ in rows[:2]] == ["refused", "read"]  # newest first
        assert "probeerde te wijzigen: doelen" in rows[0][1] and "bekeken: de tijdlijn" in rows[1][1]


def test_the_worker_reminder_rounds_records_show_as_the_app_itself(tmp_path: Path) -> None:
    """A reminder round's read and write (the worker's records in the same log) on the page: the app, no person."""
    with launched(tmp_path) as env:
        trail: AuditTrail = env.app.extensions["audit"]
        worker = {"app_action": "send_reminders", "user": "Device/rg-backend", "role": "system", "patient": SANNE}
        trail.log.append(
            [
                AccessRecord(
                    id=str(uuid.uuid4()),
                    recorded=datetime.now(UTC) - timedelta(minutes=2 - n),
                    action=action,
                    outcome=AuditOutcome.SUCCESS,
                    entities=entities,
                    client_id="rg-backend",
                    **worker,
                )
                for n, (action, entities) in enumerate(
                    [(AuditAction.READ, ("CareTeam/t1",)), (AuditAction.CREATE, ("Communication/c1",))]
                )
            ]
        )
        html = text(env.get("/inzage"))
        rows = re.findall(r'<tr class="access-(\w+)">(.*?)</tr>', html)
        mine = [(kind, row) for kind, row in rows if "de app zelf" in row]
        assert [kind for kind, _ in mine] == ["change", "read"]  # newest first
        assert all("automatisch, geen persoon" in row for _, row in mine)
        assert "gewijzigd: herinneringen voor de regieondersteuner" in mine[0][1]
        assert "bekeken: herinneringen voor de regieondersteuner" in mine[1][1]
