"""The timeline page with the real app and the demo record: who did it, and the plain GET filter by kind."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.ui import launched


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def events(html: str) -> list[str]:
    return re.findall(r'<li class="event-(\w+)"', html)


def test_timeline_filters_by_kind_with_a_plain_get_form(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        everything = text(env.get("/tijdlijn"))
        assert '<form method="get"' in everything and 'name="soort"' in everything
        kinds = set(events(everything))
        assert {"members", "goals", "meetings", "group"} <= kinds
        goals = text(env.get("/tijdlijn?soort=doelen"))
        assert events(goals) and set(events(goals)) == {"goals"}
        assert '<option value="doelen" selected>' in goals
        members = text(env.get("/tijdlijn?soort=leden"))
        assert set(events(members)) == {"members"}
        assert len(events(goals)) + len(events(members)) < len(events(everything))
        # An unknown kind shows everything rather than failing.
        assert len(events(text(env.get("/tijdlijn?soort=onzin")))) == len(events(everything))


def test_timeline_says_who_did_it(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        html = text(env.get("/tijdlijn?soort=leden"))
        assert "Kennismakingsgesprek" in html or "kennismakingsgesprek" in html
        assert re.search(r'<span class="muted">door [^<]+</span>', html)


def test_pausing_and_resuming_show_in_the_timeline_with_who_did_it(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        assert env.post("/status", {"action": "pause"}).status_code == 303
        assert env.post("/status", {"action": "resume"}).status_code == 303
        html = text(env.get("/tijdlijn?soort=groep"))
        for said in ("De groep is gepauzeerd.", "De groep is weer gestart."):
            assert re.search(re.escape(said) + r'</span> <span class="muted">door Anna de Vries</span>', html), said
        plan = next(p for p in env.resources("CarePlan") if p.get("status") == "active")
        assert [p["valueCode"] for e in plan["extension"] for p in e.get("extension", []) if p["url"] == "to"][-2:] == [
            "on-hold",
            "active",
        ]
