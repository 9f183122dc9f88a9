"""`resourcegroep serve` for real: gunicorn on a free loopback port, health checks, request id, graceful SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.servers import free_port, wait_http

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVE = [sys.executable, "-m", "plugin.cli", "serve", "--graceful-timeout", "10"]


def write_config(folder: Path, port: int) -> Path:
    config = folder / "app.toml"
    config.write_text(
        "[app]\n"
        f'public_base_url = "http://127.0.0.1:{port}"\n'
        f'secret_key = "test-secret-{"x" * 40}"\n'
        'session_db = "data/sessions.sqlite3"\n'
        "session_cookie_secure = false\n"
        'session_cookie_samesite = "Lax"\n',
        encoding="utf-8",
    )
    return config


def test_serve_answers_health_checks_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    stderr_file = tmp_path / "serve.err"
    with stderr_file.open("wb") as stderr:
        proc = subprocess.Popen(
            [*SERVE, "--config", str(config), "--port", str(port), "--workers", "2", "--threads", "2"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz", timeout=60, proc=proc)

            health = requests.get(f"{base}/healthz", headers={"X-Request-ID": "it-serve-1"}, timeout=10)
            assert (health.status_code, health.text) == (200, "ok")
            assert health.headers["X-Request-ID"] == "it-serve-1"
            assert "Set-Cookie" not in health.headers

            ready = requests.get(f"{base}/readyz", timeout=10)
            assert ready.status_code == 200
            assert ready.json() == {
                "status": "ready",
                "checks": {"config": "ok", "session_store": "ok", "outbox": "ok"},
            }
            assert ready.headers["X-Request-ID"]

            requests.get(f"{base}/callback?code=CODESECRET&state=STATESECRET", timeout=10)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise
    assert code == 0
    lines = [json.loads(line) for line in stderr_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "resourcegroep.access"]
    assert any(line["request_id"] == "it-serve-1" and line["path"] == "/healthz" for line in access)
    assert any(line["path"] == "/callback" for line in access)
    text = stderr_file.read_text(encoding="utf-8")
    assert "CODESECRET" not in text and "STATESECRET" not in text
    assert any("Shutting down" in line["message"] for line in lines)


def test_serve_refuses_a_broken_configuration(tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text('[app]\npublic_base_url = "http://127.0.0.1:1"\nsecret_key = "short"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "plugin.cli", "serve", "--config", str(config), "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 78
    assert "secret_key must be at least 32 characters" in result.stderr
