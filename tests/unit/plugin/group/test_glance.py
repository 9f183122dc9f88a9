"""The group at a glance (plugin.group.overview.glance): counts, countdown, agreements and the score trend."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from fhir_mappings.codes import AgreementStatus, GoalTerm, MeetingStatus, MemberRole, NominationState
from fhir_mappings.model import CLINIC_ZONE, Agreement, Goal, Meeting, Member, ProgressScore, ResourceGroup, dutch_date
from plugin.group import overview
from plugin.group.overview import glance, soonest_agreements
from tests.support.ui import launched
from tests.unit.language.crawl import as_portal_user

NOW = datetime(2026, 12, 1, 23, 30, tzinfo=CLINIC_ZONE)  # late in the evening: the countdown counts calendar days


def member(uid: str, nomination: NominationState = NominationState.LID, *, core: bool = False, **kw: object) -> Member:
    return Member(
        uid=uid, who=f"RelatedPerson/{uid}", display=uid, roles={MemberRole.LID}, core=core, nomination=nomination, **kw
    )  # type: ignore[arg-type]


def group(**kw: object) -> ResourceGroup:
    patient = Member(
        uid="p",
        who="Patient/p",
        display="Sanne",
        roles={MemberRole.REGISSEUR},
        nomination=NominationState.LID,
        core=True,
    )
    members = [patient, *kw.pop("members", [])]  # type: ignore[misc]
    return ResourceGroup(uid="ct", plan_uid="cp", patient="Patient/p", name="G", members=members, **kw)  # type: ignore[arg-type]


def test_members_core_and_flexible_without_the_patient_and_nominees_apart() -> None:
    g = group(
        members=[
            member("a", core=True),
            member("b"),
            member("c"),
            member("n1", NominationState.GENOMINEERD),
            member("n2", NominationState.GESPREK_GEPLAND),
            member("gone", end=date(2026, 1, 1)),
            member("no", NominationState.AFGEZIEN),
        ]
    )
    seen = glance(g, NOW, [])
    assert (seen.core, seen.flexible, seen.nominees) == (1, 2, 2)


def test_next_meeting_countdown_in_calendar_days() -> None:
    tomorrow_morning = NOW.replace(hour=9) + timedelta(days=1)
    later = NOW + timedelta(days=12)
    g = group(
        meetings=[
            Meeting(uid="m2", start=later),
            Meeting(uid="m1", start=tomorrow_morning),
            Meeting(uid="old", start=NOW - timedelta(days=30), status=MeetingStatus.FULFILLED),
        ]
    )
    seen = glance(g, NOW, [])
    assert seen.next_meeting == tomorrow_morning
    assert seen.days_to_meeting == 1
    assert glance(group(), NOW, []).days_to_meeting is None
    assert glance(group(), NOW, []).next_meeting is None


def test_open_and_overdue_agreements_of_the_listed_ones() -> None:
    listed = [
        Agreement(uid="1", description="late", due=date(2026, 11, 30)),
        Agreement(uid="2", description="today", due=date(2026, 12, 1)),
        Agreement(uid="3", description="no date"),
        Agreement(uid="4", description="done", due=date(2026, 1, 1), status=AgreementStatus.COMPLETED),
    ]
    seen = glance(group(agreements=listed), NOW, listed)
    assert (seen.open_agreements, seen.overdue_agreements) == (3, 1)


def test_the_overview_names_the_agreements_with_the_soonest_date() -> None:
    listed = [
        Agreement(uid="1", description="no date"),
        Agreement(uid="2", description="later", due=date(2027, 1, 5)),
        Agreement(uid="3", description="late", due=date(2026, 11, 30)),
        Agreement(uid="4", description="no date either"),
        Agreement(uid="5", description="soon", due=date(2026, 12, 3)),
    ]
    assert [a.uid for a in soonest_agreements(listed, 3)] == ["3", "5", "2"]
    assert [a.uid for a in soonest_agreements(listed, 10)] == ["3", "5", "2", "1", "4"]  # undated: as listed


def test_a_long_list_of_open_agreements_on_the_overview_says_how_many_there_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overview, "OVERVIEW_AGREEMENTS", 1)
    with launched(tmp_path, patient="sanne-bakker") as env:
        part = _html(env.get("/")).split('id="agreements-h"', 1)[1].split("</section>", 1)[0]
        every = _html(env.get("/afspraken")).split('id="open-h"', 1)[1].split("</section>", 1)[0]
    named = re.findall(r"<li[^>]*>\s*(?:<a [^>]*>)?([^<]+)", part)
    total = every.count("<tr") - 1  # the table's rows but its head
    assert total >= 2 and len(named) == 1, (named, total)
    assert "Sportschool uitzoeken" in named[0]  # past its date: the soonest
    assert 'class="overdue"' in part and f"De 1 met de eerste datum, van {total} open afspraken." in part
    assert "Alle afspraken" in part  # the way to all of them


@pytest.mark.parametrize("who", ["patient", "member"])
def test_a_long_list_of_open_agreements_on_a_home_says_how_many_there_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, who: str
) -> None:
    """The patient's home lists the group's open agreements, a member's home their own: the soonest few, as the
    care professional's overview does, and how many there are; the agreements page has them all."""
    monkeypatch.setattr(overview, "OVERVIEW_AGREEMENTS", 1)
    with launched(tmp_path, patient="sanne-bakker") as env:
        if who == "patient":
            as_portal_user(env, "Patient/sanne-bakker")
            soonest, total = "Sportschool uitzoeken", 2  # past its date; among the group's open agreements
        else:
            # Lotte's own: the demo's "Cv bijwerken" (in two weeks) and one made now with a sooner date.
            made = env.post("/afspraken/nieuw", {"description": "Vacatures bekijken", "owner": LOTTE, "due": SOON})
            assert made.status_code == 303, made.get_data(as_text=True)[-800:]
            as_portal_user(env, LOTTE)
            soonest, total = "Vacatures bekijken", 2
        part = _html(env.get("/")).split('id="agreements-h"', 1)[1].split("</section>", 1)[0]
        every = _html(env.get("/afspraken")).split('id="open-h"', 1)[1].split("</section>", 1)[0]
    named = re.findall(r"<li[^>]*>\s*(?:<a [^>]*>)?([^<]+)", part)
    listed = every.count("<tr") - 1  # the agreements page: the table's rows but its head
    assert len(named) == 1 and soonest in named[0], named
    assert listed >= total and f"De 1 met de eerste datum, van {listed} open afspraken." in part, part
    assert "afspraken</a>" in part  # the way to all of them
    monkeypatch.setattr(overview, "OVERVIEW_AGREEMENTS", 10)
    with launched(tmp_path / "all", patient="sanne-bakker") as env:
        if who == "member":
            env.post("/afspraken/nieuw", {"description": "Vacatures bekijken", "owner": LOTTE, "due": SOON})
        as_portal_user(env, "Patient/sanne-bakker" if who == "patient" else LOTTE)
        part = _html(env.get("/")).split('id="agreements-h"', 1)[1].split("</section>", 1)[0]
    assert len(re.findall(r"<li[^>]*>", part)) == listed and "met de eerste datum" not in part


