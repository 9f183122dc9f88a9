"""The FHIR client reuses connections: clients made per page request share the thread's kept-alive pool."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from plugin.sync.client import FhirClient, SharedSessions, StaticTokenProvider
from tests.support.servers import free_port


class CountingServer:
    """A keep-alive HTTP/1.1 server on loopback that counts TCP connections and remembers Cookie headers."""

    def __init__(self) -> None:
        self.connections = 0
        self.cookies: list[str | None] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with outer.lock:
                    outer.connections += 1

            def do_GET(self) -> None:
                with outer.lock:
                    outer.cookies.append(self.headers.get("Cookie"))
                body = json.dumps({"resourceType": "Patient", "id": "p1"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Set-Cookie", "lb=node-7; Path=/")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"


@pytest.fixture
def server() -> Iterator[CountingServer]:
    s = CountingServer()
    s.thread.start()
    try:
        yield s
    finally:
        s.server.shutdown()
        s.server.server_close()
        s.thread.join(timeout=10)


def test_clients_made_per_request_reuse_one_connection(server: CountingServer) -> None:
    for i in range(5):  # five page requests, each with its own client and token
        FhirClient(server.base, StaticTokenProvider(f"token-{i}")).read("Patient", "p1")
    assert server.connections == 1


def test_the_shared_session_keeps_no_cookies(server: CountingServer) -> None:
    FhirClient(server.base, StaticTokenProvider("launch-a")).read("Patient", "p1")
    FhirClient(server.base, StaticTokenProvider("launch-b")).read("Patient", "p1")
    assert server.cookies == [None, None]  # one launch's cookie never travels with another's request


def test_each_thread_has_its_own_session(server: CountingServer) -> None:
    shared = SharedSessions()
    mine = shared.get()
    assert shared.get() is mine
    theirs: list[object] = []
    t = threading.Thread(target=lambda: theirs.append(shared.get()))
    t.start()
    t.join()
    assert theirs and theirs[0] is not mine


def test_threads_keep_their_own_connections(server: CountingServer) -> None:
    def pages() -> None:
        for _ in range(3):
            FhirClient(server.base).read("Patient", "p1")

    threads = [threading.Thread(target=pages) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.connections == 3  # one per thread, however many requests
