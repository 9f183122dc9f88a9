"""The meeting as an iCalendar file, and the invitation text: pure functions, parsed back with `icalendar`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from fhir_mappings.codes import MeetingRole, MeetingStatus, MeetingTheme
from fhir_mappings.model import Meeting, Place, ResourceGroup
from plugin.meetings.ics import (
    PRODUCT_DOMAIN,
    calendar_filename,
    clean_text,
    event_uid,
    meeting_calendar,
)
from plugin.meetings.invitation import invitation_text

AMS = ZoneInfo("Europe/Amsterdam")
STAMP = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOSTILE = (
    "<script>alert(1)</script> \"dubbel\" 'enkel'; komma, \\ slash\r\nATTENDEE:mailto:evil@example.org\r"
    "X-INJECT:1\n\u202eשלום עולם\u202c 😀\x00\x1b[31m"
)


def group_with_meeting(
    start: datetime, place: Place | None = None, name: str = "Team Sanne"
) -> tuple[ResourceGroup, Meeting]:
    group = ResourceGroup.start_new(
        patient="Patient/p1",
        patient_display="Sanne Bakker",
        regieondersteuner="Practitioner/anna",
        regieondersteuner_display="Anna de Vries",
        name="Team Sanne",
        today=date(2026, 1, 1),
    )
    # Set directly, as a name read from another system's record may be: the app refuses control characters
    # when a user types them, but the calendar must stay safe whatever the record holds.
    group.name = name
    if place is not None:
        group.places.append(place)
    meeting = group.plan_meeting(
        start, place_uid=place.uid if place else None, theme=MeetingTheme.STRESS, theme_text="Omgaan met drukte"
    )
    group.assign_role(meeting.uid, "Patient/p1", MeetingRole.VOORZITTER)
    return group, meeting


def only_event(text: str) -> tuple[Calendar, object]:
    calendar = Calendar.from_ical(text)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    return calendar, events[0]


@pytest.mark.parametrize(
    ("start", "offset"),
    [(datetime(2026, 7, 7, 19, 0, tzinfo=AMS), "+02:00"), (datetime(2026, 12, 1, 10, 30, tzinfo=AMS), "+01:00")],
)
def test_event_has_local_amsterdam_times_with_a_timezone(start: datetime, offset: str) -> None:
    place = Place("place-1", "Buurthuis De Linde", "Lindelaan 4, Breda")
    group, meeting = group_with_meeting(start, place)
    text = meeting_calendar(group, meeting, stamp=STAMP)
    calendar, event = only_event(text)

    assert str(calendar["VERSION"]) == "2.0" and "Resourcegroep" in str(calendar["PRODID"])
    timezones = list(calendar.walk("VTIMEZONE"))
    assert [str(tz["TZID"]) for tz in timezones] == ["Europe/Amsterdam"]
    assert f"DTSTART;TZID=Europe/Amsterdam:{start:%Y%m%dT%H%M%S}" in text
    assert event["DTSTART"].params["TZID"] == "Europe/Amsterdam"  # type: ignore[index]
    dtstart = event.decoded("DTSTART")  # type: ignore[attr-defined]
    dtend = event.decoded("DTEND")  # type: ignore[attr-defined]
    assert dtstart == start and dtstart.isoformat().endswith(offset)
    assert (dtend - dtstart).total_seconds() == 3600
    assert str(event["UID"]) == f"{meeting.uid}@{PRODUCT_DOMAIN}" == event_uid(meeting.uid)  # type: ignore[index]
    assert str(event["SUMMARY"]) == "Bijeenkomst Team Sanne"  # type: ignore[index]
    assert str(event["LOCATION"]) == "Buurthuis De Linde, Lindelaan 4, Breda"  # type: ignore[index]
    description = str(event["DESCRIPTION"])  # type: ignore[index]
    assert "Thema: Omgaan met drukte" in description and "Voorzitter: Sanne Bakker" in description
    assert str(event["STATUS"]) == "TENTATIVE"  # type: ignore[index]
    assert event.decoded("DTSTAMP") == STAMP  # type: ignore[attr-defined]
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")


def test_status_follows_the_meeting_or_the_override() -> None:
    group, meeting = group_with_meeting(datetime(2026, 7, 7, 19, tzinfo=AMS))
    assert "LOCATION" not in meeting_calendar(group, meeting, stamp=STAMP)
    booked = meeting_calendar(group, meeting, stamp=STAMP, status=MeetingStatus.BOOKED, description="Kom je?")
    _, event = only_event(booked)
    assert str(event["STATUS"]) == "CONFIRMED" and str(event["DESCRIPTION"]) == "Kom je?"  # type: ignore[index]
    group.set_meeting_status(meeting.uid, MeetingStatus.CANCELLED, date(2026, 3, 1))
    _, event = only_event(meeting_calendar(group, meeting, stamp=STAMP))
    assert str(event["STATUS"]) == "CANCELLED"  # type: ignore[index]
    with pytest.raises(ValueError):
        meeting_calendar(group, meeting, stamp=datetime(2026, 1, 1))


def test_hostile_text_is_escaped_and_cannot_add_properties() -> None:
    place = Place("place-2", HOSTILE, HOSTILE)
    group, meeting = group_with_meeting(datetime(2026, 7, 7, 19, tzinfo=AMS), place, name=HOSTILE)
    text = meeting_calendar(group, meeting, stamp=STAMP, description=HOSTILE + "\n" + "x" * 10_000)
    lines = text.split("\r\n")
    # Nothing the user typed starts a content line of its own, and folding keeps every line within 75 octets.
    assert not any(line.startswith(("ATTENDEE", "X-INJECT")) for line in lines)
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    assert "\r" not in text.replace("\r\n", "") and "\x00" not in text and "\x1b" not in text
    _, event = only_event(text)
    expected = clean_text(HOSTILE)
    assert str(event["SUMMARY"]) == f"Bijeenkomst {expected}"  # type: ignore[index]
    assert str(event["LOCATION"]) == f"{expected}, {expected}"  # type: ignore[index]
    assert str(event["DESCRIPTION"]) == expected + "\n" + "x" * 10_000  # type: ignore[index]
    assert "😀" in str(event["LOCATION"]) and "\u202e" in str(event["LOCATION"])  # type: ignore[index]
    assert "\\;" in text and "\\," in text and "\\n" in text  # RFC 5545 text escaping


def test_clean_text_and_filename() -> None:
    assert clean_text("a\r\nb\rc\x07d\te") == "a\nb\ncd\te"
    _, meeting = group_with_meeting(datetime(2026, 7, 7, 0, 30, tzinfo=AMS))
    assert calendar_filename(meeting) == "bijeenkomst-2026-07-07.ics"  # the Amsterdam date, not the UTC one
    assert re.fullmatch(r"[a-z0-9.-]+", calendar_filename(meeting))
    assert event_uid("Appointment/12\r\nX") == f"Appointment/12 X@{PRODUCT_DOMAIN}"


def test_invitation_text_names_day_time_and_place() -> None:
    place = Place("place-1", "Buurthuis De Linde", "Lindelaan 4, Breda")
    group, meeting = group_with_meeting(datetime(2026, 7, 7, 19, 0, tzinfo=AMS), place)
    text = invitation_text(group, meeting, "Anna de Vries")
    assert "dinsdag 7 juli 2026" in text and "19:00 tot 20:00 uur" in text
    assert "Buurthuis De Linde, Lindelaan 4, Breda" in text and "Team Sanne" in text
    assert "Thema: Omgaan met drukte" in text and text.endswith("Anna de Vries")
    bare, plain = group_with_meeting(datetime(2026, 12, 1, 10, 30, tzinfo=AMS))
    plain.theme, plain.theme_text = MeetingTheme.SIGNALERINGSPLAN, ""
    other = invitation_text(bare, plain)
    assert "dinsdag 1 december 2026" in other and "10:30 tot 11:30 uur" in other
    assert "dat laten we je nog weten" in other and "Thema: Vroege signalen" in other
