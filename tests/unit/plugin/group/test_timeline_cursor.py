"""The timeline's older link names where the next page starts (`TimelineCursor`, `?vanaf=`), so that a page far
back reads a page of the scores up to its first day beside the newest, not every score
(`timeline_cursor_page`). Walking the older links gives the same pages as counting them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from fhir_mappings.model import CLINIC_ZONE
from plugin.group.overview import (
    Event,
    TimelineCursor,
    TimelinePage,
    timeline_counted_place,
    timeline_cursor_page,
    timeline_newer_page,
    timeline_page,
    timeline_window_page,
)


def story(days: int = 15) -> list[Event]:
    """Events newest first over `days` days: some days quiet, some with several events, some at one moment."""
    events: list[Event] = []
    start = datetime(2025, 10, 1, 9, tzinfo=CLINIC_ZONE)
    for day in range(days):
        for n in range(day % 5):  # 0 to 4 events a day
            when = start + timedelta(days=day, hours=min(n, 2))  # the third and fourth of a day at one moment
            events.append(Event(when, f"d{day}e{n}", "goals", all_day=False))
    return sorted(events, key=lambda e: e.when, reverse=True)


def always(first: date, last: date) -> bool:
    return True


def walk(events: list[Event], size: int) -> list[list[str]]:
    """Every page from the first by its older link: the cursor each page names."""
    page = timeline_page(events, None, size)
    pages = [[e.text for e in page.events]]
    while page.after is not None:
        asked = str(page.number + 1)
        found = timeline_cursor_page(events, page.after, asked, always, size)
        assert found is not None and found.number == page.number + 1
        page = found
        pages.append([e.text for e in page.events])
    assert page.pages == page.number  # the last page says so (no older link)
    return pages


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 100])
def test_walking_the_older_links_gives_the_pages_by_number(size: int) -> None:
    events = story()
    by_number = timeline_page(events, None, size)
    expected = [[e.text for e in timeline_page(events, str(n), size).events] for n in range(1, by_number.pages + 1)]
    assert walk(events, size) == expected


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7])
def test_walking_the_newer_links_from_the_last_page_gives_the_pages_by_number(size: int) -> None:
    """Back from the last page by each page's newer link (`before`): the pages by number, but the newest, which a
    newer link leaves to its number (it lies within the newest scores)."""
    events = story()
    last = timeline_page(events, "9999", size)
    expected = [[e.text for e in timeline_page(events, str(n), size).events] for n in range(1, last.pages + 1)]
    page = last
    walked = [[e.text for e in page.events]]
    while page.before is not None:
        found = timeline_newer_page(events, page.before, str(page.number - 1), always, size)
        if found is None:
            assert page.number == 2  # the newest page: by its number
            break
        assert found.number == page.number - 1 and found.after == page.before
        page = found
        walked.append([e.text for e in page.events])
    assert walked[::-1] == expected[1:]


def test_a_newer_page_whose_days_are_not_held_whole_is_not_given() -> None:
    events = story()
    page = timeline_page(events, "6", 3)
    assert page.before is not None
    day = page.before.day
    held_to = day + timedelta(days=10)
    found = timeline_newer_page(events, page.before, "5", lambda first, last: first >= day and last <= held_to, 3)
    assert found is not None and found.events == timeline_page(events, "5", 3).events
    assert timeline_newer_page(events, page.before, "5", lambda first, last: last <= day, 3) is None
    too_many = TimelineCursor(day, 99)
    assert timeline_newer_page(events, too_many, "5", always, 3) is None


def test_the_cursor_of_a_window_page_is_that_of_the_same_page_by_number() -> None:
    events = story()
    since = events[-1].when.astimezone(CLINIC_ZONE).date()  # every day held
    for number in range(1, 8):
        window = timeline_window_page(events, str(number), since, 3)
        by_number = timeline_page(events, str(number), 3)
        assert window is not None and (window.after, window.before) == (by_number.after, by_number.before)


def test_the_cursor_counts_the_events_of_its_day_on_every_page_before() -> None:
    events = story()
    # Day 4 of the story has four events; pages of one event: its pages each start one further into the day.
    on_day_4 = [e for e in events if e.text.startswith("d4")]
    day = on_day_4[0].when.astimezone(CLINIC_ZONE).date()
    position = events.index(on_day_4[0])
    page = timeline_page(events, str(position + 1), 1)
    assert page.after == TimelineCursor(day, 1)
    nxt = timeline_cursor_page(events, TimelineCursor(day, 1), str(position + 2), always, 1)
    assert nxt is not None and nxt.events == [on_day_4[1]] and nxt.after == TimelineCursor(day, 2)


def test_a_page_whose_days_are_not_held_whole_is_not_given() -> None:
    """The load holds every score only from a day on (`holds`): a page reaching before that day is found by its
    number instead (None), and so is the last page unless every older score is held."""
    events = story()
    cursor = timeline_page(events, "2", 3).after
    assert cursor is not None

    def from_day(first_held: date) -> object:
        return lambda first, last: first >= first_held

    assert timeline_cursor_page(events, cursor, "3", from_day(cursor.day - timedelta(days=5)), 3) is not None
    assert timeline_cursor_page(events, cursor, "3", from_day(cursor.day), 3) is None
    last = timeline_page(events, "9999", 3)
    before_last = timeline_page(events, str(last.number - 1), 3).after
    assert before_last is not None
    assert timeline_cursor_page(events, before_last, str(last.number), from_day(date(2025, 1, 1)), 3) is None
    found = timeline_cursor_page(events, before_last, str(last.number), always, 3)
    assert found is not None and found.events == last.events and found.after is None


def test_a_cursor_that_counts_more_events_than_its_day_has_is_not_used() -> None:
    events = story()
    day = events[0].when.astimezone(CLINIC_ZONE).date()
    count = sum(1 for e in events if e.when.astimezone(CLINIC_ZONE).date() == day)
    assert timeline_cursor_page(events, TimelineCursor(day, count + 1), "2", always, 3) is None
    assert timeline_cursor_page(events, TimelineCursor(day, count), "2", always, 3) is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-15.2", TimelineCursor(date(2026, 3, 15), 2)),
        ("2026-03-15.0", TimelineCursor(date(2026, 3, 15), 0)),
        (None, None),
        ("", None),
        ("x", None),
        ("2026-03-15", None),
        ("2026-03-15.", None),
        ("2026-3-5.1", None),
        ("20260315.1", None),
        ("2026-02-30.1", None),
        ("2026-03-15.-1", None),
        ("2026-03-15.²", None),
        ("2026-03-15.1.2", None),
        ("2026-03-15." + "9" * 10, None),
        ("2026-03-15." + "9" * 5000, None),
        ("9999-12-31.0", None),  # the day after would be past the last date
        ("0001-01-01.0", None),  # a zone's offset then is in seconds: no FHIR date
        ("1969-12-31.0", None),  # Amsterdam's offset before 1940 was +00:19:32: no FHIR date
        ("1970-01-01.0", TimelineCursor(date(1970, 1, 1), 0)),
    ],
)
def test_a_cursor_reads_from_its_text_or_not_at_all(text: str | None, expected: TimelineCursor | None) -> None:
    assert TimelineCursor.parse(text) == expected
    if expected is not None:
        assert TimelineCursor.parse(expected.text) == expected


@pytest.mark.parametrize("size", [1, 3, 7])
def test_pages_without_a_number_walk_from_a_day_to_both_ends(size: int) -> None:
    """A day asked for (`TimelineCursor(day, 0)`, no page number): its pages and their links have no number, the
    older ones reach the oldest event, the newer ones the newest (the newest page perhaps shorter than a page),
    every event once."""
    events = story()
    day = events[len(events) // 2].when.astimezone(CLINIC_ZONE).date()
    start = next(i for i, e in enumerate(events) if e.when.astimezone(CLINIC_ZONE).date() <= day)
    page = timeline_cursor_page(events, TimelineCursor(day, 0), None, always, size)
    assert page is not None and page.number is None and page.pages is None and page.before is not None
    walked = list(page.events)
    older = page
    while older.after is not None:
        found = timeline_cursor_page(events, older.after, None, always, size)
        assert found is not None and found.number is None
        walked += found.events
        older = found
    assert walked == events[start:]
    newer_events: list[Event] = []
    newer: TimelinePage | None = page
    while newer is not None and newer.before is not None:
        newer = timeline_newer_page(events, newer.before, None, always, size)
        assert newer is not None and newer.number is None
        newer_events = newer.events + newer_events
    assert newer_events == events[:start]
    # The newest page of such a walk, and a place before the newest event: no newer link.
    top = timeline_cursor_page(events, TimelineCursor(events[0].when.astimezone(CLINIC_ZONE).date(), 0), None, always)
    assert top is not None and top.before is None and top.events[0] == events[0]


def test_the_newest_page_without_a_number_needs_every_later_day_held() -> None:
    events = story()
    page = timeline_page(events, "2", 3)
    assert page.before is not None
    assert timeline_newer_page(events, page.before, None, lambda first, last: last < date.max, 3) is None
    found = timeline_newer_page(events, page.before, None, always, 3)
    assert found is not None and found.events == events[:3] and found.before is None
    assert timeline_newer_page(events, page.before, "1", always, 3) is None  # with a number: by the number


@pytest.mark.parametrize("size", [3, 100])
def test_the_oldest_place_gives_the_oldest_page_with_no_older_link(size: int) -> None:
    events = story()
    page = timeline_newer_page(events, TimelineCursor.oldest(), None, always, size)
    assert page is not None and page.events == events[-size:] and page.after is None
    assert (page.before is None) == (size >= len(events))
    assert TimelineCursor.parse(TimelineCursor.oldest().text) == TimelineCursor.oldest()


def counted_story(days: int, since_day: int) -> tuple[list[Event], list[Event], date, list[date]]:
    """`story(days)` with every event of a "score" kind before `since_day` unread: the whole timeline, what a load of
    the newest scores holds (every event from that day on, the others before it), that day, and the days asked to
    count from."""
    whole = story(days)
    for n, event in enumerate(whole):  # every third event is no score (always read)
        if n % 3 == 0:
            whole[n] = Event(event.when, event.text, "members")
    since = date(2025, 10, 1) + timedelta(days=since_day)
    known = [e for e in whole if e.kind == "members" or e.when.astimezone(CLINIC_ZONE).date() >= since]
    return whole, known, since, []


@pytest.mark.parametrize("size", [1, 2, 3, 7])
@pytest.mark.parametrize("since_day", range(43))  # the first day the newest scores hold, every one
def test_a_page_far_back_is_placed_by_counting_the_older_scores(size: int, since_day: int) -> None:
    """Every page by its number (and one past the end: the last), placed from the newest scores and counts of the
    older ones, starts where the same page of the whole timeline starts: its number, pages and total the same."""
    whole, known, since, asked_from = counted_story(42, since_day)
    older = [e for e in whole if e not in known]

    def counted(day: date) -> int:
        asked_from.append(day)
        return sum(1 for e in older if day <= e.when.astimezone(CLINIC_ZONE).date())

    oldest = min((e.when for e in older), default=None)
    pages = timeline_page(whole, None, size).pages
    for asked in [*map(str, range(1, pages + 1)), "9999"]:
        asked_from.clear()
        count = timeline_counted_place(known, since, asked, len(older), oldest, counted, size)
        expected = timeline_page(whole, asked, size)
        assert count is not None, asked
        assert (count.number, count.pages, count.total) == (expected.number, expected.pages, expected.total), asked
        # The place before the page's first event (the first page: before the newest one, within its day).
        first = TimelineCursor(whole[0].when.astimezone(CLINIC_ZONE).date(), 0) if whole else None
        assert count.place == (expected.before or first), asked
        # The page from that place is the page by its number.
        if count.place is not None:
            page = timeline_cursor_page(whole, count.place, str(count.number), always, size)
            assert page is not None and page.events == expected.events, asked
        # From a guess, steps away from it and halving: at most twice the six of halving 42 days, and one more.
        assert len(asked_from) <= 13, asked


def test_a_count_the_server_does_not_give_leaves_the_page_to_every_score() -> None:
    whole, known, since, _ = counted_story(42, 30)
    older = [e for e in whole if e not in known]
    oldest = min(e.when for e in older)
    assert timeline_counted_place(known, since, "9999", len(older), oldest, lambda day: None, 2) is None
    # Older scores but no time of the oldest: where to start counting is not known.
    assert timeline_counted_place(known, since, "9999", len(older), None, lambda day: 0, 2) is None


def test_a_group_that_meets_regularly_is_placed_in_a_handful_of_counts() -> None:
    """Four years of weekly meetings with six scores each, the newest scores holding the last five weeks, and 300
    other events (members, goals, agreements) in the group's first days: every tenth page and the last, placed as
    the whole timeline has them, each in at most 8 counts (halving 1,400 days alone takes 11)."""
    start = datetime(2022, 1, 3, 19, tzinfo=CLINIC_ZONE)
    scores = [
        Event(start + timedelta(weeks=w, minutes=m), f"w{w}s{m}", "goals", all_day=False)
        for w in range(208)
        for m in range(6)
    ]
    others = [Event(start + timedelta(days=n % 3, minutes=n), f"o{n}", "members") for n in range(300)]
    whole = sorted(scores + others, key=lambda e: e.when, reverse=True)
    since = (start + timedelta(weeks=203)).date()
    known = [e for e in whole if e.kind == "members" or e.when.date() >= since]
    older = [e for e in whole if e not in known]
    asked_from: list[date] = []

    def counted(day: date) -> int:
        asked_from.append(day)
        return sum(1 for e in older if e.when.date() >= day)

    pages = timeline_page(whole, None, 7).pages
    for asked in [*map(str, range(2, pages + 1, 10)), "9999"]:
        asked_from.clear()
        count = timeline_counted_place(known, since, asked, len(older), older[-1].when, counted, 7)
        expected = timeline_page(whole, asked, 7)
        assert count is not None and count.place == expected.before, asked
        assert len(asked_from) <= 8, (asked, len(asked_from))
