"""Every page of every role, on a phone (360 px), in the EPD's iframe (800 px) and on a wide screen (1280 px).

For each person the sandbox can launch the app for, the test launches once (EHR launch in the EPD's iframe, or the
standalone launch from the patient portal), then crawls the pages that the app's own navigation and in-app links
reach (GET only, same group, one or two pages per kind of address, downloads skipped). Each page is opened once in
a tab of the same browser session and resized to each width: the document may never be wider than the viewport
(the elements that stick out are named), and axe-core may find no serious or critical violation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.e2e.browser_support import SLOW, AppInEpd, blocking_violations
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

WIDTHS = (360, 800, 1280)  # a phone, the EPD's iframe, a wide screen
AXE_WIDTHS = (360, 1280)  # axe at the narrowest and the widest layout (800 px lays out as 1280 px does)
MAX_PAGES = 40  # per person: the crawl stops there (the whole app has about 25 kinds of page)
PER_PATTERN = 2  # pages per kind of address (a planned and a held meeting, two members, ...)
SKIPPED_ENDINGS = (".ics", ".css", ".js", ".png", ".svg", ".pdf")


@dataclass(frozen=True)
class Persona:
    name: str
    login: str  # the person to pick at the EPD login or the portal
    via: str  # "epd" (EHR launch in the iframe) or "portal" (standalone launch)
    patient: str = "Sanne Bakker"
    also: tuple[str, ...] = ()  # pages of the group that no link leads to (opened by address), crawled from too


PERSONAS = (
    Persona("regieondersteuner", "Anna de Vries", "epd", also=("caseload",)),
    Persona("care-professional", "Bram Jansen", "epd"),  # regieondersteuner of another group, not in Sanne's team
    Persona("practitioner-member", "Lotte Smit", "epd"),
    Persona("patient", "Sanne Bakker", "portal"),
    Persona("member", "Ans Bakker", "portal"),  # a RelatedPerson: only when the sandbox portal has her login
)


@dataclass
class Findings:
    pages: list[str] = field(default_factory=list)
    overflow: dict[str, list[str]] = field(default_factory=dict)  # "path @ width" -> what sticks out
    axe: dict[str, list[str]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # path -> HTTP status
    layout: dict[str, list[str]] = field(default_factory=dict)  # "path @ width" -> what LAYOUT_JS found

    def report(self) -> str:
        lines = []
        for title, found in (
            ("wider than the viewport", self.overflow),
            ("axe serious/critical", self.axe),
            ("layout", self.layout),
        ):
            for where, items in found.items():
                lines.append(f"{title}: {where}\n    " + "\n    ".join(items))
        lines += [f"link answered HTTP {status}: {path}" for path, status in self.broken.items()]
        return "\n".join(lines)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


# ---------------------------------------------------------------------- launching


def launch_from_portal(page: Page, stack: Stack, person: str) -> str | None:
    """Log in at the sandbox portal as `person` and start the app (standalone); the app's first page, or None
    when the portal has no login for that person."""
    page.goto(f"{stack.sandbox_url}/epd/portal")
    choice = page.get_by_label(person, exact=False)
    if choice.count() == 0:
        return None
    choice.first.check()
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/portal/.*"))
    page.get_by_role("link", name="Resourcegroep", exact=False).first.click()
    page.frame_locator("iframe.app-frame").locator(".choice-list a").first.click()  # the app's start page
    frame = AppInEpd(page, stack).frame
    frame.wait_for_url(re.compile(re.escape(stack.app_url) + r"/c/[^/]+/.*"), timeout=SLOW)
    expect(frame.locator("h1")).to_be_visible(timeout=SLOW)
    return frame.url


def launch(page: Page, stack: Stack, persona: Persona) -> str | None:
    """The address of the app's first page after the persona's launch (the session cookie is in the context)."""
    if persona.via == "portal":
        return launch_from_portal(page, stack, persona.login)
    AppInEpd(page, stack).launch(persona.login, persona.patient)
    return next(f.url for f in page.frames if f.url.startswith(stack.app_url + "/c/"))


# ---------------------------------------------------------------------- crawling and measuring


def kind_of(url: str, base: str) -> str:
    """The kind of address: its words and query kept, the ids in it replaced (…/bijeenkomsten/{id}/agenda)."""
    parts = urlsplit(url)
    rest = parts.path[len(base) :].strip("/")
    kind = "/".join(s if re.fullmatch(r"[a-z]+", s) else "{id}" for s in rest.split("/")) if rest else ""
    return f"{kind}?{parts.query}" if parts.query else kind


LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]'))
    .filter(a => !a.hasAttribute('download'))
    .map(a => a.href)"""

