"""The outbox: saves that could not reach the clinic's FHIR server wait here, in order, until replayed.

Nothing the user typed is ever dropped: an entry is ``pending`` until the server has it (``sent``), or
``failed-permanent`` when the server refused it for good (kept, visible, never deleted by us). A care
professional may put a failed entry back to ``pending`` ("opnieuw proberen") or let it lapse
(``discarded``: kept, never sent, never deleted); both are recorded on the entry (``history``).

Ownership: a replay started from a page runs with the viewer's own token and sends only the viewer's own
entries (``replay(..., user=...)``); the patient's entries stay in order, so a replay stops at the first
entry of another author (it waits for that author or for the worker). The worker replays everyone's with
the Backend Services token and names the app as a second Provenance agent (``replay(..., replayed_by=...)``).
Replay is idempotent: every create is conditional, and an update refused because our own earlier
attempt already committed is recognised by the Provenance idempotency tag (see ``transaction``).

The embedded store is one SQLite file (safe across threads and processes: WAL, short
``BEGIN IMMEDIATE`` transactions, a lease per patient while replaying). A shared store can replace it
by implementing :class:`Outbox`.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import enum
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from plugin.sync.capabilities import ServerCapabilities
from plugin.sync.client import FhirClient, weak_etag
from plugin.sync.conflict import reread, three_way_merge
from plugin.sync.errors import (
    Conflict,
    Forbidden,
    JsonDict,
    OutageError,
    PreconditionFailed,
    SyncError,
    Unauthorized,
)
from plugin.sync.transaction import TransactionResult, idempotency_tag, submit
from smart_launch.files import create_private

log = logging.getLogger(__name__)

WAITING_MESSAGE_NL = "Wacht op opslaan in het EPD"
WAITING_MESSAGE_EN = "Waiting to be saved in the EHR"


class OutboxState(enum.StrEnum):
    """Life of an outbox entry."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed-permanent"
    DISCARDED = "discarded"  # let lapse by a care professional: kept, never sent


@dataclass(frozen=True)
class OutboxEvent:
    """A user action on an entry (audit, kept on the entry): what, by whom (a reference), when (UTC)."""

    action: str  # "retry" or "discard"
    by: str
    at: dt.datetime

    def as_json(self) -> JsonDict:
        return {"action": self.action, "by": self.by, "at": self.at.isoformat(timespec="seconds")}

    @classmethod
    def from_json(cls, data: JsonDict) -> OutboxEvent:
        return cls(str(data["action"]), str(data["by"]), dt.datetime.fromisoformat(str(data["at"])))


@dataclass(frozen=True)
class OutboxEntry:
    """One save waiting for (or done with) the server."""

    id: int
    created: dt.datetime
    user: str
    patient: str
    idempotency_key: str
    bundle: JsonDict
    attempts: int
    last_error: str | None
    state: OutboxState
    updated: dt.datetime
    # "Type/id" -> the resource as read before this save changed it: lets a replay three-way merge
    # when someone else changed the same resource meanwhile (412), instead of failing the entry.
    bases: JsonDict = field(default_factory=dict)
    history: tuple[OutboxEvent, ...] = ()
    # The FHIR base the save belongs to (the launch's `iss`); None in entries parked before it was recorded.
    # A replay sends an entry only to its own server (the worker picks that server's client).
    server: str | None = None


