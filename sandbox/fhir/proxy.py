"""Fronting an external FHIR server: the sandbox's token and scope checks in front, requests passed on.

The upstream base is rewritten to the sandbox's own base in everything that comes back (bodies,
Location), and the other way round in request bodies, so clients only ever see the sandbox.
A patient-context token gets its searches confined with `patient=` (or `_id=` on Patient), and
reads and writes outside its compartment are refused, as in the store mode. Ownership is judged
on the resource's own references here (a Provenance naming only a Goal is not followed further).
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
from flask import Response, request

from sandbox.fhir.auth import GrantGuard
from sandbox.fhir.capability import SmartUrls, add_security
from sandbox.fhir.errors import FhirError, invalid
from sandbox.fhir.searchparams import COMPARTMENT_OWNER_PATHS, direct_owners, params_for
from sandbox.fhir.values import split_or, split_reference

_FORWARD_REQUEST = ("Accept", "Content-Type", "If-Match", "If-None-Exist", "If-None-Match", "Prefer")
_FORWARD_RESPONSE = ("ETag", "Last-Modified", "Content-Location", "Location")


class UpstreamProxy:
    """Forwards FHIR requests to `upstream_url` after the sandbox's own access checks."""

    def __init__(self, upstream_url: str, smart: SmartUrls | None, timeout: tuple[float, float]):
        self.upstream = upstream_url.rstrip("/")
        self.smart = smart
        self.timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    # ------------------------------------------------------------------ entry point

    def forward(self, path: str, guard: GrantGuard | None, base_url: str) -> Response:
        """Check access, pass the current Flask request upstream, and relay the answer."""
        method = request.method
        segments = [s for s in path.split("/") if s]
        query = request.query_string.decode()
        if method == "GET" and segments == ["metadata"]:
            return self._metadata(base_url)
        if method in ("DELETE", "PATCH"):
            raise FhirError(405, f"{method} is not supported: nothing is ever deleted in this record")
        body = request.get_data()
        if guard is not None:
            query, body = self._authorize(method, segments, query, body, guard)
        if body:
            body = body.replace(base_url.encode(), self.upstream.encode())
        upstream = self._call(method, "/".join(segments), query, body)
        content = upstream.content.replace(self.upstream.encode(), base_url.encode())
        if guard is not None and method == "GET" and upstream.status_code == 200 and content:
            content = self._filter_response(segments, content, guard)
        response = Response(content, status=upstream.status_code)
        response.headers["Content-Type"] = upstream.headers.get("Content-Type", "application/fhir+json")
        for name in _FORWARD_RESPONSE:
            value = upstream.headers.get(name)
            if value:
                response.headers[name] = value.replace(self.upstream, base_url)
        return response

    def _call(self, method: str, path: str, query: str, body: bytes) -> requests.Response:
        url = f"{self.upstream}/{path}" if path else self.upstream
        if query:
            url = f"{url}?{query}"
        headers = {name: request.headers[name] for name in _FORWARD_REQUEST if name in request.headers}
        try:
            return self._session().request(
                method, url, data=body or None, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.Timeout as exc:
            raise FhirError(504, f"The upstream FHIR server did not answer in time: {exc}") from exc
        except requests.RequestException as exc:
            raise FhirError(502, f"The upstream FHIR server cannot be reached: {exc}") from exc

    def _metadata(self, base_url: str) -> Response:
        upstream = self._call("GET", "metadata", "", b"")
        if upstream.status_code != 200:
            raise FhirError(502, f"The upstream FHIR server answered {upstream.status_code} on /metadata")
        statement = json.loads(upstream.content.replace(self.upstream.encode(), base_url.encode()))
        if self.smart is not None:
            statement = add_security(statement, self.smart)
        return Response(json.dumps(statement), status=200, content_type="application/fhir+json; charset=utf-8")

    # ------------------------------------------------------------------ access checks

    def _authorize(
        self, method: str, segments: list[str], query: str, body: bytes, guard: GrantGuard
    ) -> tuple[str, bytes]:
        """Raise 403 when the request is not allowed; returns the query and body to forward (maybe confined)."""
        if not segments:
            if method != "POST":
                raise invalid("Only transaction or batch Bundles can be sent to the base")
            bundle = _json(body)
            if self._authorize_bundle(bundle, guard):
                body = json.dumps(bundle).encode()
            return query, body
        rtype = segments[0]
        if method == "GET" and len(segments) == 1:
            return self._confine_search(rtype, query, guard), body
        if method == "POST" and len(segments) == 2 and segments[1] == "_search":
            form = parse_qsl(body.decode(), keep_blank_values=True) if body else []
            self._confine_search(rtype, urlencode(form), guard)
            return self._confine_search(rtype, query, guard), body
        if method == "GET":
            guard.allow("read", rtype)
            return query, body
        if method == "POST" and len(segments) == 1:
            guard.allow("create", rtype)
            self._check_owner(_json(body), "create", guard)
            return query, body
        if method == "PUT":
            guard.allow("update", rtype)
            self._check_owner(_json(body), "update", guard)
            if len(segments) == 2 and guard.patient_for("update", rtype) is not None:
                current = self._call("GET", f"{rtype}/{segments[1]}", "", b"")
                if current.status_code == 200:
                    self._check_owner(current.json(), "update", guard)
            return query, body
        raise FhirError(405, f"{method} {'/'.join(segments)} is not supported")

    def _authorize_bundle(self, bundle: Any, guard: GrantGuard) -> bool:
        """Check every entry; confine its searches. True when the bundle was changed."""
        changed = False
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise invalid("POST to the base needs a transaction or batch Bundle")
        for entry in bundle.get("entry") or []:
            req = entry.get("request") or {}
            method = str(req.get("method", "")).upper()
            url = str(req.get("url", ""))
            path, _, query = url.partition("?")
            parts = [p for p in path.split("/") if p]
            if not parts:
                raise invalid("Every Bundle entry needs a request.url")
            rtype = parts[0]
            if method == "GET":
                if len(parts) == 1:
                    confined = self._confine_search(rtype, query, guard)
                    if confined != query:
                        req["url"] = f"{rtype}?{confined}"
                        changed = True
                else:
                    guard.allow("read", rtype)
            elif method in ("POST", "PUT"):
                interaction = "create" if method == "POST" else "update"
                guard.allow(interaction, rtype)
                self._check_owner(entry.get("resource"), interaction, guard)
            else:
                raise FhirError(405, f"{method} entries are not supported: nothing is ever deleted")
        return changed

    def _confine_search(self, rtype: str, query: str, guard: GrantGuard) -> str:
        guard.allow("search", rtype)
        patient = guard.patient_for("search", rtype)
        if patient is None:
            return query
        params = parse_qsl(query, keep_blank_values=True)
        known = params_for(rtype)
        for name, value in params:
            param = known.get(name.split(":", 1)[0])
            if param is None or param.type != "reference":
                continue
            for alt in split_or(value):
                target = split_reference(alt)
                names_patient = (target is not None and target[0] == "Patient") or (
                    target is None and param.targets == ("Patient",)
                )
                tid = target[1] if target else alt
                if names_patient and tid != patient:
                    raise FhirError(403, "This search asks for another patient's data", "forbidden")
        if rtype == "Patient":
            params.append(("_id", patient))
        elif rtype in COMPARTMENT_OWNER_PATHS and "patient" in known:
            params.append(("patient", f"Patient/{patient}"))
        return urlencode(params)

    def _check_owner(self, resource: Any, interaction: str, guard: GrantGuard) -> None:
        if not isinstance(resource, dict):
            return
        patient = guard.patient_for(interaction, str(resource.get("resourceType")))
        if patient is None:
            return
        owners, _ = direct_owners(resource)
        if resource.get("resourceType") == "Patient" and resource.get("id") is None and interaction == "create":
            owners = {""}
        if owners - {patient}:
            raise FhirError(403, "This resource belongs to another patient's record", "forbidden")

    def _filter_response(self, segments: list[str], content: bytes, guard: GrantGuard) -> bytes:
        """Refuse a read outside the compartment; drop search entries the token may not see."""
        try:
            body = json.loads(content)
        except ValueError:
            return content
        if not isinstance(body, dict):
            return content
        if body.get("resourceType") != "Bundle":
            self._check_owner(body, "read", guard)
            return content
        kept = []
        for entry in body.get("entry") or []:
            resource = entry.get("resource")
            if isinstance(resource, dict) and resource.get("resourceType") not in ("OperationOutcome", None):
                rtype = str(resource["resourceType"])
                if not guard.can("read", rtype):
                    continue
                patient = guard.patient_for("read", rtype)
                owners, _ = direct_owners(resource)
                if patient is not None and owners - {patient}:
                    continue
            kept.append(entry)
        body["entry"] = kept
        return json.dumps(body).encode()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError as exc:
        raise invalid(f"The body is not valid JSON: {exc}") from exc
