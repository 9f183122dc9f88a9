"""A Koppeltaal 2.0 launch end to end over real HTTP: the sandbox in Koppeltaal mode (a portal that signs HTI
tokens, NOOP access tokens, Backend Services) and the app configured with a [[koppeltaal]] domain.

Every FHIR request the sandbox receives is recorded with its bearer token: each must be a Backend Services
(client_credentials) token, never the launch's NOOP; a refused HTI token must cause no FHIR request at all.
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from fhir_mappings.audit import VIEW_LAUNCH_TASK, AuditOutcome
from plugin.app import create_app
from plugin.config import config_from_mapping
from plugin.launch.context import ActiveLaunch, smart_client
from sandbox.app import Sandbox, SandboxSettings, create_sandbox
from sandbox.auth.koppeltaal import NOOP, PortalKey, task_id
from sandbox.demo import RunningServer, app_config_mapping, write_private_key
from tests.support.servers import free_port, wait_http

HOST = "127.0.0.1"
PRACTITIONER = "anna-de-vries"
PATIENT = "sanne-bakker"


@dataclass
class FhirLog:
    """The FHIR requests the sandbox received: (path, bearer token or None)."""

    requests: list[tuple[str, str | None]] = field(default_factory=list)
    introspections: list[str] = field(default_factory=list)  # how often the app asked the introspection endpoint
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, wsgi: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def recording(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = str(environ.get("PATH_INFO", ""))
            if path == "/auth/introspect":
                with self.lock:
                    self.introspections.append(str(environ.get("REQUEST_METHOD")))
            fhir = path == "/fhir" or path.startswith("/fhir/")
            if fhir and "/.well-known/" not in path and path != "/fhir/metadata":
                auth = str(environ.get("HTTP_AUTHORIZATION", ""))
                token = auth[7:] if auth.startswith("Bearer ") else None
                with self.lock:
                    self.requests.append((path, token))
            return wsgi(environ, start_response)

        return recording

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@dataclass(frozen=True)
class KtStack:
    sandbox: Sandbox
    sandbox_url: str
    app_url: str
    fhir: FhirLog
    app: Flask

    @property
    def portal(self) -> PortalKey:
        assert self.sandbox.auth.portal is not None
        return self.sandbox.auth.portal


@contextmanager
def running_kt_stack(workdir: Path, *, hti_check: str = "jwks") -> Iterator[KtStack]:
    """The sandbox in Koppeltaal mode and the app with its [[koppeltaal]] domain, over real HTTP; `hti_check`
    chooses how the app checks HTI tokens (the launching application's keys, or the domain's introspection)."""
    sandbox_port, app_port = free_port(), free_port()
    while app_port == sandbox_port:
        app_port = free_port()
    sandbox_url, app_url = f"http://{HOST}:{sandbox_port}", f"http://{HOST}:{app_port}"
    settings = SandboxSettings(base_url=sandbox_url, app_base_url=app_url, koppeltaal=True)
    key_file = workdir / "app-key.pem"
    write_private_key(key_file)
    mapping = app_config_mapping(
        app_base_url=app_url,
        sandbox=settings,
        secret_key="test-secret-" + "x" * 40,
        private_key_file=str(key_file),
        session_db=None,
    )
    assert "ehr" not in mapping and len(mapping["koppeltaal"]) == 1  # the demo's Koppeltaal configuration
    if hti_check == "introspection":
        domain = mapping["koppeltaal"][0]
        domain.pop("launcher_jwks")  # the app knows no launcher's keys: the domain vouches for the token
        domain["hti_check"] = "introspection"  # endpoint from the sandbox's SMART configuration
    app = create_app(config_from_mapping(mapping, env={}, base_dir=workdir))
    sandbox = create_sandbox(settings)
    sandbox.seed_demo_data()
    log = FhirLog()
    sandbox.app.wsgi_app = log.wrap(sandbox.app.wsgi_app)  # type: ignore[method-assign]
    servers: list[RunningServer] = []
    try:
        servers.append(RunningServer(sandbox.app, HOST, sandbox_port, "kt-sandbox"))
        servers.append(RunningServer(app, HOST, app_port, "kt-app"))
        wait_http(f"{settings.fhir_base_url}/metadata", timeout=20)
        wait_http(f"{app_url}/", timeout=20)
        yield KtStack(sandbox=sandbox, sandbox_url=sandbox_url, app_url=app_url, fhir=log, app=app)
    finally:
        for server in reversed(servers):
            server.stop()
        sandbox.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KtStack]:
    with running_kt_stack(tmp_path_factory.mktemp("koppeltaal")) as running:
        yield running


def _form(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the portal's launch form."""
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action is not None, "the portal page has no launch form"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in fields.items()}