class Outbox(Protocol):
    """Storage of pending saves. ``replay`` (module function) drives any implementation."""

    def enqueue(
        self,
        *,
        user: str,
        patient: str,
        idempotency_key: str,
        bundle: JsonDict,
        error: str | None = None,
        bases: JsonDict | None = None,
        server: str | None = None,
    ) -> OutboxEntry:
        """Park a save; enqueueing the same idempotency key again returns the existing entry."""
        ...

    def get(self, entry_id: int) -> OutboxEntry | None:
        """One entry by id."""
        ...

    def pending_for(self, patient: str) -> list[OutboxEntry]:
        """Entries of ``patient`` still waiting, oldest first (the UI shows "wacht op opslaan in het EPD")."""
        ...

    def failed_for(self, patient: str) -> list[OutboxEntry]:
        """Entries of ``patient`` the server refused for good, oldest first (kept so no input is lost)."""
        ...

    def discarded_for(self, patient: str) -> list[OutboxEntry]:
        """Entries of ``patient`` a care professional let lapse, oldest first (kept, never sent)."""
        ...

    def open_for(self, patient: str) -> tuple[list[OutboxEntry], list[OutboxEntry]]:
        """``pending_for`` and ``failed_for`` of ``patient`` in one read (what every page view shows)."""
        ...

    def patients_pending(self) -> list[str]:
        """Patients with pending entries, by their oldest entry."""
        ...

    def claim_next(
        self, patient: str, *, owner: str, lease_seconds: float, user: str | None = None
    ) -> OutboxEntry | None:
        """Lease the oldest pending entry of ``patient``; None when none is pending, another owner holds one,
        or (with ``user``) the oldest pending entry is another author's (order is kept: it waits for them)."""
        ...

    def mark_sent(self, entry_id: int) -> None:
        """The server has it."""
        ...

    def mark_failed(self, entry_id: int, error: str) -> None:
        """Refused for good: keep it visible as failed-permanent."""
        ...

    def release(self, entry_id: int, error: str) -> None:
        """Attempt failed for a passing reason: count it, keep it pending, drop the lease."""
        ...

    def hold(self, entry_id: int, reason: str) -> None:
        """Not tried (another server's entry): keep it pending without counting an attempt, drop the lease."""
        ...

    def requeue(self, entry_id: int, *, by: str | None = None) -> None:
        """Put a failed entry back to pending (after someone fixed the cause); ``by`` is recorded on it."""
        ...

    def discard(self, entry_id: int, *, by: str) -> None:
        """Let a failed entry lapse: ``discarded``, kept and never sent; ``by`` is recorded on it."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    user TEXT NOT NULL,
    patient TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    bundle TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    state TEXT NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0,
    lease_owner TEXT,
    bases TEXT,
    history TEXT,
    server TEXT
);
CREATE INDEX IF NOT EXISTS outbox_patient_state ON outbox (patient, state, id);
"""


class OutboxTransitions:
    """The state changes of an entry, the same for every store: a store says how it finishes an attempt
    (`_finish`) and how a failed entry is resolved (`_resolve`)."""

    def _finish(self, entry_id: int, state: OutboxState, error: str | None, *, count: bool) -> None:
        raise NotImplementedError

    def _resolve(self, entry_id: int, state: OutboxState, action: str, by: str | None) -> None:
        raise NotImplementedError

    def mark_sent(self, entry_id: int) -> None:
        """The server has it."""
        self._finish(entry_id, OutboxState.SENT, None, count=True)

    def mark_failed(self, entry_id: int, error: str) -> None:
        """Refused for good: keep it visible as failed-permanent."""
        self._finish(entry_id, OutboxState.FAILED, error, count=True)

    def release(self, entry_id: int, error: str) -> None:
        """Passing failure: count the attempt, stay pending."""
        self._finish(entry_id, OutboxState.PENDING, error, count=True)

    def hold(self, entry_id: int, reason: str) -> None:
        """Not tried (e.g. it belongs to another server): stay pending, no attempt counted."""
        self._finish(entry_id, OutboxState.PENDING, reason, count=False)

    def requeue(self, entry_id: int, *, by: str | None = None) -> None:
        """Failed -> pending again (recorded on the entry when ``by`` is given)."""
        self._resolve(entry_id, OutboxState.PENDING, "retry", by)

    def discard(self, entry_id: int, *, by: str) -> None:
        """Failed -> discarded: kept, never sent, recorded on the entry."""
        self._resolve(entry_id, OutboxState.DISCARDED, "discard", by)


