"""A small FHIR R4 REST client on ``requests``: retries, paging, typed errors, one refresh on 401.

Why not a generic FHIR client library: we need exact control over which requests are retried
(only idempotent ones), over paging links (a ``next`` link may never leave the server's base), and
over logging (never tokens, never clinical free text).
"""

from __future__ import annotations

import email.utils
import functools
import http.cookiejar
import json
import logging
import os
import posixpath
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
import requests
import requests.adapters
import requests.utils
import urllib3.exceptions

from plugin.sync.errors import (
    BadRequest,
    Forbidden,
    Gone,
    Invalid,
    JsonDict,
    NextLinkRefused,
    NotFound,
    PreconditionFailed,
    ServerUnavailable,
    SyncError,
    Timeout,
    Unauthorized,
    describe_issues,
    outcome_issues,
    required_permission,
)

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
Params = Mapping[str, str] | Sequence[tuple[str, str]]

# Issue codes that mean "the content is wrong" rather than "the request is malformed".
_VALIDATION_CODES = frozenset(
    {"invalid", "structure", "required", "value", "invariant", "code-invalid", "business-rule", "extension"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class TokenProvider(Protocol):
    """Gives the current bearer token; ``refresh()`` forces a new one (called once after a 401)."""

    def __call__(self) -> str: ...

    def refresh(self) -> str: ...


class StaticTokenProvider:
    """A fixed token (tests, the worker's env token): ``refresh()`` cannot help, so a second 401 means re-launch."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self) -> str:
        return self._token

    def refresh(self) -> str:
        return self._token


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter for idempotent requests."""

    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 4.0
    # A Retry-After longer than this is not waited for in a request: the change goes to the outbox instead.
    max_retry_after: float = 20.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class FhirResponse:
    """One answer from the server: status, parsed JSON body (or None) and the headers that matter."""

    status: int
    body: JsonDict | None
    headers: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    # The body as received (the compartment check of a load scans it once instead of walking every resource).
    raw: bytes = field(default=b"", repr=False, compare=False)

    @property
    def etag(self) -> str | None:
        """The ``ETag`` header, e.g. ``W/"3"``."""
        return self.headers.get("ETag") or self.headers.get("etag")

    @property
    def version_id(self) -> str | None:
        """The version id from the ETag (``W/"3"`` -> ``3``), else from ``meta.versionId``."""
        if self.etag:
            return parse_etag(self.etag)
        if self.body:
            meta = self.body.get("meta") or {}
            vid = meta.get("versionId")
            return str(vid) if vid is not None else None
        return None

    @property
    def location(self) -> str | None:
        """The ``Location`` header (after a create), absolute or relative as the server sent it."""
        return self.headers.get("Location") or self.headers.get("location")

    def json(self) -> JsonDict:
        """The body, or an error when the server sent none (a caller that needs a body)."""
        if self.body is None:
            raise SyncError(f"expected a JSON body from {self.url} (status {self.status}), got none")
        return self.body


def parse_etag(etag: str) -> str:
    """``W/"3"`` or ``"3"`` -> ``3``."""
    value = etag.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def weak_etag(version_id: str) -> str:
    """``3`` -> ``W/"3"`` (the form FHIR servers expect in If-Match / Bundle.entry.request.ifMatch)."""
    return f'W/"{version_id}"'


def _never_sent(exc: BaseException) -> bool:
    """True when the connection was never established, so the server cannot have seen the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if type(cur).__name__ in {"NewConnectionError", "NameResolutionError"}:
            return True
        reason = getattr(cur, "reason", None)
        if isinstance(reason, BaseException):
            cur = reason
            continue
        nxt = cur.args[0] if cur.args and isinstance(cur.args[0], BaseException) else cur.__cause__
        cur = nxt
    return False


def _interaction(method: str, rel_path: str) -> tuple[str | None, str | None]:
    """(resource type, interaction) of a request path relative to the base, for permission messages."""
    parts = [p for p in rel_path.split("?")[0].split("/") if p]
    rtype = parts[0] if parts and parts[0][:1].isupper() else None
    m = method.upper()
    if rtype is None:
        return None, None
    if m == "GET":
        if len(parts) == 1 or parts[-1] == "_search":
            return rtype, "search"
        if "_history" in parts and len(parts) >= 4:
            return rtype, "vread"
        return rtype, "read"
    if m == "POST":
        return rtype, "search" if parts[-1] == "_search" else "create"
    return rtype, {"PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(m)


def bundle_permissions(bundle: JsonDict, context: str = "patient") -> str:
    """The SMART scopes a transaction/batch Bundle needs, one per type: ``patient/Goal.cu patient/Provenance.c``."""
    letters: dict[str, set[str]] = {}
    for entry in bundle.get("entry") or []:
        req = entry.get("request") or {}
        rtype, interaction = _interaction(str(req.get("method", "")), str(req.get("url", "")))
        if rtype and interaction:
            letters.setdefault(rtype, set()).add(required_permission(rtype, interaction, context)[-1])
    order = "cruds"
    return " ".join(f"{context}/{t}.{''.join(sorted(ls, key=order.index))}" for t, ls in sorted(letters.items()))


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Never keep a cookie: a shared connection pool must not carry one launch's cookies into another's requests."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


@dataclass(frozen=True)
class EnvironmentSettings:
    """What ``requests`` would take from the environment for one server: the proxies (``HTTPS_PROXY``,
    ``HTTP_PROXY``, ``ALL_PROXY``, with ``NO_PROXY``) and the CA bundle (``REQUESTS_CA_BUNDLE``,
    ``CURL_CA_BUNDLE``; else verification with the default bundle)."""

    proxies: Mapping[str, str]
    verify: bool | str


@functools.lru_cache(maxsize=256)
def environment_settings(scheme: str, netloc: str) -> EnvironmentSettings:
    """The environment's settings for requests to ``scheme://netloc``, read once per server and process.

    ``requests`` reads them on every request (with ``trust_env``: every proxy variable, ``NO_PROXY`` and a
    ``.netrc`` lookup, ~0.3 ms a page view); the shared sessions do not trust the environment and pass these
    instead. A ``.netrc`` entry is never used: a FHIR request carries its own bearer token, which netrc's basic
    authentication would replace. Changed variables take effect after a restart (``cache_clear`` in tests).
    """
    url = f"{scheme}://{netloc}/"
    proxies = requests.utils.get_environ_proxies(url)
    verify: bool | str = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return EnvironmentSettings(dict(proxies), verify)


def read_body(resp: requests.Response) -> bytes:
    """The whole body of a response sent with ``stream=True``, read at once and kept as its ``content``.

    ``requests`` reads a body in 10 KB pieces and joins them: a loop per piece (~0.25 ms of CPU for a typical
    group's 130 KB answer, 29-43 ms for the huge group's 25 MB against ~10). One read of the whole body fails as
    ``requests`` would (the same exceptions), and it gives the connection back to the pool as ``requests`` does
    (urllib3 releases it once the body is read to its end)."""
    # Read already (a transport adapter or hook looked at it): kept as it is.
    if resp.__dict__.get("_content", False) is not False:
        return resp.content
    raw = resp.raw
    if raw is None:
        data = b""
    else:
        try:
            data = raw.read(decode_content=True)
        except urllib3.exceptions.ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        except urllib3.exceptions.DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.exceptions.ConnectionError(exc) from exc
        except urllib3.exceptions.SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
    body = bytes(data or b"")
    # What `Response.content` would have set: later readers (`.content`, `.json()`, `.text`) see the same body.
    resp._content = body
    resp._content_consumed = True  # type: ignore[attr-defined]  # requests sets it in `content`; untyped
    return body


class SharedSessions:
    """One ``requests.Session`` per thread, shared by every client made in that thread.

    A page request makes a new :class:`FhirClient` (the launch's token), but its connections should not be new:
    the thread's session keeps a keep-alive pool per FHIR server (scheme, host, port), so the next request to the
    same server skips the TCP (and TLS) handshake. A ``Session`` is not meant to be shared between threads, hence
    one per thread; it keeps no cookies (``_NoCookies``) and no auth: tokens go in each request's headers. It does
    not read the environment per request: the client passes :func:`environment_settings` of the server instead.
    """

    def __init__(self, pool_connections: int = 8, pool_maxsize: int = 4) -> None:
        self._local = threading.local()
        self._pool_connections = pool_connections
        self._pool_maxsize = pool_maxsize

    def get(self) -> requests.Session:
        """This thread's session (made on first use)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # the environment is read once per server: environment_settings
            session.cookies.set_policy(_NoCookies())
            for prefix in ("https://", "http://"):
                adapter = requests.adapters.HTTPAdapter(
                    pool_connections=self._pool_connections, pool_maxsize=self._pool_maxsize
                )
                session.mount(prefix, adapter)
            self._local.session = session
        return session


_SHARED_SESSIONS = SharedSessions()


class FhirClient:
    """FHIR R4 REST client bound to one server base URL and one token provider.

    Without a ``session`` of its own, every request goes through this thread's shared session (kept-alive
    connections per server, see :class:`SharedSessions`); a client is cheap to make per page request.
    """

    def __init__(
        self,
        base_url: str,
        token_provider: TokenProvider | None = None,
        *,
        scope_context: str = "patient",
        connect_timeout: float = 3.0,
        read_timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_provider = token_provider
        self.scope_context = scope_context
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry or RetryPolicy()
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self._rng = rng  # made on the first backoff: seeding one reads the OS's randomness, per page otherwise
        self._lock = threading.Lock()
        self._request_count = 0
        base = urlsplit(self.base_url)
        self._base_origin = (base.scheme, (base.hostname or "").lower(), base.port or _DEFAULT_PORTS.get(base.scheme))
        self._base_path = base.path.rstrip("/")

    @property
    def session(self) -> requests.Session:
        """The session requests go through: the client's own, else this thread's shared one."""
        return self._session if self._session is not None else _SHARED_SESSIONS.get()

    # ------------------------------------------------------------------ counters

    @property
    def request_count(self) -> int:
        """HTTP round trips made by this client (every attempt counts, including retries and refresh retries)."""
        with self._lock:
            return self._request_count

    def _count(self) -> None:
        with self._lock:
            self._request_count += 1

    # ------------------------------------------------------------------ high-level interactions

    def metadata(self) -> FhirResponse:
        """``GET [base]/metadata`` (the CapabilityStatement)."""
        return self.request("GET", "metadata", idempotent=True)

    def read(self, resource_type: str, resource_id: str) -> FhirResponse:
        """``GET [base]/Type/id``."""
        return self.request("GET", f"{resource_type}/{resource_id}", idempotent=True)

    def vread(self, resource_type: str, resource_id: str, version_id: str) -> FhirResponse:
        """``GET [base]/Type/id/_history/vid``."""
        return self.request("GET", f"{resource_type}/{resource_id}/_history/{version_id}", idempotent=True)

    def search(
        self, resource_type: str, params: Params = (), *, headers: Mapping[str, str] | None = None
    ) -> FhirResponse:
        """``GET [base]/Type?params`` (first page only; see :meth:`pages`). Repeated keys: pass tuples."""
        return self.request("GET", resource_type, params=params, headers=headers, idempotent=True)

    def create(self, resource: JsonDict, *, if_none_exist: str | None = None) -> FhirResponse:
        """``POST [base]/Type``; with ``if_none_exist`` it is a conditional create and therefore retried."""
        headers = {"If-None-Exist": if_none_exist} if if_none_exist else None
        return self.request(
            "POST", resource["resourceType"], body=resource, headers=headers, idempotent=bool(if_none_exist)
        )

    def update(self, resource: JsonDict, *, if_match: str | None = None) -> FhirResponse:
        """``PUT [base]/Type/id`` with an optional ``If-Match`` (``W/"vid"``)."""
        headers = {"If-Match": if_match} if if_match else None
        path = f"{resource['resourceType']}/{resource['id']}"
        return self.request("PUT", path, body=resource, headers=headers, idempotent=True)

    def transaction(self, bundle: JsonDict, *, idempotent: bool) -> FhirResponse:
        """POST a ``transaction`` Bundle. ``idempotent``: every create has ifNoneExist and every update ifMatch.

        Only then is the transaction retried after a timeout or 5xx; see ``transaction.is_idempotent``.
        """
        if bundle.get("type") != "transaction":
            raise ValueError("transaction() needs a Bundle of type 'transaction'")
        return self.request("POST", "", body=bundle, idempotent=idempotent, permission=self._bundle_scope(bundle))

    def batch(self, bundle: JsonDict, *, parse: bool = True) -> FhirResponse:
        """POST a ``batch`` Bundle; retried when every entry is a GET (a batch of reads/searches).

        ``parse=False``: a successful answer comes back unparsed (``raw`` only, ``body`` None; see `parse_json`),
        for a caller that may not need to parse it at all."""
        if bundle.get("type") != "batch":
            raise ValueError("batch() needs a Bundle of type 'batch'")
        reads_only = all(
            str((e.get("request") or {}).get("method", "")).upper() == "GET" for e in bundle.get("entry") or []
        )
        return self.request(
            "POST", "", body=bundle, idempotent=reads_only, permission=self._bundle_scope(bundle), parse=parse
        )

    def _bundle_scope(self, bundle: JsonDict) -> str:
        return bundle_permissions(bundle, self.scope_context) or f"{self.scope_context}/*.cruds"

    # ------------------------------------------------------------------ paging

    def check_next_link(self, url: str) -> str:
        """Return ``url`` when it stays on this server's scheme, host, port and base path; else refuse."""
        parts = urlsplit(url)
        origin = (parts.scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(parts.scheme))
        path = posixpath.normpath(parts.path) if parts.path else ""
        inside = path == self._base_path or path.startswith(self._base_path + "/")
        if origin != self._base_origin or not inside or parts.username or parts.password:
            raise NextLinkRefused(
                f"refused next link to {parts.scheme}://{parts.hostname}:{parts.port}{parts.path} "
                f"(outside {self.base_url})"
            )
        return url

    def next_page(self, bundle: JsonDict) -> FhirResponse | None:
        """Fetch the page behind the Bundle's ``next`` link (treated as opaque), or None on the last page."""
        for link in bundle.get("link") or []:
            if link.get("relation") == "next" and link.get("url"):
                return self.request("GET", self.check_next_link(str(link["url"])), idempotent=True)
        return None

    def pages(self, first: FhirResponse | JsonDict, *, max_pages: int = 100) -> Iterator[JsonDict]:
        """Yield the first searchset Bundle and every following page; refuses to loop past ``max_pages``."""
        page: JsonDict | None = first.json() if isinstance(first, FhirResponse) else first
        count = 0
        while page is not None:
            count += 1
            if count > max_pages:
                raise SyncError(f"search returned more than {max_pages} pages; stopped paging")
            yield page
            nxt = self.next_page(page)
            page = nxt.json() if nxt is not None else None

    # ------------------------------------------------------------------ the request loop

    def url_for(self, path_or_url: str) -> str:
        """Absolute URL for a path relative to the base (absolute URLs pass through unchanged)."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}" if path_or_url else self.base_url

    def _log_target(self, method: str, url: str, params: Params | None) -> str:
        """Method and path without query values: query strings can carry identifiers or search text."""
        parts = urlsplit(url)
        path = parts.path[len(self._base_path) :] if parts.path.startswith(self._base_path) else parts.path
        names: list[str] = [k for k, _ in (params.items() if isinstance(params, Mapping) else params or [])]
        names += [q.split("=", 1)[0] for q in parts.query.split("&") if q]
        return f"{method} {path or '/'}" + (f"?{','.join(sorted(set(names)))}" if names else "")

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Params | None = None,
        body: JsonDict | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        permission: str | None = None,
        parse: bool = True,
    ) -> FhirResponse:
        """Send one logical request: retries (if idempotent), one token refresh on 401, typed errors.

        ``parse=False`` leaves a successful (2xx) answer's body unparsed: ``body`` None, ``raw`` as received."""
        url = self.url_for(path_or_url)
        target = self._log_target(method, url, params)
        data = _dump_body(body) if body is not None else None
        attempt = 0
        refreshed = False
        started = self._clock()
        while True:
            attempt += 1
            send_headers = {"Accept": FHIR_JSON}
            if data is not None:
                send_headers["Content-Type"] = f"{FHIR_JSON}; charset=utf-8"
            if self.token_provider is not None:
                send_headers["Authorization"] = f"Bearer {self.token_provider()}"
            send_headers.update(headers or {})
            self._count()
            t0 = time.perf_counter()
            try:
                resp = self._send(method, url, params, data, send_headers)
                read_body(resp)
            except requests.Timeout as exc:
                connect = isinstance(exc, requests.ConnectTimeout)
                log.warning("fhir %s attempt %d: %s timeout", target, attempt, "connect" if connect else "read")
                if self._may_retry(idempotent, attempt):
                    self._backoff(attempt, None, target)
                    continue
                if connect:
                    raise ServerUnavailable(f"{target}: connect timeout after {attempt} attempt(s)") from exc
                raise Timeout(f"{target}: no answer within {self.timeout[1]}s after {attempt} attempt(s)") from exc
            except requests.ConnectionError as exc:
                log.warning("fhir %s attempt %d: connection error (%s)", target, attempt, type(exc).__name__)
                if self._may_retry(idempotent, attempt):
                    self._backoff(attempt, None, target)
                    continue
                sent = "never sent" if _never_sent(exc) else "outcome unknown"
                raise ServerUnavailable(f"{target}: connection failed after {attempt} attempt(s) ({sent})") from exc
            elapsed_ms = (time.perf_counter() - t0) * 1000
            status = resp.status_code
            log.info("fhir %s -> %d (%.0f ms, attempt %d)", target, status, elapsed_ms, attempt)
            parsed = _parse_body(resp) if parse or not 200 <= status < 300 else None
            if status == 401 and not refreshed and self.token_provider is not None:
                # One refresh only: a second 401 means the launch itself is over.
                refreshed = True
                attempt -= 1
                self.token_provider.refresh()
                continue
            if status in self.retry.retry_statuses:
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), self._clock)
                if self._may_retry(idempotent, attempt) and (
                    retry_after is None or retry_after <= self.retry.max_retry_after
                ):
                    self._backoff(attempt, retry_after, target)
                    continue
                raise ServerUnavailable(
                    f"{target}: HTTP {status} after {attempt} attempt(s) in {self._clock() - started:.1f}s"
                    + (f", Retry-After {retry_after:.0f}s" if retry_after is not None else ""),
                    status=status,
                    issues=outcome_issues(parsed),
                    retry_after=retry_after,
                )
            if status >= 400:
                raise self._error(method, url, target, status, parsed, permission)
            return FhirResponse(status=status, body=parsed, headers=dict(resp.headers), url=url, raw=resp.content)

    def _send(
        self, method: str, url: str, params: Params | None, data: bytes | None, headers: Mapping[str, str]
    ) -> requests.Response:
        """One HTTP exchange, the body left unread (``stream``), redirects not followed.

        A client's own session sends through ``Session.request``, which merges the session's settings and the
        environment into every request. A shared session (:class:`SharedSessions`) has none to merge: no auth,
        cookies, params or hooks, the environment read once per server (``environment_settings``). Its request
        is prepared here with the session's default headers (``User-Agent``, ``Accept-Encoding``) under the
        request's own, and sent as it is, which skips ``Session.request``'s merging (a fifth of the client's CPU
        per request)."""
        session = self.session
        settings: dict[str, Any] = {}
        if not session.trust_env:  # the environment as read once for this server
            parts = urlsplit(url)
            env = environment_settings(parts.scheme, parts.netloc)
            settings = {"proxies": dict(env.proxies), "verify": env.verify}
        if self._session is not None:
            return session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
                **settings,
            )
        merged = requests.structures.CaseInsensitiveDict(session.headers)
        merged.update(headers)
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method, url=url, headers=merged, data=data, params=params)
        return session.send(prepared, timeout=self.timeout, allow_redirects=False, stream=True, **settings)

    def entry_error(self, method: str, url: str, response: JsonDict, what: str | None = None) -> SyncError:
        """The typed error for a failed entry of a batch-response (``response`` = the entry's ``response``).

        ``url`` is the entry's request URL (relative to the base); ``what`` names the entry in the message.
        """
        status = entry_status(response.get("status"), 500)
        outcome = response.get("outcome") if isinstance(response.get("outcome"), dict) else None
        target = what or self._log_target(method, self.url_for(url), None)
        return self._error(method, self.url_for(url), target, status, outcome, None)

    def _may_retry(self, idempotent: bool, attempt: int) -> bool:
        return idempotent and attempt < self.retry.max_attempts

    def _backoff(self, attempt: int, retry_after: float | None, target: str) -> None:
        if retry_after is not None:
            delay = retry_after
        else:
            # Full jitter: spreads the retries of many clients after a shared outage.
            cap = min(self.retry.max_delay, self.retry.base_delay * (2 ** (attempt - 1)))
            if self._rng is None:
                self._rng = random.Random()  # noqa: S311 - jitter, not security
            delay = self._rng.uniform(0, cap)
        log.info("fhir %s: retry %d in %.2fs", target, attempt, delay)
        self._sleep(delay)

    def _error(
        self, method: str, url: str, target: str, status: int, body: JsonDict | None, permission: str | None
    ) -> SyncError:
        issues = outcome_issues(body)
        detail = f"{target}: HTTP {status}" + (f" ({describe_issues(issues)})" if issues else "")
        log.warning("fhir %s", detail)
        if status == 401:
            return Unauthorized(detail + " after token refresh; re-launch needed", status=status, issues=issues)
        if status == 403:
            if permission:
                needed = permission
                rtype, interaction = _single_type(needed), _single_interaction(needed)
            else:
                rel = url[len(self.base_url) :] if url.startswith(self.base_url) else urlsplit(url).path
                rtype, interaction = _interaction(method, rel)
                needed = required_permission(rtype, interaction, self.scope_context)
            return Forbidden(
                detail + f"; needs {needed}",
                permission=needed,
                resource_type=rtype,
                interaction=interaction,
                status=status,
                issues=issues,
            )
        if status == 404:
            return NotFound(detail, status=status, issues=issues)
        if status == 410:
            return Gone(detail, status=status, issues=issues)
        if status in (409, 412):
            return PreconditionFailed(detail, status=status, issues=issues)
        if status == 422 or (status == 400 and any(i.get("code") in _VALIDATION_CODES for i in issues)):
            return Invalid(detail, status=status, issues=issues)
        if 400 <= status < 500:
            return BadRequest(detail, status=status, issues=issues)
        if status == 501:
            return SyncError(detail + " (not implemented by this server)", status=status, issues=issues)
        return ServerUnavailable(detail, status=status, issues=issues)


