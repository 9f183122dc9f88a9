"""The Redis session store remembers one-time ids (HTI jtis) once, for every instance sharing it."""

from __future__ import annotations

import time

import redis

from plugin.stores.redis_backend import RedisSessionStore


def test_remember_once_across_instances(rclient: redis.Redis, prefix: str) -> None:
    first, second = RedisSessionStore(rclient, prefix=prefix), RedisSessionStore(rclient, prefix=prefix)

    assert first.remember_once("hti:kt:portal:j1", time.time() + 60)
    assert not second.remember_once("hti:kt:portal:j1", time.time() + 60)
    assert second.remember_once("hti:kt:portal:j2", time.time() + 60)
    ttl = rclient.pttl(f"{prefix}once:hti:kt:portal:j1")
    assert isinstance(ttl, int) and 0 < ttl <= 60_000
