"""The Redis outbox keeps the FHIR server of a parked save, like the SQLite one."""

from __future__ import annotations

import redis

from plugin.stores.redis_backend import RedisOutbox

BUNDLE = {"resourceType": "Bundle", "type": "transaction", "entry": []}


def test_the_server_of_a_parked_save_is_kept(rclient: redis.Redis, prefix: str) -> None:
    outbox = RedisOutbox(rclient, prefix=prefix)
    kt = outbox.enqueue(
        user="Practitioner/a", patient="p1", idempotency_key="k1", bundle=BUNDLE, server="https://kt.example.nl/fhir"
    )
    plain = outbox.enqueue(user="Practitioner/a", patient="p1", idempotency_key="k2", bundle=BUNDLE)
    assert kt.server == "https://kt.example.nl/fhir" and plain.server is None
    assert [e.server for e in outbox.pending_for("p1")] == ["https://kt.example.nl/fhir", None]
    outbox.hold(kt.id, "waits for its server")
    held = outbox.get(kt.id)
    assert held is not None and held.attempts == 0 and held.last_error == "waits for its server"
