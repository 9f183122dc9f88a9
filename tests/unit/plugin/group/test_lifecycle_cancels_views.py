"""Pausing or ending a group through the app cancels its planned meetings and tells the invitees (real app,
sandbox FHIR store): the confirmation page lists them; the Appointment becomes cancelled and a Communication
`afzegging` carries a METHOD:CANCEL calendar with the invitation's UID and a higher SEQUENCE."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from icalendar import Calendar

from fhir_mappings.codes import CS_ARTIFACT
from tests.support.ui import LaunchedApp, launched
from tests.unit.language.crawl import as_portal_user
from tests.unit.plugin.meetings.test_meetings_views import sanne_meetings, text, uid_of


def communications(env: LaunchedApp, code: str, appointment_id: str) -> list[dict[str, Any]]:
    return [
        c
        for c in env.resources("Communication")
        if any(x.get("system") == CS_ARTIFACT and x.get("code") == code for cat in c["category"] for x in cat["coding"])
        and c.get("partOf", [{}])[0].get("reference") == f"Appointment/{appointment_id}"
    ]


def calendar_of(communication: dict[str, Any]) -> tuple[str, str, int, str]:
    data = next(p["contentAttachment"]["data"] for p in communication["payload"] if "contentAttachment" in p)
    cal = Calendar.from_ical(base64.b64decode(data).decode("utf-8"))
    event = cal.walk("VEVENT")[0]
    return str(cal["METHOD"]), str(event["UID"]), int(event.get("SEQUENCE", 0)), str(event["STATUS"])


def invite_planned(env: LaunchedApp) -> dict[str, Any]:
    planned = sanne_meetings(env)[-1]
    assert planned["status"] == "proposed"
    done = env.post(f"/bijeenkomsten/{uid_of(planned)}/uitnodiging", {"message": "Kom je ook?"})
    assert done.status_code == 303, text(done)
    return planned


def test_ending_lists_and_cancels_the_invited_meeting(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        planned = invite_planned(env)
        assert "Volgende bijeenkomst" in text(env.get("/"))
        page = text(env.get("/status?action=end"))
        assert "Deze geplande bijeenkomsten worden afgezegd" in page
        assert "de genodigden krijgen een afzegging" in page

        done = env.post("/status", {"action": "end", "confirm": "y"})
        assert done.status_code == 303, text(done)

        appointment = next(a for a in env.resources("Appointment") if a["id"] == planned["id"])
        assert appointment["status"] == "cancelled"
        [invitation] = communications(env, "uitnodiging", planned["id"])
        [notice] = communications(env, "afzegging", planned["id"])
        assert {r["reference"] for r in notice["recipient"]} == {r["reference"] for r in invitation["recipient"]}
        assert notice["category"][0]["coding"][0]["display"] == "Afzegging"
        method, uid, sequence, status = calendar_of(notice)
        _, invited_uid, invited_sequence, _ = calendar_of(invitation)
        assert (method, status) == ("CANCEL", "CANCELLED")
        assert uid == invited_uid and sequence > invited_sequence
        overview = text(env.get("/"))
        assert "beëindigd" in overview
        # The cancelled meeting is no longer shown as the next one.
        section = overview.split('id="meeting-h"')[1].split("</section>")[0]
        assert "Geen bijeenkomst gepland." in section


def test_pausing_a_group_without_an_invitation_cancels_without_a_message(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        planned = sanne_meetings(env)[-1]
        page = text(env.get("/status?action=pause"))
        assert "Deze geplande bijeenkomsten worden afgezegd" in page
        assert "de genodigden krijgen een afzegging" not in page
        assert env.post("/status", {"action": "pause"}).status_code == 303
        appointment = next(a for a in env.resources("Appointment") if a["id"] == planned["id"])
        assert appointment["status"] == "cancelled"
        assert communications(env, "afzegging", planned["id"]) == []
        # Resuming lists nothing to cancel.
        assert "worden afgezegd" not in text(env.get("/status?action=resume"))


def test_cancelling_one_invited_meeting_tells_the_invitees(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        planned = invite_planned(env)
        done = env.post(f"/bijeenkomsten/{uid_of(planned)}/status", {"status": "cancelled"})
        assert done.status_code == 303, text(done)
        [notice] = communications(env, "afzegging", planned["id"])
        assert calendar_of(notice)[0] == "CANCEL"
        assert "actief" in text(env.get("/"))


def test_pausing_lists_and_calls_off_the_planned_interviews(tmp_path: Path) -> None:
    """Mohammed's forming group has three interviews planned: pausing calls them off; the nominees stay nominated."""
    with launched(tmp_path, patient="mohammed-el-amrani", user="Practitioner/bram-jansen") as env:
        page = text(env.get("/status?action=pause"))
        assert "Deze kennismakingsgesprekken gaan niet door" in page
        for name in ("Henk de Boer", "Rachid", "Lotte Smit"):
            assert name in page
        done = env.post("/status", {"action": "pause"})
        assert done.status_code == 303, text(done)
        interviews = [
            a
            for a in env.resources("Appointment")
            if any(x.get("code") == "nominatiegesprek" for st in a.get("serviceType", []) for x in st["coding"])
            and any(p["actor"]["reference"] == "Patient/mohammed-el-amrani" for p in a["participant"])
        ]
        assert len(interviews) == 3
        assert {a["status"] for a in interviews} == {"cancelled"}
        team = next(t for t in env.resources("CareTeam") if t["subject"]["reference"] == "Patient/mohammed-el-amrani")
        states = {
            p["member"].get("display"): next(
                e["valueCoding"]["code"] for e in p.get("extension", []) if "nomination-state" in e["url"]
            )
            for p in team["participant"]
            if any("nomination-state" in e["url"] for e in p.get("extension", []))
        }
        assert states["Henk de Boer"] == "genomineerd" and states["Rachid"] == "genomineerd"
        assert states["Youssef El Amrani"] == "gesprek-gevoerd"  # a held interview is not touched


def test_a_paused_group_offers_no_planning_refuses_it_and_says_so_to_the_patient(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        assert "Bijeenkomst plannen" in text(env.get("/bijeenkomsten"))
        assert env.post("/status", {"action": "pause", "confirm": "y"}).status_code == 303
        assert "Bijeenkomst plannen" not in text(env.get("/bijeenkomsten"))
        assert "Er is geen bijeenkomst gepland" not in text(env.get("/"))  # no call to plan one
        before = len(sanne_meetings(env))
        form = {"start": "2032-04-13T19:30", "minutes": "60", "place": "later", "theme": "", "theme_text": ""}
        refused = env.post("/bijeenkomsten/nieuw", form)
        assert refused.status_code == 422, refused.status_code
        page = text(refused)
        assert "De groep is gepauzeerd. Start de groep eerst weer, dan kunt u weer iets plannen." in page
        assert 'value="2032-04-13T19:30"' in page  # what was typed stays
        assert len(sanne_meetings(env)) == before
        as_portal_user(env, "Patient/sanne-bakker")  # Sanne herself, in the same record
        home = text(env.get("/"))
        assert "Je groep is gepauzeerd: er worden nu geen bijeenkomsten gepland." in home, home
        assert "Er is nog geen bijeenkomst gepland. Je regieondersteuner plant die samen met jou." not in home
