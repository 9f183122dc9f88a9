"""A report's "Agreements made earlier" (Eerder gemaakte afspraken): the open agreements that existed before the
meeting. Not the ones made at it or after it (a report of an older meeting does not list what a later meeting
agreed), and never the report's own new agreements."""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fhir_mappings.codes import IDENTIFIER_SYSTEM, AgreementStatus, MeetingStatus
from fhir_mappings.model import Agreement, Meeting, Report
from plugin.notes.present import earlier_agreements
from tests.support.ui import LaunchedApp, launched
from tests.unit.plugin.notes.test_notes_views import meetings

AMS = ZoneInfo("Europe/Amsterdam")
SANNE = "Patient/sanne-bakker"
_CLOSE = re.compile(r'id="close-(\d+)-agreement" name="close-\d+-agreement" type="hidden" value="([^"]+)"')


def held(uid: str, start: datetime, *new: str) -> Meeting:
    return Meeting(uid, start, status=MeetingStatus.FULFILLED, report=Report(f"r-{uid}", new_agreements=list(new)))


def uids(agreements: list[Agreement]) -> list[str]:
    return [a.uid for a in agreements]


def test_only_agreements_made_before_the_meeting_and_not_its_own() -> None:
    agreements = [
        Agreement("before", "Bellen", created=date(2026, 9, 1)),
        Agreement("eve", "Mailen", created=date(2026, 9, 22)),
        Agreement("own-early", "Eigen, eerder ingevoerd", created=date(2026, 9, 20)),
        Agreement("on-day", "Op de dag zelf", created=date(2026, 9, 23)),
        Agreement("at-newer", "Cv bijwerken", created=date(2026, 11, 18)),
        Agreement("own-newer", "Samen twee woningen bekijken", created=date(2026, 11, 18)),
        Agreement("later", "Na de nieuwste", created=date(2026, 11, 25)),
        Agreement("closed", "Klaar", created=date(2026, 9, 1), status=AgreementStatus.COMPLETED),
        Agreement("dropped", "Gaat niet door", created=date(2026, 9, 1), status=AgreementStatus.CANCELLED),
        Agreement("undated", "Uit een ander systeem"),
    ]
    older = held("older", datetime(2026, 9, 23, 15, tzinfo=AMS), "own-early", "on-day")
    newer = held("newer", datetime(2026, 11, 18, 19, tzinfo=AMS), "at-newer", "own-newer")

    # The older meeting: what was made before its day; not its own (even one entered before the day), nothing of
    # its own day or later, nothing closed. One without a made-date is kept (nothing says it is newer).
    assert uids(earlier_agreements(agreements, older)) == ["before", "eve", "undated"]
    # The newer meeting: the older one's agreements are earlier now; its own and later ones are not.
    assert uids(earlier_agreements(agreements, newer)) == ["before", "eve", "own-early", "on-day", "undated"]

    # Made on the meeting's day but not (or not yet) in its report: made at the meeting, not earlier.
    unreported = held("newer", datetime(2026, 11, 18, 19, tzinfo=AMS))
    assert "own-newer" not in uids(earlier_agreements(agreements, unreported))
    # A meeting still without a report: its own are not known, the date alone decides.
    planned = Meeting("planned", datetime(2026, 12, 16, 19, tzinfo=AMS))
    assert uids(earlier_agreements(agreements, planned)) == [
        "before",
        "eve",
        "own-early",
        "on-day",
        "at-newer",
        "own-newer",
        "later",
        "undated",
    ]


def test_the_meetings_day_is_the_clinics_day() -> None:
    # 00:30 in Amsterdam is still the day before in UTC: the clinic's day counts.
    meeting = Meeting("m", datetime(2026, 11, 17, 23, 30, tzinfo=ZoneInfo("UTC")))
    agreements = [
        Agreement("eve", "Gisteren", created=date(2026, 11, 17)),
        Agreement("day", "Vandaag", created=date(2026, 11, 18)),
    ]
    assert uids(earlier_agreements(agreements, meeting)) == ["eve"]


# ------------------------------------------------------------------------------------------------ the pages


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def task_uids(env: LaunchedApp) -> dict[str, str]:
    """An agreement's words -> its product uid."""
    return {
        t["description"]: next(i["value"] for i in t["identifier"] if i["system"] == IDENTIFIER_SYSTEM)
        for t in env.resources("Task")
        if t.get("description")
    }


def close_lines(page: str) -> set[str]:
    return {html.unescape(v) for _, v in _CLOSE.findall(page)}


def test_the_report_of_an_older_meeting_lists_no_later_agreements(tmp_path: Path) -> None:
    # The demo: the first meeting agreed "Sportschool uitzoeken"; the second (two weeks ago) "Cv bijwerken" and
    # "Samen twee woningen bekijken"; a third meeting is planned.
    with launched(tmp_path, patient="sanne-bakker") as env:
        first, second, _ = (m["uid"] for m in meetings(env))  # held, held, planned
        tasks = task_uids(env)
        gym = tasks["Sportschool uitzoeken"]

        # The first meeting: its own agreement is new, the later ones did not exist yet: nothing made earlier.
        page = text(env.get(f"/bijeenkomsten/{first}/verslag"))
        assert "Verslag van de bijeenkomst van" in page and 'class="report-form"' in page  # the form is there
        # It is held already: the form does not say saving will mark it held.
        assert "staat de bijeenkomst op 'gehouden'" not in page
        assert "Cijfers en nieuwe afspraken worden samen met het verslag opgeslagen." in page
        assert close_lines(page) == set()
        assert "Eerder gemaakte afspraken" not in page
        assert "Cv bijwerken" not in page and "Samen twee woningen bekijken" not in page
        printed = text(env.get(f"/bijeenkomsten/{first}/verslag/afdrukken"))
        assert "Cv bijwerken" not in printed and "Samen twee woningen bekijken" not in printed

        # The second meeting: the first one's agreement to close, not its own two (made on its day: new in it).
        page = text(env.get(f"/bijeenkomsten/{second}/verslag"))
        assert "Eerder gemaakte afspraken" in page
        assert close_lines(page) == {gym} and tasks["Samen twee woningen bekijken"] not in close_lines(page)
        printed = text(env.get(f"/bijeenkomsten/{second}/verslag/afdrukken"))
        assert printed.count("Samen twee woningen bekijken") == 1  # once, among its new agreements
