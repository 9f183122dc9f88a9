"""Requests per page view, the app's own time (view and save), the naive loader and memory, per group size.

    .venv/bin/python bench/bench_views.py [--sizes typical,large,huge] [--latency 0,20] [--repeat 11]
                                          [--read-timeout 300] [--no-worker] [--server sandbox|medplum]
                                          [--naive-count 0] [--every-score-in-pages]

The real app (Flask test client, a launch planted in its session store, as tests/support/ui.py does) in front
of a FHIR server over HTTP on a loopback port, reached through a counting proxy that adds a fixed latency to
every request (0 and 20 ms by default). The server is the sandbox FHIR store inside this process (the default),
or with `--server medplum` the shared Medplum engine (../shared/tools/fhir-test-server), started on a free
loopback port as the tests start it (tests/support/servers.medplum_server) and stopped at the end: it runs in its
own process, so its work does not compete with the app for the GIL, and its searches cost what a real engine's do.

    .venv/bin/python bench/bench_views.py --server medplum --sizes typical,large --no-worker   # ~30 s, quiet
    .venv/bin/python bench/bench_views.py --server medplum --sizes huge --repeat 3 --read-timeout 600 --no-worker

(huge: ~35 s to write, ~10 min in all: the naive loader takes ~100 s per load, Medplum scans every resource per
search page.)

Groups are written by the app's own mapping: on the sandbox by the repository's start (one transaction). On
Medplum the same start Bundle is sent with its creates unconditional (no `ifNoneExist`), in one transaction:
every create of the app is conditional, Medplum allows at most 8 entries in a transaction with a conditional
entry ("requires strict isolation"), so the app splits a larger one in dependency order, and a whole group's
start cannot be split: the plan lists the agreements (CarePlan.activity -> Task) and each agreement points
back to the plan (Task.basedOn -> CarePlan), all new placeholders of the one Bundle ("creates reference each
other in a cycle"). The app itself never starts a group with agreements: a new group is a plan and a team.
Per size and latency it prints:

- requests per view, counted at the proxy: the first view after a start with an empty capability store, the
  first view after a restart with a warm store (another instance learned the server before), a later view;
- the app's own time of a context view (GET of the overview), p50 and p90: wall time minus the time inside
  HTTP round trips (waiting on the proxy and the server), and the app's CPU time p50 (this thread's CPU:
  steadier than wall time on a busy machine); the views repeat on an unchanged group, so they find their read
  in the read cache (plugin/sync/readcache.py): "changed group" is the same view with that cache emptied before
  each (the first view after a save, or after another system changed the group);
- the load against the naive loader, interleaved (one of ours, one naive, repeated): wall time p50 of the
  repository's load and of a loader the way SMART apps usually read (a search per type without `_count`, so in
  the server's own page size, as an app that asks for none gets, or with `--naive-count N`; pages followed; then
  a read of the patient, every team member and every place, sequentially), the naive loader's requests at the
  proxy, and the ratio naive / ours; of our load also its
  requests at the proxy, the time the proxy waited on the server for them (the server's own time, without the
  added latency), and the app's own time (wall minus the time inside HTTP round trips), p50;
- a typical save (one goal note, by the repository on a fresh load of the whole group): own time p50 and p90, CPU
  p50; and the same note posted to the app's form ("app save (POST)": the page's load of the newest scores, the
  save, the redirect), own time and CPU p50;
- the caseload of the bench practitioner (every group of the run): requests and own time p50;
- peak RSS of this process (it also builds the groups and, with the sandbox, serves the store: an upper bound);
- unless `--no-worker`: the peak RSS of a worker-like process per size (a child process that runs only the
  app: three overviews, then two goal notes posted through the app's own form, against the server through this
  process's proxy), and the app CPU of the slower of its two POSTs (a small process: no collector pass over the
  bench's own heap, and the server's work is in the bench's process); then a goal page and its link to all of the
  goal's scores (the newest and the goal's every score), then the member list, a
  member's page, the agreements and the meetings (each reads the newest scores, as every page does but those that
  show every score); then the timeline's first page (from the newest scores where it lies within them) and its
  page 12; a meeting's printed agenda and report, its report and the overview once more; the oldest meeting's
  report (the newest scores and every score of its day); a page of the timeline far back as its older link asks
  for it (the newest scores and a page of those up to its first day) and its oldest page by its link; last the
  timeline's last page by its number (every score, at once, or page by page with `--every-score-in-pages`);
  and, in a process of its own as the `resourcegroep worker` is, the reminder round's read of the group
  (`plugin.reminders.due_for_patient`: what is due, nothing written): its requests, CPU and peak RSS.

Before/after a change: run it in a copy of the tree without the change (`git archive HEAD | tar -x -C DIR`,
copy this file in, run it there with this venv) and here, one after the other.

No assertions: this measures, tests judge; it exits 0. Sizes (members/goals/agreements/held meetings, a score per
goal per meeting): typical 8/6/10/8, large 40/30/60/40, huge 150/100/200/200 (slow to build: ~21,000 resources).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import html
import http.client
import json
import logging
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
import requests.adapters

from fhir_mappings.codes import GoalTerm, InterviewVisibility, Section
from fhir_mappings.model import CLINIC_ZONE, ProgressScore, ResourceGroup, Supporter, new_uid
from fhir_mappings.query import group_searches_by_patient
from fhir_mappings.refs import RefIndex
from plugin.sync.capabilities import CapabilityCache, LoadStrategy, SqliteCapabilityStore
from plugin.sync.caseload import load_caseload
from plugin.sync.client import FhirClient
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.repository import Activity, GroupRepository, LoadedGroup
from smart_launch import SessionStore
from tests.support.servers import free_port, medplum_server
from tests.support.ui import launched

SIZES: dict[str, tuple[int, int, int, int]] = {
    "typical": (8, 6, 10, 8),
    "large": (40, 30, 60, 40),
    "huge": (150, 100, 200, 200),
}
TODAY = date(2026, 3, 2)
USER = "Practitioner/anna-de-vries"
FHIR_JSON = {"Accept": "application/fhir+json"}
_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "content-length"}
)


class Wire:
    """The time spent in HTTP round trips on the client side (the adapter's send: connect, send, wait, read)."""

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


class LatencyProxy:
    """A reverse proxy on a loopback port that counts requests and holds each one `latency` seconds.

    `upstream_seconds` adds up the time it waited on the server (sending, the server's work, reading the answer).
    """

    def __init__(self, upstream_base: str) -> None:
        parts = urlsplit(upstream_base)
        self.host, self.port_up, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.upstream_base = upstream_base.rstrip("/")
        self.latency = 0.0
        self.count = 0
        self.upstream_seconds = 0.0
        self._lock = threading.Lock()
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="latency-proxy", daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def rebase(self, url: str) -> str:
        return self.base + url[len(self.upstream_base) :] if url.startswith(self.upstream_base) else url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive with the app's pooled connections
            disable_nagle_algorithm = True  # headers and body leave in two writes: no 40 ms delayed-ACK stall

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy._lock:
                    proxy.count += 1
                if proxy.latency:
                    time.sleep(proxy.latency)
                upstream = http.client.HTTPConnection(proxy.host, proxy.port_up, timeout=900)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                    t0 = time.perf_counter()
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    with proxy._lock:
                        proxy.upstream_seconds += time.perf_counter() - t0
                    self.send_response(answer.status)
                    for key, value in answer.getheaders():
                        if key.lower() not in _HOP:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


# The bench group's meetings: weekly, the first a week after this moment.
BENCH_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# A page of the timeline far back as its older link asks for it: from the day of this meeting (counted from the
# first; a huge group's 200 meetings put it some 18,000 scores back), with its page's number.
FAR_MEETING, FAR_PAGE = 20, 180


def build_group(patient: str, members: int, goals: int, agreements: int, meetings: int) -> ResourceGroup:
    """A group of the given size through the domain (every member admitted, every meeting held and scored, and one
    more still planned)."""
    g = ResourceGroup.start_new(
        patient=patient,
        patient_display="Bench Patient",
        regieondersteuner=USER,
        regieondersteuner_display="Anna de Vries",
        name="Bench",
        today=TODAY,
    )
    start = BENCH_START
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
        for goal_uid in goal_uids:  # as score_progress records them, without its per-score search and sort
            g.progress.append(
                ProgressScore(
                    new_uid(), goal_uid, when + timedelta(minutes=30), 1 + (m + len(goal_uid)) % 10, meeting.uid
                )
            )
        g.write_report(
            meeting.uid,
            sections={Section.SAMENVATTING: f"Bijeenkomst {m}."},
            attended=[patient, *member_refs[:3]],
            goals_discussed=goal_uids[:2],
            new_agreements=[],
            written=when + timedelta(hours=2),
        )
    # The next meeting, still planned: its report (the first one, written on its day) reads what a held meeting's
    # reads, not every score (session 20).
    g.plan_meeting(start + timedelta(days=7 * (meetings + 1)), place_uid=place.uid)
    g.normalise_order()
    g.check_invariants()
    return g


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def new_patient(base: str, size: str, server: str = "sandbox") -> tuple[str, int]:
    """A new patient with a group of `size` (written straight to the server, not through the proxy): by the
    repository's start on the sandbox, as one unconditional start Bundle on Medplum (`unconditional_start`)."""
    client = FhirClient(base)
    pid = client.create({"resourceType": "Patient", "name": [{"given": ["Bench"], "family": size}]}).json()["id"]
    repo = GroupRepository(
        client=client,
        patient_id=pid,
        user=USER,
        outbox=SqliteOutbox(Path(tempfile.mkdtemp()) / "o.sqlite"),
        capabilities=CapabilityCache(),
    )
    group = build_group(f"Patient/{pid}", *SIZES[size])
    activity = Activity("Resourcegroep gestart", "CREATE")
    if server == "medplum":
        answer = client.transaction(unconditional_start(repo, group, activity), idempotent=False)
        if answer.status != 200:
            raise RuntimeError(f"the start transaction answered {answer.status}")
    else:
        repo.start(group, activity)
    return pid, len(repo.load().resources)


def unconditional_start(repo: GroupRepository, group: ResourceGroup, activity: Activity) -> dict[str, Any]:
    """The Bundle `repo.start(group, activity)` sends, with every `ifNoneExist` dropped.

    Medplum refuses a transaction of more than 8 entries that has a conditional entry, and the app's split of
    the start of a whole group fails on the plan <-> agreement cycle (see the module's docstring); without the
    conditions Medplum takes the group in one transaction and rewrites the placeholders itself.
    """
    empty = LoadedGroup(repo.patient, None, RefIndex(), {}, [], LoadStrategy.INCLUDE, 0)
    changeset = repo._diff(group, empty)
    bundle = copy.deepcopy(repo._bundle(changeset, activity))
    for entry in bundle.get("entry") or []:
        entry.get("request", {}).pop("ifNoneExist", None)
    return bundle


def point_launch(env: Any, *, iss: str, patient: str | None) -> None:
    """The planted launch, on `iss` (the proxy) and `patient`."""
    _change_launch(env, iss=iss, patient=patient)


def as_user(env: Any, user: str) -> None:
    """The planted launch, for `user` (its fhirUser)."""
    _change_launch(env, fhir_user=user)


def _change_launch(env: Any, **changes: Any) -> None:
    sessions: SessionStore = env.app.extensions["session_store"]
    context = sessions.get_context(env.context_id)
    if context is None:
        raise RuntimeError("the planted launch is gone")
    sessions.save_context(dataclasses.replace(context, **changes))


def measure(wire: Wire, fn: Callable[[], Any]) -> tuple[float, float, float]:
    """(app's CPU ms, app's own ms, wall ms) of one call.

    The app's own time is wall time minus the time inside HTTP round trips; its CPU time is the CPU of this
    thread (the app's request runs here, the FHIR server and the proxy in other threads), which other
    processes on a busy machine do not inflate.
    """
    _, s0 = wire.snapshot()
    c0 = time.thread_time()
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    cpu = time.thread_time() - c0
    _, s1 = wire.snapshot()
    return cpu * 1000, (wall - (s1 - s0)) * 1000, wall * 1000


def counted(proxy: LatencyProxy, fn: Callable[[], Any]) -> int:
    before = proxy.count
    fn()
    return proxy.count - before


def naive_load(proxy: LatencyProxy, session: requests.Session, patient_id: str, count: int = 0) -> int:
    """Read a group the way SMART apps usually do: a search per type (pages of `count` followed; 0: no `_count`,
    the server's own page size), then a read of the patient, of every team member and of every place, one after
    the other. Answers the number of resources."""
    found: dict[str, dict[str, Any]] = {}
    for rtype, params in group_searches_by_patient(patient_id, count):
        if not count:  # no page size asked
            params = [(k, v) for k, v in params if k != "_count"]
        page: dict[str, Any] | None = session.get(f"{proxy.base}/{rtype}", params=params, headers=FHIR_JSON).json()
        while page is not None:
            for entry in page.get("entry") or []:
                res = entry.get("resource") or {}
                found[f"{res.get('resourceType')}/{res.get('id')}"] = res
            nxt = next((link["url"] for link in page.get("link") or [] if link.get("relation") == "next"), None)
            page = session.get(proxy.rebase(nxt), headers=FHIR_JSON).json() if nxt else None
    wanted = {f"Patient/{patient_id}"}
    for res in list(found.values()):
        if res.get("resourceType") == "CareTeam":
            wanted |= {str((p.get("member") or {}).get("reference")) for p in res.get("participant") or []}
        if res.get("resourceType") == "Appointment":
            wanted |= {
                str((p.get("actor") or {}).get("reference"))
                for p in res.get("participant") or []
                if str((p.get("actor") or {}).get("reference")).startswith("Location/")
            }
    for ref in sorted(r for r in wanted if "/" in r):
        read = session.get(f"{proxy.base}/{ref}", headers=FHIR_JSON)
        if read.ok:
            found[ref] = read.json()
    return len(found)


def run_size(
    env: Any, wire: Wire, proxy: LatencyProxy, size: str, pid: str, latency: float, repeat: int, naive_count: int = 0
) -> dict[str, float]:
    out: dict[str, float] = {}
    proxy.latency = latency
    point_launch(env, iss=proxy.base, patient=pid)
    settings = env.app.extensions["resourcegroep"]
    settings["every_score_in_pages"] = IN_PAGES
    store = SqliteCapabilityStore(Path(tempfile.mkdtemp()) / "capabilities.sqlite3")

    def view() -> None:
        r = env.get("/")
        if r.status_code != 200:
            raise RuntimeError(f"view answered {r.status_code}")

    settings["capabilities"] = CapabilityCache(store=store)  # a start with an empty capability store
    out["requests, first view (empty store)"] = counted(proxy, view)
    settings["capabilities"] = CapabilityCache(store=store)  # a restart: the store knows the server
    out["requests, first view (warm store)"] = counted(proxy, view)
    out["requests, later view"] = counted(proxy, view)
    measured = [measure(wire, view) for _ in range(repeat)]
    views = [m[1] for m in measured]
    out["view overhead p50 ms"] = statistics.median(views)
    out["view overhead p90 ms"] = pct(views, 90)
    out["view app CPU p50 ms"] = statistics.median(m[0] for m in measured)
    out["view wall p50 ms"] = statistics.median(m[2] for m in measured)
    # The same view when the group changed since the view before (the read cache has not seen these versions).
    cold = []
    for _ in range(repeat):
        if settings.get("read_cache") is not None:  # an older tree (before/after runs) has none
            settings["read_cache"].clear()
        cold.append(measure(wire, view))
    out["view app CPU p50 ms, changed group"] = statistics.median(m[0] for m in cold)
    out["view overhead p50 ms, changed group"] = statistics.median(m[1] for m in cold)
    # The patient's home, as the patient (the portal launch): a page from the patient's view of the group
    # (`rights.visible_to`, a copy without what the role may not see), the group unchanged.
    as_user(env, f"Patient/{pid}")
    try:
        view()
        mine = [measure(wire, view) for _ in range(repeat)]
    finally:
        as_user(env, USER)
    out["patient's home app CPU p50 ms"] = statistics.median(m[0] for m in mine)

    repo = GroupRepository(
        client=FhirClient(proxy.base),
        patient_id=pid,
        user=USER,
        outbox=SqliteOutbox(Path(tempfile.mkdtemp()) / "o.sqlite"),
        capabilities=settings["capabilities"],
        every_score_in_pages=IN_PAGES,
    )
    naive = requests.Session()
    ours_ms, ours_own, ours_server, naive_ms = [], [], [], []
    ours_requests = naive_requests = 0
    for _ in range(max(3, repeat // 2)):  # interleaved: one of ours, one naive
        before, waited = proxy.count, proxy.upstream_seconds
        _, own, wall = measure(wire, repo.load)
        ours_ms.append(wall)
        ours_own.append(own)
        ours_server.append((proxy.upstream_seconds - waited) * 1000)
        ours_requests = proxy.count - before
        before = proxy.count
        t0 = time.perf_counter()
        naive_load(proxy, naive, pid, naive_count)
        naive_ms.append((time.perf_counter() - t0) * 1000)
        naive_requests = proxy.count - before
    out["load wall p50 ms, ours"] = statistics.median(ours_ms)
    out["requests, our load"] = ours_requests
    out["load server p50 ms, ours (at the proxy)"] = statistics.median(ours_server)
    out["load own p50 ms, ours"] = statistics.median(ours_own)
    out["load wall p50 ms, naive"] = statistics.median(naive_ms)
    out["requests, naive load"] = naive_requests
    out["naive / ours (load wall)"] = statistics.median(naive_ms) / statistics.median(ours_ms)

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

    def posted() -> None:  # the same note through the app's form: its POST loads the newest scores only
        r = env.post(f"/doelen/{goal_uid}/notitie", {"note": "bench"})
        if r.status_code != 303:
            raise RuntimeError(f"the note's POST answered {r.status_code}")

    posts = [measure(wire, posted) for _ in range(max(3, repeat // 2))]
    out["app save (POST) overhead p50 ms"] = statistics.median(m[1] for m in posts)
    out["app save (POST) app CPU p50 ms"] = statistics.median(m[0] for m in posts)
    out["peak RSS MB, bench process"] = peak_rss_mb()
    return out


def run_caseload(wire: Wire, proxy: LatencyProxy, latency: float, repeat: int) -> dict[str, float]:
    proxy.latency = latency
    client = FhirClient(proxy.base)
    times, rows = [], 0
    before = proxy.count
    load_caseload(client, USER)
    requests_ = proxy.count - before
    for _ in range(repeat):
        _, own, _ = measure(wire, lambda: load_caseload(client, USER))
        times.append(own)
    rows = len(load_caseload(client, USER))
    return {"caseload rows": rows, "caseload requests": requests_, "caseload overhead p50 ms": statistics.median(times)}


# ---------------------------------------------------------------------- the worker-like child process


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: unlike ru_maxrss it does not inherit the parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


IN_PAGES = False  # `--every-score-in-pages`: the app's setting and our load's
OLDER_TIMELINE_PAGE = 12  # a page of the timeline past the newest 1,000 scores (100 events a page)


def worker_main(base: str, patient_id: str, views: int, saves: int) -> int:
    """Only the app, on `base` (the parent's store through its proxy): `views` context views, then `saves` goal
    notes posted to the app as a browser posts the goal page's note form, then the goal's page and all of its
    scores, then the other
    pages' kinds (members, a member, agreements, meetings), the timeline's first page and an older one, a meeting's
    printed agenda and report, its report and the overview again, the oldest meeting's report, a page of the
    timeline far back by its older link and its oldest page by its link, last the timeline's last page by its
    number; prints the peak RSS after each part as JSON."""
    from flask import session
    from flask_wtf.csrf import generate_csrf

    from plugin.app import create_app
    from plugin.config import AppConfig
    from smart_launch import EhrRegistration
    from tests.support.ui import SECRET, WRITE_SCOPES, plant_launch

    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp())
    config = AppConfig(
        public_base_url="http://app.test",
        secret_key=SECRET,
        ehrs=(EhrRegistration(name="sandbox", iss=base, client_id="resourcegroep", title="Sandbox EPD"),),
        session_cookie_secure=False,
        session_cookie_samesite="Lax",
        outbox_db=str(tmp / "outbox.sqlite3"),
        every_score_in_pages=IN_PAGES,
    )
    app = create_app(config)
    app.config["TESTING"] = True
    client = app.test_client()
    sid, context = plant_launch(
        app.extensions["session_store"], iss=base, patient=patient_id, user=USER, scopes=WRITE_SCOPES
    )
    client.set_cookie("rg_session", sid, domain="localhost")
    result: dict[str, float] = {"start": peak_rss_mb()}

    def page(path: str) -> str:
        r = client.get(f"/c/{context.context_id}{path}")
        if r.status_code != 200:
            raise RuntimeError(f"{path} answered {r.status_code}")
        return str(r.get_data(as_text=True))

    overview = ""
    for _ in range(views):
        overview = page("/")
    result["views"] = peak_rss_mb()
    # The first goal the overview links to.
    found = re.search(rf'href="/c/{re.escape(context.context_id)}/doelen/([^"#?/]+)"', overview)
    if found is None:
        raise RuntimeError("the overview links to no goal")
    with app.test_request_context(headers={"Cookie": f"rg_session={sid}"}):  # the form's CSRF token
        token = str(generate_csrf())
        app.session_interface.save_session(app, session, app.response_class())  # type: ignore[arg-type]
    posts: list[float] = []
    for n in range(saves):
        form = {"csrf_token": token, "submission_key": str(uuid.uuid4()), "note": f"bench {n}"}
        started = time.thread_time()
        r = client.post(f"/c/{context.context_id}/doelen/{found.group(1)}/notitie", data=form)
        posts.append((time.thread_time() - started) * 1000)
        if r.status_code != 303:
            raise RuntimeError(f"the note's POST answered {r.status_code}")
    result["saves"] = peak_rss_mb()
    result["post_cpu"] = max(posts)  # the app's own CPU (the server is another process): the slower of the saves

    goal_page = page(f"/doelen/{found.group(1)}")
    result["goal_page"] = peak_rss_mb()
    every = re.search(r'\?alle=([^"#&]+)', goal_page)  # the link to all of the goal's scores (when it has older ones)
    page(f"/doelen/{found.group(1)}?alle={every.group(1) if every else '1'}")
    result["goal_all"] = peak_rss_mb()
    members = page("/leden")
    member = re.search(rf'href="/c/{re.escape(context.context_id)}/leden/([0-9a-f-]{{36}})"', members)
    if member is None:
        raise RuntimeError("the member list links to no member")
    for path in (f"/leden/{member.group(1)}", "/afspraken"):
        page(path)
    meetings = page("/bijeenkomsten")
    asked = {"patient": f"Patient/{patient_id}", "status": "proposed"}
    booked = requests.get(f"{base}/Appointment", params=asked, timeout=60).json()
    planned = {i["value"] for e in booked.get("entry", []) for i in e["resource"].get("identifier", [])}
    link = rf'href="/c/{re.escape(context.context_id)}/bijeenkomsten/([0-9a-f-]{{36}})"'
    meeting = next((found for found in re.finditer(link, meetings) if found.group(1) not in planned), None)
    if meeting is None or not planned:
        raise RuntimeError("the meetings page links to no held meeting, or the group has no planned one")
    result["other_pages"] = peak_rss_mb()
    page("/tijdlijn")  # its first page: from the newest scores when it lies within them (a huge group's does)
    result["timeline"] = peak_rss_mb()
    # An older page, past the newest 1,000 scores: it reads the newest 1,300 (the batch, then one stretch).
    page(f"/tijdlijn?pagina={OLDER_TIMELINE_PAGE}")
    result["timeline_older"] = peak_rss_mb()
    # The meeting's printed agenda and report: each goal's newest scores.
    page(f"/bijeenkomsten/{meeting.group(1)}/agenda/afdrukken")
    page(f"/bijeenkomsten/{meeting.group(1)}/verslag/afdrukken")
    result["prints"] = peak_rss_mb()
    # The meeting's report (the newest scores: they hold every score given at a meeting held since their first
    # day), then the overview again.
    page(f"/bijeenkomsten/{meeting.group(1)}/verslag")
    result["report"] = peak_rss_mb()
    page("/")
    result["after_report"] = peak_rss_mb()
    # The report of the oldest meeting (held before the newest scores' first day in a huge group: the newest
    # scores, then those and every score of the meeting's day).
    oldest = re.findall(r'/bijeenkomsten/([0-9a-f-]{36})"', page("/bijeenkomsten?alle=1"))  # the latest first
    if not oldest:
        raise RuntimeError("the meetings page links to no meeting")
    page(f"/bijeenkomsten/{oldest[-1]}/verslag")
    result["older_report"] = peak_rss_mb()
    # The report of the meeting still planned (before session 20: every score).
    for uid in planned:
        page(f"/bijeenkomsten/{uid}/verslag")
    result["planned_report"] = peak_rss_mb()
    # A page of the timeline far back by its older link (`?vanaf=`, where it starts): the newest scores and a page
    # of those up to its first day.
    far = (BENCH_START + timedelta(days=7 * (FAR_MEETING + 1))).astimezone(CLINIC_ZONE).date()
    page(f"/tijdlijn?pagina={FAR_PAGE}&vanaf={far.isoformat()}.0")
    result["timeline_far"] = peak_rss_mb()
    # Its oldest page, by the link "Oudste gebeurtenissen" (`?tot=`, the place after every event): the newest
    # scores and the oldest page of scores.
    oldest = re.search(r'href="[^"]*/tijdlijn\?([^"]*)" rel="last"', page("/tijdlijn"))
    if oldest is None:
        raise RuntimeError("the timeline has no link to its oldest events")
    page(f"/tijdlijn?{html.unescape(oldest.group(1))}")
    result["timeline_oldest"] = peak_rss_mb()
    # A page far back by its number (a bookmark), and the last page (a number past the end): the newest scores,
    # counts of the older ones to find the page's day, then the newest scores and a page of those up to that day.
    sent = [0]  # the app's requests to the EHR (every one goes through an HTTPAdapter)
    send = requests.adapters.HTTPAdapter.send

    def counting(self: requests.adapters.HTTPAdapter, *args: Any, **kwargs: Any) -> requests.Response:
        sent[0] += 1
        return send(self, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = counting  # type: ignore[method-assign]
    for key, path in (
        ("timeline_far_number", f"/tijdlijn?pagina={FAR_PAGE}"),
        ("timeline_last", "/tijdlijn?pagina=9999"),
    ):
        before, cpu, wall = sent[0], time.thread_time(), time.perf_counter()
        page(path)
        result[f"{key}_requests"] = sent[0] - before
        result[f"{key}_cpu"] = (time.thread_time() - cpu) * 1000
        result[f"{key}_wall"] = (time.perf_counter() - wall) * 1000
        result[key] = peak_rss_mb()
    print(json.dumps(result))
    return 0


def reminders_main(base: str, patient_id: str) -> int:
    """Only the reminder round's read of one group, on `base` (the parent's store through its proxy), in a process
    of its own as the worker is: what is due (nothing is written), twice (the second as a later group of a round is
    read: the capability statement known); prints the second read's requests and CPU, and the peak RSS, as JSON."""
    from plugin.reminders import due_for_patient

    logging.disable(logging.WARNING)
    client = FhirClient(base, None, scope_context="system")
    outbox = SqliteOutbox(Path(tempfile.mkdtemp()) / "outbox.sqlite3")
    capabilities = CapabilityCache()  # one per round: the first group's read asks for /metadata, the others do not

    def read() -> int:
        return len(
            due_for_patient(client, f"Patient/{patient_id}", outbox, capabilities, "Device/bench", now, UTC).reminders
        )

    now = datetime.now(UTC)
    read()  # as the round's first group: the capability statement, the imports
    before, started = client.request_count, time.process_time()
    due = read()
    cpu = (time.process_time() - started) * 1000
    print(json.dumps({"requests": client.request_count - before, "cpu": cpu, "peak": peak_rss_mb(), "due": due}))
    return 0


def child(proxy: LatencyProxy, what: str, options: list[str], read_timeout: float | None) -> dict[str, float] | None:
    """Run this script as a child process (`options`: its `--worker`/`--reminders` and theirs) against the proxy
    without added latency; the JSON of its last line, None when it failed (said on stderr)."""
    proxy.latency = 0.0
    command = [sys.executable, __file__, *options]
    if read_timeout is not None:
        command += ["--read-timeout", str(read_timeout)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        print(f"# {what} failed: {done.stderr[-2000:]}", file=sys.stderr)
        return None
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def reminder_read(proxy: LatencyProxy, pid: str, read_timeout: float | None) -> dict[str, float]:
    found = child(proxy, "reminder read", ["--reminders", proxy.base, pid], read_timeout)
    if found is None:
        return {}
    return {
        "reminder round's read of the group: requests": found["requests"],
        "reminder round's read of the group: CPU ms": found["cpu"],
        "reminder round's read of the group: peak RSS MB": found["peak"],
    }


def worker_rss(proxy: LatencyProxy, pid: str, read_timeout: float | None) -> dict[str, float]:
    options = ["--worker", proxy.base, pid, *(["--every-score-in-pages"] if IN_PAGES else [])]
    found = child(proxy, "worker", options, read_timeout)
    if found is None:
        return {}
    return {
        "worker peak RSS MB, started": found["start"],
        "worker peak RSS MB, after 3 views": found["views"],
        "worker peak RSS MB, after 2 saves": found["saves"],
        "worker app save (POST) CPU ms, slower of 2": found["post_cpu"],
        "worker peak RSS MB, after a goal page": found["goal_page"],
        "worker peak RSS MB, after the goal's all scores": found["goal_all"],
        "worker peak RSS MB, after members, a member, agreements, meetings": found["other_pages"],
        "worker peak RSS MB, after the timeline's first page": found["timeline"],
        f"worker peak RSS MB, after the timeline's page {OLDER_TIMELINE_PAGE}": found["timeline_older"],
        "worker peak RSS MB, after a meeting's printed agenda and report": found["prints"],
        "worker peak RSS MB, after the meeting's report": found["report"],
        "worker peak RSS MB, after the overview once more": found["after_report"],
        "worker peak RSS MB, after the oldest meeting's report (its day's scores)": found["older_report"],
        "worker peak RSS MB, after the planned meeting's report": found.get("planned_report", 0.0),
        "worker peak RSS MB, after a timeline page far back by its older link": found["timeline_far"],
        "worker peak RSS MB, after the timeline's oldest page by its link": found["timeline_oldest"],
        "worker peak RSS MB, after a timeline page far back by its number": found["timeline_far_number"],
        "worker peak RSS MB, after the timeline's last page by its number": found["timeline_last"],
        **{
            f"worker {what} by its number: {unit}": found[f"{key}_{part}"]
            for key, what in (
                ("timeline_far_number", "timeline page far back"),
                ("timeline_last", "timeline's last page"),
            )
            for part, unit in (("requests", "requests"), ("cpu", "app CPU ms"), ("wall", "wall ms"))
        },
    }


# ---------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="typical,large")
    parser.add_argument("--latency", default="0,20", help="milliseconds the proxy adds per request, comma separated")
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument(
        "--naive-count",
        type=int,
        default=0,
        help="the naive loader's page size (_count; default 0: none sent, the server's own page size, as an app that"
        " asks for no page size gets): its number of requests, hence the ratio, follows it",
    )
    parser.add_argument(
        "--server",
        choices=("sandbox", "medplum"),
        default="sandbox",
        help="the FHIR server: the sandbox store in this process, or the Medplum engine started for the run",
    )
    parser.add_argument("--no-worker", action="store_true", help="skip the worker-like child process (its RSS)")
    parser.add_argument(
        "--every-score-in-pages",
        action="store_true",
        help="the app and our load read every score page by page (AppConfig.every_score_in_pages)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("BASE", "PATIENT"), help=argparse.SUPPRESS)
    parser.add_argument("--reminders", nargs=2, metavar=("BASE", "PATIENT"), help=argparse.SUPPRESS)
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
    global IN_PAGES  # one setting for the whole run, the worker's too
    IN_PAGES = args.every_score_in_pages
    if args.worker:
        return worker_main(args.worker[0], args.worker[1], views=3, saves=2)
    if args.reminders:
        return reminders_main(args.reminders[0], args.reminders[1])
    logging.basicConfig(level=logging.ERROR)
    logging.disable(logging.WARNING)
    wire = Wire()
    wire.install()
    sizes = [s for s in args.sizes.split(",") if s]
    latencies = [float(x) for x in args.latency.split(",") if x]
    results: dict[str, dict[str, float]] = {}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        env = stack.enter_context(launched(tmp, seed=False, patient="none"))  # with medplum its store stays idle
        base = stack.enter_context(medplum_server()) if args.server == "medplum" else env.fhir_base
        proxy = LatencyProxy(base)
        try:
            for size in sizes:
                t0 = time.perf_counter()
                pid, resources = new_patient(base, size, args.server)
                print(f"# {size}: {resources} resources written in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
                for latency in latencies:
                    column = f"{size} {latency:g}ms"
                    results[column] = {"resources": resources}
                    results[column].update(
                        run_size(env, wire, proxy, size, pid, latency / 1000, args.repeat, args.naive_count)
                    )
                if not args.no_worker:
                    results[f"{size} {latencies[0]:g}ms"].update(worker_rss(proxy, pid, args.read_timeout))
                    results[f"{size} {latencies[0]:g}ms"].update(reminder_read(proxy, pid, args.read_timeout))
                print(f"# {size}: measured in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            for latency in latencies:
                results[f"caseload {latency:g}ms"] = run_caseload(wire, proxy, latency / 1000, args.repeat)
        finally:
            proxy.stop()
    keys: list[str] = []
    for found in results.values():
        keys += [k for k in found if k not in keys]
    width = max(len(k) for k in keys)
    columns = list(results)
    cw = max(12, *(len(c) for c in columns))
    print(f"{'':{width}}" + "".join(f"  {c:>{cw}}" for c in columns))
    for key in keys:
        cells = (f"{results[c][key]:{cw}.1f}" if key in results[c] else f"{'':{cw}}" for c in columns)
        print(f"{key:{width}}" + "".join(f"  {cell}" for cell in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
