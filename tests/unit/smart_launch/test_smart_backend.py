"""Backend Services: client_credentials with a signed JWT assertion and system/ scopes."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import KeySet
from smart_fakes import ISS, TOKEN, Clock, form, smart_configuration

from smart_launch import BackendRegistration, BackendServicesClient, ConfigurationError, public_jwks
from smart_launch.keys import CLIENT_ASSERTION_TYPE


@pytest.fixture
def backend(tmp_path: Path, clock: Clock) -> BackendServicesClient:
    key = tmp_path / "backend.pem"
    key.write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    reg = BackendRegistration(
        iss=ISS,
        client_id="resourcegroep-jobs",
        private_key_file=str(key),
        alg="ES384",
        scopes=("system/CareTeam.rs", "system/Task.cru"),
    )
    return BackendServicesClient(reg, http=requests.Session(), clock=clock)


def test_backend_token(rsps: responses.RequestsMock, backend: BackendServicesClient, clock: Clock) -> None:
    rsps.get(f"{ISS}/.well-known/smart-configuration", json=smart_configuration())
    rsps.post(
        TOKEN,
        json={
            "access_token": "sys-1",
            "token_type": "bearer",
            "expires_in": 300,
            "scope": "system/CareTeam.rs system/Task.cru",
        },
    )
    token = backend.token()
    assert token.access_token == "sys-1"
    assert token.expires_at == clock() + 300
    assert token.scopes == ("system/CareTeam.rs", "system/Task.cru")
    sent = form(next(c.request for c in rsps.calls if c.request.url == TOKEN))
    assert sent["grant_type"] == "client_credentials"
    assert sent["scope"] == "system/CareTeam.rs system/Task.cru"
    assert sent["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    jwks = KeySet.import_key_set(public_jwks([backend.signing_key]))  # type: ignore[arg-type]
    claims = jwt.decode(sent["client_assertion"], jwks, algorithms=["ES384"]).claims
    assert claims["iss"] == claims["sub"] == "resourcegroep-jobs"
    assert claims["aud"] == TOKEN
    assert claims["exp"] <= clock() + 300

    clock.advance(200)
    assert backend.token().access_token == "sys-1"  # reused while valid
    clock.advance(50)  # within 60 s of expiry: fetch a new one
    rsps.post(TOKEN, json={"access_token": "sys-2", "token_type": "Bearer", "expires_in": 300})
    assert backend.token().access_token == "sys-2"


def test_backend_only_system_scopes(backend: BackendServicesClient, rsps: responses.RequestsMock) -> None:
    with pytest.raises(ConfigurationError):
        backend.token(["patient/Goal.rs"])
    assert len(rsps.calls) == 0
    with pytest.raises(ConfigurationError):
        BackendRegistration(iss=ISS, client_id="c", private_key_file="k.pem", scopes=("user/Goal.rs",))
