"""The sandbox FHIR R4 endpoint as a Flask blueprint: its own SQLite store, or a front for another server.

Every request except `/metadata` (and the SMART discovery document) needs a bearer token that the
`TokenVerifier` accepts; scopes and the patient compartment are enforced per interaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from sandbox.access import TokenVerifier
from sandbox.fhir import bundles
from sandbox.fhir.auth import GrantGuard, authenticate
from sandbox.fhir.capability import SmartUrls, capability_statement
from sandbox.fhir.errors import FhirError, invalid, operation_outcome
from sandbox.fhir.store import FhirStore

_log = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")


def fhir_response(body: dict[str, Any] | None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A FHIR JSON response (no body when `body` is None)."""
    payload = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = Response(payload, status=status, content_type=f"{FHIR_JSON}; charset=utf-8")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(error: FhirError) -> Response:
    """The OperationOutcome response for a FhirError (401 carries WWW-Authenticate)."""
    headers = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="sandbox-fhir", error="invalid_token"'
    return fhir_response(error.outcome(), error.status, headers)


def _base_url(base_path: str, public_base_url: str | None) -> str:
    if public_base_url:
        return public_base_url.rstrip("/")
    return request.url_root.rstrip("/") + base_path


def _guard() -> GrantGuard | None:
    guard: GrantGuard | None = g.get("fhir_guard")
    return guard


