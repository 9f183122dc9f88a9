"""Talking to a token endpoint: client authentication and parsing the token response."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from smart_launch.errors import TokenEndpointError
from smart_launch.keys import CLIENT_ASSERTION_TYPE, SigningKey, client_assertion
from smart_launch.registration import ClientAuth

log = logging.getLogger(__name__)

# Token endpoints that took client_secret_basic credentials only as they are (not form-urlencoded first, as
# RFC 6749 2.3.1 asks): they get them that way from then on (per process).
_RAW_BASIC: set[str] = set()


@dataclass(frozen=True)
class ClientCredentials:
    """How to authenticate one client at a token endpoint."""

    client_id: str
    method: ClientAuth
    client_secret: str | None = None
    signing_key: SigningKey | None = None


@dataclass(frozen=True)
class TokenResponse:
    """A successful token response (the fields SMART defines)."""

    access_token: str
    token_type: str
    expires_in: int | None
    scope: str | None
    refresh_token: str | None
    id_token: str | None
    patient: str | None
    encounter: str | None
    fhir_context: tuple[dict[str, Any], ...]
    need_patient_banner: bool | None
    smart_style_url: str | None
    intent: str | None
    tenant: str | None
    raw_keys: frozenset[str]
    # Koppeltaal launch context (KOP-KT-007): the Task, its ActivityDefinition and the launching user.
    resource: str | None = None
    definition: str | None = None
    sub: str | None = None

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> TokenResponse:
        """Validate and parse a token endpoint JSON body."""
        access_token = doc.get("access_token")
        token_type = doc.get("token_type")
        if not isinstance(access_token, str) or not access_token:
            raise TokenEndpointError("token response has no access_token")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TokenEndpointError(f"token response has token_type {token_type!r}, not Bearer")
        expires_in = doc.get("expires_in")
        if isinstance(expires_in, str) and expires_in.isdigit():
            expires_in = int(expires_in)  # some servers send a string
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in < 0:
            expires_in = None
        ctx = doc.get("fhirContext")
        fhir_context = tuple(c for c in ctx if isinstance(c, dict)) if isinstance(ctx, list) else ()
        banner = doc.get("need_patient_banner")

        def opt(name: str) -> str | None:
            value = doc.get(name)
            return value if isinstance(value, str) and value else None

        return cls(
            access_token=access_token,
            token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
            expires_in=expires_in,
            scope=doc["scope"] if isinstance(doc.get("scope"), str) else None,
            refresh_token=opt("refresh_token"),
            id_token=opt("id_token"),
            patient=patient_id(opt("patient")),
            encounter=opt("encounter"),
            fhir_context=fhir_context,
            need_patient_banner=banner if isinstance(banner, bool) else None,
            smart_style_url=opt("smart_style_url"),
            intent=opt("intent"),
            tenant=opt("tenant"),
            raw_keys=frozenset(doc.keys()),
            resource=opt("resource"),
            definition=opt("definition"),
            sub=opt("sub"),
        )


def patient_id(value: str | None) -> str | None:
    """The patient's id: SMART sends `321`, Koppeltaal may send `Patient/321` (or a full URL ending in it)."""
    if value is None:
        return None
    parts = value.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Patient" and parts[-1]:
        return parts[-1]
    return value


def request_token(
    http: requests.Session,
    token_endpoint: str,
    form: dict[str, str],
    credentials: ClientCredentials,
    *,
    timeout: tuple[float, float],
    clock: Callable[[], float] = time.time,
) -> TokenResponse:
    """POST `form` plus client authentication to the token endpoint; raises TokenEndpointError."""
    data = dict(form)
    auth: tuple[str, str] | None = None
    raw: tuple[str, str] | None = None  # the credentials as they are, when encoding changes them
    if credentials.method == "public":
        data["client_id"] = credentials.client_id
    elif credentials.method == "client_secret_basic":
        if not credentials.client_secret:
            raise TokenEndpointError("client_secret_basic without a client secret")
        # RFC 6749 section 2.3.1: both parts are form-urlencoded before Basic encoding. Some token endpoints
        # do not decode them; a secret with characters like + / = then fails there, so the raw form is tried next.
        auth = (quote(credentials.client_id, safe=""), quote(credentials.client_secret, safe=""))
        if auth != (credentials.client_id, credentials.client_secret):
            raw = (credentials.client_id, credentials.client_secret)
            if token_endpoint in _RAW_BASIC:
                auth, raw = raw, None
    else:
        if credentials.signing_key is None:
            raise TokenEndpointError("private_key_jwt without a signing key")
        data["client_assertion_type"] = CLIENT_ASSERTION_TYPE
        data["client_assertion"] = client_assertion(
            credentials.signing_key, client_id=credentials.client_id, token_endpoint=token_endpoint, clock=clock
        )
    resp, body = _post(http, token_endpoint, data, auth, timeout)
    if raw is not None and resp.status_code == 401 and _error_of(body) == "invalid_client":
        log.info(
            "client_secret_basic: %s refused the form-urlencoded credentials; trying them unencoded", token_endpoint
        )
        resp, body = _post(http, token_endpoint, data, raw, timeout)
        if resp.status_code == 200:
            _RAW_BASIC.add(token_endpoint)
            log.warning(
                "client_secret_basic: %s accepts the credentials only unencoded (not RFC 6749 2.3.1); "
                "sending them that way from now on",
                token_endpoint,
            )
    if resp.status_code != 200:
        error = _error_of(body)
        raise TokenEndpointError(
            f"token endpoint answered {resp.status_code} ({error or 'no error code'})",
            status=resp.status_code,
            error=error,
        )
    if not isinstance(body, dict):
        raise TokenEndpointError("token endpoint did not return a JSON object", status=resp.status_code)
    return TokenResponse.parse(body)


def _post(
    http: requests.Session,
    token_endpoint: str,
    data: dict[str, str],
    auth: tuple[str, str] | None,
    timeout: tuple[float, float],
) -> tuple[requests.Response, Any]:
    """One POST to the token endpoint: the response and its JSON body (None when it is not JSON)."""
    try:
        resp = http.post(token_endpoint, data=data, auth=auth, headers={"Accept": "application/json"}, timeout=timeout)
    except requests.RequestException as exc:
        raise TokenEndpointError(f"token endpoint unreachable: {type(exc).__name__}") from exc
    try:
        body = resp.json()
    except ValueError:
        body = None
    return resp, body


def _error_of(body: Any) -> str | None:
    """The OAuth `error` code of a token endpoint's answer, if it has one."""
    return body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