_LETTER_INTERACTION = {"r": "read", "s": "search", "c": "create", "u": "update", "d": "delete"}


def _single_type(scope: str) -> str | None:
    """Resource type of a one-type, one-letter scope like ``patient/Goal.c``."""
    if " " in scope or "/" not in scope or "." not in scope:
        return None
    rtype, letters = scope.split("/", 1)[1].rsplit(".", 1)
    return rtype if len(letters) == 1 and rtype != "*" else None


def _single_interaction(scope: str) -> str | None:
    if _single_type(scope) is None:
        return None
    return _LETTER_INTERACTION.get(scope.rsplit(".", 1)[1])


def parse_json(raw: bytes, headers: Mapping[str, str] | None = None) -> JsonDict | None:
    """A JSON object from bytes as received, parsed once (orjson: faster, and its keys are shared); what orjson
    refuses and the standard parser takes (NaN, a body in another charset, declared in the `headers`' Content-Type
    as `requests` reads it) is parsed by the latter. Unlike the standard parser, orjson reads an integer beyond 64
    bits as a float (FHIR's integers are 32-bit; decimals were floats before too). None when the bytes hold no JSON
    object."""
    if not raw:
        return None
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        content_type = next((v for k, v in (headers or {}).items() if k.lower() == "content-type"), None)
        charset = requests.utils.get_encoding_from_headers({"content-type": content_type}) if content_type else None
        try:
            parsed = json.loads(raw.decode(charset) if charset else raw)
        except (ValueError, LookupError):
            return None
    return parsed if isinstance(parsed, dict) else None


