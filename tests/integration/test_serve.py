"""`resourcegroep serve` for real: gunicorn on a free loopback port, health checks, request id, graceful SIGTERM
(also with a request in flight that waits for a slow EHR)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from sandbox.app import SandboxSettings, create_sandbox
from sandbox.demo import app_config_mapping, to_toml, write_private_key
from tests.support.servers import free_port, wait_http
from tests.support.stack import iframe_src

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


# ---------------------------------------------------------------- graceful shutdown with a request in flight

FHIR_DELAY = 3.0  # seconds each FHIR request waits while the gate is open


class SlowFhir:
    """WSGI middleware in front of the sandbox: while ``slow`` is set, every FHIR request waits FHIR_DELAY seconds
    (``entered`` tells the test one is waiting). Test-only; the app under test is unchanged."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.slow = threading.Event()
        self.entered = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.slow.is_set() and str(environ.get("PATH_INFO", "")).startswith("/fhir"):
            self.entered.set()
            time.sleep(FHIR_DELAY)
        return self.app(environ, start_response)


def test_sigterm_lets_a_request_in_flight_finish_and_exits_0(tmp_path: Path) -> None:
    sandbox_port, app_port = free_port(), free_port()
    while app_port == sandbox_port:
        app_port = free_port()
    sandbox_url, app_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{app_port}"
    settings = SandboxSettings(base_url=sandbox_url, app_base_url=app_url, database=":memory:")
    sandbox = create_sandbox(settings)
    sandbox.seed_demo_data()
    slow = SlowFhir(sandbox.app)
    server = make_server("127.0.0.1", sandbox_port, slow, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="slow-sandbox", daemon=True)
    thread.start()
    key = tmp_path / "app-key.pem"
    write_private_key(key)
    mapping = app_config_mapping(
        app_base_url=app_url,
        sandbox=settings,
        secret_key="test-secret-" + "x" * 40,
        private_key_file=str(key),
        session_db=str(tmp_path / "data" / "sessions.sqlite3"),
    )
    config = tmp_path / "app.toml"
    config.write_text(to_toml(mapping), encoding="utf-8")
    stderr_file = tmp_path / "serve.err"
    try:
        wait_http(f"{settings.fhir_base_url}/metadata", timeout=20)
        with stderr_file.open("wb") as stderr:
            proc = subprocess.Popen(
                [*SERVE, "--config", str(config), "--port", str(app_port), "--workers", "1", "--threads", "4"],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            try:
                wait_http(f"{app_url}/healthz", timeout=60, proc=proc)
                # A real EHR launch (EPD login, the patient's app frame, OAuth) through the gunicorn app.
                browser = requests.Session()
                browser.post(f"{sandbox_url}/epd/login", data={"practitioner": "anna-de-vries"}, timeout=10)
                frame = browser.get(f"{sandbox_url}/epd/patients/sanne-bakker/app", timeout=10)
                first_view = browser.get(iframe_src(frame.text), timeout=30)
                assert first_view.status_code == 200 and "Overzicht" in first_view.text

                slow.slow.set()
                answers: list[requests.Response | BaseException] = []

                def overview() -> None:
                    try:
                        answers.append(browser.get(first_view.url, timeout=60))
                    except BaseException as exc:  # handed to the test thread
                        answers.append(exc)

                in_flight = threading.Thread(target=overview)
                in_flight.start()
                assert slow.entered.wait(30), "the overview never reached the EHR"
                proc.send_signal(signal.SIGTERM)  # while the overview waits for the slow EHR
                in_flight.join(60)
                code = proc.wait(timeout=60)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        sandbox.close()
    assert len(answers) == 1
    answer = answers[0]
    assert isinstance(answer, requests.Response), answer
    assert answer.status_code == 200 and "Overzicht" in answer.text
    assert code == 0
    lines = [json.loads(line) for line in stderr_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert any("Shutting down" in line["message"] or "Handling signal" in line["message"] for line in lines)
