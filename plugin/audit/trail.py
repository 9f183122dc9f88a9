"""The audit trail: access records buffered in memory and written in batches, off the request path.

A page view or a save hands its `AccessRecord`s to `AuditTrail.record`; a background flusher (one thread
for all trails of the process) writes them every `interval` seconds, or sooner when `batch_size` are
waiting, and at process exit. Where the launch's FHIR server accepts AuditEvent (its CapabilityStatement
says `create` and the launch's token may create it) they go there as one `batch` Bundle; whatever the
server does not take, and everything else, goes to the local `AccessLog`: an append-only JSON-lines file,
created 0600, rotated by size. An audit record is never dropped: a failed shipment is written locally.

`RequestAudit` collects what one request did (Flask-free, so the unit of work can report to it).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhir_mappings.audit import ROLE_UNKNOWN, AccessRecord, AuditAction, from_line, to_audit_event, to_line
from plugin.sync.client import FhirClient, StaticTokenProvider
from plugin.sync.errors import SyncError

log = logging.getLogger("plugin.audit")

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_BACKUPS = 30


class AccessLog:
    """An append-only JSON-lines file of access records, rotated by size (`audit.jsonl`, `.1` … `.N`).

    Safe for several threads and processes on one machine: every append takes an exclusive `flock` and
    re-opens the file when another process rotated it meanwhile. Files are created 0600.
    """

    def __init__(self, path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = max(1, backups)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def check_writable(self) -> None:
        """Raise OSError when this process cannot append to the log (checked at start)."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.close(fd)

    @contextlib.contextmanager
    def _locked_fd(self) -> Iterator[int]:
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)  # rotated by another process meanwhile: open the new file
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _rotate(self) -> None:
        for n in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))

    def append(self, records: Sequence[AccessRecord]) -> None:
        """Append the records (one line each); rotate first when the file would grow past `max_bytes`."""
        if not records:
            return
        data = "".join(json.dumps(to_line(r), separators=(",", ":")) + "\n" for r in records).encode()
        with self._lock, self._locked_fd() as fd:
            size = os.fstat(fd).st_size
            if size > 0 and size + len(data) > self.max_bytes:
                self._rotate()  # others waiting on the old file re-open the new one (see _locked_fd)
                fresh = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    _write_all(fresh, data)
                finally:
                    os.close(fresh)
            else:
                _write_all(fd, data)

    def files(self) -> list[Path]:
        """The log files, newest first."""
        numbered = [self.path.with_name(f"{self.path.name}.{n}") for n in range(1, self.backups + 1)]
        return [p for p in (self.path, *numbered) if p.exists()]

    def records(self, patient: str | None = None, *, limit: int | None = None) -> list[AccessRecord]:
        """The records in the log (of one patient when given), newest first; at most `limit` (older files are
        only read when the newer ones hold fewer)."""
        found: list[AccessRecord] = []
        for file in self.files():
            if limit is not None and len(found) >= limit:
                break
            with file.open(encoding="utf-8") as fh:
                lines = fh.readlines()
            for line in reversed(lines):
                try:
                    data = json.loads(line)
                except ValueError:
                    continue
                record = from_line(data) if isinstance(data, dict) else None
                if record is not None and (patient is None or record.patient == patient):
                    found.append(record)
        return found[:limit] if limit is not None else found


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# Ships records to a FHIR server: (base URL, access token, records) -> for each record, whether the server took it.
Shipper = Callable[[str, str, Sequence[AccessRecord]], list[bool]]


def ship_to_fhir(client_options: dict[str, Any]) -> Shipper:
    """A shipper that sends one `batch` Bundle of AuditEvent creates per call."""

    def ship(base_url: str, token: str, records: Sequence[AccessRecord]) -> list[bool]:
        client = FhirClient(base_url, StaticTokenProvider(token), **dict(client_options))
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [
                {
                    "resource": {k: v for k, v in to_audit_event(r).items() if k != "id"},
                    "request": {"method": "POST", "url": "AuditEvent"},
                }
                for r in records
            ],
        }
        try:
            answer = client.batch(bundle).json()
        except SyncError as exc:
            log.warning("audit batch of %d to %s failed: %s", len(records), base_url, exc.diagnostics)
            return [False] * len(records)
        entries = answer.get("entry") or []
        taken = []
        for n in range(len(records)):
            status = str(((entries[n] if n < len(entries) else {}).get("response") or {}).get("status", ""))
            taken.append(status[:1] == "2")
        return taken

    return ship


@dataclass(frozen=True)
class _Pending:
    record: AccessRecord
    fhir_base: str | None  # None: local log only
    token: str | None


