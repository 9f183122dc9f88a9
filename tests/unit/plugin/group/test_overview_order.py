"""On a phone the overview is one column in page order: the next meeting comes near the top (right after what
needs attention), not after the goals, the agreements and the last report (issue 15)."""

from __future__ import annotations

from pathlib import Path

from tests.support.ui import launched


def test_the_next_meeting_comes_before_goals_agreements_and_the_last_report(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        html = env.get("/").get_data(as_text=True)
    order = [html.index(f'id="{h}"') for h in ("attention-h", "meeting-h", "goals-h", "agreements-h", "report-h")]
    assert order == sorted(order)