OVERFLOW_JS = """() => {
  const root = document.documentElement;
  const width = root.clientWidth;
  const out = [];
  if (root.scrollWidth > width) {
    const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (el.classList.length ? '.' + Array.from(el.classList).join('.') : '');
    for (const el of document.body.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.right <= width + 0.5) continue;
      const parent = el.parentElement && el.parentElement.getBoundingClientRect();
      if (parent && parent.right > width + 0.5) continue;  // name where it starts, not every descendant
      const text = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
      out.push(`${name(el)} right edge at ${Math.round(box.right)} px: "${text}"`);
      if (out.length >= 6) break;
    }
  }
  return {width, scrollWidth: root.scrollWidth, culprits: out};
}"""


# What a width must not do to the layout, beyond sticking out: a filter's label wrap away from its field (the
# timeline's "Tot en met" at 360 px did), and the link to the caseload drift off the page's right edge (a `main p`
# max-width put it mid-page at 1280 px).
LAYOUT_JS = """() => {
  const out = [];
  for (const label of document.querySelectorAll('.timeline-filter label[for]')) {
    const field = document.getElementById(label.htmlFor);
    if (!field) continue;
    const a = label.getBoundingClientRect(), b = field.getBoundingClientRect();
    if (a.bottom <= b.top || b.bottom <= a.top) {
      out.push(`label "${label.textContent.trim()}" is not on the line of its field #${field.id}`);
    }
  }
  const link = document.querySelector('.caseload-link a');
  const main = document.querySelector('main');
  if (link && main) {
    const style = getComputedStyle(main);
    const edge = main.getBoundingClientRect().right - parseFloat(style.paddingRight);
    const right = link.getBoundingClientRect().right;
    if (Math.abs(edge - right) > 2) {
      out.push(`the caseload link ends at ${Math.round(right)} px, the page's content at ${Math.round(edge)} px`);
    }
  }
  // A checkbox lines up with the fields around it (no margin of its own), and its label, wrapped or not, stays
  // beside it (a hanging indent), never under it.
  for (const box of document.querySelectorAll('.field-check > input[type=checkbox]')) {
    const holder = box.parentElement.getBoundingClientRect(), b = box.getBoundingClientRect();
    if (b.width === 0) continue;
    if (b.left - holder.left > 1) out.push(`checkbox #${box.id} starts ${Math.round(b.left - holder.left)} px in`);
    const label = box.parentElement.querySelector(`label[for="${box.id}"]`);
    for (const line of label ? label.getClientRects() : []) {
      if (line.left < b.right - 1) out.push(`a line of the label of #${box.id} starts under its box`);
    }
  }
  // The agenda's lines: every line's box or field starts at one edge, Up and Down each keep one column, and on a
  // free line the buttons are level with its field.
  const lines = [...document.querySelectorAll('.agenda-line')];
  const lefts = new Set(), ups = new Set(), downs = new Set();
  for (const line of lines) {
    const control = line.querySelector('.agenda-line-input input:not([type=hidden]), .agenda-line-input textarea');
    if (control) lefts.add(Math.round(control.getBoundingClientRect().left));
    const up = line.querySelector('.move button[value^="up-"]');
    const down = line.querySelector('.move button[value^="down-"]');
    if (up) ups.add(Math.round(up.getBoundingClientRect().left));
    if (down) downs.add(Math.round(down.getBoundingClientRect().left));
    const field = line.querySelector('.agenda-line-input input[type=text], .agenda-line-input textarea');
    const button = up || down;
    if (field && button) {
      const f = field.getBoundingClientRect(), k = button.getBoundingClientRect();
      if (k.top < f.bottom && f.top < k.bottom && Math.abs(k.bottom - f.bottom) > 3) {
        out.push(`the buttons of agenda line ${line.id} are ${Math.round(f.bottom - k.bottom)} px off its field`);
      }
    }
  }
  for (const [what, found] of [['boxes and fields', lefts], ['Up buttons', ups], ['Down buttons', downs]]) {
    if (found.size > 1) out.push(`the agenda's ${what} start at ${[...found].join(', ')} px`);
  }
  return out;
}"""


