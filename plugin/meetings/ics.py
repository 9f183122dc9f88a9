"""A meeting as an iCalendar file (RFC 5545), made with the `icalendar` package (pure, no Flask, no I/O).

The same text is the downloadable `.ics` and the attachment of an invitation Communication. Times are
written as local Amsterdam time with `TZID=Europe/Amsterdam` and a VTIMEZONE, so a calendar shows the
meeting at the hour the group agreed, also across a daylight-saving change.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from icalendar import Calendar, Event

from fhir_mappings.codes import CANONICAL_BASE, MeetingRole, MeetingStatus, product_coding
from fhir_mappings.model import CLINIC_ZONE, Meeting, ResourceGroup

AMSTERDAM_TZID = CLINIC_ZONE.key  # the calendar names the clinic's zone
PRODID = "-//Resourcegroep//Bijeenkomst//NL"
# The host of the product's canonical URL makes the UID globally unique (RFC 5545 3.8.4.7).
PRODUCT_DOMAIN = urlsplit(CANONICAL_BASE).hostname or "resourcegroep.nl"
CALENDAR_FILENAME = "bijeenkomst.ics"

_ICS_STATUS = {
    MeetingStatus.PROPOSED: "TENTATIVE",
    MeetingStatus.BOOKED: "CONFIRMED",
    MeetingStatus.FULFILLED: "CONFIRMED",
    MeetingStatus.CANCELLED: "CANCELLED",
    MeetingStatus.NOSHOW: "CANCELLED",
}


def clean_text(value: str) -> str:
    """Text fit for an iCalendar TEXT value: line breaks as LF, other control characters dropped.

    `icalendar` escapes LF, comma, semicolon and backslash, but a bare CR or another control character
    would pass through and could end the content line early (RFC 5545 3.3.11 allows none of them).
    """
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def event_uid(meeting_uid: str, domain: str = PRODUCT_DOMAIN) -> str:
    """The VEVENT UID of a meeting: stable, so a second download updates the same calendar item."""
    return f"{clean_text(meeting_uid).replace(chr(10), ' ')}@{domain}"


def place_text(group: ResourceGroup, meeting: Meeting) -> str:
    """'Name, address' of the meeting's place; '' when no place was chosen."""
    place = next((p for p in group.places if p.uid == meeting.place_uid), None)
    if place is None:
        return ""
    return ", ".join(part for part in (place.name, place.address) if part)


def _display(group: ResourceGroup, who: str) -> str:
    return next((m.display for m in group.members if m.who == who), who)


def default_description(group: ResourceGroup, meeting: Meeting) -> str:
    """What the calendar item says when no invitation text is given: group, theme and roles."""
    lines = [f"Bijeenkomst van de resourcegroep {group.name}."]
    if meeting.theme is not None or meeting.theme_text:
        theme = product_coding(meeting.theme)["display"] if meeting.theme is not None else ""
        lines.append(f"Thema: {meeting.theme_text or theme}")
    for role in MeetingRole:
        holder = next((p.who for p in meeting.participants if role in p.roles), None)
        if holder is not None:
            lines.append(f"{product_coding(role)['display']}: {_display(group, holder)}")
    return "\n".join(lines)


def meeting_calendar(
    group: ResourceGroup,
    meeting: Meeting,
    *,
    stamp: datetime,
    description: str | None = None,
    status: MeetingStatus | None = None,
    domain: str = PRODUCT_DOMAIN,
    method: str = "PUBLISH",
    sequence: int | None = None,
) -> str:
    """The meeting as a VCALENDAR text with one VEVENT (CRLF line ends, folded lines).

    `status` overrides the meeting's own, e.g. `booked` for the calendar sent with the invitation that books it.
    `method` is REQUEST for an updated invitation and CANCEL for a cancellation; `sequence` (RFC 5545 3.8.7.4)
    is one higher for every message after the first, so a calendar replaces the item it already has.
    """
    if stamp.tzinfo is None:
        raise ValueError("stamp must be timezone-aware")
    start = meeting.start.astimezone(CLINIC_ZONE)
    end = meeting.end.astimezone(CLINIC_ZONE)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    event = Event()
    event.add("uid", event_uid(meeting.uid, domain))
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", clean_text(f"Bijeenkomst {group.name}"))
    location = place_text(group, meeting)
    if location:
        event.add("location", clean_text(location))
    event.add(
        "description", clean_text(description if description is not None else default_description(group, meeting))
    )
    event.add("status", _ICS_STATUS[status or meeting.status])
    if sequence is not None:
        event.add("sequence", sequence)
    calendar.add_component(event)
    # Only the years around the meeting: the full 1970-2038 rule history would make every invitation large.
    calendar.add_missing_timezones(first_date=date(start.year - 1, 1, 1), last_date=date(end.year + 2, 1, 1))
    return str(calendar.to_ical().decode("utf-8"))


def calendar_filename(meeting: Meeting) -> str:
    """An ASCII-only download name (no user text, so nothing can leak into the header)."""
    return f"bijeenkomst-{meeting.start.astimezone(CLINIC_ZONE):%Y-%m-%d}.ics"


def cancellation_calendar(group: ResourceGroup, meeting: Meeting, *, stamp: datetime, description: str) -> str:
    """The calendar message that removes an invited meeting: METHOD:CANCEL, STATUS:CANCELLED, a higher SEQUENCE."""
    return meeting_calendar(
        group,
        meeting,
        stamp=stamp,
        description=description,
        status=MeetingStatus.CANCELLED,
        method="CANCEL",
        sequence=meeting.next_sequence,
    )


def update_calendar(group: ResourceGroup, meeting: Meeting, *, stamp: datetime, description: str) -> str:
    """The calendar message that moves an invited meeting: METHOD:REQUEST with the same UID, a higher SEQUENCE."""
    return meeting_calendar(
        group,
        meeting,
        stamp=stamp,
        description=description,
        status=MeetingStatus.BOOKED,
        method="REQUEST",
        sequence=meeting.next_sequence,
    )
