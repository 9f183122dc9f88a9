"""A small thread-safe cache whose entries expire a fixed time after they were stored."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values per key, fresh for `ttl` seconds. Callers pass `now` so they decide which clock counts."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, now: float) -> V | None:
        """The value stored for `key` if it has not expired at `now`."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        return None

    def put(self, key: K, value: V, now: float) -> None:
        """Store `value`, fresh until `now + ttl`."""
        with self._lock:
            self._entries[key] = (now + self.ttl, value)

    def pop(self, key: K) -> None:
        """Forget one key."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
