"""A whole resource group in a real browser, inside the sandbox EPD's iframe, then checked in the FHIR store.

Daan Mulder (no group yet) gets a group from the first launch to the end: members nominated, interviewed and
admitted; goals and agreements; a meeting with place, chair, agenda and report with scores; the group ended.
Every main page is checked with axe-core and saved as a screenshot; one form is done with the keyboard only;
hostile text (script tags, quotes, right-to-left text, emoji) must come back literally and never run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.e2e.browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WIDE,
    AppInEpd,
    all_of,
    choose,
    group_resources,
    ui,
)
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.e2e

PATIENT = "Patient/daan-mulder"
PRACTITIONER = "Practitioner/anna-de-vries"
CS = "https://resourcegroep.nl/fhir/CodeSystem/"
RTL = "مرحبا שלום"
HOSTILE = f"<script>alert(1)</script>\"'& {RTL} 🎉👩🏽‍⚕️"
GROUP_NAME = f"Team Daan {HOSTILE}"
LONG_GOALS = (f"Zelf koken en wonen {HOSTILE}", "Werk vinden dat bij me past")
SHORT_GOALS = ("Huurtoeslag aanvragen", "Een cv maken met de jobcoach")
CIRCLE = (("Ans Mulder", "MTH", "06-12345678", "ans@example.nl"), ("Karim Haddad", "FRND", "", ""))
PRACTITIONER_NOMINEE = ("Smit", "Practitioner/lotte-smit", "Lotte Smit")
INTERVIEW = {
    "Expectations": "Wil weten hoe het met Daan gaat",
    "Commitment": "Eens per drie maanden, en tussendoor bellen",
    "Relationship with the patient": "Kent Daan al lang",
    "What they can contribute": "Helpt met formulieren en koken",
}
AGREEMENTS = (f"Samen het formulier invullen {HOSTILE}", "Drie vacatures opzoeken")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("group-browser-stack")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def app(browser: Browser, stack: Stack) -> Iterator[AppInEpd]:
    context = browser.new_context(locale="nl-NL", viewport={"width": WIDE, "height": 900})
    context.set_default_timeout(10_000)
    try:
        running = AppInEpd(context.new_page(), stack)
        running.watch_dialogs()
        yield running
    finally:
        context.close()


def amsterdam_today() -> date:
    """Today as the app sees it (Europe/Amsterdam)."""
    return datetime.now(ZoneInfo("Europe/Amsterdam")).date()


def codes(concepts: list[dict[str, Any]] | None, system: str) -> set[str]:
    """The codes of `system` in a list of CodeableConcepts."""
    return {c["code"] for cc in concepts or [] for c in cc.get("coding") or [] if c.get("system") == system}


# ---------------------------------------------------------------------- steps in the browser


def start_group(app: AppInEpd) -> None:
    frame = app.frame
    expect(app.h1()).to_have_text(ui("Start a resource group"))
    frame.get_by_label(ui("Name of the group")).fill(GROUP_NAME)
    app.save(frame.get_by_role("button", name=ui("Start the group")))
    expect(app.h1()).to_have_text(ui("Overview"))
    expect(frame.locator(".group-name")).to_contain_text(GROUP_NAME)


def nominate(app: AppInEpd) -> list[str]:
    """Nominate two people from the patient's circle and one practitioner found by searching; their names."""
    frame = app.frame
    app.nav("Members")
    for name, relationship, phone, email in CIRCLE:
        app.follow(frame.get_by_role("link", name=ui("Nominate someone")))
        form = frame.locator("form", has=frame.get_by_role("button", name=ui("Nominate this person")))
        form.get_by_label(ui("Name")).fill(name)
        form.get_by_label(ui("Who is this for the patient?")).select_option(relationship)
        form.get_by_label(ui("Phone number (optional)")).fill(phone)
        form.get_by_label(ui("E-mail address (optional)")).fill(email)
        app.save(form.get_by_role("button", name=ui("Nominate this person")))

    search, reference, display = PRACTITIONER_NOMINEE
    app.follow(frame.get_by_role("link", name=ui("Nominate someone")))
    app.check_page("nominate")
    frame.get_by_label(ui("Name of the practitioner")).fill(search)
    app.follow(frame.get_by_role("search").get_by_role("button", name=ui("Search")))
    pick = frame.locator("form", has=frame.locator(f"input[name=practitioner][value='{reference}']"))
    expect(pick.get_by_role("button")).to_contain_text(display)
    app.save(pick.get_by_role("button"))
    names = [c[0] for c in CIRCLE] + [display]
    nominees = frame.locator("section", has=frame.locator("#nominees-h"))
    for name in names:
        expect(nominees.get_by_role("link", name=name, exact=True)).to_be_visible()
    return names


