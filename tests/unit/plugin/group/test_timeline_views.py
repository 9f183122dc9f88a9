"""The timeline page with the real app and the demo record: who did it, and the plain GET filter by kind."""

from __future__ import annotations

import copy
import html as htmllib
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from plugin.group import overview
from plugin.sync.repository import GroupRepository, LoadedGroup, ScoresPage
from tests.support.ui import LaunchedApp, launched


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def events(html: str) -> list[str]:
    return re.findall(r'<li class="event-(\w+)"', html)


def test_timeline_filters_by_kind_with_a_plain_get_form(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        everything = text(env.get("/tijdlijn"))
        assert '<form method="get"' in everything and 'name="soort"' in everything
        kinds = set(events(everything))
        assert {"members", "goals", "meetings", "group"} <= kinds
        goals = text(env.get("/tijdlijn?soort=doelen"))
        assert events(goals) and set(events(goals)) == {"goals"}
        assert '<option value="doelen" selected>' in goals
        members = text(env.get("/tijdlijn?soort=leden"))
        assert set(events(members)) == {"members"}
        assert len(events(goals)) + len(events(members)) < len(events(everything))
        # An unknown kind shows everything rather than failing.
        assert len(events(text(env.get("/tijdlijn?soort=onzin")))) == len(events(everything))


def test_timeline_says_who_did_it(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        html = text(env.get("/tijdlijn?soort=leden"))
        assert "Kennismakingsgesprek" in html or "kennismakingsgesprek" in html
        assert re.search(r'<span class="muted">door [^<]+</span>', html)
        assert not re.search(r'\.</span> <span class="muted">door', html)  # not "gevoerd. door …"


def test_pausing_and_resuming_show_in_the_timeline_with_who_did_it(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        assert env.post("/status", {"action": "pause"}).status_code == 303
        assert env.post("/status", {"action": "resume"}).status_code == 303
        html = text(env.get("/tijdlijn?soort=groep"))
        for said in ("De groep is gepauzeerd", "De groep is weer gestart"):  # one sentence: "… door Anna de Vries."
            assert re.search(re.escape(said) + r'</span> <span class="muted">door Anna de Vries</span>\.', html), said
        plan = next(p for p in env.resources("CarePlan") if p.get("status") == "active")
        assert [p["valueCode"] for e in plan["extension"] for p in e.get("extension", []) if p["url"] == "to"][-2:] == [
            "on-hold",
            "active",
        ]


def lines(html: str) -> list[str]:
    return re.findall(r'<li class="event-\w+"><time datetime="([^"]+)"[^>]*>[^<]*</time> <span>([^<]*)</span>', html)


def test_a_long_timeline_comes_in_pages_newest_first_with_plain_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overview, "TIMELINE_PAGE", 5)
    monkeypatch.setattr(overview.timeline_page, "__defaults__", (5,))
    with launched(tmp_path, patient="sanne-bakker") as env:
        first = text(env.get("/tijdlijn"))
        shown = lines(first)
        assert len(shown) == 5
        total = int(re.search(r"Pagina 1 van (\d+) \((\d+) gebeurtenissen\)", first).group(2))  # type: ignore[union-attr]
        pages = -(-total // 5)
        assert total > 10 and f"Pagina 1 van {pages} ({total} gebeurtenissen)" in first
        assert re.search(r'<nav class="pager" aria-label="Pagina(&#39;|\')s van de tijdlijn">', first)
        assert "Nieuwere gebeurtenissen" not in first
        older = re.search(r'<a href="([^"]+)" rel="next">Oudere gebeurtenissen</a>', first)
        assert older is not None and "pagina=2" in older.group(1)
        every: list[tuple[str, str]] = []
        for number in range(1, pages + 1):
            every += lines(text(env.get(f"/tijdlijn?pagina={number}")))
        assert len(every) == total and every[:5] == shown  # every event once, in order
        moments = [datetime.fromisoformat(when) for when, _ in every]
        assert moments == sorted(moments, reverse=True)
        last = text(env.get(f"/tijdlijn?pagina={pages}"))
        assert 'rel="prev">Nieuwere gebeurtenissen</a>' in last and "Oudere gebeurtenissen" not in last
        # Past the end: the last page; not a number: the first. Never an error.
        assert lines(text(env.get("/tijdlijn?pagina=9999"))) == lines(last)
        assert lines(text(env.get(f"/tijdlijn?pagina={'9' * 5000}"))) == lines(last)  # past int()'s digit limit
        for bad in ("abc", "-1", "0", "1.5", "", "²", "١"):
            response = env.get(f"/tijdlijn?pagina={bad}")
            assert response.status_code == 200 and lines(text(response)) == shown, bad
        # The filter stays in the page links.
        goals = text(env.get("/tijdlijn?soort=doelen"))
        link = re.search(r'<a href="([^"]+)" rel="next">', goals)
        assert link is not None and "soort=doelen" in link.group(1) and "pagina=2" in link.group(1)


def test_a_short_timeline_has_no_page_links(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        html = text(env.get("/tijdlijn"))
        assert lines(html) and "Oudere gebeurtenissen" not in html and "Pagina 1 van" not in html


def test_the_newest_pages_of_the_timeline_come_from_the_newest_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[LoadedGroup]
) -> None:
    """A long-running group (older scores than the newest `overview_scores`): the timeline's newest pages come from
    the page's one load of the newest scores, the same events a whole read shows, the page saying only its number
    (the total is not known); a page that reaches back before those scores reads as many newest scores as it
    needs at once."""
    monkeypatch.setattr(overview, "TIMELINE_PAGE", 3)
    monkeypatch.setattr(overview.timeline_page, "__defaults__", (3,))
    monkeypatch.setattr(overview.timeline_window_page, "__defaults__", (3,))

    def loads() -> list[int | None]:
        return [s.newest_scores for s in spied]

    with launched(tmp_path, patient="sanne-bakker") as env:
        settings = env.app.extensions["resourcegroep"]
        settings["overview_scores"] = None  # every score: the reference
        whole = text(env.get("/tijdlijn"))
        pages = int(re.search(r"Pagina 1 van (\d+)", whole).group(1))  # type: ignore[union-attr]
        reference = [lines(text(env.get(f"/tijdlijn?pagina={n}"))) for n in range(1, pages + 1)]
        members = text(env.get("/tijdlijn?soort=leden"))
        assert set(loads()) == {None}

        settings["overview_scores"] = 5  # Sanne's 6 scores: the first meeting's day is not held whole
        spied.clear()
        first = text(env.get("/tijdlijn"))
        assert loads() == [5] and lines(first) == reference[0]
        assert "Pagina 1</p>" in first and "Pagina 1 van" not in first
        assert re.search(r'<a href="[^"]*pagina=2[^"]*" rel="next">Oudere gebeurtenissen</a>', first)
        spied.clear()
        last = text(env.get(f"/tijdlijn?pagina={pages}"))  # reaches back before the newest scores
        # It reads the newest (pages + 1) * 3 scores at once: Sanne's 6, every one, so the total is known.
        assert loads() == [(pages + 1) * 3] and lines(last) == reference[-1] and f"Pagina {pages} van {pages}" in last
        spied.clear()
        members_now = text(env.get("/tijdlijn?soort=leden"))
        assert lines(members_now) == lines(members) and loads() == [5]  # no scores among the members' events
        assert re.search(r"Pagina 1 van \d+ \(\d+ gebeurtenissen\)", members_now)  # its total is known


def test_an_older_page_reads_as_many_newest_scores_as_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[LoadedGroup]
) -> None:
    """Pages of 4 events (more than Sanne's scores on any one day) and a window of 2 of her 6 scores: every page
    shows what a whole read shows, and a page past the window reads the newest (N + 1) * 4 scores at once, not
    every score apart."""
    monkeypatch.setattr(overview, "TIMELINE_PAGE", 4)
    monkeypatch.setattr(overview.timeline_page, "__defaults__", (4,))
    monkeypatch.setattr(overview.timeline_window_page, "__defaults__", (4,))
    with launched(tmp_path, patient="sanne-bakker") as env:
        settings = env.app.extensions["resourcegroep"]
        settings["overview_scores"] = None
        whole = text(env.get("/tijdlijn"))
        pages = int(re.search(r"Pagina 1 van (\d+)", whole).group(1))  # type: ignore[union-attr]
        reference = [lines(text(env.get(f"/tijdlijn?pagina={n}"))) for n in range(1, pages + 1)]

        settings["overview_scores"] = 2
        for number in range(1, pages + 1):
            spied.clear()
            html = text(env.get(f"/tijdlijn?pagina={number}"))
            assert lines(html) == reference[number - 1], number
            assert [s.newest_scores for s in spied] == [(number + 1) * 4], number


def with_older_scores(env: LaunchedApp, days: int = 12) -> None:
    """Sanne's first score again on `days` older days, three days apart (one score on even days, two at one moment
    on odd ones), without a meeting."""
    sannes = [o for o in env.resources("Observation") if o["subject"]["reference"] == "Patient/sanne-bakker"]
    first = min(datetime.fromisoformat(o["effectiveDateTime"]) for o in sannes)
    added = []
    for day in range(days):
        for n in range(1 + day % 2):
            score = copy.deepcopy(sannes[0])
            for element in ("meta", "extension", "note"):
                score.pop(element, None)
            score["id"] = f"older-{day}-{n}"
            score["identifier"][0]["value"] = f"older-{day}-{n}"
            score["effectiveDateTime"] = (first - timedelta(days=3 * (day + 1))).isoformat()
            added.append(score)
    env.store.load(added)


def older_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">Oudere gebeurtenissen</a>', html)
    return htmllib.unescape(found.group(1)) if found else None


def newer_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="prev">Nieuwere gebeurtenissen</a>', html)
    return htmllib.unescape(found.group(1)) if found else None


def small_timeline_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overview, "TIMELINE_PAGE", 3)
    for function in (
        overview.timeline_page,
        overview.timeline_window_page,
        overview.timeline_cursor_page,
        overview.timeline_newer_page,
        overview.timeline_counted_place,
    ):
        monkeypatch.setattr(function, "__defaults__", (3,))


def scores_in_pages_of(monkeypatch: pytest.MonkeyPatch, page_size: int) -> None:
    """The app's loads read pages of `page_size` scores (a page beside a day among them)."""
    spy = GroupRepository.load

    def small_pages(self: GroupRepository, plan_id: str | None = None, **options: Any) -> LoadedGroup:
        self.page_size = page_size
        return spy(self, plan_id, **options)

    monkeypatch.setattr(GroupRepository, "load", small_pages)


def cursor_in(path: str, param: str) -> ScoresPage | None:
    found = re.search(rf"{param}=(\d{{4}}-\d\d-\d\d)\.\d+", path)
    return ScoresPage(datetime.fromisoformat(found.group(1)).date(), param == "tot") if found else None


@pytest.mark.parametrize("page_size", [1000, 4])
def test_the_links_far_back_read_a_page_of_scores_beside_each_pages_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[LoadedGroup], page_size: int
) -> None:
    """Past the newest scores, each older link names where its page starts (`?vanaf=`), each newer link where it
    ends (`?tot=`): the page reads the newest scores and a page of the scores up to (or from) that day in one load,
    and shows what a whole read shows on that page. With pages of scores smaller than the timeline needs
    (`page_size` 4), a page the load does not hold whole is found by its number instead: the same events, more
    loads."""
    small_timeline_pages(monkeypatch)
    scores_in_pages_of(monkeypatch, page_size)
    with launched(tmp_path, patient="sanne-bakker") as env:
        with_older_scores(env)
        settings = env.app.extensions["resourcegroep"]
        settings["overview_scores"] = None  # every score: the reference
        whole = text(env.get("/tijdlijn"))
        pages = int(re.search(r"Pagina 1 van (\d+)", whole).group(1))  # type: ignore[union-attr]
        reference = [lines(text(env.get(f"/tijdlijn?pagina={n}"))) for n in range(1, pages + 1)]
        assert pages > 8

        settings["overview_scores"] = 2
        for param, link in (("vanaf", older_link), ("tot", newer_link)):
            path: str | None = "/tijdlijn" if param == "vanaf" else f"/tijdlijn?pagina={pages}"
            shown: list[list[tuple[str, str]]] = []
            at_once = 0
            while path is not None:
                spied.clear()
                page = text(env.get(path))
                shown.append(lines(page))
                asked = cursor_in(path, param)
                if asked is None:
                    assert len(shown) == 1 and all(s.scores_page is None for s in spied)
                else:
                    # The first load reads the newest scores and a page of those beside the day the link names.
                    assert (spied[0].newest_scores, spied[0].scores_page) == (2, asked), path
                    at_once += len(spied) == 1
                path = link(page)
                if path is not None:
                    number = len(shown) + 1 if param == "vanaf" else pages - len(shown)
                    assert f"pagina={number}" in path and f"{param}=" in path, path
            if param == "tot":
                shown.reverse()
            # Every page, by the links, as by their numbers on the whole read.
            assert shown == reference, param
            # A page of 1,000 scores holds every one beside the day: every page in one load but the newest (within
            # the newest scores: by its number). With pages of 4 scores, some come at once and the others by their
            # numbers after that.
            if page_size == 1000:
                assert at_once == len(shown) - 2 + (param == "vanaf"), param
            else:
                assert 3 <= at_once < len(shown) - 2, param


