"""`bench/bench_views.py` keeps working: one small run (the typical group, no added latency, one repeat) prints its
table and exits 0, with one request per later view (no timing is judged here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def row(out: str, name: str) -> list[float]:
    found = re.search(rf"^{re.escape(name)}\s+([\d.\s]+)$", out, re.MULTILINE)
    assert found is not None, f"no row {name!r}:\n{out}"
    return [float(v) for v in found[1].split()]


def test_the_view_benchmark_runs_and_prints_its_table() -> None:
    run = subprocess.run(
        [sys.executable, "bench/bench_views.py", "--sizes", "typical", "--latency", "0", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr[-3000:]
    assert row(out, "requests, later view") == [1.0]
    assert row(out, "requests, our load") == [1.0]
    assert row(out, "requests, naive load")[0] > 1
    assert row(out, "resources")[0] >= 100
    for name in (
        "view app CPU p50 ms, changed group",
        "patient's home app CPU p50 ms",
        "save app CPU p50 ms",
        "app save (POST) app CPU p50 ms",
        "worker peak RSS MB, after 2 saves",
        "worker app save (POST) CPU ms, slower of 2",
        "worker peak RSS MB, after a goal page",
        "worker peak RSS MB, after the goal's all scores",
        "worker peak RSS MB, after members, a member, agreements, meetings",
        "worker peak RSS MB, after the timeline's first page",
        "worker peak RSS MB, after the timeline's page 12",
        "worker peak RSS MB, after a meeting's printed agenda and report",
        "worker peak RSS MB, after the meeting's report",
        "worker peak RSS MB, after the overview once more",
        "worker peak RSS MB, after the oldest meeting's report (its day's scores)",
        "worker peak RSS MB, after a timeline page far back by its older link",
        "worker peak RSS MB, after the timeline's oldest page by its link",
        "worker peak RSS MB, after the planned meeting's report",
        "worker peak RSS MB, after a timeline page far back by its number",
        "worker peak RSS MB, after the timeline's last page by its number",
        "worker timeline page far back by its number: app CPU ms",
        "worker timeline's last page by its number: wall ms",
        "reminder round's read of the group: CPU ms",
        "reminder round's read of the group: peak RSS MB",
    ):
        assert row(out, name)[0] > 0
    assert row(out, "reminder round's read of the group: requests") == [1.0]
    assert row(out, "caseload requests")[0] >= 1
