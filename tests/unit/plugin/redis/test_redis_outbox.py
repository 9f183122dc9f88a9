"""RedisOutbox: the SQLite outbox's rules, and two instances replaying at the same moment send each save once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import responses

from plugin.stores.redis_backend import RedisOutbox, connect
from plugin.sync.client import FhirClient, RetryPolicy
from plugin.sync.outbox import OutboxState, replay, save_or_enqueue
from plugin.sync.transaction import ChangeSet
from tests.unit.plugin.sync.test_sync_outbox import check_open_for

BASE = "https://ehr.test/fhir/R4"
IDS = "https://resourcegroep.test/id"
TAGS = "https://resourcegroep.test/idempotency"
ACTIVITY = {"system": "https://resourcegroep.test/activiteit", "code": "x"}
USER = "Practitioner/u1"


def bundle(key: str, patient: str = "Patient/p1") -> dict[str, Any]:
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS, idempotency_key=key)
    cs.create(
        {
            "resourceType": "Goal",
            "identifier": [{"system": IDS, "value": f"goal-{key}"}],
            "subject": {"reference": patient},
        }
    )
    return cs.to_bundle(agent=USER, activity=ACTIVITY)


def ok_answer(_request: Any) -> tuple[int, dict[str, str], str]:
    time.sleep(0.05)  # a server that takes a moment: the other replayer arrives while this save is in flight
    body = {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [
            {"response": {"status": "201 Created", "location": "Goal/1/_history/1"}},
            {"response": {"status": "201 Created", "location": "Provenance/1/_history/1"}},
        ],
    }
    return 200, {}, json.dumps(body)


def sent_keys(rsps: responses.RequestsMock) -> list[str]:
    keys = []
    for call in rsps.calls:
        if call.request.method == "POST" and str(call.request.url).rstrip("/") == BASE:
            prov = json.loads(call.request.body)["entry"][-1]["resource"]
            keys.append(prov["meta"]["tag"][0]["code"])
    return keys


def client() -> FhirClient:
    return FhirClient(BASE, retry=RetryPolicy(max_attempts=2), sleep=lambda _s: None)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture
def outbox(rclient: redis.Redis, prefix: str) -> RedisOutbox:
    return RedisOutbox(rclient, prefix=prefix)


def test_enqueue_keeps_everything_and_deduplicates_by_key(outbox: RedisOutbox) -> None:
    b = bundle("k1")
    entry = outbox.enqueue(
        user=USER, patient="Patient/p1", idempotency_key="k1", bundle=b, error="HTTP 503", bases={"Goal/1": {"a": 1}}
    )
    again = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=b)
    assert again == entry
    assert entry.bundle == b and entry.user == USER and entry.state is OutboxState.PENDING
    assert entry.attempts == 1 and entry.last_error == "HTTP 503" and entry.created.tzinfo is not None
    assert entry.bases == {"Goal/1": {"a": 1}} and entry.history == ()
    assert outbox.get(entry.id) == entry and outbox.get(-1) is None
    assert [e.id for e in outbox.pending_for("Patient/p1")] == [entry.id]
    assert outbox.pending_for("Patient/other") == []
    outbox.check_writable()


def test_replay_sends_in_order_per_patient(rsps: responses.RequestsMock, outbox: RedisOutbox) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    for key, patient in (("a1", "Patient/a"), ("b1", "Patient/b"), ("a2", "Patient/a"), ("b2", "Patient/b")):
        outbox.enqueue(user=USER, patient=patient, idempotency_key=key, bundle=bundle(key, patient))
    assert outbox.patients_pending() == ["Patient/a", "Patient/b"]
    report = replay(outbox, client())
    assert report.complete and len(report.sent) == 4
    assert sent_keys(rsps) == ["a1", "a2", "b1", "b2"]
    assert outbox.pending_for("Patient/a") == [] and outbox.patients_pending() == []
    sent = outbox.get(report.sent[0])
    assert sent is not None and sent.state is OutboxState.SENT and sent.attempts == 1


def test_an_outage_keeps_the_entry_pending_and_counts_the_attempt(
    rsps: responses.RequestsMock, outbox: RedisOutbox
) -> None:
    rsps.post(BASE, status=503)
    for key in ("k1", "k2"):
        outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key=key, bundle=bundle(key))
    report = replay(outbox, client())
    assert report.stopped is not None and report.stopped.startswith("outage")
    waiting = outbox.pending_for("Patient/p1")
    assert [e.idempotency_key for e in waiting] == ["k1", "k2"]
    assert waiting[0].attempts == 1 and waiting[0].last_error
    assert outbox.patients_pending() == ["Patient/p1"]
    # The lease ended with the attempt: another replayer may try now.
    assert outbox.claim_next("Patient/p1", owner="other", lease_seconds=60) is not None


def test_a_refused_save_is_kept_and_can_be_retried_or_let_lapse(
    rsps: responses.RequestsMock, outbox: RedisOutbox
) -> None:
    rsps.post(BASE, status=422, json={"resourceType": "OperationOutcome", "issue": [{"diagnostics": "no"}]})
    first = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    second = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="k2", bundle=bundle("k2"))
    report = replay(outbox, client())
    assert report.failed == [first.id, second.id]
    assert [e.id for e in outbox.failed_for("Patient/p1")] == [first.id, second.id]
    assert outbox.patients_pending() == []
    outbox.requeue(first.id, by="Practitioner/anna")
    again = outbox.get(first.id)
    assert again is not None and again.state is OutboxState.PENDING
    assert [(e.action, e.by) for e in again.history] == [("retry", "Practitioner/anna")]
    assert outbox.patients_pending() == ["Patient/p1"]
    outbox.discard(second.id, by="Practitioner/anna")
    assert [e.id for e in outbox.discarded_for("Patient/p1")] == [second.id]
    with pytest.raises(ValueError, match="not failed"):
        outbox.discard(second.id, by="Practitioner/anna")  # only a failed entry can be let lapse
    with pytest.raises(KeyError):
        outbox.requeue(987654, by="Practitioner/anna")


def test_a_leased_patient_is_not_claimed_by_another_owner_until_the_lease_ends(outbox: RedisOutbox) -> None:
    outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    assert outbox.claim_next("Patient/p1", owner="one", lease_seconds=60) is not None
    assert outbox.claim_next("Patient/p1", owner="two", lease_seconds=60) is None
    assert outbox.claim_next("Patient/p1", owner="one", lease_seconds=0.2) is not None  # its own lease, renewed
    deadline = time.monotonic() + 10
    while (taken := outbox.claim_next("Patient/p1", owner="two", lease_seconds=60)) is None:
        assert time.monotonic() < deadline, "the lease of a replayer that went away never ended"
        time.sleep(0.05)
    assert taken.idempotency_key == "k1"
    assert outbox.claim_next("Patient/p1", owner="one", lease_seconds=60) is None


def test_claim_with_a_user_waits_for_another_authors_entry(outbox: RedisOutbox) -> None:
    outbox.enqueue(user="Practitioner/other", patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="k2", bundle=bundle("k2"))
    assert outbox.claim_next("Patient/p1", owner="me", lease_seconds=60, user=USER) is None
    claimed = outbox.claim_next("Patient/p1", owner="worker", lease_seconds=60)
    assert claimed is not None and claimed.idempotency_key == "k1"


def test_two_instances_replaying_at_the_same_moment_send_each_save_once(
    rsps: responses.RequestsMock, redis_url: str, prefix: str
) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    instances = [RedisOutbox(connect(redis_url), prefix=prefix) for _ in range(4)]
    keys = [f"k{i}" for i in range(6)]
    for i, key in enumerate(keys):
        instances[i % 2].enqueue(user=USER, patient="Patient/p1", idempotency_key=key, bundle=bundle(key))
    barrier = threading.Barrier(len(instances))
    errors: list[BaseException] = []

    def run(box: RedisOutbox) -> None:
        try:
            barrier.wait()
            while box.pending_for("Patient/p1"):
                replay(box, client(), patient="Patient/p1")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(box,)) for box in instances]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sent_keys(rsps) == keys  # every save once, in order
    assert instances[0].patients_pending() == []


def test_save_or_enqueue_parks_on_outage_for_the_other_instance_to_send(
    rsps: responses.RequestsMock, redis_url: str, prefix: str
) -> None:
    a, b = RedisOutbox(connect(redis_url), prefix=prefix), RedisOutbox(connect(redis_url), prefix=prefix)
    down = rsps.post(BASE, status=503)
    outcome = save_or_enqueue(client(), a, bundle("k1"), user=USER, patient="Patient/p1")
    assert not outcome.saved and outcome.queued is not None
    rsps.remove(down)
    rsps.add_callback("POST", BASE, callback=ok_answer)
    report = replay(b, client())
    assert report.sent == [outcome.queued.id]
    assert a.get(outcome.queued.id).state is OutboxState.SENT  # type: ignore[union-attr]


def test_open_for_reads_the_waiting_and_the_refused_saves_of_one_patient_at_once(
    rsps: responses.RequestsMock, outbox: RedisOutbox
) -> None:
    check_open_for(rsps, outbox)  # the SQLite outbox's test, on this one