def in_app_links(page: Page, base_url: str) -> list[str]:
    """The GET links of the page that stay in this group of the app (language switches and downloads left out)."""
    found = []
    for href in page.evaluate(LINKS_JS):
        url, _ = urldefrag(href)
        parts = urlsplit(url)
        if not url.startswith(base_url) or "lang=" in parts.query or parts.path.endswith(SKIPPED_ENDINGS):
            continue
        found.append(url)
    return found


def check_widths(page: Page, axe: Axe, where: str, findings: Findings) -> None:
    """Resize the open page to each width: nothing may stick out, and axe finds nothing serious."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        measured: dict[str, Any] = page.evaluate(OVERFLOW_JS)
        if measured["scrollWidth"] > measured["width"]:
            findings.overflow[f"{where} @ {width}px"] = [
                f"document {measured['scrollWidth']} px wide in a {measured['width']} px viewport",
                *measured["culprits"],
            ]
        laid_out: list[str] = page.evaluate(LAYOUT_JS)
        if laid_out:
            findings.layout[f"{where} @ {width}px"] = laid_out
        if width in AXE_WIDTHS:
            blocking = blocking_violations(axe.run(page))
            if blocking:
                findings.axe[f"{where} @ {width}px"] = blocking


def crawl(page: Page, start: str, findings: Findings, also: tuple[str, ...] = ()) -> None:
    """Visit the pages reachable from `start` (and the `also` pages) inside its group, each checked at every width."""
    base_url = start.split("/c/")[0] + "/c/" + start.split("/c/")[1].split("/")[0] + "/"
    base_path = urlsplit(base_url).path
    axe = Axe()
    queue: list[str] = [start, *(base_url + extra for extra in also)]
    seen: set[str] = set()
    per_kind: dict[str, int] = {}
    while queue and len(findings.pages) < MAX_PAGES:
        url = queue.pop(0)
        kind = kind_of(url, base_path)
        if url in seen or per_kind.get(kind, 0) >= PER_PATTERN:
            continue
        seen.add(url)
        per_kind[kind] = per_kind.get(kind, 0) + 1
        where = url[len(base_url) - 1 :]  # "/leden", "/status?action=pause", ...
        page.set_viewport_size({"width": WIDTHS[-1], "height": 800})
        response = page.goto(url)
        status = response.status if response is not None else 0
        if status != 200:
            findings.broken[where] = str(status)
            continue
        findings.pages.append(where)
        queue.extend(in_app_links(page, base_url))
        check_widths(page, axe, where, findings)


def checked_with(context: BrowserContext, stack: Stack, bad_css: str, path: str = "") -> Findings:
    """The first persona's page `path` ("" the overview, "tijdlijn", ...) checked at every width, with `bad_css`
    added to app.css in this browser only."""

    def with_bad_rules(route: Route) -> None:
        response = route.fetch()
        route.fulfill(
            response=response,
            body=response.text() + "\n" + bad_css + "\n",
            headers={**response.headers, "cache-control": "no-store"},
        )

    context.route("**/static/app.css", with_bad_rules)
    first = launch(context.new_page(), stack, PERSONAS[0])
    assert first is not None
    page = context.new_page()
    base = first.split("/c/")[0] + "/c/" + first.split("/c/")[1].split("/")[0] + "/"
    if "{planned}" in path:  # the first meeting still to come, from the meetings page
        page.goto(base + "bijeenkomsten")
        href = page.locator('section[aria-labelledby="planned-h"] a[href*="/bijeenkomsten/"]').first.get_attribute(
            "href"
        )
        assert href is not None
        path = path.replace("{planned}", href.rstrip("/").rsplit("/", 1)[-1])
    page.goto(base + path)
    findings = Findings()
    check_widths(page, Axe(), "/" + path, findings)
    return findings


def test_the_width_check_names_what_sticks_out(context: BrowserContext, stack: Stack) -> None:
    """The check can fail: with one bad rule added to app.css (in this browser only), pages are too wide at 360 px."""
    findings = checked_with(context, stack, ".area-nav ul { flex-wrap: nowrap; white-space: nowrap; }")
    assert list(findings.overflow) == ["/ @ 360px"], findings.report()
    assert any(".area-nav" in line or "li right edge" in line for line in findings.overflow["/ @ 360px"])


def test_the_layout_check_names_a_label_apart_from_its_field_and_a_link_off_the_edge(
    context: BrowserContext, stack: Stack
) -> None:
    """The layout check can fail: with rules that put the timeline filter's labels on lines of their own and the
    caseload link back within the text's width (in this browser only), it names both."""
    bad = (
        ".timeline-filter .filter-field { display: block; } .timeline-filter label { display: block; }"
        " .caseload-link { max-width: 20rem; }"
    )
    found = checked_with(context, stack, bad, "tijdlijn").layout.get("/tijdlijn @ 1280px", [])
    assert any("Tot en met" in line for line in found) and any("caseload link" in line for line in found), found


