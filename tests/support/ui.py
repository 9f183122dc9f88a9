"""A launched app for view tests: the real app, a real FHIR store over HTTP (the sandbox's, demo data in it).

    with launched(tmp_path, patient="sanne-bakker") as env:
        page = env.get("/leden")                   # GET /c/<context>/leden, asserting nothing
        assert page.status_code == 200
        r = env.post("/leden/nomineren", {...})     # CSRF token filled in from the session
        env.store                                    # the FhirStore behind it, to check what was written

No OAuth dance: the launch context is written into the app's session store directly, bound to the test
client's browser session, as the real callback would (the launch itself is tested in tests/unit/plugin/launch).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask, session
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from plugin.app import create_app
from plugin.config import AppConfig
from plugin.session_store import CREATED
from sandbox import demo_data
from sandbox.fhir import FhirStore, create_fhir_app
from smart_launch import EhrRegistration, LaunchContext, SessionStore
from tests.support.servers import free_port, wait_http

SECRET = "ui-test-secret-key-that-is-long-enough-0123456789"
RESOURCE_TYPES = (
    "CareTeam",
    "CarePlan",
    "Goal",
    "Task",
    "Appointment",
    "Communication",
    "Observation",
    "RelatedPerson",
    "Location",
)
WRITE_SCOPES = (
    "launch",
    "openid",
    "fhirUser",
    *(f"patient/{t}.crus" for t in RESOURCE_TYPES),
    "patient/Provenance.c",
    "patient/Patient.r",
    "patient/Practitioner.rs",
)
READ_SCOPES = (
    "launch",
    "openid",
    "fhirUser",
    *(f"patient/{t}.rs" for t in RESOURCE_TYPES),
    "patient/Patient.r",
    "patient/Practitioner.rs",
)
_TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class LaunchedApp:
    """The app, a browser (test client) with a launch, and the FHIR store behind it."""

    app: Flask
    client: FlaskClient
    context_id: str
    fhir_base: str
    store: FhirStore
    session_id: str

    @property
    def prefix(self) -> str:
        return f"/c/{self.context_id}"

    def url(self, path: str) -> str:
        """`/c/<context>` + path (path may be '' or start with '/'; an absolute /c/ path is kept)."""
        return path if path.startswith("/c/") else f"{self.prefix}{path or '/'}"

    def get(self, path: str = "/", **kw: Any) -> TestResponse:
        return self.client.get(self.url(path), **kw)

    def csrf_token(self) -> str:
        """A valid CSRF token for this browser session, made as a form page would make it."""
        with self.app.test_request_context(headers={"Cookie": f"rg_session={self.session_id}"}):
            token = str(generate_csrf())
            self.app.session_interface.save_session(self.app, session, self.app.response_class())
        return token

    def page_token(self, path: str) -> str:
        """The CSRF token in the form of a page (to check that the page really carries one)."""
        found = _TOKEN_RE.search(self.get(path).get_data(as_text=True))
        if found is None:
            raise AssertionError(f"no CSRF token on {path}")
        return found.group(1)

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kw: Any) -> TestResponse:
        """POST a form; the CSRF token is added unless `csrf=False`, and a fresh submission key unless given."""
        form = dict(data or {})
        if csrf and "csrf_token" not in form:
            form["csrf_token"] = self.csrf_token()
        form.setdefault("submission_key", str(uuid.uuid4()))
        return self.client.post(self.url(path), data=form, **kw)

    def act_as(self, user: str) -> None:
        """The same browser and store, from now on launched by `user` (e.g. a RelatedPerson whose id the store made)."""
        sessions: SessionStore = self.app.extensions["session_store"]
        context = sessions.get_context(self.context_id)
        if context is None:
            raise AssertionError("the launch context is gone")
        sessions.save_context(dataclasses.replace(context, fhir_user=user))

    def resources(self, rtype: str) -> list[dict[str, Any]]:
        """Every current resource of a type in the store (to check what was written), in the order they were made
        (not a search: a search answers at most the store's 1,000 matches)."""
        return self.store.all_of_type(rtype)


def plant_launch(
    sessions: SessionStore,
    *,
    iss: str,
    patient: str,
    user: str,
    scopes: tuple[str, ...],
    need_patient_banner: bool = True,
    ehr_name: str = "sandbox",
    lifetime: float = 3600.0,
) -> tuple[str, LaunchContext]:
    """A browser session and an EHR launch in it, written straight into the app's session store (no OAuth round
    trip; the FHIR store behind `iss` checks no token): (session id for the cookie, the launch context)."""
    now = time.time()
    sid = secrets.token_urlsafe(32)
    sessions.save_session(sid, {"since": 1, CREATED: now}, now + lifetime)
    context = LaunchContext(
        context_id=secrets.token_urlsafe(16),
        session_id=sid,
        ehr_name=ehr_name,
        iss=iss,
        client_id="resourcegroep",
        launch_kind="ehr",
        access_token="not-checked-by-the-test-store",
        token_type="Bearer",
        expires_at=now + lifetime,
        granted_scopes=scopes,
        created_at=now,
        ends_at=now + max(8 * 3600, lifetime),
        patient=patient,
        fhir_user=user,
        need_patient_banner=need_patient_banner,
    )
    sessions.save_context(context)
    return sid, context


@contextmanager
def launched(
    tmp_path: Path,
    *,
    patient: str | None = "sanne-bakker",
    user: str = "Practitioner/anna-de-vries",
    scopes: tuple[str, ...] = WRITE_SCOPES,
    need_patient_banner: bool = True,
    seed: bool = True,
    today: date | None = None,
    mapping: str = "nl-core",
) -> Iterator[LaunchedApp]:
    """Serve a sandbox FHIR store with demo data on a free port, and an app launched for `patient` as `user`."""
    store = FhirStore(":memory:")
    if seed:
        demo_data.seed(store.load, today)
    for attempt in range(5):  # a free port can be taken by another process before we bind it: take another
        port = free_port()
        base = f"http://127.0.0.1:{port}/fhir"
        fhir_app = create_fhir_app(store=store, auth_enabled=False, base_path="/fhir", public_base_url=base)
        try:
            server = make_server("127.0.0.1", port, fhir_app, threaded=True)
            break
        except OSError:
            if attempt == 4:
                raise
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        wait_http(f"{base}/metadata", timeout=20)
        config = AppConfig(
            public_base_url="http://app.test",
            secret_key=SECRET,
            ehrs=(
                EhrRegistration(
                    name="sandbox", iss=base, client_id="resourcegroep", title="Sandbox EPD", mapping=mapping
                ),
            ),
            session_cookie_secure=False,
            session_cookie_samesite="Lax",
            outbox_db=str(tmp_path / "outbox.sqlite3"),
        )
        app = create_app(config)
        app.config["TESTING"] = True
        client = app.test_client()
        sid, context = plant_launch(
            app.extensions["session_store"],
            iss=base,
            patient=patient,
            user=user,
            scopes=scopes,
            need_patient_banner=need_patient_banner,
        )
        client.set_cookie("rg_session", sid, domain="localhost")
        yield LaunchedApp(app, client, context.context_id, base, store, sid)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        store.close()


_LOGOUT_FORM = re.compile(r'<form method="post" action="/uitloggen"[^>]*>.*?</form>', re.DOTALL)


def without_logout(html: str) -> str:
    """The page without its "log out of the app" form (in every page's footer; logging out needs no right)."""
    return _LOGOUT_FORM.sub("", html)
