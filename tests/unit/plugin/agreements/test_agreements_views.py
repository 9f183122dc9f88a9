"""The agreements area with the real app and a real FHIR store: open/done/cancelled, add, edit, overdue."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from fhir_mappings.codes import CS_ARTIFACT
from plugin.agreements import views as agreement_views
from plugin.web.forms import example_date
from tests.support.ui import READ_SCOPES, LaunchedApp, launched, without_logout

HOSTILE = "<script>alert(1)</script> \"dubbel\" 'enkel' & \u202eשלום עולם\u202c 😀🤝"
HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
LATER = date.today() + timedelta(days=30)  # a date still to come whenever the test runs (a past one asks first)


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def uid_of(resource: dict[str, Any]) -> str:
    return str(resource["identifier"][0]["value"])


def task_named(env: LaunchedApp, description: str) -> dict[str, Any]:
    found = [t for t in env.resources("Task") if t.get("description") == description]
    assert len(found) == 1, f"{len(found)} tasks with text {description[:40]!r}"
    return found[0]


def goal_named(env: LaunchedApp, description: str) -> dict[str, Any]:
    return next(g for g in env.resources("Goal") if g["description"]["text"] == description)


def section(html: str, heading_id: str) -> str:
    """The HTML of one <section> (open, done, cancelled)."""
    found = re.search(rf'<section aria-labelledby="{heading_id}">.*?</section>', html, re.S)
    assert found is not None, heading_id
    return found.group(0)


def row_of(html: str, description_html: str) -> str:
    found = re.search(r"<tr[^>]*>(?:(?!</tr>).)*" + re.escape(description_html) + r".*?</tr>", html, re.S)
    assert found is not None, description_html[:40]
    return found.group(0)


def when_of(task: dict[str, Any]) -> str:
    """An agreement's date as the list orders ended ones: its due date, else the day it was made."""
    return str(((task.get("restriction") or {}).get("period") or {}).get("end") or task.get("authoredOn") or "")


def test_long_lists_of_ended_agreements_show_the_latest_with_a_link_to_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agreement_views, "ENDED_SHOWN", 1)
    with launched(tmp_path, patient="sanne-bakker") as env:
        for name in ("Cv bijwerken", "Sportschool uitzoeken"):  # two more done: three in all
            task = task_named(env, name)
            assert (
                env.post(f"/afspraken/{uid_of(task)}", {"description": name, "status": "completed"}).status_code == 303
            )
        html = text(env.get("/afspraken"))
        link = re.search(r'<a href="(/c/[^"]+/afspraken\?alle=1)#done-h">Alle 3 gedane afspraken tonen</a>', html)
        assert link is not None, section(html, "done-h")
        assert "De laatste 1 van 3." in section(html, "done-h")
        every = text(env.get("/afspraken" + link.group(1).split("/afspraken", 1)[1]))
        assert "gedane afspraken tonen" not in every
        every_done, shown = section(every, "done-h"), section(html, "done-h")
        done = [t for t in env.resources("Task") if f">{t['description']}<" in every_done]
        assert len(done) == 3 and len({when_of(t) for t in done}) == 3
        order = [t["description"] for t in sorted(done, key=when_of, reverse=True)]
        positions = [every_done.find(f">{n}<") for n in order]
        assert positions == sorted(positions)  # all of them, the latest first
        assert [n for n in order if f">{n}<" in shown] == order[:1]  # at first the latest only
        assert "Geen afspraken die niet doorgaan." in section(every, "cancelled-h")
        monkeypatch.setattr(agreement_views, "ENDED_SHOWN", 3)
        assert "gedane afspraken tonen" not in text(env.get("/afspraken"))