class SqliteOutbox(OutboxTransitions):
    """:class:`Outbox` in one SQLite file (created with mode 0600: it holds clinical data)."""

    def __init__(self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        create_private(self.path)
        with self._connect() as conn:
            self._use_wal(conn)
            conn.executescript(_SCHEMA)
            columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(outbox)")}
            if "bases" not in columns:  # a file made by an earlier version
                conn.execute("ALTER TABLE outbox ADD COLUMN bases TEXT")
            if "history" not in columns:  # a file made before retry/discard existed
                conn.execute("ALTER TABLE outbox ADD COLUMN history TEXT")
            if "server" not in columns:  # a file made before entries named their FHIR server
                conn.execute("ALTER TABLE outbox ADD COLUMN server TEXT")

    def check_writable(self) -> None:
        """Raise ``sqlite3.Error``/``OSError`` unless this process can write the outbox (checked at start)."""
        with self._connect(write=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS outbox_write_check (at TEXT)")
            conn.execute("INSERT INTO outbox_write_check (at) VALUES (?)", (self._now(),))
            conn.execute("DELETE FROM outbox_write_check")

    @staticmethod
    def _use_wal(conn: sqlite3.Connection) -> None:
        # Switching the journal mode needs a moment alone with the file and SQLite's busy timeout does not
        # cover it: when several processes or threads open the outbox at once, wait for the others briefly.
        for _ in range(100):
            try:
                if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                time.sleep(0.05)
        raise sqlite3.OperationalError("outbox stayed locked while switching to WAL")

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection to the file, opened on first use and kept (a page view asks the outbox once,
        a save and a replay more often: opening the file each time cost more than the queries). A forked process
        opens its own, and so does a thread whose file was removed or replaced meanwhile (a stat per use: the file
        itself is checked, as a fresh open would)."""
        local = self.__dict__.get("_local")
        if local is None:
            local = self.__dict__.setdefault("_local", threading.local())
        try:
            stat = os.stat(self.path)
            identity: tuple[int, int, int] | None = (os.getpid(), stat.st_dev, stat.st_ino)
        except OSError:
            identity = None
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None or identity is None or getattr(local, "identity", None) != identity:
            if conn is not None:
                local.conn = None
                conn.close()
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            local.conn, local.identity = conn, identity
        return conn

    @contextlib.contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        try:
            if write:
                conn.execute("BEGIN IMMEDIATE")  # take the write lock up front: no lost updates between processes
            yield conn
            if write:
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _now(self) -> str:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC).isoformat(timespec="microseconds")

    @staticmethod
    def _entry(row: sqlite3.Row) -> OutboxEntry:
        return OutboxEntry(
            id=int(row["id"]),
            created=dt.datetime.fromisoformat(row["created"]),
            user=row["user"],
            patient=row["patient"],
            idempotency_key=row["idempotency_key"],
            bundle=json.loads(row["bundle"]),
            attempts=int(row["attempts"]),
            last_error=row["last_error"],
            state=OutboxState(row["state"]),
            updated=dt.datetime.fromisoformat(row["updated"]),
            bases=json.loads(row["bases"]) if row["bases"] else {},
            history=tuple(OutboxEvent.from_json(e) for e in json.loads(row["history"] or "[]")),
            server=row["server"] or None,
        )

    def enqueue(
        self,
        *,
        user: str,
        patient: str,
        idempotency_key: str,
        bundle: JsonDict,
        error: str | None = None,
        bases: JsonDict | None = None,
        server: str | None = None,
    ) -> OutboxEntry:
        """Park a save; the same idempotency key twice yields the one entry (a retried request is no new save)."""
        now = self._now()
        with self._connect(write=True) as conn:
            row = conn.execute("SELECT * FROM outbox WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO outbox (created, updated, user, patient, idempotency_key, bundle, attempts,"
                    " last_error, state, bases, server) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        now,
                        now,
                        user,
                        patient,
                        idempotency_key,
                        json.dumps(bundle, ensure_ascii=False),
                        1 if error else 0,
                        error,
                        OutboxState.PENDING.value,
                        json.dumps(bases, ensure_ascii=False) if bases else None,
                        server,
                    ),
                )
                row = conn.execute("SELECT * FROM outbox WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
                log.warning("outbox: parked save %s for later (%s)", idempotency_key, error or "no reason given")
        return self._entry(row)

    def get(self, entry_id: int) -> OutboxEntry | None:
        """One entry by id."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM outbox WHERE id = ?", (entry_id,)).fetchone()
        return self._entry(row) if row is not None else None

    def _by_state(self, patient: str, state: OutboxState) -> list[OutboxEntry]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM outbox WHERE patient = ? AND state = ? ORDER BY id", (patient, state.value)
            ).fetchall()
        return [self._entry(r) for r in rows]

    def pending_for(self, patient: str) -> list[OutboxEntry]:
        """Entries of ``patient`` still waiting, oldest first."""
        return self._by_state(patient, OutboxState.PENDING)

    def failed_for(self, patient: str) -> list[OutboxEntry]:
        """Entries of ``patient`` refused for good, oldest first."""
        return self._by_state(patient, OutboxState.FAILED)

    def discarded_for(self, patient: str) -> list[OutboxEntry]:
        """Entries of ``patient`` let lapse, oldest first."""
        return self._by_state(patient, OutboxState.DISCARDED)

    def open_for(self, patient: str) -> tuple[list[OutboxEntry], list[OutboxEntry]]:
        """Pending and failed entries of ``patient``, each oldest first, in one query."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM outbox WHERE patient = ? AND state IN (?, ?) ORDER BY id",
                (patient, OutboxState.PENDING.value, OutboxState.FAILED.value),
            ).fetchall()
        entries = [self._entry(r) for r in rows]
        return (
            [e for e in entries if e.state is OutboxState.PENDING],
            [e for e in entries if e.state is OutboxState.FAILED],
        )

    def patients_pending(self) -> list[str]:
        """Patients with pending entries, by their oldest entry."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT patient, MIN(id) AS first FROM outbox WHERE state = ? GROUP BY patient ORDER BY first",
                (OutboxState.PENDING.value,),
            ).fetchall()
        return [r["patient"] for r in rows]

    def claim_next(
        self, patient: str, *, owner: str, lease_seconds: float, user: str | None = None
    ) -> OutboxEntry | None:
        """Lease the oldest pending entry of ``patient`` unless another owner is replaying this patient, or
        (with ``user``) that entry is another author's."""
        now = self._clock()
        with self._connect(write=True) as conn:
            busy = conn.execute(
                "SELECT 1 FROM outbox WHERE patient = ? AND state = ? AND lease_until > ? AND lease_owner != ?",
                (patient, OutboxState.PENDING.value, now, owner),
            ).fetchone()
            if busy:
                return None
            row = conn.execute(
                "SELECT * FROM outbox WHERE patient = ? AND state = ? ORDER BY id LIMIT 1",
                (patient, OutboxState.PENDING.value),
            ).fetchone()
            if row is None or (user is not None and row["user"] != user):
                return None
            conn.execute(
                "UPDATE outbox SET lease_until = ?, lease_owner = ? WHERE id = ?",
                (now + lease_seconds, owner, row["id"]),
            )
        return self._entry(row)

    def _finish(self, entry_id: int, state: OutboxState, error: str | None, *, count: bool) -> None:
        with self._connect(write=True) as conn:
            conn.execute(
                "UPDATE outbox SET state = ?, last_error = COALESCE(?, last_error), updated = ?,"
                " attempts = attempts + ?, lease_until = 0, lease_owner = NULL WHERE id = ?",
                (state.value, error, self._now(), 1 if count else 0, entry_id),
            )

    def _resolve(self, entry_id: int, state: OutboxState, action: str, by: str | None) -> None:
        with self._connect(write=True) as conn:
            row = conn.execute("SELECT state, history FROM outbox WHERE id = ?", (entry_id,)).fetchone()
            if row is None:
                raise KeyError(entry_id)
            if row["state"] != OutboxState.FAILED.value:
                raise ValueError(f"outbox entry {entry_id} is {row['state']}, not failed")
            history = json.loads(row["history"] or "[]")
            if by is not None:
                at = dt.datetime.fromtimestamp(self._clock(), dt.UTC)
                history.append(OutboxEvent(action, by, at).as_json())
            conn.execute(
                "UPDATE outbox SET state = ?, updated = ?, history = ?, lease_until = 0, lease_owner = NULL"
                " WHERE id = ?",
                (state.value, self._now(), json.dumps(history, ensure_ascii=False), entry_id),
            )


