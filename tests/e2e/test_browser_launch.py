"""End-to-end EHR launch in a real browser: EPD patient page -> app inside the iframe; axe-core checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def _blocking(results: Any) -> list[str]:
    """The serious and critical axe violations, one readable line each."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING_IMPACTS
    ]


def _open_patient_app(page: Page, stack: Stack) -> None:
    page.goto(stack.epd_url)
    page.get_by_label("Anna de Vries", exact=False).check()
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_url(f"{stack.sandbox_url}/epd/patients")
    page.get_by_role("link", name="Sanne Bakker").click()
    page.wait_for_url(f"{stack.sandbox_url}/epd/patients/sanne-bakker")
    page.get_by_role("link", name="Resourcegroep", exact=True).click()
    page.wait_for_url(f"{stack.sandbox_url}/epd/patients/sanne-bakker/app")


def test_ehr_launch_shows_the_patient_inside_the_epd_iframe(page: Page, stack: Stack) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    _open_patient_app(page, stack)

    frame = page.frame_locator("iframe.app-frame")
    expect(frame.locator("h1")).to_have_text("Overzicht", timeout=30_000)  # the group's context view
    expect(frame.locator("#members-h")).to_have_text("Leden")
    app_frame = next(f for f in page.frames if f.url.startswith(stack.app_url))
    assert "/c/" in app_frame.url
    # The launch summary (linked as /verbinding) names the patient and the user of this launch.
    app_frame.goto(app_frame.url + "verbinding")
    facts = frame.locator("dl.facts")
    expect(facts).to_contain_text("Sanne Bakker")
    expect(facts).to_contain_text("Anna de Vries")
    page.screenshot(path=str(ARTIFACTS / "ehr-launch-patient-page.png"), full_page=True)


def test_epd_patient_page_has_no_serious_accessibility_violations(page: Page, stack: Stack) -> None:
    _open_patient_app(page, stack)
    expect(page.frame_locator("iframe.app-frame").locator("h1")).to_be_visible(timeout=30_000)

    results = Axe().run(page)

    assert _blocking(results) == []


def test_app_first_view_has_no_serious_accessibility_violations(page: Page, stack: Stack) -> None:
    _open_patient_app(page, stack)
    frame = page.frame_locator("iframe.app-frame")
    expect(frame.locator("h1")).to_be_visible(timeout=30_000)
    app_url = next(f.url for f in page.frames if f.url.startswith(stack.app_url))
    # The same browser context holds the app's session cookie: open its first view as a page of its own.
    app_page = page.context.new_page()
    app_page.goto(app_url)
    expect(app_page.locator("h1")).to_have_text("Overzicht")
    expect(app_page.locator(".group-name")).to_be_visible()
    app_page.screenshot(path=str(ARTIFACTS / "app-first-view.png"), full_page=True)

    results = Axe().run(app_page)

    assert _blocking(results) == []


def test_patient_portal_launch_gives_the_patient_her_own_rights(page: Page, stack: Stack) -> None:
    """Sanne opens the app from the portal (standalone launch): she is the regisseur, not a clinician."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{stack.sandbox_url}/epd/portal")
    page.get_by_label("Sanne Bakker", exact=False).check()
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_url(f"{stack.sandbox_url}/epd/portal/me")
    page.get_by_role("link", name="Resourcegroep", exact=False).first.click()
    frame = page.frame_locator("iframe.app-frame")
    frame.locator(".choice-list a").first.click()  # the app's start page: log in at the clinic
    expect(frame.locator("h1")).to_have_text("Jouw resourcegroep", timeout=30_000)  # her own home
    app_url = next(f.url for f in page.frames if f.url.startswith(stack.app_url))
    app_page = page.context.new_page()
    app_page.goto(app_url)
    overview = app_page.locator("main")
    expect(overview).to_contain_text("Team Sanne")
    expect(overview).not_to_contain_text("Aandacht nodig")  # for care professionals only
    expect(app_page.get_by_role("button", name="Groep pauzeren")).to_have_count(0)
    app_page.screenshot(path=str(ARTIFACTS / "patient-overview.png"), full_page=True)
    assert _blocking(Axe().run(app_page)) == []

    # She adds a goal in her own words; the page addresses her as "je".
    base = app_url.split("/c/")[0] + "/c/" + app_url.split("/c/")[1].split("/")[0]
    app_page.goto(f"{base}/doelen/nieuw")
    expect(app_page.locator("main")).to_contain_text("Jij kiest je eigen doelen")
    app_page.get_by_label("Het doel", exact=True).fill("Weer elke week zwemmen")
    app_page.get_by_role("radio", name="lange termijn").check()
    app_page.get_by_role("button", name="Doel toevoegen").click()
    expect(app_page.locator("main")).to_contain_text("Weer elke week zwemmen")
    assert _blocking(Axe().run(app_page)) == []

    # Her mother's interview record is for care professionals only: the patient never receives it.
    app_page.goto(f"{base}/leden")
    app_page.get_by_role("link", name="Ans Bakker").click()
    expect(app_page.locator("main")).to_contain_text("Alleen de behandelaars mogen het verslag")
    expect(app_page.locator("main")).not_to_contain_text("zware tijd")
    app_page.screenshot(path=str(ARTIFACTS / "patient-member-page.png"), full_page=True)