LOTTE = "Practitioner/lotte-smit"
SOON = (date.today() + timedelta(days=3)).strftime("%d-%m-%Y")


def scores(*pairs: tuple[str, int], start: datetime = NOW - timedelta(days=100)) -> list[ProgressScore]:
    return [
        ProgressScore(uid=f"s{i}", goal_uid=goal, when=start + timedelta(days=10 * i), score=score)
        for i, (goal, score) in enumerate(pairs)
    ]


def goals() -> list[Goal]:
    return [
        Goal(uid="g1", text="Zelf boodschappen doen", term=GoalTerm.KORT),
        Goal(uid="g2", text="Weer werken", term=GoalTerm.LANG),
    ]


def test_trend_compares_the_latest_score_with_the_one_before_on_the_same_goal() -> None:
    up = glance(group(goals=goals(), progress=scores(("g1", 3), ("g2", 8), ("g1", 5))), NOW, [])
    assert (up.trend, up.last_score, up.trend_goal) == ("up", 5, "Zelf boodschappen doen")
    down = glance(group(goals=goals(), progress=scores(("g2", 6), ("g1", 9), ("g2", 4))), NOW, [])
    assert (down.trend, down.last_score, down.trend_goal) == ("down", 4, "Weer werken")
    flat = glance(group(goals=goals(), progress=scores(("g1", 6), ("g1", 6))), NOW, [])
    assert flat.trend == "flat"


