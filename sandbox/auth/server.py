"""The sandbox authorization server: Authlib's Flask server wired with SMART App Launch 2.2 rules."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidScopeError, OAuth2Request
from flask import Response, jsonify
from joserfc import jws
from joserfc.errors import JoseError

from sandbox.access import AccessGrant, Directory
from sandbox.auth.clients import SandboxClient
from sandbox.auth.config import ASSERTION_ALGORITHMS, AuthServerConfig
from sandbox.auth.grants import (
    BackendServicesGrant,
    IntrospectionClientAuthentication,
    PrivateKeyJwtAuthentication,
    RotatingRefreshTokenGrant,
    S256CodeChallenge,
    SmartAuthorizationCodeGrant,
    SmartOpenIDCode,
)
from sandbox.auth.keys import ID_TOKEN_ALGORITHM, ServerKey
from sandbox.auth.koppeltaal import CLIENT_ASSERTION_TYPE, NOOP, PortalKey
from sandbox.auth.scopes import CONTEXT_SCOPES, REFRESH_SCOPES, split_scope
from sandbox.auth.store import AuthStore, Clock, LaunchContext, LaunchStore, Subject, TokenRecord

SMART_CAPABILITIES = [
    "launch-ehr",
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-standalone-patient",
    "context-passthrough-banner",
    "context-passthrough-style",
    "permission-v1",
    "permission-v2",
    "permission-patient",
    "permission-user",
    "permission-offline",
    "permission-online",
    "sso-openid-connect",
]


def _unverified_issuer(assertion: str) -> object:
    """The `iss` of a JWT before its signature is checked (only to find whose keys check it)."""
    payload = jws.extract_compact(assertion.encode("ascii")).payload
    claims = json.loads(payload)
    return claims.get("iss") if isinstance(claims, dict) else None


class _AuthlibServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's Flask server that knows its sandbox (the grants reach config and stores through it)."""

    def __init__(self, sandbox: SandboxAuthServer) -> None:
        super().__init__(query_client=sandbox.query_client, save_token=sandbox.save_token)
        self.sandbox = sandbox


