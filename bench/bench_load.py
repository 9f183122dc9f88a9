"""Throughput under load: N simulated clinicians, each with its own launch and group, no pause between pages.

    .venv/bin/python bench/bench_load.py [--clinicians 100] [--seconds 30] [--server gunicorn|dev|both]
                                         [--workers 2] [--threads 8]
    .venv/bin/python bench/bench_load.py --quick        # smoke test: 3 clinicians, a few seconds, exits 0
    .venv/bin/python bench/bench_load.py --trees /tmp/before,. --rounds 2   # before/after: same backend and groups

Three kinds of process, as in production:

- **the FHIR backend** (its own process): the sandbox FHIR store (in memory) behind a response cache, served by
  a multi-threaded server with keep-alive. A read (a GET, or a batch of GETs) is answered from the cache until
  a write mentions the same patient; a write goes to the store (so every load sees every save) and drops that
  patient's cached answers. The backend is therefore never the limit for page views, and answers exactly
  what the real store answers.
- **the app**: ``resourcegroep serve`` (gunicorn, ``--workers`` x ``--threads``, sessions and launches in a
  SQLite session store shared by the workers, the outbox in its SQLite file), and/or the Flask dev server
  (``--server dev``: one process, threaded, for comparison).
- **the clinicians** (this process): one thread each, with its own keep-alive connection, its own browser
  session and launch (planted in the app's session store, as ``tests/support/ui.py`` does) and its own group
  (typical size: 8 members, 6 goals, 10 agreements, 8 held meetings, written by the app's own mapping).
  Each loops without pause: the overview, a goal page, a member page, and every ``--save-every``-th round a
  save (a note on the goal, with a fresh submission key and a unique text).

It prints requests/s, p50/p95/p99 per page kind, errors, the app's CPU time per request (user+system time of
the app's processes, gunicorn's master included, over the measured window, divided by the requests answered),
the backend's CPU per request, the RSS per app process, and the check that every save landed exactly once:
each acknowledged save's note text is counted in the backend's Goals afterwards (in `note` or in an
extension's Annotation: must be 1), and every note
found must belong to a save this run made. No assertions on time: this measures, tests judge. Exit 0 unless
the run itself could not be made (a lost or duplicated save or an error is printed, and gives exit 1 only
with ``--strict``).
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
USER = "Practitioner/anna-de-vries"
SECRET = "bench-load-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - a local benchmark
NOTE_PREFIX = "bench-load-note-"
KINDS = ("overview", "goal page", "member page", "save")
_TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_PATIENT_RE = re.compile(rb"Patient/([A-Za-z0-9\-.]{1,64})|(?:patient|subject)=(?:Patient/)?([A-Za-z0-9\-.]{1,64})")


# ----------------------------------------------------------------------------------------------- the backend


class CachingFhir:
    """WSGI wrapper around the sandbox FHIR app: reads answered from a cache, writes drop the patient's entries.

    A cached answer is tagged with the patients its request names; a write naming a patient drops them (a write
    naming none drops everything). A read that raced a write is not stored (per-patient generation check)."""

    def __init__(self, inner: Callable[..., Any], store: Any, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.inner = inner
        self.store = store
        self.lock = threading.Lock()
        self.cache: dict[tuple[Any, ...], tuple[str, list[tuple[str, str]], bytes, frozenset[str]]] = {}
        self.generation: dict[str, int] = defaultdict(int)
        self.epoch = 0
        self.reads = self.hits = self.writes = 0

    @staticmethod
    def _patients(*parts: bytes) -> frozenset[str]:
        found = set()
        for part in parts:
            for a, b in _PATIENT_RE.findall(part):
                found.add((a or b).decode())
        return frozenset(found)

    @staticmethod
    def _is_read(method: str, path: str, body: bytes) -> bool:
        if method == "GET":
            return True
        if method != "POST" or path.rstrip("/") != "/fhir":
            return path.rstrip("/").endswith("/_search") and method == "POST"
        try:
            bundle = json.loads(body)
        except ValueError:
            return False
        entries = bundle.get("entry") or []
        return bundle.get("type") == "batch" and all((e.get("request") or {}).get("method") == "GET" for e in entries)

    def _call_inner(self, environ: dict[str, Any], body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        import io

        environ = dict(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        captured: dict[str, Any] = {}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        chunks = self.inner(environ, start)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return captured["status"], captured["headers"], data

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if path == "/_bench/count":
            return self._count(body, start_response)
        if path == "/_bench/stats":
            stats = {"reads": self.reads, "hits": self.hits, "writes": self.writes, "cpu": _own_cpu()}
            return self._json(start_response, stats)
        if self.enabled and self._is_read(method, path, body):
            key = (method, path, query, body, environ.get("HTTP_ACCEPT"), environ.get("HTTP_PREFER"))
            with self.lock:
                self.reads += 1
                hit = self.cache.get(key)
                if hit is not None:
                    self.hits += 1
            if hit is not None:
                start_response(hit[0], hit[1])
                return [hit[2]]
            patients = self._patients(path.encode(), query.encode(), body)
            with self.lock:
                seen = (self.epoch, tuple(self.generation[p] for p in sorted(patients)))
            status, headers, data = self._call_inner(environ, body)
            if status.startswith("200"):
                with self.lock:
                    if seen == (self.epoch, tuple(self.generation[p] for p in sorted(patients))):
                        self.cache[key] = (status, headers, data, patients)
            start_response(status, headers)
            return [data]
        patients = self._patients(path.encode(), query.encode(), body)
        try:
            status, headers, data = self._call_inner(environ, body)
        finally:
            with self.lock:
                self.writes += 1
                if patients:
                    for p in patients:
                        self.generation[p] += 1
                    self.cache = {k: v for k, v in self.cache.items() if not (v[3] & patients)}
                else:
                    self.epoch += 1
                    self.cache.clear()
        start_response(status, headers)
        return [data]

    @staticmethod
    def _json(start_response: Callable[..., Any], value: Any) -> list[bytes]:
        data = json.dumps(value).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def _count(self, body: bytes, start_response: Callable[..., Any]) -> list[bytes]:
        """How often each note text and each save key occurs in the store's current Goals and Provenances, and
        every bench note text found (to spot notes nobody acknowledged)."""
        from fhir_mappings.codes import SAVE_KEY_SYSTEM

        asked = json.loads(body or b"{}")
        notes: dict[str, int] = defaultdict(int)
        keys: dict[str, int] = defaultdict(int)
        # Every current resource, not a search: a search answers at most the store's MAX_COUNT (1,000) matches.
        for goal in self.store.all_of_type("Goal"):
            for text in _texts(goal):  # Goal.note, or an Annotation in an extension where a profile allows one note
                if text.startswith(NOTE_PREFIX):
                    notes[text] += 1
        wanted = set(asked.get("keys") or [])
        for prov in self.store.all_of_type("Provenance"):
            for tag in (prov.get("meta") or {}).get("tag") or []:
                if tag.get("system") == SAVE_KEY_SYSTEM and tag.get("code") in wanted:
                    keys[tag["code"]] += 1
        return self._json(start_response, {"notes": notes, "keys": keys})


def _texts(value: Any) -> Iterator[str]:
    """Every `text` string anywhere in a resource."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            text = item.get("text")
            if isinstance(text, str):
                yield text
            todo.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            todo.extend(item)


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def run_backend(port: int, *, cache: bool = True) -> None:
    """The FHIR backend process: the sandbox store in memory with demo data, cached reads, keep-alive."""
    import logging

    from werkzeug.serving import WSGIRequestHandler, make_server

    from sandbox import demo_data
    from sandbox.fhir import FhirStore, create_fhir_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    store = FhirStore(":memory:")
    demo_data.seed(store.load)
    base = f"http://{HOST}:{port}/fhir"
    inner = create_fhir_app(store=store, auth_enabled=False, base_path="/fhir", public_base_url=base)

    class Handler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return

    server = make_server(HOST, port, CachingFhir(inner, store, enabled=cache), threaded=True, request_handler=Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    server.serve_forever()


# ------------------------------------------------------------------------------------------- set-up helpers


def free_port() -> int:
    from tests.support.servers import free_port as pick

    return pick()


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 90) -> None:
    from tests.support.servers import wait_http as wait

    wait(url, timeout=timeout, proc=proc)


