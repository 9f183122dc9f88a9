"""Every user action on a group that holds only its newest scores (a save from the overview's load): either it
never looks at a score outside the window and writes exactly what it writes on the whole group, or it reads the
window as every score and raises `ScoresNotLoaded` before anything is changed (the repository then reads the
whole group). Never a third way: an action that quietly saves too little or too much."""

from __future__ import annotations

import copy
import pickle
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from fhir_mappings.model import ResourceGroup, ScoresNotLoaded
from fhir_mappings.refs import RefIndex
from plugin.services import goals as goals_services
from plugin.services.uow import MemoryUnitOfWork
from tests.unit.fhir_mappings.factory import AMS, CLINICIAN, full_group
from tests.unit.fhir_mappings.test_save_scope import GOAL_ACTIONS, MEETING_ACTIONS, as_read, changed
from tests.unit.plugin.services import test_members_services as members_tests
from tests.unit.plugin.services.test_agreements_services import ACTIONS as AGREEMENT_ACTIONS

# The factory's group scores on 7 April 2026 and later; one older score (a month before) falls outside the window.
SINCE = date(2026, 4, 1)
OLD = datetime(2026, 3, 3, 15, 0, tzinfo=AMS)

Call = Callable[[MemoryUnitOfWork, str], Any]


def with_an_old_score(group: ResourceGroup) -> ResourceGroup:
    group.score_progress(group.goals[0].uid, 2, OLD)
    return group


def windowed(group: ResourceGroup) -> ResourceGroup:
    out = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert out is not None
    out.hold_scores_since(SINCE)
    assert out.scores_since == SINCE and len(out.held_scores()) < len(group.held_scores())
    return out


def run(call: Callable[[MemoryUnitOfWork, str], Any], group: ResourceGroup, key: str, **kwargs: Any) -> ResourceGroup:
    """The group after the action (the same as before when it changed nothing)."""
    uow = MemoryUnitOfWork(user=kwargs.pop("user", CLINICIAN), patient=group.patient, stored=group, **kwargs)
    call(uow, key)
    assert uow.stored is not None
    return uow.stored


def written(resources: dict[str, Any]) -> dict[str, Any]:
    """What the mapping writes, without `Appointment.created` (the moment of mapping a new meeting: the two runs
    differ by milliseconds)."""
    return {uid: {k: v for k, v in res.items() if k != "created"} for uid, res in resources.items()}


def check(call: Call, group: ResourceGroup, index: RefIndex, **kwargs: Any) -> str:
    """'window' when the action works on the window and writes what it writes on the whole group; 'whole' when it
    needs every score (and changed nothing of the window)."""
    key = str(uuid.uuid4())
    window = windowed(group)
    before = window.held_scores()
    try:
        after_window = run(call, window, key, **dict(kwargs))
    except ScoresNotLoaded:
        assert window.held_scores() == before
        return "whole"
    after_whole = run(call, group, key, **dict(kwargs))
    assert written(changed(window, after_window, index, None)) == written(changed(group, after_whole, index, None))
    assert after_window.scores_since == SINCE
    return "window"


# No action reads every score of the group. A report says which goals were scored at its meeting, and a score
# given at a meeting looks for an earlier one to correct: in the window when the meeting started in it, held or
# still planned (the service test's report is of a planned meeting), else in its day's scores (see below).


@pytest.mark.parametrize(
    "action",
    [f"goals:{a}" for a in sorted(GOAL_ACTIONS)]
    + [f"agreements:{a}" for a in sorted(AGREEMENT_ACTIONS)]
    + [f"meetings:{a}" for a in sorted(MEETING_ACTIONS)],
)
def test_every_goal_agreement_and_meeting_action_works_on_the_newest_scores(action: str) -> None:
    area, name = action.split(":")
    call = {"goals": GOAL_ACTIONS, "agreements": AGREEMENT_ACTIONS, "meetings": MEETING_ACTIONS}[area][name][0]
    group, index = as_read(with_an_old_score(full_group()))
    assert check(call, group, index) == "window"


@pytest.mark.parametrize("case", members_tests.CASES, ids=[c.name for c in members_tests.CASES])
def test_every_member_action_works_on_the_newest_scores(case: Any) -> None:
    group, index = as_read(with_an_old_score(members_tests.sanne_group()))
    role = sorted(case.allowed, key=str)[0]
    mother = next(s for s in group.supporters if s.name == "Ans Bakker")
    who_map = {members_tests.NOMINEE: "supporter-tom", members_tests.MOTHER: mother.uid}

    def call(uow: MemoryUnitOfWork, key: str) -> Any:
        return case.call(uow, key, uow.stored)

    assert check(call, group, index, user=members_tests.USERS[role], who_map=who_map) == "window"


