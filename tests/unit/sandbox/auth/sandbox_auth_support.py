"""Shared helpers for the sandbox auth and EPD tests: a fake clock, people, keys, and a test app."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from sandbox.access import Person
from sandbox.auth import AuthServerConfig, SandboxAuthServer, StaticDirectory, create_auth_blueprint

ORIGIN = "http://127.0.0.1:8400"
ISSUER = f"{ORIGIN}/auth"
FHIR_BASE = f"{ORIGIN}/fhir"
TOKEN_URL = f"{ISSUER}/token"
REDIRECT = "http://127.0.0.1:8500/callback"

PEOPLE = [
    Person("Practitioner", "pr1", "Dr. Anna de Vries"),
    Person("Practitioner", "pr2", "Bram Jansen (regieondersteuner)"),
    Person("Patient", "p1", "Sanne Bakker"),
    Person("Patient", "p2", "Mohammed El Amrani"),
]


class FakeClock:
    """A clock tests move by hand (never sleep)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Sandbox:
    """A running (in-process) sandbox auth server with its Flask test client."""

    server: SandboxAuthServer
    app: Flask
    client: FlaskClient
    clock: FakeClock
    keys: dict[str, Any] = field(default_factory=dict)


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def make_sandbox(clients: list[Mapping[str, Any]] | None = None, **settings: Any) -> Sandbox:
    """Build a sandbox auth server with the default public/basic/jwt clients unless given."""
    clock = FakeClock()
    rsa_key = RSAKey.generate_key(2048, {"alg": "RS384", "use": "sig"}, private=True, auto_kid=True)
    ec_key = ECKey.generate_key("P-384", {"alg": "ES384", "use": "sig"}, private=True, auto_kid=True)
    public_jwks = {"keys": [rsa_key.as_dict(private=False), ec_key.as_dict(private=False)]}
    if clients is None:
        clients = [
            {"client_id": "public-app", "auth_method": "none", "redirect_uris": [REDIRECT]},
            {
                "client_id": "secret-app",
                "auth_method": "client_secret_basic",
                "secret": "s3cret-value",
                "redirect_uris": [REDIRECT],
            },
            {
                "client_id": "jwt-app",
                "auth_method": "private_key_jwt",
                "jwks": public_jwks,
                "redirect_uris": [REDIRECT],
            },
            {"client_id": "backend", "auth_method": "private_key_jwt", "jwks": public_jwks},
        ]
    config = AuthServerConfig.from_dict({"issuer": ISSUER, "fhir_base_url": FHIR_BASE, "clients": clients, **settings})
    server = SandboxAuthServer(config, StaticDirectory(PEOPLE), clock=clock)
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret", TESTING=True)
    app.register_blueprint(create_auth_blueprint(server))
    return Sandbox(server, app, app.test_client(), clock, {"rsa": rsa_key, "ec": ec_key})


def client_assertion(
    key: RSAKey | ECKey,
    client_id: str,
    clock: FakeClock,
    *,
    alg: str | None = None,
    aud: str = TOKEN_URL,
    lifetime: int = 240,
    jti: str | None = None,
) -> str:
    """A private_key_jwt client assertion as a SMART client makes it."""
    now = int(clock())
    algorithm = alg or ("RS384" if isinstance(key, RSAKey) else "ES384")
    if key.get("alg") not in (None, algorithm):
        # Sign with the same key material under another algorithm (to test that it is refused).
        material = {k: v for k, v in key.as_dict(private=True).items() if k != "alg"}
        key = type(key).import_key(material)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "exp": now + lifetime,
        "iat": now,
        "jti": jti or str(uuid.uuid4()),
    }
    return jwt.encode({"alg": algorithm, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[algorithm])


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect Location (single values)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_params(client_id: str = "public-app", *, challenge: str, **extra: str) -> dict[str, str]:
    """A complete, valid standalone authorization request."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid fhirUser launch/patient patient/*.rs offline_access",
        "state": secrets.token_urlsafe(16),
        "aud": FHIR_BASE,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "nonce": secrets.token_urlsafe(8),
        "login_hint": "sandbox_auto:Practitioner/pr1:p1",
    }
    params.update(extra)
    return {k: v for k, v in params.items() if v != ""}


def get_code(sb: Sandbox, params: Mapping[str, str]) -> str:
    """Run the authorize endpoint and return the code (asserting a clean redirect)."""
    response = sb.client.get("/auth/authorize", query_string=dict(params))
    assert response.status_code == 302, response.get_data(as_text=True)
    query = query_of(response.headers["Location"])
    assert "error" not in query, query
    assert query["state"] == params["state"]
    return query["code"]


def token_request(sb: Sandbox, client_id: str, data: Mapping[str, str]) -> Any:
    """POST to the token endpoint, authenticating the way `client_id` is registered."""
    form = dict(data)
    headers: dict[str, str] = {}
    method = sb.server.query_client(client_id).config.auth_method if sb.server.query_client(client_id) else "none"
    if method == "client_secret_basic":
        secret = sb.server.query_client(client_id).config.secret  # type: ignore[union-attr]
        headers["Authorization"] = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    elif method == "private_key_jwt":
        form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        form["client_assertion"] = client_assertion(sb.keys["rsa"], client_id, sb.clock)
    else:
        form["client_id"] = client_id
    return sb.client.post("/auth/token", data=form, headers=headers)


def exchange(sb: Sandbox, client_id: str, code: str, verifier: str, redirect_uri: str = REDIRECT) -> Any:
    """Trade a code for tokens."""
    return token_request(
        sb,
        client_id,
        {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": redirect_uri},
    )
