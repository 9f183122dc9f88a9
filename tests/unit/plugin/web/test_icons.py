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
