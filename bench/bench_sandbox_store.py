"""Timings of the sandbox FHIR store next to the Medplum engine, both over real HTTP on loopback.

    .venv/bin/python bench/bench_sandbox_store.py [--groups 40] [--creates 200] [--loads 50]

Prints create, transaction and search timings per server and the sandbox/Medplum ratio
(below 1.0 means the sandbox is faster). No assertions: this measures, tests judge.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.serving import make_server

from sandbox.fhir import FhirStore, create_fhir_app
from tests.contract.conftest import Fhir, unique
from tests.contract.data import PRODUCT, write_group
from tests.support.servers import free_port, medplum_server, wait_http

LOAD_INCLUDES = (
    "&_include=CarePlan:care-team&_include=CarePlan:goal&_include=CarePlan:activity-reference"
    "&_revinclude=Appointment:supporting-info&_revinclude=Communication:based-on"
    "&_include:iterate=CareTeam:participant&_revinclude:iterate=Communication:part-of"
    "&_revinclude:iterate=Observation:focus"
)


@contextmanager
def sandbox_server(path: str) -> Iterator[str]:
    """The sandbox store over HTTP on a free loopback port (auth off, as in the contract suite)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    store = FhirStore(path)
    server = make_server(
        "127.0.0.1", port, create_fhir_app(store=store, auth_enabled=False, public_base_url=base), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        wait_http(f"{base}/metadata", timeout=20)
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)
        store.close()


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def run(base: str, name: str, args: argparse.Namespace) -> dict[str, float]:
    fhir = Fhir(base, name)
    results: dict[str, float] = {}

    def create_goal() -> None:
        fhir.create(
            {
                "resourceType": "Goal",
                "lifecycleStatus": "active",
                "description": {"text": "bench"},
                "subject": {"reference": "Patient/bench"},
            }
        )

    results["create Goal (ms, median)"] = statistics.median(timed(create_goal, args.creates))
    t0 = time.perf_counter()
    groups = [write_group(fhir, unique("bench")) for _ in range(args.groups)]
    results["transaction of one group, 18 resources (ms, mean)"] = (time.perf_counter() - t0) * 1000 / args.groups
    target = groups[len(groups) // 2]
    patient = target.refs["patient"]
    results["read Goal (ms, median)"] = statistics.median(timed(lambda: fhir.get(target.refs["goal_long"]), args.loads))
    results["Goal?patient= (ms, median)"] = statistics.median(
        timed(lambda: fhir.search(f"Goal?patient={patient}"), args.loads)
    )
    results["CarePlan load query with includes (ms, median)"] = statistics.median(
        timed(
            lambda: fhir.search(f"CarePlan?patient={patient}&category={PRODUCT}|resourcegroepplan{LOAD_INCLUDES}"),
            args.loads,
        )
    )
    results["Appointment?date=ge&_sort=date over all (ms, median)"] = statistics.median(
        timed(lambda: fhir.search("Appointment?date=ge2026-01-01&_sort=date&_count=50"), args.loads)
    )
    results["Communication?category=verslag&_summary=count (ms, median)"] = statistics.median(
        timed(lambda: fhir.search(f"Communication?category={PRODUCT}|verslag&_summary=count"), args.loads)
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=40, help="resource groups written per server")
    parser.add_argument("--creates", type=int, default=200, help="single creates timed per server")
    parser.add_argument("--loads", type=int, default=50, help="repetitions of each read/search")
    parser.add_argument("--sqlite", default=":memory:", help="sandbox database (file path or :memory:)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request would drown the table
    with sandbox_server(args.sqlite) as sandbox_base:
        sandbox = run(sandbox_base, "sandbox", args)
    with medplum_server() as medplum_base:
        medplum = run(medplum_base, "medplum", args)
    width = max(len(k) for k in sandbox)
    print(f"{'measure':<{width}}  {'sandbox':>9}  {'medplum':>9}  {'ratio':>6}")
    for key in sandbox:
        ratio = sandbox[key] / medplum[key] if medplum[key] else float("nan")
        print(f"{key:<{width}}  {sandbox[key]:>9.2f}  {medplum[key]:>9.2f}  {ratio:>6.2f}")
    print(f"({args.groups} groups = {args.groups * 18} resources per server; ratio = sandbox / medplum)")


if __name__ == "__main__":
    main()
