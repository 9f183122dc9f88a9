"""The SQLite outbox, replay and save_or_enqueue; the worker command."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from plugin.audit.trail import AccessLog
from plugin.sync.client import FhirClient, RetryPolicy
from plugin.sync.outbox import Outbox, OutboxState, SqliteOutbox, replay, save_or_enqueue
from plugin.sync.transaction import ChangeSet
from plugin.sync.worker import EX_FAILED, EX_OK, EX_TEMPFAIL, EX_USAGE, main

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
        if call.request.method == "POST" and call.request.url.rstrip("/") == BASE:
            prov = json.loads(call.request.body)["entry"][-1]["resource"]
            keys.append(prov["meta"]["tag"][0]["code"])
    return keys


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture
def outbox(tmp_path: Path) -> SqliteOutbox:
    return SqliteOutbox(tmp_path / "var" / "outbox.sqlite")


def client() -> FhirClient:
    return FhirClient(BASE, retry=RetryPolicy(max_attempts=2), sleep=lambda _s: None)


def test_enqueue_keeps_everything_and_deduplicates_by_key(outbox: SqliteOutbox) -> None:
    b = bundle("k1")
    entry = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=b, error="HTTP 503")
    again = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=b)
    assert again.id == entry.id
    assert entry.bundle == b and entry.user == USER and entry.state is OutboxState.PENDING
    assert entry.attempts == 1 and entry.last_error == "HTTP 503" and entry.created.tzinfo is not None
    assert [e.id for e in outbox.pending_for("Patient/p1")] == [entry.id]
    assert outbox.pending_for("Patient/other") == []
    assert stat.S_IMODE(outbox.path.stat().st_mode) == 0o600


def test_replay_sends_in_order_per_patient(rsps: responses.RequestsMock, outbox: SqliteOutbox) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    for key, patient in (("a1", "Patient/a"), ("b1", "Patient/b"), ("a2", "Patient/a"), ("b2", "Patient/b")):
        outbox.enqueue(user=USER, patient=patient, idempotency_key=key, bundle=bundle(key, patient))
    report = replay(outbox, client())
    assert report.complete and len(report.sent) == 4
    assert sent_keys(rsps) == ["a1", "a2", "b1", "b2"]
    assert outbox.pending_for("Patient/a") == [] and outbox.patients_pending() == []
    assert outbox.get(report.sent[0]).state is OutboxState.SENT  # type: ignore[union-attr]


def test_replay_stops_at_the_first_outage(rsps: responses.RequestsMock, outbox: SqliteOutbox) -> None:
    rsps.post(BASE, status=503)
    for key in ("k1", "k2"):
        outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key=key, bundle=bundle(key))
    outbox.enqueue(user=USER, patient="Patient/p2", idempotency_key="k3", bundle=bundle("k3", "Patient/p2"))
    report = replay(outbox, client())
    assert report.stopped is not None and report.stopped.startswith("outage")
    assert sent_keys(rsps) == ["k1", "k1"]  # one entry, retried once by the client, then stop
    first, second = outbox.pending_for("Patient/p1")
    assert first.attempts == 1 and "503" in (first.last_error or "") and second.attempts == 0
    assert len(outbox.pending_for("Patient/p2")) == 1


def test_permanent_refusal_is_kept_visible_and_the_queue_moves_on(
    rsps: responses.RequestsMock, outbox: SqliteOutbox
) -> None:
    rsps.post(BASE, status=422, json={"resourceType": "OperationOutcome", "issue": [{"code": "business-rule"}]})
    rsps.add_callback("POST", BASE, callback=ok_answer)
    bad_bundle = bundle("bad")
    bad = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="bad", bundle=bad_bundle)
    outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="good", bundle=bundle("good"))
    report = replay(outbox, client())
    assert report.failed == [bad.id] and len(report.sent) == 1
    failed = outbox.failed_for("Patient/p1")
    assert [e.id for e in failed] == [bad.id] and failed[0].state is OutboxState.FAILED
    assert failed[0].bundle == bad_bundle  # the user's input is kept as it was
    assert "422" in (failed[0].last_error or "")
    outbox.requeue(bad.id)
    assert [e.id for e in outbox.pending_for("Patient/p1")] == [bad.id]


def test_replay_is_idempotent_when_the_first_attempt_reached_the_server(
    rsps: responses.RequestsMock, outbox: SqliteOutbox
) -> None:
    rsps.post(BASE, status=412)
    prov = {"resourceType": "Provenance", "id": "pv", "target": [{"reference": "Goal/7"}]}
    rsps.get(f"{BASE}/Provenance", json={"resourceType": "Bundle", "entry": [{"resource": prov}]})
    entry = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    report = replay(outbox, client())
    assert report.sent == [entry.id] and report.results[entry.id].already_applied
    assert report.results[entry.id].written[0].reference == "Goal/7"


def test_a_conflict_nobody_can_resolve_is_failed_not_dropped(
    rsps: responses.RequestsMock, outbox: SqliteOutbox
) -> None:
    rsps.post(BASE, status=412)
    rsps.get(f"{BASE}/Provenance", json={"resourceType": "Bundle", "type": "searchset"})
    entry = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    report = replay(outbox, client())
    assert report.failed == [entry.id]
    assert (outbox.get(entry.id).last_error or "").startswith("conflict")  # type: ignore[union-attr]


def test_unauthorized_stops_replay_and_keeps_the_entry(rsps: responses.RequestsMock, outbox: SqliteOutbox) -> None:
    rsps.post(BASE, status=401)
    outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    report = replay(outbox, client())
    assert report.stopped is not None and report.stopped.startswith("unauthorized")
    assert len(outbox.pending_for("Patient/p1")) == 1


def test_a_leased_patient_is_not_replayed_twice(outbox: SqliteOutbox) -> None:
    outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    first = outbox.claim_next("Patient/p1", owner="one", lease_seconds=60)
    assert first is not None
    assert outbox.claim_next("Patient/p1", owner="two", lease_seconds=60) is None
    outbox.release(first.id, "outage")
    assert outbox.claim_next("Patient/p1", owner="two", lease_seconds=60) is not None


def test_concurrent_enqueues_from_threads_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            box = SqliteOutbox(path)
            for i in range(10):
                box.enqueue(user=USER, patient="Patient/p1", idempotency_key=f"t{n}-{i}", bundle={"n": n, "i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(SqliteOutbox(path).pending_for("Patient/p1")) == 40


def test_save_or_enqueue_saves_directly_when_the_server_answers(
    rsps: responses.RequestsMock, outbox: SqliteOutbox
) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    outcome = save_or_enqueue(client(), outbox, bundle("k1"), user=USER, patient="Patient/p1")
    assert outcome.saved and outcome.queued is None


def test_save_or_enqueue_parks_on_outage(rsps: responses.RequestsMock, outbox: SqliteOutbox) -> None:
    rsps.post(BASE, status=503)
    sent = bundle("k1")
    outcome = save_or_enqueue(client(), outbox, sent, user=USER, patient="Patient/p1")
    assert not outcome.saved and outcome.queued is not None
    # Both attempts sent the Bundle as given; the very same Bundle (same urn:uuids) is parked under its key.
    attempts = [json.loads(c.request.body or b"{}") for c in rsps.calls]
    assert len(attempts) == 2 and all(a == sent for a in attempts)
    parked = outcome.queued
    assert parked.idempotency_key == "k1" and parked.bundle == sent
    assert parked.state is OutboxState.PENDING and parked.user == USER and parked.patient == "Patient/p1"
    assert parked.last_error is not None and "503" in parked.last_error
    stored = outbox.get(parked.id)
    assert stored is not None and stored.bundle == sent
    assert [e.idempotency_key for e in outbox.pending_for("Patient/p1")] == ["k1"]


def test_save_or_enqueue_replays_earlier_saves_first(rsps: responses.RequestsMock, outbox: SqliteOutbox) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="old", bundle=bundle("old"))
    outcome = save_or_enqueue(client(), outbox, bundle("new"), user=USER, patient="Patient/p1")
    assert outcome.saved and sent_keys(rsps) == ["old", "new"]


def test_save_or_enqueue_queues_behind_earlier_saves_while_the_server_is_down(
    rsps: responses.RequestsMock, outbox: SqliteOutbox
) -> None:
    rsps.post(BASE, status=503)
    outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="old", bundle=bundle("old"))
    outcome = save_or_enqueue(client(), outbox, bundle("new"), user=USER, patient="Patient/p1")
    assert outcome.queued is not None
    assert sent_keys(rsps) == ["old", "old"]  # the new one was not sent ahead of the old one
    assert [e.idempotency_key for e in outbox.pending_for("Patient/p1")] == ["old", "new"]


# ---------------------------------------------------------------- worker


def test_worker_needs_outbox_base_and_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESOURCEGROEP_FHIR_TOKEN", raising=False)
    monkeypatch.delenv("RESOURCEGROEP_TOKEN_PROVIDER", raising=False)
    assert main(["--fhir-base", BASE]) == EX_USAGE
    assert main(["--outbox", str(tmp_path / "o.sqlite"), "--fhir-base", BASE]) == EX_USAGE
    assert main(["--outbox", str(tmp_path / "o.sqlite"), "--fhir-base", BASE, "--token-provider", "nope"]) == EX_USAGE


@pytest.mark.parametrize("device", ["rg-app", "https://ehr.test/fhir/Device/rg", "Device/", "Practitioner/x"])
def test_worker_refuses_a_device_that_is_no_device_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], device: str
) -> None:
    """The Provenance and the access records name the app by it: a usage error, not records that cannot be made."""
    monkeypatch.setenv("RESOURCEGROEP_FHIR_TOKEN", "t")
    assert main(["--outbox", str(tmp_path / "o.sqlite"), "--fhir-base", BASE, "--device", device]) == EX_USAGE
    assert "--device must be a Device reference" in capsys.readouterr().err


def test_worker_replays_with_the_env_token(
    rsps: responses.RequestsMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    path = tmp_path / "o.sqlite"
    SqliteOutbox(path).enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    monkeypatch.setenv("RESOURCEGROEP_FHIR_TOKEN", "env-secret")
    assert main(["--outbox", str(path), "--fhir-base", BASE]) == EX_OK
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer env-secret"
    out = capsys.readouterr().out
    assert "1 sent" in out and "env-secret" not in out
    assert SqliteOutbox(path).pending_for("Patient/p1") == []


def test_worker_exit_codes_for_outage_and_failure(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = SqliteOutbox(path)
    box.enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    rsps.post(BASE, status=503)
    assert main(["--outbox", str(path), "--fhir-base", BASE, "--no-token", "--read-timeout", "1"]) == EX_TEMPFAIL
    rsps.replace("POST", BASE, status=400, json={"resourceType": "OperationOutcome", "issue": []})
    assert main(["--outbox", str(path), "--fhir-base", BASE, "--no-token"]) == EX_FAILED
    assert len(box.failed_for("Patient/p1")) == 1


def replay_records(tmp_path: Path) -> list[tuple[str, str, str, str, tuple[str, ...], str]]:
    """The worker's access records in the default audit log beside the outbox, oldest first."""
    log = AccessLog(tmp_path / "audit" / "audit.jsonl")
    return [(r.app_action, r.outcome.name, r.user, r.patient, r.entities, r.client_id) for r in reversed(log.records())]


