"""Server-side storage for pending authorizations, launch contexts and browser session data.

Tokens never leave the server: the browser holds only an opaque session id.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from smart_launch.files import create_private
from smart_launch.models import LaunchContext, PendingAuthorization


class SessionStore(Protocol):
    """Where the SMART client keeps its server-side state. Implementations must be thread-safe."""

    def save_pending(self, pending: PendingAuthorization) -> None:
        """Store a pending authorization under its state."""

    def take_pending(self, state: str, session_id: str | None = None) -> PendingAuthorization | None:
        """Remove and return the pending authorization for `state` (single use); None when absent.

        With `session_id`, only one started by that browser session is taken: a stranger who presents the
        victim's state takes nothing, so the victim's own callback still works."""

    def has_pending(self, state: str) -> bool:
        """Whether an authorization with this state is pending (for the error a refused callback gets)."""

    def save_context(self, context: LaunchContext) -> None:
        """Insert or replace a launch context."""

    def get_context(self, context_id: str) -> LaunchContext | None:
        """The launch context with this id, or None."""

    def delete_context(self, context_id: str) -> None:
        """Forget a launch context."""

    def load_session(self, session_id: str) -> dict[str, Any] | None:
        """The data of a browser session, or None when unknown or expired."""

    def save_session(self, session_id: str, data: dict[str, Any], expires_at: float) -> None:
        """Insert or replace the data of a browser session."""

    def delete_session(self, session_id: str) -> None:
        """Forget a browser session."""

    def move_session(self, old: str, new: str) -> None:
        """Bind everything of browser session `old` (its launch contexts and pending authorizations) to `new`:
        the session id changes after a login, and what the browser started goes with it."""

    def end_session(self, session_id: str) -> None:
        """Forget a browser session and everything bound to it: its launch contexts (tokens) and pending
        authorizations (logout, or past its absolute lifetime)."""

    def remember_once(self, key: str, expires_at: float) -> bool:
        """Remember `key` until `expires_at`: True the first time, False while it is remembered (a one-time
        token's id, e.g. an HTI token's jti). Atomic across the threads and processes sharing the store."""

    def purge_expired(self, now: float | None = None) -> int:
        """Drop everything past its expiry; returns how many entries went."""


class MemorySessionStore:
    """A SessionStore in process memory (tests, single-process demo)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, PendingAuthorization] = {}
        self._contexts: dict[str, LaunchContext] = {}
        self._sessions: dict[str, tuple[float, str]] = {}
        self._once: dict[str, float] = {}

    def save_pending(self, pending: PendingAuthorization) -> None:
        """Store a pending authorization under its state."""
        with self._lock:
            self._pending[pending.state] = pending

    def take_pending(self, state: str, session_id: str | None = None) -> PendingAuthorization | None:
        """Remove and return the pending authorization for `state` (single use; see `SessionStore`)."""
        with self._lock:
            found = self._pending.get(state)
            if found is None or (session_id is not None and found.session_id != session_id):
                return None
            return self._pending.pop(state)

    def has_pending(self, state: str) -> bool:
        """Whether an authorization with this state is pending."""
        with self._lock:
            return state in self._pending

    def save_context(self, context: LaunchContext) -> None:
        """Insert or replace a launch context."""
        with self._lock:
            self._contexts[context.context_id] = context

    def get_context(self, context_id: str) -> LaunchContext | None:
        """The launch context with this id, or None."""
        with self._lock:
            return self._contexts.get(context_id)

    def delete_context(self, context_id: str) -> None:
        """Forget a launch context."""
        with self._lock:
            self._contexts.pop(context_id, None)

    def load_session(self, session_id: str) -> dict[str, Any] | None:
        """The data of a browser session, or None when unknown or expired."""
        with self._lock:
            entry = self._sessions.get(session_id)
        if entry is None or entry[0] <= time.time():
            return None
        data: dict[str, Any] = json.loads(entry[1])
        return data

    def save_session(self, session_id: str, data: dict[str, Any], expires_at: float) -> None:
        """Insert or replace the data of a browser session (stored as JSON, like the SQLite store)."""
        raw = json.dumps(data)
        with self._lock:
            self._sessions[session_id] = (expires_at, raw)

    def delete_session(self, session_id: str) -> None:
        """Forget a browser session."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def end_session(self, session_id: str) -> None:
        """Forget a browser session with its launch contexts and pending authorizations."""
        with self._lock:
            self._sessions.pop(session_id, None)
            self._contexts = {k: c for k, c in self._contexts.items() if c.session_id != session_id}
            self._pending = {k: p for k, p in self._pending.items() if p.session_id != session_id}

    def move_session(self, old: str, new: str) -> None:
        """Bind the launch contexts and pending authorizations of session `old` to `new`."""
        with self._lock:
            for key, ctx in list(self._contexts.items()):
                if ctx.session_id == old:
                    self._contexts[key] = replace(ctx, session_id=new)
            for key, pending in list(self._pending.items()):
                if pending.session_id == old:
                    self._pending[key] = replace(pending, session_id=new)

    def remember_once(self, key: str, expires_at: float) -> bool:
        """True the first time `key` is seen (until `expires_at`)."""
        now = time.time()
        with self._lock:
            known = self._once.get(key)
            if known is not None and known > now:
                return False
            self._once[key] = expires_at
            return True

    def purge_expired(self, now: float | None = None) -> int:
        """Drop everything past its expiry."""
        at = time.time() if now is None else now
        with self._lock:
            for k in [k for k, exp in self._once.items() if exp <= at]:
                del self._once[k]
            gone_p = [k for k, p in self._pending.items() if p.expires_at <= at]
            gone_c = [k for k, c in self._contexts.items() if c.ends_at <= at]
            gone_s = [k for k, (exp, _) in self._sessions.items() if exp <= at]
            for k in gone_p:
                del self._pending[k]
            for k in gone_c:
                del self._contexts[k]
            for k in gone_s:
                del self._sessions[k]
        return len(gone_p) + len(gone_c) + len(gone_s)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_authorization (
    state TEXT PRIMARY KEY, expires_at REAL NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS launch_context (
    context_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, ends_at REAL NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS browser_session (
    session_id TEXT PRIMARY KEY, expires_at REAL NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS used_once (key TEXT PRIMARY KEY, expires_at REAL NOT NULL);
"""


