"""The audit trail: the local JSON-lines log (append-only, 0600, rotated) and batched shipment to FHIR."""

from __future__ import annotations

import json
import stat
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import responses

from fhir_mappings.audit import AccessRecord, AuditAction, AuditOutcome
from plugin.audit.trail import AccessLog, AuditTrail, action_for, ship_to_fhir

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def rec(n: int = 0, patient: str = "Patient/p1") -> AccessRecord:
    return AccessRecord(
        id=str(uuid.uuid4()),
        recorded=T0 + timedelta(seconds=n),
        action=AuditAction.READ,
        app_action="view_goals",
        outcome=AuditOutcome.SUCCESS,
        user="Practitioner/anna",
        role="regieondersteuner",
        patient=patient,
        entities=("CareTeam/t1",),
    )


def test_the_local_log_is_created_private_and_only_appended_to(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "audit" / "audit.jsonl")
    first, second = rec(1), rec(2)
    log.append([first])
    log.append([second])
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert [line["id"] for line in lines] == [first.id, second.id]  # the first line is still there, unchanged
    assert log.records() == [second, first]  # newest first


def test_the_log_rotates_by_size_and_keeps_the_configured_number_of_files(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "audit.jsonl", max_bytes=2048, backups=2)
    records = [rec(n) for n in range(40)]
    for r in records:
        log.append([r])
    files = log.files()
    assert [f.name for f in files] == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    assert all(f.stat().st_size <= 2048 for f in files)
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    kept = log.records()
    assert kept == sorted(kept, key=lambda r: r.recorded, reverse=True)
    assert kept[0] == records[-1] and len(kept) < len(records)  # the oldest file fell off


def test_many_threads_appending_lose_no_line_and_mix_none(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "audit.jsonl", max_bytes=64 * 1024, backups=50)
    written: list[AccessRecord] = []
    lock = threading.Lock()

    def work() -> None:
        for n in range(50):
            r = rec(n)
            log.append([r])
            with lock:
                written.append(r)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.id for r in log.records()} == {r.id for r in written}  # every line parses: none torn or mixed


def test_records_of_one_patient_and_a_limit(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "audit.jsonl")
    log.append([rec(n, "Patient/p1" if n % 2 else "Patient/p2") for n in range(10)])
    mine = log.records("Patient/p1")
    assert len(mine) == 5 and {r.patient for r in mine} == {"Patient/p1"}
    assert log.records("Patient/p1", limit=2) == mine[:2]


class FakeShipper:
    def __init__(self, answer: Sequence[bool] | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, list[AccessRecord]]] = []

    def __call__(self, base: str, token: str, records: Sequence[AccessRecord]) -> list[bool]:
        self.calls.append((base, token, list(records)))
        if isinstance(self.answer, Exception):
            raise self.answer
        return list(self.answer)[: len(records)]


def test_records_for_the_fhir_server_are_sent_there_and_what_it_refuses_goes_to_the_log(tmp_path: Path) -> None:
    shipper = FakeShipper([True, False, True])
    trail = AuditTrail(AccessLog(tmp_path / "a.jsonl"), shipper=shipper, interval=3600)
    a, b, c, local = rec(1), rec(2), rec(3), rec(4)
    trail.record([a, b, c], fhir_base="https://ehr/fhir", token="tok")
    trail.record([local])  # no server for this one
    assert trail.pending() == [a, b, c, local]  # nothing written during the request
    trail.flush()
    assert shipper.calls == [("https://ehr/fhir", "tok", [a, b, c])]
    assert {r.id for r in trail.log.records()} == {b.id, local.id}
    assert (trail.shipped, trail.logged, trail.pending()) == (2, 2, [])
    trail.close()


def test_an_outage_or_a_bug_in_the_shipment_loses_no_record(tmp_path: Path) -> None:
    trail = AuditTrail(AccessLog(tmp_path / "a.jsonl"), shipper=FakeShipper(RuntimeError("boom")), interval=3600)
    records = [rec(n) for n in range(3)]
    trail.record(records, fhir_base="https://ehr/fhir", token="tok")
    trail.flush()
    assert {r.id for r in trail.log.records()} == {r.id for r in records}
    trail.close()


def test_a_full_batch_is_written_by_the_background_flusher_without_a_call_to_flush(tmp_path: Path) -> None:
    trail = AuditTrail(AccessLog(tmp_path / "a.jsonl"), interval=3600, batch_size=3)
    trail.record([rec(n) for n in range(3)])
    for _ in range(200):
        if len(trail.log.records()) == 3:
            break
        threading.Event().wait(0.02)
    assert len(trail.log.records()) == 3 and trail.pending() == []
    trail.close()


@responses.activate
def test_the_fhir_shipper_sends_one_batch_of_audit_event_creates_and_reads_each_entry_status() -> None:
    responses.post(
        "https://ehr.example/fhir",
        json={
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [{"response": {"status": "201 Created"}}, {"response": {"status": "403 Forbidden"}}],
        },
    )
    taken = ship_to_fhir({})("https://ehr.example/fhir", "secret-token", [rec(1), rec(2)])
    assert taken == [True, False]
    sent = json.loads(responses.calls[0].request.body or "{}")
    assert sent["type"] == "batch" and [e["request"] for e in sent["entry"]] == [
        {"method": "POST", "url": "AuditEvent"},
        {"method": "POST", "url": "AuditEvent"},
    ]
    assert all(e["resource"]["resourceType"] == "AuditEvent" for e in sent["entry"])
    assert responses.calls[0].request.headers["Authorization"] == "Bearer secret-token"
    body = responses.calls[0].request.body
    assert "secret-token" not in (body.decode() if isinstance(body, bytes) else str(body))  # never in the record


def test_pages_are_reads_a_start_creates_and_other_actions_update() -> None:
    assert action_for("view_goals") is AuditAction.READ
    assert action_for("start_group") is AuditAction.CREATE
    assert action_for("add_goal") is AuditAction.UPDATE
    # A form's page, shown (GET): named after its save's action, but a read.
    assert action_for("add_goal", "GET") is AuditAction.READ and action_for("start_group", "HEAD") is AuditAction.READ
