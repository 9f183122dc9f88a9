"""Every parked save names the FHIR server it belongs to, and a replay sends it only there."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from plugin.sync.client import FhirClient, RetryPolicy
from plugin.sync.errors import ServerUnavailable
from plugin.sync.outbox import OutboxState, SqliteOutbox, replay, save_or_enqueue

EPD = "https://epd.example.nl/fhir"
KT = "https://kt.example.nl/fhir"
USER = "Practitioner/anna"


def bundle(note: str) -> dict[str, Any]:
    resource = {"resourceType": "Communication", "status": "completed", "payload": [{"contentString": note}]}
    entry = {"fullUrl": "urn:uuid:1", "resource": resource, "request": {"method": "POST", "url": "Communication"}}
    return {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}


def client(base: str) -> FhirClient:
    return FhirClient(base, retry=RetryPolicy(max_attempts=1), sleep=lambda _s: None)


def created(_request: Any) -> tuple[int, dict[str, str], str]:
    answer = {"resourceType": "Bundle", "type": "transaction-response", "entry": [{"response": {"status": "201"}}]}
    return 200, {}, json.dumps(answer)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_a_save_that_cannot_reach_its_server_is_parked_with_that_server(tmp_path: Path) -> None:
    outbox = SqliteOutbox(tmp_path / "o.sqlite3")

    def unreachable() -> Any:
        raise ServerUnavailable("connection refused")

    outcome = save_or_enqueue(client(KT + "/"), outbox, bundle("x"), user=USER, patient="p1", send=unreachable)

    assert outcome.queued is not None and outcome.queued.server == KT
    assert outbox.pending_for("p1")[0].server == KT


def test_a_replay_sends_only_its_own_servers_entries(tmp_path: Path, rsps: responses.RequestsMock) -> None:
    outbox = SqliteOutbox(tmp_path / "o.sqlite3")
    old = outbox.enqueue(user=USER, patient="p1", idempotency_key="old", bundle=bundle("old"), server=None)
    mine = outbox.enqueue(user=USER, patient="p1", idempotency_key="mine", bundle=bundle("mine"), server=EPD)
    theirs = outbox.enqueue(user=USER, patient="p1", idempotency_key="theirs", bundle=bundle("theirs"), server=KT)
    rsps.add_callback(responses.POST, EPD, callback=created)

    report = replay(outbox, client(EPD))

    assert report.sent == [old.id, mine.id]  # an entry of no recorded server goes with the given client
    assert report.held == [theirs.id] and report.stopped is None
    waiting = outbox.get(theirs.id)
    assert waiting is not None and waiting.state is OutboxState.PENDING and waiting.attempts == 0
    assert all(str(c.request.url).startswith(EPD) for c in rsps.calls)


def test_client_for_picks_the_client_per_entry(tmp_path: Path, rsps: responses.RequestsMock) -> None:
    outbox = SqliteOutbox(tmp_path / "o.sqlite3")
    outbox.enqueue(user=USER, patient="p1", idempotency_key="a", bundle=bundle("a"), server=EPD)
    outbox.enqueue(user=USER, patient="p1", idempotency_key="b", bundle=bundle("b"), server=KT)
    rsps.add_callback(responses.POST, EPD, callback=created)
    rsps.add_callback(responses.POST, KT, callback=created)
    clients = {EPD: client(EPD), KT: client(KT)}

    report = replay(outbox, clients[EPD], client_for=lambda e: clients.get(e.server or ""))

    assert len(report.sent) == 2
    assert [str(c.request.url).rstrip("/") for c in rsps.calls] == [EPD, KT]


def test_an_outbox_file_of_an_earlier_version_gets_the_server_column(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, updated TEXT NOT NULL,"
            " user TEXT NOT NULL, patient TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE, bundle TEXT NOT NULL,"
            " attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, state TEXT NOT NULL, lease_until REAL NOT NULL"
            " DEFAULT 0, lease_owner TEXT, bases TEXT, history TEXT)"
        )
        conn.execute(
            "INSERT INTO outbox (created, updated, user, patient, idempotency_key, bundle, state) VALUES"
            " ('2026-11-30T10:00:00+00:00', '2026-11-30T10:00:00+00:00', ?, 'p1', 'k', '{}', 'pending')",
            (USER,),
        )
    outbox = SqliteOutbox(path)
    assert outbox.pending_for("p1")[0].server is None
    entry = outbox.enqueue(user=USER, patient="p1", idempotency_key="new", bundle=bundle("n"), server=KT)
    assert entry.server == KT
