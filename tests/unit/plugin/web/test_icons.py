"""Every icon a page shows points at an icon file the app serves (the address is made once per request)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.ui import launched

ICONS = Path(__file__).resolve().parents[4] / "plugin" / "static" / "icons"


def test_every_icon_of_the_overview_is_served(tmp_path: Path) -> None:
    with launched(tmp_path) as env:
        page = env.get("/")
        assert page.status_code == 200
        sources = re.findall(r'<img class="icon" src="([^"]+)"', page.get_data(as_text=True))
        assert len(set(sources)) > 5  # several kinds of icon: roles, areas, statuses
        for src in set(sources):
            assert src.startswith("/static/icons/") and src.endswith(".svg"), src
            assert (ICONS / src.removeprefix("/static/icons/")).is_file(), src
            assert env.client.get(src).status_code == 200, src


def test_every_page_names_the_apps_own_icon_so_the_browser_asks_for_no_favicon(tmp_path: Path) -> None:
    """Without an icon of its own a browser asks every page for /favicon.ico, and logs the 404 as an error."""
    with launched(tmp_path) as env:
        for path in ("/", "/leden", "/bijeenkomsten"):
            icons = re.findall(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', env.get(path).get_data(True))
            assert icons == ["/static/icons/app.svg"], (path, icons)
        served = env.client.get(icons[0])
        assert served.status_code == 200 and served.get_data(as_text=True).lstrip().startswith("<svg"), served
