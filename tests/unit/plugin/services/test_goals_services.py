"""The goals services on the in-memory unit of work: every action, every role, the status rule, refusals."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest

from fhir_mappings.codes import GoalAchievement, GoalLifecycle, GoalTerm, GroupStatus, LifeArea
from fhir_mappings.errors import DomainError
from fhir_mappings.model import Goal, ResourceGroup
from fhir_mappings.rights import NotAllowed
from plugin.services import goals
from plugin.services.uow import Done, MemoryUnitOfWork, SaveState
from tests.unit.fhir_mappings.factory import AMS, CLINICIAN, PATIENT, TODAY, full_group

COLLEAGUE = "Practitioner/colleague"  # a care professional of the clinic, not in the team
STRANGER = "RelatedPerson/stranger"
NOW = datetime(2026, 6, 2, 10, 30, tzinfo=AMS)


def member_who(group: ResourceGroup, display: str) -> str:
    return next(m.who for m in group.members if m.display == display)


def uow_as(user: str, group: ResourceGroup | None = None) -> MemoryUnitOfWork:
    return MemoryUnitOfWork(user=user, patient=PATIENT, stored=group if group is not None else full_group())


def goal_named(group: ResourceGroup | None, text: str) -> Goal:
    assert group is not None
    return next(g for g in group.goals if g.text == text)


def stored(uow: MemoryUnitOfWork) -> ResourceGroup:
    assert uow.stored is not None
    return uow.stored


# Each action as (name, call): the call runs the service for the goal "Zelfstandig wonen" of the full group.
def _add(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    return goals.add_goal(uow, key, text="Weer fietsen", term=GoalTerm.LANG, today=TODAY, life_area=LifeArea.SPORT)


def _edit(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    house = goal_named(uow.stored, "Zelfstandig wonen")
    return goals.edit_goal(
        uow,
        key,
        uid=house.uid,
        text="Zelfstandig wonen in Breda",
        term=GoalTerm.LANG,
        life_area=LifeArea.WONEN,
        due=date(2027, 9, 1),
        parent_uid=None,
        status=GoalLifecycle.ON_HOLD,
    )


def _note(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    house = goal_named(uow.stored, "Zelfstandig wonen")
    return goals.add_goal_note(uow, key, uid=house.uid, text="Bezichtiging gepland", now=NOW)


def _score(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    house = goal_named(uow.stored, "Zelfstandig wonen")
    return goals.score_progress(uow, key, uid=house.uid, score=7, now=NOW, note="Goed bezig")


ACTIONS: dict[str, tuple[Callable[[MemoryUnitOfWork, str], Done[Any]], str]] = {
    "add_goal": (_add, "Doel toegevoegd"),
    "edit_goal": (_edit, "Doel gewijzigd"),
    "add_goal_note": (_note, "Notitie bij doel toegevoegd"),
    "score_progress": (_score, "Voortgangscijfer voor doel vastgelegd"),
}


def _changed(action: str, group: ResourceGroup, user: str) -> None:
    """What each action must have written."""
    if action == "add_goal":
        new = goal_named(group, "Weer fietsen")
        assert new.term is GoalTerm.LANG and new.life_area is LifeArea.SPORT and new.start == TODAY
    elif action == "edit_goal":
        house = goal_named(group, "Zelfstandig wonen in Breda")
        assert house.due == date(2027, 9, 1) and house.lifecycle is GoalLifecycle.ON_HOLD
    elif action == "add_goal_note":
        note = goal_named(group, "Zelfstandig wonen").notes[-1]
        assert (note.text, note.time, note.author) == ("Bezichtiging gepland", NOW, user)
    else:
        house = goal_named(group, "Zelfstandig wonen")
        latest = group.progress_for(house.uid)[-1]
        assert (latest.score, latest.when, latest.meeting_uid, latest.note) == (7, NOW, None, "Goed bezig")


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("who", ["patient", "regieondersteuner", "colleague"])
def test_patient_and_care_professionals_may_do_every_goal_action(action: str, who: str) -> None:
    user = {"patient": PATIENT, "regieondersteuner": CLINICIAN, "colleague": COLLEAGUE}[who]
    uow = uow_as(user)
    call, activity = ACTIONS[action]
    done = call(uow, "key-1")
    assert done.state is SaveState.SAVED
    assert [(c.activity.text, c.key, c.user) for c in uow.commits] == [(activity, "key-1", user)]
    _changed(action, stored(uow), user)


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("who", ["member", "nominee", "stranger"])
def test_members_nominees_and_strangers_may_not_touch_goals(action: str, who: str) -> None:
    group = full_group()
    user = {"member": member_who(group, "Ans de Vries"), "nominee": "Practitioner/pr2", "stranger": STRANGER}[who]
    uow = uow_as(user, group)
    before = copy.deepcopy(uow.stored)
    call, _ = ACTIONS[action]
    with pytest.raises(NotAllowed) as refused:
        call(uow, "key-1")
    assert refused.value.user_message.startswith("Dit mag alleen de patiënt (regisseur)")
    assert uow.commits == []
    assert uow.stored == before


def test_a_changed_status_keeps_the_day_it_changed() -> None:
    uow = uow_as(CLINICIAN, full_group())
    house = goal_named(uow.stored, "Zelfstandig wonen")
    reached = date(2026, 6, 2)
    done = goals.edit_goal(
        uow,
        "k1",
        uid=house.uid,
        text=house.text,
        term=house.term,
        life_area=house.life_area,
        due=house.due,
        parent_uid=house.parent_uid,
        status=GoalLifecycle.COMPLETED,
        today=reached,
    )
    assert done.state is SaveState.SAVED
    assert goal_named(uow.stored, "Zelfstandig wonen").status_date == reached


def test_a_repeated_submission_adds_the_goal_once() -> None:
    uow = uow_as(PATIENT)
    first = _add(uow, "same-key")
    again = _add(uow, "same-key")
    assert again.state is SaveState.REPEATED and again.uid == first.uid is not None
    assert [g.text for g in stored(uow).goals].count("Weer fietsen") == 1
    assert len(uow.commits) == 1


def test_a_short_term_goal_steps_towards_a_long_term_one_only() -> None:
    uow = uow_as(PATIENT)
    house = goal_named(uow.stored, "Zelfstandig wonen")
    step = goals.add_goal(uow, "k1", text="Bezichtiging", term=GoalTerm.KORT, today=TODAY, parent_uid=house.uid)
    assert step.value.parent_uid == house.uid
    sport = goal_named(uow.stored, "Twee keer per week sporten")
    with pytest.raises(DomainError) as not_a_step:
        goals.add_goal(uow, "k2", text="Schoenen kopen", term=GoalTerm.KORT, today=TODAY, parent_uid=sport.uid)
    assert "alleen bij een doel voor de lange termijn" in not_a_step.value.user_message
    with pytest.raises(DomainError) as has_steps:
        goals.edit_goal(
            uow, "k3", uid=house.uid, text=house.text, term=GoalTerm.KORT, life_area=None, due=None, parent_uid=None
        )
    assert has_steps.value.user_message.startswith("Aan dit doel hangen stappen")
    assert len(uow.commits) == 1
    assert uow.submissions.claim(f"{PATIENT} {PATIENT}", "k2") is None  # a refused submission can be sent again


def _edit_status(uow: MemoryUnitOfWork, goal: Goal, status: GoalLifecycle, key: str) -> Done[Goal]:
    return goals.edit_goal(
        uow,
        key,
        uid=goal.uid,
        text=goal.text,
        term=goal.term,
        life_area=goal.life_area,
        due=goal.due,
        parent_uid=goal.parent_uid,
        status=status,
    )


@pytest.mark.parametrize(
    ("lifecycle", "achievement", "chosen", "new_achievement"),
    [
        # Achieved: `achieved`, unless another system already said it is reached (sustaining stays).
        (GoalLifecycle.ACTIVE, None, GoalLifecycle.COMPLETED, GoalAchievement.ACHIEVED),
        (GoalLifecycle.ACTIVE, GoalAchievement.IMPROVING, GoalLifecycle.COMPLETED, GoalAchievement.ACHIEVED),
        (GoalLifecycle.ACTIVE, GoalAchievement.SUSTAINING, GoalLifecycle.COMPLETED, GoalAchievement.SUSTAINING),
        # Stopped: `not-achieved`, unless it was already not reached (not-attainable stays).
        (GoalLifecycle.ACTIVE, GoalAchievement.IN_PROGRESS, GoalLifecycle.CANCELLED, GoalAchievement.NOT_ACHIEVED),
        (
            GoalLifecycle.ON_HOLD,
            GoalAchievement.NOT_ATTAINABLE,
            GoalLifecycle.CANCELLED,
            GoalAchievement.NOT_ATTAINABLE,
        ),
        # Back to active or on hold: a final achievement goes back to in-progress ...
        (GoalLifecycle.COMPLETED, GoalAchievement.ACHIEVED, GoalLifecycle.ACTIVE, GoalAchievement.IN_PROGRESS),
        (GoalLifecycle.CANCELLED, GoalAchievement.NOT_ACHIEVED, GoalLifecycle.ON_HOLD, GoalAchievement.IN_PROGRESS),
        (GoalLifecycle.COMPLETED, GoalAchievement.SUSTAINING, GoalLifecycle.ON_HOLD, GoalAchievement.IN_PROGRESS),
        # ... and a non-final one another system wrote stays.
        (GoalLifecycle.ACTIVE, GoalAchievement.IMPROVING, GoalLifecycle.ON_HOLD, GoalAchievement.IMPROVING),
        (GoalLifecycle.ON_HOLD, None, GoalLifecycle.ACTIVE, None),
    ],
)
def test_the_chosen_status_sets_the_achievement_that_goes_with_it(
    lifecycle: GoalLifecycle,
    achievement: GoalAchievement | None,
    chosen: GoalLifecycle,
    new_achievement: GoalAchievement | None,
) -> None:
    group = full_group()
    house = goal_named(group, "Zelfstandig wonen")
    house.lifecycle, house.achievement = lifecycle, achievement
    uow = uow_as(PATIENT, group)
    done = _edit_status(uow, house, chosen, "k")
    assert done.state is SaveState.SAVED
    saved = goal_named(uow.stored, "Zelfstandig wonen")
    assert (saved.lifecycle, saved.achievement) == (chosen, new_achievement)


def test_picking_the_status_a_goal_has_changes_nothing() -> None:
    group = full_group()
    house = goal_named(group, "Zelfstandig wonen")
    house.lifecycle, house.achievement = GoalLifecycle.ACTIVE, GoalAchievement.IMPROVING
    uow = uow_as(CLINICIAN, group)
    done = _edit_status(uow, house, GoalLifecycle.ACTIVE, "k")
    assert done.state is SaveState.UNCHANGED and uow.commits == []
    assert goal_named(uow.stored, "Zelfstandig wonen").achievement is GoalAchievement.IMPROVING
    # The domain method itself: the same status leaves the goal as it is.
    assert group.set_goal_status(house.uid, GoalLifecycle.ACTIVE).achievement is GoalAchievement.IMPROVING


def test_a_score_at_a_meeting_counts_at_the_meeting_and_corrects_an_earlier_one() -> None:
    uow = uow_as(PATIENT)
    meeting = next(m for m in stored(uow).meetings if m.report is not None)
    work = goal_named(uow.stored, "Werk vinden dat bij me past")
    done = goals.score_progress(uow, "k1", uid=work.uid, score=3, now=NOW, meeting_uid=meeting.uid)
    assert done.value.when == meeting.start != NOW  # at the meeting's time, not when it was typed in
    # The full group already had a score for "Zelfstandig wonen" at that meeting: it is corrected, not doubled.
    house = goal_named(uow.stored, "Zelfstandig wonen")
    before = len(stored(uow).progress)
    goals.score_progress(uow, "k2", uid=house.uid, score=8, now=NOW, meeting_uid=meeting.uid)
    assert len(stored(uow).progress) == before
    assert [p.score for p in stored(uow).progress_for(house.uid) if p.meeting_uid == meeting.uid] == [8]
    assert len(uow.commits) == 2


@pytest.mark.parametrize(
    ("score", "meeting_uid", "message"),
    [
        (11, None, "Geef een cijfer van 0 tot en met 10."),
        (-1, None, "Geef een cijfer van 0 tot en met 10."),
        (5, "geen-bijeenkomst", "Deze bijeenkomst hoort niet bij deze groep."),
    ],
)
def test_a_wrong_score_or_meeting_is_refused_and_nothing_is_written(
    score: int, meeting_uid: str | None, message: str
) -> None:
    uow = uow_as(PATIENT)
    house = goal_named(uow.stored, "Zelfstandig wonen")
    with pytest.raises(DomainError) as refused:
        goals.score_progress(uow, "k", uid=house.uid, score=score, now=NOW, meeting_uid=meeting_uid)
    assert refused.value.user_message == message
    assert uow.commits == []


def test_an_unknown_goal_and_an_empty_note_are_refused() -> None:
    uow = uow_as(PATIENT)
    with pytest.raises(DomainError) as unknown:
        goals.add_goal_note(uow, "k1", uid="geen-doel", text="Iets", now=NOW)
    assert unknown.value.user_message == "Dit doel hoort niet bij deze groep."
    house = goal_named(uow.stored, "Zelfstandig wonen")
    with pytest.raises(DomainError):
        goals.add_goal_note(uow, "k2", uid=house.uid, text="   ", now=NOW)
    assert uow.commits == []


def test_nothing_changes_in_an_ended_group() -> None:
    group = full_group()
    group.change_status(GroupStatus.ENDED, TODAY)
    uow = uow_as(PATIENT, group)
    for call, _ in ACTIONS.values():
        with pytest.raises(DomainError) as refused:
            call(uow, "k")
        assert refused.value.user_message.startswith("De groep is beëindigd")
    assert uow.commits == []