def portal_launch(stack: KtStack, browser: requests.Session, patient: str) -> tuple[str, dict[str, str]]:
    page = browser.get(f"{stack.sandbox_url}/epd/koppeltaal/start/{patient}", timeout=10)
    assert page.status_code == 200
    return _form(page.text)


def assert_only_backend_tokens(stack: KtStack, since: int) -> int:
    """Every FHIR request since index `since` carried a live Backend Services token; returns how many there were."""
    with stack.fhir.lock:
        seen = stack.fhir.requests[since:]
    for path, token in seen:
        assert token is not None and token != NOOP, f"{path} without a Backend Services token"
        grant = stack.sandbox.auth.verify_token(token)
        assert grant is not None and grant.extra.get("grant_type") == "client_credentials", path
    return len(seen)


def test_practitioner_launch_reaches_the_group_with_backend_services_only(stack: KtStack) -> None:
    browser = requests.Session()
    browser.post(f"{stack.sandbox_url}/epd/login", data={"practitioner": PRACTITIONER}, timeout=10)
    action, fields = portal_launch(stack, browser, PATIENT)
    assert action == f"{stack.app_url}/launch"
    assert fields["iss"] == f"{stack.sandbox_url}/fhir"
    before = stack.fhir.count()
    task_reads = _task_reads(stack)

    first_view = browser.post(action, data=fields, timeout=30)

    assert first_view.status_code == 200, first_view.text[:500]
    assert re.fullmatch(rf"{re.escape(stack.app_url)}/c/[A-Za-z0-9_-]+/", first_view.url)
    user, task = f"Practitioner/{PRACTITIONER}", f"Task/resourcegroep-{PATIENT}"
    assert _task_reads(stack)[len(task_reads) :] == [(f"Patient/{PATIENT}", user, AuditOutcome.SUCCESS, (task,))]
    assert [urlsplit(r.url).path for r in first_view.history] == ["/launch", "/auth/authorize", "/callback"]
    assert "Ans Bakker" in first_view.text  # a member of Sanne's group, seen by her regieondersteuner
    summary = browser.get(first_view.url + "verbinding", timeout=10)
    assert summary.status_code == 200 and "Sanne Bakker" in summary.text and "Anna de Vries" in summary.text
    assert assert_only_backend_tokens(stack, before) > 0
    with stack.fhir.lock:
        first_read = stack.fhir.requests[before][0]
    assert first_read == f"/fhir/Task/{task_id(PATIENT)}"  # the launch's Task, read first (Backend Services)


def test_patient_launch_reaches_her_own_group_with_backend_services_only(stack: KtStack) -> None:
    browser = requests.Session()
    chosen = browser.post(f"{stack.sandbox_url}/epd/portal", data={"patient": PATIENT}, timeout=10)
    assert chosen.url == f"{stack.sandbox_url}/epd/portal/me"
    action, fields = portal_launch(stack, browser, PATIENT)
    sub = json.loads(base64.urlsafe_b64decode(fields["launch"].split(".")[1] + "=="))["sub"]
    assert sub == f"Patient/{PATIENT}"
    before = stack.fhir.count()

    first_view = browser.post(action, data=fields, timeout=30)

    assert first_view.status_code == 200, first_view.text[:500]
    assert "/c/" in first_view.url
    assert "Ans Bakker" in first_view.text
    assert assert_only_backend_tokens(stack, before) > 0