# ---------------------------------------------------------------------- replay


@dataclass
class ReplayReport:
    """What a replay did. ``stopped`` names why it stopped early (an outage, or the token), else None."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    results: dict[int, TransactionResult] = field(default_factory=dict)
    stopped: str | None = None
    # Entries left pending because they are another author's (a replay with ``user``): their author or the
    # worker sends them. Not a failure and not an early stop.
    held: list[int] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every entry that was due got a final answer (sent or failed)."""
        return self.stopped is None


@dataclass(frozen=True)
class ReplayAgent:
    """The app as the one that replayed a save for its author (the worker, with the Backend Services token).

    Added to the save's Provenance as a second agent (the author stays the first): ``who`` is ``device``
    (a literal ``Device/<id>`` reference) when given, else a logical reference by the app's client id.
    """

    client_id: str
    device: str | None = None
    display: str = "Resourcegroep (outbox worker)"
    system: str = "urn:resourcegroep:client-id"
    agent_type: str = "assembler"

    def agent(self) -> JsonDict:
        who: JsonDict = (
            {"reference": self.device}
            if self.device
            else {"type": "Device", "identifier": {"system": self.system, "value": self.client_id}}
        )
        who["display"] = self.display
        coding = {
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": self.agent_type,
            "display": self.agent_type.capitalize(),
        }
        return {"type": {"coding": [coding]}, "who": who}


