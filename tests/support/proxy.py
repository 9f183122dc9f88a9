"""A counting, fault-injecting HTTP reverse proxy for tests (loopback, free port, stopped by the test).

    with FaultProxy("http://127.0.0.1:8103") as proxy:
        base = proxy.rebase("http://127.0.0.1:8103/fhir/R4")      # same path, the proxy's port
        proxy.inject(0, Fault.TIMEOUT_AFTER_COMMIT)               # the first request
        ...
        assert proxy.count == 2

Faults, by 0-based request index:
- ``DROP``: close the connection before forwarding (the server never sees the request);
- ``STATUS_503``: answer 503 with an OperationOutcome, without forwarding;
- ``TIMEOUT_AFTER_COMMIT``: forward and let the server commit, then hang past the client's read timeout
  and close the connection without an answer (the client cannot know the write happened).

The ``Host`` header is forwarded unchanged, so the server's absolute links (paging) point back at
the proxy.
"""

from __future__ import annotations

import contextlib
import enum
import http.client
import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from tests.support.servers import free_port

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


class Fault(enum.Enum):
    """What to do to one request."""

    DROP = "drop"
    STATUS_503 = "503"
    TIMEOUT_AFTER_COMMIT = "timeout-after-commit"


@dataclass(frozen=True)
class Seen:
    """One request the proxy received."""

    index: int
    method: str
    path: str
    fault: Fault | None
    upstream_status: int | None


class FaultProxy:
    """Reverse proxy in front of ``upstream`` (``http://host:port``), on 127.0.0.1 and a free port."""

    def __init__(self, upstream: str, *, hang_seconds: float = 5.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port
        self.hang_seconds = hang_seconds
        self.port = free_port()
        self.faults: dict[int, Fault] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    # -------------------------------------------------------------- control

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # frees any request hanging in TIMEOUT_AFTER_COMMIT
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rebase(self, upstream_url: str) -> str:
        """The same URL, through the proxy."""
        parts = urlsplit(upstream_url)
        return urlunsplit(("http", f"127.0.0.1:{self.port}", parts.path, parts.query, parts.fragment))

    def inject(self, index: int, fault: Fault) -> None:
        """Apply ``fault`` to the request with 0-based ``index`` (counting every request since start/reset)."""
        with self._lock:
            self.faults[index] = fault

    def inject_next(self, fault: Fault, n: int = 1) -> None:
        """Apply ``fault`` to the next ``n`` requests."""
        with self._lock:
            start = len(self.seen)
            for i in range(start, start + n):
                self.faults[i] = fault

    def reset(self) -> None:
        """Forget counted requests and pending faults."""
        with self._lock:
            self.faults.clear()
            self.seen.clear()

    @property
    def count(self) -> int:
        """Requests received since start/reset (faulted ones included)."""
        with self._lock:
            return len(self.seen)

    # -------------------------------------------------------------- the handler

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    index = len(proxy.seen)
                    fault = proxy.faults.pop(index, None)
                    proxy.seen.append(Seen(index, self.command, self.path, fault, None))
                if fault is Fault.DROP:
                    self._drop()
                    return
                if fault is Fault.STATUS_503:
                    outcome = {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "transient", "diagnostics": "injected 503"}],
                    }
                    self._reply(503, {"Content-Type": "application/fhir+json"}, json.dumps(outcome).encode())
                    return
                status, headers, payload = self._forward(body)
                with proxy._lock:
                    proxy.seen[index] = Seen(index, self.command, self.path, fault, status)
                if fault is Fault.TIMEOUT_AFTER_COMMIT:
                    proxy._stop.wait(proxy.hang_seconds)
                    self._drop()
                    return
                self._reply(status, headers, payload)

            def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    if body:
                        headers["Content-Length"] = str(len(body))
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    payload = resp.read()
                    out = {k: v for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP}
                    return resp.status, out, payload
                finally:
                    conn.close()

            def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _drop(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

        return Handler