def test_after_a_401_the_launch_gets_a_new_backend_services_token(stack: KtStack) -> None:
    browser = requests.Session()
    browser.post(f"{stack.sandbox_url}/epd/login", data={"practitioner": PRACTITIONER}, timeout=10)
    action, fields = portal_launch(stack, browser, PATIENT)
    first_view = browser.post(action, data=fields, timeout=30)
    context_id = urlsplit(first_view.url).path.split("/")[2]

    with stack.app.app_context():
        context = smart_client().store.get_context(context_id)
        assert context is not None and context.access_token == NOOP
        launch = ActiveLaunch.from_context(context)
        before = launch.access_token()
        renewed = launch.renew_access_token()

    assert renewed != before and NOOP not in (before, renewed)
    grant = stack.sandbox.auth.verify_token(renewed)
    assert grant is not None and grant.extra.get("grant_type") == "client_credentials"


def _settled(stack: KtStack) -> int:
    """The FHIR request count once the audit trail has written what earlier launches queued: its background flush
    (a batch of AuditEvents to the same server, every 2 s) must not land inside the window a test counts."""
    stack.app.extensions["audit"].flush()
    return stack.fhir.count()


def _refused(stack: KtStack, token: str) -> requests.Response:
    before = _settled(stack)
    response = requests.post(
        f"{stack.app_url}/launch", data={"launch": token, "iss": f"{stack.sandbox_url}/fhir"}, timeout=30
    )
    assert "/c/" not in response.url and response.status_code in (400, 403), response.status_code
    assert not response.history  # no redirect to the authorization server
    assert stack.fhir.count() == before  # refused before any FHIR access
    return response


def _task_reads(stack: KtStack) -> list[tuple[str, str, AuditOutcome, tuple[str, ...]]]:
    """The access records of Koppeltaal Task reads in the local log, oldest first: (patient, user, outcome,
    entities). The launch's callback writes them before a launch exists, so they never go to a FHIR server."""
    trail = stack.app.extensions["audit"]
    trail.flush()
    return [
        (r.patient, r.user, r.outcome, r.entities)
        for r in reversed(trail.log.records())
        if r.app_action == VIEW_LAUNCH_TASK
    ]


def _sign(stack: KtStack, **overrides: Any) -> str:
    values: dict[str, Any] = {
        "audience": f"Device/{stack.sandbox.settings.client_id}",
        "subject": f"Practitioner/{PRACTITIONER}",
        "patient": f"Patient/{PATIENT}",
        "task": f"Task/resourcegroep-{PATIENT}",
    }
    values.update(overrides)
    return stack.portal.sign(**values)


def test_replayed_hti_token_is_refused(stack: KtStack) -> None:
    browser = requests.Session()
    browser.post(f"{stack.sandbox_url}/epd/login", data={"practitioner": PRACTITIONER}, timeout=10)
    action, fields = portal_launch(stack, browser, PATIENT)
    assert browser.post(action, data=fields, timeout=30).status_code == 200

    page = _refused(stack, fields["launch"])
    assert "niet meer" in page.text or "no longer" in page.text


def test_expired_hti_token_is_refused(stack: KtStack) -> None:
    _refused(stack, _sign(stack, lifetime=-120))


def test_hti_token_for_another_module_is_refused(stack: KtStack) -> None:
    _refused(stack, _sign(stack, audience="Device/another-module"))


def test_unsigned_hti_token_is_refused(stack: KtStack) -> None:
    payload = _sign(stack).split(".")[1]
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    _refused(stack, f"{header}.{payload}.")


def test_a_get_launch_into_the_koppeltaal_domain_is_refused(stack: KtStack) -> None:
    before = _settled(stack)
    response = requests.get(
        f"{stack.app_url}/launch", params={"iss": f"{stack.sandbox_url}/fhir", "launch": "x"}, timeout=30
    )
    assert response.status_code == 400 and not response.history
    assert stack.fhir.count() == before


def test_noop_opens_nothing_at_the_fhir_endpoint(stack: KtStack) -> None:
    response = requests.get(
        f"{stack.sandbox_url}/fhir/Patient/{PATIENT}", headers={"Authorization": f"Bearer {NOOP}"}, timeout=10
    )
    assert response.status_code == 401


def _practitioner_browser(stack: KtStack, practitioner: str = PRACTITIONER) -> requests.Session:
    browser = requests.Session()
    browser.post(f"{stack.sandbox_url}/epd/login", data={"practitioner": practitioner}, timeout=10)
    return browser