@contextmanager
def process(args: list[str], log_file: Path, ready_url: str, cwd: Path = ROOT) -> Iterator[subprocess.Popen[bytes]]:
    with log_file.open("wb") as err:
        proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        try:
            wait_http(ready_url, proc=proc)
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Clinician:
    """One simulated clinician: a browser session with a launch for their own patient's group."""

    sid: str
    context_id: str
    patient: str
    goal_uid: str
    member_uid: str
    saved: list[tuple[str, str]] = field(default_factory=list)  # (note text, save key) the app acknowledged


def seed_groups(fhir_base: str, count: int, scratch: Path) -> list[tuple[str, str, str]]:
    """`count` patients, each with a typical group written by the app's own mapping: (patient id, goal uid, member
    uid)."""
    from bench.bench_views import SIZES, build_group
    from plugin.sync.capabilities import CapabilityCache
    from plugin.sync.client import FhirClient
    from plugin.sync.outbox import SqliteOutbox
    from plugin.sync.repository import Activity, GroupRepository

    client = FhirClient(fhir_base)
    caps = CapabilityCache()
    outbox = SqliteOutbox(scratch / "seed-outbox.sqlite3")
    out = []
    for i in range(count):
        pid = client.create({"resourceType": "Patient", "name": [{"given": ["Load"], "family": f"Bench {i}"}]})
        pid = pid.json()["id"]
        repo = GroupRepository(
            client=client,
            patient_id=pid,
            user=USER,
            outbox=outbox,
            capabilities=caps,
        )
        group = build_group(f"Patient/{pid}", *SIZES["typical"])
        repo.start(group, Activity("Resourcegroep gestart", "CREATE"))
        admitted = [m for m in group.members if m.uid]
        out.append((pid, group.goals[0].uid, admitted[0].uid))
    return out


