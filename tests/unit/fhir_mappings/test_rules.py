"""The rules of the resource group method, each on its own."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from fhir_mappings.codes import (
    GoalLifecycle,
    GoalTerm,
    GroupStatus,
    InterviewVisibility,
    MeetingRole,
    MeetingStatus,
    MemberRole,
    NominationState,
    Section,
)
from fhir_mappings.errors import DomainError
from fhir_mappings.model import ResourceGroup, Supporter, add_months, new_uid
from tests.unit.fhir_mappings.factory import AMS, CLINICIAN, PATIENT, TODAY, full_group


def new_group() -> ResourceGroup:
    return ResourceGroup.start_new(
        patient=PATIENT,
        patient_display="Sanne",
        regieondersteuner=CLINICIAN,
        regieondersteuner_display="Jeroen",
        name="Team Sanne",
        today=TODAY,
    )


def nominee(group: ResourceGroup, name: str = "Ans") -> str:
    uid = new_uid()
    group.nominate(uid, name, TODAY, Supporter(uid, name, "MTH", "http://terminology.hl7.org/CodeSystem/v3-RoleCode"))
    return group.members[-1].uid


def test_new_group_has_patient_as_regisseur_and_clinician_as_regieondersteuner() -> None:
    g = new_group()
    roles = {m.who: m.roles for m in g.members}
    assert roles == {PATIENT: {MemberRole.REGISSEUR}, CLINICIAN: {MemberRole.REGIEONDERSTEUNER}}
    assert all(m.is_member and m.core for m in g.members)
    assert g.status is GroupStatus.FORMING
    g.check_invariants()


def test_group_needs_a_patient_and_a_practitioner() -> None:
    with pytest.raises(DomainError):
        ResourceGroup.start_new(
            patient="RelatedPerson/x",
            patient_display="",
            regieondersteuner=CLINICIAN,
            regieondersteuner_display="",
            name="x",
            today=TODAY,
        )
    with pytest.raises(DomainError) as err:
        ResourceGroup.start_new(
            patient=PATIENT,
            patient_display="",
            regieondersteuner="RelatedPerson/x",
            regieondersteuner_display="",
            name="x",
            today=TODAY,
        )
    assert "regieondersteuner" in err.value.user_message
    assert "Practitioner" in err.value.log_message


def test_patient_and_regieondersteuner_cannot_leave() -> None:
    g = new_group()
    with pytest.raises(DomainError, match="cannot leave"):
        g.leave(g.members[0].uid, TODAY)
    with pytest.raises(DomainError, match="last regieondersteuner"):
        g.leave(g.members[1].uid, TODAY)
    g.check_invariants()


def test_invariants_catch_a_group_without_patient_or_regieondersteuner() -> None:
    g = new_group()
    g.members[0].end = TODAY
    with pytest.raises(DomainError, match="regisseur"):
        g.check_invariants()
    g = new_group()
    g.members[1].roles = {MemberRole.LID}
    with pytest.raises(DomainError, match="regieondersteuner"):
        g.check_invariants()


def test_hand_over_keeps_a_regieondersteuner_and_the_history() -> None:
    g = new_group()
    g.hand_over("Practitioner/pr9", "Nieuwe", TODAY + timedelta(days=1))
    old = g.members[1]
    assert old.end == TODAY + timedelta(days=1) and not old.active
    assert g.regieondersteuner() is not None and g.regieondersteuner().who == "Practitioner/pr9"  # type: ignore[union-attr]
    assert len(g.members) == 3
    g.check_invariants()


def test_nominee_becomes_member_only_after_a_held_interview() -> None:
    g = new_group()
    uid = nominee(g)
    assert g.member(uid).nomination is NominationState.GENOMINEERD
    assert not g.member(uid).is_member
    with pytest.raises(DomainError) as err:
        g.admit(uid, TODAY)
    assert "kennismakingsgesprek" in err.value.user_message
    g.plan_interview(uid, datetime(2026, 3, 9, 14, tzinfo=AMS))
    assert g.member(uid).nomination is NominationState.GESPREK_GEPLAND
    with pytest.raises(DomainError):
        g.admit(uid, TODAY)
    g.record_interview(
        uid, datetime(2026, 3, 9, 14, tzinfo=AMS), {Section.RELATIE: "Moeder"}, visibility=InterviewVisibility.SHARED
    )
    assert g.member(uid).nomination is NominationState.GESPREK_GEVOERD
    g.admit(uid, TODAY)
    assert g.member(uid).is_member


def test_a_nominee_waits_for_the_team_only_when_the_next_step_is_the_teams() -> None:
    """One rule for "needs attention" (the overview and the caseload): plan, write down, decide."""
    g = new_group()
    uid = nominee(g)
    before, at, after = (datetime(2026, 3, 9, 14, tzinfo=AMS) + timedelta(hours=h) for h in (-1, 0, 1))
    assert g.nominee_waits(g.member(uid), before)  # nominated: plan the interview
    g.plan_interview(uid, at)
    assert not g.nominee_waits(g.member(uid), before)  # planned, still to come
    assert g.nominee_waits(g.member(uid), after)  # its time has passed: write it down
    g.record_interview(uid, at, {Section.RELATIE: "Moeder"}, visibility=InterviewVisibility.SHARED)
    assert g.nominee_waits(g.member(uid), after)  # held: decide
    g.admit(uid, TODAY)
    assert not g.nominee_waits(g.member(uid), after)  # a member now
    assert not g.nominee_waits(g.member(g.members[0].uid), after)  # the patient is no nominee

    other = nominee(g, "Karim")
    g.change_status(GroupStatus.ON_HOLD, TODAY)
    assert not g.nominee_waits(g.member(other), after)  # paused: nothing is planned
    g.change_status(GroupStatus.ACTIVE, TODAY)
    assert g.nominee_waits(g.member(other), after)
    g.change_status(GroupStatus.ENDED, TODAY)
    assert not g.nominee_waits(g.member(other), after)


def test_illegal_nomination_transitions_carry_dutch_and_english_messages() -> None:
    g = new_group()
    uid = nominee(g)
    g.decline(uid, TODAY)
    assert g.member(uid).nomination is NominationState.AFGEZIEN and g.member(uid).end == TODAY
    with pytest.raises(DomainError) as err:
        g.plan_interview(uid, datetime(2026, 3, 9, 14, tzinfo=AMS))
    assert "afgezien" in err.value.user_message and "gesprek gepland" in err.value.user_message
    assert err.value.log_message.startswith("illegal nomination transition")


def test_withdrawn_nomination() -> None:
    g = new_group()
    uid = nominee(g)
    g.decline(uid, TODAY, withdrawn=True)
    assert g.member(uid).nomination is NominationState.TERUGGETROKKEN


def test_leaving_ends_the_period_and_never_removes() -> None:
    g = new_group()
    uid = nominee(g)
    g.record_interview(uid, datetime(2026, 3, 9, 14, tzinfo=AMS), {}, visibility=InterviewVisibility.SHARED)
    g.admit(uid, TODAY)
    before = len(g.members)
    g.leave(uid, TODAY + timedelta(days=30))
    assert len(g.members) == before
    assert g.member(uid).end == TODAY + timedelta(days=30)
    assert not g.member(uid).active
    with pytest.raises(DomainError):
        g.leave(uid, TODAY + timedelta(days=31))
    # rejoining is a new participation: the old one stays in the history
    g.nominate(g.member(uid).who, "Ans", TODAY + timedelta(days=60))
    assert len(g.members) == before + 1


def test_same_person_cannot_be_nominated_twice_while_active() -> None:
    g = new_group()
    g.nominate("Practitioner/pr2", "Lotte", TODAY)
    with pytest.raises(DomainError, match="already an active member"):
        g.nominate("Practitioner/pr2", "Lotte", TODAY)


def test_only_people_can_be_nominated() -> None:
    g = new_group()
    with pytest.raises(DomainError):
        g.nominate("Organization/o1", "GGZ", TODAY)


def test_next_meeting_is_three_months_after_the_last_held_one_and_lasts_an_hour() -> None:
    g = new_group()
    first = g.plan_meeting(datetime(2026, 1, 31, 15, 0, tzinfo=AMS))
    assert first.end - first.start == timedelta(minutes=60)
    g.set_meeting_status(first.uid, MeetingStatus.FULFILLED, date(2026, 1, 31))
    start, end = g.propose_next_meeting_time(datetime(2026, 2, 1, 9, tzinfo=AMS))
    assert start == datetime(2026, 4, 30, 15, 0, tzinfo=AMS)  # 31 April does not exist
    assert end - start == timedelta(minutes=60)


def test_next_meeting_without_history_and_when_overdue() -> None:
    g = new_group()
    now = datetime(2026, 3, 1, 12, tzinfo=AMS)
    start, _ = g.propose_next_meeting_time(now)
    assert start.date() == date(2026, 3, 15) and start.hour == 10
    held = g.plan_meeting(datetime(2025, 6, 1, 15, tzinfo=AMS))
    g.set_meeting_status(held.uid, MeetingStatus.FULFILLED, now.date())
    start, _ = g.propose_next_meeting_time(now)
    assert start > now and start.hour == 15
    assert g.meeting_due(now)
    g.plan_meeting(start)
    assert not g.meeting_due(now)


def test_add_months_clamps() -> None:
    assert add_months(datetime(2026, 11, 30, 10, tzinfo=AMS), 3) == datetime(2027, 2, 28, 10, tzinfo=AMS)
    assert add_months(datetime(2027, 11, 30, 10, tzinfo=AMS), 3) == datetime(2028, 2, 29, 10, tzinfo=AMS)


def test_short_term_goal_points_to_one_long_term_goal_only() -> None:
    g = new_group()
    long1 = g.add_goal("Zelfstandig wonen", GoalTerm.LANG, TODAY)
    short = g.add_goal("Huurtoeslag", GoalTerm.KORT, TODAY, parent_uid=long1.uid)
    with pytest.raises(DomainError) as err:
        g.add_goal("Formulier", GoalTerm.KORT, TODAY, parent_uid=short.uid)
    assert "lange termijn" in err.value.user_message
    with pytest.raises(DomainError):
        g.add_goal("Ander lang doel", GoalTerm.LANG, TODAY, parent_uid=long1.uid)
    with pytest.raises(DomainError, match="short-term children"):
        g.edit_goal(long1.uid, text=long1.text, term=GoalTerm.KORT, life_area=None, due=None, parent_uid=None)
    assert [x.uid for x in g.goals if x.parent_uid == long1.uid] == [short.uid]


def test_goal_text_is_required_and_bounded() -> None:
    g = new_group()
    with pytest.raises(DomainError, match="empty"):
        g.add_goal("   ", GoalTerm.LANG, TODAY)
    with pytest.raises(DomainError, match="longer than"):
        g.add_goal("x" * 4001, GoalTerm.LANG, TODAY)


def test_completing_a_goal_marks_it_achieved() -> None:
    g = new_group()
    goal = g.add_goal("Sporten", GoalTerm.KORT, TODAY)
    g.edit_goal(
        goal.uid,
        text=goal.text,
        term=goal.term,
        life_area=None,
        due=None,
        parent_uid=None,
        lifecycle=GoalLifecycle.COMPLETED,
    )
    assert goal.achievement is not None and goal.achievement.value == "achieved"


def test_progress_score_range() -> None:
    g = new_group()
    goal = g.add_goal("Sporten", GoalTerm.KORT, TODAY)
    for bad in (-1, 11):
        with pytest.raises(DomainError, match="out of range"):
            g.score_progress(goal.uid, bad, datetime(2026, 3, 9, tzinfo=AMS))
    g.score_progress(goal.uid, 10, datetime(2026, 3, 9, tzinfo=AMS))
    g.score_progress(goal.uid, 0, datetime(2026, 3, 1, tzinfo=AMS))
    assert [p.score for p in g.progress_for(goal.uid)] == [0, 10]


def test_agreement_owner_must_be_an_active_member() -> None:
    g = new_group()
    with pytest.raises(DomainError, match="not a member"):
        g.add_agreement("Bellen", TODAY, owner="Practitioner/stranger")
    a = g.add_agreement("Bellen", TODAY, owner=CLINICIAN, due=TODAY - timedelta(days=1))
    assert g.overdue_agreements(TODAY) == [a]


@pytest.mark.parametrize("closed", [GoalLifecycle.COMPLETED, GoalLifecycle.CANCELLED])
def test_a_new_agreement_is_for_an_open_goal_and_an_old_one_keeps_its_goal(closed: GoalLifecycle) -> None:
    g = new_group()
    goal, other = g.add_goal("Sporten", GoalTerm.KORT, TODAY), g.add_goal("Koken", GoalTerm.KORT, TODAY)
    on_hold = g.add_goal("Fietsen", GoalTerm.KORT, TODAY)
    g.set_goal_status(on_hold.uid, GoalLifecycle.ON_HOLD, TODAY)
    made = g.add_agreement("Schema maken", TODAY, goal_uid=goal.uid)
    assert g.add_agreement("Fiets laten maken", TODAY, goal_uid=on_hold.uid).goal_uid == on_hold.uid
    g.set_goal_status(goal.uid, closed, TODAY)
    assert not goal.is_open and other.is_open and on_hold.is_open
    with pytest.raises(DomainError, match="is closed") as refused:
        g.add_agreement("Nog een schema", TODAY, goal_uid=goal.uid)
    assert refused.value.user_message.startswith("Dit doel is bereikt of gestopt.")
    edit = {"description": "Schema maken", "owner": None, "due": None, "status": made.status}
    assert g.edit_agreement(made.uid, goal_uid=goal.uid, **edit).goal_uid == goal.uid  # keeps the goal it has
    assert g.edit_agreement(made.uid, goal_uid=other.uid, **edit).goal_uid == other.uid
    with pytest.raises(DomainError, match="is closed"):
        g.edit_agreement(made.uid, goal_uid=goal.uid, **edit)  # but cannot be moved back to it
    assert [a.description for a in g.agreements] == ["Schema maken", "Fiets laten maken"]


def test_meeting_roles_have_one_holder() -> None:
    g = new_group()
    m = g.plan_meeting(datetime(2026, 4, 1, 15, tzinfo=AMS))
    g.assign_role(m.uid, PATIENT, MeetingRole.VOORZITTER)
    g.assign_role(m.uid, CLINICIAN, MeetingRole.VOORZITTER)
    assert m.chair() == CLINICIAN
    assert MeetingRole.VOORZITTER not in m.participant(PATIENT).roles


def test_a_nominee_gets_no_meeting_role_before_joining() -> None:
    g = new_group()
    m = g.plan_meeting(datetime(2026, 4, 1, 15, tzinfo=AMS))
    nominee = g.nominate("Practitioner/jobcoach", "Jan Coach", TODAY)
    with pytest.raises(DomainError, match="nominee") as refused:
        g.assign_role(m.uid, nominee.who, MeetingRole.VOORZITTER)
    assert "pas een rol" in refused.value.user_message and m.chair() is None
    g.record_interview(nominee.uid, datetime(2026, 3, 2, 10, tzinfo=AMS), {}, CLINICIAN, InterviewVisibility.SHARED)
    g.admit(nominee.uid, TODAY)
    g.assign_role(m.uid, nominee.who, MeetingRole.VOORZITTER)  # a member now
    assert m.chair() == nominee.who


def test_meeting_status_transitions() -> None:
    g = new_group()
    m = g.plan_meeting(datetime(2026, 4, 1, 15, tzinfo=AMS))
    g.set_meeting_status(m.uid, MeetingStatus.CANCELLED, TODAY)
    with pytest.raises(DomainError, match="illegal meeting transition"):
        g.set_meeting_status(m.uid, MeetingStatus.FULFILLED, date(2026, 4, 1))
    with pytest.raises(DomainError):
        g.write_report(
            m.uid,
            sections={},
            attended=[],
            goals_discussed=[],
            new_agreements=[],
            written=datetime(2026, 4, 1, 17, tzinfo=AMS),
        )


def test_meeting_needs_an_aware_start_and_end_after_start() -> None:
    g = new_group()
    with pytest.raises(DomainError):
        g.plan_meeting(datetime(2026, 4, 1, 15))
    with pytest.raises(DomainError, match="ends before"):
        g.plan_meeting(datetime(2026, 4, 1, 15, tzinfo=AMS), datetime(2026, 4, 1, 14, tzinfo=AMS))


def test_first_held_meeting_activates_a_forming_group() -> None:
    g = new_group()
    m = g.plan_meeting(datetime(2026, 4, 1, 15, tzinfo=AMS))
    g.write_report(
        m.uid,
        sections={Section.SAMENVATTING: "Goed"},
        attended=[PATIENT],
        goals_discussed=[],
        new_agreements=[],
        written=datetime(2026, 4, 1, 17, tzinfo=AMS),
    )
    assert m.status is MeetingStatus.FULFILLED and g.status is GroupStatus.ACTIVE
    assert m.participant(PATIENT).attended and not m.participant(CLINICIAN).attended


def test_lifecycle_pause_end_reopen_and_ended_groups_are_read_only() -> None:
    g = full_group()
    g.change_status(GroupStatus.ON_HOLD, TODAY)
    g.change_status(GroupStatus.ACTIVE, TODAY)
    g.change_status(GroupStatus.ENDED, date(2027, 1, 1))
    assert g.end == date(2027, 1, 1)
    with pytest.raises(DomainError) as err:
        g.add_goal("Nieuw", GoalTerm.KORT, TODAY)
    assert "Heropen" in err.value.user_message
    with pytest.raises(DomainError, match="illegal group transition"):
        g.change_status(GroupStatus.ON_HOLD, TODAY)
    g.change_status(GroupStatus.ACTIVE, date(2027, 2, 1))
    assert g.end is None
    g.add_goal("Nieuw", GoalTerm.KORT, TODAY)


def test_forming_group_cannot_go_back_to_forming() -> None:
    g = new_group()
    g.change_status(GroupStatus.ACTIVE, TODAY)
    with pytest.raises(DomainError):
        g.change_status(GroupStatus.FORMING, TODAY)


def test_places_are_offered_again() -> None:
    g = new_group()
    a = g.add_place("Buurthuis", "Laan 1")
    assert g.add_place("buurthuis ", "Laan 1") is a
    with pytest.raises(DomainError):
        g.plan_meeting(datetime(2026, 4, 1, 15, tzinfo=AMS), place_uid="nope")


def test_invitation_books_the_meeting_and_goes_to_members() -> None:
    g = full_group()
    m = g.meetings[-1]
    assert m.status is MeetingStatus.PROPOSED
    inv = g.add_invitation(m.uid, "Kom je?", datetime(2026, 4, 9, tzinfo=AMS), "")
    assert m.status is MeetingStatus.BOOKED
    assert PATIENT in inv.recipients and "Practitioner/pr2" not in inv.recipients  # the coach is still a nominee


def test_no_invitation_for_a_meeting_that_was_held_or_cancelled() -> None:
    g = full_group()
    held = next(m for m in g.meetings if m.status is MeetingStatus.FULFILLED)
    with pytest.raises(DomainError, match="invitation for a fulfilled meeting"):
        g.add_invitation(held.uid, "Kom je?", datetime(2026, 4, 9, tzinfo=AMS), "")
    planned = g.meetings[-1]
    g.set_meeting_status(planned.uid, MeetingStatus.CANCELLED, TODAY)
    with pytest.raises(DomainError):
        g.add_invitation(planned.uid, "Kom je?", datetime(2026, 4, 9, tzinfo=AMS), "")


def test_hand_over_to_a_member_gives_that_participation_the_role() -> None:
    g = new_group()
    with pytest.raises(DomainError, match="current regieondersteuner"):
        g.hand_over(g.members[1].who, "Zelfde", TODAY)
    g.nominate("Practitioner/pr7", "Collega", TODAY)
    with pytest.raises(DomainError, match="hand over to nominee"):
        g.hand_over("Practitioner/pr7", "Collega", TODAY)
    colleague = next(m for m in g.members if m.who == "Practitioner/pr7")
    g.plan_interview(colleague.uid, datetime(2026, 3, 9, 14, tzinfo=AMS))
    g.record_interview(
        colleague.uid,
        datetime(2026, 3, 9, 14, tzinfo=AMS),
        {Section.RELATIE: "Collega"},
        visibility=InterviewVisibility.SHARED,
    )
    g.admit(colleague.uid, TODAY)
    before = len(g.members)
    assert g.hand_over("Practitioner/pr7", "Collega", TODAY + timedelta(days=1)) is colleague
    assert len(g.members) == before and MemberRole.REGIEONDERSTEUNER in colleague.roles and colleague.core
    assert not g.members[1].active
    g.check_invariants()


def test_a_held_interview_can_be_corrected() -> None:
    g = new_group()
    uid = nominee(g)
    g.record_interview(
        uid, datetime(2026, 3, 9, 14, tzinfo=AMS), {Section.RELATIE: "Moedr"}, visibility=InterviewVisibility.SHARED
    )
    g.record_interview(
        uid, datetime(2026, 3, 9, 14, tzinfo=AMS), {Section.RELATIE: "Moeder"}, visibility=InterviewVisibility.SHARED
    )
    g.admit(uid, TODAY)
    fixed = g.record_interview(
        uid,
        datetime(2026, 3, 9, 15, tzinfo=AMS),
        {Section.RELATIE: "Moeder, woont dichtbij"},
        visibility=InterviewVisibility.SHARED,
    )
    assert g.member(uid).nomination is NominationState.LID
    assert fixed.sections == {Section.RELATIE: "Moeder, woont dichtbij"} and len(g.interviews) == 1


def test_scoring_a_goal_again_at_the_same_meeting_corrects_the_score() -> None:
    g = full_group()
    meeting = next(m for m in g.meetings if m.status is MeetingStatus.FULFILLED)
    goal = g.goals[0]
    first = g.score_progress(goal.uid, 4, meeting.start, meeting.uid, "eerst")
    count = len(g.progress)
    again = g.score_progress(goal.uid, 7, meeting.start, meeting.uid, "beter")
    assert again.uid == first.uid and (again.score, again.note) == (7, "beter") and len(g.progress) == count
    assert again in g.progress and (first.score, first.note) == (4, "eerst")  # replaced, never changed in place
    g.score_progress(goal.uid, 8, meeting.start)  # without a meeting: a new score
    assert len(g.progress) == count + 1


def test_no_report_before_the_meeting_has_started() -> None:
    g = full_group()
    planned = g.meetings[-1]
    with pytest.raises(DomainError, match="before the meeting starts"):
        g.write_report(
            planned.uid,
            sections={Section.SAMENVATTING: "te vroeg"},
            attended=[],
            goals_discussed=[],
            new_agreements=[],
            written=planned.start - timedelta(hours=1),
        )
    assert planned.status is MeetingStatus.PROPOSED and planned.report is None
