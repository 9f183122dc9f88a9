"""Run the sandbox EPD and the Resourcegroep app together on free loopback ports, in threads, for tests."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from plugin.app import create_app
from plugin.config import config_from_mapping
from sandbox.app import Sandbox, SandboxSettings, create_sandbox
from sandbox.demo import RunningServer, app_config_mapping, write_private_key
from tests.support.servers import free_port, wait_http

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Stack:
    """A running sandbox + app pair."""

    sandbox: Sandbox
    sandbox_url: str  # e.g. http://127.0.0.1:40123
    app_url: str

    @property
    def epd_url(self) -> str:
        """The EPD login page (the URL the demo prints)."""
        return self.sandbox.settings.epd_url

    @property
    def fhir_base(self) -> str:
        """The sandbox FHIR base (`iss`)."""
        return self.sandbox.settings.fhir_base_url


def iframe_src(page: str) -> str:
    """The `src` of the app iframe on an EPD page."""
    match = re.search(r'<iframe class="app-frame" src="([^"]+)"', page)
    if match is None:
        raise AssertionError("the EPD page has no app iframe")
    return html.unescape(match.group(1))


@contextmanager
def running_stack(workdir: Path, *, upstream_url: str | None = None, seed: bool = True) -> Iterator[Stack]:
    """Start sandbox + app (the app registered with private_key_jwt); seed the demo data; stop both after.

    With `upstream_url` the sandbox FHIR endpoint fronts that server and the demo data is written there.
    """
    sandbox_port, app_port = free_port(), free_port()
    while app_port == sandbox_port:
        app_port = free_port()
    sandbox_url, app_url = f"http://{HOST}:{sandbox_port}", f"http://{HOST}:{app_port}"
    settings = SandboxSettings(
        base_url=sandbox_url,
        app_base_url=app_url,
        database=":memory:",
        upstream_url=upstream_url,
    )
    key_file = workdir / "app-key.pem"
    write_private_key(key_file)
    mapping = app_config_mapping(
        app_base_url=app_url,
        sandbox=settings,
        secret_key="test-secret-" + "x" * 40,
        private_key_file=str(key_file),
        session_db=None,
    )
    app = create_app(config_from_mapping(mapping, env={}, base_dir=workdir))
    sandbox = create_sandbox(settings)
    if seed and not sandbox.has_demo_data():
        sandbox.seed_demo_data()
    servers: list[RunningServer] = []
    try:
        servers.append(RunningServer(sandbox.app, HOST, sandbox_port, "test-sandbox"))
        servers.append(RunningServer(app, HOST, app_port, "test-app"))
        wait_http(f"{settings.fhir_base_url}/metadata", timeout=20)
        wait_http(f"{app_url}/", timeout=20)
        yield Stack(sandbox=sandbox, sandbox_url=sandbox_url, app_url=app_url)
    finally:
        for server in reversed(servers):
            server.stop()
        sandbox.close()
