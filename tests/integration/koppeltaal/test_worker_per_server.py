"""The worker replays every waiting save at its own server, with that server's Backend Services client: a save of
the Koppeltaal domain with the domain's client (its client id, key and Device), a save of the plain EPD with
[backend]. Two sandboxes over real HTTP; each records the bearer tokens of its FHIR requests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify

from plugin.sync.outbox import OutboxEntry, SqliteOutbox
from plugin.sync.worker import main
from sandbox.app import Sandbox, SandboxSettings, create_sandbox
from sandbox.demo import RunningServer, write_private_key
from smart_launch import SigningKey, public_jwks
from tests.support.servers import free_port, wait_http

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
PATIENT = "sanne-bakker"


@dataclass
class Seen:
    """Bearer tokens of the FHIR requests one sandbox received."""

    tokens: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, wsgi: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def recording(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = str(environ.get("PATH_INFO", ""))
            if path.startswith("/fhir") and "/.well-known/" not in path and path != "/fhir/metadata":
                auth = str(environ.get("HTTP_AUTHORIZATION", ""))
                with self.lock:
                    self.tokens.append(auth[7:] if auth.startswith("Bearer ") else None)
            return wsgi(environ, start_response)

        return recording


@dataclass
class Server:
    sandbox: Sandbox
    seen: Seen

    @property
    def fhir(self) -> str:
        return self.sandbox.settings.fhir_base_url


def _bundle(note: str, provenance: bool = True) -> dict[str, Any]:
    """A save as the app parks it: a Communication about the patient and its Provenance."""
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": "urn:uuid:6f1c9a36-1d8e-4a57-9b8e-0d2f3c4b5a61",
            "resource": {
                "resourceType": "Communication",
                "status": "completed",
                "subject": {"reference": f"Patient/{PATIENT}"},
                "payload": [{"contentString": note}],
            },
            "request": {"method": "POST", "url": "Communication"},
        }
    ]
    if provenance:
        entries.append(
            {
                "fullUrl": "urn:uuid:0b5e7d2c-3f4a-4e1b-8c9d-7a6b5c4d3e21",
                "resource": {
                    "resourceType": "Provenance",
                    "target": [{"reference": "urn:uuid:6f1c9a36-1d8e-4a57-9b8e-0d2f3c4b5a61"}],
                    "recorded": "2026-12-01T08:00:00+01:00",
                    "agent": [{"who": {"reference": "Practitioner/anna-de-vries"}}],
                },
                "request": {"method": "POST", "url": "Provenance"},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _notes(server: Server) -> list[str]:
    store = server.sandbox.store
    assert store is not None
    found = store.search("Communication", [("subject", f"Patient/{PATIENT}")]).matches
    return [str(p.get("contentString")) for c in found for p in c.get("payload") or []]


def _replay_agents(server: Server) -> list[dict[str, Any]]:
    store = server.sandbox.store
    assert store is not None
    return [a["who"] for p in store.search("Provenance", []).matches for a in p["agent"][1:]]


def _client_ids(server: Server) -> set[str]:
    ids = set()
    with server.seen.lock:
        tokens = list(server.seen.tokens)
    for token in tokens:
        assert token is not None
        grant = server.sandbox.auth.verify_token(token)
        assert grant is not None and grant.extra.get("grant_type") == "client_credentials"
        ids.add(str(grant.client_id))
    return ids


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[Server, Server, Path]]:
    """A plain sandbox EPD (client `rg-epd`) and a Koppeltaal-mode sandbox (client `rg-kt`), each knowing the
    app's keys at one JWKS URL; the app's TOML with [backend] for the first and [[koppeltaal]] for the second."""
    keys_port = free_port()
    jwks_base = f"http://{HOST}:{keys_port}"
    write_private_key(tmp_path / "epd.pem")
    write_private_key(tmp_path / "kt.pem")
    keys = [SigningKey.from_file(tmp_path / name, "RS384") for name in ("epd.pem", "kt.pem")]
    jwks_app = Flask("app-keys")
    jwks_app.add_url_rule("/.well-known/jwks.json", "jwks", lambda: jsonify(public_jwks(keys)))
    servers: list[Server] = []
    with ExitStack() as stack:
        running = RunningServer(jwks_app, HOST, keys_port, "app-keys")
        stack.callback(running.stop)
        for client_id, koppeltaal in (("rg-epd", False), ("rg-kt", True)):
            port = free_port()
            settings = SandboxSettings(
                base_url=f"http://{HOST}:{port}", app_base_url=jwks_base, client_id=client_id, koppeltaal=koppeltaal
            )
            sandbox = create_sandbox(settings)
            stack.callback(sandbox.close)
            sandbox.seed_demo_data()
            seen = Seen()
            sandbox.app.wsgi_app = seen.wrap(sandbox.app.wsgi_app)  # type: ignore[method-assign]
            server = RunningServer(sandbox.app, HOST, port, f"sandbox-{client_id}")
            stack.callback(server.stop)
            wait_http(f"{settings.fhir_base_url}/metadata", timeout=20)
            servers.append(Server(sandbox, seen))
        epd, kt = servers
        config = tmp_path / "app.toml"
        config.write_text(
            "[app]\n"
            f'public_base_url = "{jwks_base}"\n'
            f'secret_key = "test-secret-{"x" * 40}"\n'
            'outbox_db = "outbox.sqlite3"\n'
            "\n[backend]\n"
            f'iss = "{epd.fhir}"\n'
            'client_id = "rg-epd"\n'
            'private_key_file = "epd.pem"\n'
            'scopes = ["system/*.cruds"]\n'
            "\n[[koppeltaal]]\n"
            'name = "kt"\n'
            f'iss = "{kt.fhir}"\n'
            'client_id = "rg-kt"\n'
            'device = "Device/rg-kt-device"\n'
            'private_key_file = "kt.pem"\n'
            f'launcher_jwks = {{ "sandbox-portal" = "{kt.sandbox.settings.portal_jwks_url}" }}\n',
            encoding="utf-8",
        )
        yield epd, kt, config


def _park(outbox: SqliteOutbox, key: str, server: str | None, patient: str = PATIENT) -> OutboxEntry:
    return outbox.enqueue(
        user="Practitioner/anna-de-vries",
        patient=patient,
        idempotency_key=key,
        bundle=_bundle(key),
        error="EPD unreachable",
        server=server,
    )


def test_each_save_is_replayed_at_its_own_server_with_that_servers_client(
    two_servers: tuple[Server, Server, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    epd, kt, config = two_servers
    outbox = SqliteOutbox(config.parent / "outbox.sqlite3")
    # One patient's saves on both servers, in this order (the queue is FIFO per patient), and one of a server
    # this worker has no client for.
    first = _park(outbox, "for-the-epd", epd.fhir)
    second = _park(outbox, "for-koppeltaal", kt.fhir + "/")
    elsewhere = _park(outbox, "for-elsewhere", "https://other.example.nl/fhir", patient="daan-mulder")

    code = main(["--config", str(config), "--once", "--no-reminders"], service=True)

    out = capsys.readouterr().out
    assert "2 sent" in out and "1 waiting for another server" in out
    assert code == 0
    assert "for-the-epd" in _notes(epd) and "for-koppeltaal" not in _notes(epd)
    assert "for-koppeltaal" in _notes(kt) and "for-the-epd" not in _notes(kt)
    # Each server saw only its own client's Backend Services tokens.
    assert _client_ids(epd) == {"rg-epd"}
    assert _client_ids(kt) == {"rg-kt"}
    # The Provenance names the app as each server knows it: the domain's Device in Koppeltaal.
    assert {"reference": "Device/rg-kt-device"} in [{"reference": w.get("reference")} for w in _replay_agents(kt)]
    assert all(w.get("reference") != "Device/rg-kt-device" for w in _replay_agents(epd))
    states = {e.idempotency_key: e for e in (outbox.get(x.id) for x in (first, second, elsewhere)) if e}
    assert states["for-the-epd"].state.value == "sent" and states["for-koppeltaal"].state.value == "sent"
    waiting = states["for-elsewhere"]
    assert waiting.state.value == "pending" and waiting.attempts == 1  # parked once with an error; not tried


def test_an_entry_of_another_server_is_never_sent_with_the_default_client(
    two_servers: tuple[Server, Server, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    epd, kt, config = two_servers
    outbox = SqliteOutbox(config.parent / "outbox.sqlite3")
    _park(outbox, "for-koppeltaal", kt.fhir)
    # Without the [[koppeltaal]] table the worker has no client for that server: the save waits.
    text = config.read_text(encoding="utf-8")
    config.write_text(text.split("\n[[koppeltaal]]")[0] + "\n", encoding="utf-8")

    main(["--config", str(config), "--once", "--no-reminders"], service=True)

    assert "1 waiting for another server" in capsys.readouterr().out
    assert "for-koppeltaal" not in _notes(epd) and "for-koppeltaal" not in _notes(kt)
    assert epd.seen.tokens == [] and kt.seen.tokens == []
