"""/healthz, /readyz, the request id and the JSON log lines (and what they must never contain)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from plugin.app import create_app
from plugin.config import config_from_mapping
from plugin.logs import ACCESS_LOGGER, JsonFormatter, redact, request_id_from

SECRET = "test-secret-" + "x" * 40


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    mapping = {
        "app": {
            "public_base_url": "http://127.0.0.1:5000",
            "secret_key": SECRET,
            "session_db": "data/sessions.sqlite3",
            "session_cookie_secure": False,
            "session_cookie_samesite": "Lax",
        }
    }
    return create_app(config_from_mapping(mapping, env={}, base_dir=tmp_path))


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.formatter = JsonFormatter()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_healthz_is_ok_without_session_cookie(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok"
    assert "Set-Cookie" not in response.headers


def test_readyz_reports_each_check(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "checks": {"config": "ok", "session_store": "ok", "outbox": "ok"},
    }
    assert "Set-Cookie" not in response.headers


class BrokenStore:
    def has_pending(self, state: str) -> bool:
        raise OSError("unable to open /secret/path/sessions.sqlite3")


def test_readyz_503_names_the_failing_store_without_its_path(app: Flask, log_lines: list[str]) -> None:
    app.extensions["session_store"] = BrokenStore()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    assert body["checks"] == {"config": "ok", "session_store": "failed", "outbox": "ok"}
    assert "/secret/path" not in response.get_data(as_text=True)
    assert not any("/secret/path" in line for line in log_lines)


def test_readyz_503_when_the_outbox_cannot_be_read(app: Flask, tmp_path: Path) -> None:
    outbox_file = tmp_path / "data" / "outbox.sqlite3"
    assert outbox_file.exists()
    outbox_file.unlink()
    outbox_file.mkdir()  # a folder where the database file was: sqlite cannot open it
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["outbox"] == "failed"


def test_request_id_is_echoed_when_sane_and_generated_otherwise(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/healthz", headers={"X-Request-ID": "lb-42.a_b"}).headers["X-Request-ID"] == "lb-42.a_b"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert generated != "bad id <script>"
    assert generated == request_id_from(generated)  # itself a sane token
    assert client.get("/healthz").headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]
    assert request_id_from("x" * 129) != "x" * 129


def test_access_line_is_one_json_object_with_request_fields(app: Flask, log_lines: list[str]) -> None:
    app.test_client().get("/readyz", headers={"X-Request-ID": "req-7"})
    access = [json.loads(line) for line in log_lines if json.loads(line)["logger"] == ACCESS_LOGGER]
    assert len(access) == 1
    entry = access[0]
    assert {"time", "level", "logger", "message", "request_id", "method", "path", "status", "duration_ms"} <= set(entry)
    assert (entry["request_id"], entry["method"], entry["path"], entry["status"]) == ("req-7", "GET", "/readyz", 200)
    assert entry["level"] == "INFO"
    assert isinstance(entry["duration_ms"], float)


def test_launch_and_callback_values_never_reach_the_log(app: Flask, log_lines: list[str]) -> None:
    client = app.test_client()
    client.get("/launch?iss=https%3A%2F%2Fehr.example%2Ffhir&launch=LAUNCHSECRET1")
    client.get("/callback?code=CODESECRET2&state=STATESECRET3")
    assert log_lines, "the requests were logged"
    text = "\n".join(log_lines)
    for secret in ("LAUNCHSECRET1", "CODESECRET2", "STATESECRET3"):
        assert secret not in text
    paths = {json.loads(line).get("path") for line in log_lines}
    assert {"/launch", "/callback"} <= paths


def test_messages_are_scrubbed_of_tokens() -> None:
    message = (
        "failed GET https://ehr/cb?code=abc123&state=s1 with Authorization: Bearer tok.en-value "
        "and assertion eyJhbGciOiJSUzM4NCJ9.eyJpc3MiOiJ4In0.c2ln"
    )
    cleaned = redact(message)
    for secret in ("abc123", "s1 ", "tok.en-value", "eyJhbGciOiJSUzM4NCJ9"):
        assert secret not in cleaned
    assert "code=[redacted]" in cleaned and "Bearer [redacted]" in cleaned


def test_json_formatter_scrubs_messages_and_adds_request_id() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "token exchange: %s", ("code=zzz",), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "token exchange: code=[redacted]"
    assert entry["level"] == "WARNING" and entry["logger"] == "x" and entry["request_id"] is None


def test_development_server_request_lines_are_scrubbed(app: Flask, log_lines: list[str]) -> None:
    # `flask run` / the demo: werkzeug writes the request line itself, query string included.
    logging.getLogger("werkzeug").warning(
        '%s - - [%s] "%s" %s -', "127.0.0.1", "now", "GET /callback?code=CODE9&state=STATE9 HTTP/1.1", 302
    )
    assert log_lines
    assert "CODE9" not in log_lines[-1] and "STATE9" not in log_lines[-1]
    assert "/callback?code=[redacted]&state=[redacted]" in log_lines[-1]