class SandboxAuthServer:
    """Authorization server of the sandbox EPD: clients, launches, codes, tokens and keys.

    Mount its views with `create_auth_blueprint(server)`; give `server.verify_token` to the FHIR
    endpoint as its TokenVerifier; the EPD pages create launch values with `server.create_launch`.
    """

    def __init__(self, config: AuthServerConfig, directory: Directory, *, clock: Clock = time.time) -> None:
        self.config = config
        self.directory = directory
        self.store = AuthStore(clock)
        self.launches = LaunchStore(config.launch_lifetime, clock)
        self.key = ServerKey(config.signing_key_pem)
        self.portal: PortalKey | None = PortalKey(clock=clock) if config.koppeltaal else None
        self._clients = {c.client_id: SandboxClient(c) for c in config.clients}

        self.oauth = _AuthlibServer(self)
        self.oauth.register_token_generator("default", self._generate_token)
        self.oauth.register_client_auth_method("private_key_jwt", PrivateKeyJwtAuthentication(self))
        self.oauth.register_grant(
            SmartAuthorizationCodeGrant, [S256CodeChallenge(required=True), SmartOpenIDCode(self)]
        )
        self.oauth.register_grant(RotatingRefreshTokenGrant)
        self.oauth.register_grant(BackendServicesGrant)

    # --- endpoints' addresses ------------------------------------------------------------
    @property
    def authorize_endpoint(self) -> str:
        return f"{self.config.issuer_url}/authorize"

    @property
    def token_endpoint(self) -> str:
        return f"{self.config.issuer_url}/token"

    @property
    def introspection_endpoint(self) -> str:
        return f"{self.config.issuer_url}/introspect"

    @property
    def jwks_uri(self) -> str:
        return f"{self.config.issuer_url}/jwks.json"

    @property
    def style_url(self) -> str:
        return f"{self.config.issuer_url}/smart-style.json"

    # --- what other sandbox parts call ---------------------------------------------------
    def verify_token(self, token: str) -> AccessGrant | None:
        """TokenVerifier for the FHIR endpoint: the grant of a live access token, else None (always for NOOP)."""
        if token == NOOP:
            return None
        return self.store.verify(token)

    def resolve_launch(self, value: str) -> LaunchContext | None:
        """The context of a `launch` value: an EPD launch value, or (Koppeltaal mode) an HTI token of the portal."""
        if self.portal is not None and value.count(".") == 2:
            claims = self.portal.verify(value)
            if claims is None:
                return None
            patient = claims.get("patient")
            sub = str(claims["sub"])
            patient_id = patient.split("/")[-1] if isinstance(patient, str) else None
            if patient_id is None and sub.startswith("Patient/"):
                patient_id = sub.split("/")[-1]
            context = tuple(
                (name, str(claims[name]))
                for name in ("sub", "patient", "resource", "definition", "intent")
                if isinstance(claims.get(name), str)
            )
            return LaunchContext(
                patient=patient_id,
                user=sub,
                intent=claims.get("intent") if isinstance(claims.get("intent"), str) else None,
                koppeltaal=context,
            )
        return self.launches.resolve(value)

    def introspect(self, form: Mapping[str, str]) -> tuple[dict[str, Any], int]:
        """Koppeltaal mode, TOP-KT-021 (RFC 7662): the answer about an HTI token of the portal, for a client that
        authenticates with a private_key_jwt assertion (`aud` = this endpoint). Active only when the portal
        signed it, it has not expired, and it is addressed to the asking client's Device."""
        if self.portal is None:
            return {"error": "invalid_request", "error_description": "not a Koppeltaal domain"}, 404
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            return {"error": "invalid_client", "error_description": "a private_key_jwt assertion is required"}, 401
        assertion = form.get("client_assertion")
        try:
            issuer = _unverified_issuer(assertion) if assertion else None
            client = IntrospectionClientAuthentication(self).authenticate(
                issuer if isinstance(issuer, str) else None, assertion
            )
        except (InvalidClientError, JoseError, ValueError) as exc:
            description = getattr(exc, "description", None) or "invalid client assertion"
            return {"error": "invalid_client", "error_description": str(description)}, 401
        claims = self.portal.verify(form.get("token") or "")
        if claims is None or claims.get("aud") != f"Device/{client.client_id}":
            return {"active": False}, 200
        return {"active": True, **claims}, 200

    def create_launch(
        self,
        *,
        patient: str | None,
        user: str | None,
        encounter: str | None = None,
        intent: str | None = None,
        need_patient_banner: bool = False,
        fhir_context: tuple[str, ...] = (),
        browser: str | None = None,
    ) -> str:
        """Create an opaque, short-lived EHR launch value bound to this context (and to the browser session
        `browser`, when given: see `sandbox.auth.views.browser_binding`)."""
        return self.launches.create(
            LaunchContext(
                patient=patient,
                user=user,
                encounter=encounter,
                intent=intent,
                need_patient_banner=need_patient_banner,
                fhir_context=fhir_context,
                browser=browser,
            )
        )

    def smart_configuration(self) -> dict[str, Any]:
        """The `.well-known/smart-configuration` document (SMART App Launch 2.2)."""
        return {
            "issuer": self.config.issuer_url,
            "jwks_uri": self.jwks_uri,
            "authorization_endpoint": self.authorize_endpoint,
            "token_endpoint": self.token_endpoint,
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "id_token_signing_alg_values_supported": [ID_TOKEN_ALGORITHM],
            "scopes_supported": [
                *CONTEXT_SCOPES,
                "patient/*.cruds",
                "user/*.cruds",
                "system/*.cruds",
                "patient/*.read",
                "patient/*.write",
                "user/*.read",
                "user/*.write",
                "system/*.read",
            ],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "capabilities": list(SMART_CAPABILITIES),
            # Koppeltaal (TOP-KT-021): where the domain checks HTI tokens for its applications.
            **({"introspection_endpoint": self.introspection_endpoint} if self.portal is not None else {}),
        }

    def smart_configuration_response(self) -> Response:
        """A Flask view answering with the SMART configuration; mount it at `{fhir base}/.well-known/...`."""
        response = jsonify(self.smart_configuration())
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    def style(self) -> dict[str, Any]:
        """The small style document behind smart_style_url."""
        style: dict[str, Any] = {
            "color_background": "#f4f6f8",
            "color_error": "#b00020",
            "color_highlight": "#00607a",
            "color_modal_backdrop": "rgba(0, 0, 0, 0.4)",
            "color_success": "#1b7f3b",
            "color_text": "#1f2933",
            "dim_border_radius": "4px",
            "dim_font_size": "16px",
            "dim_spacing_size": "16px",
            "font_family_body": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            "font_family_heading": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        }
        style.update(self.config.style)
        return style

    def authorize_url(self, **params: str) -> str:
        """The authorize endpoint with query parameters (handy for tests and the demo)."""
        return f"{self.authorize_endpoint}?{urlencode(params)}"

    # --- Authlib callbacks ---------------------------------------------------------------
    def query_client(self, client_id: str) -> SandboxClient | None:
        """Find a registered client."""
        return self._clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Store an issued token with the grant it carries."""
        if token["access_token"] == NOOP:
            return  # a Koppeltaal launch: nothing to remember, NOOP opens nothing
        now = self.store.clock()
        subject: Subject | None = request.user if isinstance(request.user, Subject) else None
        code = getattr(request, "authorization_code", None)
        self.store.save_token(
            TokenRecord(
                access_token=token["access_token"],
                client_id=request.client.client_id,
                scope=token.get("scope", ""),
                subject=subject,
                issued_at=now,
                expires_at=now + int(token["expires_in"]),
                refresh_token=token.get("refresh_token"),
                refresh_expires_at=now + self.config.refresh_token_lifetime if token.get("refresh_token") else 0.0,
                code=getattr(code, "code", None),
                grant_type=request.payload.grant_type or "",
            )
        )

    def _generate_token(
        self,
        grant_type: str,
        client: SandboxClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        granted = client.get_allowed_scope(scope)
        if granted is None:
            raise InvalidScopeError()
        if isinstance(user, Subject) and user.koppeltaal and grant_type == "authorization_code":
            # Koppeltaal: the launch gives no data access (Backend Services does); no refresh token either.
            return {"token_type": "Bearer", "access_token": NOOP, "expires_in": 300, "scope": granted}
        if expires_in is None:
            expires_in = (
                self.config.backend_token_lifetime
                if grant_type == "client_credentials"
                else self.config.access_token_lifetime
            )
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "expires_in": expires_in,
            "scope": granted,
        }
        wants_refresh = bool(REFRESH_SCOPES & set(split_scope(granted)))
        if include_refresh_token and wants_refresh and grant_type != "client_credentials":
            token["refresh_token"] = secrets.token_urlsafe(40)
        return token
