"""Pausing or ending a group cancels its planned meetings and tells the invitees; a planned meeting can be moved.

Checked on the domain, the services (MemoryUnitOfWork, rights per role), the FHIR resources written and the
calendar files parsed back with `icalendar` (METHOD, UID, SEQUENCE, STATUS).
"""

from __future__ import annotations

import base64
from datetime import datetime

import pytest
from icalendar import Calendar

from fhir_mappings.codes import CS_ARTIFACT, GroupStatus, MeetingRole, MeetingStatus, ParticipationStatus
from fhir_mappings.errors import DomainError
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.model import AgendaItem, Meeting, ResourceGroup
from fhir_mappings.rights import NotAllowed
from fhir_mappings.to_fhir import group_to_fhir
from plugin.meetings.ics import event_uid
from plugin.services import group as group_services
from plugin.services import meetings
from plugin.services.group import Lifecycle
from plugin.services.uow import MemoryUnitOfWork, SaveState
from tests.unit.fhir_mappings.factory import AMS, CLINICIAN, PATIENT, TODAY, full_group

SENT = datetime(2026, 6, 20, 9, 0, tzinfo=AMS)
LATER = datetime(2026, 6, 21, 9, 0, tzinfo=AMS)
NEW_START = datetime(2026, 10, 13, 19, 30, tzinfo=AMS)


def planned(group: ResourceGroup | None) -> Meeting:
    assert group is not None
    return next(m for m in group.meetings if m.is_planned)


def member_who(group: ResourceGroup, display: str) -> str:
    return next(m.who for m in group.members if m.display == display)


def invited_group() -> tuple[MemoryUnitOfWork, str]:
    """The full group with its planned meeting invited, a chair agreed, an agenda and one answer."""
    uow = MemoryUnitOfWork(user=CLINICIAN, patient=PATIENT, stored=full_group())
    assert uow.stored is not None
    uid = planned(uow.stored).uid
    karim = member_who(uow.stored, "Karim")
    meetings.assign_roles(uow, "roles", meeting_uid=uid, holders={MeetingRole.VOORZITTER: karim})
    meetings.set_agenda(uow, "agenda", meeting_uid=uid, items=[AgendaItem("Hoe gaat het met werk?")], ready=False)
    meetings.send_invitation(uow, "invite", meeting_uid=uid, message="Kom je ook?", sent=SENT)
    meetings.record_responses(uow, "answers", meeting_uid=uid, answers={karim: ParticipationStatus.ACCEPTED})
    return uow, uid


def parsed(calendar: str) -> tuple[str, str, int, str]:
    """METHOD, UID, SEQUENCE (0 when absent) and STATUS of a calendar's one event."""
    cal = Calendar.from_ical(calendar)
    event = next(iter(cal.walk("VEVENT")))
    return str(cal["METHOD"]), str(event["UID"]), int(event.get("SEQUENCE", 0)), str(event["STATUS"])


def communication_codes(group: ResourceGroup) -> dict[str, str]:
    """uid -> artifact code of every Communication the group writes."""
    out = {}
    for written in group_to_fhir(group):
        res = written.resource
        if res["resourceType"] == "Communication":
            codes = [c["code"] for cat in res.get("category", []) for c in cat["coding"] if c["system"] == CS_ARTIFACT]
            out[written.uid] = codes[0]
    return out


# ------------------------------------------------------------------------------------------ lifecycle


