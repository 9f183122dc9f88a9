"""A meeting that has been held keeps what it had: its page shows the answers to the invitation and its agenda, and
offers no form to change them (who came is in its report; the agenda is what was prepared). A hand-made POST is
refused by the domain with a message, and nothing is saved. A meeting still to come offers both (the control)."""

from __future__ import annotations

import re
from pathlib import Path

from plugin.meetings.forms import response_key
from tests.support.ui import launched
from tests.unit.plugin.meetings.test_meetings_views import by_uid, sanne_meetings, text, uid_of
from tests.unit.plugin.notes.test_notes_views import agenda_post

SANNE = "Patient/sanne-bakker"


def test_a_held_meeting_offers_no_answers_or_agenda_to_change_and_refuses_them(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        meetings = sanne_meetings(env)
        held, planned = meetings[0], meetings[-1]
        assert held["status"] == "fulfilled" and planned["status"] == "proposed"
        for meeting, offered in ((planned, True), (held, False)):
            page = text(env.get(f"/bijeenkomsten/{uid_of(meeting)}"))
            assert ("Antwoorden opslaan" in page) is offered, page
            assert ("De bijeenkomst is geweest: deze antwoorden zijn niet meer te wijzigen." in page) is not offered
            agenda = text(env.get(f"/bijeenkomsten/{uid_of(meeting)}/agenda"))
            assert ("Agenda opslaan" in agenda) is offered, agenda

        uid = uid_of(held)
        before = by_uid(env, "Appointment", uid)
        # Every member's answer, as the planned meeting's form has them (the held one's page has no form).
        keys = re.findall(r'<label for="(r_[0-9a-f]+)">', text(env.get(f"/bijeenkomsten/{uid_of(planned)}")))
        answers = {**dict.fromkeys(keys, "needs-action"), response_key(SANNE): "declined"}
        assert response_key(SANNE) in keys
        refused = env.post(f"/bijeenkomsten/{uid}/reacties", answers)
        assert refused.status_code == 422, refused.status_code
        page = text(refused)
        assert "U kunt de antwoorden op de uitnodiging niet meer wijzigen." in page, page
        assert "Antwoorden opslaan" in page and '<option selected value="declined">' in page  # kept, as chosen
        # In English: the domain's reason as it gives it (in Dutch), never its message for developers.
        english = text(env.post(f"/bijeenkomsten/{uid}/reacties?lang=en", answers))
        assert "This cannot be done. The reason, in Dutch: Deze bijeenkomst is al geweest" in english, english
        assert "response recorded for a" not in english
        refused = env.post(f"/bijeenkomsten/{uid}/agenda", agenda_post([("free", "", False, "Achteraf erbij")]))
        assert refused.status_code == 422, refused.status_code
        page = text(refused)
        assert "U kunt de agenda niet meer wijzigen." in page and "Achteraf erbij" in page
        after = by_uid(env, "Appointment", uid)
        assert after["meta"]["versionId"] == before["meta"]["versionId"]
        assert after["participant"] == before["participant"]
