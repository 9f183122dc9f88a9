"""Moving a planned meeting through the app (real app, sandbox FHIR store): the agenda, roles and invitees stay,
the answers are cleared when the time changes, and the invitees get an updated invitation with METHOD:REQUEST,
the same UID and a higher SEQUENCE."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Any

from icalendar import Calendar

from tests.support.ui import LaunchedApp, launched
from tests.unit.plugin.group.test_lifecycle_cancels_views import communications, invite_planned
from tests.unit.plugin.meetings.test_meetings_views import AMS, by_uid, role_holders, sanne_meetings, text, uid_of


def calendar(communication: dict[str, Any]) -> Any:
    data = next(p["contentAttachment"]["data"] for p in communication["payload"] if "contentAttachment" in p)
    return Calendar.from_ical(base64.b64decode(data).decode("utf-8"))


def answers(appointment: dict[str, Any]) -> set[str]:
    return {
        p["status"]
        for p in appointment["participant"]
        if not p.get("actor", {}).get("reference", "").startswith("Location/")
    }


def move(env: LaunchedApp, uid: str, **values: str) -> Any:
    form = {"start": "2032-04-13T19:30", "minutes": "60", "place": "later", "theme": "", "theme_text": ""}
    return env.post(f"/bijeenkomsten/{uid}/verplaatsen", {**form, **values})


def test_an_invited_meeting_is_moved_and_the_invitees_get_an_update(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        planned = invite_planned(env)
        uid = uid_of(planned)
        detail = text(env.get(f"/bijeenkomsten/{uid}"))
        assert "Bijeenkomst verplaatsen" in detail
        ans = "Practitioner/anna-de-vries"
        roles = {"voorzitter": "", "notulist": ans, "tijdbewaker": ""}
        assert env.post(f"/bijeenkomsten/{uid}/rollen", roles).status_code == 303
        page = env.get(f"/bijeenkomsten/{uid}/verplaatsen")
        assert page.status_code == 200 and "De genodigden krijgen een nieuwe uitnodiging" in text(page)

        done = move(env, uid, theme_text="Werk")
        assert done.status_code == 303, text(done)
        assert "We vragen iedereen opnieuw" in text(env.get(done.headers["Location"]))

        stored = by_uid(env, "Appointment", uid)
        assert datetime.fromisoformat(stored["start"]) == datetime(2032, 4, 13, 19, 30, tzinfo=AMS)
        assert stored["status"] == "booked"
        assert role_holders(stored) == {"notulist": ans}
        assert answers(stored) == {"needs-action"}
        sent = sorted(communications(env, "uitnodiging", planned["id"]), key=lambda c: c["sent"])
        assert len(sent) == 2
        first, update = calendar(sent[0]), calendar(sent[1])
        event, first_event = update.walk("VEVENT")[0], first.walk("VEVENT")[0]
        assert str(update["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == str(first_event["UID"])
        assert int(event["SEQUENCE"]) > int(first_event.get("SEQUENCE", 0))
        assert event["DTSTART"].dt == datetime(2032, 4, 13, 19, 30, tzinfo=AMS)
        assert "opnieuw" in sent[1]["payload"][0]["contentString"]
        assert "Bijeenkomst verplaatst" in [p.get("activity", {}).get("text") for p in env.resources("Provenance")]


def test_a_move_to_the_past_asks_first(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        uid = uid_of(sanne_meetings(env)[-1])
        before = len(env.resources("Provenance"))
        asked = move(env, uid, start="2025-03-01T19:30")
        assert asked.status_code == 422
        assert "Deze datum is al voorbij" in text(asked)
        assert len(env.resources("Provenance")) == before
        confirmed = move(env, uid, start="2025-03-01T19:30", **{"start-past": "y"})
        assert confirmed.status_code == 303, text(confirmed)
        stored = by_uid(env, "Appointment", uid)
        assert datetime.fromisoformat(stored["start"]) == datetime(2025, 3, 1, 19, 30, tzinfo=AMS)


def test_a_held_meeting_cannot_be_moved_and_others_may_not(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        held = sanne_meetings(env)[0]
        assert held["status"] == "fulfilled"
        assert env.get(f"/bijeenkomsten/{uid_of(held)}/verplaatsen").status_code == 404
        assert "Bijeenkomst verplaatsen" not in text(env.get(f"/bijeenkomsten/{uid_of(held)}"))
    with launched(tmp_path / "patient", patient="sanne-bakker", user="Patient/sanne-bakker") as env:
        uid = uid_of(sanne_meetings(env)[-1])
        assert "Bijeenkomst verplaatsen" not in text(env.get(f"/bijeenkomsten/{uid}"))
        assert move(env, uid).status_code == 403
        assert sanne_meetings(env)[-1]["start"] != "2032-04-13T19:30:00+02:00"
