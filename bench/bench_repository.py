"""Timings of the group repository (plugin.sync.repository) on the sandbox store and on the Medplum engine.

    .venv/bin/python bench/bench_repository.py [--repeat 5]

Each server gets one patient whose group is built one user action at a time (the story of the
contract suite: nominee, interview, goals, agreement, meeting with place, agenda, report). Prints the
median time of a whole-group load (and its round trips), of a small save (a note on a goal), and of a
save that meets a version conflict and is re-applied; then the sandbox/Medplum ratios (below 1.0
means the sandbox is faster). No assertions: this measures, tests judge.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sandbox_store import sandbox_server

from fhir_mappings.codes import GoalTerm
from fhir_mappings.model import ResourceGroup
from plugin.sync.capabilities import CapabilityCache
from plugin.sync.client import FhirClient
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.repository import Activity, GroupRepository
from tests.contract.conftest import Fhir
from tests.contract.test_contract_repository import TODAY, full_story, new_patient
from tests.support.servers import medplum_server


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def run(base: str, name: str, repeat: int, folder: Path) -> dict[str, float]:
    fhir = Fhir(base, name)
    client = FhirClient(base)
    repo = GroupRepository(
        client=client,
        patient_id=new_patient(fhir),
        user="Practitioner/bench",
        outbox=SqliteOutbox(folder / f"{name}.sqlite"),
        capabilities=CapabilityCache(),
    )
    t0 = time.perf_counter()
    group = ResourceGroup.start_new(
        patient=repo.patient,
        patient_display="Bench",
        regieondersteuner=repo.user,
        regieondersteuner_display="Bench",
        name="Bench",
        today=TODAY,
    )
    repo.start(group, Activity("Resourcegroep gestart", "CREATE"))
    for activity, action in full_story():
        repo.save(repo.load(), action, activity)
    results = {"build the group, 11 saves (ms)": (time.perf_counter() - t0) * 1000}
    loaded = repo.load()
    results["load the group (ms, median)"] = median_ms(repo.load, repeat)
    results["  resources loaded"] = float(len(loaded.resources))
    before = client.request_count
    repo.load()
    results["  load round trips"] = float(client.request_count - before)
    goal_uid = loaded.group.goals[0].uid  # type: ignore[union-attr]

    def note() -> None:
        repo.save(repo.load(), lambda g: g.add_goal_note(goal_uid, "bench", datetime.now(UTC)), "notitie")

    results["load + save a note (ms, median)"] = median_ms(note, repeat)

    def conflict() -> None:
        stale, fresh = repo.load(), repo.load()
        repo.save(fresh, lambda g: g.add_goal("ander", GoalTerm.LANG, TODAY), "doel")
        repo.save(stale, lambda g: g.add_goal("mijn", GoalTerm.LANG, TODAY), "doel")

    results["two loads + a save + a re-applied save (ms, median)"] = median_ms(conflict, repeat)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with sandbox_server(":memory:") as base:
            sandbox = run(base, "sandbox", args.repeat, folder)
        with medplum_server() as base:
            medplum = run(base, "medplum", args.repeat, folder)
    width = max(len(k) for k in sandbox)
    print(f"{'':{width}}  {'sandbox':>10}  {'medplum':>10}  {'ratio':>6}")
    for key in sandbox:
        ratio = sandbox[key] / medplum[key] if medplum.get(key) else float("nan")
        print(f"{key:{width}}  {sandbox[key]:10.1f}  {medplum.get(key, float('nan')):10.1f}  {ratio:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
