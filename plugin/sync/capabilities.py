"""What the clinic's FHIR server can do, read from its CapabilityStatement and cached per server.

The load strategy follows from it: one CarePlan search with includes, else one batch of searches,
else (degraded, logged) sequential searches.

What was learned (the parsed statement, the include probe's answer, transaction limits learned from refusals)
can be kept in a :class:`CapabilityStore` so that it survives a restart and is shared by every app instance:
:class:`SqliteCapabilityStore` (one machine, beside the outbox) or the Redis store (``plugin.stores``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fhir_mappings.query import GROUP_INCLUDES
from plugin.sync.client import FhirClient
from plugin.sync.errors import BadRequest, JsonDict, NotFound, SyncError
from smart_launch.files import create_private
from smart_launch.ttl_cache import TtlCache

log = logging.getLogger(__name__)

# Types a batch of searches by patient needs to be able to search.
GROUP_SEARCH_TYPES: tuple[str, ...] = (
    "CarePlan",
    "CareTeam",
    "Goal",
    "Task",
    "Appointment",
    "Communication",
    "Observation",
    "RelatedPerson",
)


class LoadStrategy(enum.Enum):
    """How a repository loads a group: fewer round trips first."""

    INCLUDE = "include"
    BATCH = "batch"
    SEQUENTIAL = "sequential"


@dataclass(frozen=True)
class ResourceCapability:
    """What the server declares for one resource type."""

    type: str
    interactions: frozenset[str] = frozenset()
    search_params: frozenset[str] = frozenset()
    # None = the statement does not list them (many servers support includes without declaring them).
    search_includes: frozenset[str] | None = None
    search_rev_includes: frozenset[str] | None = None
    conditional_create: bool = False
    conditional_update: bool = False
    update_create: bool = False
    versioning: str | None = None


@dataclass
class TransactionLimits:
    """How large a ``transaction`` the server accepts: at most ``max_entries`` entries, ``max_updates`` updates.

    None = no limit known. R4's CapabilityStatement has no element for this (Medplum 4.5's statement lists only
    ``mode``, ``interaction`` and ``resource``), so the limits are learned from the first refusal of a too-large
    transaction (see ``transaction.limits_from_refusal``) and kept per server by the :class:`CapabilityCache`,
    across re-reads of ``/metadata``. One object per server, shared by every save to it (thread-safe).
    """

    max_entries: int | None = None
    max_updates: int | None = None
    learned_from: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # Called after the limits were lowered (the CapabilityCache writes them to its shared store).
    on_learn: Callable[[TransactionLimits], None] | None = field(default=None, repr=False, compare=False)

    def learn(self, *, max_entries: int | None = None, max_updates: int | None = None, why: str = "") -> bool:
        """Lower the limits (never raise them); True when something changed."""
        with self._lock:
            changed = False
            if max_entries is not None and (self.max_entries is None or max_entries < self.max_entries):
                self.max_entries, changed = max_entries, True
            if max_updates is not None and (self.max_updates is None or max_updates < self.max_updates):
                self.max_updates, changed = max_updates, True
            if changed:
                self.learned_from = why
        if changed and self.on_learn is not None:
            self.on_learn(self)
        return changed

    def as_json(self) -> JsonDict:
        """The limits as a JSON object (for a CapabilityStore)."""
        with self._lock:
            return {"max_entries": self.max_entries, "max_updates": self.max_updates, "learned_from": self.learned_from}

    def learn_from_json(self, data: Mapping[str, Any]) -> bool:
        """Lower the limits to those of a stored record (another instance, or before a restart, learned them)."""
        entries, updates = data.get("max_entries"), data.get("max_updates")
        return self.learn(
            max_entries=entries if isinstance(entries, int) else None,
            max_updates=updates if isinstance(updates, int) else None,
            why=str(data.get("learned_from") or ""),
        )


@dataclass(frozen=True)
class ServerCapabilities:
    """The parts of a CapabilityStatement the sync layer uses."""

    base_url: str
    fhir_version: str | None
    resources: Mapping[str, ResourceCapability]
    system_interactions: frozenset[str]
    fetched_at: float = 0.0
    # Result of the include probe for servers that do not declare their includes (None = not probed).
    includes_probed: bool | None = None
    # Transaction size limits; learned from refusals, shared per server through the CapabilityCache.
    limits: TransactionLimits = field(default_factory=TransactionLimits, compare=False)

    @classmethod
    def from_statement(cls, base_url: str, statement: JsonDict, fetched_at: float = 0.0) -> ServerCapabilities:
        """Parse a CapabilityStatement (R4) into the capabilities we use; only the ``server`` rest entry counts."""
        if statement.get("resourceType") != "CapabilityStatement":
            raise SyncError(f"{base_url}/metadata did not return a CapabilityStatement")
        resources: dict[str, ResourceCapability] = {}
        system: set[str] = set()
        for rest in statement.get("rest") or []:
            if rest.get("mode", "server") != "server":
                continue
            system |= {str(i.get("code")) for i in rest.get("interaction") or [] if i.get("code")}
            for res in rest.get("resource") or []:
                rtype = res.get("type")
                if not rtype:
                    continue
                resources[rtype] = ResourceCapability(
                    type=rtype,
                    interactions=frozenset(str(i.get("code")) for i in res.get("interaction") or [] if i.get("code")),
                    search_params=frozenset(str(p.get("name")) for p in res.get("searchParam") or [] if p.get("name")),
                    search_includes=_optional_set(res.get("searchInclude")),
                    search_rev_includes=_optional_set(res.get("searchRevInclude")),
                    conditional_create=bool(res.get("conditionalCreate")),
                    conditional_update=bool(res.get("conditionalUpdate")),
                    update_create=bool(res.get("updateCreate")),
                    versioning=res.get("versioning"),
                )
        return cls(
            base_url=base_url.rstrip("/"),
            fhir_version=statement.get("fhirVersion"),
            resources=resources,
            system_interactions=frozenset(system),
            fetched_at=fetched_at,
        )

    def as_json(self) -> JsonDict:
        """What a CapabilityStore keeps: the parsed capabilities and the probe's answer (not the limits)."""
        return {
            "base_url": self.base_url,
            "fhir_version": self.fhir_version,
            "system_interactions": sorted(self.system_interactions),
            "includes_probed": self.includes_probed,
            "resources": [
                {
                    "type": r.type,
                    "interactions": sorted(r.interactions),
                    "search_params": sorted(r.search_params),
                    "search_includes": None if r.search_includes is None else sorted(r.search_includes),
                    "search_rev_includes": None if r.search_rev_includes is None else sorted(r.search_rev_includes),
                    "conditional_create": r.conditional_create,
                    "conditional_update": r.conditional_update,
                    "update_create": r.update_create,
                    "versioning": r.versioning,
                }
                for r in self.resources.values()
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], fetched_at: float = 0.0) -> ServerCapabilities:
        """The inverse of :meth:`as_json`."""
        resources = {
            str(r["type"]): ResourceCapability(
                type=str(r["type"]),
                interactions=frozenset(r.get("interactions") or ()),
                search_params=frozenset(r.get("search_params") or ()),
                search_includes=_optional_set(r.get("search_includes")),
                search_rev_includes=_optional_set(r.get("search_rev_includes")),
                conditional_create=bool(r.get("conditional_create")),
                conditional_update=bool(r.get("conditional_update")),
                update_create=bool(r.get("update_create")),
                versioning=r.get("versioning"),
            )
            for r in data.get("resources") or []
        }
        probed = data.get("includes_probed")
        return cls(
            base_url=str(data["base_url"]),
            fhir_version=data.get("fhir_version"),
            resources=resources,
            system_interactions=frozenset(data.get("system_interactions") or ()),
            fetched_at=fetched_at,
            includes_probed=probed if isinstance(probed, bool) else None,
        )

    @property
    def supports_transaction(self) -> bool:
        """The server accepts ``transaction`` Bundles."""
        return "transaction" in self.system_interactions

    @property
    def supports_batch(self) -> bool:
        """The server accepts ``batch`` Bundles."""
        return "batch" in self.system_interactions

    def supports(self, resource_type: str, interaction: str) -> bool:
        """The server declares ``interaction`` (read, create, update, search-type, ...) for the type."""
        res = self.resources.get(resource_type)
        return res is not None and interaction in res.interactions

    def includes_declared(self, includes: Sequence[tuple[str, str]]) -> bool | None:
        """True/False when the statement lists (or lacks) every include; None when it lists none at all.

        An ``_include:iterate`` of ``CareTeam:participant`` counts as declared when either the searched type
        (the first ``_include``'s source) or ``CareTeam`` itself lists it.
        """
        searched = _searched_type(includes)
        main = self.resources.get(searched) if searched else None
        if main is None:
            return False
        if main.search_includes is None and main.search_rev_includes is None:
            return None
        for kind, value in includes:
            if kind.startswith("_revinclude"):
                if value not in (main.search_rev_includes or frozenset()):
                    return False
                continue
            source = value.split(":", 1)[0]
            other = self.resources.get(source)
            declared = (main.search_includes or frozenset()) | (
                (other.search_includes or frozenset()) if other else frozenset()
            )
            if value not in declared:
                return False
        return True


