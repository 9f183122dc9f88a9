"""A meeting's participant entries and invitations are frozen: every change replaces an entry in the meeting's list
(a message is added, never changed), so a copy of the group that shares them (the repository's copy for an action)
never changes the group it came from."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from fhir_mappings.codes import MeetingRole, ParticipationStatus, Section
from fhir_mappings.model import Invitation, Meeting, MeetingParticipant, ResourceGroup
from tests.unit.fhir_mappings.factory import full_group


def planned(group: ResourceGroup) -> Meeting:
    return next(m for m in group.meetings if m.is_planned)


def test_an_entry_cannot_be_changed_and_keeps_its_roles_as_a_frozenset() -> None:
    entry = MeetingParticipant("Patient/p1", {MeetingRole.VOORZITTER})
    assert type(entry.roles) is frozenset and entry.roles == {MeetingRole.VOORZITTER}
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.response = ParticipationStatus.ACCEPTED  # type: ignore[misc]
    assert MeetingParticipant("Patient/p1").roles == frozenset()


def test_update_participant_replaces_the_entry_and_keeps_an_unchanged_one() -> None:
    meeting = planned(full_group())
    old = meeting.participants[0]
    new = meeting.update_participant(old.who, response=ParticipationStatus.TENTATIVE)
    assert new is not old and meeting.participants[0] is new and new.response is ParticipationStatus.TENTATIVE
    assert old.response is not ParticipationStatus.TENTATIVE  # the old entry as it was
    assert meeting.update_participant(old.who, response=ParticipationStatus.TENTATIVE) is new  # nothing changes
    count = len(meeting.participants)
    added = meeting.update_participant("RelatedPerson/nieuw", attended=True)
    assert len(meeting.participants) == count + 1 and meeting.participants[-1] is added and added.attended


def test_the_domain_replaces_entries_instead_of_changing_them() -> None:
    group = full_group()
    meeting = planned(group)
    first, second = [m.who for m in group.members if m.is_member][:2]
    entries = list(meeting.participants)
    states = [dataclasses.astuple(p) for p in entries]
    group.assign_role(meeting.uid, first, MeetingRole.VOORZITTER)
    group.assign_role(meeting.uid, second, MeetingRole.VOORZITTER)  # one holder at a time
    group.record_response(meeting.uid, first, ParticipationStatus.DECLINED)
    group.answer_invitation(meeting.uid, second, ParticipationStatus.ACCEPTED)
    group.reschedule_meeting(meeting.uid, meeting.start + timedelta(days=1), meeting.start + timedelta(days=1, hours=2))
    assert meeting.chair() == second
    assert all(p.response is ParticipationStatus.NEEDS_ACTION for p in meeting.participants)  # moved: asked again
    group.write_report(
        meeting.uid,
        sections={Section.SAMENVATTING: "Goed gesprek."},
        attended=[second],
        goals_discussed=[],
        new_agreements=[],
        written=meeting.start + timedelta(hours=3),
    )
    assert [p.who for p in meeting.participants if p.attended] == [second]
    assert [dataclasses.astuple(p) for p in entries] == states  # every entry that was replaced is as it was


def test_an_invitation_cannot_be_changed_and_keeps_its_recipients_as_a_tuple() -> None:
    invitation = Invitation("inv", ["Patient/p1", "RelatedPerson/ans"], "Kom")
    assert invitation.recipients == ("Patient/p1", "RelatedPerson/ans")
    with pytest.raises(dataclasses.FrozenInstanceError):
        invitation.message = "Anders"  # type: ignore[misc]
    group = full_group()
    meeting = next(m for m in group.meetings if m.invitations)
    sent = list(meeting.invitations)
    notice = group.add_calendar_update(meeting.uid, "Verzet", meeting.start, "BEGIN:VCALENDAR")
    assert meeting.invitations == [*sent, notice] and type(notice.recipients) is tuple