def with_replay_agent(bundle: JsonDict, agent: ReplayAgent) -> JsonDict:
    """A copy of ``bundle`` whose Provenance also names the app that replayed it (once, however often replayed)."""
    out = copy.deepcopy(bundle)
    added = agent.agent()
    for entry in out.get("entry") or []:
        res = entry.get("resource") or {}
        if res.get("resourceType") == "Provenance":
            agents = res.setdefault("agent", [])
            if not any(a.get("who") == added["who"] for a in agents if isinstance(a, dict)):
                agents.append(added)
    return out


# Told of each replayed entry: what the save wrote, or None when the EHR refused it for good.
ReplayObserver = Callable[[OutboxEntry, TransactionResult | None], None]


def replay(
    outbox: Outbox,
    client: FhirClient,
    *,
    patient: str | None = None,
    capabilities: ServerCapabilities | None = None,
    lease_seconds: float = 120.0,
    user: str | None = None,
    replayed_by: ReplayAgent | Callable[[OutboxEntry], ReplayAgent] | None = None,
    client_for: Callable[[OutboxEntry], FhirClient | None] | None = None,
    on_done: ReplayObserver | None = None,
) -> ReplayReport:
    """Send pending entries in order (FIFO per patient); stop at the first outage.

    ``user``: send only that author's entries, with that author's token (a page opened by them); the
    patient's queue stops at the first entry of another author, which stays pending (``report.held``).
    Without ``user`` (the worker), every entry is sent and ``replayed_by`` names the app in the Provenance.
    An entry goes only to its own server (``entry.server``): ``client_for`` picks the client per entry (the
    worker: that server's Backend Services client; None when it has none; ``replayed_by`` may then also be
    chosen per entry, the app as that server knows it); without it ``client`` is used for
    entries of its own base (or of no recorded server). An entry no client fits stays pending, uncounted, and
    holds its patient's later entries back (``report.held``). ``on_done`` hears of every entry sent (with what
    it wrote) or refused for good (None), as it happens (the app's audit trail: a replay is a write).

    4xx refusals (other than 401/403/409/412/429) mark the entry failed-permanent; a 409/412 that is not our
    own earlier commit is a conflict nobody is present to resolve, so it is failed-permanent too, with the
    reason, and stays visible. 401 and 403 stop the replay (the token, not the entry, is at fault): the entry
    stays pending.
    """
    owner = f"replay-{uuid.uuid4()}"
    report = ReplayReport()
    for pid in [patient] if patient is not None else outbox.patients_pending():
        while (entry := outbox.claim_next(pid, owner=owner, lease_seconds=lease_seconds, user=user)) is not None:
            target = client_for(entry) if client_for is not None else _own_client(client, entry)
            if target is None:
                outbox.hold(entry.id, f"waits for a client of its server {entry.server}")
                report.held.append(entry.id)
                break  # FIFO: this patient's later entries wait behind it
            agent = replayed_by(entry) if callable(replayed_by) else replayed_by
            bundle = with_replay_agent(entry.bundle, agent) if agent is not None else entry.bundle
            try:
                result = submit_rebasing(target, bundle, entry.bases, capabilities=capabilities)
            except OutageError as exc:
                outbox.release(entry.id, exc.diagnostics)
                report.stopped = f"outage: {exc.diagnostics}"
                log.warning("outbox replay stopped at entry %d: %s", entry.id, exc.diagnostics)
                return report
            except Unauthorized as exc:
                outbox.release(entry.id, exc.diagnostics)
                report.stopped = f"unauthorized: {exc.diagnostics}"
                return report
            except Forbidden as exc:  # this token may not write this: someone else's token may
                outbox.release(entry.id, exc.diagnostics)
                report.stopped = f"forbidden: {exc.diagnostics}"
                log.warning("outbox replay stopped at entry %d: the token may not write it", entry.id)
                return report
            except PreconditionFailed as exc:
                outbox.mark_failed(entry.id, f"conflict: {exc.diagnostics}")
                report.failed.append(entry.id)
                log.error("outbox entry %d failed permanently (version conflict): %s", entry.id, exc.diagnostics)
                if on_done is not None:
                    on_done(entry, None)
            except SyncError as exc:
                outbox.mark_failed(entry.id, exc.diagnostics)
                report.failed.append(entry.id)
                log.error("outbox entry %d failed permanently: %s", entry.id, exc.diagnostics)
                if on_done is not None:
                    on_done(entry, None)
            else:
                outbox.mark_sent(entry.id)
                report.sent.append(entry.id)
                report.results[entry.id] = result
                log.info("outbox entry %d saved%s", entry.id, " (already applied)" if result.already_applied else "")
                if on_done is not None:
                    on_done(entry, result)
        if user is not None:
            report.held.extend(e.id for e in outbox.pending_for(pid) if e.user != user)
    return report


