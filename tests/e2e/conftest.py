"""What every browser test module shares: its own running stack (sandbox + app) and one headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.browser_support import CHROMIUM, CHROMIUM_ARGS, WIDE, AppInEpd
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The sandbox EPD and the app, fresh for each test module (the stories change the demo data)."""
    with running_stack(tmp_path_factory.mktemp("browser-stack")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (never a downloaded browser)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def app(browser: Browser, stack: Stack, request: pytest.FixtureRequest) -> Iterator[AppInEpd]:
    """The app in the EPD in a fresh browser context: Dutch, a wide window (900 px high, or the height a test
    gives with `@pytest.mark.parametrize("app", [height], indirect=True)`), dialogs watched."""
    height = int(getattr(request, "param", 900))
    context = browser.new_context(locale="nl-NL", viewport={"width": WIDE, "height": height})
    context.set_default_timeout(10_000)
    try:
        running = AppInEpd(context.new_page(), stack)
        running.watch_dialogs()
        yield running
    finally:
        context.close()
