"""Helpers for driving the app inside the sandbox EPD's iframe: saves, page checks (axe, screenshots), store reads."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from axe_playwright_python.sync_playwright import Axe
from babel.messages.mofile import read_mo
from playwright.sync_api import BrowserContext, Dialog, Frame, Locator, Page, expect

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
WIDE, NARROW = 1280, 800
SLOW = 30_000  # ms; the first launch does the whole SMART dance


@lru_cache(maxsize=1)
def dutch_texts() -> dict[str, set[str]]:
    """English msgid -> its Dutch texts, from every compiled catalog the app loads (shared and per area)."""
    found: dict[str, set[str]] = {}
    for mo in sorted((ROOT / "plugin").glob("**/translations/nl/LC_MESSAGES/messages.mo")):
        with mo.open("rb") as handle:
            for message in read_mo(handle):
                if isinstance(message.id, str) and message.id and isinstance(message.string, str) and message.string:
                    found.setdefault(message.id, set()).add(message.string)
    return found


def pattern(text: str) -> str:
    """`text` as a regular expression Playwright can pass on (it writes regexes as /.../: escape the slash)."""
    return re.escape(text).replace("/", "\\/")


def ui(english: str, *, exact: bool = True) -> re.Pattern[str]:
    """A text of the app as the page shows it: the Dutch translation, or the English msgid when none exists yet.

    Labels are taken from the catalogs, so the test follows wording changes and never hard-codes Dutch.
    """
    words = sorted({english, *dutch_texts().get(english, set())}, key=len, reverse=True)
    body = "(?:" + "|".join(pattern(w) for w in words) + ")"
    return re.compile(f"^\\s*{body}\\s*$" if exact else body)


def choose(select: Locator, text: str) -> None:
    """Choose the option of a select whose words contain `text` (options may add a role or a term)."""
    option = select.locator("option").filter(has_text=text)
    expect(option).to_have_count(1)
    value = option.get_attribute("value")
    assert value is not None
    select.select_option(value)


def blocking_violations(results: Any) -> list[str]:
    """The serious and critical axe violations, one readable line each (rule, impact, help, first targets)."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING_IMPACTS
    ]


