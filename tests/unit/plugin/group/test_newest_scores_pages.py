"""Every page reads only the newest scores (issue 16, bounded work) but those that show every score: a goal's "all
scores", the timeline, a meeting's report and the printed agenda and report. The pages that show scores (the
overview: the care professional's, the patient's and a member's home; the goal list; a goal's page, with a link to
all of the goal's scores) say from which day they show them. A save whose action needs every score reads them all.

Sanne's demo group has 6 scores: two at the first meeting (70 days ago) and four at the second (14 days ago).
With `overview_scores = 5` the newest five reach back into the first meeting's day, which is then not held whole:
the pages hold the four scores of the second meeting and say "from <the day after the first meeting>".
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel import Locale

from fhir_mappings.fhirjson import parse_datetime
from fhir_mappings.model import CLINIC_ZONE, ResourceGroup, ScoresNotLoaded, first_day_after
from plugin.config import DEFAULT_OVERVIEW_SCORES, config_from_mapping
from plugin.sync.repository import GroupRepository, LoadedGroup
from plugin.web.format import _long_date
from smart_launch import ConfigurationError
from tests.support.ui import LaunchedApp, launched
from tests.unit.language.crawl import crawl

SANNE = "Patient/sanne-bakker"
ANNA = "Practitioner/anna-de-vries"
LOTTE = "Practitioner/lotte-smit"


def main_text(response: Any) -> str:
    html = str(response.get_data(as_text=True))
    main = html[html.index("<main") : html.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


@contextmanager
def reading_newest(tmp_path: Path, count: int | None, user: str = ANNA) -> Iterator[LaunchedApp]:
    """The demo app launched for `user`, its overview and goal list reading the `count` newest scores."""
    with launched(tmp_path, user=user) as env:
        env.app.extensions["resourcegroep"]["overview_scores"] = count
        yield env


def server_id(env: LaunchedApp, rtype: str, uid: str) -> str:
    """The server id of the store's resource with the product uid `uid`."""
    [found] = [r["id"] for r in env.resources(rtype) if any(i.get("value") == uid for i in r.get("identifier", []))]
    return str(found)


def expected_since(env: LaunchedApp, count: int) -> date:
    """The first whole day (Amsterdam) after the oldest of the store's `count` newest scores."""
    times = sorted((parse_datetime(o["effectiveDateTime"], "test") for o in env.resources("Observation")), reverse=True)
    oldest = times[count - 1]
    assert oldest is not None
    return first_day_after(oldest)


def test_the_care_professionals_overview_and_goal_list_show_the_newest_scores_and_say_so(
    tmp_path: Path, spied: list[LoadedGroup]
) -> None:
    with reading_newest(tmp_path, 5) as env:
        overview = env.get("/")
        assert overview.status_code == 200
        [loaded] = spied
        assert loaded.newest_scores == 5 and loaded.group is not None
        since = expected_since(env, 5)
        assert loaded.group.scores_since == since
        assert len(loaded.group.held_scores()) == 4
        body = main_text(overview)
        assert (
            f"Cijfers vanaf {_long_date(since, Locale('nl'))}." in body
            and "Oudere cijfers staan op de pagina van elk doel." in body
        )
        assert "out of 10" not in body and "9 van de 10" in body  # the allowance's newest score, in Dutch

        spied.clear()
        goals = env.get("/doelen")
        assert goals.status_code == 200 and [s.newest_scores for s in spied] == [5]
        body = main_text(goals)
        assert "Cijfers vanaf" in body and "9 van de 10" in body and "nog geen cijfer" not in body

        # A goal's own page shows the newest scores too, says from which day, and links to all of the goal's scores.
        spied.clear()
        house = next(g for g in loaded.group.goals if g.text == "Zelfstandig wonen")
        page = env.get(f"/doelen/{house.uid}")
        assert page.status_code == 200 and [s.newest_scores for s in spied] == [5]
        body = main_text(page)
        assert f"Cijfers vanaf {_long_date(since, Locale('nl'))}. Toon alle cijfers van dit doel" in body
        assert "Eerste stap gezet" not in body  # the house goal's 3, from the first meeting: before that day
        # The link names the Goal's server id: that page reads the goal's every score beside the newest, in one load.
        goal_id = server_id(env, "Goal", house.uid)
        link = f'href="/c/{env.context_id}/doelen/{house.uid}?alle={goal_id}#progress-h"'
        assert link in page.get_data(as_text=True)
        spied.clear()
        every = env.get(f"/doelen/{house.uid}?alle={goal_id}")
        assert every.status_code == 200
        assert [(s.newest_scores, s.every_score_of) for s in spied] == [(5, goal_id)]
        body = main_text(every)
        assert "Eerste stap gezet" in body and "Cijfers vanaf" not in body and "Toon alle cijfers" not in body
        assert body.count("Eerste stap gezet") == 1  # the older score once (it is not among the newest)
        held = spied[0].group
        assert held is not None and held.holds_every_score_of(house.uid)
        assert not any(held.holds_every_score_of(g.uid) for g in held.goals if g.uid != house.uid)
        # An older link (`?alle=1`) reads the goal's id from the newest scores, then its every score beside them;
        # it shows the same.
        spied.clear()
        older = env.get(f"/doelen/{house.uid}?alle=1")
        assert older.status_code == 200
        assert [(s.newest_scores, s.every_score_of) for s in spied] == [(5, None), (5, goal_id)]
        assert main_text(older) == body


