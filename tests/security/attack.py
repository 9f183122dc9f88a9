"""What the attack suite shares: browsers (a `requests.Session` each) that log in at the running sandbox EPD and
launch the app as a browser would, and a snapshot of the FHIR record to prove that an attack changed nothing.

    alice = Browser.ehr(stack, "anna-de-vries", "sanne-bakker")   # EPD login, patient page, iframe src followed
    before = record(stack)
    response = alice.post("/naam", {"name": "x"}, csrf=False)
    refused(response, 400, "Het formulier is verlopen")
    assert record(stack) == before
"""

from __future__ import annotations

import html as htmllib
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from werkzeug.serving import make_server

from plugin.app import create_app
from plugin.config import AppConfig
from sandbox.fhir import create_fhir_app
from smart_launch import EhrRegistration
from tests.support.servers import free_port, wait_http
from tests.support.stack import Stack, iframe_src

TIMEOUT = 30
SANNE = "sanne-bakker"
MOHAMMED = "mohammed-el-amrani"
ANNA = "anna-de-vries"
BRAM = "bram-jansen"
LOTTE = "lotte-smit"

# Resource types the app writes on the patient's behalf: the clinical record whose versions must not move. The
# AuditEvents an attack may cause (NEN 7513 logs refusals too) are not part of the record.
NOT_THE_RECORD = frozenset({"AuditEvent"})

FormData = dict[str, Any] | list[tuple[str, Any]] | None
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_TITLE = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
_CONTEXT = re.compile(r"/c/([A-Za-z0-9_-]+)/")


# ------------------------------------------------------------------------------------------------ the record


@dataclass(frozen=True)
class Record:
    """The sandbox store as versions: every (type, id, versionId) now current, and how many versions it ever held."""

    current: frozenset[tuple[str, str, int]]
    versions: int

    def changed_since(self, before: Record) -> list[tuple[str, str, int]]:
        return sorted(self.current ^ before.current)


def record(stack: Stack) -> Record:
    """A snapshot of the FHIR record behind the running sandbox (count + versionIds of every resource)."""
    store = stack.sandbox.store
    assert store is not None, "the attack suite needs the sandbox's own store"
    with store._lock:
        rows = store._conn.execute("SELECT type, id, version FROM current").fetchall()
        counted = store._conn.execute("SELECT type, COUNT(*) FROM history GROUP BY type").fetchall()
    rows = [row for row in rows if row[0] not in NOT_THE_RECORD]
    versions = sum(int(n) for t, n in counted if t not in NOT_THE_RECORD)
    return Record(frozenset((str(t), str(i), int(v)) for t, i, v in rows), int(versions))


def assert_unchanged(stack: Stack, before: Record, what: str = "") -> None:
    after = record(stack)
    assert after == before, f"{what}: the FHIR record changed: {after.changed_since(before)}"


def resources(stack: Stack, rtype: str) -> list[dict[str, Any]]:
    """Every current resource of a type in the sandbox store (to find ids; never to write)."""
    store = stack.sandbox.store
    assert store is not None
    return list(store.search(rtype, [("_count", "1000")]).matches)


def related_person_id(stack: Stack, name: str) -> str:
    found = [r["id"] for r in resources(stack, "RelatedPerson") if (r.get("name") or [{}])[0].get("text") == name]
    assert len(found) == 1, (name, found)
    return str(found[0])


@contextmanager
def side_door(stack: Stack) -> Iterator[str]:
    """The sandbox store served without authorization on another loopback port, to read the group the way the app
    does (for the uids the attacks need). Reads only: nothing the attacks do goes through it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    app = create_fhir_app(store=stack.sandbox.store, auth_enabled=False, base_path="/fhir", public_base_url=base)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        wait_http(f"{base}/metadata", timeout=20)
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


# ------------------------------------------------------------------------------------------------ pages


def title(response: requests.Response) -> str:
    """The page's <h1>, as text."""
    found = _TITLE.search(response.text)
    return htmllib.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else ""


