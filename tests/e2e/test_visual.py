"""Screenshots of the main pages at 360, 800 and 1280 px (test-artifacts/visual-*.png), for people to look at.

For the regieondersteuner (EHR launch), the patient and a member (portal launch): each main page is opened in a tab of
the launched session, resized to each width and saved as a full-page screenshot. Each must fit its viewport (nothing
wider than the screen), axe-core may find no serious or critical violation, and the care professional's overview
must show the two-column layout from 1000 px and one column on a phone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page

from tests.e2e.browser_support import ARTIFACTS, blocking_violations
from tests.e2e.test_responsive import OVERFLOW_JS, PERSONAS, Persona, launch
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

WIDTHS = (360, 800, 1280)
# Per persona: the pages opened by address (relative to the group), then pages found by the first link matching.
PAGES: dict[str, tuple[str, ...]] = {
    "regieondersteuner": (
        "",
        "doelen",
        "leden",
        "bijeenkomsten",
        "afspraken",
        "tijdlijn",
        "tijdlijn?datum=2099-01-01",  # a day asked for: its line, the pager without a number
        "caseload",
    ),
    "patient": ("", "doelen", "bijeenkomsten", "afspraken"),
    "member": ("", "bijeenkomsten", "afspraken"),
}
FOUND: dict[str, tuple[tuple[str, str, str], ...]] = {  # (name, page to look on, link pattern)
    "regieondersteuner": (
        ("goal", "doelen", r"/doelen/(?!nieuw)[^/?#]+$"),
        ("report", "bijeenkomsten", r"/bijeenkomsten/(?!nieuw)[^/?#]+$"),
    ),
    "patient": (("goal", "doelen", r"/doelen/(?!nieuw)[^/?#]+$"),),
    "member": (),
}


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


def first_link(page: Page, pattern: str) -> str | None:
    hrefs: list[str] = page.evaluate("() => Array.from(document.querySelectorAll('main a[href]')).map(a => a.href)")
    return next((h.split("#")[0] for h in hrefs if re.search(pattern, h.split("#")[0])), None)


def shoot(page: Page, persona: str, name: str, axe: Axe, problems: list[str]) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        measured: dict[str, Any] = page.evaluate(OVERFLOW_JS)
        if measured["scrollWidth"] > measured["width"]:
            problems.append(f"{name} @ {width}px: {measured['scrollWidth']} px wide: {measured['culprits']}")
        page.screenshot(path=str(ARTIFACTS / f"visual-{persona}-{name}-{width}.png"), full_page=True)
        if width in (360, 1280):
            problems += [f"{name} @ {width}px axe: {line}" for line in blocking_violations(axe.run(page))]


def columns(page: Page, width: int) -> int:
    """How many columns the overview's grid has at `width` px."""
    page.set_viewport_size({"width": width, "height": 900})
    template: str = page.eval_on_selector(".overview-grid", "el => getComputedStyle(el).gridTemplateColumns")
    return len(template.split())


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p.name in PAGES], ids=lambda p: p.name)
def test_main_pages_screenshots_fit_and_pass_axe(persona: Persona, context: BrowserContext, stack: Stack) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    first = launch(context.new_page(), stack, persona)
    assert first is not None, f"the sandbox has no launch for {persona.login}"
    base = first.split("/c/")[0] + "/c/" + first.split("/c/")[1].split("/")[0] + "/"
    page = context.new_page()
    axe = Axe()
    problems: list[str] = []
    shot: list[str] = []
    for rel in PAGES[persona.name]:
        response = page.goto(base + rel)
        assert response is not None and response.status == 200, f"{rel}: {response and response.status}"
        name = re.sub(r"[^a-z0-9-]+", "-", rel).strip("-") or "overview"
        shoot(page, persona.name, name, axe, problems)
        shot.append(name)
        if persona.name == "regieondersteuner" and rel == "":
            assert page.locator(".glance > li").count() == 4
            assert columns(page, 1280) == 2 and columns(page, 360) == 1
            assert page.locator("#goals-h ~ .goal-list svg.sparkline").count() >= 1
            assert page.locator("img.icon[aria-hidden='true'][alt='']").count() >= 5
    for name, on, pattern in FOUND[persona.name]:
        page.goto(base + on)
        link = first_link(page, pattern)
        assert link is not None, f"no link for {name} on {on}"
        page.goto(link)
        if name == "report":  # the meeting page leads to its report and the report's print view
            report = first_link(page, r"/verslag$")
            assert report is not None, "no report link on the meeting page"
            page.goto(report + "/afdrukken")
            assert page.locator("svg.chart, svg.sparkline").count() >= 1, "no progress chart in the print view"
            name = "report-print"
        shoot(page, persona.name, name, axe, problems)
        shot.append(name)
    print(f"\n{persona.name}: {len(shot)} pages x {len(WIDTHS)} widths: {shot}")
    assert not problems, "\n".join(problems)