def test_the_patients_and_a_members_home_read_the_newest_scores(tmp_path: Path, spied: list[LoadedGroup]) -> None:
    with reading_newest(tmp_path, 5, SANNE) as env:
        home = env.get("/")
        assert home.status_code == 200 and [s.newest_scores for s in spied] == [5]
        body = main_text(home)
        assert "Je ziet hier je cijfers vanaf" in body and "Al je cijfers staan op de pagina van elk doel." in body
        goals = main_text(env.get("/doelen"))
        assert "Je ziet hier je cijfers vanaf" in goals
    spied.clear()
    with reading_newest(tmp_path / "lotte", 5, LOTTE) as env:
        home = env.get("/")
        assert home.status_code == 200 and [s.newest_scores for s in spied] == [5]
        assert "Welkom, Lotte" in main_text(home)


def test_the_patients_goal_page_says_so_to_her_in_dutch_and_in_english(
    tmp_path: Path, spied: list[LoadedGroup]
) -> None:
    with reading_newest(tmp_path, 5, SANNE) as env:
        assert env.get("/").status_code == 200
        goal = spied[0].group.goals[0]  # type: ignore[union-attr]
        dutch = main_text(env.get(f"/doelen/{goal.uid}"))
        assert "Je ziet hier je cijfers vanaf" in dutch and "Toon al je cijfers voor dit doel" in dutch
        english = main_text(env.get(f"/doelen/{goal.uid}?lang=en"))
        assert "Here you see your scores from" in english and "Show all your scores for this goal" in english
        assert "Cijfers" not in english


def test_when_the_newest_scores_are_every_score_the_pages_say_nothing_of_it(
    tmp_path: Path, spied: list[LoadedGroup]
) -> None:
    with reading_newest(tmp_path, 6) as env:
        body = main_text(env.get("/"))
        [loaded] = spied
        assert loaded.group is not None and loaded.group.scores_since is None
        assert "Cijfers vanaf" not in body and "9 van de 10" in body


def test_without_a_window_the_pages_read_every_score(tmp_path: Path, spied: list[LoadedGroup]) -> None:
    with reading_newest(tmp_path, None) as env:
        assert env.get("/").status_code == 200 and env.get("/doelen").status_code == 200
        assert [s.newest_scores for s in spied] == [None, None]


def test_a_score_given_from_the_goal_page_after_the_overview_is_saved_with_every_score_kept(
    tmp_path: Path, spied: list[LoadedGroup]
) -> None:
    with reading_newest(tmp_path, 5) as env:
        before = len(env.resources("Observation"))
        assert env.get("/").status_code == 200
        loaded = spied[0]
        assert loaded.group is not None
        goal = loaded.group.goals[0]
        page = env.get(f"/doelen/{goal.uid}")
        assert page.status_code == 200
        saved = env.post(f"/doelen/{goal.uid}/voortgang", {"score": "8", "score_note": "Goed bezig"})
        assert saved.status_code in (200, 302, 303), saved.get_data(as_text=True)[:500]
        assert len(env.resources("Observation")) == before + 1
        # The goal page and the POST read only the newest (a score without a meeting needs no other).
        assert [s.newest_scores for s in spied[1:]] == [5, 5]