def refused(response: requests.Response, status: int | tuple[int, ...], dutch: str, what: str = "") -> None:
    """The answer is a refusal with this status and a page that says `dutch` (in its title or text)."""
    wanted = status if isinstance(status, tuple) else (status,)
    body = htmllib.unescape(response.text)
    assert response.status_code in wanted, f"{what}: {response.status_code}, expected {wanted}: {body[-800:]}"
    assert dutch in body, f"{what}: the page does not say {dutch!r}: {title(response)!r} {body[-800:]}"
    assert 'lang="nl"' in response.text, f"{what}: the refusal page is not in Dutch"


# ------------------------------------------------------------------------------------------------ browsers


@dataclass
class Browser:
    """One browser (its own cookie jar) with, after a launch, the app's context of that launch."""

    stack: Stack
    http: requests.Session = field(default_factory=requests.Session)
    context_url: str = ""  # http://app/c/<context_id>/
    launch_hops: list[str] = field(default_factory=list)  # the URLs the launch went through
    landing: requests.Response | None = None  # the first page after the launch
    token: str = ""  # this browser's CSRF token, read once from a page (it holds for the whole session)

    # -------------------------------------------------------------- launching

    @classmethod
    def ehr(cls, stack: Stack, practitioner: str, patient: str) -> Browser:
        """Log in at the EPD as `practitioner`, open `patient`'s app page, follow the iframe to the app."""
        browser = cls(stack)
        browser.epd_login(practitioner)
        browser.finish(browser.http.get(browser.iframe(patient), timeout=TIMEOUT))
        return browser

    @classmethod
    def portal(cls, stack: Stack, person: str) -> Browser:
        """Log in at the EPD's portal as `person` ("Patient/x" or "RelatedPerson/y") and launch standalone."""
        browser = cls(stack)
        chosen = browser.http.post(f"{stack.sandbox_url}/epd/portal", data={"person": person}, timeout=TIMEOUT)
        assert chosen.url.endswith("/epd/portal/me"), chosen.url
        src = iframe_src(browser.http.get(f"{stack.sandbox_url}/epd/portal/me/app", timeout=TIMEOUT).text)
        start = browser.http.get(src, timeout=TIMEOUT)
        link = re.search(r'href="(/standalone/[^"]+)"', start.text)
        assert link is not None, "the start page offers no login at the sandbox EPD"
        browser.finish(browser.http.get(f"{stack.app_url}{htmllib.unescape(link.group(1))}", timeout=TIMEOUT))
        return browser

    def epd_login(self, practitioner: str) -> None:
        login = self.http.post(
            f"{self.stack.sandbox_url}/epd/login", data={"practitioner": practitioner}, timeout=TIMEOUT
        )
        assert login.url.endswith("/epd/patients"), login.url

    def iframe(self, patient: str) -> str:
        """The app URL (with a fresh `launch`) on the EPD page of `patient`."""
        page = self.http.get(f"{self.stack.sandbox_url}/epd/patients/{patient}/app", timeout=TIMEOUT)
        return iframe_src(page.text)

    def finish(self, response: requests.Response) -> None:
        # 403: a launch for someone the group shows nothing (a nominee); the launch itself worked.
        assert response.status_code in (200, 403), f"the launch failed: {response.status_code} {response.text[-800:]}"
        self.landing = response
        found = _CONTEXT.search(urlsplit(response.url).path)
        assert found is not None, f"the launch did not reach a group page: {response.url}"
        self.context_url = f"{self.stack.app_url}/c/{found.group(1)}/"
        self.launch_hops = [r.url for r in response.history]

    def authorize_url(self, patient: str) -> str:
        """Start an EHR launch for `patient` (already logged in at the EPD) and stop at the authorize redirect."""
        started = self.http.get(self.iframe(patient), allow_redirects=False, timeout=TIMEOUT)
        assert started.status_code == 302, started.text[-500:]
        return str(started.headers["Location"])

    def callback_url(self, patient: str) -> str:
        """Run an EHR launch up to the redirect back to the app: the `/callback?code=…&state=…` URL, not opened."""
        authorized = self.http.get(self.authorize_url(patient), allow_redirects=False, timeout=TIMEOUT)
        assert authorized.status_code == 302, authorized.text[-500:]
        location = str(authorized.headers["Location"])
        assert location.startswith(f"{self.stack.app_url}/callback?") and "code=" in location, location
        return location

    # -------------------------------------------------------------- using the app

    @property
    def context_id(self) -> str:
        return self.context_url.rstrip("/").rsplit("/", 1)[1]

    def url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        if path.startswith("/") or not self.context_url:
            return urljoin(self.stack.app_url, path)
        return self.context_url + path.lstrip("/")

    def get(self, path: str = "", **kw: Any) -> requests.Response:
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.http.get(self.url(path), **kw)

    def csrf_token(self, path: str = "") -> str:
        """The CSRF token of a form on a page of this browser's launch (every page has the logout form)."""
        if self.token and not path:
            return self.token
        for where in (path, "verbinding") if not path else (path,):  # the launch summary: a page for everyone
            page = self.get(where)
            found = _CSRF.search(page.text)
            if found is not None:
                self.token = htmllib.unescape(found.group(1))
                return self.token
        raise AssertionError(f"no CSRF token on {path or 'the overview'}: {page.status_code}")

    def post(
        self,
        path: str,
        data: dict[str, Any] | list[tuple[str, Any]] | None = None,
        *,
        csrf: bool | str = True,
        **kw: Any,
    ) -> requests.Response:
        """POST a form as the page would: a CSRF token of this browser (or `csrf`, a token string) and a fresh
        submission key, unless the data brings their own."""
        form = list(data.items()) if isinstance(data, dict) else list(data or [])
        names = {k for k, _ in form}
        if csrf and "csrf_token" not in names:
            form.append(("csrf_token", csrf if isinstance(csrf, str) else self.csrf_token()))
        if "submission_key" not in names:
            form.append(("submission_key", str(uuid.uuid4())))
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.http.post(self.url(path), data=form, **kw)

    @property
    def app_cookie(self) -> str:
        return str(self.http.cookies.get("rg_session") or "")