def test_worker_records_every_save_it_sends_or_that_is_refused_and_none_that_waits(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    path = tmp_path / "o.sqlite"
    box = SqliteOutbox(path)
    box.enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    args = ["--outbox", str(path), "--fhir-base", BASE, "--no-token", "--client-id", "rg-backend"]
    rsps.post(BASE, status=503)
    assert main([*args, "--read-timeout", "1"]) == EX_TEMPFAIL
    assert replay_records(tmp_path) == []  # still waiting: nothing reached the EHR yet

    rsps.remove("POST", BASE)
    rsps.add_callback("POST", BASE, callback=ok_answer)
    assert main(args) == EX_OK
    sent = ("replay_save", "SUCCESS", USER, "Patient/p1", ("Goal/1", "Provenance/1"), "rg-backend")
    assert replay_records(tmp_path) == [sent]

    box.enqueue(user="Practitioner/u2", patient="Patient/p2", idempotency_key="k2", bundle=bundle("k2", "Patient/p2"))
    rsps.remove("POST", BASE)
    rsps.post(BASE, status=400, json={"resourceType": "OperationOutcome", "issue": []})
    assert main(args) == EX_FAILED
    refused = ("replay_save", "REFUSED", "Practitioner/u2", "Patient/p2", (), "rg-backend")
    assert replay_records(tmp_path) == [sent, refused]


def test_worker_writes_to_the_configured_audit_log_and_does_not_start_without_one(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    path = tmp_path / "o.sqlite"
    SqliteOutbox(path).enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the log's folder should be")
    args = ["--outbox", str(path), "--fhir-base", BASE, "--no-token"]
    assert main([*args, "--audit-log", str(blocked / "audit.jsonl")]) == EX_USAGE
    assert len(rsps.calls) == 0 and len(SqliteOutbox(path).pending_for("Patient/p1")) == 1

    own = tmp_path / "elsewhere" / "trail.jsonl"
    assert main([*args, "--audit-log", str(own)]) == EX_OK
    assert [r.app_action for r in AccessLog(own).records()] == ["replay_save"]
    assert not (tmp_path / "audit" / "audit.jsonl").exists()


def make_provider() -> object:
    """Factory for --token-provider in the test below."""

    class Provider:
        def __call__(self) -> str:
            return "factory-token"

        def refresh(self) -> str:
            return "factory-token"

    return Provider()


def test_worker_loads_a_token_provider_factory(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    path = tmp_path / "o.sqlite"
    SqliteOutbox(path).enqueue(user=USER, patient="Patient/p1", idempotency_key="k1", bundle=bundle("k1"))
    spec = f"{__name__}:make_provider"
    assert main(["--outbox", str(path), "--fhir-base", BASE, "--token-provider", spec, "--patient", "Patient/p1"]) == 0
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer factory-token"


def test_open_for_reads_the_waiting_and_the_refused_saves_of_one_patient_at_once(
    rsps: responses.RequestsMock, outbox: SqliteOutbox
) -> None:
    check_open_for(rsps, outbox)


def check_open_for(rsps: responses.RequestsMock, outbox: Outbox) -> None:
    """`open_for` of any outbox: the patient's pending and failed entries, oldest first, as `pending_for` and
    `failed_for` give them; a let-lapse entry and another patient's are not among them."""
    rsps.post(BASE, status=422, json={"resourceType": "OperationOutcome", "issue": [{"code": "business-rule"}]})
    refused = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="r1", bundle=bundle("r1"))
    lapsed = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="r2", bundle=bundle("r2"))
    replay(outbox, client())  # both refused
    outbox.discard(lapsed.id, by=USER)
    first = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="w1", bundle=bundle("w1"))
    second = outbox.enqueue(user=USER, patient="Patient/p1", idempotency_key="w2", bundle=bundle("w2"))
    outbox.enqueue(user=USER, patient="Patient/p2", idempotency_key="o1", bundle=bundle("o1", "Patient/p2"))
    waiting, failed = outbox.open_for("Patient/p1")
    assert [e.id for e in waiting] == [first.id, second.id] == [e.id for e in outbox.pending_for("Patient/p1")]
    assert [e.id for e in failed] == [refused.id] == [e.id for e in outbox.failed_for("Patient/p1")]
    assert outbox.open_for("Patient/p3") == ([], [])
