"""Authlib grant and extension classes with the SMART App Launch 2.2 rules of the sandbox."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from sandbox.auth.config import ASSERTION_ALGORITHMS
from sandbox.auth.keys import ID_TOKEN_ALGORITHM
from sandbox.auth.scopes import split_scope
from sandbox.auth.store import AuthorizationCode, Subject, TokenRecord

if TYPE_CHECKING:
    from sandbox.auth.server import SandboxAuthServer

TOKEN_AUTH_METHODS = ["none", "client_secret_basic", "private_key_jwt"]
# SMART Backend Services: the assertion may live at most five minutes.
MAX_ASSERTION_LIFETIME = 300
_UNSAFE_DESCRIPTION = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


def safe_description(text: str) -> str:
    """Make text fit the character set OAuth allows in error_description."""
    return _UNSAFE_DESCRIPTION.sub("'", text)


def _sandbox(grant: Any) -> SandboxAuthServer:
    sandbox: SandboxAuthServer = grant.server.sandbox
    return sandbox


def token_context(subject: Subject | None, sandbox: SandboxAuthServer) -> dict[str, Any]:
    """SMART launch-context parameters for a token response."""
    if subject is None:
        return {}
    if subject.koppeltaal:
        # KOP-KT-007: the HTI token's context in its own parameters (patient as "Patient/<id>", not fhirContext).
        return dict(subject.koppeltaal)
    extra: dict[str, Any] = {
        "need_patient_banner": subject.need_patient_banner,
        "smart_style_url": sandbox.style_url,
    }
    if subject.patient:
        extra["patient"] = subject.patient
    if subject.encounter:
        extra["encounter"] = subject.encounter
    if subject.intent:
        extra["intent"] = subject.intent
    if subject.fhir_context:
        extra["fhirContext"] = [{"reference": ref} for ref in subject.fhir_context]
    return extra


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE as SMART 2.2 wants it: always required, S256 only (plain is refused)."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    CODE_CHALLENGE_METHODS: ClassVar[dict[str, Any]] = {"S256": CodeChallenge.CODE_CHALLENGE_METHODS["S256"]}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)


class SmartAuthorizationCodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    """Authorization code grant with SMART checks (aud, launch) and launch context in the token."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        sandbox = _sandbox(self)
        data = self.request.payload.data
        aud = (data.get("aud") or "").rstrip("/")
        if aud != sandbox.config.fhir_base:
            raise InvalidRequestError(
                "The 'aud' parameter must be the FHIR base URL of this server.", redirect_uri=redirect_uri
            )
        launch_value = data.get("launch")
        self.request.smart_launch = None
        if launch_value:
            if "launch" not in split_scope(data.get("scope")):
                raise InvalidScopeError("A 'launch' parameter needs the 'launch' scope.", redirect_uri=redirect_uri)
            context = sandbox.resolve_launch(launch_value)
            if context is None:
                raise InvalidRequestError("Unknown or expired 'launch' value.", redirect_uri=redirect_uri)
            self.request.smart_launch = context
        return redirect_uri

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        sandbox = _sandbox(self)
        data = request.payload.data
        now = sandbox.store.clock()
        sandbox.store.save_code(
            AuthorizationCode(
                code=code,
                client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                subject=request.user,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                nonce=data.get("nonce"),
                auth_time=int(now),
                expires_at=now + sandbox.config.code_lifetime,
            )
        )

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCode | None:
        return _sandbox(self).store.claim_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Already marked used when claimed; it stays remembered so a replay can be detected.
        return None

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Subject:
        return authorization_code.subject

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        status, token, headers = super().create_token_response()
        token.update(token_context(self.request.user, _sandbox(self)))
        return status, token, headers


class RotatingRefreshTokenGrant(RefreshTokenGrant):  # type: ignore[misc]
    """Refresh grant that rotates: every use gives a new refresh token and retires the old one."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        return _sandbox(self).store.find_refresh(refresh_token)

    def authenticate_user(self, refresh_token: TokenRecord) -> Subject | None:
        return refresh_token.subject

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        _sandbox(self).store.revoke_refresh(refresh_token)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        status, token, headers = super().create_token_response()
        token.update(token_context(self.request.user, _sandbox(self)))
        return status, token, headers


class BackendServicesGrant(ClientCredentialsGrant):  # type: ignore[misc]
    """SMART Backend Services: client_credentials with a private_key_jwt assertion and system/ scopes."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["private_key_jwt"]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        requested = split_scope(self.request.payload.scope)
        if not requested:
            raise InvalidScopeError("Backend services must ask for system/ scopes.")
        if any(not s.startswith("system/") for s in requested):
            raise InvalidScopeError("Backend services may only ask for system/ scopes.")