def interview_and_admit(app: AppInEpd, name: str, *, core: bool = False) -> None:
    """Plan the introductory interview (yesterday), write it down (four topics), and admit the nominee."""
    frame = app.frame
    app.nav("Members")
    app.follow(frame.get_by_role("link", name=name, exact=True))
    yesterday = amsterdam_today() - timedelta(days=1)
    frame.get_by_label(ui("Date and time of the introductory interview")).fill(f"{yesterday.isoformat()}T14:00")
    app.save(frame.get_by_role("button", name=ui("Save the date")))
    expect(frame.get_by_label(ui("When was the interview held?"))).to_have_value(f"{yesterday.isoformat()}T14:00")
    for section, text in INTERVIEW.items():
        frame.get_by_label(ui(section)).fill(f"{text} ({name})")
    app.save(frame.get_by_role("button", name=ui("Save the interview")))
    frame.get_by_label(ui("becomes a member of the group")).check()
    app.save(frame.get_by_role("button", name=ui("Save")))
    if core:
        app.save(frame.get_by_role("button", name=ui("Make core member")))
        app.check_page("member")


def add_goal_with_the_keyboard(app: AppInEpd, text: str) -> None:
    """The whole 'add a goal' form with Tab, typing and Enter only; every stop shows where the focus is."""
    frame = app.frame
    keyboard = app.page.keyboard
    frame.locator("main").focus()  # where the skip link lands: the start of the page's content
    app.tab_to("#text")
    keyboard.type(text)
    app.tab_to("input[name=term]")  # into the term radios: arrow keys choose within the group
    for _ in range(2):
        if frame.locator("#term-0").is_checked():
            break
        keyboard.press("ArrowUp")
    expect(frame.get_by_label(ui("long term"))).to_be_checked()
    app.tab_to("#life_area")
    keyboard.type(app.dutch("living")[:3])  # type-ahead in a closed select
    expect(frame.locator("#life_area")).to_have_value("wonen")
    app.tab_to("button[type=submit]")
    app.save_with_enter()


