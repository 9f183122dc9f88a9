"""Marking one's own agreement done with a short note (Task.note), and what a member sees of the group.

The real app and a sandbox FHIR store with the demo data: Sanne's group, with Lotte Smit (a Practitioner member)
and Ans Bakker and Karim Haddou (RelatedPerson members).
"""

from __future__ import annotations

import re
from pathlib import Path

from fhir_mappings.model import MAX_NOTE
from tests.support.ui import launched
from tests.unit.plugin.agreements.test_agreements_views import (
    related_person,
    row_of,
    section,
    task_named,
    text,
    uid_of,
)
from tests.unit.plugin.meetings.test_meetings_views import sanne_meetings

LOTTE = "Practitioner/lotte-smit"
NOTE = 'Cv is af. Lotte mailt het naar Sanne <b>"vet"</b> 😀'
NOTE_ESCAPED = "Cv is af. Lotte mailt het naar Sanne &lt;b&gt;&#34;vet&#34;&lt;/b&gt; 😀"


def provenance_texts(env: object) -> list[str]:
    return [p["activity"].get("text") for p in env.resources("Provenance")]  # type: ignore[attr-defined]


def test_a_member_marks_her_agreement_done_with_a_note_everyone_in_the_group_reads(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user=LOTTE) as env:
        cv = uid_of(task_named(env, "Cv bijwerken"))
        own_row = row_of(section(text(env.get("/afspraken")), "open-h"), "Cv bijwerken")
        assert f'href="/c/{env.context_id}/afspraken/{cv}#done-h"' in own_row
        assert "Klaar, met een toelichting" in own_row

        page = text(env.get(f"/afspraken/{cv}"))
        assert '<h2 id="done-h">Heb je het gedaan?</h2>' in page
        assert "Een korte toelichting (niet verplicht)" in page and f'maxlength="{MAX_NOTE}"' in page
        assert f'action="/c/{env.context_id}/afspraken/{cv}/klaar"' in page

        done = env.post(f"/afspraken/{cv}/klaar", {"note": NOTE})
        assert done.status_code == 303, text(done)
        task = task_named(env, "Cv bijwerken")
        assert task["status"] == "completed"
        assert [n["text"] for n in task["note"]] == [NOTE]
        assert task["note"][0]["authorReference"]["reference"] == LOTTE and task["note"][0]["time"]
        assert "Afspraak klaar gemeld" in provenance_texts(env)

        listing = text(env.get("/afspraken"))
        assert NOTE_ESCAPED in row_of(section(listing, "done-h"), "Cv bijwerken")
        detail = text(env.get(f"/afspraken/{cv}"))
        assert "<dt>Toelichting</dt>" in detail and NOTE_ESCAPED in detail and "Lotte Smit" in detail
        assert "<textarea" not in detail  # done: nothing more to mark

        # The regieondersteuner and the patient read the note with the agreement too.
        env.act_as("Practitioner/anna-de-vries")
        assert NOTE_ESCAPED in text(env.get(f"/afspraken/{cv}")) and NOTE_ESCAPED in text(env.get("/afspraken"))
        env.act_as("Patient/sanne-bakker")
        assert NOTE_ESCAPED in text(env.get(f"/afspraken/{cv}"))


def test_a_note_too_long_is_refused_in_dutch_and_kept_as_typed(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user=LOTTE) as env:
        cv = uid_of(task_named(env, "Cv bijwerken"))
        before = len(env.resources("Provenance"))
        typed = "Het cv is bijna af, " + "x" * MAX_NOTE
        refused = env.post(f"/afspraken/{cv}/klaar", {"note": typed})
        assert refused.status_code == 422
        html = text(refused)
        box = re.search(r'<div class="problem-box".*?</div>', html, re.S)
        assert box is not None and f"Dit is te lang: maximaal {MAX_NOTE} tekens." in box.group(0)
        assert typed + "</textarea>" in html and 'aria-invalid="true"' in html
        # The member is not shown the professionals' change form on the way.
        assert 'name="description"' not in html and 'name="status"' not in html
        task = task_named(env, "Cv bijwerken")
        assert task["status"] == "requested" and not task.get("note")
        assert len(env.resources("Provenance")) == before

        # Without a note it is one press, as on the list.
        assert env.post(f"/afspraken/{cv}/klaar", {"note": "   "}).status_code == 303
        task = task_named(env, "Cv bijwerken")
        assert task["status"] == "completed" and not task.get("note")


