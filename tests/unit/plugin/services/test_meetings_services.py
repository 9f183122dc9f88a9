"""The meetings and notes services on the in-memory unit of work: every action, as every role.

Care professionals plan, assign roles, invite, write down anyone's answer, mark the status, set the agenda and
write the report; the patient and the members answer their own invitation only; the patient proposes agenda items.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from fhir_mappings.codes import (
    AgendaStatus,
    AgreementStatus,
    GroupStatus,
    MeetingRole,
    MeetingStatus,
    MeetingTheme,
    ParticipationStatus,
    Section,
)
from fhir_mappings.errors import DomainError
from fhir_mappings.model import AgendaItem, Meeting, ResourceGroup
from fhir_mappings.rights import NotAllowed
from plugin.services import meetings
from plugin.services.meetings import GoalAtMeeting, NewAgreement, NewPlace
from plugin.services.uow import Done, MemoryUnitOfWork, SaveState
from tests.unit.fhir_mappings.factory import AMS, CLINICIAN, PATIENT, TODAY, full_group

COLLEAGUE = "Practitioner/colleague"  # a care professional of the clinic, not in the team
NOMINEE = "Practitioner/pr2"  # Lotte (jobcoach): nominated, interview planned
STRANGER = "RelatedPerson/stranger"
SENT = datetime(2026, 6, 20, 9, 0, tzinfo=AMS)


def member_who(group: ResourceGroup, display: str) -> str:
    return next(m.who for m in group.members if m.display == display)


def people(group: ResourceGroup) -> dict[str, str]:
    return {
        "patient": PATIENT,
        "regieondersteuner": CLINICIAN,
        "colleague": COLLEAGUE,
        "member": member_who(group, "Ans de Vries"),
        "nominee": NOMINEE,
        "stranger": STRANGER,
    }


def planned(group: ResourceGroup | None) -> Meeting:
    """The meeting still to come (the full group's second meeting: proposed, no agenda, no invitation)."""
    assert group is not None
    return next(m for m in group.meetings if m.is_planned)


def held(group: ResourceGroup | None) -> Meeting:
    assert group is not None
    return next(m for m in group.meetings if m.status is MeetingStatus.FULFILLED)


def goal_named(group: ResourceGroup | None, text: str) -> str:
    assert group is not None
    return next(g.uid for g in group.goals if g.text == text)


def uow_as(user: str, group: ResourceGroup | None = None) -> MemoryUnitOfWork:
    return MemoryUnitOfWork(user=user, patient=PATIENT, stored=group if group is not None else full_group())


def after_start(meeting: Meeting) -> datetime:
    return meeting.start + timedelta(hours=2)


# ------------------------------------------------------------------------------ one call per action


def _plan(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    return meetings.plan_meeting(
        uow,
        key,
        start=datetime(2026, 10, 6, 19, 30, tzinfo=AMS),
        end=datetime(2026, 10, 6, 21, 0, tzinfo=AMS),
        new_place=NewPlace("Bij Sanne thuis", "Kerkstraat 12"),
        theme=MeetingTheme.STRESS,
    )


def _roles(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    assert uow.stored is not None
    karim = member_who(uow.stored, "Karim")
    return meetings.assign_roles(uow, key, meeting_uid=planned(uow.stored).uid, holders={MeetingRole.VOORZITTER: karim})


def _invite(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    return meetings.send_invitation(uow, key, meeting_uid=planned(uow.stored).uid, message="Kom je ook?", sent=SENT)


def _record(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    assert uow.stored is not None
    karim = member_who(uow.stored, "Karim")
    return meetings.record_responses(
        uow, key, meeting_uid=planned(uow.stored).uid, answers={karim: ParticipationStatus.DECLINED}
    )


def _status(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    return meetings.set_meeting_status(uow, key, meeting_uid=planned(uow.stored).uid, status=MeetingStatus.CANCELLED)


def _agenda(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    work = goal_named(uow.stored, "Werk vinden dat bij me past")
    return meetings.set_agenda(
        uow,
        key,
        meeting_uid=planned(uow.stored).uid,
        items=[AgendaItem("Welkom"), AgendaItem(goal_uid=work)],
        ready=True,
    )


def _report(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    meeting = planned(uow.stored)
    work = goal_named(uow.stored, "Werk vinden dat bij me past")
    return meetings.write_report(
        uow,
        key,
        meeting_uid=meeting.uid,
        sections={Section.SAMENVATTING: "We spraken over werk."},
        attended=[PATIENT, CLINICIAN],
        goals=[GoalAtMeeting(work, 6, "Cv is af")],
        new_agreements=[NewAgreement("Vacatures zoeken", CLINICIAN, work)],
        written=after_start(meeting),
        today=TODAY,
    )


def _respond_own(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    return meetings.respond_to_invitation(
        uow, key, meeting_uid=planned(uow.stored).uid, answer=ParticipationStatus.ACCEPTED
    )


def _propose(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    return meetings.propose_agenda_item(uow, key, meeting_uid=planned(uow.stored).uid, text="Mijn vakantie")


def _reschedule(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    return meetings.reschedule_meeting(
        uow, key, meeting_uid=planned(uow.stored).uid, start=datetime(2026, 10, 13, 19, 30, tzinfo=AMS), now=SENT
    )


PROFESSIONAL_ACTIONS: dict[str, tuple[Callable[[MemoryUnitOfWork, str], Done[Any]], str]] = {
    "plan_meeting": (_plan, "Bijeenkomst gepland met een nieuwe plek"),
    "assign_roles": (_roles, "Rollen voor de bijeenkomst afgesproken"),
    "send_invitation": (_invite, "Uitnodiging voor de bijeenkomst verstuurd"),
    "record_responses": (_record, "Reacties op de uitnodiging genoteerd"),
    "set_meeting_status": (_status, "Bijeenkomst afgezegd"),
    "set_agenda": (_agenda, "Agenda van de bijeenkomst klaargezet"),
    "write_report": (_report, "Verslag van de bijeenkomst geschreven"),
    "reschedule_meeting": (_reschedule, "Bijeenkomst verplaatst"),
}
PROFESSIONALS_ONLY = "Dit mag alleen de regieondersteuner of een andere behandelaar van de instelling."


@pytest.mark.parametrize("action", sorted(PROFESSIONAL_ACTIONS))
@pytest.mark.parametrize("who", ["regieondersteuner", "colleague"])
def test_care_professionals_do_the_meeting_work(action: str, who: str) -> None:
    group = full_group()
    uow = uow_as(people(group)[who], group)
    call, activity = PROFESSIONAL_ACTIONS[action]
    done = call(uow, "key-1")
    assert done.state is SaveState.SAVED
    assert [(c.activity.text, c.user) for c in uow.commits] == [(activity, people(group)[who])]


@pytest.mark.parametrize("action", sorted(PROFESSIONAL_ACTIONS))
@pytest.mark.parametrize("who", ["patient", "member", "nominee", "stranger"])
def test_nobody_else_does_the_meeting_work(action: str, who: str) -> None:
    group = full_group()
    uow = uow_as(people(group)[who], group)
    before = copy.deepcopy(uow.stored)
    call, _ = PROFESSIONAL_ACTIONS[action]
    with pytest.raises(NotAllowed) as refused:
        call(uow, "key-1")
    assert refused.value.user_message == PROFESSIONALS_ONLY
    assert uow.commits == []
    assert uow.stored == before


# ------------------------------------------------------------------------------ one's own answer


@pytest.mark.parametrize("who", ["patient", "member"])
def test_the_patient_and_a_member_answer_their_own_invitation(who: str) -> None:
    group = full_group()
    me = people(group)[who]
    uow = uow_as(me, group)
    done = meetings.respond_to_invitation(uow, "k", meeting_uid=planned(group).uid, answer=ParticipationStatus.DECLINED)
    assert done.state is SaveState.SAVED
    assert planned(uow.stored).participant(me).response is ParticipationStatus.DECLINED
    assert [c.activity.text for c in uow.commits] == ["Gereageerd op de uitnodiging"]


def test_a_related_person_is_known_by_their_supporter_uid() -> None:
    group = full_group()
    karim = member_who(group, "Karim")
    uow = MemoryUnitOfWork(
        user="RelatedPerson/karim-1", patient=PATIENT, stored=group, who_map={"RelatedPerson/karim-1": karim}
    )
    assert _respond_own(uow, "k").state is SaveState.SAVED
    assert planned(uow.stored).participant(karim).response is ParticipationStatus.ACCEPTED
    assert [c.user for c in uow.commits] == ["RelatedPerson/karim-1"]


@pytest.mark.parametrize(
    ("who", "for_whom"),
    [("member", "Karim"), ("member", "Sanne de Vries"), ("patient", "Ans de Vries"), ("patient", "Jeroen Bakker")],
)
def test_nobody_answers_for_someone_else(who: str, for_whom: str) -> None:
    group = full_group()
    uow = uow_as(people(group)[who], group)
    before = copy.deepcopy(uow.stored)
    with pytest.raises(NotAllowed) as refused:
        meetings.respond_to_invitation(
            uow,
            "k",
            meeting_uid=planned(group).uid,
            answer=ParticipationStatus.ACCEPTED,
            who=member_who(group, for_whom),
        )
    assert refused.value.user_message == "Dit mag je alleen voor jezelf doen."
    assert uow.commits == []
    assert uow.stored == before


@pytest.mark.parametrize("who", ["regieondersteuner", "colleague", "nominee", "stranger"])
def test_other_roles_do_not_answer_an_invitation_as_their_own(who: str) -> None:
    """Care professionals write down answers with the answers form (their own too); nominees are not invited."""
    group = full_group()
    uow = uow_as(people(group)[who], group)
    with pytest.raises(NotAllowed) as refused:
        _respond_own(uow, "k")
    assert refused.value.user_message == "Dit mag alleen de patiënt (regisseur) of een lid van de groep."
    assert uow.commits == []


def test_an_own_answer_is_for_a_meeting_to_come_and_says_something() -> None:
    group = full_group()
    ans = member_who(group, "Ans de Vries")
    uow = uow_as(ans, group)
    with pytest.raises(DomainError) as past:
        meetings.respond_to_invitation(uow, "k1", meeting_uid=held(group).uid, answer=ParticipationStatus.DECLINED)
    assert past.value.user_message.startswith("Deze bijeenkomst is al geweest of gaat niet door.")
    with pytest.raises(DomainError) as empty:
        meetings.respond_to_invitation(
            uow, "k2", meeting_uid=planned(group).uid, answer=ParticipationStatus.NEEDS_ACTION
        )
    assert empty.value.user_message == "Kies of je komt, niet komt of misschien komt."
    assert uow.commits == []


# ------------------------------------------------------------------------------ agenda items of the patient


def test_the_patient_proposes_agenda_items_while_the_agenda_is_prepared() -> None:
    group = full_group()
    assert planned(group).agenda is None
    uow = uow_as(PATIENT, group)
    first = _propose(uow, "k1")
    assert first.state is SaveState.SAVED and first.uid is not None
    meetings.propose_agenda_item(uow, "k2", meeting_uid=planned(group).uid, text="  Werk  ")
    agenda = planned(uow.stored).agenda
    assert agenda is not None and agenda.uid == first.uid
    assert [(i.text, i.goal_uid, i.agreement_uid) for i in agenda.items] == [
        ("Mijn vakantie", None, None),
        ("Werk", None, None),
    ]
    assert agenda.status is AgendaStatus.PREPARATION
    assert [c.activity.text for c in uow.commits] == ["Agendapunt voorgesteld", "Agendapunt voorgesteld"]


@pytest.mark.parametrize("who", ["regieondersteuner", "colleague", "member", "nominee", "stranger"])
def test_only_the_patient_proposes_agenda_items(who: str) -> None:
    group = full_group()
    uow = uow_as(people(group)[who], group)
    before = copy.deepcopy(uow.stored)
    with pytest.raises(NotAllowed) as refused:
        _propose(uow, "k")
    assert refused.value.user_message == "Dit mag alleen de patiënt (regisseur)."
    assert uow.commits == []
    assert uow.stored == before


def test_no_agenda_item_for_a_ready_agenda_a_past_meeting_or_without_words() -> None:
    group = full_group()
    uow = uow_as(PATIENT, group)
    for meeting_uid, text, message in (
        (held(group).uid, "Te laat", "Deze bijeenkomst is al geweest of gaat niet door."),
        (planned(group).uid, "   ", "Vul het agendapunt in."),
        (planned(group).uid, "x" * 4001, "Het agendapunt is te lang"),
    ):
        with pytest.raises(DomainError) as refused:
            meetings.propose_agenda_item(uow, "k", meeting_uid=meeting_uid, text=text)
        assert refused.value.user_message.startswith(message)
    ready = uow_as(CLINICIAN, group)
    _agenda(ready, "ready")
    patient = uow_as(PATIENT, ready.stored)
    with pytest.raises(DomainError) as closed:
        _propose(patient, "k")
    assert closed.value.user_message.startswith("De agenda is al klaar.")
    assert uow.commits == [] and patient.commits == []


# ------------------------------------------------------------------------------ details of the professional actions


def test_a_planned_meeting_keeps_when_it_was_planned() -> None:
    uow = uow_as(CLINICIAN, full_group())
    planned_at = datetime(2026, 12, 1, 9, 5, tzinfo=AMS)
    made = meetings.plan_meeting(uow, "k1", start=datetime(2027, 6, 5, 19, 30, tzinfo=AMS), now=planned_at)
    assert made.value is not None and made.value.created == planned_at  # shown in the timeline


def test_plan_at_a_new_place_an_earlier_place_or_the_place_later() -> None:
    group = full_group()
    uow = uow_as(CLINICIAN, group)
    made = _plan(uow, "k1")
    assert made.value is not None and made.uid == made.value.uid
    assert uow.stored is not None
    place = next(p for p in uow.stored.places if p.name == "Bij Sanne thuis")
    assert (made.value.place_uid, place.address, made.value.theme) == (place.uid, "Kerkstraat 12", MeetingTheme.STRESS)
    assert made.value.end - made.value.start == timedelta(minutes=90)

    earlier = meetings.plan_meeting(uow, "k2", start=datetime(2027, 1, 5, 19, 30, tzinfo=AMS), place_uid=place.uid)
    later = meetings.plan_meeting(uow, "k3", start=datetime(2027, 4, 5, 19, 30, tzinfo=AMS), theme_text="Werk")
    assert earlier.value is not None and later.value is not None
    assert earlier.value.place_uid == place.uid and later.value.place_uid is None
    assert later.value.theme is MeetingTheme.ANDERS and later.value.theme_text == "Werk"
    assert [c.activity.text for c in uow.commits][1:] == ["Bijeenkomst gepland", "Bijeenkomst gepland"]
    assert len(uow.stored.places) == 2

    with pytest.raises(DomainError):
        meetings.plan_meeting(
            uow, "k4", start=datetime(2027, 4, 5, 19, 30, tzinfo=AMS), place_uid=place.uid, new_place=NewPlace("X")
        )
    with pytest.raises(DomainError) as unknown:
        meetings.plan_meeting(uow, "k5", start=datetime(2027, 4, 5, 19, 30, tzinfo=AMS), place_uid="nergens")
    assert unknown.value.user_message == "Kies een bekende plek."
    assert len(uow.commits) == 3


def test_a_repeated_plan_makes_one_meeting() -> None:
    uow = uow_as(CLINICIAN)
    first = _plan(uow, "same")
    again = _plan(uow, "same")
    assert (first.state, again.state, again.uid) == (SaveState.SAVED, SaveState.REPEATED, first.uid)
    assert uow.stored is not None and len(uow.stored.meetings) == 3 and len(uow.commits) == 1


def test_roles_have_one_holder_each_and_go_to_members_only() -> None:
    group = full_group()
    uow = uow_as(CLINICIAN, group)
    karim, ans = member_who(group, "Karim"), member_who(group, "Ans de Vries")
    meeting_uid = planned(group).uid
    meetings.assign_roles(
        uow, "k1", meeting_uid=meeting_uid, holders={MeetingRole.VOORZITTER: ans, MeetingRole.NOTULIST: karim}
    )
    meetings.assign_roles(uow, "k2", meeting_uid=meeting_uid, holders={MeetingRole.VOORZITTER: karim})
    meeting = planned(uow.stored)
    assert meeting.chair() == karim
    assert meeting.participant(karim).roles == {MeetingRole.VOORZITTER, MeetingRole.NOTULIST}
    assert meeting.participant(ans).roles == set()
    with pytest.raises(DomainError) as refused:
        meetings.assign_roles(uow, "k3", meeting_uid=meeting_uid, holders={MeetingRole.TIJDBEWAKER: STRANGER})
    assert refused.value.user_message == "Kies iemand die lid is van de groep."
    assert len(uow.commits) == 2


def test_the_invitation_books_the_meeting_with_a_calendar_for_every_member() -> None:
    group = full_group()
    uow = uow_as(CLINICIAN, group)
    done = _invite(uow, "k")
    invitation = done.value
    assert invitation is not None
    meeting = planned(uow.stored)
    assert meeting.status is MeetingStatus.BOOKED and meeting.invitations == [invitation]
    assert invitation.message == "Kom je ook?" and invitation.sent == SENT
    assert invitation.calendar.startswith("BEGIN:VCALENDAR") and "STATUS:CONFIRMED" in invitation.calendar
    assert set(invitation.recipients) == {m.who for m in group.members if m.is_member}
    with pytest.raises(DomainError) as late:
        meetings.send_invitation(uow, "k2", meeting_uid=held(group).uid, message="Toch nog?", sent=SENT)
    assert late.value.user_message.startswith("Voor deze bijeenkomst stuurt u geen uitnodiging meer")
    assert len(uow.commits) == 1


def test_recorded_answers_change_only_what_changed() -> None:
    group = full_group()
    uow = uow_as(CLINICIAN, group)
    karim, ans = member_who(group, "Karim"), member_who(group, "Ans de Vries")
    meeting_uid = planned(group).uid
    answers = {
        karim: ParticipationStatus.TENTATIVE,
        ans: ParticipationStatus.NEEDS_ACTION,
        PATIENT: ParticipationStatus.ACCEPTED,
    }
    assert meetings.record_responses(uow, "k1", meeting_uid=meeting_uid, answers=answers).saved
    meeting = planned(uow.stored)
    assert meeting.participant(karim).response is ParticipationStatus.TENTATIVE
    assert meeting.participant(PATIENT).response is ParticipationStatus.ACCEPTED
    assert meeting.participant(ans).response is ParticipationStatus.NEEDS_ACTION
    same = meetings.record_responses(uow, "k2", meeting_uid=meeting_uid, answers=answers)
    assert same.state is SaveState.UNCHANGED and len(uow.commits) == 1


def test_the_status_follows_the_meeting_rules() -> None:
    group = full_group()
    uow = uow_as(CLINICIAN, group)
    meeting = planned(group)
    assert meeting.markable_next(meeting.day) == [MeetingStatus.FULFILLED, MeetingStatus.CANCELLED]
    with pytest.raises(DomainError):
        meetings.set_meeting_status(uow, "k1", meeting_uid=meeting.uid, status=MeetingStatus.BOOKED)
    with pytest.raises(DomainError) as noshow:  # a meeting nobody was invited to cannot be a no-show
        meetings.set_meeting_status(uow, "k2", meeting_uid=meeting.uid, status=MeetingStatus.NOSHOW)
    assert noshow.value.user_message == "Deze bijeenkomst kan niet meer van status veranderen."
    _invite(uow, "k3")
    assert planned(uow.stored).markable_next(meeting.day) == [
        MeetingStatus.FULFILLED,
        MeetingStatus.CANCELLED,
        MeetingStatus.NOSHOW,
    ]
    meetings.set_meeting_status(uow, "k4", meeting_uid=meeting.uid, status=MeetingStatus.NOSHOW)
    assert uow.stored is not None
    after = uow.stored.meeting(meeting.uid)
    assert after.status is MeetingStatus.NOSHOW and after.markable_next(meeting.day) == [] and not after.is_planned
    assert not after.may_have_report
    with pytest.raises(DomainError):
        meetings.set_meeting_status(uow, "k5", meeting_uid=meeting.uid, status=MeetingStatus.FULFILLED)
    texts = [c.activity.text for c in uow.commits]
    assert texts == ["Uitnodiging voor de bijeenkomst verstuurd", "Bijeenkomst niet doorgegaan"]
    held_uow = uow_as(CLINICIAN, full_group())
    meetings.set_meeting_status(held_uow, "k", meeting_uid=planned(held_uow.stored).uid, status=MeetingStatus.FULFILLED)
    assert [c.activity.text for c in held_uow.commits] == ["Bijeenkomst gehouden"]


def test_the_agenda_keeps_its_order_and_the_words_of_goals_and_agreements() -> None:
    group = full_group()
    uow = uow_as(CLINICIAN, group)
    gym = next(a for a in group.agreements if a.description == "Sportschool uitzoeken")
    work = goal_named(group, "Werk vinden dat bij me past")
    meeting_uid = planned(group).uid
    done = meetings.set_agenda(
        uow,
        "k1",
        meeting_uid=meeting_uid,
        items=[AgendaItem(agreement_uid=gym.uid), AgendaItem("Rondvraag"), AgendaItem(goal_uid=work), AgendaItem("  ")],
        ready=False,
    )
    assert done.value is not None
    assert [(i.text, i.goal_uid, i.agreement_uid) for i in done.value.items] == [
        ("Sportschool uitzoeken", None, gym.uid),
        ("Rondvraag", None, None),
        ("Werk vinden dat bij me past", work, None),
    ]
    assert done.value.status is AgendaStatus.PREPARATION
    ready = meetings.set_agenda(uow, "k2", meeting_uid=meeting_uid, items=done.value.items, ready=True)
    assert ready.value is not None and ready.value.status is AgendaStatus.COMPLETED
    assert [c.activity.text for c in uow.commits] == [
        "Agenda van de bijeenkomst gewijzigd",
        "Agenda van de bijeenkomst klaargezet",
    ]
    with pytest.raises(DomainError) as unknown:
        meetings.set_agenda(uow, "k3", meeting_uid=meeting_uid, items=[AgendaItem(goal_uid="geen-doel")], ready=True)
    assert unknown.value.user_message == "Dit doel hoort niet bij deze groep."


# ------------------------------------------------------------------------------ the report


def test_the_report_records_scores_attendance_and_new_agreements_in_one_save() -> None:
    group = full_group()
    uow = uow_as(CLINICIAN, group)
    meeting = planned(group)
    work = goal_named(group, "Werk vinden dat bij me past")
    house = goal_named(group, "Zelfstandig wonen")
    sport = goal_named(group, "Twee keer per week sporten")
    ans = member_who(group, "Ans de Vries")
    done = meetings.write_report(
        uow,
        "k1",
        meeting_uid=meeting.uid,
        sections={Section.SAMENVATTING: "We spraken over werk.", Section.BESLUITEN: "", Section.OVERIG: "Taart."},
        attended=[PATIENT, ans],
        goals=[
            GoalAtMeeting(work, 6, "Cv is af"),
            GoalAtMeeting(house, None, "", discussed=True),
            GoalAtMeeting(sport),
            GoalAtMeeting(work, None, "", discussed=True),  # the same goal twice counts once
        ],
        new_agreements=[NewAgreement("Vacatures zoeken", ans, work), NewAgreement("Bellen", None)],
        written=after_start(meeting),
        today=TODAY,
    )
    report = done.value
    assert report is not None and done.state is SaveState.SAVED
    stored = uow.stored
    assert stored is not None
    after = stored.meeting(meeting.uid)
    assert after.status is MeetingStatus.FULFILLED and after.report == report
    assert report.sections == {Section.SAMENVATTING: "We spraken over werk.", Section.OVERIG: "Taart."}
    assert report.goals_discussed == [work, house]
    made = [stored.agreement(uid) for uid in report.new_agreements]
    assert [(a.description, a.owner, a.goal_uid, a.created, a.status) for a in made] == [
        ("Vacatures zoeken", ans, work, TODAY, AgreementStatus.REQUESTED),
        ("Bellen", None, None, TODAY, AgreementStatus.REQUESTED),
    ]
    scores = [(p.goal_uid, p.score, p.note, p.when) for p in stored.progress if p.meeting_uid == meeting.uid]
    assert scores == [(work, 6, "Cv is af", meeting.start)]
    assert {p.who for p in after.participants if p.attended} == {PATIENT, ans}
    assert [c.activity.text for c in uow.commits] == ["Verslag van de bijeenkomst geschreven"]

    # Changing it: a score is corrected in place, the earlier new agreements stay, another one joins them.
    again = meetings.write_report(
        uow,
        "k2",
        meeting_uid=meeting.uid,
        sections={Section.SAMENVATTING: "Aangepast."},
        attended=[PATIENT],
        goals=[GoalAtMeeting(work, 8, "Eerste gesprek")],
        new_agreements=[NewAgreement("Solliciteren", PATIENT)],
        written=after_start(meeting) + timedelta(days=1),
        today=TODAY,
    )
    assert again.value is not None
    assert again.value.uid == report.uid
    assert uow.stored is not None
    assert [uow.stored.agreement(uid).description for uid in again.value.new_agreements] == [
        "Vacatures zoeken",
        "Bellen",
        "Solliciteren",
    ]
    scores = [(p.goal_uid, p.score, p.note) for p in uow.stored.progress if p.meeting_uid == meeting.uid]
    assert scores == [(work, 8, "Eerste gesprek")]
    assert [c.activity.text for c in uow.commits][1:] == ["Verslag van de bijeenkomst gewijzigd"]


def test_a_saved_score_cannot_be_emptied_and_nothing_of_the_report_is_saved() -> None:
    group = full_group()
    meeting = held(group)
    house = goal_named(group, "Zelfstandig wonen")  # scored 4 at the held meeting
    uow = uow_as(CLINICIAN, group)
    before = copy.deepcopy(uow.stored)
    with pytest.raises(DomainError) as refused:
        meetings.write_report(
            uow,
            "k",
            meeting_uid=meeting.uid,
            sections={Section.SAMENVATTING: "Nieuw"},
            attended=[PATIENT],
            goals=[GoalAtMeeting(house, None, "", discussed=True)],
            new_agreements=[NewAgreement("Mag niet blijven")],
            written=after_start(meeting),
            today=TODAY,
        )
    assert refused.value.user_message.startswith("Een opgeslagen cijfer kan niet weg.")
    assert uow.commits == [] and uow.stored == before


def test_no_report_for_a_cancelled_meeting_or_before_it_starts() -> None:
    group = full_group()
    uow = uow_as(CLINICIAN, group)
    meeting = planned(group)
    before = copy.deepcopy(uow.stored)
    with pytest.raises(DomainError) as early:
        meetings.write_report(
            uow,
            "k1",
            meeting_uid=meeting.uid,
            sections={},
            attended=[],
            goals=[],
            new_agreements=[NewAgreement("Te vroeg")],
            written=meeting.start - timedelta(days=1),
            today=TODAY,
        )
    assert early.value.user_message.startswith("Deze bijeenkomst is nog niet geweest.")  # the day before it
    _status(uow, "k2")
    with pytest.raises(DomainError) as cancelled:
        meetings.write_report(
            uow,
            "k3",
            meeting_uid=meeting.uid,
            sections={Section.SAMENVATTING: "Toch"},
            attended=[PATIENT],
            goals=[],
            new_agreements=[NewAgreement("Niet bewaren")],
            written=after_start(meeting),
            today=TODAY,
        )
    assert cancelled.value.user_message == "Voor een afgezegde bijeenkomst schrijft u geen verslag."
    assert uow.stored is not None and before is not None
    assert uow.stored.agreements == before.agreements  # the new agreement of the refused report is not kept
    assert [c.activity.text for c in uow.commits] == ["Bijeenkomst afgezegd"]


def test_nothing_changes_in_an_ended_group() -> None:
    group = full_group()
    # Ending cancels the planned meetings; an ended group read with one still planned (e.g. ended by another
    # system) must still refuse every change to it.
    group.status = GroupStatus.ENDED
    for who, call in [
        *((CLINICIAN, c) for c, _ in PROFESSIONAL_ACTIONS.values()),
        (PATIENT, _propose),
        (PATIENT, _respond_own),
    ]:
        uow = uow_as(who, copy.deepcopy(group))
        with pytest.raises(DomainError) as refused:
            call(uow, "k")
        assert refused.value.user_message.startswith("De groep is beëindigd"), call
        assert uow.commits == []