def add_goals(app: AppInEpd) -> None:
    """Two long-term goals (one typed with the keyboard only) and a short-term step under each."""
    frame = app.frame
    app.nav("Goals")
    app.follow(frame.get_by_role("link", name=ui("Add a goal")))
    add_goal_with_the_keyboard(app, LONG_GOALS[0])

    app.follow(frame.get_by_role("link", name=ui("Add a goal")))
    frame.get_by_label(ui("The goal")).fill(LONG_GOALS[1])
    frame.get_by_label(ui("long term")).check()
    frame.get_by_label(ui("Life area")).select_option("dagbesteding-werk")
    app.save(frame.get_by_role("button", name=ui("Add goal")))

    # A step from the long-term goal's own link: term and goal are chosen already.
    first = frame.locator("article.goal-card", has=frame.get_by_role("heading", name=LONG_GOALS[0], exact=True))
    app.follow(first.get_by_role("link", name=ui("Add a step", exact=False)))
    expect(frame.get_by_label(ui("short term"))).to_be_checked()
    frame.get_by_label(ui("The goal")).fill(SHORT_GOALS[0])
    app.save(frame.get_by_role("button", name=ui("Add goal")))

    # A step made by hand: short term, and the long-term goal chosen from the list.
    app.follow(frame.get_by_role("link", name=ui("Add a goal")))
    frame.get_by_label(ui("The goal")).fill(SHORT_GOALS[1])
    frame.get_by_label(ui("short term")).check()
    choose(frame.get_by_label(ui("Step towards the long-term goal")), LONG_GOALS[1])
    frame.get_by_label(ui("Reached by (optional)")).fill((amsterdam_today() + timedelta(days=60)).isoformat())
    app.save(frame.get_by_role("button", name=ui("Add goal")))

    for text in LONG_GOALS:  # shown back literally: the hostile text is text, not markup
        expect(frame.get_by_role("heading", level=3, name=text, exact=True)).to_be_visible()
    for parent, step in zip(LONG_GOALS, SHORT_GOALS, strict=True):
        card = frame.locator("article.goal-card", has=frame.get_by_role("heading", name=parent, exact=True))
        expect(card.get_by_role("heading", level=4, name=step, exact=True)).to_be_visible()
    app.check_no_dialogs()


def make_agreements(app: AppInEpd, owners: tuple[str, str]) -> None:
    """Two agreements: one for a goal with a date ahead, one already past its date (it must stand out)."""
    frame = app.frame
    app.nav("Agreements")
    for text, owner, goal, days in (
        (AGREEMENTS[0], owners[0], SHORT_GOALS[0], 21),
        (AGREEMENTS[1], owners[1], LONG_GOALS[1], -3),
    ):
        app.follow(frame.get_by_role("link", name=ui("Make an agreement")))
        frame.get_by_label(ui("What will be done")).fill(text)
        choose(frame.get_by_label(ui("Who does it")), owner)
        frame.get_by_label(ui("By when (optional)")).fill((amsterdam_today() + timedelta(days=days)).isoformat())
        choose(frame.get_by_label(ui("For which goal (optional)")), goal)
        app.save(frame.get_by_role("button", name=ui("Make agreement")))
    table = frame.locator("table.agreements").first
    expect(table.get_by_role("rowheader", name=AGREEMENTS[0], exact=True)).to_be_visible()
    late = frame.locator("tr.overdue")
    expect(late).to_have_count(1)
    expect(late).to_contain_text(AGREEMENTS[1])
    app.check_no_dialogs()
    app.check_page("agreements")


PLACE = "Buurthuis De Linde"
PLACE_ADDRESS = "Lindelaan 4, Den Bosch"


def plan_meeting(app: AppInEpd, chair: str, minutes: str, time_keeper: str) -> str:
    """Plan a meeting at a new place with a theme, agree the roles, invite everyone, note answers; its URL."""
    frame = app.frame
    app.nav("Meetings")
    app.check_page("meetings")
    app.follow(frame.get_by_role("link", name=ui("Plan a meeting")))
    # The form proposes a date and 60 minutes; the place is new and the theme one of the list.
    expect(frame.get_by_label(ui("Date and start time"))).not_to_have_value("")
    expect(frame.get_by_label(ui("How long (minutes)"))).to_have_value("60")
    frame.get_by_label(ui("A new place")).check()
    frame.get_by_label(ui("Name of the new place")).fill(PLACE)
    frame.get_by_label(ui("Address of the new place")).fill(PLACE_ADDRESS)
    frame.get_by_label(ui("Theme"), exact=True).select_option("stress")
    app.save(frame.get_by_role("button", name=ui("Plan the meeting")))
    detail_url = frame.url
    expect(frame.locator("main dl.facts")).to_contain_text(PLACE)

    choose(frame.get_by_label(ui("Chair")), chair)
    choose(frame.get_by_label(ui("Minute taker")), minutes)
    choose(frame.get_by_label(ui("Time keeper")), time_keeper)
    app.save(frame.get_by_role("button", name=ui("Save roles")))
    expect(frame.get_by_label(ui("Chair"))).to_have_value(re.compile(".+"))

    expect(frame.get_by_label(ui("Message"))).to_contain_text(PLACE)
    app.save(frame.get_by_role("button", name=ui("Send the invitation")))
    expect(frame.locator("ul.invitations li")).to_have_count(1)

    answers = frame.locator("form", has=frame.get_by_role("button", name=ui("Save answers")))
    answers.get_by_label(chair, exact=True).select_option("accepted")
    answers.get_by_label(time_keeper, exact=True).select_option("tentative")
    app.save(answers.get_by_role("button", name=ui("Save answers")))

    calendar = app.download(frame.get_by_role("link", name=ui("Download for your calendar (.ics)")))
    assert "BEGIN:VCALENDAR" in calendar and "Buurthuis De Linde" in calendar, calendar
    app.check_page("meeting-detail")
    return detail_url