@dataclass
class AppInEpd:
    """The app as the clinician sees it: a page of the sandbox EPD with the app in its iframe."""

    page: Page
    stack: Stack
    saves: int = 0  # successful saves the test made (each should leave one Provenance)
    dialogs: list[str] = field(default_factory=list)
    accessibility: dict[str, list[str]] = field(default_factory=dict)  # page name -> blocking violations
    minor_findings: dict[str, list[str]] = field(default_factory=dict)  # page name -> the other violations
    timings: dict[str, float] = field(default_factory=dict)  # seconds spent per kind of work
    _axe: Axe = field(default_factory=Axe)
    _viewer: Page | None = None

    @contextmanager
    def timed(self, kind: str) -> Iterator[None]:
        """Add the time the block takes to `timings[kind]` (reported, never asserted: speed lives in bench/)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            self.timings[kind] = self.timings.get(kind, 0.0) + spent

    @property
    def context(self) -> BrowserContext:
        """The browser context: one session for the EPD and the app (cookies shared with the viewer tab)."""
        return self.page.context

    @property
    def frame(self) -> Frame:
        """The app's frame (the same Frame object across navigations inside the iframe)."""
        handle = self.page.locator("iframe.app-frame").element_handle()
        assert handle is not None, "the EPD page has no app iframe"
        frame = handle.content_frame()
        assert frame is not None, "the app iframe has no document"
        return frame

    def watch_dialogs(self) -> None:
        """Any alert/confirm/prompt (from the EPD or the iframe) is recorded and dismissed: none may fire."""

        def on_dialog(dialog: Dialog) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        self.page.on("dialog", on_dialog)

    def launch(self, practitioner: str, patient: str) -> Frame:
        """Log in at the EPD as `practitioner`, open `patient` and start the app in the iframe."""
        page = self.page
        page.goto(self.stack.epd_url)
        page.get_by_label(practitioner, exact=False).check()
        page.locator("form button[type=submit]").first.click()
        page.wait_for_url(f"{self.stack.sandbox_url}/epd/patients")
        page.get_by_role("link", name=patient).click()
        page.wait_for_url(re.compile(r".*/epd/patients/[^/]+$"))
        page.get_by_role("link", name="Resourcegroep", exact=True).click()
        page.wait_for_url(re.compile(r".*/epd/patients/[^/]+/app$"))
        frame = self.frame
        frame.wait_for_url(re.compile(re.escape(self.stack.app_url) + r"/c/[^/]+/.*"), timeout=SLOW)
        expect(frame.locator("h1")).to_be_visible(timeout=SLOW)
        return frame

    # ------------------------------------------------------------------ navigation and saving

    def h1(self) -> Locator:
        """The page's one main heading."""
        return self.frame.get_by_role("heading", level=1)

    def nav(self, english: str) -> None:
        """Follow a link of the group's area navigation."""
        areas = self.frame.get_by_role("navigation", name=ui("Resource group"))
        self.follow(areas.get_by_role("link", name=ui(english)))

    def follow(self, link: Locator) -> None:
        """Click a link (or button) inside the app that loads a new page, and wait for that page."""
        with self.timed("pages"), self.frame.expect_navigation() as nav:
            link.click()
        response = nav.value
        assert response is not None and response.status == 200, f"{self.frame.url}: HTTP {response and response.status}"

    def save(self, button: Locator) -> None:
        """Submit a form with its button and check it was saved in the EHR (one Provenance more)."""
        self._saved(button.click)

    def _saved(self, submit: Callable[[], None]) -> None:
        with self.timed("saves"), self.frame.expect_navigation() as nav:
            submit()
        response = nav.value
        problems = self.frame.locator(".problem-box")
        detail = problems.inner_text() if problems.count() else ""
        status = response.status if response is not None else None
        assert status == 200, f"save on {self.frame.url} answered HTTP {status}: {detail}"
        assert not detail, f"save on {self.frame.url} was refused: {detail}"
        expect(self.frame.locator(".flash-waiting")).to_have_count(0)
        expect(self.frame.locator(".flash-saved")).to_have_count(1)
        if "#" not in self.frame.url:  # no place on the page asked for: the message has the focus, to be heard
            expect(self.frame.locator(".flash-saved")).to_be_focused()
        self.saves += 1
        self.check_no_dialogs()

    def download(self, link: Locator) -> str:
        """The text behind a download link, fetched with the browser's own session (cookies)."""
        href = link.get_attribute("href")
        assert href, "the link has no address"
        response = self.context.request.get(urljoin(self.frame.url, href))
        assert response.ok, f"{href}: HTTP {response.status}"
        return response.text()

    # ------------------------------------------------------------------ keyboard

    def focused(self, selector: str) -> dict[str, str]:
        """What has the keyboard focus in the app, whether it matches `selector`, and how the focus is drawn."""
        return self.frame.evaluate(
            """(selector) => { const el = document.activeElement; const st = getComputedStyle(el);
                return {what: el.tagName.toLowerCase() + (el.id ? "#" + el.id : ""),
                        match: el.matches(selector) ? "yes" : "no",
                        visible: el.matches(":focus-visible") ? "yes" : "no",
                        outline: st.outlineStyle + " " + st.outlineWidth, shadow: st.boxShadow}; }""",
            selector,
        )

    def tab_to(self, selector: str, *, limit: int = 40) -> None:
        """Press Tab until the focus is on an element matching `selector`; the focus must be visible there."""
        seen = []
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            now = self.focused(selector)
            seen.append(now["what"])
            if now["match"] == "yes":
                has_ring = not now["outline"].startswith("none") and not now["outline"].endswith(" 0px")
                assert now["visible"] == "yes" and (has_ring or now["shadow"] != "none"), f"focus not visible: {now}"
                return
        raise AssertionError(f"Tab never reached {selector}; it went {seen}")

    def save_with_enter(self) -> None:
        """Submit the form that has the focus by pressing Enter, and check it was saved."""
        self._saved(lambda: self.page.keyboard.press("Enter"))

    @staticmethod
    def dutch(english: str) -> str:
        """The Dutch text of a msgid (the first one in the catalogs)."""
        return sorted(dutch_texts().get(english, {english}))[0]

    def check_no_dialogs(self) -> None:
        assert self.dialogs == [], f"a dialog fired (script ran): {self.dialogs}"
        expect(self.frame.locator("main script")).to_have_count(0)

    # ------------------------------------------------------------------ page checks

    def check_page(self, name: str, *, print_view: bool = False, narrow: bool = False) -> None:
        """axe-core on the page as shown in the iframe; a full-page screenshot at 1280 px (and 800 px)."""
        frame = self.frame
        frame.wait_for_load_state("load")
        with self.timed("axe"):
            results = self._axe.run(frame)
        self.accessibility[name] = blocking_violations(results)
        self.minor_findings[name] = [
            f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"]
            if v.get("impact") not in BLOCKING_IMPACTS
        ]
        self.screenshot(name, WIDE, print_view=print_view)
        if narrow:
            self.screenshot(name, NARROW, print_view=print_view)

    def screenshot(self, name: str, width: int, *, print_view: bool = False) -> Path:
        """The current app page, opened on its own at `width` px (same session), as a full-page PNG."""
        ARTIFACTS.mkdir(exist_ok=True)
        if self._viewer is None:
            self._viewer = self.context.new_page()
        viewer = self._viewer
        viewer.set_viewport_size({"width": width, "height": 900})
        viewer.emulate_media(media="print" if print_view else "screen")
        with self.timed("screenshots"):
            response = viewer.goto(self.frame.url)
            assert response is not None and response.status == 200, f"{self.frame.url} for the screenshot"
            path = ARTIFACTS / f"group-{name}-{width}.png"
            viewer.screenshot(path=str(path), full_page=True)
            # The EPD page is a background tab now, and Chromium throttles those: give it the front back.
            self.page.bring_to_front()
        return path

    def accessibility_report(self) -> str:
        """Every page with serious or critical axe violations, readable."""
        return _per_page(self.accessibility)

    def write_axe_artifact(self) -> Path:
        """All axe findings per page (the minor and moderate ones too) as a text artifact for people to read."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / "group-axe.txt"
        path.write_text(
            "serious or critical:\n" + (_per_page(self.accessibility) or "  none") + "\n\n"
            "minor or moderate:\n" + (_per_page(self.minor_findings) or "  none") + "\n"
            "pages checked: " + ", ".join(self.accessibility) + "\n",
            encoding="utf-8",
        )
        return path


def _per_page(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}:\n  " + "\n  ".join(items) for page, items in found.items() if items)


def group_resources(stack: Stack, patient: str) -> dict[str, list[dict[str, Any]]]:
    """The resources of the group's types in the sandbox store that belong to `patient` (Patient/<id>)."""
    store = stack.sandbox.store
    assert store is not None, "the stack runs without its own FHIR store"
    out: dict[str, list[dict[str, Any]]] = {}
    for rtype, element in (
        ("CareTeam", "subject"),
        ("CarePlan", "subject"),
        ("Goal", "subject"),
        ("Task", "for"),
        ("Appointment", None),
        ("Communication", "subject"),
        ("Observation", "subject"),
        ("RelatedPerson", "patient"),
    ):
        found = store.all_of_type(rtype)
        if element is None:  # Appointments point to the patient as a participant actor
            out[rtype] = [
                r
                for r in found
                if any((p.get("actor") or {}).get("reference") == patient for p in r.get("participant") or [])
            ]
        else:
            out[rtype] = [r for r in found if (r.get(element) or {}).get("reference") == patient]
    return out


def all_of(stack: Stack, rtype: str) -> list[dict[str, Any]]:
    """Every current resource of a type in the sandbox store."""
    store = stack.sandbox.store
    assert store is not None, "the stack runs without its own FHIR store"
    return store.all_of_type(rtype)