def _launch(stack: KtStack, browser: requests.Session, token: str) -> requests.Response:
    data = {"launch": token, "iss": f"{stack.sandbox_url}/fhir"}
    return browser.post(f"{stack.app_url}/launch", data=data, timeout=30)


def test_a_launch_for_another_person_than_the_one_logged_in_is_refused_by_the_domain(stack: KtStack) -> None:
    browser = _practitioner_browser(stack)  # Anna is signed in at the EPD ...
    before = stack.fhir.count()

    page = _launch(stack, browser, _sign(stack, subject="Practitioner/bram-jansen"))  # ... the token says Bram

    assert page.status_code == 403 and "/c/" not in page.url
    assert urlsplit(page.url).path == "/auth/authorize"  # refused by the domain's authorization service
    assert "U bent als iemand anders ingelogd" in page.text
    assert stack.fhir.count() == before


def test_a_task_of_another_patient_is_refused(stack: KtStack) -> None:
    browser = _practitioner_browser(stack)
    other_task = f"Task/{task_id('mohammed-el-amrani')}"
    before = stack.fhir.count()
    task_reads = _task_reads(stack)

    page = _launch(stack, browser, _sign(stack, task=other_task))

    assert page.status_code == 403 and "/c/" not in page.url
    assert urlsplit(page.url).path == "/callback"
    assert "De taak van deze start is niet gevonden" in page.text
    with stack.fhir.lock:
        paths = [path for path, _ in stack.fhir.requests[before:]]
    assert paths == [f"/fhir/{other_task}"]  # the Task was read (Backend Services) and nothing else
    assert_only_backend_tokens(stack, before)
    # The read is on record, as the other patient's (whose Task it is), refused.
    read = ("Patient/mohammed-el-amrani", f"Practitioner/{PRACTITIONER}", AuditOutcome.REFUSED, (other_task,))
    assert _task_reads(stack)[len(task_reads) :] == [read]


def test_a_task_that_does_not_exist_is_refused(stack: KtStack) -> None:
    browser = _practitioner_browser(stack)
    task_reads = _task_reads(stack)
    page = _launch(stack, browser, _sign(stack, task="Task/does-not-exist"))
    assert page.status_code == 403 and "/c/" not in page.url
    # The attempt is on record as the launch patient's, with nothing read.
    attempt = (f"Patient/{PATIENT}", f"Practitioner/{PRACTITIONER}", AuditOutcome.REFUSED, ())
    assert _task_reads(stack)[len(task_reads) :] == [attempt]


@pytest.fixture(scope="module")
def introspecting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KtStack]:
    with running_kt_stack(tmp_path_factory.mktemp("koppeltaal-introspection"), hti_check="introspection") as running:
        yield running


def test_with_introspection_a_launch_reaches_the_group(introspecting: KtStack) -> None:
    browser = _practitioner_browser(introspecting)
    action, fields = portal_launch(introspecting, browser, PATIENT)
    before = introspecting.fhir.count()

    first_view = browser.post(action, data=fields, timeout=30)

    assert first_view.status_code == 200, first_view.text[:500]
    assert "Ans Bakker" in first_view.text
    assert introspecting.fhir.introspections == ["POST"]  # asked the domain once, before anything else
    assert assert_only_backend_tokens(introspecting, before) > 0


@pytest.mark.parametrize(
    "change",
    [{"audience": "Device/another-module"}, {"lifetime": -120}],
    ids=["for another module", "expired"],
)
def test_with_introspection_an_inactive_token_is_refused(introspecting: KtStack, change: dict[str, Any]) -> None:
    asked = len(introspecting.fhir.introspections)
    page = _refused(introspecting, _sign(introspecting, **change))
    assert len(introspecting.fhir.introspections) == asked + 1  # the domain said: not active
    assert "Deze startlink is niet geldig" in page.text  # Dutch, the app's default language


def test_with_introspection_a_replayed_token_is_refused(introspecting: KtStack) -> None:
    browser = _practitioner_browser(introspecting)
    action, fields = portal_launch(introspecting, browser, PATIENT)
    assert browser.post(action, data=fields, timeout=30).status_code == 200
    _refused(introspecting, fields["launch"])  # the domain still says active: the app's jti memory refuses it
