"""A meeting is recorded as held, as not taken place, or gets its report only from its day on (its start date in the
clinic's zone); before that it can only be cancelled (moved, prepared)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fhir_mappings.codes import GroupStatus, MeetingStatus, Section
from fhir_mappings.errors import DomainError
from fhir_mappings.model import Meeting, ResourceGroup
from tests.unit.fhir_mappings.factory import AMS, CLINICIAN, PATIENT

TODAY = date(2026, 12, 2)
TOMORROW = TODAY + timedelta(days=1)
NOT_YET = "Deze bijeenkomst is nog niet geweest."


def group_with_meeting(start: datetime, *, invited: bool = False) -> tuple[ResourceGroup, Meeting]:
    g = ResourceGroup.start_new(
        patient=PATIENT,
        patient_display="Sanne",
        regieondersteuner=CLINICIAN,
        regieondersteuner_display="Jeroen",
        name="Team Sanne",
        today=TODAY - timedelta(days=30),
    )
    meeting = g.plan_meeting(start)
    if invited:
        g.add_invitation(meeting.uid, "Kom je ook?", datetime(2026, 11, 1, 9, tzinfo=AMS), "BEGIN:VCALENDAR")
    return g, meeting


def report(g: ResourceGroup, meeting: Meeting, written: datetime) -> None:
    g.write_report(
        meeting.uid,
        sections={Section.SAMENVATTING: "Goed gesprek."},
        attended=[PATIENT],
        goals_discussed=[],
        new_agreements=[],
        written=written,
    )


@pytest.mark.parametrize("status", [MeetingStatus.FULFILLED, MeetingStatus.NOSHOW])
def test_a_meeting_tomorrow_cannot_be_marked_held_or_not_taken_place(status: MeetingStatus) -> None:
    g, meeting = group_with_meeting(datetime(2026, 12, 3, 10, tzinfo=AMS), invited=True)
    with pytest.raises(DomainError, match="before its day") as refused:
        g.set_meeting_status(meeting.uid, status, TODAY)
    assert refused.value.user_message.startswith(NOT_YET) and "U kunt" in refused.value.user_message
    assert meeting.status is MeetingStatus.BOOKED and g.status is GroupStatus.FORMING


def test_a_meeting_tomorrow_gets_no_report() -> None:
    g, meeting = group_with_meeting(datetime(2026, 12, 3, 10, tzinfo=AMS))
    with pytest.raises(DomainError, match="before its day") as refused:
        report(g, meeting, datetime(2026, 12, 2, 23, 30, tzinfo=AMS))  # the evening before
    assert refused.value.user_message == (
        "Deze bijeenkomst is nog niet geweest. U kunt er pas vanaf de dag zelf een verslag van maken."
    )
    assert meeting.status is MeetingStatus.PROPOSED and meeting.report is None
    assert not any(p.attended for p in meeting.participants)


def test_a_meeting_tomorrow_can_be_cancelled_and_offers_only_that() -> None:
    g, meeting = group_with_meeting(datetime(2026, 12, 3, 10, tzinfo=AMS), invited=True)
    assert not meeting.day_has_come(TODAY) and not meeting.may_get_report(TODAY)
    assert meeting.markable_next(TODAY) == [MeetingStatus.CANCELLED]
    g.set_meeting_status(meeting.uid, MeetingStatus.CANCELLED, TODAY)
    assert meeting.status is MeetingStatus.CANCELLED


def test_a_meeting_tomorrow_can_be_cancelled_with_its_notice() -> None:
    g, meeting = group_with_meeting(datetime(2026, 12, 3, 10, tzinfo=AMS), invited=True)
    with pytest.raises(DomainError, match="before its day"):
        g.set_meeting_status(meeting.uid, MeetingStatus.NOSHOW, TODAY)
    notice = g.cancel_meeting(meeting.uid, datetime(2026, 12, 2, 9, tzinfo=AMS), "Gaat niet door.", "BEGIN:VCALENDAR")
    assert notice is not None and meeting.status is MeetingStatus.CANCELLED


@pytest.mark.parametrize("status", [MeetingStatus.FULFILLED, MeetingStatus.NOSHOW])
def test_on_its_day_it_can_be_marked_held_or_not_taken_place(status: MeetingStatus) -> None:
    # The meeting is at 19:00, later today: the day counts, not the hour.
    g, meeting = group_with_meeting(datetime(2026, 12, 3, 19, tzinfo=AMS), invited=True)
    assert meeting.day_has_come(TOMORROW) and meeting.may_get_report(TOMORROW)
    assert meeting.markable_next(TOMORROW) == [MeetingStatus.FULFILLED, MeetingStatus.CANCELLED, MeetingStatus.NOSHOW]
    g.set_meeting_status(meeting.uid, status, TOMORROW)
    assert meeting.status is status


def test_on_its_day_and_later_it_gets_its_report() -> None:
    g, meeting = group_with_meeting(datetime(2026, 12, 3, 10, tzinfo=AMS))
    with pytest.raises(DomainError, match="before its day"):
        report(g, meeting, datetime(2026, 12, 2, 12, tzinfo=AMS))
    report(g, meeting, datetime(2026, 12, 3, 12, tzinfo=AMS))
    assert meeting.status is MeetingStatus.FULFILLED and g.status is GroupStatus.ACTIVE
    late, old = group_with_meeting(datetime(2026, 11, 3, 10, tzinfo=AMS))
    report(late, old, datetime(2026, 12, 2, 9, tzinfo=AMS))  # a month later
    assert old.status is MeetingStatus.FULFILLED and old.report is not None


def test_the_day_is_the_clinics_day() -> None:
    # 00:30 in Amsterdam on 3 December is 23:30 UTC on 2 December: its day is the 3rd.
    g, meeting = group_with_meeting(datetime(2026, 12, 2, 23, 30, tzinfo=UTC))
    assert meeting.day == TOMORROW
    with pytest.raises(DomainError, match="before its day"):
        g.set_meeting_status(meeting.uid, MeetingStatus.FULFILLED, TODAY)
    g.set_meeting_status(meeting.uid, MeetingStatus.FULFILLED, TOMORROW)
    # A report written at 00:45 Amsterdam time (23:45 UTC the day before) is written on the meeting's day.
    report(g, meeting, datetime(2026, 12, 2, 23, 45, tzinfo=UTC))
    assert meeting.report is not None


def test_a_meeting_that_can_no_longer_change_says_so_first() -> None:
    g, meeting = group_with_meeting(datetime(2026, 12, 3, 10, tzinfo=AMS))
    g.set_meeting_status(meeting.uid, MeetingStatus.CANCELLED, TODAY)
    with pytest.raises(DomainError, match="illegal meeting transition"):
        g.set_meeting_status(meeting.uid, MeetingStatus.FULFILLED, TODAY)
    assert meeting.markable_next(TODAY) == [] and meeting.markable_next(TOMORROW) == []
