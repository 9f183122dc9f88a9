"""A group that holds its newest scores only (issue 16, bounded work): the domain's side.

Such a group must never pass for one with every score: reading its scores as all of them raises, code that
knows about the window reads `held_scores()` and `scores_since`, and copies (the redacted copy for a member, a
pickle) keep the window.
"""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, date, datetime

import pytest

from fhir_mappings.codes import GoalTerm
from fhir_mappings.from_fhir import newest_of_oldest_first, oldest_of_newest_first, scores_on_the_day_of
from fhir_mappings.model import (
    CLINIC_ZONE,
    NewestScores,
    ProgressScore,
    ResourceGroup,
    ScoresNotLoaded,
    first_day_after,
)
from fhir_mappings.query import (
    GROUP_INCLUDES,
    SCORES_INCLUDE,
    day_scores_params,
    goal_scores_params,
    group_load_params,
    later_scores_params,
    newest_scores_params,
    older_scores_params,
)
from fhir_mappings.rights import Actor, Role, visible_to

TODAY = date(2026, 11, 2)


def group_with_scores() -> ResourceGroup:
    group = ResourceGroup.start_new(
        patient="Patient/p1",
        patient_display="Sanne",
        regieondersteuner="Practitioner/rgo",
        regieondersteuner_display="Anna",
        name="Team",
        today=TODAY,
    )
    goal = group.add_goal("Weer werken", GoalTerm.LANG, TODAY).uid
    meeting = group.plan_meeting(datetime(2026, 10, 1, 14, 0, tzinfo=UTC)).uid
    # 23:30 UTC on 14 October is 01:30 on 15 October in Amsterdam: the clinic's day counts.
    for when in (datetime(2026, 9, 1, 10, tzinfo=UTC), datetime(2026, 10, 14, 23, 30, tzinfo=UTC)):
        group.score_progress(goal, 5, when)
    group.score_progress(goal, 7, datetime(2026, 10, 1, 14, 30, tzinfo=UTC), meeting)
    return group


def test_a_window_keeps_the_scores_of_the_clinics_days_from_since_on() -> None:
    group = group_with_scores()
    every = group.held_scores()
    assert group.scores_since is None and group.held_scores() == list(group.progress)
    group.hold_scores_since(date(2026, 10, 15))
    assert group.scores_since == date(2026, 10, 15)
    assert group.held_scores() == [every[2]]  # the 23:30 UTC score is on the 15th in Amsterdam
    group = group_with_scores()
    group.hold_scores_since(date(2026, 10, 1))
    assert [p.score for p in group.held_scores()] == [7, 5]


@pytest.mark.parametrize(
    "read",
    [
        lambda s: list(s),
        lambda s: len(s),
        lambda s: s[0],
        lambda s: s[-1:],
        lambda s: object() in s,
        lambda s: list(reversed(s)),
        lambda s: bool(s),
        lambda s: sorted(s, key=lambda p: p.when),
        lambda s: max(s, key=lambda p: p.when),
    ],
    ids=["list", "len", "index", "slice", "in", "reversed", "bool", "sorted", "max"],
)
def test_reading_the_window_as_every_score_raises(read: object) -> None:
    group = group_with_scores()
    group.hold_scores_since(date(2026, 10, 1))
    with pytest.raises(ScoresNotLoaded, match="since 2026-10-01"):
        read(group.progress)  # type: ignore[operator]


def test_a_goals_whole_history_cannot_be_asked_of_a_window() -> None:
    group = group_with_scores()
    goal = group.goals[0].uid
    assert len(group.progress_for(goal)) == 3
    group.hold_scores_since(date(2026, 10, 1))
    with pytest.raises(ScoresNotLoaded):
        group.progress_for(goal)
    # A save's check whether a submission is in already looks at the scores held (see test_save_window.py).
    assert {p.uid for p in group.held_scores()} <= group.entity_uids()
    assert group.progress.held()[0].uid in group.entity_uids()


def test_a_goals_held_scores_are_its_whole_history_or_those_since_the_windows_first_day() -> None:
    group = group_with_scores()
    goal = group.goals[0].uid
    assert group.held_scores_for(goal) == group.progress_for(goal)  # a whole load: the same, oldest first
    group.hold_scores_since(date(2026, 10, 1))
    held = group.held_scores_for(goal)
    assert held and all(p.goal_uid == goal and p.when.date() >= date(2026, 10, 1) for p in held)
    assert held == sorted(held, key=lambda p: p.when) and len(held) < 3


