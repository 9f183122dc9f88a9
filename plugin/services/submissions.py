"""One-time submission keys: a form submitted twice is saved once.

Every form carries a fresh key (`submission_key`). The service layer claims the key before it saves:

- the first claim runs the save and records the result (`finish`);
- a claim of a key whose save is done gets that result back (a double click, Back and submit again,
  a retry after a timeout): the page shows the saved result, never a duplicate, never an error;
- a claim while the same key is still being saved waits for it (two identical submits at once);
- a save that fails (a rule says no, a conflict, a refusal) releases the key, so the user can correct
  the form and send it again with the same key.

The key is also the save's idempotency key (the Provenance tag) and seeds the uids of what the action
creates, so even a retry that slips past this log (another machine, a crash after the commit) creates
nothing twice: the server finds the conditional creates.

The embedded log is a table in the outbox's SQLite file (safe across threads and processes on one
machine). Only keys, owners and uids are kept, no clinical data; entries older than a day are dropped.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from smart_launch.files import create_private

SUBMISSION_KEY = "submission_key"  # the name of the form field that carries the key
KEEP_SECONDS = 24 * 3600
WAIT_SECONDS = 20.0  # how long a second submit waits for the first one's save
STALE_SECONDS = 120.0  # a claim still "running" after this is from a process that died: take it over


@dataclass(frozen=True)
class Recorded:
    """What a finished submission saved: its state ("saved"/"waiting"/"unchanged") and the uid it made."""

    state: str
    uid: str | None


class StillRunning(Exception):
    """The same submission is still being saved elsewhere and did not finish in time."""


class SubmissionLog(Protocol):
    def claim(self, owner: str, key: str) -> Recorded | None:
        """Claim `key` for `owner` (user + patient): None when this caller must save, else the earlier result.

        Waits while another caller holds the claim; raises `StillRunning` when that takes too long.
        """
        ...

    def finish(self, owner: str, key: str, recorded: Recorded) -> None:
        """Record the result of the save under a claimed key."""
        ...

    def done(self, owner: str, key: str) -> Recorded | None:
        """The result of a finished save under `key` (None while running or unknown); never waits, claims nothing."""
        ...

    def release(self, owner: str, key: str) -> None:
        """Give a claimed key back (the save did not happen)."""
        ...


@dataclass
class MemorySubmissionLog:
    """The log in memory (tests, and a single process)."""

    wait_seconds: float = WAIT_SECONDS
    _rows: dict[tuple[str, str], Recorded | None] = field(default_factory=dict)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def claim(self, owner: str, key: str) -> Recorded | None:
        deadline = time.monotonic() + self.wait_seconds
        with self._cond:
            while True:
                if (owner, key) not in self._rows:
                    self._rows[(owner, key)] = None
                    return None
                done = self._rows[(owner, key)]
                if done is not None:
                    return done
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StillRunning(key)
                self._cond.wait(left)

    def finish(self, owner: str, key: str, recorded: Recorded) -> None:
        with self._cond:
            self._rows[(owner, key)] = recorded
            self._cond.notify_all()

    def done(self, owner: str, key: str) -> Recorded | None:
        with self._cond:
            return self._rows.get((owner, key))

    def release(self, owner: str, key: str) -> None:
        with self._cond:
            self._rows.pop((owner, key), None)
            self._cond.notify_all()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT,
    uid TEXT,
    claimed REAL NOT NULL,
    PRIMARY KEY (owner, key)
)
"""


class SqliteSubmissionLog:
    """The log in a SQLite file (shared by the threads and processes of one machine)."""

    def __init__(self, path: str | Path, wait_seconds: float = WAIT_SECONDS, poll: float = 0.05) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            create_private(self.path)  # submission keys and outcomes of the users' saves
        self.wait_seconds = wait_seconds
        self.poll = poll
        with self._connect() as conn:
            conn.execute(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            yield conn
        finally:
            conn.close()

    def claim(self, owner: str, key: str) -> Recorded | None:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            now = time.time()
            with self._connect() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.execute("DELETE FROM submissions WHERE claimed < ?", (now - KEEP_SECONDS,))
                    row = conn.execute(
                        "SELECT state, uid, claimed FROM submissions WHERE owner = ? AND key = ?", (owner, key)
                    ).fetchone()
                    if row is None or (row[0] is None and row[2] < now - STALE_SECONDS):
                        conn.execute(
                            "INSERT OR REPLACE INTO submissions (owner, key, state, uid, claimed) "
                            "VALUES (?, ?, NULL, NULL, ?)",
                            (owner, key, now),
                        )
                        conn.execute("COMMIT")
                        return None
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            if row[0] is not None:
                return Recorded(str(row[0]), row[1])
            if time.monotonic() >= deadline:
                raise StillRunning(key)
            time.sleep(self.poll)

    def finish(self, owner: str, key: str, recorded: Recorded) -> None:
        with self._connect() as conn:
            conn.execute(
                "UPDATE submissions SET state = ?, uid = ? WHERE owner = ? AND key = ?",
                (recorded.state, recorded.uid, owner, key),
            )

    def done(self, owner: str, key: str) -> Recorded | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT state, uid FROM submissions WHERE owner = ? AND key = ? AND state IS NOT NULL", (owner, key)
            ).fetchone()
        return Recorded(str(row[0]), row[1]) if row is not None else None

    def release(self, owner: str, key: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM submissions WHERE owner = ? AND key = ? AND state IS NULL", (owner, key))
