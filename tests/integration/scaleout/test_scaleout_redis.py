"""Two real app processes (`resourcegroep serve`) behind one URL, sharing a real redis-server.

- A launch that starts on instance A and whose callback lands on instance B works (sessions, pending
  authorizations and launch contexts live in Redis).
- A save parked by one instance while the EHR refuses writes is replayed exactly once when both instances
  replay at the same moment (the outbox and its leases live in Redis): the EHR receives it once.
- One form sent to both instances at once (a double click spread by the balancer) is saved once (the
  once-per-submission log lives in Redis).

The sandbox EPD runs in this process behind a small proxy that can refuse FHIR writes and counts the writes
it lets through; a second proxy is the load balancer, sending each request to the instance the test picks.
"""

from __future__ import annotations

import html
import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from plugin.stores.redis_backend import RedisOutbox, connect
from sandbox.app import Sandbox, SandboxSettings, create_sandbox
from sandbox.demo import RunningServer, app_config_mapping, to_toml, write_private_key
from tests.support.redis_server import redis_server
from tests.support.servers import free_port, wait_http
from tests.support.stack import iframe_src

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
HOST = "127.0.0.1"
PRACTITIONER = "anna-de-vries"
PATIENT = "sanne-bakker"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailers", "upgrade"}


def is_write(method: str, path: str, body: bytes) -> bool:
    """A FHIR request that changes something: PUT/PATCH/DELETE, a create, or a transaction (a batch of
    searches is a read)."""
    if method in ("PUT", "PATCH", "DELETE"):
        return True
    if method != "POST" or path.rstrip("/").endswith("/_search"):
        return False
    if path.rstrip("/") != "/fhir":
        return True  # a create
    try:
        bundle = json.loads(body)
    except ValueError:
        return True
    reads_only = all((e.get("request") or {}).get("method") == "GET" for e in bundle.get("entry") or [])
    return not (bundle.get("type") == "batch" and reads_only)


class Router:
    """A reverse proxy on a free loopback port: to ``upstreams[target]``; optionally refusing FHIR writes."""

    def __init__(self, upstreams: dict[str, int], target: str, *, write_delay: float = 0.0) -> None:
        self.upstreams = upstreams
        self.target = target
        self.refuse_writes = False
        self.write_delay = write_delay
        self.routed: list[tuple[str, str, str]] = []  # (target, method, path) of every request
        self.writes: list[bytes] = []  # bodies of the FHIR writes let through
        self.refused = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self._server = ThreadingHTTPServer((HOST, self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> Router:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        router = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                write = self.path.startswith("/fhir") and is_write(self.command, self.path, body)
                with router._lock:
                    target = router.target
                    router.routed.append((target, self.command, self.path))
                    refuse = write and router.refuse_writes
                    if refuse:
                        router.refused += 1
                    elif write:
                        router.writes.append(body)
                if refuse:
                    outcome = {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "transient", "diagnostics": "writes refused (test)"}],
                    }
                    self._reply(503, {"Content-Type": "application/fhir+json"}, json.dumps(outcome).encode())
                    return
                if write and router.write_delay:
                    time.sleep(router.write_delay)  # a slow EHR: a second replayer arrives while this one sends
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream = requests.request(
                    self.command,
                    f"http://{HOST}:{router.upstreams[target]}{self.path}",
                    data=body or None,
                    headers=headers,
                    allow_redirects=False,
                    timeout=60,
                )
                out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP | {"content-encoding"}}
                self._reply(upstream.status_code, out, upstream.content, raw_headers=upstream.raw.headers)

            def _reply(
                self, status: int, headers: dict[str, str], payload: bytes, raw_headers: object | None = None
            ) -> None:
                self.send_response(status)
                cookies = raw_headers.getlist("Set-Cookie") if hasattr(raw_headers, "getlist") else []
                for key, value in headers.items():
                    if key.lower() != "set-cookie":
                        self.send_header(key, value)
                for cookie in cookies:
                    self.send_header("Set-Cookie", cookie)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

        return Handler


@dataclass
class ScaleOut:
    sandbox: Sandbox
    epd: str  # the sandbox (through the proxy that can refuse FHIR writes)
    fhir: Router
    balancer: Router
    instances: dict[str, str]  # "A"/"B" -> the instance's own URL
    redis_url: str
    prefix: str