def test_a_window_can_hold_one_goals_every_score_too() -> None:
    """A goal's page with all of its scores: the window, plus every score of that goal (older ones too)."""
    group = group_with_scores()
    other = group.add_goal("Vrienden zien", GoalTerm.KORT, TODAY).uid
    group.score_progress(other, 4, datetime(2026, 9, 2, 10, tzinfo=UTC))
    goal = group.goals[0].uid
    whole = group.progress_for(goal)
    assert group.holds_every_score_of(goal) and group.holds_every_score_of(other)  # a whole load
    group.hold_scores_since(date(2026, 10, 1), every_score_of=[goal])
    assert group.holds_every_score_of(goal) and not group.holds_every_score_of(other)
    assert group.held_scores_for(goal) == whole and len(whole) == 3  # the September score too
    assert group.held_scores_for(other) == []  # its only score is older than the window
    assert group.scores_since == date(2026, 10, 1)
    with pytest.raises(ScoresNotLoaded):
        group.progress_for(goal)  # still a window: the group's every score is not held
    pickled = pickle.loads(pickle.dumps(group))  # noqa: S301 - our own bytes
    for copied in (copy.deepcopy(group), copy.copy(group), pickled):
        assert copied.holds_every_score_of(goal) and not copied.holds_every_score_of(other)
    assert "complete=" in repr(group.progress)
    seen = visible_to(group, Actor("Patient/p1", Role.REGISSEUR))
    assert seen.holds_every_score_of(goal) and seen.held_scores_for(goal) == whole
    group.keep_scores(lambda p: p.meeting_uid is not None)  # a redacted copy (a member's) keeps what it holds
    assert group.holds_every_score_of(goal) and [p.score for p in group.held_scores()] == [7]


def test_a_meetings_print_shows_the_scores_before_it_never_later_ones() -> None:
    """The meeting of 1 October: its report's scores are those before it and the one given at it (7, half an hour
    in), its agenda's those before it; the 15 October score is in neither. A window from after its day holds none of
    them, unless the load read the meeting's day whole; then the report shows that day's."""
    group = group_with_scores()

    def shown(group: ResourceGroup, including: bool) -> tuple[date | None, list[int]]:
        goal = group.goals[0].uid
        held = group.scores_before(group.meetings[0].uid, including=including)
        assert set(held.by_goal) <= {goal}
        return held.since, [p.score for p in held.by_goal.get(goal, [])]

    assert shown(group, True) == (None, [5, 7]) and shown(group, False) == (None, [5])
    group.hold_scores_since(date(2026, 9, 1))  # a window from before the meeting's day: what it holds
    assert shown(group, True) == (date(2026, 9, 1), [5, 7]) and shown(group, False) == (date(2026, 9, 1), [5])
    group = group_with_scores()
    group.hold_scores_since(date(2026, 10, 15))
    assert shown(group, True) == (None, []) and shown(group, False) == (None, [])
    group = group_with_scores()
    group.hold_scores_since(date(2026, 10, 15), every_score_on=[date(2026, 10, 1)])
    assert shown(group, True) == (date(2026, 10, 1), [7]) and shown(group, False) == (date(2026, 10, 1), [])


def test_copies_keep_the_window_and_the_scores() -> None:
    group = group_with_scores()
    group.hold_scores_since(date(2026, 10, 1))
    pickled = pickle.loads(pickle.dumps(group))  # noqa: S301 - our own bytes
    for copied in (copy.deepcopy(group), copy.copy(group), pickled):
        assert isinstance(copied.progress, NewestScores)
        assert copied.scores_since == date(2026, 10, 1)
        assert copied.held_scores() == group.held_scores()
        assert copied == group
    assert "since=2026-10-01" in repr(group.progress)
    whole = group_with_scores()
    assert whole != group  # the same group holding every score is not equal to its window


def test_a_members_redacted_copy_keeps_the_window() -> None:
    group = group_with_scores()
    group.hold_scores_since(date(2026, 10, 1))
    member = Actor("RelatedPerson/x", Role.MEMBER)
    seen = visible_to(group, member)
    assert seen.scores_since == date(2026, 10, 1)
    assert seen.held_scores() == []  # a member sees meeting scores of goals a report names: none here
    group.keep_scores(lambda p: p.meeting_uid is not None)
    assert group.scores_since == date(2026, 10, 1) and [p.score for p in group.held_scores()] == [7]
    whole = group_with_scores()
    whole.keep_scores(lambda p: p.score == 5)
    assert whole.scores_since is None and type(whole.progress) is list and len(whole.progress) == 2


