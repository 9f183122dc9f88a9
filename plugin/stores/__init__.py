"""Where the app keeps its server-side state, chosen by configuration.

- Default (one machine): SQLite files. Browser sessions, launches and tokens in ``[app] session_db`` (in memory
  when unset), the outbox, the once-per-submission log and the learned server capabilities in ``outbox_db``.
- With ``[redis] url`` (or ``RESOURCEGROEP_REDIS_URL``): all of them in Redis, shared by every app instance
  behind a load balancer (see ``plugin.stores.redis_backend`` and docs/configuration.md).

The app (``create_app``) and the worker build their stores here, so both use the same ones.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from plugin.services.submissions import SqliteSubmissionLog, SubmissionLog
from plugin.sync.capabilities import CapabilityCache, SqliteCapabilityStore
from plugin.sync.outbox import Outbox, SqliteOutbox
from smart_launch import ConfigurationError, MemorySessionStore, SessionStore, SQLiteSessionStore

if TYPE_CHECKING:
    from plugin.config import AppConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stores:
    """The state one app instance works with."""

    session_store: SessionStore
    outbox: Outbox
    submissions: SubmissionLog
    capabilities: CapabilityCache
    kind: str  # "redis" or "sqlite"


def redacted(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def open_sqlite_outbox(path: str) -> SqliteOutbox:
    """The outbox at `path` (folder and file created when missing); `ConfigurationError` at start when this
    process cannot write it: saves that cannot reach the EHR must never be dropped later."""
    try:
        outbox = SqliteOutbox(path)
        outbox.check_writable()
    except (OSError, sqlite3.Error) as exc:
        raise ConfigurationError(
            f"the outbox {path} (saves waiting for the EHR) cannot be written: {exc}. "
            "Set [app] outbox_db (or RESOURCEGROEP_OUTBOX_DB) to a writable file."
        ) from exc
    return outbox


def _sqlite_outbox_path(config: AppConfig) -> str:
    if config.outbox_db is not None:
        return config.outbox_db
    path = str(Path(tempfile.mkdtemp(prefix="resourcegroep-")) / "outbox.sqlite3")
    log.warning("no outbox_db and no session_db configured: waiting saves are kept in %s and LOST on a restart", path)
    return path


def _redis_stores(config: AppConfig, url: str) -> Stores:
    import redis  # only needed when configured

    from plugin.stores.redis_backend import (
        RedisCapabilityStore,
        RedisOutbox,
        RedisSessionStore,
        RedisSubmissionLog,
        connect,
    )

    client = connect(url)
    prefix = config.redis_prefix
    outbox = RedisOutbox(client, prefix=prefix)
    try:
        outbox.check_writable()
    except redis.RedisError as exc:
        raise ConfigurationError(
            f"Redis at {redacted(url)} (sessions, launches and waiting saves) cannot be reached or written: "
            f"{type(exc).__name__}: {exc}. Check [redis] url (or RESOURCEGROEP_REDIS_URL)."
        ) from exc
    return Stores(
        session_store=RedisSessionStore(client, prefix=prefix),
        outbox=outbox,
        submissions=RedisSubmissionLog(client, prefix=prefix),
        capabilities=CapabilityCache(store=RedisCapabilityStore(client, prefix=prefix)),
        kind="redis",
    )


def stores_from_config(config: AppConfig) -> Stores:
    """Redis when ``[redis] url`` is set, else the embedded SQLite stores; `ConfigurationError` when the
    chosen store cannot be written at start."""
    if config.redis_url:
        return _redis_stores(config, config.redis_url)
    outbox_path = _sqlite_outbox_path(config)
    return Stores(
        session_store=SQLiteSessionStore(config.session_db) if config.session_db else MemorySessionStore(),
        outbox=open_sqlite_outbox(outbox_path),
        submissions=SqliteSubmissionLog(outbox_path),
        capabilities=CapabilityCache(store=SqliteCapabilityStore(outbox_path)),
        kind="sqlite",
    )


def outbox_from_config(config: AppConfig) -> Outbox:
    """Only the outbox the app would use (for the worker): Redis when configured, else the SQLite file."""
    if config.redis_url:
        return _redis_stores(config, config.redis_url).outbox
    return open_sqlite_outbox(_sqlite_outbox_path(config))
