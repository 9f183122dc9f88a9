"""`bench/bench_load.py --quick` keeps working: the FHIR backend, `resourcegroep serve` and 3 clinicians for a few
seconds, and every page answered and every acknowledged save landed exactly once (no timing is judged here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_the_load_benchmark_runs_and_every_save_lands_once() -> None:
    run = subprocess.run(
        [sys.executable, "bench/bench_load.py", "--quick", "--strict"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr[-3000:]
    assert "requests/s" in out and "app CPU per request" in out and "RSS per process" in out
    for kind in ("overview", "goal page", "member page", "save"):
        assert re.search(rf"^{kind}\s+\d+", out, re.MULTILINE), f"no row for {kind}:\n{out}"
    assert re.search(r"\(\d+ answered, 0 errors\)", out), out
    saves = re.search(r"saves\s+(\d+) acknowledged: (\d+) exactly once, 0 lost, 0 duplicated; 0 saved", out)
    assert saves is not None and int(saves[1]) > 0 and saves[1] == saves[2], out
    keys = re.search(r"save keys\s+(\d+) of (\d+) Provenances", out)
    assert keys is not None and keys[1] == keys[2] == saves[1], out