# A meeting's report (its form corrects the scores given at the meeting) and its print read the newest scores when
# they hold every score given at the meeting (one that started since their first day, held or still planned); else,
# asked for, every score of the meeting's day after them (an older meeting). The printed agenda
# shows each goal's newest scores, as the overview does. A goal's "all scores" reads the newest and every score of
# that goal. The timeline's page N reads the page's own window of newest scores when N pages of events fit in it,
# else the newest (N + 1) pages' worth at once (`timeline_scores_needed`): with a window of 5 every page does the
# latter, unless it shows a kind of event without scores.
REPORT_PAGE = re.compile(r"/bijeenkomsten/([^/?]+)/verslag(/afdrukken)?$")
TIMELINE_WITH_SCORES = re.compile(r"^/tijdlijn(?!.*soort=(leden|afspraken|bijeenkomsten|groep))")
NO_GROUP_PAGE = {"/caseload", "/verbinding"}  # the care professional's caseload, the connection's state


def timeline_page_asked(path: str) -> int:
    found = re.search(r"[?&]pagina=(\d+)", path)
    return int(found.group(1)) if found else 1


@pytest.mark.parametrize("user", [ANNA, SANNE], ids=["care professional", "patient"])
def test_every_page_reads_the_group_once_and_only_the_newest_scores_unless_it_shows_them_all(
    tmp_path: Path, spied: list[LoadedGroup], user: str
) -> None:
    """One load per page view (issue 16): the newest scores for every page that shows a part of them or none, so a
    huge group's worker stays small on those pages; every score, at once, for the pages that show them all. A page
    that read the newest scores as every score would run again on the whole group: two loads."""
    with reading_newest(tmp_path, 5, user) as env:
        paths = [p.path for p in crawl(env, ("/", "/bijeenkomsten", "/tijdlijn"), per_shape=2) if p.status == 200]
        assert len(paths) >= 15 and {"/tijdlijn", "/doelen"} <= set(paths), paths
        assert any("?alle=" in p for p in paths), paths
        # The meetings whose scores the newest may not all hold: those before the newest scores' first day (the
        # demo's first meeting). Their report and its print read the newest scores and every score of the meeting's
        # day, after the newest the first time, at once after that (the app remembers such a meeting). A planned
        # meeting's report (the demo's are to come) reads the newest scores only: a score at a meeting counts at
        # its start.
        since = expected_since(env, 5)
        whole = whole_group(env, spied)
        planned = {m.uid for m in whole.meetings if m.is_planned}
        older = {m.uid: day for m in whole.meetings if (day := m.start.astimezone(CLINIC_ZONE).date()) < since}
        paths += [f"/bijeenkomsten/{uid}/verslag{printed}" for uid in older for printed in ("", "/afdrukken")]
        reports = [(p, found.group(1), bool(found.group(2))) for p in paths if (found := REPORT_PAGE.search(p))]
        on_day = {p: uid for p, uid, _ in reports if uid in older}
        planned_reports = {p for p, uid, _ in reports if uid in planned}
        assert on_day and planned_reports and not planned_reports & set(on_day), reports  # every kind is crawled
        seen: set[str] = set()
        for path in paths:
            spied.clear()
            assert env.get(path).status_code == 200, path
            expected = (
                []
                if path.split("?")[0] in NO_GROUP_PAGE
                else [(5, None), (5, older[on_day[path]])][on_day[path] in seen :]
                if path in on_day
                else [((timeline_page_asked(path) + 1) * 100, None)]
                if TIMELINE_WITH_SCORES.search(path)
                else [(5, None)]
            )
            if path in on_day:
                seen.add(on_day[path])
            assert [(s.newest_scores, s.every_score_on) for s in spied] == expected, path
            assert all(s.every_score_of is None for s in spied) or "?alle=" in path, path