class PrivateKeyJwtAuthentication(JWTBearerClientAssertion):  # type: ignore[misc]
    """Client authentication with a signed JWT (RS384 or ES384) checked against the client's JWKS."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, sandbox: SandboxAuthServer) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.sandbox = sandbox

    def get_audiences(self) -> list[str]:
        return [self.sandbox.token_endpoint]

    def resolve_client_public_key(self, client: Any) -> KeySet:
        try:
            keys: KeySet = client.public_keys()
        except (requests.RequestException, ValueError, LookupError, JoseError) as exc:
            raise InvalidClientError(description="The client's public keys could not be read.") from exc
        return keys

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except (JoseError, ValueError) as exc:
            description = getattr(exc, "description", None) or "Invalid client assertion."
            raise InvalidClientError(description=safe_description(str(description))) from exc
        claims: dict[str, Any] = dict(token.claims)
        self.verify_claims(claims)
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> None:
        now = int(self.sandbox.store.clock())
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=self.leeway,
            iss={"essential": True},
            sub={"essential": True},
            aud={"essential": True, "values": self.get_audiences()},
            exp={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            description = getattr(exc, "description", None) or "Invalid client assertion claims."
            raise InvalidClientError(description=safe_description(str(description))) from exc
        if claims["sub"] != claims["iss"]:
            raise InvalidClientError(description="Issuer and subject of the assertion must match.")
        if int(claims["exp"]) > now + MAX_ASSERTION_LIFETIME + self.leeway:
            raise InvalidClientError(description="The assertion may live at most five minutes.")
        if not self.validate_jti(claims, claims["jti"]):
            raise InvalidClientError(description="The assertion's jti was used before.")

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        return self.sandbox.store.remember_jti(f"{claims['sub']}:{jti}", float(claims["exp"]))


class IntrospectionClientAuthentication(PrivateKeyJwtAuthentication):
    """TOP-KT-021: a caller of the introspection endpoint authenticates with a private_key_jwt assertion whose
    `aud` is the introspection endpoint (RFC 7523), checked like the token endpoint's."""

    def get_audiences(self) -> list[str]:
        return [self.sandbox.introspection_endpoint]

    def authenticate(self, client_id: str | None, assertion: str | None) -> Any:
        """The registered client the assertion proves; raises InvalidClientError."""
        client = self.sandbox.query_client(client_id) if client_id else None
        if client is None or client.config.auth_method != "private_key_jwt" or not assertion:
            raise InvalidClientError(description="Unknown client, or no private_key_jwt assertion.")
        claims = self.process_assertion_claims(assertion, self.resolve_client_public_key(client))
        if claims["iss"] != client_id:
            raise InvalidClientError(description="The assertion is not of this client.")
        return client


class SmartOpenIDCode(OpenIDCode):  # type: ignore[misc]
    """OpenID Connect for the code flow: RS256 id_token with fhirUser, signed with the server key."""

    def __init__(self, sandbox: SandboxAuthServer) -> None:
        super().__init__(require_nonce=False)
        self.sandbox = sandbox

    def resolve_client_private_key(self, client: Any) -> Any:
        return self.sandbox.key.private_key

    def get_client_algorithm(self, client: Any) -> str:
        return ID_TOKEN_ALGORITHM

    def get_encode_header(self, client: Any) -> dict[str, str]:
        return {"alg": ID_TOKEN_ALGORITHM, "kid": self.sandbox.key.kid, "typ": "JWT"}

    def get_client_claims(self, client: Any) -> dict[str, Any]:
        now = int(self.sandbox.store.clock())
        return {
            "iss": self.sandbox.config.issuer_url,
            "aud": client.client_id,
            "iat": now,
            "exp": now + self.sandbox.config.id_token_lifetime,
        }

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return self.sandbox.store.nonce_used(request.payload.client_id, nonce)

    def generate_user_info(self, user: Subject, scope: str) -> dict[str, Any]:
        scopes = split_scope(scope)
        info: dict[str, Any] = {"sub": user.reference}
        if "fhirUser" in scopes or "profile" in scopes:
            info["fhirUser"] = f"{self.sandbox.config.fhir_base}/{user.reference}"
        if "profile" in scopes:
            info["name"] = user.person.display
        return info
