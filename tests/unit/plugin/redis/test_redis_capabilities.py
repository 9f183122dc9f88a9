"""What the FHIR server can do is learned once and shared: by the instances (Redis) and across restarts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import responses

from plugin.stores.redis_backend import RedisCapabilityStore, connect
from plugin.sync.capabilities import CapabilityCache, LoadStrategy, SqliteCapabilityStore, choose_load_strategy
from plugin.sync.client import FhirClient

BASE = "https://ehr.test/fhir/R4"
TYPES = ("CarePlan", "CareTeam", "Goal", "Task", "Appointment", "Communication", "Observation", "RelatedPerson")


def statement() -> dict[str, Any]:
    """A server that does not declare its includes (so the app probes them)."""
    return {
        "resourceType": "CapabilityStatement",
        "fhirVersion": "4.0.1",
        "rest": [
            {
                "mode": "server",
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
                "resource": [{"type": t, "interaction": [{"code": "search-type"}, {"code": "read"}]} for t in TYPES],
            }
        ],
    }


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        r.get(f"{BASE}/metadata", json=statement())
        r.get(f"{BASE}/CarePlan", json={"resourceType": "Bundle", "type": "searchset", "total": 0})
        yield r


def test_a_second_instance_uses_what_the_first_learned(
    rsps: responses.RequestsMock, redis_url: str, prefix: str
) -> None:
    first = CapabilityCache(store=RedisCapabilityStore(connect(redis_url), prefix=prefix))
    caps = first.get(FhirClient(BASE))
    assert choose_load_strategy(caps) is LoadStrategy.INCLUDE and caps.includes_probed is True
    assert len(rsps.calls) == 2  # /metadata and the include probe
    first.limits(BASE).learn(max_entries=25, why="too large")

    second = CapabilityCache(store=RedisCapabilityStore(connect(redis_url), prefix=prefix))
    shared = second.get(FhirClient(BASE))
    assert len(rsps.calls) == 2  # nothing asked again
    assert shared.resources == caps.resources and shared.system_interactions == caps.system_interactions
    assert shared.includes_probed is True and choose_load_strategy(shared) is LoadStrategy.INCLUDE
    assert shared.limits.max_entries == 25 and shared.limits.learned_from == "too large"
    shared.limits.learn(max_updates=5)
    assert CapabilityCache(store=RedisCapabilityStore(connect(redis_url), prefix=prefix)).limits(BASE).as_json() == {
        "max_entries": 25,
        "max_updates": 5,
        "learned_from": "",
    }


def test_the_shared_capabilities_expire_with_the_ttl(
    rsps: responses.RequestsMock, rclient: redis.Redis, prefix: str
) -> None:
    cache = CapabilityCache(ttl=120, store=RedisCapabilityStore(rclient, prefix=prefix))
    cache.get(FhirClient(BASE)).limits.learn(max_entries=100)
    assert 110_000 < rclient.pttl(f"{prefix}capabilities:caps:{BASE}") <= 120_000
    assert rclient.pttl(f"{prefix}capabilities:limits:{BASE}") == -1  # limits are kept until lowered


def test_a_restarted_single_machine_app_reads_them_from_its_sqlite_file(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.sqlite3"
    now = [1000.0]
    CapabilityCache(store=SqliteCapabilityStore(path, clock=lambda: now[0])).get(FhirClient(BASE))
    assert len(rsps.calls) == 2
    after_restart = CapabilityCache(store=SqliteCapabilityStore(path, clock=lambda: now[0])).get(FhirClient(BASE))
    assert len(rsps.calls) == 2 and after_restart.includes_probed is True
    now[0] += 3601
    CapabilityCache(store=SqliteCapabilityStore(path, clock=lambda: now[0])).get(FhirClient(BASE))
    assert len(rsps.calls) == 4  # older than the TTL: asked again