def test_the_printed_agenda_and_report_show_the_scores_up_to_their_meeting_and_say_from_which_day(
    tmp_path: Path, spied: list[LoadedGroup], caplog: pytest.LogCaptureFixture
) -> None:
    """A print for the patient to take home shows each goal's scores up to its meeting (the report's: given at it
    too; the agenda's: before it) from the newest scores, and says from which day; never a later score. The printed
    report of a meeting older than the newest scores reads every score of its day too, and shows those."""
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        since = _long_date(expected_since(env, 5), Locale("nl"))
        first, second = sorted((m for m in group.meetings if m.report is not None), key=lambda m: m.start)
        planned = next(m for m in group.meetings if m.report is None)
        # The newer meeting's printed report: the scores given at it, in one load.
        spied.clear()
        page = env.get(f"/bijeenkomsten/{second.uid}/verslag/afdrukken")
        assert page.status_code == 200 and [s.newest_scores for s in spied] == [5]
        body = main_text(page)
        assert f"Cijfers per doel Cijfers van {since} tot en met deze bijeenkomst." in body, body
        progress = body[body.index("Cijfers per doel") :]
        second_day = _long_date(second.start.astimezone(CLINIC_ZONE).date(), Locale("nl"))  # the demo: 14 days ago
        assert "Cijfers, oudste eerst" in progress and f"({second_day})" in progress, progress
        assert "Eerste stap gezet" not in body  # the house goal's score at the first meeting: before that day
        # Its agenda: the scores before it. The newest scores hold none (they are all from that meeting).
        spied.clear()
        page = env.get(f"/bijeenkomsten/{second.uid}/agenda/afdrukken")
        assert page.status_code == 200 and [s.newest_scores for s in spied] == [5]
        assert "Cijfers per doel" not in main_text(page)
        # The planned meeting's agenda: every newest score, given before it.
        body = main_text(env.get(f"/bijeenkomsten/{planned.uid}/agenda/afdrukken"))
        assert f"Cijfers per doel Cijfers van {since} tot deze bijeenkomst." in body, body
        assert body[body.index("Cijfers per doel") :].count(f"({second_day})") == 4, body
        # The older meeting's printed report: its scores (the house goal's 3), read with the newest scores as every
        # score of its day; not the newer scores of the second meeting, which were not given then.
        spied.clear()
        with caplog.at_level(logging.INFO, logger="plugin.group.service"):
            page = env.get(f"/bijeenkomsten/{first.uid}/verslag/afdrukken")
        day = first.start.astimezone(CLINIC_ZONE).date()
        assert page.status_code == 200 and [(s.newest_scores, s.every_score_on) for s in spied] == [(5, None), (5, day)]
        assert "running it again" not in caplog.text  # asked for, not the safety net's second run
        body = main_text(page)
        assert "Eerste stap gezet" in body, body
        first_day = _long_date(day, Locale("nl"))
        assert f"Cijfers per doel Cijfers van {first_day} tot en met deze bijeenkomst." in body, body
        progress = body[body.index("Cijfers per doel") :]
        assert f"3 van de 10 ({first_day})" in progress and second_day not in progress, progress
    # To the patient, and in English.
    spied.clear()
    with reading_newest(tmp_path / "sanne", 5, SANNE) as env:
        group = whole_group(env, spied)
        second = max((m for m in group.meetings if m.report is not None), key=lambda m: m.start)
        english = main_text(env.get(f"/bijeenkomsten/{second.uid}/verslag/afdrukken?lang=en"))
        assert "up to and including this meeting." in english and "Scores, oldest first" in english, english


@pytest.mark.parametrize("asked", ["another goal's", "Goal/../..", "", "refused"])
def test_a_link_to_all_scores_naming_another_goal_or_no_id_shows_every_score_all_the_same(
    tmp_path: Path, spied: list[LoadedGroup], monkeypatch: pytest.MonkeyPatch, asked: str
) -> None:
    """Another goal's id: read beside the newest, found not this goal's; not an id: the newest alone. Then this
    goal's own id, read from that load. An EHR that refuses the search by goal: the whole group. Nothing asked:
    the newest scores, and the link."""
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        house = next(g for g in group.goals if g.text == "Zelfstandig wonen")
        other = next(g for g in group.goals if g.uid != house.uid)
        own = server_id(env, "Goal", house.uid)
        value = {"another goal's": server_id(env, "Goal", other.uid), "refused": own}.get(asked, asked)
        if asked == "refused":
            monkeypatch.setattr(
                "plugin.sync.repository.goal_scores_params",
                lambda patient_id, goal, count: [("subject", f"Patient/{patient_id}"), ("no-such-parameter", "x")],
            )
        loads = {
            "another goal's": [(5, value), (5, own)],
            "Goal/../..": [(5, None), (5, own)],
            "": [(5, None)],
            "refused": [(5, None), (None, None)],  # (the refused search leaves the load without the goal's)
        }[asked]
        page = env.get(f"/doelen/{house.uid}?alle={value}")
        assert page.status_code == 200 and [(s.newest_scores, s.every_score_of) for s in spied] == loads
        body = main_text(page)
        assert ("Eerste stap gezet" in body) is bool(asked) and ("Toon alle cijfers" in body) is (not asked)


