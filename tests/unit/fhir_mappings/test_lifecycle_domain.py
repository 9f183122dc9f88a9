"""The domain rules of lifecycle consistency and rescheduling (no services, no FHIR)."""

from __future__ import annotations

from datetime import datetime

import pytest

from fhir_mappings.codes import GroupStatus, MeetingRole, MeetingStatus, ParticipationStatus
from fhir_mappings.errors import DomainError
from fhir_mappings.model import ResourceGroup
from tests.unit.fhir_mappings.factory import AMS, TODAY, full_group

SENT = datetime(2026, 6, 20, 9, 0, tzinfo=AMS)


def planned_uid(group: ResourceGroup) -> str:
    return next(m.uid for m in group.meetings if m.is_planned)


@pytest.mark.parametrize("status", [GroupStatus.ON_HOLD, GroupStatus.ENDED])
def test_no_meeting_stays_planned_in_a_paused_or_ended_group(status: GroupStatus) -> None:
    group = full_group()
    uid = planned_uid(group)
    group.change_status(status, TODAY)
    assert group.meeting(uid).status is MeetingStatus.CANCELLED
    assert group.planned_meetings() == []
    assert group.next_meeting(SENT) is None


def test_nothing_new_is_planned_while_the_group_is_paused_and_after_resuming_it_is() -> None:
    group = full_group()
    nominee = group.nominate("Practitioner/nieuw", "Nieuwe Collega", TODAY)
    group.change_status(GroupStatus.ON_HOLD, TODAY)
    assert not group.may_plan
    with pytest.raises(DomainError, match="on hold") as meeting:
        group.plan_meeting(datetime(2026, 9, 1, 19, 0, tzinfo=AMS))
    with pytest.raises(DomainError, match="on hold"):
        group.plan_interview(nominee.uid, datetime(2026, 9, 2, 10, 0, tzinfo=AMS))
    assert (
        meeting.value.user_message == "De groep is gepauzeerd. Start de groep eerst weer, dan kunt u weer iets plannen."
    )
    assert group.planned_meetings() == [] and group.planned_interviews() == []
    group.change_status(GroupStatus.ACTIVE, TODAY)
    assert group.may_plan
    group.plan_meeting(datetime(2026, 9, 1, 19, 0, tzinfo=AMS))
    group.plan_interview(nominee.uid, datetime(2026, 9, 2, 10, 0, tzinfo=AMS))
    assert len(group.planned_meetings()) == 1 and len(group.planned_interviews()) == 1


def test_resuming_cancels_nothing() -> None:
    group = full_group()
    group.status = GroupStatus.ON_HOLD
    uid = planned_uid(group)
    group.change_status(GroupStatus.ACTIVE, TODAY)
    assert group.meeting(uid).is_planned


def test_an_invited_meeting_is_cancelled_only_with_a_calendar_for_the_invitees() -> None:
    group = full_group()
    uid = planned_uid(group)
    group.add_invitation(uid, "Kom je?", SENT, "BEGIN:VCALENDAR")
    with pytest.raises(DomainError):
        group.cancel_meeting(uid, SENT)
    notice = group.cancel_meeting(uid, SENT, "Gaat niet door", "BEGIN:VCALENDAR")
    assert notice is not None and notice.cancellation
    assert notice.recipients == group.meeting(uid).invitations[0].recipients
    assert group.meeting(uid).status is MeetingStatus.CANCELLED
    assert group.meeting(uid).next_sequence == 2
    with pytest.raises(DomainError):
        group.cancel_meeting(uid, SENT)  # already cancelled


def test_a_meeting_never_invited_is_cancelled_without_a_notice() -> None:
    group = full_group()
    uid = planned_uid(group)
    assert group.cancel_meeting(uid, SENT) is None
    assert group.meeting(uid).invitations == []


def test_moving_keeps_roles_and_clears_answers_only_when_the_time_changes() -> None:
    group = full_group()
    uid = planned_uid(group)
    meeting = group.meeting(uid)
    chair = next(m.who for m in group.members if m.is_member)
    group.assign_role(uid, chair, MeetingRole.VOORZITTER)
    group.record_response(uid, chair, ParticipationStatus.ACCEPTED)
    assert group.reschedule_meeting(uid, meeting.start, None, None, None, "Werk") is False
    assert group.meeting(uid).participant(chair).response is ParticipationStatus.ACCEPTED
    later = datetime(2026, 11, 3, 19, 30, tzinfo=AMS)
    assert group.reschedule_meeting(uid, later) is True
    moved = group.meeting(uid)
    assert moved.start == later and moved.chair() == chair
    assert moved.participant(chair).response is ParticipationStatus.NEEDS_ACTION


def test_a_held_meeting_or_an_ended_group_cannot_move() -> None:
    group = full_group()
    held = next(m.uid for m in group.meetings if m.status is MeetingStatus.FULFILLED)
    with pytest.raises(DomainError):
        group.reschedule_meeting(held, datetime(2026, 11, 3, 19, 30, tzinfo=AMS))
    group.status = GroupStatus.ENDED
    with pytest.raises(DomainError):
        group.reschedule_meeting(planned_uid(group), datetime(2026, 11, 3, 19, 30, tzinfo=AMS))
