"""The demo's planned meeting is weeks away: its page offers no "held" or "did not take place" (only cancelling),
its report page shows no report form, and a POST of either is refused with the domain's Dutch message, nothing
saved. Cancelling it still works."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.ui import LaunchedApp, launched
from tests.unit.plugin.meetings.test_meetings_views import AMS, by_uid, provenance_texts, sanne_meetings, text, uid_of

NOT_YET = "Deze bijeenkomst is nog niet geweest. U kunt"
MARK_HINT = "Meestal wordt de bijeenkomst &#39;gehouden&#39; als u het verslag schrijft."


def status_options(page: str) -> set[str]:
    """The status values the "What happened" form offers (none when the page has no such form)."""
    return set(re.findall(r'name="status"[^>]*type="radio" value="([^"]+)"', page))


def future_meeting(env: LaunchedApp) -> dict[str, Any]:
    planned = sanne_meetings(env)[-1]
    assert planned["status"] == "proposed"
    assert datetime.fromisoformat(planned["start"]).astimezone(AMS).date() > datetime.now(AMS).date()
    return planned


def test_the_page_of_a_meeting_to_come_offers_only_cancelling(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        uid = uid_of(future_meeting(env))
        page = text(env.get(f"/bijeenkomsten/{uid}"))
        assert status_options(page) == {"cancelled"}
        assert MARK_HINT not in page
        held = uid_of(sanne_meetings(env)[1])  # a held meeting: nothing more to mark, as before
        assert status_options(text(env.get(f"/bijeenkomsten/{held}"))) == set()


def test_marking_a_meeting_to_come_held_is_refused_and_nothing_is_saved(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        planned = future_meeting(env)
        uid = uid_of(planned)
        before = provenance_texts(env)
        refused = env.post(f"/bijeenkomsten/{uid}/status", {"status": "fulfilled"})
        assert refused.status_code == 422
        assert NOT_YET in text(refused).replace("&#39;", "'")
        assert "Opgeslagen in het EPD." not in text(refused)
        assert by_uid(env, "Appointment", uid)["status"] == "proposed"
        assert provenance_texts(env) == before
        # Cancelling it is still possible.
        assert env.post(f"/bijeenkomsten/{uid}/status", {"status": "cancelled"}).status_code == 303
        assert by_uid(env, "Appointment", uid)["status"] == "cancelled"


def test_the_report_page_of_a_meeting_to_come_has_no_form_and_refuses_a_report(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        planned = future_meeting(env)
        uid = uid_of(planned)
        url = f"/bijeenkomsten/{uid}/verslag"
        page = text(env.get(url))
        assert 'class="report-form"' not in page and "Verslag opslaan" not in page
        assert "Er is nog geen verslag." in page
        before = provenance_texts(env)
        refused = env.post(url, {"samenvatting": "Een verslag van te vroeg", "attended": "Patient/sanne-bakker"})
        assert refused.status_code == 422
        body = text(refused)
        assert "Deze bijeenkomst is nog niet geweest. U kunt er pas vanaf de dag zelf een verslag van maken." in body
        assert "Een verslag van te vroeg</textarea>" in body  # what was typed is kept
        assert by_uid(env, "Appointment", uid)["status"] == "proposed"
        assert provenance_texts(env) == before
        reports = [
            c
            for c in env.resources("Communication")
            if c.get("partOf", [{}])[0].get("reference") == f"Appointment/{planned['id']}"
        ]
        assert reports == []
