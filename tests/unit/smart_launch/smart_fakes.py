"""Test doubles for the SMART client tests: a fake authorization server (with `responses`) and a clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from joserfc import jwt
from joserfc.jwk import RSAKey

ISS = "https://epd.example.org/fhir"
AUTHORIZE = "https://epd.example.org/oauth/authorize"
TOKEN = "https://epd.example.org/oauth/token"
JWKS_URI = "https://epd.example.org/oauth/jwks"
ISSUER = "https://epd.example.org/oauth"
REDIRECT = "https://app.example.org/callback"
CLIENT_ID = "resourcegroep"
SESSION = "browser-session-1"


class Clock:
    """A settable clock, so expiry is tested without waiting."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def smart_configuration(*, v2: bool = True) -> dict[str, Any]:
    caps = ["launch-ehr", "launch-standalone", "client-public", "sso-openid-connect", "permission-v1"]
    if v2:
        caps.append("permission-v2")
    return {
        "issuer": ISSUER,
        "jwks_uri": JWKS_URI,
        "authorization_endpoint": AUTHORIZE,
        "token_endpoint": TOKEN,
        "capabilities": caps,
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
    }


@dataclass
class FakeEhr:
    """The EHR side of the protocol, answering through `responses`."""

    rsps: responses.RequestsMock
    clock: Clock
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "server-1"}))

    def discovery(self, *, v2: bool = True) -> None:
        self.rsps.get(f"{ISS}/.well-known/smart-configuration", json=smart_configuration(v2=v2))

    def jwks(self) -> None:
        self.rsps.get(JWKS_URI, json={"keys": [self.key.as_dict(private=False)]})

    def id_token(
        self,
        nonce_claim: str | None,
        *,
        key: RSAKey | None = None,
        alg: str = "RS256",
        **overrides: Any,
    ) -> str:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": "user-42",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce_claim,
            "fhirUser": f"{ISS}/Practitioner/pr1",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        signer = key or self.key
        return jwt.encode({"alg": alg, "kid": signer.kid}, claims, signer, algorithms=[alg])

    def token(self, body: dict[str, Any] | None = None, *, status: int = 200, **kwargs: Any) -> None:
        if body is None and status == 200:
            body = {}
        if body is not None:
            self.rsps.post(TOKEN, json=body, status=status, **kwargs)
        else:
            self.rsps.post(TOKEN, status=status, **kwargs)

    def token_body(self, nonce: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": "at-1",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": " ".join(FULL_GRANT),
            "refresh_token": "rt-1",
            "id_token": self.id_token(nonce),
            "patient": "p1",
            "encounter": "e1",
            "fhirContext": [{"reference": "CarePlan/cp1"}],
            "need_patient_banner": False,
            "smart_style_url": "https://epd.example.org/style.json",
            "intent": "group-view",
        }
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not None}


FULL_GRANT = [
    "launch",
    "openid",
    "fhirUser",
    "online_access",
    *(
        f"patient/{t}.crus"
        for t in (
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
    ),
    "patient/Provenance.c",
    "patient/Patient.r",
]


def query(url: str) -> dict[str, str]:
    """The query parameters of `url` (each once)."""
    parsed = parse_qs(urlsplit(url).query, strict_parsing=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


def form(request: Any) -> dict[str, str]:
    """The form body of a recorded request."""
    body = request.body if isinstance(request.body, str) else request.body.decode()
    return {k: v[0] for k, v in parse_qs(body).items()}