def test_the_layout_check_names_misaligned_checkboxes_and_agenda_lines(context: BrowserContext, stack: Stack) -> None:
    """The layout check can fail: with the browser's own checkbox margin, labels that wrap under their box, and the
    agenda's buttons right-aligned in a box of their own (in this browser only), it names all three on the agenda
    page of the meeting to come."""
    bad = (
        ".field-check { display: block !important; }"
        " .field-check > input[type=checkbox] { margin: 3px 3px 3px 4px !important; }"
        " .agenda-line .move { display: flex !important; justify-content: flex-end; min-width: 11rem; }"
        " .agenda-line-free .move { align-self: center !important; }"
    )
    found = checked_with(context, stack, bad, "bijeenkomsten/{planned}/agenda").layout
    wide, narrow = (next((v for k, v in found.items() if k.endswith(f"@ {w}px")), []) for w in (1280, 360))
    assert any("starts 4 px in" in line for line in wide), found
    assert any("Up buttons start at" in line or "Down buttons start at" in line for line in wide), found
    assert any("px off its field" in line for line in wide), found
    assert any("starts under its box" in line for line in narrow), found


@pytest.mark.parametrize("persona", PERSONAS, ids=[p.name for p in PERSONAS])
def test_every_page_fits_every_width(persona: Persona, context: BrowserContext, stack: Stack) -> None:
    started = time.perf_counter()
    first = launch(context.new_page(), stack, persona)
    if first is None:
        pytest.skip(f"the sandbox portal has no login for {persona.login} yet")
    viewer = context.new_page()
    viewer.goto(first.split("/c/")[0] + "/c/" + first.split("/c/")[1].split("/")[0] + "/verbinding")
    expect(viewer.locator("dl.facts")).to_contain_text(persona.login)  # the launch is this person's
    findings = Findings()
    crawl(viewer, first, findings, persona.also)
    spent = time.perf_counter() - started
    print(f"\n{persona.name}: {len(findings.pages)} pages x {len(WIDTHS)} widths in {spent:.1f}s: {findings.pages}")
    assert len(findings.pages) >= 3, f"the crawl found too few pages: {findings.pages}"
    assert not findings.report(), f"{persona.name} ({persona.login}):\n{findings.report()}"