def test_no_trend_from_a_single_score_and_nothing_without_scores() -> None:
    one = glance(group(goals=goals(), progress=scores(("g1", 3), ("g2", 7))), NOW, [])
    assert (one.trend, one.last_score) == (None, 7)
    none = glance(group(goals=goals()), NOW, [])
    assert (none.trend, none.last_score, none.trend_goal) == (None, None, None)


# ---------------------------------------------------------------------- on the pages (real app, demo data)


def _html(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def test_the_overview_shows_the_glance_strip_sparklines_and_decorative_icons(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        html = _html(env.get("/"))
        strip = html.split('<ul class="glance"', 1)[1].split("</ul>", 1)[0]
        assert "2 kern, 2 flexibel" in strip  # Ans (core), Karim and Lotte; Anna is core; Sanne is not counted
        assert "over " in strip and " dagen" in strip
        assert "1 over de datum" in strip  # Karim's agreement
        goals = html.split('id="goals-h"', 1)[1].split("</section>", 1)[0]
        assert goals.count('class="sparkline"') == 4 and "van de 10" in goals
        assert 'style="' not in html  # CSP: no inline style
        for img in re.findall(r'<img class="icon"[^>]*>', html):
            assert 'alt=""' in img and 'aria-hidden="true"' in img


def test_an_older_meetings_print_shows_no_score_given_after_it(tmp_path: Path) -> None:
    """The demo's first meeting (two scores given at it) and its second (a score per goal): the first's printed
    report and agenda never show the second's scores as if given then; the second's show both meetings'."""
    with launched(tmp_path, patient="sanne-bakker") as env:
        meetings = _html(env.get("/bijeenkomsten"))
        sections = {}
        for uid in dict.fromkeys(re.findall(r'/bijeenkomsten/(?!nieuw)([^/"?#]+)"', meetings)):
            printed = _html(env.get(f"/bijeenkomsten/{uid}/verslag/afdrukken"))
            if 'id="progress-h"' in printed and "Er is nog geen verslag." not in printed:
                sections[uid] = printed.split('id="progress-h"', 1)[1]
        # The demo's second meeting was 14 days ago (sandbox.demo_data), its scores given then.
        later = dutch_date(date.today() - timedelta(days=14))
        first, second = sorted(sections, key=lambda uid: later in sections[uid])
        assert later in sections[second]
        assert "De cijfers tot en met deze bijeenkomst." in sections[first]
        assert sections[first].count('class="sparkline"') == 2 and later not in sections[first]
        assert "3 van de 10" in sections[first] and "3 → 5" not in sections[first]
        assert sections[second].count('class="sparkline"') == 4 and "3 → 5" in sections[second]
        agenda = _html(env.get(f"/bijeenkomsten/{second}/agenda/afdrukken")).split('id="progress-h"', 1)[1]
        assert "De cijfers tot deze bijeenkomst." in agenda and later not in agenda, agenda
        assert agenda.count('class="sparkline"') == 2  # the first meeting's two goals, scored before it
        assert 'id="progress-h"' not in _html(env.get(f"/bijeenkomsten/{first}/agenda/afdrukken"))


def test_the_report_print_view_has_the_progress_charts_but_not_for_a_member(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        meetings = _html(env.get("/bijeenkomsten"))
        uid = re.findall(r'/bijeenkomsten/(?!nieuw)([^/"?#]+)"', meetings)[0]
        printed = _html(env.get(f"/bijeenkomsten/{uid}/verslag/afdrukken"))
        progress = printed.split('id="progress-h"', 1)[1]
        assert progress.count('class="sparkline"') == 4 and "3 → 5" in progress
    with launched(tmp_path / "member", patient="sanne-bakker", user="Practitioner/lotte-smit") as env:
        uid = re.findall(r'/bijeenkomsten/(?!nieuw)([^/"?#]+)"', _html(env.get("/bijeenkomsten")))[0]
        printed = _html(env.get(f"/bijeenkomsten/{uid}/verslag/afdrukken"))
        assert "Verslag van de bijeenkomst" in printed and 'id="progress-h"' not in printed