@pytest.mark.parametrize(
    ("step", "status"), [(Lifecycle.PAUSE, GroupStatus.ON_HOLD), (Lifecycle.END, GroupStatus.ENDED)]
)
def test_pausing_or_ending_cancels_an_invited_meeting_and_tells_the_invitees(
    step: Lifecycle, status: GroupStatus
) -> None:
    uow, uid = invited_group()
    assert uow.stored is not None
    assert [m.uid for m in group_services.cancelled_by(uow.stored, step)] == [uid]
    invitation = planned(uow.stored).invitations[0]
    commits = len(uow.commits)

    done = group_services.change_lifecycle(uow, "step", step=step, today=TODAY, now=LATER)

    assert done.state is SaveState.SAVED
    assert len(uow.commits) == commits + 1  # one save: the status, the cancellation and the notice
    group = uow.stored
    assert group.status is status
    meeting = group.meeting(uid)
    assert meeting.status is MeetingStatus.CANCELLED
    notice = meeting.invitations[-1]
    assert notice.cancellation and notice.recipients == invitation.recipients
    assert "gaat niet door" in notice.message
    method, event, sequence, ics_status = parsed(notice.calendar)
    _, old_event, old_sequence, _ = parsed(invitation.calendar)
    assert (method, ics_status) == ("CANCEL", "CANCELLED")
    assert event == old_event == event_uid(uid)
    assert sequence > old_sequence
    assert group.next_meeting(SENT) is None  # no longer "Volgende bijeenkomst"
    # Written as a Communication with the product code `afzegging`, read back as a cancellation.
    codes = communication_codes(group)
    assert codes[notice.uid] == "afzegging" and codes[invitation.uid] == "uitnodiging"
    appointment = next(w.resource for w in group_to_fhir(group) if w.uid == uid)
    assert appointment["status"] == "cancelled"
    back, _ = group_from_fhir([w.resource for w in group_to_fhir(group)], PATIENT)
    assert [i.cancellation for i in back.meeting(uid).invitations] == [False, True]


def test_a_meeting_without_invitation_is_cancelled_without_a_notice() -> None:
    uow = MemoryUnitOfWork(user=CLINICIAN, patient=PATIENT, stored=full_group())
    uid = planned(uow.stored).uid
    group_services.change_lifecycle(uow, "pause", step=Lifecycle.PAUSE, today=TODAY, now=LATER)
    assert uow.stored is not None
    assert uow.stored.meeting(uid).status is MeetingStatus.CANCELLED
    assert uow.stored.meeting(uid).invitations == []


def test_resume_and_after_treatment_cancel_nothing() -> None:
    group = full_group()
    assert group_services.cancelled_by(group, Lifecycle.RESUME) == []
    assert group_services.cancelled_by(group, Lifecycle.AFTER_TREATMENT) == []
    uow = MemoryUnitOfWork(user=CLINICIAN, patient=PATIENT, stored=group)
    group_services.change_lifecycle(uow, "after", step=Lifecycle.AFTER_TREATMENT, today=TODAY, now=LATER)
    assert planned(uow.stored).status is MeetingStatus.PROPOSED


def test_an_illegal_step_cancels_nothing() -> None:
    uow, uid = invited_group()
    assert uow.stored is not None
    uow.stored.status = GroupStatus.ENDED  # an ended group with a meeting still planned (another system's)
    with pytest.raises(DomainError):
        group_services.change_lifecycle(uow, "pause", step=Lifecycle.PAUSE, today=TODAY, now=LATER)
    assert uow.stored.meeting(uid).status is MeetingStatus.BOOKED
    assert not any(i.cancellation for i in uow.stored.meeting(uid).invitations)


@pytest.mark.parametrize("user", [PATIENT, "Practitioner/pr2"])
def test_only_care_professionals_pause(user: str) -> None:
    uow, _ = invited_group()
    as_other = MemoryUnitOfWork(user=user, patient=PATIENT, stored=uow.stored)
    with pytest.raises(NotAllowed):
        group_services.change_lifecycle(as_other, "pause", step=Lifecycle.PAUSE, today=TODAY, now=LATER)
    assert as_other.commits == []


def test_cancelling_one_meeting_by_hand_tells_the_invitees() -> None:
    uow, uid = invited_group()
    meetings.set_meeting_status(uow, "cancel", meeting_uid=uid, status=MeetingStatus.CANCELLED, now=LATER)
    assert uow.stored is not None
    meeting = uow.stored.meeting(uid)
    assert meeting.status is MeetingStatus.CANCELLED
    method, event, sequence, status = parsed(meeting.invitations[-1].calendar)
    assert (method, event, sequence, status) == ("CANCEL", event_uid(uid), 1, "CANCELLED")
    assert uow.stored.status is GroupStatus.ACTIVE  # the group itself goes on


# ------------------------------------------------------------------------------------------ rescheduling