def _read_json() -> Any:
    ctype = (request.mimetype or "").lower()
    if ctype and ctype not in _JSON_TYPES:
        raise FhirError(415, f"Content-Type {ctype} is not supported; send application/fhir+json")
    raw = request.get_data(cache=True)
    if not raw:
        raise invalid("The request has no body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"The body is not valid JSON: {exc}") from exc


def _check_accept() -> None:
    accept = request.headers.get("Accept", "")
    fmt = request.args.get("_format", "")
    if fmt and "json" not in fmt:
        raise FhirError(406, f"_format={fmt} is not supported; this server speaks JSON only")
    if accept and "xml" in accept and not any(t in accept for t in ("json", "*/*")):
        raise FhirError(406, "This server answers application/fhir+json only")


def _write_response(resource: dict[str, Any], status: int, base_url: str) -> Response:
    headers = {
        "ETag": bundles.etag(resource),
        "Last-Modified": _http_date(resource),
    }
    if status == 201:
        headers["Location"] = f"{base_url}/{bundles.location(resource)}"
    prefer = request.headers.get("Prefer", "")
    if "return=minimal" in prefer:
        return fhir_response(None, status, headers)
    if "return=OperationOutcome" in prefer:
        text = "Created" if status == 201 else "Updated"
        return fhir_response(operation_outcome("information", "informational", text), status, headers)
    return fhir_response(resource, status, headers)


def _http_date(resource: dict[str, Any]) -> str:
    from datetime import datetime
    from email.utils import format_datetime

    stamp = resource.get("meta", {}).get("lastUpdated")
    if not stamp:
        return ""
    return format_datetime(datetime.fromisoformat(stamp.replace("Z", "+00:00")), usegmt=True)


def _read_response(resource: dict[str, Any]) -> Response:
    tag = bundles.etag(resource)
    if request.headers.get("If-None-Match", "").strip() == tag:
        return fhir_response(None, 304, {"ETag": tag})
    return fhir_response(resource, 200, {"ETag": tag, "Last-Modified": _http_date(resource)})


def create_fhir_blueprint(
    *,
    store: FhirStore | None = None,
    upstream_url: str | None = None,
    verifier: TokenVerifier | None = None,
    base_path: str = "/fhir",
    public_base_url: str | None = None,
    auth_enabled: bool = True,
    smart: SmartUrls | None = None,
    smart_configuration: Callable[[], dict[str, Any]] | None = None,
    upstream_timeout: tuple[float, float] = (3.0, 30.0),
    name: str = "sandbox_fhir",
) -> Blueprint:
    """The FHIR endpoint as a blueprint mounted at `base_path`: give exactly one of `store` or `upstream_url`.

    `public_base_url` is the endpoint's own absolute base (used in Location, fullUrl and next links;
    default: derived from the request). `smart` is advertised in /metadata; `smart_configuration`,
    when given, is served at `{base}/.well-known/smart-configuration`.
    """
    if (store is None) == (upstream_url is None):
        raise ValueError("give exactly one of store or upstream_url")
    if auth_enabled and verifier is None:
        raise ValueError("a verifier is needed when auth is enabled")
    base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
    bp = Blueprint(name, __name__, url_prefix=base_path or None)
    public_paths = {f"{base_path}/metadata", f"{base_path}/.well-known/smart-configuration"}

    @bp.errorhandler(FhirError)
    def _on_fhir_error(error: FhirError) -> Response:
        return error_response(error)

    @bp.errorhandler(HTTPException)
    def _on_http_error(error: HTTPException) -> Response:
        return error_response(FhirError(error.code or 500, error.description or error.name))

    @bp.errorhandler(Exception)
    def _on_crash(error: Exception) -> Response:
        _log.exception("FHIR endpoint failed on %s %s", request.method, request.path)
        return error_response(FhirError(500, f"Internal error: {type(error).__name__}"))

    @bp.before_request
    def _authenticate() -> Response | None:
        g.fhir_guard = None
        if request.path.rstrip("/") in public_paths:
            return None
        _check_accept()
        if auth_enabled:
            assert verifier is not None  # checked by the factory  # noqa: S101
            g.fhir_guard = authenticate(request.headers.get("Authorization"), verifier)
        return None

    if smart_configuration is not None:
        provider = smart_configuration

        @bp.get("/.well-known/smart-configuration")
        def _smart_configuration() -> Response:
            response = Response(json.dumps(provider()), content_type="application/json")
            response.headers["Access-Control-Allow-Origin"] = "*"
            return response

    if upstream_url is not None:
        from sandbox.fhir.proxy import UpstreamProxy

        proxy = UpstreamProxy(upstream_url, smart, upstream_timeout)

        @bp.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "DELETE", "PATCH"], strict_slashes=False)
        @bp.route("/<path:path>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
        def _forward(path: str) -> Response:
            return proxy.forward(path, _guard(), _base_url(base_path, public_base_url))

        return bp

    assert store is not None  # noqa: S101
    fhir_store = store

    @bp.get("/metadata")
    def _metadata() -> Response:
        return fhir_response(capability_statement(_base_url(base_path, public_base_url), smart))

    @bp.post("/", strict_slashes=False)
    def _bundle() -> Response:
        body = _read_json()
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            raise invalid("POST to the base needs a transaction or batch Bundle")
        base = _base_url(base_path, public_base_url)
        if body.get("type") == "transaction":
            return fhir_response(fhir_store.transaction(body, base, _guard()))
        if body.get("type") == "batch":
            return fhir_response(fhir_store.batch(body, base, _guard()))
        raise invalid(f"Bundle type '{body.get('type')}' cannot be processed; use transaction or batch")

    @bp.get("/<rtype>")
    def _search(rtype: str) -> Response:
        params = list(request.args.items(multi=True))
        result = fhir_store.search(rtype, params, _guard())
        return fhir_response(bundles.searchset(result, _base_url(base_path, public_base_url)))

    @bp.post("/<rtype>/_search")
    def _post_search(rtype: str) -> Response:
        if request.mimetype != "application/x-www-form-urlencoded" and request.get_data():
            raise FhirError(415, "POST _search takes application/x-www-form-urlencoded parameters")
        params = list(request.args.items(multi=True)) + list(request.form.items(multi=True))
        result = fhir_store.search(rtype, params, _guard())
        return fhir_response(bundles.searchset(result, _base_url(base_path, public_base_url)))

    @bp.post("/<rtype>")
    def _create(rtype: str) -> Response:
        body = _read_json()
        if not isinstance(body, dict) or body.get("resourceType") != rtype:
            raise invalid(f"The body must be a {rtype} resource")
        body = {k: v for k, v in body.items() if k != "id"}  # the server assigns the id
        result = fhir_store.create(body, if_none_exist=request.headers.get("If-None-Exist"), guard=_guard())
        return _write_response(result.resource, result.status, _base_url(base_path, public_base_url))

    @bp.put("/<rtype>")
    def _conditional_update(rtype: str) -> Response:
        query = request.query_string.decode()
        if not query:
            raise FhirError(405, "PUT needs Type/id or Type?criteria")
        result = fhir_store.conditional_update(
            rtype, query, _read_json(), if_match=request.headers.get("If-Match"), guard=_guard()
        )
        return _write_response(result.resource, result.status, _base_url(base_path, public_base_url))

    @bp.get("/<rtype>/<rid>")
    def _read(rtype: str, rid: str) -> Response:
        return _read_response(fhir_store.read(rtype, rid, _guard()))

    @bp.put("/<rtype>/<rid>")
    def _update(rtype: str, rid: str) -> Response:
        result = fhir_store.update(rtype, rid, _read_json(), if_match=request.headers.get("If-Match"), guard=_guard())
        return _write_response(result.resource, result.status, _base_url(base_path, public_base_url))

    @bp.get("/<rtype>/<rid>/_history")
    def _history(rtype: str, rid: str) -> Response:
        versions = fhir_store.history(rtype, rid, _guard())
        return fhir_response(bundles.history(versions, _base_url(base_path, public_base_url)))

    @bp.get("/<rtype>/<rid>/_history/<vid>")
    def _vread(rtype: str, rid: str, vid: str) -> Response:
        return _read_response(fhir_store.vread(rtype, rid, vid, _guard()))

    @bp.route("/", defaults={"path": ""}, methods=["DELETE", "PATCH", "PUT"], strict_slashes=False)
    @bp.route("/<path:path>", methods=["DELETE", "PATCH"])
    def _not_allowed(path: str) -> Response:
        if request.method == "DELETE":
            raise FhirError(405, "Nothing is ever deleted in this record: change the status instead")
        raise FhirError(405, f"{request.method} is not supported by this server")

    return bp


def create_fhir_app(
    *,
    store: FhirStore | None = None,
    upstream_url: str | None = None,
    verifier: TokenVerifier | None = None,
    base_path: str = "/fhir",
    public_base_url: str | None = None,
    auth_enabled: bool = True,
    smart: SmartUrls | None = None,
    smart_configuration: Callable[[], dict[str, Any]] | None = None,
    upstream_timeout: tuple[float, float] = (3.0, 30.0),
) -> Flask:
    """A Flask app serving only the FHIR endpoint (see `create_fhir_blueprint` for the arguments)."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(
        create_fhir_blueprint(
            store=store,
            upstream_url=upstream_url,
            verifier=verifier,
            base_path=base_path,
            public_base_url=public_base_url,
            auth_enabled=auth_enabled,
            smart=smart,
            smart_configuration=smart_configuration,
            upstream_timeout=upstream_timeout,
        )
    )

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        return error_response(FhirError(status, error.description or error.name))

    @app.errorhandler(FhirError)
    def _fhir_error(error: FhirError) -> Response:
        return error_response(error)

    return app