def test_a_score_at_a_held_meeting_in_the_window_corrects_the_earlier_one_from_the_window() -> None:
    group, index = as_read(with_an_old_score(full_group()))
    held = next(m for m in group.meetings if not m.is_planned)  # 7 April, after the window's first day
    earlier = next(p for p in group.held_scores() if p.meeting_uid == held.uid)

    def again(uow: MemoryUnitOfWork, key: str) -> Any:
        return goals_services.score_progress(
            uow, key, uid=earlier.goal_uid, score=9, now=OLD, meeting_uid=held.uid, note="bijgesteld"
        )

    assert check(again, group, index) == "window"  # the same correction as on the whole group
    window = windowed(group)
    corrected = window.score_progress(earlier.goal_uid, 9, held.start, held.uid)
    assert corrected.uid == earlier.uid and corrected.score == 9
    assert len(window.held_scores()) == len(windowed(group).held_scores())  # in place, nothing added


def test_a_score_at_an_older_meeting_asks_for_more_scores_and_one_without_a_meeting_does_not() -> None:
    """A meeting held or still planned before the window's first day: its scores are not held (a score there may
    correct an earlier one). Within the window they are, held or planned: a score at a meeting counts at its
    start."""
    group, _ = as_read(with_an_old_score(full_group()))
    held = next(m for m in group.meetings if not m.is_planned)
    planned = next(m for m in group.meetings if m.is_planned)
    goal = group.goals[0].uid
    later = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert later is not None
    later.hold_scores_since(date(2026, 4, 8))  # the held meeting's day is no longer in the window
    past = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert past is not None
    past.hold_scores_since(planned.day + timedelta(days=1))  # nor the planned meeting's (never marked held)
    assert group.holds_scores_at(held.uid) and group.holds_scores_at(planned.uid)  # a whole load holds them all
    assert windowed(group).holds_scores_at(held.uid)  # held on 7 April, within the window since 1 April
    assert windowed(group).holds_scores_at(planned.uid)  # planned in July: within it too
    for window, meeting in ((later, held), (past, planned)):
        assert not window.holds_scores_at(meeting.uid)
        before = window.held_scores()
        with pytest.raises(ScoresNotLoaded):
            window.score_progress(goal, 7, meeting.start, meeting.uid)  # a correction of an earlier score there?
        assert window.held_scores() == before
    window = windowed(group)
    assert window.score_progress(goal, 7, OLD).score == 7  # a new score, whatever its day: added to those held


def test_with_an_older_meetings_day_held_too_its_scores_are_held_and_corrected_in_place_but_not_shown() -> None:
    """A load of the newest scores with every score of an older held meeting's day (`every_score_on`): the meeting's
    scores are there to read and correct (`scores_at`, `scores_read`), not among the newest a page shows
    (`held_scores`); the exception names the day to read, of a planned meeting too."""
    group, _ = as_read(with_an_old_score(full_group()))
    held = next(m for m in group.meetings if not m.is_planned)
    planned = next(m for m in group.meetings if m.is_planned)
    day = held.start.astimezone(AMS).date()  # 7 April
    earlier = next(p for p in group.held_scores() if p.meeting_uid == held.uid)
    later = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert later is not None
    later.hold_scores_since(date(2026, 4, 8))
    with pytest.raises(ScoresNotLoaded) as refused:
        later.scores_at(held.uid)
    assert refused.value.day == day == later.scores_day(held.uid)
    past = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert past is not None
    past.hold_scores_since(planned.day + timedelta(days=1))
    with pytest.raises(ScoresNotLoaded) as refused:
        past.scores_at(planned.uid)
    assert refused.value.day == planned.day == group.scores_day(planned.uid)

    with_day = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert with_day is not None
    with_day.hold_scores_since(date(2026, 4, 8), every_score_on=[day, date(2026, 5, 1)])  # (a later day: no matter)
    assert with_day.holds_scores_at(held.uid) and with_day.holds_scores_at(planned.uid)  # (planned in July)
    assert with_day.scores_at(held.uid) == group.scores_at(held.uid)
    assert with_day.held_scores() == later.held_scores()  # the page's newest scores are the same
    on_day = [p for p in group.scores_read() if p.when.astimezone(AMS).date() == day]
    assert on_day and sorted(with_day.scores_read(), key=lambda p: p.uid) == sorted(
        on_day + later.held_scores(), key=lambda p: p.uid
    )
    assert not any(p.when.date() == OLD.date() for p in with_day.scores_read())  # only that day of the older ones
    # Copies keep the day (the unit of work's copy of the group for an action, the read cache's pickles).
    for copied in (
        copy.copy(with_day.progress),
        copy.deepcopy(with_day.progress),
        pickle.loads(pickle.dumps(with_day.progress)),  # noqa: S301 (our own bytes)
    ):
        assert copied.days == frozenset({day})  # type: ignore[attr-defined]
    # A correction at the meeting: in place, among the scores read.
    corrected = with_day.score_progress(earlier.goal_uid, 9, held.start, held.uid)
    assert corrected.uid == earlier.uid and corrected.score == 9
    assert len(with_day.scores_read()) == len(on_day) + len(later.held_scores())
    assert corrected in with_day.scores_at(held.uid) and corrected not in with_day.held_scores()


