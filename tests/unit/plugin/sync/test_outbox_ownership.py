"""Outbox ownership (a page replays only its viewer's own saves), the worker's Provenance agent and loop mode,
retry/let-lapse state with audit on the entry, and the persistent default path."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from plugin.app import open_outbox
from plugin.config import AppConfig, config_from_mapping
from plugin.sync.client import FhirClient, RetryPolicy
from plugin.sync.outbox import OutboxState, ReplayAgent, SqliteOutbox, replay, save_or_enqueue
from plugin.sync.transaction import ChangeSet
from plugin.sync.worker import EX_OK, main, run_loop
from smart_launch import ConfigurationError

BASE = "https://ehr.test/fhir/R4"
IDS = "https://resourcegroep.test/id"
TAGS = "https://resourcegroep.test/idempotency"
ACTIVITY = {"system": "https://resourcegroep.test/activiteit", "code": "x"}
ANNA = "Practitioner/anna"
BRAM = "Practitioner/bram"
P1 = "Patient/p1"
PROV_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def bundle(key: str, author: str) -> dict[str, Any]:
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS, idempotency_key=key)
    cs.create({"resourceType": "Goal", "identifier": [{"system": IDS, "value": f"goal-{key}"}]})
    return cs.to_bundle(agent=author, activity=ACTIVITY)


def park(box: SqliteOutbox, key: str, author: str) -> int:
    return box.enqueue(user=author, patient=P1, idempotency_key=key, bundle=bundle(key, author), error="503").id


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


def sent(rsps: responses.RequestsMock) -> list[dict[str, Any]]:
    """The Provenances of the transactions sent, in order."""
    out = []
    for call in rsps.calls:
        if call.request.method == "POST" and call.request.url.rstrip("/") == BASE:
            out.append(json.loads(call.request.body)["entry"][-1]["resource"])
    return out


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture
def box(tmp_path: Path) -> SqliteOutbox:
    return SqliteOutbox(tmp_path / "outbox.sqlite3")


def client() -> FhirClient:
    return FhirClient(BASE, retry=RetryPolicy(max_attempts=1), sleep=lambda _s: None)


# ---------------------------------------------------------------- ownership


def test_a_replay_for_a_user_sends_only_their_own_and_keeps_the_order(
    rsps: responses.RequestsMock, box: SqliteOutbox
) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    mine = park(box, "a1", ANNA)
    theirs = park(box, "b1", BRAM)
    mine_later = park(box, "a2", ANNA)

    report = replay(box, client(), patient=P1, user=ANNA)
    # Anna's first save goes; Bram's waits for Bram (or the worker); Anna's later one waits behind it.
    assert report.sent == [mine] and report.failed == []
    assert report.held == [theirs]
    assert [e.id for e in box.pending_for(P1)] == [theirs, mine_later]
    assert [p["agent"][0]["who"]["reference"] for p in sent(rsps)] == [ANNA]

    # Bram opens the page: his save goes with his token, then Anna's waits for Anna again.
    report = replay(box, client(), patient=P1, user=BRAM)
    assert report.sent == [theirs] and [e.id for e in box.pending_for(P1)] == [mine_later]
    assert replay(box, client(), patient=P1, user=ANNA).sent == [mine_later]
    assert box.pending_for(P1) == [] and box.failed_for(P1) == []


def test_another_users_token_that_may_not_write_never_fails_a_save(
    rsps: responses.RequestsMock, box: SqliteOutbox
) -> None:
    theirs = park(box, "b1", BRAM)
    rsps.post(BASE, status=403, json={"resourceType": "OperationOutcome", "issue": [{"diagnostics": "no write"}]})
    # Even a replay without ownership (a token that may not write) leaves the entry waiting: 403 is the token.
    report = replay(box, client(), patient=P1)
    assert report.stopped is not None and report.stopped.startswith("forbidden")
    assert [e.id for e in box.pending_for(P1)] == [theirs] and box.failed_for(P1) == []
    # A user replaying their own saves never sends Bram's at all.
    rsps.calls.reset()
    assert replay(box, client(), patient=P1, user=ANNA).held == [theirs]
    assert len(rsps.calls) == 0


def test_a_new_save_queues_behind_another_authors_waiting_save(rsps: responses.RequestsMock, box: SqliteOutbox) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    theirs = park(box, "b1", BRAM)
    outcome = save_or_enqueue(client(), box, bundle("a1", ANNA), user=ANNA, patient=P1)
    assert not outcome.saved and outcome.queued is not None
    assert [e.id for e in box.pending_for(P1)] == [theirs, outcome.queued.id]
    assert len(rsps.calls) == 0  # nothing was sent with Anna's token


# ---------------------------------------------------------------- the worker names the app


def test_the_worker_keeps_the_author_and_adds_the_app_as_assembler(
    rsps: responses.RequestsMock, box: SqliteOutbox
) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    park(box, "a1", ANNA)
    park(box, "b1", BRAM)
    report = replay(box, client(), replayed_by=ReplayAgent(client_id="rg-backend"))
    assert len(report.sent) == 2
    for prov, author in zip(sent(rsps), (ANNA, BRAM), strict=True):
        first, second = prov["agent"]
        assert first["who"]["reference"] == author
        assert first["type"]["coding"][0]["code"] == "author"
        assert second["type"]["coding"][0] == {"system": PROV_TYPE, "code": "assembler", "display": "Assembler"}
        assert second["who"]["type"] == "Device"
        assert second["who"]["identifier"] == {"system": "urn:resourcegroep:client-id", "value": "rg-backend"}
    # The stored entry is unchanged (a later replay adds the agent once, not twice).
    assert all(len(e.bundle["entry"][-1]["resource"]["agent"]) == 1 for e in [box.get(1), box.get(2)] if e)


def test_the_worker_agent_can_be_a_device_reference() -> None:
    agent = ReplayAgent(client_id="x", device="Device/resourcegroep").agent()
    assert agent["who"] == {"reference": "Device/resourcegroep", "display": "Resourcegroep (outbox worker)"}


def test_worker_loop_runs_n_rounds_and_stops(
    rsps: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    path = tmp_path / "o.sqlite3"
    park(SqliteOutbox(path), "a1", ANNA)
    argv = ["--outbox", str(path), "--fhir-base", BASE, "--no-token", "--client-id", "rg"]
    assert main([*argv, "--every", "0.01", "--rounds", "3"]) == EX_OK
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("outbox replay")]
    assert len(lines) == 3
    assert lines[0].startswith("outbox replay: 1 sent") and lines[1].startswith("outbox replay: 0 sent")
    assert SqliteOutbox(path).pending_for(P1) == []
    assert sent(rsps)[0]["agent"][1]["who"]["identifier"]["value"] == "rg"


def test_worker_loop_stops_gracefully_when_told(tmp_path: Path) -> None:
    stop = threading.Event()
    rounds: list[int] = []

    def one_round() -> int:
        rounds.append(1)
        if len(rounds) == 4:
            stop.set()  # as SIGTERM would, in the middle of a round: this round still ends normally
        return EX_OK

    assert run_loop(one_round, 0.001, stop=stop) == (4, EX_OK)
    assert run_loop(one_round, 0.001, stop=stop) == (0, EX_OK)  # already stopped: no round at all
    path = tmp_path / "o.sqlite3"
    argv = ["--outbox", str(path), "--fhir-base", BASE, "--no-token", "--every", "0.01"]
    assert main(argv, stop=stop) == EX_OK
    assert main([*argv[:-2], "--every", "0"]) == 2


# ---------------------------------------------------------------- retry and let lapse, audited on the entry


def test_retry_and_discard_are_recorded_on_the_entry(box: SqliteOutbox) -> None:
    first, second = park(box, "a1", ANNA), park(box, "a2", ANNA)
    for entry_id in (first, second):
        assert box.claim_next(P1, owner="t", lease_seconds=1) is not None
        box.mark_failed(entry_id, "HTTP 422: invalid")
    box.requeue(first, by=BRAM)
    box.discard(second, by=ANNA)
    retried, lapsed = box.get(first), box.get(second)
    assert retried is not None and lapsed is not None
    assert retried.state is OutboxState.PENDING
    assert [(e.action, e.by) for e in retried.history] == [("retry", BRAM)]
    assert lapsed.state is OutboxState.DISCARDED and lapsed.idempotency_key == "a2" and lapsed.bundle["entry"]
    assert [(e.action, e.by) for e in lapsed.history] == [("discard", ANNA)]
    assert [e.id for e in box.discarded_for(P1)] == [second]
    assert box.failed_for(P1) == []
    with pytest.raises(ValueError, match="not failed"):
        box.discard(first, by=ANNA)  # only a refused save can lapse
    with pytest.raises(KeyError):
        box.requeue(999, by=ANNA)


# ---------------------------------------------------------------- the persistent default path


def test_default_outbox_lives_beside_the_session_store(tmp_path: Path) -> None:
    mapping = {"app": {"public_base_url": "https://app.test", "secret_key": "s" * 40, "session_db": "db/s.sqlite3"}}
    config = config_from_mapping(mapping, env={}, base_dir=tmp_path)
    assert config.outbox_db == str(tmp_path / "db" / "outbox.sqlite3")
    without = config_from_mapping({"app": {k: v for k, v in mapping["app"].items() if k != "session_db"}}, {}, tmp_path)
    assert without.outbox_db == str(tmp_path / "var" / "outbox.sqlite3")
    direct = AppConfig(public_base_url="https://app.test", secret_key="s" * 40, session_db=str(tmp_path / "s.db"))
    assert direct.outbox_db == str(tmp_path / "outbox.sqlite3")
    chosen = config_from_mapping({"app": {**mapping["app"], "outbox_db": "/srv/o.sqlite3"}}, {}, tmp_path)
    assert chosen.outbox_db == "/srv/o.sqlite3"


def test_an_outbox_that_cannot_be_written_stops_the_start(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(ConfigurationError, match="cannot be written"):
        open_outbox(str(blocker / "outbox.sqlite3"))
    fresh = open_outbox(str(tmp_path / "new" / "deeper" / "outbox.sqlite3"))  # folders made when missing
    assert fresh.path.exists()


def test_worker_finds_the_apps_outbox_through_its_configuration(
    rsps: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rsps.add_callback("POST", BASE, callback=ok_answer)
    toml = tmp_path / "resourcegroep.toml"
    toml.write_text(
        '[app]\npublic_base_url = "https://app.test"\nsecret_key = "' + "s" * 40 + '"\n'
        'session_db = "data/sessions.sqlite3"\n'
    )
    park(SqliteOutbox(tmp_path / "data" / "outbox.sqlite3"), "a1", ANNA)  # where the app keeps it by default
    assert main(["--config", str(toml), "--fhir-base", BASE, "--no-token", "--client-id", "rg"]) == EX_OK
    assert "1 sent" in capsys.readouterr().out
    assert SqliteOutbox(tmp_path / "data" / "outbox.sqlite3").pending_for(P1) == []
