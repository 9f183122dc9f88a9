"""A load of the newest scores only (issue 16, bounded work), on both servers through the counting proxy.

The overview asks, in its one batch, for the patient's newest N progress scores (`_sort=-date`) instead of
every score. What it then holds must be exactly the whole load's scores from the first whole day the page covers,
the rest of the group must be the same, and it must stay one request. A server that does not sort is noticed
and the whole group is read instead.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from fhir_mappings.codes import GoalTerm, MeetingStatus
from fhir_mappings.model import CLINIC_ZONE, ResourceGroup, ScoresNotLoaded, first_day_after
from fhir_mappings.query import (
    day_scores_params,
    goal_scores_params,
    later_scores_params,
    newest_scores_params,
    older_scores_params,
)
from plugin.services.fhir_uow import FhirUnitOfWork
from plugin.services.submissions import MemorySubmissionLog
from plugin.sync.capabilities import CapabilityCache
from plugin.sync.readcache import ReadCache
from plugin.sync.repository import (
    Activity,
    GroupRepository,
    LoadedGroup,
    ScoresCounted,
    ScoresPage,
    _more_than_page,
)
from tests.contract.conftest import Fhir
from tests.contract.test_contract_repository import new_patient, repo_for, started
from tests.support.proxy import FaultProxy

FIRST = datetime(2026, 3, 2, 22, 30, tzinfo=CLINIC_ZONE)  # late evening: the UTC date is another day


@pytest.fixture
def counted(fhir: Fhir, tmp_path: Path) -> Iterator[tuple[GroupRepository, FaultProxy]]:
    """A repository for a new patient, through a proxy that counts the requests."""
    parts = urlsplit(fhir.base)
    with FaultProxy(f"{parts.scheme}://{parts.netloc}") as proxy:
        yield repo_for(fhir, proxy, CapabilityCache(), new_patient(fhir), tmp_path), proxy


def scored(repo: GroupRepository) -> LoadedGroup:
    """A group with two goals, each scored on 6 days (12 scores; two at the same moment on each day)."""
    loaded = started(repo)

    def story(group: ResourceGroup) -> None:
        goals = [group.add_goal(f"Doel {i}", GoalTerm.LANG, FIRST.date()).uid for i in range(2)]
        for day in range(6):
            for goal_uid in goals:
                group.score_progress(goal_uid, day + 2, FIRST + timedelta(days=7 * day))

    saved = repo.save(loaded, story, "Cijfers")
    assert saved.saved
    return repo.load()


def without_scores(group: ResourceGroup) -> ResourceGroup:
    out = copy.deepcopy(group)
    out.progress = []
    return out


def test_the_newest_scores_are_one_request_and_exactly_the_whole_loads_scores_from_a_day_on(
    counted: tuple[GroupRepository, FaultProxy],
) -> None:
    repo, proxy = counted
    whole = scored(repo)
    assert whole.group is not None and len(whole.group.progress) == 12

    proxy.reset()
    newest = repo.load(newest_scores=5)
    assert proxy.count == 1 and newest.round_trips == 1
    assert newest.group is not None and newest.newest_scores == 5
    # The 5 newest: both of the last two days and one of the third-last; that day is not held whole, so the
    # window starts the day after it.
    third_last = FIRST + timedelta(days=7 * 3)
    since = first_day_after(third_last)
    assert newest.group.scores_since == since == (third_last + timedelta(days=1)).date()
    expected = [p for p in whole.group.progress if p.when.astimezone(CLINIC_ZONE).date() >= since]
    assert newest.group.held_scores() == expected and len(expected) == 4
    assert without_scores(newest.group) == without_scores(whole.group)
    with pytest.raises(ScoresNotLoaded):
        newest.group.progress_for(whole.group.goals[0].uid)
    proxy.reset()
    nothing = repo.save(newest, lambda g: None, "niets")
    assert not nothing.changed and proxy.count == 0

    # Enough for every score: the group holds them all and says so.
    complete = repo.load(newest_scores=50)
    assert complete.group is not None and complete.group.scores_since is None
    assert complete.group == whole.group


def test_a_window_deeper_than_a_page_reads_older_stretches_and_holds_whole_days(
    counted: tuple[GroupRepository, FaultProxy],
) -> None:
    """Pages of 3 scores (the repository's page size; 1,000 in the app) and a window of 7: the batch reads the
    newest 3, then stretches of scores from before the first day held whole (that day again, each score kept
    once) until 7 are held: exactly the whole load's scores from a day on. A window past the oldest score holds
    every score, read stretch by stretch."""
    repo, proxy = counted
    whole = scored(repo)
    assert whole.group is not None
    deep = dataclasses.replace(repo, page_size=3)

    proxy.reset()
    seven = deep.load(newest_scores=7)
    assert seven.group is not None and seven.newest_scores == 7
    # Newest 3: the last day's two and one of the day before. Stretch 1 (before that day): its two again and
    # one more day's first; stretch 2 (before that one): its two and one of the day before: 8 held, 7 whole-day.
    assert proxy.count == 3 and seven.round_trips == 3
    since = seven.group.scores_since
    assert since == first_day_after(FIRST + timedelta(days=7 * 2))
    expected = [p for p in whole.group.progress if p.when.astimezone(CLINIC_ZONE).date() >= since]
    assert seven.group.held_scores() == expected and len(expected) == 6
    assert without_scores(seven.group) == without_scores(whole.group)

    proxy.reset()
    every = deep.load(newest_scores=100)
    assert every.group is not None and every.group.scores_since is None and every.group == whole.group
    assert proxy.count == 1 + 5  # the batch, then five stretches, each one day further back (the last one short)

    # A stretch asks only for what the window lacks, plus the held scores of the day it starts again at.
    asked: list[str] = []
    search = repo.client.search

    def counting(rtype: str, params: list[tuple[str, str]], **kw: object) -> object:
        asked.extend(v for k, v in params if k == "_count")
        return search(rtype, params, **kw)  # type: ignore[arg-type]

    deeper = dataclasses.replace(repo, page_size=4)
    object.__setattr__(deeper.client, "search", counting)
    try:
        seven = deeper.load(newest_scores=7)
    finally:
        del deeper.client.search
    # Newest 4: the last two days. Then 7 - 4 + 2 (the older of them again) = 5, at most 4: two more days' (6
    # held); then 7 - 6 + 2 = 3: the older of those again and one of the day before (7 held). Whole from the day
    # after that one.
    assert asked == ["4", "3"] and seven.group is not None
    since = first_day_after(FIRST + timedelta(days=7 * 2))
    assert seven.group.scores_since == since
    assert seven.group.held_scores() == [
        p for p in whole.group.progress if p.when.astimezone(CLINIC_ZONE).date() >= since
    ]


def test_every_score_is_read_page_by_page_and_equals_the_read_at_once(
    counted: tuple[GroupRepository, FaultProxy],
) -> None:
    """Configured to (`every_score_in_pages`), a load of every score reads them as the newest page in the batch,
    then stretch by stretch of older ones, so no answer holds more than a page of them (a huge group's peak memory):
    the same group as the include search with every score at once (the default). A group with no more scores than a
    page takes the batch alone."""
    plain, proxy = counted
    scored(plain)
    repo = dataclasses.replace(plain, every_score_in_pages=True)
    proxy.reset()
    at_once = repo.load(at_once=True)
    assert proxy.count == 1 and at_once.group is not None and len(at_once.group.progress) == 12

    proxy.reset()
    small = repo.load()  # 12 scores, pages of 1,000: the batch holds them all
    assert proxy.count == 1 and small.round_trips == 1
    assert small.newest_scores is None and small.group == at_once.group
    assert small.group is not None and small.group.scores_since is None

    deep = dataclasses.replace(repo, page_size=3)
    proxy.reset()
    paged = deep.load()
    # The batch's newest 3, then stretches of at most 3, each from the first day held whole (that day again).
    assert proxy.count == 1 + 5 and paged.round_trips == 1 + 5
    assert paged.newest_scores is None and paged.group is not None and paged.group.scores_since is None
    assert paged.group == at_once.group
    assert set(paged.resources) == set(at_once.resources)
    # Equal parts of the scores are one object: the code of every score, the goal of each goal's scores.
    scores = [r for r in paged.resources.values() if r["resourceType"] == "Observation"]
    assert len({id(r["code"]) for r in scores}) == 1
    assert len({id(r["focus"]) for r in scores}) == 2 and len({id(r["meta"]) for r in scores}) == 12


def test_every_score_is_read_at_once_where_one_day_has_more_than_a_page(
    counted: tuple[GroupRepository, FaultProxy],
) -> None:
    """Two scores at the same moment on each day and pages of 1: the stretches cannot get past a day, so the load
    reads every score in the include search instead (logged), and still holds every score."""
    plain, proxy = counted
    scored(plain)
    repo = dataclasses.replace(plain, every_score_in_pages=True)
    at_once = repo.load(at_once=True)
    one = dataclasses.replace(repo, page_size=1)
    proxy.reset()
    loaded = one.load()
    assert loaded.group is not None and loaded.group.scores_since is None and loaded.group == at_once.group
    # The batch, one or two stretches (the day's other score first, if the server breaks the tie that way; then
    # one it holds already: no further), then every score at once.
    assert proxy.count in (1 + 1 + 1, 1 + 2 + 1)


def test_one_goals_every_score_comes_in_the_same_request_beside_the_newest(
    counted: tuple[GroupRepository, FaultProxy],
) -> None:
    """A goal's page with all of its scores: the batch also searches that goal's scores (`focus`), so the group
    holds the newest scores and every score of that one goal, not every score of the group."""
    repo, proxy = counted
    whole = scored(repo)
    assert whole.group is not None
    first, second = whole.group.goals
    goal_id = whole.index.ref(first.uid).split("/", 1)[1]
    proxy.reset()
    loaded = repo.load(newest_scores=5, every_score_of=goal_id)
    assert proxy.count == 1 and loaded.every_score_of == goal_id and loaded.group is not None
    group = loaded.group
    since = group.scores_since
    assert since is not None and group.holds_every_score_of(first.uid) and not group.holds_every_score_of(second.uid)
    assert group.held_scores_for(first.uid) == whole.group.progress_for(first.uid)  # all 6, oldest first
    expected = [p for p in whole.group.progress_for(second.uid) if p.when.astimezone(CLINIC_ZONE).date() >= since]
    assert group.held_scores_for(second.uid) == expected and len(expected) == 2
    assert without_scores(group) == without_scores(whole.group)
    with pytest.raises(ScoresNotLoaded):
        len(group.progress)
    # An id that is no goal of the patient finds nothing more: the newest scores alone.
    other = repo.load(newest_scores=5, every_score_of="no-such-goal")
    assert other.group is not None and other.group.held_scores() == repo.load(newest_scores=5).group.held_scores()  # type: ignore[union-attr]
    assert not any(other.group.holds_every_score_of(g.uid) for g in other.group.goals)


def with_an_old_meeting(repo: GroupRepository, whole: LoadedGroup, *, held: bool = True) -> LoadedGroup:
    """`whole` with a meeting an hour before the first day's scores, held then (or still booked), and a score given
    at it (a score at a meeting counts at its start): the oldest score."""
    assert whole.group is not None
    goal = whole.group.goals[0].uid

    def old_meeting_score(group: ResourceGroup) -> None:
        meeting = group.plan_meeting(FIRST - timedelta(hours=1))
        if held:
            meeting.status = MeetingStatus.FULFILLED
        group.score_progress(goal, 3, meeting.start, meeting.uid, "eerste keer")

    assert repo.save(whole, old_meeting_score, "Bijeenkomst").saved
    return repo.load()


def test_an_older_days_every_score_comes_in_the_same_request_beside_the_newest(
    counted: tuple[GroupRepository, FaultProxy],
) -> None:
    """An older meeting's report: the batch also searches every score of the meeting's day (`date`, the clinic's
    day), so the group holds the newest scores and the meeting's scores, not every score of the group; the page's
    newest scores stay what they are without the day."""
    repo, proxy = counted
    whole = with_an_old_meeting(repo, scored(repo))
    assert whole.group is not None
    [meeting] = whole.group.meetings
    day = meeting.start.astimezone(CLINIC_ZONE).date()
    newest = repo.load(newest_scores=5)
    assert newest.group is not None and not newest.group.holds_scores_at(meeting.uid)
    proxy.reset()
    loaded = repo.load(newest_scores=5, every_score_on=day)
    assert proxy.count == 1 and loaded.every_score_on == day and loaded.group is not None
    group = loaded.group
    assert group.scores_since == newest.group.scores_since and group.holds_scores_at(meeting.uid)
    assert group.scores_at(meeting.uid) == whole.group.scores_at(meeting.uid) and len(group.scores_at(meeting.uid)) == 1
    assert group.held_scores() == newest.group.held_scores()  # what a page shows as the newest: the same
    # Every score of that day (the meeting's and the first day's two, late that evening), and no other older one.
    on_day = [p for p in whole.group.progress if p.when.astimezone(CLINIC_ZONE).date() == day]
    assert len(on_day) == 3
    assert sorted(p.uid for p in group.scores_read()) == sorted(p.uid for p in on_day + newest.group.held_scores())
    assert without_scores(group) == without_scores(whole.group)
    # A day without scores finds nothing more.
    empty = repo.load(newest_scores=5, every_score_on=day - timedelta(days=1))
    assert empty.group is not None and empty.group.scores_read() == newest.group.held_scores()


def test_a_page_of_the_scores_up_to_an_older_day_comes_in_the_same_request_and_holds_its_whole_days(
    counted: tuple[GroupRepository, FaultProxy],
) -> None:
    """A page of the timeline far back: the batch also reads a page of the newest scores up to and including a day
    (`ScoresPage`), never its further pages, so the group holds every score of the whole days that page covers (not
    the oldest of them: it may go on), and of every day before when the page holds the oldest score."""
    repo, proxy = counted
    whole = scored(repo)
    assert whole.group is not None
    days = sorted({p.when.astimezone(CLINIC_ZONE).date() for p in whole.group.progress})  # 6 days, 2 scores each
    small = dataclasses.replace(repo, page_size=3)
    newest = small.load(newest_scores=3)  # the newest day's two and one of the day before: from the day after it
    assert newest.group is not None and newest.group.scores_since == days[4] + timedelta(days=1)
    proxy.reset()
    loaded = small.load(newest_scores=3, scores_page=ScoresPage(days[3]))
    assert proxy.count == 1 and loaded.scores_page == ScoresPage(days[3]) and loaded.group is not None
    group = loaded.group
    # The page of 3 up to days[3]: its two and one of days[2]'s, which may have more: days[3] is held whole.
    assert group.holds_every_score_from(days[3], days[3]) and not group.holds_every_score_from(days[2], days[3])
    assert not group.holds_every_score_from(days[3], days[5])  # days[4] was not read
    expected = [p for p in whole.group.progress if p.when.astimezone(CLINIC_ZONE).date() in (days[3], days[5])]
    assert sorted(p.uid for p in group.scores_read()) == sorted(p.uid for p in expected)
    assert group.held_scores() == newest.group.held_scores()  # what a page shows as the newest: the same
    assert without_scores(group) == without_scores(whole.group)
    # A page that holds the oldest score: every day up to that day is held.
    proxy.reset()
    everything = repo.load(newest_scores=3, scores_page=ScoresPage(days[3]))
    assert proxy.count == 1 and everything.group is not None
    assert everything.group.holds_every_score_from(date.min, days[3])
    older = [p for p in whole.group.progress if p.when.astimezone(CLINIC_ZONE).date() <= days[3]]
    assert {p.uid for p in older} <= {p.uid for p in everything.group.scores_read()} and len(older) == 8


@pytest.mark.parametrize("later", [False, True], ids=["up to a day", "from a day on"])
def test_a_server_that_pages_the_scores_beside_a_day_in_fewer_than_asked_is_not_taken_for_all_of_them(
    counted: tuple[GroupRepository, FaultProxy], monkeypatch: pytest.MonkeyPatch, later: bool
) -> None:
    """A server that answers the page beside a day with fewer scores than asked but says there are more (a next
    link, a total, a page as full as it gives): only the whole days of what came are held, not every older (or
    later) day."""
    repo, proxy = counted
    whole = scored(repo)
    assert whole.group is not None
    days = sorted({p.when.astimezone(CLINIC_ZONE).date() for p in whole.group.progress})
    name = "later_scores_params" if later else "older_scores_params"
    asked = {"later_scores_params": later_scores_params, "older_scores_params": older_scores_params}[name]

    def capped(patient_id: str, moment: Any, count: int) -> list[tuple[str, str]]:
        return [(k, "3" if k == "_count" else v) for k, v in asked(patient_id, moment, count)]

    monkeypatch.setattr(f"plugin.sync.repository.{name}", capped)
    proxy.reset()
    loaded = repo.load(newest_scores=3, scores_page=ScoresPage(days[1] if later else days[3], later=later))
    assert proxy.count == 1 and loaded.group is not None
    group = loaded.group
    if later:  # days[1]'s two and one of days[2]'s: days[1] only
        assert group.holds_every_score_from(days[1], days[1]) and not group.holds_every_score_from(days[1], days[2])
    else:  # days[3]'s two and one of days[2]'s: days[3] only
        assert group.holds_every_score_from(days[3], days[3]) and not group.holds_every_score_from(date.min, days[3])


def test_a_page_of_the_scores_from_an_older_day_on_comes_in_the_same_request_and_holds_its_whole_days(
    counted: tuple[GroupRepository, FaultProxy],
) -> None:
    """A page of the timeline far back that its newer link led to: the batch also reads a page of the oldest scores
    from a day on (`ScoresPage(..., later=True)`, `_sort=date`), never its further pages, so the group holds every
    score from that day up to the last whole day the page covers, and of every later day when it holds the newest
    score."""
    repo, proxy = counted
    whole = scored(repo)
    assert whole.group is not None
    days = sorted({p.when.astimezone(CLINIC_ZONE).date() for p in whole.group.progress})
    small = dataclasses.replace(repo, page_size=3)
    proxy.reset()
    loaded = small.load(newest_scores=3, scores_page=ScoresPage(days[1], later=True))
    assert proxy.count == 1 and loaded.scores_page == ScoresPage(days[1], later=True) and loaded.group is not None
    group = loaded.group
    # The page of 3 from days[1]: its two and one of days[2]'s, which may have more: days[1] is held whole.
    assert group.holds_every_score_from(days[1], days[1]) and not group.holds_every_score_from(days[1], days[2])
    assert not group.holds_every_score_from(days[0], days[1])
    expected = [p for p in whole.group.progress if p.when.astimezone(CLINIC_ZONE).date() in (days[1], days[5])]
    assert sorted(p.uid for p in group.scores_read()) == sorted(p.uid for p in expected)
    assert without_scores(group) == without_scores(whole.group)
    # A page that holds the newest score: every day from that day on is held.
    proxy.reset()
    on = repo.load(newest_scores=3, scores_page=ScoresPage(days[2], later=True))
    assert proxy.count == 1 and on.group is not None
    assert on.group.holds_every_score_from(days[2], date.max) and not on.group.holds_every_score_from(days[1], days[2])
    later = [p for p in whole.group.progress if p.when.astimezone(CLINIC_ZONE).date() >= days[2]]
    assert sorted(p.uid for p in on.group.scores_read()) == sorted(p.uid for p in later)


@pytest.mark.parametrize("which", ["goal", "day", "until", "from"])
def test_a_refused_search_for_a_goals_or_a_days_every_score_leaves_the_newest_scores(
    counted: tuple[GroupRepository, FaultProxy], monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    repo, proxy = counted
    whole = with_an_old_meeting(repo, scored(repo))
    assert whole.group is not None
    first = whole.group.goals[0]
    [meeting] = whole.group.meetings
    goal_id = whole.index.ref(first.uid).split("/", 1)[1]
    day = meeting.start.astimezone(CLINIC_ZONE).date()
    params = {
        "goal": goal_scores_params,
        "day": day_scores_params,
        "until": older_scores_params,
        "from": later_scores_params,
    }[which]

    def refused(patient_id: str, what: Any, count: int) -> list[tuple[str, str]]:
        return [*params(patient_id, what, count), ("no-such-parameter", "x")]

    name = {"until": "older", "from": "later"}.get(which, which)
    monkeypatch.setattr(f"plugin.sync.repository.{name}_scores_params", refused)
    proxy.reset()
    asked = {
        "goal": {"every_score_of": goal_id},
        "day": {"every_score_on": day},
        "until": {"scores_page": ScoresPage(day)},
        "from": {"scores_page": ScoresPage(day, later=True)},
    }
    loaded = repo.load(newest_scores=5, **asked[which])  # type: ignore[arg-type]
    assert proxy.count == 1 and loaded.group is not None
    assert loaded.every_score_of is None and loaded.every_score_on is None and loaded.scores_page is None
    assert not loaded.group.holds_every_score_of(first.uid) and not loaded.group.holds_scores_at(meeting.uid)
    assert not loaded.group.holds_every_score_from(day, day)
    assert loaded.group.scores_read() == repo.load(newest_scores=5).group.held_scores()  # type: ignore[union-attr]


@pytest.mark.parametrize("order", ["date", "-no-such-parameter"], ids=["oldest first", "refused"])
def test_a_server_that_does_not_sort_the_scores_gets_the_whole_group_read(
    counted: tuple[GroupRepository, FaultProxy], monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    repo, proxy = counted
    whole = scored(repo)

    def other_order(patient_id: str, count: int) -> list[tuple[str, str]]:
        return [(k, order if k == "_sort" else v) for k, v in newest_scores_params(patient_id, count)]

    monkeypatch.setattr("plugin.sync.repository.newest_scores_params", other_order)
    proxy.reset()
    loaded = repo.load(newest_scores=5)
    assert proxy.count == 2  # the page told nothing about which scores were left out: everything, once more
    assert loaded.newest_scores is None and loaded.group is not None
    assert loaded.group.scores_since is None and loaded.group == whole.group
    assert dataclasses.replace(loaded, round_trips=whole.round_trips).resources == whole.resources
    # A load of every score, page by page, from such a server: its first page (of 5) says nothing either.
    proxy.reset()
    paged = dataclasses.replace(repo, page_size=5, every_score_in_pages=True).load()
    assert proxy.count == 2 and paged.group == whole.group and paged.resources == whole.resources


def test_the_read_cache_keeps_a_load_of_the_newest_scores_apart_from_the_whole_one(
    counted: tuple[GroupRepository, FaultProxy],
) -> None:
    repo, proxy = counted
    scored(repo)
    repo.read_cache = ReadCache()
    newest = repo.load(newest_scores=5)
    whole = repo.load()
    assert newest.group is not None and whole.group is not None
    assert newest.group.scores_since is not None and whole.group.scores_since is None
    assert len(whole.group.progress) == 12 and repo.read_cache.hits == 0  # two reads, neither the other's
    proxy.reset()
    again = repo.load(newest_scores=5)
    assert proxy.count == 1 and repo.read_cache.hits >= 1
    assert again.group is newest.group and again.newest_scores == 5


@pytest.mark.parametrize(
    ("page", "more"),
    [
        ({"link": [{"relation": "next", "url": "x"}], "entry": [{}] * 5}, True),  # only a next link is checked there
        ({"total": 12, "entry": [{"search": {"mode": "match"}}] * 5}, True),
        ({"total": 5, "entry": [{"search": {"mode": "match"}}] * 5}, False),
        ({"total": 5, "entry": [{"search": {"mode": "match"}}] * 5 + [{"search": {"mode": "include"}}]}, False),
        ({"entry": [{}] * 4}, False),  # neither link nor total: a page short of what was asked holds them all
        ({"entry": [{}] * 5}, True),  # ... a full page may not
        ({"total": True, "entry": [{}] * 5}, True),  # not a number: as if there were none
    ],
)
def test_whether_a_first_page_of_5_scores_left_older_ones_out(page: dict[str, object], more: bool) -> None:
    assert (bool(page.get("link")) or _more_than_page(page, 5)) is more


@pytest.mark.parametrize("held", [True, False], ids=["held meeting", "planned meeting"])
def test_a_save_from_a_pages_load_of_the_newest_scores_reads_the_meetings_day_first(
    counted: tuple[GroupRepository, FaultProxy], monkeypatch: pytest.MonkeyPatch, held: bool
) -> None:
    """Correcting the score given at an older meeting: the action looks for it among the scores of the meeting,
    which the newest scores do not hold. The save reads the newest scores and every score of its day (a score at a
    meeting counts at its start), for a meeting held or still planned (another system's score at it), not every
    score."""
    repo, proxy = counted
    whole = with_an_old_meeting(repo, scored(repo), held=held)
    assert whole.group is not None
    goal = whole.group.goals[0].uid
    [meeting] = whole.group.meetings
    assert meeting.is_planned is not held
    newest = repo.load(newest_scores=5)
    assert newest.group is not None and newest.group.scores_since is not None
    uow = FhirUnitOfWork(repo, MemorySubmissionLog(), loaded=newest)
    loads: list[dict[str, object]] = []
    load = repo.load

    def spied(*args: object, **kwargs: object) -> LoadedGroup:
        loads.append(kwargs)
        return load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(repo, "load", spied)
    proxy.reset()
    done = uow.commit(
        lambda g: g.score_progress(goal, 9, meeting.start, meeting.uid, "verbeterd"),
        Activity("Cijfer verbeterd"),
        "uow-1",
    )
    day = meeting.start.astimezone(CLINIC_ZONE).date()
    assert done.saved and proxy.count == 2  # one read, then the transaction
    assert [(k.get("newest_scores"), k.get("every_score_on")) for k in loads] == [(5, day)]
    after = load()
    assert after.group is not None and len(after.group.progress) == 13  # replaced in place: nothing lost or doubled
    at_meeting = [p for p in after.group.progress if p.meeting_uid == meeting.uid]
    assert [(p.score, p.note) for p in at_meeting] == [(9, "verbeterd")]


def test_saves_that_do_not_need_every_score_start_from_the_newest_and_write_no_other_score(
    counted: tuple[GroupRepository, FaultProxy],
) -> None:
    repo, proxy = counted
    whole = scored(repo)
    assert whole.group is not None
    goal = whole.group.goals[0].uid
    actions: list[tuple[str, Callable[[ResourceGroup], object]]] = [
        ("Notitie", lambda g: g.add_goal_note(goal, "Gaat goed", FIRST + timedelta(days=60))),
        ("Nieuw cijfer", lambda g: g.score_progress(goal, 8, FIRST + timedelta(days=61))),
        ("Naam", lambda g: g.rename("Team Zon")),  # a change that maps the whole group
    ]
    for activity, action in actions:
        newest = repo.load(newest_scores=5)
        assert newest.group is not None and newest.group.scores_since is not None
        proxy.reset()
        saved = repo.save(newest, action, activity)
        assert saved.saved and proxy.count == 1, activity  # the transaction only: no whole read
        assert not [w for w in saved.written if w.startswith("Observation/")], activity  # no score rewritten
    after = repo.load()
    assert after.group is not None and after.group.name == "Team Zon"
    assert len(after.group.progress) == 13 and [n.text for n in after.group.goals[0].notes] == ["Gaat goed"]
    assert [(p.uid, p.score) for p in after.group.progress if p.when < FIRST + timedelta(days=60)] == [
        (p.uid, p.score) for p in whole.group.progress
    ]


def test_the_scores_of_a_stretch_of_days_are_counted_without_reading_one(
    counted: tuple[GroupRepository, FaultProxy],
) -> None:
    """A timeline page far back by its number counts the group's scores before a day (and learns the oldest one's
    time), then how many fall from a day on: the counts are the whole load's, one request each, on both servers."""
    repo, proxy = counted
    whole = scored(repo)
    assert whole.group is not None
    plan = whole.index.ref(whole.group.plan_uid).split("/", 1)[1]
    moments = sorted(p.when for p in whole.group.progress)

    def start(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), tzinfo=CLINIC_ZONE)

    for before in (FIRST.date(), FIRST.date() + timedelta(days=8), FIRST.date() + timedelta(days=60)):
        proxy.reset()
        found = repo.count_scores(plan, start(before), oldest=True)
        expected = [m for m in moments if m < start(before)]
        assert found is not None and proxy.count == 1
        assert found.total == len(expected), before
        assert found.oldest == (expected[0] if expected else None), before
        for since in (FIRST.date() - timedelta(days=1), FIRST.date() + timedelta(days=1), before):
            proxy.reset()
            between = repo.count_scores(plan, start(before), start(since))
            assert between is not None and proxy.count == 1
            assert between.total == sum(1 for m in expected if m >= start(since)), (before, since)
    assert repo.count_scores("no-such-plan", start(FIRST.date() + timedelta(days=60))) == ScoresCounted(0)
