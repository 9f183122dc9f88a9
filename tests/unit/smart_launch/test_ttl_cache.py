"""The expiring cache behind discovery, JWKS and capability caching."""

from __future__ import annotations

from smart_launch.ttl_cache import TtlCache


def test_entry_is_fresh_until_ttl_after_it_was_stored() -> None:
    cache: TtlCache[str, int] = TtlCache(10.0)
    assert cache.get("a", 0.0) is None
    cache.put("a", 1, 100.0)
    assert cache.get("a", 109.9) == 1
    assert cache.get("a", 110.0) is None  # expired exactly at now + ttl


def test_pop_and_clear_forget() -> None:
    cache: TtlCache[str, int] = TtlCache(10.0)
    cache.put("a", 1, 0.0)
    cache.put("b", 2, 0.0)
    cache.pop("a")
    cache.pop("missing")
    assert cache.get("a", 1.0) is None and cache.get("b", 1.0) == 2
    cache.clear()
    assert cache.get("b", 1.0) is None