# ------------------------------------------------------------------------------------------------ the app's routes


@dataclass(frozen=True)
class Route:
    rule: str
    endpoint: str
    methods: frozenset[str]
    arguments: frozenset[str]

    def path(self, values: dict[str, str]) -> str:
        """The rule with its `<…>` parts filled in from `values`."""
        return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: values[m.group(1)], self.rule)


def app_routes(tmp: Path) -> list[Route]:
    """Every rule of the app's URL map (the app built the way the stack builds it; no server needed)."""
    config = AppConfig(
        public_base_url="http://app.test",
        secret_key="routes-only-" + "x" * 40,
        ehrs=(EhrRegistration(name="sandbox", iss="http://ehr.test/fhir", client_id="resourcegroep", title="EPD"),),
        outbox_db=str(tmp / "routes-outbox.sqlite3"),
    )
    app = create_app(config)
    return [
        Route(r.rule, r.endpoint, frozenset((r.methods or set()) - {"HEAD", "OPTIONS"}), frozenset(r.arguments))
        for r in app.url_map.iter_rules()
    ]


_FLASH = re.compile(r'<p class="flash flash-(\w+)">(.*?)</p>', re.S)


def flashes(response: requests.Response) -> list[tuple[str, str]]:
    """The (category, text) messages shown on a page."""
    return [(c, htmllib.unescape(t).strip()) for c, t in _FLASH.findall(response.text)]


def turned_down(browser: Browser, response: requests.Response, what: str) -> str:
    """An action's answer is a refusal: a 4xx page in Dutch, or (for the small buttons that go back to the page
    they were on) a redirect to a page of this launch that shows an error message. Returns the message or title."""
    if response.status_code == 303:
        location = response.headers["Location"]
        assert location.startswith(urlsplit(browser.context_url).path), f"{what}: redirected to {location}"
        shown = browser.get(location)
        errors = [text for category, text in flashes(shown) if category == "error"]
        assert errors, f"{what}: accepted (303) without an error message; flashes: {flashes(shown)}"
        return errors[0]
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text[-600:]}"
    assert 'lang="nl"' in response.text, f"{what}: the refusal is not in Dutch"
    return title(response)