def _optional_set(values: object) -> frozenset[str] | None:
    if not isinstance(values, list):
        return None
    return frozenset(str(v) for v in values)


def _searched_type(includes: Sequence[tuple[str, str]]) -> str | None:
    for kind, value in includes:
        if kind == "_include":
            return value.split(":", 1)[0]
    return None


def choose_load_strategy(
    caps: ServerCapabilities,
    includes: Sequence[tuple[str, str]] = GROUP_INCLUDES,
    search_types: Iterable[str] = GROUP_SEARCH_TYPES,
) -> LoadStrategy:
    """INCLUDE when the includes are declared (or proven by the probe), else BATCH, else SEQUENTIAL (degraded)."""
    searched = _searched_type(includes) or "CarePlan"
    if caps.supports(searched, "search-type"):
        declared = caps.includes_declared(includes)
        if declared is None:
            declared = caps.includes_probed
        if declared:
            return LoadStrategy.INCLUDE
    types = list(search_types)
    if caps.supports_batch and all(caps.supports(t, "search-type") for t in types):
        return LoadStrategy.BATCH
    missing = [t for t in types if not caps.supports(t, "search-type")]
    log.warning(
        "fhir load strategy for %s is SEQUENTIAL (degraded): includes %s, batch %s, not searchable: %s",
        caps.base_url,
        "not available",
        "supported" if caps.supports_batch else "not supported",
        ",".join(missing) or "none",
    )
    return LoadStrategy.SEQUENTIAL