def test_a_related_person_marks_done_with_a_note_but_not_someone_elses(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        env.act_as(related_person(env, "Karim Haddou"))
        gym = uid_of(task_named(env, "Sportschool uitzoeken"))
        cv = uid_of(task_named(env, "Cv bijwerken"))
        refused = env.post(f"/afspraken/{cv}/klaar", {"note": "Niet van mij"})
        assert refused.status_code == 403 and "Dit mag je alleen voor jezelf doen." in text(refused)
        assert task_named(env, "Cv bijwerken")["status"] == "requested"
        assert env.post(f"/afspraken/{gym}/klaar", {"note": "Ingeschreven bij Basic-Fit"}).status_code == 303
        task = task_named(env, "Sportschool uitzoeken")
        assert task["status"] == "completed" and task["note"][0]["text"] == "Ingeschreven bij Basic-Fit"
        assert task["note"][0]["authorReference"]["reference"] == related_person(env, "Karim Haddou")


def test_a_professional_changes_the_status_and_gets_no_done_form(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Practitioner/anna-de-vries") as env:
        planned = uid_of(sanne_meetings(env)[-1])
        meeting = text(env.get(f"/bijeenkomsten/{planned}"))
        assert (
            "Downloaden voor uw kalender (.ics)" in meeting and "spreken de patiënt en de regieondersteuner" in meeting
        )
        cv = uid_of(task_named(env, "Cv bijwerken"))
        page = text(env.get(f"/afspraken/{cv}"))
        assert 'name="status"' in page and "/klaar" not in page and "Heb je het gedaan?" not in page
        refused = env.post(f"/afspraken/{cv}/klaar", {"note": "Door Anna"})
        assert refused.status_code == 403 and "Dit mag alleen" in text(refused)
        assert task_named(env, "Cv bijwerken")["status"] == "requested"


def test_a_related_person_member_sees_the_next_meeting_and_only_her_own_agreements(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        ans = related_person(env, "Ans Bakker")
        env.act_as(ans)
        agreements = text(env.get("/afspraken"))
        assert "<h1>Mijn afspraken</h1>" in agreements
        mine = section(agreements, "open-h")
        assert "Samen twee woningen bekijken" in mine and "Klaar, met een toelichting" in mine
        assert "Samen de aanvraag invullen" in section(agreements, "done-h")
        for others in ("Cv bijwerken", "Sportschool uitzoeken"):
            assert others not in agreements, others
        assert "Afspraak maken" not in agreements and "Wijzigen" not in agreements
        cv = uid_of(task_named(env, "Cv bijwerken"))
        assert env.get(f"/afspraken/{cv}").status_code == 404

        meetings = env.get("/bijeenkomsten")
        assert meetings.status_code == 200 and "Bijeenkomst plannen" not in text(meetings)
        assert "op een plek waar Sanne Bakker zich prettig voelt" in text(meetings)
        planned = [a for a in sanne_meetings(env) if a["status"] in ("proposed", "booked")]
        assert len(planned) == 1
        page = text(env.get(f"/bijeenkomsten/{uid_of(planned[0])}"))
        assert "/mijn-reactie" in page and ">Ik kom</button>" in page and "/uitnodiging" not in page
        # Addressed with "je", and Sanne by name (not "de patiënt").
        assert "Zet het in je kalender (.ics)" in page and "uw kalender" not in page
        assert "Voor de bijeenkomst spreken Sanne Bakker en de regieondersteuner af" in page
        held = uid_of(sanne_meetings(env)[0])
        for printed in (f"/bijeenkomsten/{held}/agenda/afdrukken", f"/bijeenkomsten/{held}/verslag/afdrukken"):
            assert "afdrukknop van je browser" in text(env.get(printed)), printed
        answered = env.post(f"/bijeenkomsten/{uid_of(planned[0])}/mijn-reactie", {"answer": "accepted"})
        assert answered.status_code == 303, text(answered)
        appointment = next(a for a in env.resources("Appointment") if a["id"] == planned[0]["id"])
        statuses = {p["actor"]["reference"]: p["status"] for p in appointment["participant"] if "actor" in p}
        assert statuses[ans] == "accepted" and statuses["Patient/sanne-bakker"] == "needs-action"
