"""Start and stop real servers for tests: always on 127.0.0.1, on a free port, stopped by the test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
FHIR_TEST_SERVER = SHARED / "tools" / "fhir-test-server" / "start.sh"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `url` until it answers 200; fail loudly (never skip) when it does not come up."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited early with code {proc.returncode}")
        try:
            r = requests.get(url, timeout=2)
            if r.status_code == 200:
                return
            last = r.status_code
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout}s (last: {last})")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextmanager
def medplum_server() -> Iterator[str]:
    """Run the shared Medplum FHIR engine; yields its base URL (…/fhir/R4)."""
    if not FHIR_TEST_SERVER.exists():
        raise RuntimeError(f"FHIR test server not found at {FHIR_TEST_SERVER}: ../shared must sit beside the checkout")
    port = free_port()
    log_path = ROOT / "var" / f"medplum-{port}.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["sh", str(FHIR_TEST_SERVER), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}/fhir/R4"
        try:
            wait_http(f"{base}/metadata", timeout=180, proc=proc)
            yield base
        finally:
            _stop(proc)