def test_rescheduling_keeps_agenda_roles_and_participants_and_sends_an_update() -> None:
    uow, uid = invited_group()
    assert uow.stored is not None
    before = uow.stored.meeting(uid)
    karim = member_who(uow.stored, "Karim")
    participants = [p.who for p in before.participants]
    agenda = before.agenda

    done = meetings.reschedule_meeting(uow, "move", meeting_uid=uid, start=NEW_START, theme_text="Werk", now=LATER)

    assert done.state is SaveState.SAVED and done.value is not None
    assert done.value.answers_reset
    meeting = uow.stored.meeting(uid)
    assert meeting.start == NEW_START and meeting.minutes == before.minutes
    assert meeting.theme_text == "Werk"
    assert meeting.agenda == agenda
    assert meeting.chair() == karim
    assert [p.who for p in meeting.participants] == participants
    assert {p.response for p in meeting.participants} == {ParticipationStatus.NEEDS_ACTION}
    assert meeting.status is MeetingStatus.BOOKED
    update = meeting.invitations[-1]
    assert update is done.value.update and not update.cancellation
    assert "opnieuw" in update.message
    method, event, sequence, status = parsed(update.calendar)
    assert (method, event, sequence, status) == ("REQUEST", event_uid(uid), 1, "CONFIRMED")
    start = Calendar.from_ical(update.calendar).walk("VEVENT")[0]["DTSTART"].dt
    assert start == NEW_START
    # A later cancellation still gets a higher SEQUENCE than the update.
    cancelled_at = datetime(2026, 6, 22, 9, 0, tzinfo=AMS)
    meetings.set_meeting_status(uow, "cancel", meeting_uid=uid, status=MeetingStatus.CANCELLED, now=cancelled_at)
    assert parsed(uow.stored.meeting(uid).invitations[-1].calendar)[:3] == ("CANCEL", event_uid(uid), 2)
    written = next(w.resource for w in group_to_fhir(uow.stored) if w.uid == update.uid)
    data = base64.b64decode(written["payload"][1]["contentAttachment"]["data"]).decode()
    assert parsed(data)[0] == "REQUEST"


def test_a_new_place_only_keeps_the_answers() -> None:
    uow, uid = invited_group()
    assert uow.stored is not None
    start = uow.stored.meeting(uid).start
    done = meetings.reschedule_meeting(
        uow, "move", meeting_uid=uid, start=start, new_place=meetings.NewPlace("Buurthuis", "Dorpsstraat 1"), now=LATER
    )
    assert done.value is not None and not done.value.answers_reset
    meeting = uow.stored.meeting(uid)
    assert any(p.response is ParticipationStatus.ACCEPTED for p in meeting.participants)
    assert "Buurthuis" in (Calendar.from_ical(meeting.invitations[-1].calendar).walk("VEVENT")[0]["LOCATION"])


def test_a_meeting_without_invitation_is_moved_without_a_message() -> None:
    uow = MemoryUnitOfWork(user=CLINICIAN, patient=PATIENT, stored=full_group())
    uid = planned(uow.stored).uid
    done = meetings.reschedule_meeting(uow, "move", meeting_uid=uid, start=NEW_START, now=LATER)
    assert done.value is not None and done.value.update is None
    assert uow.stored is not None and uow.stored.meeting(uid).invitations == []


def test_a_held_or_cancelled_meeting_cannot_be_moved() -> None:
    uow = MemoryUnitOfWork(user=CLINICIAN, patient=PATIENT, stored=full_group())
    assert uow.stored is not None
    held = next(m for m in uow.stored.meetings if m.status is MeetingStatus.FULFILLED)
    with pytest.raises(DomainError) as refused:
        meetings.reschedule_meeting(uow, "move", meeting_uid=held.uid, start=NEW_START, now=LATER)
    assert "verplaatsen" in refused.value.user_message
    assert uow.commits == []


def test_a_move_to_an_end_before_the_start_is_refused() -> None:
    uow = MemoryUnitOfWork(user=CLINICIAN, patient=PATIENT, stored=full_group())
    uid = planned(uow.stored).uid
    with pytest.raises(DomainError) as refused:
        meetings.reschedule_meeting(uow, "move", meeting_uid=uid, start=NEW_START, end=NEW_START, now=LATER)
    assert "eindtijd" in refused.value.user_message
    assert uow.commits == []


@pytest.mark.parametrize("user", [PATIENT, "Practitioner/pr2", "RelatedPerson/stranger"])
def test_only_care_professionals_reschedule(user: str) -> None:
    group = full_group()
    uow = MemoryUnitOfWork(user=user, patient=PATIENT, stored=group)
    with pytest.raises(NotAllowed):
        meetings.reschedule_meeting(uow, "move", meeting_uid=planned(group).uid, start=NEW_START, now=LATER)
    assert uow.commits == []