@pytest.mark.parametrize("counts", [True, False])
def test_a_page_far_back_by_its_number_is_placed_by_counting_the_older_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[LoadedGroup], counts: bool
) -> None:
    """A page further back than the deepest window of newest scores (a bookmark, a typed address), and the last page
    (a number past the end): its place is found by counting the older scores, and it is read beside its day with
    the newest scores, never every score; it shows what the whole read shows on that page, with its number and the
    number of pages. A server that gives no count: the page from every score, the same."""
    small_timeline_pages(monkeypatch)
    monkeypatch.setattr(overview, "TIMELINE_DEEPEST", 6)  # from page 2 on, a page is "far back"
    with launched(tmp_path, patient="sanne-bakker") as env:
        reference = long_timeline(env)
        goals = [line for line in reference if line[1].startswith(("Doel", "Cijfer"))]
        pages = -(-len(reference) // 3)
        assert pages > 8
        if not counts:
            monkeypatch.setattr(GroupRepository, "count_scores", lambda self, *args, **kwargs: None)
        for asked in [*map(str, range(2, pages + 1)), "9999"]:
            spied.clear()
            html = text(env.get(f"/tijdlijn?pagina={asked}"))
            number = min(int(asked), pages)
            assert lines(html) == reference[(number - 1) * 3 : number * 3], asked
            assert f"Pagina {number} van {pages} ({len(reference)} gebeurtenissen)" in html, asked
            assert all(s.newest_scores == 2 for s in spied) == counts, asked  # no read of every score
            assert (older_link(html) is None) == (number == pages), asked
        # The filter by kind counts its own events.
        html = text(env.get("/tijdlijn?soort=doelen&pagina=9999"))
        last = -(-len(goals) // 3)
        assert lines(html) == goals[(last - 1) * 3 :] and f"Pagina {last} van {last}" in html


def test_a_link_naming_a_place_that_does_not_fit_finds_the_page_by_its_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[LoadedGroup]
) -> None:
    """A place that counts more events of its day than there are, or that does not read: the page by its number."""
    small_timeline_pages(monkeypatch)
    with launched(tmp_path, patient="sanne-bakker") as env:
        with_older_scores(env)
        settings = env.app.extensions["resourcegroep"]
        settings["overview_scores"] = None
        reference = lines(text(env.get("/tijdlijn?pagina=4")))
        settings["overview_scores"] = 2
        first = text(env.get("/tijdlijn?pagina=3"))
        after = re.search(r"vanaf=(\d{4}-\d\d-\d\d)\.(\d+)", older_link(first) or "")
        assert after is not None
        day = after.group(1)
        for param in ("vanaf", "tot"):
            for place in (f"{day}.99", "gisteren", f"{day}.{'9' * 40}", "2026-02-30.0", "9999-12-31.0", "0001-01-01.0"):
                spied.clear()
                response = env.get(f"/tijdlijn?pagina=4&{param}={place}")
                assert response.status_code == 200 and lines(text(response)) == reference, place
                assert all(s.scores_page is None for s in spied[1:]), place  # then by its number
        spied.clear()
        right = env.get(f"/tijdlijn?pagina=4&vanaf={day}.{after.group(2)}")
        assert lines(text(right)) == reference and len(spied) == 1
        assert spied[0].scores_page == ScoresPage(datetime.fromisoformat(day).date())


def every_line(env: LaunchedApp) -> list[tuple[str, str]]:
    """The whole timeline (every score read), newest first, by its numbered pages."""
    first = text(env.get("/tijdlijn"))
    pages = int(re.search(r"Pagina 1 van (\d+)", first).group(1))  # type: ignore[union-attr]
    return [line for n in range(1, pages + 1) for line in lines(text(env.get(f"/tijdlijn?pagina={n}")))]


def long_timeline(env: LaunchedApp) -> list[tuple[str, str]]:
    """Sanne's timeline with older scores: every event as a whole read has it; then the app reads the newest 2."""
    with_older_scores(env)
    settings = env.app.extensions["resourcegroep"]
    settings["overview_scores"] = None
    reference = every_line(env)
    settings["overview_scores"] = 2
    return reference


@pytest.mark.parametrize("page_size", [1000, 4])
def test_a_day_asked_for_shows_the_events_up_to_it_and_its_links_walk_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[LoadedGroup], page_size: int
) -> None:
    """The form's day (`?datum=`): the events up to and including that day, newest first, in one load of the newest
    scores and a page of those up to it; its pages have no number, and their older and newer links walk the rest
    of the timeline both ways, every event once, as a whole read has them. Where a page's load does not hold its
    days whole (pages of 4 scores), that page is read from every score: the same events."""
    small_timeline_pages(monkeypatch)
    scores_in_pages_of(monkeypatch, page_size)
    with launched(tmp_path, patient="sanne-bakker") as env:
        reference = long_timeline(env)
        days = sorted({datetime.fromisoformat(when).date() for when, _ in reference})
        asked = days[len(days) // 3]  # an older day with events
        start = next(i for i, (when, _) in enumerate(reference) if datetime.fromisoformat(when).date() <= asked)
        spied.clear()
        response = env.get(f"/tijdlijn?datum={asked.isoformat()}")
        page = text(response)
        assert response.status_code == 200 and lines(page) == reference[start : start + 3]
        assert spied[0].scores_page == ScoresPage(asked) and (len(spied) == 1 or page_size == 4)
        assert "Wat er gebeurde tot en met" in page and "Terug naar het nieuwste" in page and "Pagina " not in page
        assert f'value="{asked.isoformat()}"' in page  # the form keeps the day asked for
        older: list[tuple[str, str]] = []
        path = older_link(page)
        while path is not None:
            assert "pagina=" not in path
            following = text(env.get(path))
            older += lines(following)
            path = older_link(following)
        assert lines(page) + older == reference[start:]
        newer: list[tuple[str, str]] = []
        path = newer_link(page)
        while path is not None:
            before = text(env.get(path))
            newer = lines(before) + newer
            path = newer_link(before)
        assert newer == reference[:start]


def test_a_day_that_does_not_read_says_so_and_shows_the_newest_events(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        newest = lines(text(env.get("/tijdlijn")))
        for bad in ("morgen", "2026-02-30", "31-02-2025", "2025-3-14", "14-03-25", "2025-03-14T10:00"):
            response = env.get(f"/tijdlijn?datum={bad}")
            page = text(response)
            assert response.status_code == 422 and lines(page) == newest, bad
            assert "Die datum konden we niet lezen." in page and 'aria-invalid="true"' in page, bad
            assert 'role="alert"' in page and "Wat er gebeurde tot en met" not in page, bad
        english = text(env.get("/tijdlijn?datum=morgen&lang=en"))
        assert "That date could not be read. Choose a day" in english and "Up to and including" in english


def test_a_day_typed_the_dutch_way_or_far_out_reads(tmp_path: Path) -> None:
    """The form's example (14-03-2025) as typed in the address reads as its day; a day before 1970 has nothing up to
    it, and 9999-12-31 (the field's last day) everything: no 422 for a real day."""
    with launched(tmp_path, patient="sanne-bakker") as env:
        newest = lines(text(env.get("/tijdlijn")))
        last = datetime.fromisoformat(newest[0][0]).date()
        iso = text(env.get(f"/tijdlijn?datum={last.isoformat()}"))
        for typed in (last.strftime("%d-%m-%Y"), f"{last.day}/{last.month}/{last.year}"):
            response = env.get(f"/tijdlijn?datum={typed}")
            assert response.status_code == 200 and lines(text(response)) == lines(iso), typed
            assert f'value="{last.isoformat()}"' in text(response)  # the date field shows the day it read
        for before in ("1969-12-31", "0001-01-01"):
            response = env.get(f"/tijdlijn?datum={before}")
            page = text(response)
            assert response.status_code == 200 and lines(page) == [] and "Toen was er nog niets gebeurd." in page
        response = env.get("/tijdlijn?datum=9999-12-31")
        assert response.status_code == 200 and lines(text(response))[:3] == newest[:3]
        assert "31 december 9999" in text(response) and 'value="9999-12-31"' in text(response)


def test_the_oldest_link_of_a_timeline_whose_total_is_known_is_its_last_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every event loaded ("Pagina 1 van 2"): "Oudste gebeurtenissen" is page 2, the page "Oudere" leads to, not a
    page counted from the oldest event that repeats most of page 1."""
    small_timeline_pages(monkeypatch)
    with launched(tmp_path, patient="sanne-bakker") as env:
        first = text(env.get("/tijdlijn"))
        pages = re.search(r"Pagina 1 van (\d+)", first)
        assert pages is not None, "the demo group's timeline is loaded whole"
        oldest = link(first, "last")
        assert oldest == f"/c/{env.context_id}/tijdlijn?pagina={pages[1]}"
        last = text(env.get(oldest))
        assert f"Pagina {pages[1]} van {pages[1]}" in last and link(last, "next") is None


def test_a_day_asked_for_with_a_kind_without_scores(tmp_path: Path, spied: list[LoadedGroup]) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        members = lines(text(env.get("/tijdlijn?soort=leden")))
        last = datetime.fromisoformat(members[-1][0]).date()
        spied.clear()
        page = text(env.get(f"/tijdlijn?soort=leden&datum={last.isoformat()}"))
        assert lines(page) == [m for m in members if datetime.fromisoformat(m[0]).date() <= last]
        assert len(spied) == 1 and spied[0].scores_page is None
        assert 'name="soort"' in page and '<option value="leden" selected>' in page


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', html)
    return htmllib.unescape(found.group(1)) if found else None


def test_the_oldest_link_shows_the_oldest_events_in_one_load_and_walks_back_to_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[LoadedGroup]
) -> None:
    """ "Oudste gebeurtenissen": the oldest page (the last page's events, a whole page of them), from the newest
    scores and the oldest page of scores in one load; its newer links walk to the newest, every event once, and
    "Nieuwste gebeurtenissen" goes back to the first page."""
    small_timeline_pages(monkeypatch)
    with launched(tmp_path, patient="sanne-bakker") as env:
        reference = long_timeline(env)
        first = text(env.get("/tijdlijn"))
        oldest = link(first, "last")
        assert oldest is not None and link(first, "first") is None  # (the first page has no newer events)
        spied.clear()
        page = text(env.get(oldest))
        assert lines(page) == reference[-3:] and link(page, "last") is None and link(page, "next") is None
        assert [s.scores_page for s in spied] == [ScoresPage(date(1970, 1, 1), later=True)]
        walked = lines(page)
        path = link(page, "prev")
        while path is not None:
            before = text(env.get(path))
            walked = lines(before) + walked
            path = link(before, "prev")
        assert walked == reference
        newest = link(page, "first")
        assert newest is not None and lines(text(env.get(newest))) == reference[:3]


def test_a_day_before_anything_happened_says_so(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        page = text(env.get("/tijdlijn?datum=2000-01-01"))
        assert lines(page) == [] and "Toen was er nog niets gebeurd." in page and "Terug naar het nieuwste" in page
        assert "Er is nog niets gebeurd" not in page
        members = text(env.get("/tijdlijn?soort=leden&datum=2000-01-01"))
        assert "Toen was er nog niets van deze soort gebeurd." in members


@pytest.mark.parametrize("patient", ["sanne-bakker", "mohammed-el-amrani"])
def test_nothing_still_to_come_heads_the_timeline(tmp_path: Path, patient: str) -> None:
    """The timeline is what happened: Mohammed's interviews planned for next week are not in it (the members' page
    lists them), nor is Sanne's next meeting at its own start ("Bijeenkomst gepland.")."""
    user = "Practitioner/anna-de-vries" if patient == "sanne-bakker" else "Practitioner/bram-jansen"
    with launched(tmp_path, patient=patient, user=user) as env:
        every = lines(text(env.get("/tijdlijn")))
        assert every and all(datetime.fromisoformat(when) <= datetime.now().astimezone() for when, _ in every)


def test_a_meeting_still_to_come_is_in_the_timeline_when_it_was_planned_not_at_its_own_start(tmp_path: Path) -> None:
    """The timeline is what happened: Sanne's planned meeting shows when it was planned, not as "Bijeenkomst
    gepland." at its future start at the head of the timeline."""
    with launched(tmp_path, patient="sanne-bakker") as env:
        html = text(env.get("/tijdlijn?soort=bijeenkomsten"))
        shown = lines(html)
        assert shown and all(datetime.fromisoformat(when) <= datetime.now().astimezone() for when, _ in shown), shown
        assert "Bijeenkomst gepland." not in html
        assert re.search(r"De bijeenkomst van \d{1,2} [a-z]+ \d{4} is gepland\.", html)  # the day as in a sentence


def test_an_interview_still_to_come_is_in_the_timeline_when_it_was_planned(tmp_path: Path) -> None:
    """Mohammed's interviews planned for next week show when they were planned (the last days), with their own day
    in words; planning one through the app records that moment too."""
    with launched(tmp_path, patient="mohammed-el-amrani", user="Practitioner/bram-jansen") as env:
        html = text(env.get("/tijdlijn?soort=leden"))
        planned = re.findall(r"Het kennismakingsgesprek met ([^<]+?) op (\d{1,2} [a-z]+ \d{4}) is gepland\.", html)
        assert {name for name, _ in planned} == {"Henk de Boer", "Rachid", "Lotte Smit"}, planned
        shown = lines(html)
        assert shown and all(datetime.fromisoformat(when) <= datetime.now().astimezone() for when, _ in shown)