def test_a_span_of_older_days_held_whole_is_read_not_shown_and_kept_by_copies() -> None:
    """A load of the newest scores with every score of a span of older days (`every_score_between`: a page of the
    timeline far back): the span's scores are read (`scores_read`) and not shown as the newest (`held_scores`);
    `holds_every_score_from` says yes for days in the span and from `scores_since` on, and no across a gap."""
    group, _ = as_read(with_an_old_score(full_group()))
    held = next(m for m in group.meetings if not m.is_planned)
    day = held.start.astimezone(AMS).date()  # 7 April: the oldest meeting's scores
    later = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert later is not None
    later.hold_scores_since(date(2026, 4, 8))
    assert not later.holds_every_score_from(day, day) and later.holds_every_score_from(date(2026, 4, 8), date.max)

    spanned = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert spanned is not None
    spanned.hold_scores_since(date(2026, 4, 8), every_score_between=(date(2026, 3, 4), day))
    assert spanned.holds_scores_at(held.uid) and spanned.scores_at(held.uid) == group.scores_at(held.uid)
    assert spanned.held_scores() == later.held_scores()  # the page's newest scores are the same
    on_day = [p for p in group.scores_read() if p.when.astimezone(AMS).date() == day]
    assert on_day and sorted(spanned.scores_read(), key=lambda p: p.uid) == sorted(
        on_day + later.held_scores(), key=lambda p: p.uid
    )  # not the score of 3 March, the day before the span
    assert spanned.holds_every_score_from(date(2026, 3, 4), date(2026, 5, 1))  # the span, then the newest
    assert spanned.holds_every_score_from(date(2026, 3, 10), day)
    assert not spanned.holds_every_score_from(date(2026, 3, 3), day)  # a day before the span
    assert not spanned.holds_every_score_from(date.min, day)

    gap = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert gap is not None
    gap.hold_scores_since(date(2026, 4, 9), every_score_between=(date(2026, 3, 4), day))  # 8 April not held
    assert gap.holds_every_score_from(date(2026, 3, 4), day) and not gap.holds_every_score_from(day, date(2026, 4, 9))

    everything = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert everything is not None
    everything.hold_scores_since(date(2026, 4, 8), every_score_between=(None, day))  # back to the first score
    assert everything.holds_every_score_from(date.min, date.max)
    assert any(p.when == OLD for p in everything.scores_read()) and OLD not in [
        p.when for p in everything.held_scores()
    ]

    on = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert on is not None
    on.hold_scores_since(date(2026, 4, 9), every_score_between=(day, date.max))  # from a day on (a newer link)
    assert on.holds_every_score_from(day, date.max) and not on.holds_every_score_from(date(2026, 3, 3), day)
    assert sorted(p.uid for p in on.scores_read()) == sorted(p.uid for p in group.scores_read() if p.when != OLD)

    empty = MemoryUnitOfWork(user="x", patient=group.patient, stored=group).group()
    assert empty is not None
    empty.hold_scores_since(date(2026, 4, 8), every_score_between=(day, date(2026, 4, 6)))  # first after last
    assert empty.scores_read() == later.scores_read() and not empty.holds_every_score_from(day, day)
    # Copies keep the span (the unit of work's copy of the group for an action, the read cache's pickles, a role's).
    for copied in (
        copy.copy(spanned.progress),
        copy.deepcopy(spanned.progress),
        pickle.loads(pickle.dumps(spanned.progress)),  # noqa: S301 (our own bytes)
    ):
        assert copied.span == (date(2026, 3, 4), day)  # type: ignore[attr-defined]
    spanned.keep_scores(lambda p: True)
    assert spanned.holds_every_score_from(date(2026, 3, 4), day)