def test_the_setting() -> None:
    base = {"app": {"public_base_url": "https://app.test", "secret_key": "s" * 32}}
    assert config_from_mapping(base, env={}).overview_scores == DEFAULT_OVERVIEW_SCORES == 1000
    assert config_from_mapping({"app": {**base["app"], "overview_scores": 0}}, env={}).overview_scores == 0
    assert config_from_mapping(base, env={"RESOURCEGROEP_OVERVIEW_SCORES": "250"}).overview_scores == 250
    with pytest.raises(ConfigurationError, match="overview_scores must be a number"):
        config_from_mapping(base, env={"RESOURCEGROEP_OVERVIEW_SCORES": "veel"})
    assert config_from_mapping(base, env={"RESOURCEGROEP_OVERVIEW_SCORES": "100"}).overview_scores == 100
    # Fewer than 100 may hold no whole day: the pages would say "Cijfers vanaf <tomorrow>" and show no score.
    for few in ("-1", "1", "10", "99"):
        with pytest.raises(ConfigurationError, match=r"overview_scores must be 0 \(every score\) or at least 100"):
            config_from_mapping(base, env={"RESOURCEGROEP_OVERVIEW_SCORES": few})
    assert config_from_mapping(base, env={}).every_score_in_pages is False
    assert config_from_mapping({"app": {**base["app"], "every_score_in_pages": True}}, env={}).every_score_in_pages
    assert config_from_mapping(base, env={"RESOURCEGROEP_EVERY_SCORE_IN_PAGES": "yes"}).every_score_in_pages
    assert not config_from_mapping(base, env={"RESOURCEGROEP_EVERY_SCORE_IN_PAGES": "0"}).every_score_in_pages
    with pytest.raises(ConfigurationError, match="EVERY_SCORE_IN_PAGES must be true or false"):
        config_from_mapping(base, env={"RESOURCEGROEP_EVERY_SCORE_IN_PAGES": "soms"})


def test_set_so_the_pages_that_show_every_score_read_them_in_pages_and_show_the_same(
    tmp_path: Path, spied: list[LoadedGroup], monkeypatch: pytest.MonkeyPatch
) -> None:
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        # The timeline far back on a server that does not count the older scores: every score.
        monkeypatch.setattr(GroupRepository, "count_scores", lambda self, *args, **kwargs: None)
        pages = [f"/tijdlijn?pagina={10**6}"]
        at_once = [main_text(env.get(url)) for url in pages]
        # The page's own load of the newest scores (where the count would start), then every score.
        assert [(s.newest_scores, s.round_trips) for s in spied] == [(5, 1), (None, 1)]
        spied.clear()
        env.app.extensions["resourcegroep"]["every_score_in_pages"] = True
        load = GroupRepository.load

        def in_small_pages(self: GroupRepository, plan_id: str | None = None, **options: Any) -> LoadedGroup:
            assert not options.get("at_once")  # (no day of the demo's has more scores than a page of 5)
            self.page_size = 5  # the demo's scores in several pages
            return load(self, plan_id, **options)

        monkeypatch.setattr(GroupRepository, "load", in_small_pages)
        in_pages = [main_text(env.get(url)) for url in pages]
        assert in_pages == at_once
        assert [(s.newest_scores, s.round_trips > 1) for s in spied] == [(5, False), (None, True)]
        assert spied[-1].group == group


# ------------------------------------------------------------------------------------------------ the POST pages
# A POST reads only the newest scores too: most saves never look at a score. A save whose action needs every score
# reads the whole group itself (`GroupRepository.save`); a form page that needs them runs again on the whole group.