def _own_client(client: FhirClient, entry: OutboxEntry) -> FhirClient | None:
    """``client`` when ``entry`` belongs to its server (or names none), else None."""
    if entry.server is None or entry.server.rstrip("/") == client.base_url.rstrip("/"):
        return client
    return None


@dataclass(frozen=True)
class SaveOutcome:
    """A save either reached the server (``result``) or waits in the outbox (``queued``): never both."""

    result: TransactionResult | None = None
    queued: OutboxEntry | None = None

    @property
    def saved(self) -> bool:
        """True only when the server has it: the UI must not say "opgeslagen" otherwise."""
        return self.result is not None


def save_or_enqueue(
    client: FhirClient,
    outbox: Outbox,
    bundle: JsonDict,
    *,
    user: str,
    patient: str,
    send: Callable[[], TransactionResult] | None = None,
    capabilities: ServerCapabilities | None = None,
    bases: JsonDict | None = None,
    on_replayed: ReplayObserver | None = None,
) -> SaveOutcome:
    """Replay this patient's earlier pending saves first (order matters), then save ``bundle``.

    ``send`` overrides how it is sent (the repository sends through ``transaction.submit``);
    default ``transaction.submit``. When the server cannot be reached, the Bundle of the failing attempt
    (``OutageError.bundle``, else ``bundle``) is parked in the outbox, with ``bases`` (the resources as read
    before the change, by ``Type/id``) so a replay can merge. Conflicts and refusals propagate. ``on_replayed``:
    see ``replay``'s ``on_done``.
    """
    if outbox.pending_for(patient):
        # Only this user's own earlier saves go with this user's token; another author's stay waiting.
        replay(outbox, client, patient=patient, capabilities=capabilities, user=user, on_done=on_replayed)
        if outbox.pending_for(patient):
            # Still waiting (outage, or another process is replaying them): queue behind them, unsent.
            return SaveOutcome(
                queued=_park(
                    outbox,
                    bundle,
                    user=user,
                    patient=patient,
                    error="queued behind earlier saves",
                    bases=bases,
                    server=client.base_url,
                )
            )
    try:
        result = send() if send is not None else submit(client, bundle, capabilities=capabilities)
    except OutageError as exc:
        parked = exc.bundle if exc.bundle is not None else bundle
        return SaveOutcome(
            queued=_park(
                outbox, parked, user=user, patient=patient, error=exc.diagnostics, bases=bases, server=client.base_url
            )
        )
    return SaveOutcome(result=result)