@contextmanager
def serve(config: Path, port: int, log_file: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_file.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "plugin.cli",
                "serve",
                "--config",
                str(config),
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                "1",
                "--threads",
                "4",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            wait_http(f"http://{HOST}:{port}/readyz", timeout=60, proc=proc)
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def scaleout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleOut]:
    started = time.monotonic()
    workdir = tmp_path_factory.mktemp("scaleout")
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(workdir))
        sandbox_port, port_a, port_b = free_port(), free_port(), free_port()
        fhir = stack.enter_context(Router({"sandbox": sandbox_port}, "sandbox", write_delay=0.5))
        balancer = stack.enter_context(Router({"A": port_a, "B": port_b}, "A"))
        settings = SandboxSettings(base_url=fhir.url, app_base_url=balancer.url, database=":memory:")
        sandbox = create_sandbox(settings)
        sandbox.seed_demo_data()
        running = RunningServer(sandbox.app, HOST, sandbox_port, "scaleout-sandbox")
        stack.callback(sandbox.close)
        stack.callback(running.stop)
        wait_http(f"{settings.fhir_base_url}/metadata", timeout=20)

        key_file = workdir / "app-key.pem"
        write_private_key(key_file)
        prefix = f"it-{uuid.uuid4().hex[:8]}:"
        mapping = app_config_mapping(
            app_base_url=balancer.url,  # both instances answer at the balancer's URL
            sandbox=settings,
            secret_key="scaleout-secret-" + "x" * 40,
            private_key_file=str(key_file),
            session_db=None,
        )
        mapping["redis"] = {"url": redis_url, "key_prefix": prefix}
        config = workdir / "app.toml"
        config.write_text(to_toml(mapping), encoding="utf-8")
        for name, port in (("A", port_a), ("B", port_b)):
            stack.enter_context(serve(config, port, workdir / f"instance-{name}.log"))
        print(f"\nscale-out stack (redis + sandbox + 2 app processes) up in {time.monotonic() - started:.1f}s")
        yield ScaleOut(
            sandbox=sandbox,
            epd=fhir.url,
            fhir=fhir,
            balancer=balancer,
            instances={"A": f"http://{HOST}:{port_a}", "B": f"http://{HOST}:{port_b}"},
            redis_url=redis_url,
            prefix=prefix,
        )


def follow(browser: requests.Session, url: str, balancer: Router, route: dict[str, str]) -> requests.Response:
    """Follow redirects by hand; a request to the app goes to the instance ``route`` names for its path."""
    for _ in range(10):
        path = urlsplit(url).path
        if url.startswith(balancer.url):
            balancer.target = route.get(path, route.get("*", balancer.target))
        response = browser.get(url, allow_redirects=False, timeout=30)
        if response.status_code not in (301, 302, 303, 307, 308):
            return response
        url = urljoin(url, response.headers["Location"])
    raise AssertionError("too many redirects")


def launch(env: ScaleOut, route: dict[str, str]) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    login = browser.post(f"{env.epd}/epd/login", data={"practitioner": PRACTITIONER}, timeout=10)
    assert login.status_code == 200
    src = iframe_src(browser.get(f"{env.epd}/epd/patients/{PATIENT}/app", timeout=10).text)
    assert src.startswith(f"{env.balancer.url}/launch?")
    return browser, follow(browser, src, env.balancer, route)


def served_by(env: ScaleOut, path_prefix: str) -> list[str]:
    return [t for t, _m, p in env.balancer.routed if p.startswith(path_prefix)]


def form_fields(page: str, action_suffix: str) -> dict[str, str]:
    """The hidden fields (CSRF token, submission key) of the form whose action ends with ``action_suffix``."""
    for match in re.finditer(r"<form\b[^>]*>.*?</form>", page, flags=re.S):
        form = match.group(0)
        action = re.search(r'action="([^"]*)"', form)
        if action and html.unescape(action.group(1)).endswith(action_suffix):
            fields: dict[str, str] = {}
            for tag in re.findall(r"<input\b[^>]*>", form):
                attrs = dict(re.findall(r'(\w+)="([^"]*)"', tag))
                if attrs.get("type") == "hidden" and "name" in attrs:
                    fields[html.unescape(attrs["name"])] = html.unescape(attrs.get("value", ""))
            return fields
    raise AssertionError(f"no form posting to …{action_suffix}")