def plant_launches(session_db: str, fhir_base: str, groups: list[tuple[str, str, str]]) -> list[Clinician]:
    """A browser session and a launch per clinician in the app's session store (as tests/support/ui.py does)."""
    from smart_launch import SQLiteSessionStore
    from tests.support.ui import WRITE_SCOPES, plant_launch

    store = SQLiteSessionStore(session_db)
    clinicians = []
    for pid, goal_uid, member_uid in groups:
        sid, context = plant_launch(
            store, iss=fhir_base, patient=pid, user=USER, scopes=WRITE_SCOPES, ehr_name="bench", lifetime=3 * 3600
        )
        clinicians.append(Clinician(sid, context.context_id, pid, goal_uid, member_uid))
    store.close()
    return clinicians


def write_config(folder: Path, app_url: str, fhir_base: str) -> Path:
    from sandbox.demo import to_toml

    mapping = {
        "app": {
            "public_base_url": app_url,
            "secret_key": SECRET,
            "session_cookie_secure": False,
            "session_cookie_samesite": "Lax",
            "session_db": str(folder / "sessions.sqlite3"),
            "outbox_db": str(folder / "outbox.sqlite3"),
            "session_lifetime": 3 * 3600,
            "session_idle_timeout": 3 * 3600,
        },
        "ehr": [{"name": "bench", "title": "Bench EPD", "iss": fhir_base, "client_id": "resourcegroep"}],
        "audit": {"log_file": str(folder / "audit" / "audit.jsonl")},
    }
    path = folder / "app.toml"
    path.write_text(to_toml(mapping), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ measuring


def app_processes(root_pid: int) -> list[int]:
    """The pid and every descendant's (gunicorn's master and its workers)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children[ppid].append(int(entry))
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pids: Iterable[int]) -> float:
    """user+system CPU seconds of the processes (their own, not their waited-for children's)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Tally:
    """What the clinicians saw: latencies per page kind, errors by cause."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.latencies[kind].append(seconds)
            else:
                self.errors[f"{kind}: {error}"] += 1


class Browser:
    """One clinician's keep-alive connection with their session cookie."""

    def __init__(self, port: int, sid: str) -> None:
        self.port = port
        self.cookie = sid
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        headers = {"Cookie": f"rg_session={self.cookie}", "Host": f"{HOST}:{self.port}"}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{HOST}:{self.port}{path}"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed a keep-alive connection between requests: open a new one and send again
                # (only when nothing was answered; a save's key makes even a repeat harmless).
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("rg_session="):
                self.cookie = value.split(";", 1)[0].split("=", 1)[1] or self.cookie
        return response.status, text

    def close(self) -> None:
        self.conn.close()


def clinician_loop(
    c: Clinician, port: int, tally: Tally, stop: threading.Event, measuring: threading.Event, save_every: int
) -> None:
    browser = Browser(port, c.sid)
    prefix = f"/c/{c.context_id}"
    pages = (
        ("overview", f"{prefix}/"),
        ("goal page", f"{prefix}/doelen/{c.goal_uid}"),
        ("member page", f"{prefix}/leden/{c.member_uid}"),
    )
    token = ""
    rounds = 0
    try:
        while not stop.is_set():
            rounds += 1
            for kind, path in pages:
                if stop.is_set():
                    return
                t0 = time.perf_counter()
                error = None
                try:
                    status, text = browser.request("GET", path)
                    if status != 200:
                        error = f"HTTP {status}"
                    elif kind == "goal page":
                        found = _TOKEN_RE.search(text)
                        token = found.group(1) if found else token
                except Exception as exc:
                    error = type(exc).__name__
                if measuring.is_set():
                    tally.add(kind, time.perf_counter() - t0, error)
            if rounds % save_every or not token or stop.is_set():
                continue
            note = f"{NOTE_PREFIX}{uuid.uuid4()}"
            key = str(uuid.uuid4())
            form = {"csrf_token": token, "submission_key": key, "note": note}
            t0 = time.perf_counter()
            error = None
            try:
                status, _ = browser.request("POST", f"{prefix}/doelen/{c.goal_uid}/notitie", form)
                if status in (302, 303):
                    c.saved.append((note, key))
                else:
                    error = f"HTTP {status}"
            except Exception as exc:
                error = type(exc).__name__
            if measuring.is_set():
                tally.add("save", time.perf_counter() - t0, error)
    finally:
        browser.close()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fetch_json(port: int, path: str, body: Any = None) -> Any:
    conn = http.client.HTTPConnection(HOST, port, timeout=300)
    try:
        data = json.dumps(body).encode() if body is not None else b""
        conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------------- a run


@dataclass
class Result:
    label: str
    seconds: float
    tally: Tally
    app_cpu: float
    backend_cpu: float
    rss: dict[str, float]
    cpu_each: dict[str, float]
    saves_acknowledged: int
    saves_once: int
    keys_once: int
    keys_missing: int
    keys_repeated: int
    saves_lost: int
    saves_duplicated: int
    unacknowledged_notes: int
    cache_hit_rate: float


def run_once(
    label: str,
    app_cmd: list[str],
    args: argparse.Namespace,
    clinicians: list[Clinician],
    folder: Path,
    app_port: int,
    backend_port: int,
    cwd: Path = ROOT,
) -> Result:
    for c in clinicians:
        c.saved.clear()
    log_file = folder / f"app-{re.sub(r'[^A-Za-z0-9]+', '-', label)}.log"
    with process(app_cmd, log_file, f"http://{HOST}:{app_port}/readyz", cwd) as proc:
        tally = Tally()
        stop, measuring = threading.Event(), threading.Event()
        threads = [
            threading.Thread(
                target=clinician_loop, args=(c, app_port, tally, stop, measuring, args.save_every), daemon=True
            )
            for c in clinicians
        ]
        for t in threads:
            t.start()
        time.sleep(args.warmup)  # every clinician's first view (capability probe, first imports) is not counted
        pids = app_processes(proc.pid)
        stats0 = fetch_json(backend_port, "/_bench/stats")
        each0 = {pid: cpu_seconds([pid]) for pid in pids}
        cpu0 = sum(each0.values())
        t0 = time.perf_counter()
        measuring.set()
        time.sleep(args.seconds)
        measuring.clear()
        seconds = time.perf_counter() - t0
        each1 = {pid: cpu_seconds([pid]) for pid in pids}
        cpu1 = sum(each1.values())
        stats1 = fetch_json(backend_port, "/_bench/stats")
        rss, cpu_each = {}, {}
        for pid in pids:
            name = "master" if pid == proc.pid else f"worker {pid}"
            rss[name] = rss_mb(pid)
            cpu_each[name] = each1[pid] - each0[pid]
        stop.set()
        for t in threads:
            t.join(timeout=90)
    pairs = [pair for c in clinicians for pair in c.saved]
    counted = fetch_json(backend_port, "/_bench/count", {"keys": [key for _, key in pairs]})
    notes: dict[str, int] = counted["notes"]
    keys: dict[str, int] = counted["keys"]
    acknowledged = [n for n, _ in pairs]
    once = sum(1 for n in acknowledged if notes.get(n) == 1)
    lost = sum(1 for n in acknowledged if not notes.get(n))
    duplicated = sum(1 for n in acknowledged if notes.get(n, 0) > 1)
    keys_once = sum(1 for _, k in pairs if keys.get(k) == 1)
    keys_missing = sum(1 for _, k in pairs if not keys.get(k))
    keys_repeated = sum(1 for _, k in pairs if keys.get(k, 0) > 1)
    previous = set(args.previous_notes)
    unacknowledged = sum(1 for n in notes if n not in set(acknowledged) and n not in previous)
    args.previous_notes.extend(acknowledged)
    reads = stats1["reads"] - stats0["reads"]
    hits = stats1["hits"] - stats0["hits"]
    return Result(
        label=label,
        seconds=seconds,
        tally=tally,
        app_cpu=cpu1 - cpu0,
        backend_cpu=stats1["cpu"] - stats0["cpu"],
        rss=rss,
        cpu_each=cpu_each,
        saves_acknowledged=len(acknowledged),
        saves_once=once,
        keys_once=keys_once,
        keys_missing=keys_missing,
        keys_repeated=keys_repeated,
        saves_lost=lost,
        saves_duplicated=duplicated,
        unacknowledged_notes=unacknowledged,
        cache_hit_rate=hits / reads if reads else 0.0,
    )


def report(result: Result, args: argparse.Namespace) -> None:
    lat = result.tally.latencies
    done = sum(len(v) for v in lat.values())
    errors = sum(result.tally.errors.values())
    print(f"\n== {result.label}: {args.clinicians} clinicians, {result.seconds:.1f} s measured ==")
    print(f"requests/s            {done / result.seconds:8.1f}   ({done} answered, {errors} errors)")
    print(f"{'page kind':<20} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    everything: list[float] = []
    for kind in KINDS:
        values = lat.get(kind, [])
        everything.extend(values)
        if values:
            print(
                f"{kind:<20} {len(values):7d} {statistics.median(values) * 1000:8.1f} "
                f"{pct(values, 95) * 1000:8.1f} {pct(values, 99) * 1000:8.1f}"
            )
    if everything:
        print(
            f"{'all':<20} {len(everything):7d} {statistics.median(everything) * 1000:8.1f} "
            f"{pct(everything, 95) * 1000:8.1f} {pct(everything, 99) * 1000:8.1f}"
        )
    for cause, count in sorted(result.tally.errors.items()):
        print(f"  error  {cause}: {count}")
    per = (done + errors) or 1
    print(f"app CPU per request   {result.app_cpu / per * 1000:8.2f} ms   (all app processes, {result.app_cpu:.1f} s)")
    print(
        f"backend CPU/request   {result.backend_cpu / per * 1000:8.2f} ms   "
        f"(cache hit rate {result.cache_hit_rate:.0%})"
    )
    print("CPU per process       " + ", ".join(f"{k} {v:.1f} s" for k, v in result.cpu_each.items()))
    print("RSS per process       " + ", ".join(f"{k} {v:.0f} MB" for k, v in result.rss.items()))
    print(
        f"saves                 {result.saves_acknowledged} acknowledged: {result.saves_once} exactly once, "
        f"{result.saves_lost} lost, {result.saves_duplicated} duplicated; {result.unacknowledged_notes} "
        "saved without an acknowledgement"
    )
    print(
        f"save keys             {result.keys_once} of {result.saves_acknowledged} Provenances with the save's key "
        f"exactly once ({result.keys_missing} without one, {result.keys_repeated} with more than one; a note that is "
        "lost while its key landed: the save overwrote an earlier note)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clinicians", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per server")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring starts")
    parser.add_argument("--server", choices=("gunicorn", "dev", "both"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--save-every", type=int, default=2, help="a save every Nth round of 3 pages")
    parser.add_argument("--quick", action="store_true", help="smoke test: 3 clinicians, 3 s")
    parser.add_argument("--strict", action="store_true", help="exit 1 on errors or a save not landed exactly once")
    parser.add_argument(
        "--trees",
        help="comma-separated source trees to run the app from, one after the other against the same backend and "
        "groups (before/after: e.g. an exported tree without the change, then this one); default: this tree",
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat the trees this often (A B A B ...)")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs, config, databases)")
    parser.add_argument("--no-cache", action="store_true", help="the backend answers every read from its store")
    parser.add_argument("--backend", type=int, help=argparse.SUPPRESS)  # internal: run the FHIR backend
    args = parser.parse_args(argv)
    if args.backend:
        run_backend(args.backend, cache=not args.no_cache)
        return 0
    if args.quick:
        args.clinicians, args.seconds, args.warmup = min(args.clinicians, 3), 3.0, 1.0
    args.previous_notes = []
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    if not args.keep:
        atexit.register(shutil.rmtree, folder, True)
    ok = True
    with ExitStack() as stack:
        backend_port = free_port()
        fhir_base = f"http://{HOST}:{backend_port}/fhir"
        stack.enter_context(
            process(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--backend",
                    str(backend_port),
                    *(["--no-cache"] if args.no_cache else []),
                ],
                folder / "backend.log",
                f"{fhir_base}/metadata",
            )
        )
        t0 = time.perf_counter()
        groups = seed_groups(fhir_base, args.clinicians, folder)
        print(
            f"{args.clinicians} typical groups written in {time.perf_counter() - t0:.1f} s; files in {folder}"
            + ("" if args.keep else " (removed at the end; --keep keeps them)")
        )
        app_port = free_port()
        config = write_config(folder, f"http://{HOST}:{app_port}", fhir_base)
        clinicians = plant_launches(str(folder / "sessions.sqlite3"), fhir_base, groups)
        env_py = [sys.executable]
        runs: list[tuple[str, list[str]]] = []
        if args.server in ("gunicorn", "both"):
            cmd = [*env_py, "-m", "plugin.cli", "serve", "--config", str(config), "--host", HOST]
            cmd += ["--port", str(app_port), "--workers", str(args.workers), "--threads", str(args.threads)]
            cmd += ["--log-level", "warning"]
            runs.append((f"gunicorn {args.workers} workers x {args.threads} threads", cmd))
        if args.server in ("dev", "both"):
            code = (
                "import logging,os,sys; sys.path.insert(0, os.getcwd());"
                "logging.getLogger('werkzeug').setLevel(logging.ERROR);"
                f"os.environ['RESOURCEGROEP_CONFIG']={str(config)!r};"
                "from plugin.app import create_app;"
                f"create_app().run(host={HOST!r}, port={app_port}, threaded=True)"
            )
            runs.append(("dev server (threaded, 1 process)", [*env_py, "-c", code]))
        trees = [Path(t).resolve() for t in args.trees.split(",")] if args.trees else [ROOT]
        for _ in range(args.rounds):
            for tree in trees:
                for label, cmd in runs:
                    named = label if tree == ROOT and len(trees) == 1 else f"{label}, tree {tree}"
                    result = run_once(named, cmd, args, clinicians, folder, app_port, backend_port, tree)
                    report(result, args)
                    if (
                        result.tally.errors
                        or result.keys_once != result.saves_acknowledged
                        or result.saves_lost
                        or result.saves_duplicated
                        or result.unacknowledged_notes
                    ):
                        ok = False
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