def end_group(app: AppInEpd) -> None:
    frame = app.frame
    app.nav("Overview")
    app.follow(frame.get_by_role("link", name=ui("End the group")))
    frame.get_by_label(ui("Yes, I am sure")).check()
    app.save(frame.get_by_role("button", name=ui("End the group")))
    expect(frame.locator(".group-name .badge")).to_have_text(ui("ended"))


# ---------------------------------------------------------------------- checks in the FHIR store


def check_store(app: AppInEpd) -> None:
    found = group_resources(app.stack, PATIENT)
    teams = [t for t in found["CareTeam"] if "resourcegroep" in codes(t.get("category"), CS + "artifact")]
    assert len(teams) == 1, teams
    team = teams[0]
    assert team["name"] == GROUP_NAME  # stored literally, not escaped
    assert team["status"] == "inactive" and team["period"].get("end")
    plans = found["CarePlan"]
    assert len(plans) == 1
    plan = plans[0]
    assert plan["status"] == "completed" and plan["title"] == GROUP_NAME
    assert plan["careTeam"][0]["reference"] == f"CareTeam/{team['id']}"

    roles = {p["member"]["reference"]: codes(p.get("role"), CS + "member-role") for p in team["participant"]}
    assert roles[PATIENT] >= {"regisseur"}
    assert roles[PRACTITIONER] >= {"regieondersteuner"}

    check_provenance(app, found)


def check_provenance(app: AppInEpd, found: dict[str, list[dict[str, Any]]]) -> None:
    ours = {f"{rtype}/{r['id']}" for rtype, rs in found.items() for r in rs}
    mine = [
        p for p in all_of(app.stack, "Provenance")
        if any(t.get("reference") in ours for t in p.get("target") or [])
    ]
    assert len(mine) == app.saves, f"{len(mine)} Provenances for {app.saves} saves"
    for prov in mine:
        who = prov["agent"][0]["who"]["reference"]
        assert who.endswith(PRACTITIONER), who


# ---------------------------------------------------------------------- the test


def test_a_whole_resource_group_in_the_epd_iframe(app: AppInEpd, stack: Stack) -> None:
    started = time.perf_counter()
    app.launch("Anna de Vries", "Daan Mulder")
    app.check_page("start")
    start_group(app)
    app.check_page("overview", narrow=True)

    mother, friend, practitioner = nominate(app)
    for name in (mother, friend, practitioner):
        interview_and_admit(app, name, core=name == mother)
    app.nav("Members")
    app.check_page("members")

    add_goals(app)
    app.check_page("goals")
    make_agreements(app, owners=(mother, practitioner))
    plan_meeting(app, chair=mother, minutes="Anna de Vries", time_keeper=friend)

    end_group(app)
    app.check_page("overview-ended")

    app.check_no_dialogs()
    with app.timed("store checks"):
        check_store(app)
    app.timings["total"] = time.perf_counter() - started
    print("\ntimings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in app.timings.items()) + f"; {app.saves} saves")
    assert app.accessibility_report() == "", "serious or critical axe violations:\n" + app.accessibility_report()