def test_a_launch_started_on_one_instance_calls_back_on_the_other(scaleout: ScaleOut) -> None:
    env = scaleout
    env.balancer.routed.clear()
    browser, first_view = launch(env, {"/launch": "A", "/callback": "B", "*": "A"})

    assert first_view.status_code == 200 and "Overzicht" in first_view.text
    assert served_by(env, "/launch") == ["A"] and served_by(env, "/callback") == ["B"]
    assert served_by(env, "/c/") == ["A"]  # the group page: back on A, with the launch B completed
    # Every later request may land anywhere: the session and the launch are the same on both.
    for name in ("A", "B"):
        env.balancer.target = name
        page = browser.get(first_view.url + "verbinding", timeout=30)
        assert page.status_code == 200 and "Sanne Bakker" in page.text


def test_a_parked_save_is_replayed_exactly_once_when_both_instances_replay_at_once(scaleout: ScaleOut) -> None:
    env = scaleout
    browser, first_view = launch(env, {"*": "B"})
    assert first_view.status_code == 200
    home = first_view.url  # http://balancer/c/<context>/
    goal_text = f"Weer zelf boodschappen doen {uuid.uuid4().hex[:6]}"

    # The EHR refuses writes: instance A parks the save in the (shared) outbox.
    env.balancer.target = "A"
    new_goal = browser.get(home + "doelen/nieuw", timeout=30)
    fields = form_fields(new_goal.text, "/doelen/nieuw")
    env.fhir.refuse_writes = True
    try:
        saved = browser.post(home + "doelen/nieuw", data={**fields, "text": goal_text, "term": "lang"}, timeout=60)
    finally:
        env.fhir.refuse_writes = False
    assert saved.status_code == 200 and env.fhir.refused >= 1
    assert not [body for body in env.fhir.writes if goal_text.encode() in body]
    outbox = RedisOutbox(connect(env.redis_url), prefix=env.prefix)
    [parked] = outbox.pending_for(f"Patient/{PATIENT}")
    assert goal_text in json.dumps(parked.bundle, ensure_ascii=False)

    assert "Wacht op opslaan in het EPD" in saved.text or "Waiting to be saved" in saved.text

    # Both instances replay at the same moment: every page load first sends the viewer's own waiting saves,
    # and the same browser opens the group on A and on B at once (two tabs, the balancer spreading them).
    context_path = urlsplit(home).path
    barrier = threading.Barrier(2)
    answers: dict[str, int] = {}

    def open_on(name: str) -> None:
        session = requests.Session()
        session.cookies.update(browser.cookies)
        barrier.wait()
        answers[name] = session.get(f"{env.instances[name]}{context_path}", timeout=60).status_code

    threads = [threading.Thread(target=open_on, args=(name,)) for name in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert answers == {"A": 200, "B": 200}

    sent = [body for body in env.fhir.writes if goal_text.encode() in body]
    assert len(sent) == 1, f"the parked save reached the EHR {len(sent)} times"
    goals = list(env.sandbox.store.search("Goal", [("_count", "1000")]).matches)  # type: ignore[union-attr]
    assert [g["description"]["text"] for g in goals].count(goal_text) == 1
    assert outbox.pending_for(f"Patient/{PATIENT}") == []
    entry = outbox.get(parked.id)
    assert entry is not None and entry.state.value == "sent"


def test_one_form_sent_to_both_instances_at_once_is_saved_once(scaleout: ScaleOut) -> None:
    env = scaleout
    browser, first_view = launch(env, {"*": "A"})
    home = first_view.url
    context_path = urlsplit(home).path
    fields = form_fields(browser.get(home + "doelen/nieuw", timeout=30).text, "/doelen/nieuw")
    goal_text = f"Elke week sporten {uuid.uuid4().hex[:6]}"
    barrier = threading.Barrier(2)
    answers: dict[str, int] = {}

    def submit_on(name: str) -> None:  # a double click that the balancer spreads over both instances
        session = requests.Session()
        session.cookies.update(browser.cookies)
        barrier.wait()
        answers[name] = session.post(
            f"{env.instances[name]}{context_path}doelen/nieuw",
            data={**fields, "text": goal_text, "term": "lang"},
            allow_redirects=False,
            timeout=60,
        ).status_code

    threads = [threading.Thread(target=submit_on, args=(name,)) for name in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert answers == {"A": 303, "B": 303}  # both see the saved result
    assert len([body for body in env.fhir.writes if goal_text.encode() in body]) == 1
    goals = list(env.sandbox.store.search("Goal", [("_count", "1000")]).matches)  # type: ignore[union-attr]
    assert [g["description"]["text"] for g in goals].count(goal_text) == 1