def _park(
    outbox: Outbox,
    bundle: JsonDict,
    *,
    user: str,
    patient: str,
    error: str,
    bases: JsonDict | None = None,
    server: str | None = None,
) -> OutboxEntry:
    tag = idempotency_tag(bundle)
    key = tag[1] if tag else str(uuid.uuid4())
    return outbox.enqueue(
        user=user, patient=patient, idempotency_key=key, bundle=bundle, error=error, bases=bases, server=server
    )


def submit_rebasing(
    client: FhirClient,
    bundle: JsonDict,
    bases: JsonDict,
    *,
    capabilities: ServerCapabilities | None = None,
    max_rounds: int = 3,
) -> TransactionResult:
    """Send a parked Bundle; when its versions are stale (412), merge each update onto the current version.

    An earlier attempt of this very Bundle that committed is recognised first (``submit``). A merge works
    when the other side's change commutes with ours (another goal added to the plan); otherwise
    :class:`~plugin.sync.errors.Conflict` is raised. Without ``bases`` a 412 is raised as it is.
    """
    use_batch = capabilities.supports_batch if capabilities is not None else True
    for attempt in range(1, max_rounds + 1):
        try:
            return submit(client, bundle, capabilities=capabilities, bases=bases)
        except PreconditionFailed:
            if not bases or attempt == max_rounds:
                raise
            bundle = rebase_bundle(bundle, bases, reread(client, _put_keys(bundle), use_batch=use_batch))
            log.info("outbox: rebased a parked save onto the current versions (round %d)", attempt)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _put_keys(bundle: JsonDict) -> list[str]:
    return [
        str(e["request"]["url"]) for e in bundle.get("entry") or [] if (e.get("request") or {}).get("method") == "PUT"
    ]


def rebase_bundle(bundle: JsonDict, bases: JsonDict, current: Mapping[str, JsonDict]) -> JsonDict:
    """A copy of ``bundle`` whose stale updates are three-way merged onto ``current`` (new ``ifMatch``)."""
    out = copy.deepcopy(bundle)
    for entry in out.get("entry") or []:
        request = entry.get("request") or {}
        key = str(request.get("url", ""))
        theirs = current.get(key)
        if request.get("method") != "PUT" or theirs is None:
            continue
        version = str((theirs.get("meta") or {}).get("versionId", ""))
        if weak_etag(version) == request.get("ifMatch"):
            continue
        base = bases.get(key)
        if not isinstance(base, dict):
            raise Conflict(f"{key} changed on the server and no base was kept", mine=entry["resource"], theirs=theirs)
        mine = entry["resource"]
        merged = three_way_merge(base, mine, theirs)
        if "meta" in mine:  # our own tags/profiles travel with the update
            merged["meta"] = mine["meta"]
        else:
            merged.pop("meta", None)
        entry["resource"] = merged
        request["ifMatch"] = weak_etag(version)
    return out
