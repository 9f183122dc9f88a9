"""Timings of the caseload (plugin.sync.caseload) on the sandbox store and on the Medplum engine.

    .venv/bin/python bench/bench_caseload.py [--patients 1000] [--repeat 3]

Each server gets the contract suite's seed (`--patients` patients with one group each, in ten
kinds of state), then the caseload is read through the counting proxy. Prints the seeding time,
the caseload timings (median of `--repeat`), the HTTP round trips and the sandbox/Medplum ratio
(below 1.0 means the sandbox is faster). No assertions: this measures, tests judge.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sandbox_store import sandbox_server

from plugin.sync.caseload import Caseload, load_caseload
from tests.contract.conftest import Fhir
from tests.contract.test_contract_caseload import NOW, caseload_client, seed_caseload
from tests.support.proxy import FaultProxy
from tests.support.servers import medplum_server


def _upstream(base: str) -> str:
    scheme, rest = base.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


def timed(fn: Callable[[], Caseload], repeat: int) -> tuple[float, Caseload]:
    """Median milliseconds of `repeat` runs (at least one), and the last result."""
    times: list[float] = []
    while True:
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
        if len(times) >= repeat:
            return statistics.median(times), result


def run(base: str, name: str, args: argparse.Namespace) -> dict[str, float]:
    seeded = seed_caseload(Fhir(base, name), patients=args.patients)
    results: dict[str, float] = {
        f"seed {args.patients} patients, {seeded.resources} resources (s)": seeded.seconds,
    }
    with FaultProxy(_upstream(base)) as proxy:
        client = caseload_client(proxy.rebase(base))
        ms, caseload = timed(lambda: load_caseload(client, seeded.practitioner, now=NOW), args.repeat)
        results[f"caseload, {len(caseload)} rows (ms, median)"] = ms
        results["  of which attention rows"] = float(len(caseload.needing_attention()))
        proxy.reset()
        load_caseload(client, seeded.practitioner, now=NOW)
        results["  HTTP round trips (proxy count)"] = float(proxy.count)
    direct = caseload_client(base)
    ms, ended = timed(lambda: load_caseload(direct, seeded.practitioner, now=NOW, include_ended=True), args.repeat)
    results[f"caseload with ended groups, {len(ended)} rows (ms, median)"] = ms
    results["  HTTP round trips (client count)"] = float(ended.round_trips)
    ms, paged = timed(lambda: load_caseload(direct, seeded.practitioner, now=NOW, page_size=250), args.repeat)
    results["caseload in pages of 250 (ms, median)"] = ms
    results["  HTTP round trips (client count) "] = float(paged.round_trips)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000, help="patients (one group each) per server")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each caseload read")
    parser.add_argument("--sqlite", default=":memory:", help="sandbox database (file path or :memory:)")
    args = parser.parse_args()
    if args.repeat < 1 or args.patients < 10:
        parser.error("--repeat must be at least 1 and --patients at least 10")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request would drown the table
    logging.getLogger("plugin.sync.caseload").setLevel(logging.ERROR)  # the seed's rogue resources are logged
    with sandbox_server(args.sqlite) as sandbox_base:
        sandbox = run(sandbox_base, "sandbox", args)
    with medplum_server() as medplum_base:
        medplum = run(medplum_base, "medplum", args)
    width = max(len(k) for k in sandbox)
    print(f"{'measure':<{width}}  {'sandbox':>10}  {'medplum':>10}  {'ratio':>6}")
    for key in sandbox:
        ratio = sandbox[key] / medplum[key] if medplum[key] else float("nan")
        print(f"{key:<{width}}  {sandbox[key]:>10.2f}  {medplum[key]:>10.2f}  {ratio:>6.2f}")
    print("(ratio = sandbox / medplum; the Medplum engine scans linearly and serves one request at a time)")


if __name__ == "__main__":
    main()