class SQLiteSessionStore:
    """A SessionStore in one SQLite file, shared by the threads of one process (and by processes, via WAL)."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        if self._path != ":memory:":
            create_private(self._path)  # it holds access and refresh tokens
        self._lock = threading.Lock()
        # One connection guarded by a lock: simple, and SQLite serializes writes anyway.
        self._conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None, timeout=10)
        with self._lock:
            if self._path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Several statements as one (under the lock): all of them, or none when one fails."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def save_pending(self, pending: PendingAuthorization) -> None:
        """Store a pending authorization under its state."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO pending_authorization (state, expires_at, body) VALUES (?, ?, ?)",
                (pending.state, pending.expires_at, pending.to_json()),
            )

    def take_pending(self, state: str, session_id: str | None = None) -> PendingAuthorization | None:
        """Remove and return the pending authorization for `state`; the DELETE makes it single use, and with
        `session_id` it deletes only one started by that browser session (see `SessionStore`)."""
        query = "DELETE FROM pending_authorization WHERE state = ?"
        args: tuple[str, ...] = (state,)
        if session_id is not None:
            query += " AND json_extract(body, '$.session_id') = ?"
            args = (state, session_id)
        with self._lock:
            row = self._conn.execute(query + " RETURNING body", args).fetchone()
        return None if row is None else PendingAuthorization.from_json(row[0])

    def has_pending(self, state: str) -> bool:
        """Whether an authorization with this state is pending."""
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM pending_authorization WHERE state = ?", (state,)).fetchone()
        return row is not None

    def save_context(self, context: LaunchContext) -> None:
        """Insert or replace a launch context."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO launch_context (context_id, session_id, ends_at, body) VALUES (?, ?, ?, ?)",
                (context.context_id, context.session_id, context.ends_at, context.to_json()),
            )

    def get_context(self, context_id: str) -> LaunchContext | None:
        """The launch context with this id, or None."""
        with self._lock:
            row = self._conn.execute("SELECT body FROM launch_context WHERE context_id = ?", (context_id,)).fetchone()
        return None if row is None else LaunchContext.from_json(row[0])

    def delete_context(self, context_id: str) -> None:
        """Forget a launch context."""
        with self._lock:
            self._conn.execute("DELETE FROM launch_context WHERE context_id = ?", (context_id,))

    def load_session(self, session_id: str) -> dict[str, Any] | None:
        """The data of a browser session, or None when unknown or expired."""
        with self._lock:
            row = self._conn.execute(
                "SELECT body FROM browser_session WHERE session_id = ? AND expires_at > ?",
                (session_id, time.time()),
            ).fetchone()
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row[0])
        return data

    def save_session(self, session_id: str, data: dict[str, Any], expires_at: float) -> None:
        """Insert or replace the data of a browser session."""
        raw = json.dumps(data)
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO browser_session (session_id, expires_at, body) VALUES (?, ?, ?)",
                (session_id, expires_at, raw),
            )

    def delete_session(self, session_id: str) -> None:
        """Forget a browser session."""
        with self._lock:
            self._conn.execute("DELETE FROM browser_session WHERE session_id = ?", (session_id,))

    def end_session(self, session_id: str) -> None:
        """Forget a browser session with its launch contexts and pending authorizations (one transaction)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM browser_session WHERE session_id = ?", (session_id,))
            conn.execute("DELETE FROM launch_context WHERE session_id = ?", (session_id,))
            conn.execute(
                "DELETE FROM pending_authorization WHERE json_extract(body, '$.session_id') = ?", (session_id,)
            )

    def move_session(self, old: str, new: str) -> None:
        """Bind the launch contexts and pending authorizations of session `old` to `new` (one transaction)."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE launch_context SET session_id = ?, body = json_set(body, '$.session_id', ?) "
                "WHERE session_id = ?",
                (new, new, old),
            )
            conn.execute(
                "UPDATE pending_authorization SET body = json_set(body, '$.session_id', ?) "
                "WHERE json_extract(body, '$.session_id') = ?",
                (new, old),
            )

    def remember_once(self, key: str, expires_at: float) -> bool:
        """True the first time `key` is seen (until `expires_at`); one transaction, so two processes never
        both get True."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM used_once WHERE key = ? AND expires_at <= ?", (key, time.time()))
            inserted = conn.execute(
                "INSERT OR IGNORE INTO used_once (key, expires_at) VALUES (?, ?)", (key, expires_at)
            ).rowcount
        return inserted == 1

    def purge_expired(self, now: float | None = None) -> int:
        """Drop everything past its expiry."""
        at = time.time() if now is None else now
        total = 0
        with self._lock:
            for sql in (
                "DELETE FROM pending_authorization WHERE expires_at <= ?",
                "DELETE FROM launch_context WHERE ends_at <= ?",
                "DELETE FROM browser_session WHERE expires_at <= ?",
                "DELETE FROM used_once WHERE expires_at <= ?",
            ):
                total += self._conn.execute(sql, (at,)).rowcount
        return total
