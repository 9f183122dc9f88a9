"""What the clinic's FHIR server can do, read from its CapabilityStatement and cached per server.

The load strategy follows from it: one CarePlan search with includes, else one batch of searches,
else (degraded, logged) sequential searches.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from fhir_mappings.query import GROUP_INCLUDES
from plugin.sync.client import FhirClient
from plugin.sync.errors import BadRequest, JsonDict, NotFound, SyncError
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
            return changed


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


class CapabilityCache:
    """Capabilities per server base URL, fetched from ``/metadata`` at most once per ``ttl`` seconds."""

    def __init__(self, ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: TtlCache[str, ServerCapabilities] = TtlCache(ttl)
        self._limits: dict[str, TransactionLimits] = {}
        self._lock = threading.Lock()

    def limits(self, base_url: str) -> TransactionLimits:
        """The transaction limits known for a server (one shared object; it outlives the ``/metadata`` TTL)."""
        with self._lock:
            return self._limits.setdefault(base_url.rstrip("/"), TransactionLimits())

    def get(self, client: FhirClient, *, probe: bool = True) -> ServerCapabilities:
        """Fresh-enough capabilities for the client's server; probes undeclared includes once when asked."""
        key = client.base_url
        now = self._clock()
        cached = self._entries.get(key, now)
        if cached is not None:
            return cached
        caps = ServerCapabilities.from_statement(key, client.metadata().json(), fetched_at=now)
        if probe and caps.includes_declared(GROUP_INCLUDES) is None and caps.supports("CarePlan", "search-type"):
            caps = _with_probe(caps, probe_includes(client))
        caps = dataclasses.replace(caps, limits=self.limits(key))
        self._entries.put(key, caps, now)
        return caps


def _with_probe(caps: ServerCapabilities, result: bool) -> ServerCapabilities:
    return dataclasses.replace(caps, includes_probed=result)