def test_agreement_pages_render_grouped_with_overdue_marked(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        page = env.get("/afspraken")
        assert page.status_code == 200, text(page)
        html = text(page)
        assert "<h1>Afspraken</h1>" in html and 'aria-current="page"' in html and html.count("<h1") == 1
        open_part, done_part = section(html, "open-h"), section(html, "done-h")
        late = row_of(open_part, "Sportschool uitzoeken")
        assert 'class="overdue"' in late and "datum verstreken" in late and "Karim Haddou" in late
        assert "Twee keer per week sporten" in late and "afgesproken" in late
        on_time = row_of(open_part, "Cv bijwerken")
        assert "overdue" not in on_time and "datum verstreken" not in on_time and "Lotte Smit" in on_time
        assert "Samen de aanvraag invullen" in done_part and "datum verstreken" not in done_part
        assert "1 open afspraak is over de datum." in html
        assert "Geen afspraken die niet doorgaan." in section(html, "cancelled-h")
        assert '<th scope="col">Wie</th>' in html and "Afspraak maken" in html

        new = env.get("/afspraken/nieuw")
        assert new.status_code == 200 and "Sanne Bakker, regisseur" in text(new)
        gym = uid_of(task_named(env, "Sportschool uitzoeken"))
        edit = env.get(f"/afspraken/{gym}")
        assert edit.status_code == 200
        html = text(edit)
        assert "datum verstreken" in html and "Sportschool uitzoeken</textarea>" in html
        assert '<option selected value="requested">afgesproken</option>' in html
        assert env.get("/afspraken/bestaat-niet").status_code == 404

        english = text(env.get("/afspraken?lang=en"))
        assert "Agreements" in english and "past its date" in english and "Done" in english
        assert "Make an agreement" in text(env.get("/afspraken/nieuw"))
        assert "Afspraken" in text(env.get("/afspraken?lang=nl"))


def test_make_and_change_an_agreement(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        work = goal_named(env, "Werk vinden dat bij me past")
        made = env.post(
            "/afspraken/nieuw",
            {
                "description": "Vacatures samen bekijken",
                "owner": "Practitioner/lotte-smit",
                "due": "01-02-2020",
                "due-past": "y",  # a date in the past, confirmed
                "goal_uid": uid_of(work),
            },
        )
        assert made.status_code == 303, text(made)
        task = task_named(env, "Vacatures samen bekijken")
        assert task["status"] == "requested" and task["intent"] == "plan"
        assert task["code"]["coding"][0]["system"] == CS_ARTIFACT and task["code"]["coding"][0]["code"] == "afspraak"
        assert task["owner"]["reference"] == "Practitioner/lotte-smit"
        assert task["focus"]["reference"] == f"Goal/{work['id']}"
        assert task["restriction"]["period"]["end"] == "2020-02-01"
        plan = next(p for p in env.resources("CarePlan") if p["subject"]["reference"] == "Patient/sanne-bakker")
        assert task["basedOn"][0]["reference"] == f"CarePlan/{plan['id']}"
        assert f"Task/{task['id']}" in {a["reference"]["reference"] for a in plan["activity"]}

        html = text(env.get("/afspraken"))
        assert "Opgeslagen in het EPD" in html and "2 open afspraken zijn over de datum." in html
        assert 'class="overdue"' in row_of(section(html, "open-h"), "Vacatures samen bekijken")

        uid = uid_of(task)
        changed = env.post(
            f"/afspraken/{uid}",
            {
                "description": "Vacatures bekijken op werk.nl",
                "owner": "Patient/sanne-bakker",
                "due": LATER.isoformat(),
                "goal_uid": "",
                "status": "completed",
            },
        )
        assert changed.status_code == 303, text(changed)
        task = task_named(env, "Vacatures bekijken op werk.nl")
        assert task["status"] == "completed" and task["owner"]["reference"] == "Patient/sanne-bakker"
        assert "focus" not in task and task["restriction"]["period"]["end"] == LATER.isoformat()
        html = text(env.get("/afspraken"))
        assert "Vacatures bekijken op werk.nl" in section(html, "done-h")
        assert "Vacatures bekijken" not in section(html, "open-h")

        cancel = env.post(f"/afspraken/{uid}", {"description": "Vacatures bekijken op werk.nl", "status": "cancelled"})
        assert cancel.status_code == 303
        assert task_named(env, "Vacatures bekijken op werk.nl")["status"] == "cancelled"
        assert "Vacatures bekijken op werk.nl" in section(text(env.get("/afspraken")), "cancelled-h")
        activities = [p["activity"].get("text") for p in env.resources("Provenance")]
        assert "Afspraak gemaakt" in activities and "Afspraak gewijzigd" in activities


def test_errors_and_refusals_keep_the_input(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        before = len(env.resources("Task"))
        empty = env.post(
            "/afspraken/nieuw", {"description": " ", "owner": "Practitioner/lotte-smit", "due": "31-02-2026"}
        )
        assert empty.status_code == 422
        html = text(empty)
        assert "Vul dit veld in." in html and f"Vul een datum in, bijvoorbeeld {example_date()}." in html
        assert '<option selected value="Practitioner/lotte-smit">' in html and 'value="31-02-2026"' in html

        stranger = env.post("/afspraken/nieuw", {"description": "Boodschappen doen", "owner": "RelatedPerson/niemand"})
        assert stranger.status_code == 422
        assert "Kies iemand die lid is van de groep." in text(stranger) and "Boodschappen doen</textarea>" in text(
            stranger
        )
        no_goal = env.post("/afspraken/nieuw", {"description": "Boodschappen doen", "goal_uid": "geen-doel"})
        assert no_goal.status_code == 422 and "Dit doel hoort niet bij deze groep." in text(no_goal)

        gym = uid_of(task_named(env, "Sportschool uitzoeken"))
        bad_status = env.post(f"/afspraken/{gym}", {"description": "Sportschool uitzoeken, samen", "status": "weg"})
        assert bad_status.status_code == 422 and "Sportschool uitzoeken, samen</textarea>" in text(bad_status)
        assert env.post("/afspraken/bestaat-niet", {"description": "x", "status": "completed"}).status_code == 404
        assert len(env.resources("Task")) == before
        assert task_named(env, "Sportschool uitzoeken")["status"] == "requested"


def test_read_only_launch_and_ended_group_offer_no_changes(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", scopes=READ_SCOPES) as env:
        html = text(env.get("/afspraken"))
        assert "Alleen bekijken" in html and "Afspraak maken" not in html and "Wijzigen" not in html
        assert "datum verstreken" in html  # overdue is still shown
        gym = uid_of(task_named(env, "Sportschool uitzoeken"))
        assert "<form" not in without_logout(text(env.get(f"/afspraken/{gym}")))
        before = len(env.resources("Task"))
        assert env.post("/afspraken/nieuw", {"description": "Iets"}).status_code == 403
        refused = env.post(f"/afspraken/{gym}", {"description": "Iets", "status": "completed"})
        assert refused.status_code == 403 and "alleen te bekijken" in text(refused)
        assert len(env.resources("Task")) == before
        assert task_named(env, "Sportschool uitzoeken")["status"] == "requested"

    with launched(tmp_path, patient="eva-visser") as env:
        assert "Afspraak maken" not in text(env.get("/afspraken"))
        refused = env.post("/afspraken/nieuw", {"description": "Nog één keer"})
        assert refused.status_code == 422 and "De groep is beëindigd" in text(refused)


def test_hostile_text_is_stored_as_typed_and_shown_escaped(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        assert (
            env.post("/afspraken/nieuw", {"description": HOSTILE, "owner": "Patient/sanne-bakker"}).status_code == 303
        )
        task = task_named(env, HOSTILE)
        for page in (env.get("/afspraken"), env.get(f"/afspraken/{uid_of(task)}")):
            html = text(page)
            assert page.status_code == 200 and "<script>alert" not in html and HOSTILE_ESCAPED in html
            assert "&#34;dubbel&#34;" in html and "&#39;enkel&#39;" in html
            assert "שלום עולם" in html and "😀🤝" in html

        long_text = "x" * 10_000
        for path, data in (
            ("/afspraken/nieuw", {"description": long_text}),
            (f"/afspraken/{uid_of(task)}", {"description": long_text, "status": "requested"}),
        ):
            refused = env.post(path, data)
            assert refused.status_code == 422, path
            html = text(refused)
            box = re.search(r'<div class="problem-box".*?</div>', html, re.S)
            assert box is not None and "Dit is te lang: maximaal 4000 tekens." in box.group(0)
            assert len(box.group(0)) < 2000 and long_text + "</textarea>" in html
        assert task_named(env, HOSTILE)["description"] == HOSTILE


def related_person(env: LaunchedApp, name: str) -> str:
    """The launch reference of a RelatedPerson member, found by name."""
    found = [r for r in env.resources("RelatedPerson") if r["name"][0].get("text") == name]
    assert len(found) == 1, name
    return f"RelatedPerson/{found[0]['id']}"


def test_a_member_sees_only_their_own_agreements_and_marks_them_done(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Practitioner/lotte-smit") as env:
        page = env.get("/afspraken")
        assert page.status_code == 200, text(page)
        html = text(page)
        assert "<h1>Mijn afspraken</h1>" in html and "Cv bijwerken" in html
        # Karim's and Ans's agreements (both named at a meeting) are not on Lotte's list.
        assert "Sportschool uitzoeken" not in html and "Samen de aanvraag invullen" not in html
        assert "Afspraak maken" not in html and "Wijzigen" not in html
        own = row_of(section(html, "open-h"), "Cv bijwerken")
        assert ">Klaar<" in own and "/klaar" in own and 'name="submission_key"' in own

        cv = uid_of(task_named(env, "Cv bijwerken"))
        gym = uid_of(task_named(env, "Sportschool uitzoeken"))
        tasks_before = len(env.resources("Task"))
        assert env.get("/afspraken/nieuw").status_code == 403
        assert env.post("/afspraken/nieuw", {"description": "Van Lotte"}).status_code == 403
        assert env.post(f"/afspraken/{cv}", {"description": "Cv af", "status": "completed"}).status_code == 403
        refused = env.post(f"/afspraken/{gym}/klaar")
        assert refused.status_code == 403 and "Dit mag je alleen voor jezelf doen." in text(refused)
        assert task_named(env, "Sportschool uitzoeken")["status"] == "requested"
        assert task_named(env, "Cv bijwerken")["status"] == "requested" and len(env.resources("Task")) == tasks_before

        done = env.post(f"/afspraken/{cv}/klaar")
        assert done.status_code == 303, text(done)
        assert task_named(env, "Cv bijwerken")["status"] == "completed"
        assert "Afspraak klaar gemeld" in [p["activity"].get("text") for p in env.resources("Provenance")]
        html = text(env.get("/afspraken"))
        assert "Goed gedaan!" in html and "Cv bijwerken" in section(html, "done-h") and ">Klaar<" not in html
        detail = text(env.get(f"/afspraken/{cv}"))
        assert "Cv bijwerken" in detail and "<textarea" not in detail
        assert env.get(f"/afspraken/{gym}").status_code == 404  # not on her list


def test_a_related_person_marks_their_own_agreement_done(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        env.act_as(related_person(env, "Karim Haddou"))
        html = text(env.get("/afspraken"))
        assert "Sportschool uitzoeken" in html and "Cv bijwerken" not in html
        gym = uid_of(task_named(env, "Sportschool uitzoeken"))
        assert env.post(f"/afspraken/{gym}/klaar").status_code == 303
        assert task_named(env, "Sportschool uitzoeken")["status"] == "completed"


def test_the_patient_sees_every_agreement_but_changes_none(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Patient/sanne-bakker") as env:
        html = text(env.get("/afspraken"))
        assert "<h1>Afspraken</h1>" in html and "Sportschool uitzoeken" in html and "Cv bijwerken" in html
        assert "Afspraak maken" not in html and "Wijzigen" not in html and ">Klaar<" not in html  # none of hers
        gym = uid_of(task_named(env, "Sportschool uitzoeken"))
        detail = text(env.get(f"/afspraken/{gym}"))
        assert "<textarea" not in detail and "Vraag het je regieondersteuner" in detail
        assert env.post(f"/afspraken/{gym}", {"description": "Anders", "status": "completed"}).status_code == 403
        assert env.post(f"/afspraken/{gym}/klaar").status_code == 403
        assert task_named(env, "Sportschool uitzoeken")["status"] == "requested"


def test_a_reached_goal_is_offered_only_to_the_agreements_that_have_it(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        work = goal_named(env, "Werk vinden dat bij me past")
        made = {"description": "Vacatures samen bekijken", "owner": "Practitioner/lotte-smit", "goal_uid": uid_of(work)}
        assert env.post("/afspraken/nieuw", made).status_code == 303
        task = task_named(env, "Vacatures samen bekijken")
        reached = env.post(
            f"/doelen/{uid_of(work)}", {"text": work["description"]["text"], "term": "lang", "status": "completed"}
        )
        assert reached.status_code == 303, text(reached)

        offered = text(env.get("/afspraken/nieuw"))
        assert f'value="{uid_of(work)}"' not in offered and 'value="' in offered
        assert f'value="{uid_of(work)}"' not in text(env.get(f"/afspraken/nieuw?doel={uid_of(work)}"))
        before = len(env.resources("Task"))
        refused = env.post("/afspraken/nieuw", made | {"description": "Nog een keer kijken"})
        assert refused.status_code == 422 and len(env.resources("Task")) == before
        assert "Nog een keer kijken" in text(refused)

        # The agreement made before keeps its goal, shown as reached, and a save keeps it.
        page = text(env.get(f"/afspraken/{uid_of(task)}"))
        assert re.search(
            rf'<option selected value="{uid_of(work)}">Werk vinden dat bij me past \(bereikt\)</option>', page
        )
        kept = env.post(
            f"/afspraken/{uid_of(task)}",
            made | {"description": "Vacatures samen bekeken", "status": "in-progress"},
        )
        assert kept.status_code == 303, text(kept)
        assert task_named(env, "Vacatures samen bekeken")["focus"]["reference"] == f"Goal/{work['id']}"