def versions(env: LaunchedApp) -> dict[str, str]:
    return {o["id"]: o["meta"]["versionId"] for o in env.resources("Observation")}


def whole_group(env: LaunchedApp, spied: list[LoadedGroup]) -> Any:
    """Sanne's whole group, as a page that reads every score reads it (the overview with no window of newest scores;
    the spy's record of it is cleared)."""
    settings = env.app.extensions["resourcegroep"]
    window, settings["overview_scores"] = settings["overview_scores"], None
    assert env.get("/").status_code == 200
    settings["overview_scores"] = window
    whole = spied[-1].group
    assert whole is not None and whole.scores_since is None and spied[-1].newest_scores is None
    spied.clear()
    return whole


def test_a_goal_note_is_saved_from_the_newest_scores_with_one_load(tmp_path: Path, spied: list[LoadedGroup]) -> None:
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        before = versions(env)
        goal = group.goals[0]
        saved = env.post(f"/doelen/{goal.uid}/notitie", {"note": "Gebeld met de woningcorporatie"})
        assert saved.status_code == 303, saved.get_data(as_text=True)[:500]
        assert [s.newest_scores for s in spied] == [5]  # the POST's one load: no whole read
        assert versions(env) == before  # no score rewritten
        assert "Gebeld met de woningcorporatie" in main_text(env.get(f"/doelen/{goal.uid}"))


def test_a_score_without_a_meeting_is_saved_from_the_newest_scores(tmp_path: Path, spied: list[LoadedGroup]) -> None:
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        before = versions(env)
        saved = env.post(f"/doelen/{group.goals[0].uid}/voortgang", {"score": "8", "score_note": ""})
        assert saved.status_code == 303, saved.get_data(as_text=True)[:500]
        assert [s.newest_scores for s in spied] == [5]
        after = versions(env)
        assert len(after) == len(before) + 1 and {k: after[k] for k in before} == before


@pytest.mark.parametrize("meeting", ["first", "last"])
def test_a_score_at_a_meeting_corrects_the_earlier_one_in_place(
    tmp_path: Path, spied: list[LoadedGroup], meeting: str
) -> None:
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        pick = min if meeting == "first" else max
        earlier = pick(group.progress, key=lambda p: p.when)
        assert earlier.meeting_uid is not None
        day = earlier.when.astimezone(CLINIC_ZONE).date()
        before = versions(env)
        saved = env.post(
            f"/doelen/{earlier.goal_uid}/voortgang",
            {"score": "7" if earlier.score != 7 else "6", "score_note": "", "meeting_uid": earlier.meeting_uid},
        )
        assert saved.status_code == 303, saved.get_data(as_text=True)[:500]
        # The first meeting is outside the newest five: the page's load of them, then the save's own read of them
        # with every score of the meeting's day (the action looks for the earlier score of that meeting). The
        # second meeting is in them: all of its scores are held, one load.
        loads = [(5, None), (5, day)] if meeting == "first" else [(5, None)]
        assert [(s.newest_scores, s.every_score_on) for s in spied] == loads
        after = versions(env)
        assert after.keys() == before.keys()  # corrected in place, nothing added
        assert sum(after[k] != before[k] for k in before) == 1


def test_a_form_error_on_the_goal_page_is_shown_again_from_the_newest_scores(
    tmp_path: Path, spied: list[LoadedGroup]
) -> None:
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        house = next(g for g in group.goals if g.text == "Zelfstandig wonen")
        before = versions(env)
        shown = env.post(f"/doelen/{house.uid}/voortgang", {"score": "11", "score_note": "Bewaar mij"})
        assert shown.status_code == 422 and [s.newest_scores for s in spied] == [5]
        body = main_text(shown)
        assert "Cijfers vanaf" in body and "Eerste stap gezet" not in body  # as the goal page's GET shows it
        assert "Bewaar mij" in shown.get_data(as_text=True)  # nothing typed is lost
        assert versions(env) == before