class AuditTrail:
    """Buffers access records and writes them in the background (see the module docstring)."""

    def __init__(
        self,
        log_file: AccessLog,
        *,
        shipper: Shipper | None = None,
        interval: float = 2.0,
        batch_size: int = 50,
    ) -> None:
        self.log = log_file
        self.shipper = shipper
        self.interval = interval
        self.batch_size = batch_size
        self._pending: list[_Pending] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.shipped = 0  # counters, for tests and /readyz-style checks
        self.logged = 0
        _FLUSHER.register(self)

    def record(
        self, records: Sequence[AccessRecord], *, fhir_base: str | None = None, token: str | None = None
    ) -> None:
        """Queue records; `fhir_base` and `token` when they are to go to that FHIR server."""
        ship = fhir_base is not None and token is not None and self.shipper is not None
        with self._lock:
            self._pending.extend(_Pending(r, fhir_base if ship else None, token if ship else None) for r in records)
            full = len(self._pending) >= self.batch_size
        if full:
            _FLUSHER.wake()

    def pending(self, patient: str | None = None) -> list[AccessRecord]:
        """Records not written yet (of one patient when given)."""
        with self._lock:
            return [p.record for p in self._pending if patient is None or p.record.patient == patient]

    def flush(self) -> None:
        """Write everything queued now: to the FHIR server where meant and taken, else to the local log."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            local = [p.record for p in batch if p.fhir_base is None]
            groups: dict[tuple[str, str], list[AccessRecord]] = {}
            for p in batch:
                if p.fhir_base is not None and p.token is not None:
                    groups.setdefault((p.fhir_base, p.token), []).append(p.record)
            for (base, token), records in groups.items():
                for start in range(0, len(records), self.batch_size):
                    chunk = records[start : start + self.batch_size]
                    try:
                        taken = self.shipper(base, token, chunk) if self.shipper else [False] * len(chunk)
                    except Exception:  # never lose a record to a bug or an outage
                        log.exception("audit shipment to %s failed", base)
                        taken = [False] * len(chunk)
                    self.shipped += sum(taken)
                    local.extend(r for r, ok in zip(chunk, taken, strict=True) if not ok)
            try:
                self.log.append(local)
                self.logged += len(local)
            except OSError as exc:
                kept = len(local)
                log.error("audit log %s cannot be written (%s): %d records kept in memory", self.log.path, exc, kept)
                with self._lock:
                    self._pending[:0] = [_Pending(r, None, None) for r in local]

    def close(self) -> None:
        """Write what is queued and stop taking part in background flushes."""
        self.flush()
        _FLUSHER.unregister(self)


@dataclass
class _Flusher:
    """One daemon thread flushing every registered trail; flushes all at process exit."""

    trails: weakref.WeakSet[AuditTrail] = field(default_factory=weakref.WeakSet)
    event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None

    def register(self, trail: AuditTrail) -> None:
        with self.lock:
            self.trails.add(trail)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="audit-flusher", daemon=True)
                self.thread.start()

    def unregister(self, trail: AuditTrail) -> None:
        with self.lock:
            self.trails.discard(trail)

    def wake(self) -> None:
        self.event.set()

    def _interval(self) -> float:
        with self.lock:
            return min((t.interval for t in self.trails), default=2.0)

    def _run(self) -> None:
        while True:
            self.event.wait(self._interval())
            self.event.clear()
            self.flush_all()

    def flush_all(self) -> None:
        with self.lock:
            trails = list(self.trails)
        for trail in trails:
            try:
                trail.flush()
            except Exception:  # pragma: no cover - flush() itself never raises for I/O
                log.exception("audit flush failed")


_FLUSHER = _Flusher()
atexit.register(_FLUSHER.flush_all)


def action_for(app_action: str, method: str = "POST") -> AuditAction:
    """The audit action of an app action: pages are reads, starting a group creates, the rest updates. A GET (or
    HEAD) only shows a page, also a form's (named after the action its save would do): a read."""
    if app_action.startswith("view_") or method.upper() in ("GET", "HEAD"):
        return AuditAction.READ
    if app_action == "start_group":
        return AuditAction.CREATE
    return AuditAction.UPDATE


@dataclass
class RequestAudit:
    """What one request did with patient data, collected while it runs and turned into records at its end."""

    patient: str | None = None  # the launch patient, once patient data was touched
    app_action: str | None = None  # the page shown or the save attempted (the last one named wins)
    role: str = ROLE_UNKNOWN  # the page did not load the group, so the role was not looked up
    read: list[str] = field(default_factory=list)  # resources the page read
    written: list[str] = field(default_factory=list)  # resources a save wrote
    # A caseload: every other patient shown, with the user's role in that patient's group and what was read.
    listed: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    # Who acts, and through which EHR, when the request has no launch of its own yet (a launch's callback reads
    # the Koppeltaal Task before the launch is opened); otherwise the request's launch says.
    user: str | None = None
    ehr_name: str | None = None
    # The user's own waiting saves this request sent on their way (a page, a save, "try again"): what they wrote,
    # and how many the EHR refused for good. Recorded as writes of their own (`replay_save`), whatever the page did.
    replayed: list[str] = field(default_factory=list)
    replays_refused: int = 0

    def about(self, patient: str) -> None:
        """The request is about this patient's data (also when reading it then fails: an attempt counts)."""
        self.patient = patient

    def reading(self, patient: str, entities: Sequence[str], *, role: str | None = None) -> None:
        self.patient = patient
        self.read.extend(e for e in entities if e not in self.read)
        if role is not None:
            self.role = role

    def acting(self, app_action: str, *, role: str | None = None) -> None:
        self.app_action = app_action
        if role is not None:
            self.role = role

    def on_behalf_of(self, user: str | None, ehr_name: str) -> None:
        """The request acts for this user through this EHR before a launch is opened (see `user`)."""
        self.user = user
        self.ehr_name = ehr_name

    def replayed_save(self, entities: Sequence[str] | None) -> None:
        """One of the user's waiting saves went to the EHR (what it wrote), or was refused for good (None)."""
        if entities is None:
            self.replays_refused += 1
        else:
            self.replayed.extend(e for e in entities if e not in self.replayed)

    def wrote(self, entities: Sequence[str]) -> None:
        self.written.extend(e for e in entities if e not in self.written)

    def listing(self, patient: str, role: str, entities: Sequence[str]) -> None:
        """A list (the caseload) showed this patient's group: one record per patient."""
        self.listed[patient] = (role, tuple(entities))

    @property
    def touched(self) -> bool:
        return self.patient is not None or bool(self.listed)
