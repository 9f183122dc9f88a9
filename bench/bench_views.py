"""Requests per page view and the app's own time (view and save), for a typical, a large and a huge group.

    .venv/bin/python bench/bench_views.py [--sizes typical,large] [--repeat 15] [--read-timeout 120]

The real app (Flask test client, a launch planted in its session store, as tests/support/ui.py does) in front
of the sandbox FHIR store served over HTTP on a loopback port. Groups are written by the app's own mapping
(one start transaction). Per size it prints:

- requests per view: the first view after a start (a fresh capability cache) and a later view, counted at
  the HTTP adapter (every round trip, retries included);
- the app's own time of a context view (GET of the overview) and of a save (one goal note saved by the
  repository on a fresh load), p50 and p90: wall time minus the time spent inside HTTP round trips (waiting on
  the server); and the app's CPU time p50 (this thread's CPU: steadier than wall time on a busy machine);
- peak RSS of this process (it builds the groups and serves the sandbox store too: an upper bound, not a
  worker's footprint).

Before/after a change: run it in a copy of the tree without the change (e.g. `git archive HEAD | tar -x -C DIR`,
copy this file in, run it there with this venv) and here, one after the other.

No assertions: this measures, tests judge. Sizes (members/goals/agreements/held meetings, a score per goal
per meeting): typical 8/6/10/8, large 40/30/60/40, huge 150/100/200/200 (slow to build: ~21,000 resources).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests.adapters

from fhir_mappings.codes import GoalTerm, InterviewVisibility, Section
from fhir_mappings.model import ResourceGroup, Supporter, new_uid
from plugin.sync.capabilities import CapabilityCache
from plugin.sync.client import FhirClient
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.repository import Activity, GroupRepository
from smart_launch import SessionStore
from tests.support.ui import launched

SIZES: dict[str, tuple[int, int, int, int]] = {
    "typical": (8, 6, 10, 8),
    "large": (40, 30, 60, 40),
    "huge": (150, 100, 200, 200),
}
TODAY = date(2026, 3, 2)
USER = "Practitioner/anna-de-vries"


class Wire:
    """Counts HTTP round trips and the time spent in them (the adapter's send: connect, send, wait, read)."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._original = requests.adapters.HTTPAdapter.send

    def install(self) -> None:
        wire, original = self, self._original

        def send(adapter: requests.adapters.HTTPAdapter, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                response = original(adapter, *args, **kwargs)
                _ = response.content  # the body is part of the wait, parsing it is not
                return response
            finally:
                with wire._lock:
                    wire.count += 1
                    wire.seconds += time.perf_counter() - t0

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign,assignment]

    def snapshot(self) -> tuple[int, float]:
        with self._lock:
            return self.count, self.seconds


def build_group(patient: str, members: int, goals: int, agreements: int, meetings: int) -> ResourceGroup:
    """A group of the given size through the domain (every member admitted, every meeting held and scored)."""
    g = ResourceGroup.start_new(
        patient=patient,
        patient_display="Bench Patient",
        regieondersteuner=USER,
        regieondersteuner_display="Anna de Vries",
        name="Bench",
        today=TODAY,
    )
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    member_refs = []
    for i in range(members):
        uid = new_uid()
        who = g.nominate(
            uid,
            f"Lid {i}",
            TODAY,
            Supporter(uid, f"Lid {i}", "FRND", "http://terminology.hl7.org/CodeSystem/v3-RoleCode"),
        )
        g.record_interview(who.uid, start, {Section.BIJDRAGE: "Helpen."}, visibility=InterviewVisibility.SHARED)
        g.admit(who.uid, TODAY)
        member_refs.append(who.who)
    goal_uids = [g.add_goal(f"Doel {i}", GoalTerm.LANG, TODAY).uid for i in range(goals)]
    for i in range(agreements):
        g.add_agreement(f"Afspraak {i}", TODAY, member_refs[i % len(member_refs)], goal_uids[i % len(goal_uids)])
    place = g.add_place("Buurthuis", "Lindelaan 4")
    for m in range(meetings):
        when = start + timedelta(days=7 * (m + 1))
        meeting = g.plan_meeting(when, place_uid=place.uid)
        for goal_uid in goal_uids:
            g.score_progress(goal_uid, 1 + (m + len(goal_uid)) % 10, when + timedelta(minutes=30), meeting.uid)
        g.write_report(
            meeting.uid,
            sections={Section.SAMENVATTING: f"Bijeenkomst {m}."},
            attended=[patient, *member_refs[:3]],
            goals_discussed=goal_uids[:2],
            new_agreements=[],
            written=when + timedelta(hours=2),
        )
    return g


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextmanager
def bench_patient(env: Any, size: str) -> Iterator[tuple[str, int]]:
    """A new patient with a group of `size`, and the launch pointed at it."""
    client = FhirClient(env.fhir_base)
    pid = client.create({"resourceType": "Patient", "name": [{"given": ["Bench"], "family": size}]}).json()["id"]
    repo = GroupRepository(
        client=client,
        patient_id=pid,
        user=USER,
        outbox=SqliteOutbox(Path(tempfile.mkdtemp()) / "o.sqlite"),
        capabilities=CapabilityCache(),
    )
    group = build_group(f"Patient/{pid}", *SIZES[size])
    repo.start(group, Activity("Resourcegroep gestart", "CREATE"))
    resources = len(repo.load().resources)
    sessions: SessionStore = env.app.extensions["session_store"]
    context = sessions.get_context(env.context_id)
    if context is None:
        raise RuntimeError("the planted launch is gone")
    sessions.save_context(dataclasses.replace(context, patient=pid))
    yield pid, resources


def measure(wire: Wire, fn: Callable[[], Any]) -> tuple[float, float, int]:
    """(app's CPU ms, app's own ms, round trips) of one call.

    The app's own time is wall time minus the time inside HTTP round trips; its CPU time is the CPU of this
    thread (the app's request runs here, the FHIR server in other threads), which other processes on a busy
    machine do not inflate.
    """
    n0, s0 = wire.snapshot()
    c0 = time.thread_time()
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    cpu = time.thread_time() - c0
    n1, s1 = wire.snapshot()
    return cpu * 1000, (wall - (s1 - s0)) * 1000, n1 - n0


def run_size(env: Any, wire: Wire, size: str, repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with bench_patient(env, size) as (pid, resources):
        out["resources"] = resources
        settings = env.app.extensions["resourcegroep"]
        settings["capabilities"] = CapabilityCache()  # as after a start of the app

        def view() -> None:
            r = env.get("/")
            if r.status_code != 200:
                raise RuntimeError(f"view answered {r.status_code}")

        out["requests, first view"] = measure(wire, view)[2]
        out["requests, later view"] = measure(wire, view)[2]
        measured = [measure(wire, view) for _ in range(repeat)]
        views = [m[1] for m in measured]
        out["view overhead p50 ms"] = statistics.median(views)
        out["view overhead p90 ms"] = pct(views, 90)
        out["view app CPU p50 ms"] = statistics.median(m[0] for m in measured)

        repo = GroupRepository(
            client=FhirClient(env.fhir_base),
            patient_id=pid,
            user=USER,
            outbox=SqliteOutbox(Path(tempfile.mkdtemp()) / "o.sqlite"),
            capabilities=settings["capabilities"],
        )
        loaded = repo.load()
        goal_uid = loaded.group.goals[0].uid  # type: ignore[union-attr]

        def save_only() -> None:
            repo.save(loaded, lambda g: g.add_goal_note(goal_uid, "bench", datetime.now(UTC)), "notitie")

        saves, save_cpu = [], []
        for _ in range(max(3, repeat // 2)):
            cpu, own, _ = measure(wire, save_only)
            saves.append(own)
            save_cpu.append(cpu)
            loaded = repo.load()
        out["save overhead p50 ms"] = statistics.median(saves)
        out["save overhead p90 ms"] = pct(saves, 90)
        out["save app CPU p50 ms"] = statistics.median(save_cpu)
    out["peak RSS MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="typical,large")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=None,
        help="the FHIR clients' read timeout in seconds (default the app's 15 s; the huge group's load can take "
        "longer on a busy machine)",
    )
    args = parser.parse_args()
    if args.read_timeout is not None:
        defaults = dict(FhirClient.__init__.__kwdefaults__ or {})
        defaults["read_timeout"] = args.read_timeout
        FhirClient.__init__.__kwdefaults__ = defaults  # every client made from here on, the app's too
    logging.basicConfig(level=logging.ERROR)
    logging.disable(logging.WARNING)
    wire = Wire()
    wire.install()
    sizes = [s for s in args.sizes.split(",") if s]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, launched(Path(tmp), seed=False, patient="none") as env:
        for size in sizes:
            t0 = time.perf_counter()
            results[size] = run_size(env, wire, size, args.repeat)
            print(f"# {size}: measured in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    keys = list(next(iter(results.values())))
    width = max(len(k) for k in keys)
    print(f"{'':{width}}" + "".join(f"  {s:>10}" for s in sizes))
    for key in keys:
        print(f"{key:{width}}" + "".join(f"  {results[s][key]:10.1f}" for s in sizes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