def test_a_page_that_reads_the_newest_scores_as_every_score_runs_again_on_the_whole_group(
    tmp_path: Path, spied: list[LoadedGroup], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net under every view: a page that reads a load of the newest scores as all of them raises before
    anything is shown or sent, and is made again from the whole group (here: a goal page made to need every score,
    on its GET and after a form error of its POST)."""
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        house = next(g for g in group.goals if g.text == "Zelfstandig wonen")
        monkeypatch.setattr(ResourceGroup, "held_scores_for", ResourceGroup.progress_for)
        page = env.get(f"/doelen/{house.uid}")
        assert page.status_code == 200 and [s.newest_scores for s in spied] == [5, None]
        assert "Eerste stap gezet" in main_text(page)
        spied.clear()
        before = versions(env)
        shown = env.post(f"/doelen/{house.uid}/voortgang", {"score": "11", "score_note": "Bewaar mij"})
        assert shown.status_code == 422 and [s.newest_scores for s in spied] == [5, None]
        assert "Eerste stap gezet" in main_text(shown) and "Bewaar mij" in shown.get_data(as_text=True)
        assert versions(env) == before


def test_the_report_of_a_meeting_held_since_the_newest_scores_first_day_reads_and_saves_from_them(
    tmp_path: Path, spied: list[LoadedGroup]
) -> None:
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        second = max((m for m in group.meetings if m.report is not None), key=lambda m: m.start)
        house = next(g for g in group.goals if g.text == "Zelfstandig wonen")
        [earlier] = [p for p in group.progress if p.meeting_uid == second.uid and p.goal_uid == house.uid]
        url = f"/bijeenkomsten/{second.uid}/verslag"
        page = env.get(url)
        assert page.status_code == 200 and [s.newest_scores for s in spied] == [5]
        assert earlier.note in page.get_data(as_text=True)  # the form holds the meeting's scores
        # A correction of the house goal's score at this meeting: saved from the newest scores, in place.
        spied.clear()
        before = len(env.resources("Observation"))
        data = {"samenvatting": "Het ging over wonen.", "besluiten": "", "overig": ""}
        data |= {"scores-0-goal": house.uid, "scores-0-score": "6", "scores-0-note": earlier.note}
        saved = env.post(url, data)
        assert saved.status_code == 303, main_text(saved)[:1000]
        assert [s.newest_scores for s in spied] == [5]
        assert len(env.resources("Observation")) == before
        scores = [o for o in env.resources("Observation") if earlier.uid in str(o.get("identifier"))]
        assert [o["valueInteger"] for o in scores] == [6]


@pytest.mark.parametrize("which", ["older", "planned"])
def test_the_report_of_an_older_or_a_planned_meeting_reads_its_scores_also_to_save(
    tmp_path: Path, spied: list[LoadedGroup], caplog: pytest.LogCaptureFixture, which: str
) -> None:
    """Its scores may be older than the newest scores' first day: the page asks for more after those (a second
    request), not the safety net: the newest scores and every score of its day (a score at a meeting counts at its
    start). It stays older than the newest scores: the app remembers it, and its next page reads them at once. A
    meeting still planned the same (one never marked held, weeks after its day), not every score: the app gives no
    score at a planned meeting, and another system's counts at the meeting's start too."""
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        oldest = min((m for m in group.meetings if m.report is not None), key=lambda m: m.start)
        meeting = oldest
        if which == "planned":  # the demo's planned meeting, moved to a week before the oldest held one
            meeting = next(m for m in group.meetings if m.is_planned)
            [appointment] = [
                a for a in env.resources("Appointment") if any(i["value"] == meeting.uid for i in a["identifier"])
            ]
            moved = {k: v for k, v in appointment.items() if k != "meta"}
            length = datetime.fromisoformat(moved["end"]) - datetime.fromisoformat(moved["start"])
            start = oldest.start - timedelta(days=7)
            moved["start"], moved["end"] = start.isoformat(), (start + length).isoformat()
            env.store.load([moved])
            meeting = dataclasses.replace(meeting, start=start)
        day = meeting.start.astimezone(CLINIC_ZONE).date()
        first, then = [(5, None), (5, day)], [(5, day)]
        spied.clear()
        url = f"/bijeenkomsten/{meeting.uid}/verslag"
        with caplog.at_level(logging.INFO, logger="plugin.group.service"):
            page = env.get(url)
            assert page.status_code == 200 and [(s.newest_scores, s.every_score_on) for s in spied] == first
            if which == "older":  # the form holds the meeting's scores, the older one among them
                assert "Eerste stap gezet" in page.get_data(as_text=True)
            spied.clear()
            data = {"samenvatting": "Het ging over wonen.", "besluiten": "", "overig": ""}
            saved = env.post(url, data)
        assert saved.status_code == 303, main_text(saved)[:1000]
        # The save from the page's load (no third read).
        assert [(s.newest_scores, s.every_score_on) for s in spied] == then
        assert "running it again" not in caplog.text
        spied.clear()
        assert env.get(url).status_code == 200
        assert [(s.newest_scores, s.every_score_on) for s in spied] == then


def test_a_report_page_that_reads_an_older_meetings_scores_without_asking_runs_again_with_that_day(
    tmp_path: Path, spied: list[LoadedGroup], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The safety net for a meeting's scores: a view that reads an older meeting's scores from a load of the newest
    raises before anything is shown, naming the meeting's day, and runs again on the newest scores and that day's
    (not on the whole group)."""
    from plugin.notes import views as notes_views

    def unasked(see: Any, meeting_uid: str, *, with_report_only: bool = False) -> Any:
        page = notes_views.group_page(see)
        return page, notes_views._notes(page, meeting_uid)

    monkeypatch.setattr(notes_views, "_meeting_page", unasked)
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        meeting = min((m for m in group.meetings if m.report is not None), key=lambda m: m.start)
        day = meeting.start.astimezone(CLINIC_ZONE).date()
        with caplog.at_level(logging.INFO, logger="plugin.group.service"):
            page = env.get(f"/bijeenkomsten/{meeting.uid}/verslag")
        assert page.status_code == 200 and "Eerste stap gezet" in page.get_data(as_text=True)
        assert [(s.newest_scores, s.every_score_on) for s in spied] == [(5, None), (5, day)]
        assert f"needs the scores of {day}" in caplog.text


