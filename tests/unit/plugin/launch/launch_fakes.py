"""A fake EHR (authorization server + FHIR reads) for the launch blueprint tests, answering via `responses`."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from plugin.app import create_app
from plugin.config import AppConfig
from smart_launch import Discovery, EhrRegistration, EhrRegistry, SmartClient

ISS = "https://epd.example.org/fhir"
AUTHORIZE = "https://epd.example.org/oauth/authorize"
TOKEN = "https://epd.example.org/oauth/token"
JWKS_URI = "https://epd.example.org/oauth/jwks"
CLIENT_ID = "resourcegroep"
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
SECRET = "test-secret-key-that-is-long-enough-0123456789"
FULL_GRANT = [
    "launch",
    "openid",
    "fhirUser",
    *(f"patient/{t}.crus" for t in RESOURCE_TYPES),
    "patient/Provenance.c",
    "patient/Patient.r",
]


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


class FakeEhr:
    """Answers discovery, JWKS, token and FHIR reads; remembers the nonce of each state."""

    def __init__(self, rsps: responses.RequestsMock, clock: Clock) -> None:
        self.rsps = rsps
        self.clock = clock
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        rsps.get(
            f"{ISS}/.well-known/smart-configuration",
            json={
                "issuer": ISS,
                "jwks_uri": JWKS_URI,
                "authorization_endpoint": AUTHORIZE,
                "token_endpoint": TOKEN,
                "capabilities": ["launch-ehr", "launch-standalone", "permission-v2", "sso-openid-connect"],
                "code_challenge_methods_supported": ["S256"],
            },
        )
        rsps.get(JWKS_URI, json={"keys": [self.key.as_dict(private=False)]})
        for pid, (given, family) in {"p1": ("Anna", "de Vries"), "p2": ("Bram", "Jansen")}.items():
            rsps.get(
                f"{ISS}/Patient/{pid}",
                json={
                    "resourceType": "Patient",
                    "id": pid,
                    "birthDate": "1990-01-02",
                    "name": [{"use": "official", "given": [given], "family": family}],
                },
            )
        rsps.get(
            f"{ISS}/Practitioner/pr1",
            json={"resourceType": "Practitioner", "id": "pr1", "name": [{"text": "Dr. Chris Bakker"}]},
        )

    def id_token(self, nonce: str, **overrides: Any) -> str:
        now = int(self.clock())
        claims = {
            "iss": ISS,
            "sub": "u1",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "fhirUser": "Practitioner/pr1",
            **overrides,
        }
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key, algorithms=["RS256"])

    def answer_token(self, nonce: str, *, patient: str = "p1", **overrides: Any) -> None:
        body: dict[str, Any] = {
            "access_token": f"secret-access-token-{patient}",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": " ".join(FULL_GRANT),
            "refresh_token": f"secret-refresh-token-{patient}",
            "id_token": self.id_token(nonce),
            "patient": patient,
            "need_patient_banner": True,
        }
        body.update(overrides)
        self.rsps.upsert(responses.POST, TOKEN, json=body)


def query(url: str) -> dict[str, str]:
    """Query parameters of `url`."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def make_app(clock: Clock, **overrides: object) -> Flask:
    """An app for tests, its SMART client on the test clock."""
    settings: dict[str, object] = {
        "public_base_url": "https://app.example.org",
        "secret_key": SECRET,
        "ehrs": (EhrRegistration(name="epd", iss=ISS, client_id=CLIENT_ID, title="Test EPD"),),
        "frame_ancestors": ("'self'", "https://epd.example.org"),
    }
    settings.update(overrides)
    config = AppConfig(**settings)  # type: ignore[arg-type]
    app = create_app(config)
    app.config["TESTING"] = True
    app.config["HOME_ENDPOINT"] = "launch.home"  # these tests look at the launch itself, not at a group
    old: SmartClient = app.extensions["smart_client"]
    # Same wiring, but with the test clock, so expiry is tested without waiting.
    app.extensions["smart_client"] = SmartClient(
        EhrRegistry(config.ehrs),
        old.store,
        redirect_uri=config.redirect_uri,
        discovery=Discovery(clock=clock),
        clock=clock,
    )
    return app


def pending_nonce(app: Flask, state: str) -> str:
    """The nonce the app sent for `state`."""
    client: SmartClient = app.extensions["smart_client"]
    pending = client.store.take_pending(state)
    assert pending is not None
    client.store.save_pending(pending)
    return pending.nonce


def launch(app: Flask, browser: FlaskClient, ehr: FakeEhr, *, patient: str = "p1", **token: object) -> str:
    """Run a full EHR launch in `browser`; returns the /c/<id>/ location."""
    start = browser.get(f"/launch?iss={ISS}&launch=L-{patient}")
    assert start.status_code == 302
    location = start.headers["Location"]
    assert location.startswith(AUTHORIZE + "?")
    state = query(location)["state"]
    ehr.answer_token(pending_nonce(app, state), patient=patient, **token)
    done = browser.get(f"/callback?code=code-{patient}&state={state}")
    assert done.status_code == 303, done.get_data(as_text=True)
    target = done.headers["Location"]
    assert re.fullmatch(r"/c/[A-Za-z0-9_-]{16,}/verbinding", target)
    return target