def _parse_body(resp: requests.Response) -> JsonDict | None:
    """The response's JSON body (`parse_json`)."""
    return parse_json(resp.content, resp.headers)


def _dump_body(body: JsonDict) -> bytes:
    """A request body as compact UTF-8 JSON (orjson; the standard encoder for what orjson does not take, e.g. an
    integer beyond 64 bits)."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def parse_retry_after(value: str | None, clock: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date; None when absent/invalid."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # "²" is a digit to isdigit, no number to float
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - clock())


def entry_status(value: object, default: int) -> int:
    """The HTTP status code of a batch or transaction entry's ``response.status`` ("201 Created"); `default` when
    it has none. ASCII digits only ("²" is a digit to ``str.isdigit`` and no number to ``int``), at most three."""
    head = ("" if value is None else str(value)).strip().split(" ", 1)[0]
    return int(head) if head.isascii() and head.isdigit() and len(head) <= 3 else default


def entries_of(bundles: Sequence[JsonDict]) -> list[JsonDict]:
    """All resources of a list of searchset pages, in order (convenience for callers of ``pages``)."""
    return [e["resource"] for page in bundles for e in page.get("entry") or [] if isinstance(e.get("resource"), dict)]


def resource_key(resource: Mapping[str, Any]) -> str:
    """``Type/id`` of a resource."""
    return f"{resource['resourceType']}/{resource['id']}"