def test_a_page_that_reads_every_score_after_its_save_is_not_run_again(
    tmp_path: Path, spied: list[LoadedGroup], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Running a view again after its save went through would answer the submission as a repeat: it raises."""
    from plugin.group.service import current_service
    from plugin.web import actions

    announce = actions.announce

    def and_read_every_score(*args: Any, **kwargs: Any) -> None:
        announce(*args, **kwargs)
        page = current_service().page()
        assert page.group is not None
        len(page.group.progress)  # a window read as every score: raises

    monkeypatch.setattr(actions, "announce", and_read_every_score)
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        before = len(env.resources("Observation"))
        with caplog.at_level(logging.ERROR):
            failed = env.post(f"/doelen/{group.goals[0].uid}/voortgang", {"score": "8", "score_note": ""})
        assert failed.status_code == 500
        assert any(isinstance(r.exc_info[1], ScoresNotLoaded) for r in caplog.records if r.exc_info)
        assert len(env.resources("Observation")) == before + 1  # saved once
        assert [s.newest_scores for s in spied] == [5]  # and not read again


def test_a_remembered_day_that_is_no_longer_the_meetings_is_read_anew_and_remembered(
    tmp_path: Path, spied: list[LoadedGroup], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's memory of an older meeting's day is a hint: when the meeting is not on that day (another system
    moved it), the page reads the newest scores with the day the meeting is on now, and remembers that one."""
    from plugin.notes import views as notes_views

    older = notes_views._OlderMeetings()
    monkeypatch.setattr(notes_views, "_older_meetings", older)
    with reading_newest(tmp_path, 5) as env:
        group = whole_group(env, spied)
        meeting = min((m for m in group.meetings if m.report is not None), key=lambda m: m.start)
        day = meeting.start.astimezone(CLINIC_ZONE).date()
        url = f"/bijeenkomsten/{meeting.uid}/verslag"
        assert env.get(url).status_code == 200
        [key] = older._known
        assert older.get(key) == day
        wrong = day - timedelta(days=3)
        older.add(key, wrong)
        spied.clear()
        page = env.get(url)
        assert page.status_code == 200 and "Eerste stap gezet" in page.get_data(as_text=True)
        assert [(s.newest_scores, s.every_score_on) for s in spied] == [(5, wrong), (5, day)]
        assert older.get(key) == day
        spied.clear()
        assert env.get(url).status_code == 200
        assert [(s.newest_scores, s.every_score_on) for s in spied] == [(5, day)]
