"""The FHIR client reuses connections: clients made per page request share the thread's kept-alive pool."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import requests.adapters

from plugin.sync.client import FhirClient, RetryPolicy, SharedSessions, StaticTokenProvider, environment_settings
from plugin.sync.errors import ServerUnavailable
from tests.support.servers import free_port


class CountingServer:
    """A keep-alive HTTP/1.1 server on loopback that counts TCP connections and remembers Cookie headers. Its
    answers can go wrong in the ways a body can: a path ending in `/gzip` is answered packed, `/short` with half
    the body and then the connection ends, `/stall` with half the body and then nothing for 1.5 s."""

    BODY = json.dumps({"resourceType": "Patient", "id": "p1", "name": [{"text": "x" * 50_000}]}).encode()

    def __init__(self) -> None:
        self.connections = 0
        self.cookies: list[str | None] = []
        self.paths: list[str] = []  # the request target as sent: an absolute URL when the server is a proxy
        self.authorizations: list[str | None] = []
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
                    outer.paths.append(self.path)
                    outer.authorizations.append(self.headers.get("Authorization"))
                body = outer.BODY
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                if self.path.endswith("/gzip"):
                    body = gzip.compress(body)
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Set-Cookie", "lb=node-7; Path=/")
                self.end_headers()
                if self.path.endswith(("/short", "/stall")):
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    if self.path.endswith("/short"):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    else:  # longer than the read timeout of the test that asks for it
                        time.sleep(1.5)
                    self.close_connection = True
                    return
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


# ---------------------------------------------------------------- the environment, read once per server

_PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[pytest.MonkeyPatch]:
    """No proxy or CA variables, a HOME without .netrc, and the per-server memo empty before and after."""
    for name in (*_PROXY_VARIABLES, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    environment_settings.cache_clear()
    yield monkeypatch
    environment_settings.cache_clear()


def test_a_proxy_from_the_environment_is_used(server: CountingServer, clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    FhirClient("http://fhir.example.test/fhir", StaticTokenProvider("t")).read("Patient", "p1")
    assert server.paths == ["http://fhir.example.test/fhir/Patient/p1"]  # sent to the proxy, absolute


def test_no_proxy_names_a_server_that_is_reached_directly(
    server: CountingServer, clean_environment: pytest.MonkeyPatch
) -> None:
    clean_environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    clean_environment.setenv("NO_PROXY", "127.0.0.1")
    FhirClient(server.base, StaticTokenProvider("t")).read("Patient", "p1")
    assert server.paths == ["/fhir/Patient/p1"]


def test_the_environment_is_read_once_per_server(server: CountingServer, clean_environment: pytest.MonkeyPatch) -> None:
    FhirClient(server.base).read("Patient", "p1")
    clean_environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a later change: seen after a restart only
    FhirClient(server.base).read("Patient", "p1")
    assert server.paths == ["/fhir/Patient/p1", "/fhir/Patient/p1"]
    environment_settings.cache_clear()
    assert environment_settings("http", f"127.0.0.1:{server.port}").proxies.get("http") == "http://127.0.0.1:9"


def test_the_ca_bundle_comes_from_the_environment(clean_environment: pytest.MonkeyPatch) -> None:
    assert environment_settings("https", "ehr.example.test").verify is True
    environment_settings.cache_clear()
    clean_environment.setenv("CURL_CA_BUNDLE", "/etc/ssl/clinic-curl.pem")
    assert environment_settings("https", "ehr.example.test").verify == "/etc/ssl/clinic-curl.pem"
    environment_settings.cache_clear()
    clean_environment.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/clinic.pem")
    assert environment_settings("https", "ehr.example.test").verify == "/etc/ssl/clinic.pem"


def test_a_netrc_entry_never_replaces_the_bearer_token(
    server: CountingServer, clean_environment: pytest.MonkeyPatch, tmp_path: object
) -> None:
    netrc = f"{tmp_path}/.netrc"
    with open(netrc, "w") as fh:
        fh.write("machine 127.0.0.1 login clinic password secret\n")
    clean_environment.setenv("NETRC", netrc)
    FhirClient(server.base, StaticTokenProvider("launch-token")).read("Patient", "p1")
    assert server.authorizations == ["Bearer launch-token"]


# ---------------------------------------------------------------- the body, read at once


def test_a_body_is_read_whole_and_kept_as_the_answer(server: CountingServer) -> None:
    for _ in range(3):
        answer = FhirClient(server.base).read("Patient", "p1")
        assert answer.raw == CountingServer.BODY and answer.body == json.loads(CountingServer.BODY)
    assert server.connections == 1  # each body read to its end gave the connection back to the pool


def test_a_gzipped_body_is_unpacked(server: CountingServer) -> None:
    answer = FhirClient(server.base).read("Patient", "gzip")
    assert answer.raw == CountingServer.BODY and answer.body is not None and answer.body["id"] == "p1"


def test_a_body_cut_short_fails_as_requests_would(server: CountingServer) -> None:
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        FhirClient(server.base, retry=RetryPolicy(max_attempts=1)).read("Patient", "short")


def test_a_body_that_stalls_is_a_connection_failure_that_is_retried(server: CountingServer) -> None:
    client = FhirClient(server.base, read_timeout=0.3, retry=RetryPolicy(max_attempts=2), sleep=lambda _s: None)
    with pytest.raises(ServerUnavailable, match="connection failed after 2 attempt"):
        client.read("Patient", "stall")


def test_a_body_an_adapter_read_already_is_kept(server: CountingServer) -> None:
    """A transport adapter (a proxy's, a logger's, the benchmark's wire timer) may read the body before the
    client does: the client keeps what it read instead of reading an empty rest."""

    class ReadingAdapter(requests.adapters.HTTPAdapter):
        def send(self, *args: object, **kwargs: object) -> requests.Response:
            response = super().send(*args, **kwargs)  # type: ignore[arg-type]
            _ = response.content
            return response

    session = requests.Session()
    session.mount("http://", ReadingAdapter())
    answer = FhirClient(server.base, session=session).read("Patient", "p1")
    assert answer.raw == CountingServer.BODY and answer.body is not None and answer.body["id"] == "p1"
