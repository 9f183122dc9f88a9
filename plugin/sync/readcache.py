"""Groups already read into the domain, kept for a few minutes per worker process (the read cache).

Every page view reads the group from the EHR again (one request: the EHR stays the only record), but most page
views of a group get back exactly the resource versions the view before got: a clinician going from the overview
to a goal and back. Reading those same versions into the domain again (the compartment check, `group_from_fhir`)
is most of a large group's view. This cache answers that work for an answer whose resources are, one by one, the
same versions (type, id, ``meta.versionId``, ``meta.lastUpdated``, in the same order) as an answer read before
for the same server, patient, plan and mapping.

Some EHRs send the very same bytes again for the same versions (no time stamp or id of their own in the
answer): an entry is found by the digest of those bytes too (`answer_digest`), and such an answer is not even
parsed again.

What it is not: a copy of the record. It never answers instead of the EHR (the EHR is asked on every view and
its answer decides), it holds nothing on disk, nothing outside this process, and an entry lives at most `ttl`
seconds after the EHR last sent those versions. An answer with a resource without a version is never cached.
What is kept was checked against the launch patient's compartment when it was read; a hit hands out that checked
read, never the new answer's resources. Entries are shared by the threads of a process and must never be changed:
a save changes a copy (`fhir_mappings.copying.copy_group`), and `tests/unit/plugin/sync/test_read_cache.py` renders
every page on a cached group and checks it is unchanged afterwards.

A newer read of the same server, patient, plan and mapping replaces the older one (the EHR has moved on from
its versions). The size is bounded by resources (`max_resources` over all entries, oldest use evicted first); a
read larger than the bound is not kept. `max_resources = 0` turns the cache off (configuration `[app]
read_cache_resources`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")

DEFAULT_MAX_RESOURCES = 25_000
DEFAULT_TTL = 300.0

_SEP = b"\x1f"
# A kept read of this many resources or more goes before another extent of its group is parsed (see `other_bytes`):
# such a read is ~35 MB or more in a worker (~23 KB per resource read, parse included), so a worker holds one of a
# group at a time. A huge group's newest scores (~2,000 resources) are not held while its every score (~21,000,
# ~190 MB) or one goal's every score beside the newest is parsed; a large group's two extents (~1,250 and ~1,450)
# and a typical group's (~100) are both kept.
KIN_KEPT_BELOW = 1_500
_MAX_STABLE = 100_000  # scopes remembered as answering byte-identically (a set of digests; then it starts over)


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def _begin(digest: _Digest, scope: Iterable[str]) -> None:
    """Feed `digest` the `scope` (server, patient, plan, mapping): every key of the cache begins so."""
    for part in scope:
        digest.update(part.encode())
        digest.update(_SEP)
    digest.update(b"\x1e")


def answer_digest(scope: Iterable[str], raw: bytes) -> bytes:
    """A digest of an answer's bytes within `scope`: the same bytes from the same server for the same patient,
    plan and mapping read into the same group, so they need not even be parsed again.

    SHA-256 (32 bytes, apart from the 20-byte version keys): every view hashes its whole answer, and OpenSSL's
    SHA-256 is about twice as fast as blake2b here (the huge group's 25 MB answer: ~18 ms against ~32 ms)."""
    digest = hashlib.sha256(b"rg-answer" + _SEP)
    _begin(digest, scope)
    digest.update(raw)
    return digest.digest()


def scope_digest(scope: Iterable[str]) -> bytes:
    """A short key of a scope (server, patient, plan, mapping)."""
    return answer_digest(scope, b"")


def fingerprint(
    scope: Iterable[str], resources: Iterable[Mapping[str, Any]], extra: Iterable[Mapping[str, Any] | None] = ()
) -> bytes | None:
    """A digest of the versions in an answer: `scope` (server, patient, plan, mapping), then per resource its type,
    id, versionId and lastUpdated, in order; `extra` are more resources (the patient's read; None for "not read").
    None when a resource has no id or no version: then sameness cannot be told."""
    digest = hashlib.blake2b(digest_size=20)
    _begin(digest, scope)
    parts: list[str] = []  # hashed at once: one update per resource cost more than the hashing itself
    for resource in (*resources, *extra):
        if resource is None:
            parts.append("-")
            continue
        meta = resource.get("meta")
        version = meta.get("versionId") if isinstance(meta, dict) else None
        rid = resource.get("id")
        if not isinstance(rid, str) or not rid or not isinstance(version, str | int) or version == "":
            return None
        updated = meta.get("lastUpdated", "") if isinstance(meta, dict) else ""
        parts.append(f"{resource.get('resourceType')}/{rid}/{version}/{updated}")
    if parts:
        digest.update(_SEP.decode().join(parts).encode() + _SEP)  # each part ends with the separator
    return digest.digest()


@dataclass
class _Entry(Generic[T]):
    value: T
    size: int
    stamp: float
    aliases: tuple[bytes, ...] = ()
    scope: bytes | None = None


class ReadCache(Generic[T]):
    """A bounded, thread-safe map from an answer's fingerprint to what was read from it (see the module)."""

    def __init__(
        self,
        max_resources: int = DEFAULT_MAX_RESOURCES,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_resources < 0 or ttl < 0:
            raise ValueError("max_resources and ttl must not be negative")
        self.max_resources = max_resources
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[bytes, _Entry[T]] = OrderedDict()
        self._aliases: dict[bytes, bytes] = {}  # another key of an entry (the digest of the answer's bytes)
        self._scopes: dict[bytes, bytes] = {}  # scope -> the key of its newest entry
        self._stable: set[bytes] = set()  # scopes whose EHR sent the very same bytes again for the same versions
        # A group's scope -> the scopes of its reads (the whole group, its newest scores): one EHR, one record.
        self._kin: dict[bytes, set[bytes]] = {}
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_resources > 0 and self.ttl > 0

    @property
    def size(self) -> int:
        """Resources held over all entries."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> T | None:
        """What was read from an answer with this fingerprint; a hit counts as the EHR sending it again now."""
        now = self._clock()
        with self._lock:
            key = self._aliases.get(key, key)
            entry = self._entries.get(key)
            if entry is None or now - entry.stamp > self.ttl:
                if entry is not None:
                    self._drop(key)
                self.misses += 1
                return None
            entry.stamp = now
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.value

    def put(
        self,
        key: bytes,
        value: T,
        size: int,
        aliases: tuple[bytes, ...] = (),
        scope: bytes | None = None,
        kin: bytes | None = None,
    ) -> None:
        """Keep `value` (read from `size` resources), found by `key` and by each of `aliases` (added to those it
        had). `scope` (server, patient, plan): a newer read of the same scope replaces the older one, whose
        versions the EHR has moved on from. `kin`: the group's scope that `scope` is one extent of (see
        `other_bytes`). Oldest uses are evicted to stay within `max_resources`."""
        if not self.enabled or size > self.max_resources:
            return
        now = self._clock()
        with self._lock:
            if kin is not None and scope is not None:
                if len(self._kin) >= _MAX_STABLE:
                    self._kin.clear()
                self._kin.setdefault(kin, set()).add(scope)
            known = self._entries.get(key)
            aliases = tuple(dict.fromkeys(a for a in (*(known.aliases if known else ()), *aliases) if a != key))
            for old in (key, *aliases, *([self._scopes[scope]] if scope in self._scopes else [])):
                old = self._aliases.get(old, old)
                if old in self._entries:
                    self._drop(old)
            self._entries[key] = _Entry(value, size, now, aliases, scope)
            self._size += size
            for alias in aliases:
                self._aliases[alias] = key
            if scope is not None:
                self._scopes[scope] = key
            while self._entries and (self._size > self.max_resources):
                self._drop(next(iter(self._entries)))
            # Entries past their time go too (they would only be refused on a get).
            while self._entries:
                first_key, first = next(iter(self._entries.items()))
                if now - first.stamp <= self.ttl:
                    break
                self._drop(first_key)

    def same_bytes_again(self, scope: bytes, kin: bytes | None = None) -> None:
        """The EHR of `scope` sent an answer byte for byte again (a hit by the answer's digest). `kin`: the group's
        scope, shared by its reads of another extent (the whole group, its newest scores): what is learned of the
        EHR holds for them all."""
        with self._lock:
            if len(self._stable) >= _MAX_STABLE:
                self._stable.clear()
            self._stable.add(kin if kin is not None else scope)

    def other_bytes(self, scope: bytes, kin: bytes | None = None) -> bool:
        """An answer of `scope` came in bytes not seen before. Where this EHR is known to send the same bytes for
        the same versions, True says so: the versions of the new answer need not be looked up (no kept read of the
        scope has them). Elsewhere (False) the kept reads stay: their versions may still match.

        Where it is known, what goes before the new answer is parsed and read (so a worker does not hold both):
        - the scope had a kept read: its bytes changed, so the group has a new version. That read goes, and with
          `kin` (the group's scope) the group's kept reads of another extent (the whole group, its newest scores)
          go too: a new version of the group is, almost always, in each of them;
        - the scope had none (its first read, or one let go): the bytes say nothing of the group's versions. The
          group's other kept reads stay, so pages that read different extents of an unchanged group (the overview
          its newest scores, the report every score) are each read once. Only a big one (`KIN_KEPT_BELOW`
          resources or more: a huge group's reads) goes, to bound the worker's peak while it parses."""
        with self._lock:
            stable = (kin if kin is not None else scope) in self._stable
            if not stable:
                return False
            own = self._scopes.get(scope)
            changed = own is not None and own in self._entries
            for each in {scope, *self._kin.get(kin, ())} if kin is not None else {scope}:
                key = self._scopes.get(each)
                if key is None or key not in self._entries:
                    continue
                if changed or self._entries[key].size >= KIN_KEPT_BELOW:
                    self._drop(key)
            return True

    def big_kin_go(self, scope: bytes, kin: bytes, *, others_only: bool = False) -> None:
        """A read of `scope` (one extent of the group `kin`) is about to be parsed whose bytes say nothing of the
        versions (a deeper window of scores, read in stretches): the group's kept reads of `KIN_KEPT_BELOW`
        resources or more go first, as `other_bytes` lets them go, so a worker does not hold both.
        `others_only`: only those of another extent go (a read whose own kept read may still have its versions:
        a huge group's overview after its report)."""
        with self._lock:
            for each in {scope, *self._kin.get(kin, ())} - ({scope} if others_only else set()):
                key = self._scopes.get(each)
                if key is not None and key in self._entries and self._entries[key].size >= KIN_KEPT_BELOW:
                    self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._aliases.clear()
            self._scopes.clear()
            self._stable.clear()
            self._kin.clear()
            self._size = 0

    def _drop(self, key: bytes) -> None:
        entry = self._entries.pop(key)
        self._size -= entry.size
        for alias in entry.aliases:
            self._aliases.pop(alias, None)
        if entry.scope is not None and self._scopes.get(entry.scope) == key:
            del self._scopes[entry.scope]