def test_the_first_whole_day_after_a_moment_is_the_clinics() -> None:
    assert first_day_after(datetime(2026, 10, 14, 21, 59, tzinfo=UTC)) == date(2026, 10, 15)  # 23:59 Amsterdam
    assert first_day_after(datetime(2026, 10, 14, 22, 0, tzinfo=UTC)) == date(2026, 10, 16)  # 00:00 on the 15th
    assert first_day_after(datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == date(2026, 3, 30)  # the spring change
    assert first_day_after(datetime(2026, 1, 5, 12, tzinfo=CLINIC_ZONE)) == date(2026, 1, 6)


def score(when: str | None, rtype: str = "Observation") -> dict[str, object]:
    return {"resourceType": rtype, "effectiveDateTime": when} if when is not None else {"resourceType": rtype}


def test_the_oldest_of_a_newest_first_page() -> None:
    page = [score("2026-10-14T10:00:00Z"), score("2026-10-14T10:00:00Z"), score("2026-10-01T12:00:00+02:00")]
    assert oldest_of_newest_first(page) == datetime(2026, 10, 1, 10, tzinfo=UTC)
    # Unreadable times and other resources do not count; the order is checked among the readable ones.
    mixed = [score("2026-10-14T10:00:00Z"), score("morgen"), score("2026-10-13T10:00:00"), score(None)]
    assert oldest_of_newest_first([*mixed, score("2026-01-01", "Patient")]) == datetime(2026, 10, 14, 10, tzinfo=UTC)
    # A date without a time counts as the reader reads it: midnight UTC.
    assert oldest_of_newest_first([score("2026-10-14T10:00:00Z"), score("2026-10-01")]) == datetime(
        2026, 10, 1, tzinfo=UTC
    )
    assert oldest_of_newest_first([]) is None
    assert oldest_of_newest_first([score("morgen")]) is None


def test_the_scores_on_the_clinic_day_of_a_moment() -> None:
    late = datetime(2026, 10, 13, 22, 30, tzinfo=UTC)  # 00:30 on 14 October in Amsterdam
    page = [
        score("2026-10-14T10:00:00Z"),
        score("2026-10-13T22:45:00Z"),  # the 14th in the clinic
        score("2026-10-13T21:00:00Z"),  # still the 13th there
        score("morgen"),
        score(None),
        score("2026-10-14T09:00:00Z", "Patient"),
    ]
    assert scores_on_the_day_of(page, late) == 2
    assert scores_on_the_day_of(page, datetime(2026, 10, 13, 12, tzinfo=UTC)) == 1
    assert scores_on_the_day_of([], late) == 0


def test_a_page_out_of_order_says_nothing() -> None:
    page = [score("2026-10-01T10:00:00Z"), score("2026-10-14T10:00:00Z")]
    assert oldest_of_newest_first(page) is None
    assert newest_of_oldest_first(page[::-1]) is None


def test_the_newest_of_an_oldest_first_page() -> None:
    page = [score("2026-10-01T12:00:00+02:00"), score("morgen"), score("2026-10-14T10:00:00Z"), score(None)]
    assert newest_of_oldest_first([*page, score("2026-01-01", "Patient")]) == datetime(2026, 10, 14, 10, tzinfo=UTC)
    assert newest_of_oldest_first([score("2026-10-14T10:00:00Z")] * 2) == datetime(2026, 10, 14, 10, tzinfo=UTC)
    assert newest_of_oldest_first([]) is None and newest_of_oldest_first([score("morgen")]) is None


def test_the_searches_of_a_load_of_the_newest_scores() -> None:
    whole = group_load_params("p1", 1000)
    lean = group_load_params("p1", 1000, scores=False)
    assert SCORES_INCLUDE in whole and SCORES_INCLUDE in GROUP_INCLUDES
    assert [p for p in whole if p != SCORES_INCLUDE] == lean
    assert newest_scores_params("p1", 250) == [
        ("subject", "Patient/p1"),
        ("code", "https://resourcegroep.nl/fhir/CodeSystem/artifact|doelvoortgang"),
        ("_sort", "-date"),
        ("_count", "250"),
    ]
    assert goal_scores_params("p1", "g7", 1000) == [
        ("subject", "Patient/p1"),
        ("focus", "Goal/g7"),
        ("code", "https://resourcegroep.nl/fhir/CodeSystem/artifact|doelvoortgang"),
        ("_count", "1000"),
    ]
    # One clinic day, from its first moment to the next day's (the day the clocks go forward: 23 hours).
    assert day_scores_params("p1", date(2026, 3, 29), 1000) == [
        ("subject", "Patient/p1"),
        ("code", "https://resourcegroep.nl/fhir/CodeSystem/artifact|doelvoortgang"),
        ("date", "ge2026-03-29T00:00:00+01:00"),
        ("date", "lt2026-03-30T00:00:00+02:00"),
        ("_count", "1000"),
    ]
    # A page of scores beside a moment: newest first before it, oldest first from it on.
    moment = datetime(2026, 3, 29, tzinfo=CLINIC_ZONE)
    code = ("code", "https://resourcegroep.nl/fhir/CodeSystem/artifact|doelvoortgang")
    assert older_scores_params("p1", moment, 5) == [
        ("subject", "Patient/p1"),
        code,
        ("date", "lt2026-03-29T00:00:00+01:00"),
        ("_sort", "-date"),
        ("_count", "5"),
    ]
    assert later_scores_params("p1", moment, 5) == [
        ("subject", "Patient/p1"),
        code,
        ("date", "ge2026-03-29T00:00:00+01:00"),
        ("_sort", "date"),
        ("_count", "5"),
    ]
    for params in (older_scores_params, later_scores_params):
        with pytest.raises(ValueError, match="time zone"):
            params("p1", datetime(2026, 3, 29), 5)  # a moment without a zone: refused


def test_a_window_of_no_scores_is_still_a_window() -> None:
    scores = NewestScores([], date(2026, 1, 1))
    with pytest.raises(ScoresNotLoaded):
        bool(scores)
    assert scores.held() == [] and scores.since == date(2026, 1, 1)
    one = ProgressScore("u", "g", datetime(2026, 1, 2, tzinfo=UTC), 4)
    assert NewestScores([one], date(2026, 1, 1)).held() == [one]