def probe_includes(client: FhirClient, includes: Sequence[tuple[str, str]] = GROUP_INCLUDES) -> bool:
    """Ask the server, with ``Prefer: handling=strict``, to run an empty search with the includes.

    A strict server answers 400 for any include it does not support; an empty result costs it nothing.
    """
    searched = _searched_type(includes) or "CarePlan"
    params: list[tuple[str, str]] = [("_id", "resourcegroep-include-probe"), ("_count", "1"), *includes]
    try:
        client.search(searched, params, headers={"Prefer": "handling=strict"})
    except (BadRequest, NotFound) as exc:
        log.info("fhir include probe on %s refused: %s", client.base_url, exc.diagnostics)
        return False
    return True


class CapabilityStore(Protocol):
    """Where learned capabilities outlive the process and reach the other app instances."""

    def load(self, key: str) -> JsonDict | None:
        """The record stored under ``key``, or None when absent or expired."""
        ...

    def save(self, key: str, record: JsonDict, ttl: float | None) -> None:
        """Store ``record`` under ``key``, for ``ttl`` seconds (None: until replaced)."""
        ...


_STORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS capability_cache (
    key TEXT PRIMARY KEY, expires_at REAL, body TEXT NOT NULL)
"""


class SqliteCapabilityStore:
    """A :class:`CapabilityStore` in a SQLite file (the outbox's, on one machine): survives restarts."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        self._clock = clock
        if self.path != ":memory:":
            create_private(self.path)
        with self._connect() as conn:
            conn.execute(_STORE_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    def load(self, key: str) -> JsonDict | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT body FROM capability_cache WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (key, self._clock()),
            ).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        return data if isinstance(data, dict) else None

    def save(self, key: str, record: JsonDict, ttl: float | None) -> None:
        expires = None if ttl is None else self._clock() + ttl
        with self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO capability_cache (key, expires_at, body) VALUES (?, ?, ?)",
                (key, expires, json.dumps(record)),
            )


