"""The services refuse to mark a meeting held or not taken place, or to write its report, before its day (the
clinic's date of `now`/`written`); nothing is saved then. Cancelling stays possible."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from fhir_mappings.codes import MeetingStatus, Section
from fhir_mappings.errors import DomainError
from plugin.services import meetings
from plugin.services.meetings import GoalAtMeeting, NewAgreement
from tests.unit.fhir_mappings.factory import AMS, TODAY, full_group
from tests.unit.plugin.services.test_meetings_services import CLINICIAN, planned, uow_as

NOT_YET = "Deze bijeenkomst is nog niet geweest."


@pytest.mark.parametrize("status", [MeetingStatus.FULFILLED, MeetingStatus.NOSHOW])
def test_marking_a_meeting_before_its_day_is_refused_and_nothing_is_saved(status: MeetingStatus) -> None:
    uow = uow_as(CLINICIAN, full_group())
    meetings.send_invitation(
        uow, "k1", meeting_uid=planned(uow.stored).uid, message="Kom je?", sent=datetime(2026, 6, 1, tzinfo=AMS)
    )
    before = copy.deepcopy(uow.stored)
    meeting = planned(uow.stored)
    the_day_before = datetime.combine(meeting.day - timedelta(days=1), datetime.min.time(), AMS) + timedelta(hours=23)
    with pytest.raises(DomainError) as refused:
        meetings.set_meeting_status(uow, "k2", meeting_uid=meeting.uid, status=status, now=the_day_before)
    assert refused.value.user_message.startswith(NOT_YET)
    assert uow.stored == before and planned(uow.stored).status is MeetingStatus.BOOKED
    assert [c.activity.text for c in uow.commits] == ["Uitnodiging voor de bijeenkomst verstuurd"]


def test_the_clinics_date_of_now_counts() -> None:
    uow = uow_as(CLINICIAN, full_group())
    meeting = planned(uow.stored)  # 7 July 2026, 15:00 in Amsterdam
    just_after_midnight = datetime(2026, 7, 6, 22, 30, tzinfo=UTC)  # 00:30 on 7 July in Amsterdam
    with pytest.raises(DomainError):  # 23:30 on 6 July in Amsterdam (but already 7 July in, say, Tokyo)
        meetings.set_meeting_status(
            uow,
            "k0",
            meeting_uid=meeting.uid,
            status=MeetingStatus.FULFILLED,
            now=just_after_midnight - timedelta(hours=1),
        )
    done = meetings.set_meeting_status(
        uow, "k", meeting_uid=meeting.uid, status=MeetingStatus.FULFILLED, now=just_after_midnight
    )
    assert done.saved and uow.stored is not None
    assert uow.stored.meeting(meeting.uid).status is MeetingStatus.FULFILLED


def test_cancelling_a_meeting_before_its_day_goes_through() -> None:
    uow = uow_as(CLINICIAN, full_group())
    meeting = planned(uow.stored)
    a_week_before = meeting.start - timedelta(days=7)
    with pytest.raises(DomainError):
        meetings.set_meeting_status(
            uow, "k0", meeting_uid=meeting.uid, status=MeetingStatus.FULFILLED, now=a_week_before
        )
    done = meetings.set_meeting_status(
        uow, "k", meeting_uid=meeting.uid, status=MeetingStatus.CANCELLED, now=a_week_before
    )
    assert done.saved and uow.stored is not None
    assert uow.stored.meeting(meeting.uid).status is MeetingStatus.CANCELLED


def test_a_report_before_the_meetings_day_is_refused_and_nothing_is_saved() -> None:
    group = full_group()
    uow = uow_as(CLINICIAN, group)
    meeting = planned(group)
    goal = group.goals[0].uid
    before = copy.deepcopy(uow.stored)
    with pytest.raises(DomainError) as refused:
        meetings.write_report(
            uow,
            "k",
            meeting_uid=meeting.uid,
            sections={Section.SAMENVATTING: "Te vroeg"},
            attended=[meeting.participants[0].who],
            goals=[GoalAtMeeting(goal, 7, "Gaat goed", True)],
            new_agreements=[NewAgreement("Niet bewaren")],
            written=meeting.start - timedelta(days=3),
            today=TODAY,
        )
    assert refused.value.user_message.startswith(NOT_YET)
    assert uow.stored == before and uow.commits == []
    assert planned(uow.stored).status is MeetingStatus.PROPOSED and planned(uow.stored).report is None