class CapabilityCache:
    """Capabilities per server base URL, fetched from ``/metadata`` at most once per ``ttl`` seconds.

    With a ``store`` the parsed capabilities (with the include probe's answer, for ``ttl`` seconds) and the
    learned transaction limits (kept until a lower limit is learned) are shared with the other app instances
    and survive a restart: a new process reads them instead of asking ``/metadata`` and probing again.
    A store that cannot be reached is logged and worked around (the server is asked directly).
    """

    def __init__(
        self,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        store: CapabilityStore | None = None,
    ) -> None:
        self._clock = clock
        self.ttl = ttl
        self.store = store
        self._entries: TtlCache[str, ServerCapabilities] = TtlCache(ttl)
        self._limits: dict[str, TransactionLimits] = {}
        self._lock = threading.Lock()

    def limits(self, base_url: str) -> TransactionLimits:
        """The transaction limits known for a server (one shared object; it outlives the ``/metadata`` TTL)."""
        key = base_url.rstrip("/")
        with self._lock:
            found = self._limits.get(key)
            if found is not None:
                return found
            found = self._limits[key] = TransactionLimits(on_learn=self._saver(key))
        self._merge_stored_limits(key, found)
        return found

    def _saver(self, key: str) -> Callable[[TransactionLimits], None] | None:
        store = self.store
        if store is None:
            return None

        def save(limits: TransactionLimits) -> None:
            stored = self._load(f"limits:{key}") or {}
            merged = TransactionLimits()
            merged.learn_from_json(stored)
            merged.learn_from_json(limits.as_json())
            self._save(f"limits:{key}", merged.as_json(), None)

        return save

    def _merge_stored_limits(self, key: str, limits: TransactionLimits) -> None:
        stored = self._load(f"limits:{key}")
        if stored is not None:
            limits.learn_from_json(stored)

    def _load(self, key: str) -> JsonDict | None:
        if self.store is None:
            return None
        try:
            return self.store.load(key)
        except Exception as exc:  # a cache: the server can still be asked
            log.warning("capability store unreachable (%s): asking the server", type(exc).__name__)
            return None

    def _save(self, key: str, record: JsonDict, ttl: float | None) -> None:
        if self.store is None:
            return
        try:
            self.store.save(key, record, ttl)
        except Exception as exc:
            log.warning("capability store unreachable (%s): not shared", type(exc).__name__)

    def get(self, client: FhirClient, *, probe: bool = True) -> ServerCapabilities:
        """Fresh-enough capabilities for the client's server; probes undeclared includes once when asked."""
        key = client.base_url
        now = self._clock()
        cached = self._entries.get(key, now)
        if cached is not None:
            return cached
        limits = self.limits(key)
        stored = self._load(f"caps:{key.rstrip('/')}")
        if stored is not None and (not probe or stored.get("probe_done")):
            caps = ServerCapabilities.from_json(stored, fetched_at=now)
            self._merge_stored_limits(key.rstrip("/"), limits)
        else:
            caps = ServerCapabilities.from_statement(key, client.metadata().json(), fetched_at=now)
            if probe and caps.includes_declared(GROUP_INCLUDES) is None and caps.supports("CarePlan", "search-type"):
                caps = _with_probe(caps, probe_includes(client))
            self._save(f"caps:{key.rstrip('/')}", {**caps.as_json(), "probe_done": probe}, self.ttl)
        caps = dataclasses.replace(caps, limits=limits)
        self._entries.put(key, caps, now)
        return caps


def _with_probe(caps: ServerCapabilities, result: bool) -> ServerCapabilities:
    return dataclasses.replace(caps, includes_probed=result)
