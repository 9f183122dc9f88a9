"""Client authentication: public, client_secret_basic, private_key_jwt (RS384, ES384), and our JWKS."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import KeySet
from smart_fakes import CLIENT_ID, ISS, REDIRECT, SESSION, TOKEN, Clock, FakeEhr, form

from smart_launch import (
    ConfigurationError,
    EhrRegistration,
    EhrRegistry,
    MemorySessionStore,
    SigningKey,
    SmartClient,
    public_jwks,
)
from smart_launch.errors import TokenEndpointError
from smart_launch.keys import CLIENT_ASSERTION_TYPE
from smart_launch.tokens import ClientCredentials, request_token


def pem_file(tmp_path: Path, alg: str) -> Path:
    if alg == "RS384":
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.generate_private_key(65537, 2048)
    else:
        private = ec.generate_private_key(ec.SECP384R1())
    path = tmp_path / f"{alg}.pem"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def exchange(ehr: FakeEhr, reg: EhrRegistration, clock: Clock) -> tuple[SmartClient, list[requests.PreparedRequest]]:
    """Run two complete launches and return the token requests that were sent."""
    store = MemorySessionStore()
    client = SmartClient(EhrRegistry([reg]), store, redirect_uri=REDIRECT, clock=clock)
    ehr.discovery()
    ehr.jwks()
    for _ in range(2):
        request = client.begin_ehr_launch(ISS, "l", SESSION)
        pending = store.take_pending(request.state)
        assert pending is not None
        store.save_pending(pending)
        ehr.rsps.remove("POST", TOKEN)
        ehr.token(ehr.token_body(pending.nonce))
        client.complete_authorization({"state": request.state, "code": "c"}, SESSION)
    return client, [c.request for c in ehr.rsps.calls if c.request.url == TOKEN]


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_private_key_jwt_assertion(ehr: FakeEhr, clock: Clock, tmp_path: Path, alg: str) -> None:
    reg = EhrRegistration(
        name="epd",
        iss=ISS,
        client_id=CLIENT_ID,
        client_auth="private_key_jwt",
        private_key_file=str(pem_file(tmp_path, alg)),
        alg=alg,  # type: ignore[arg-type]
    )
    client, requests_sent = exchange(ehr, reg, clock)
    jwks = KeySet.import_key_set(public_jwks(client.signing_keys()))  # type: ignore[arg-type]
    jtis = set()
    for request in requests_sent:
        sent = form(request)
        assert sent["client_assertion_type"] == CLIENT_ASSERTION_TYPE
        assert "client_secret" not in sent and "Authorization" not in request.headers
        token = jwt.decode(sent["client_assertion"], jwks, algorithms=[alg])
        assert token.header["alg"] == alg
        assert token.header["kid"] == client.signing_keys()[0].kid
        claims = token.claims
        assert claims["iss"] == claims["sub"] == CLIENT_ID
        assert claims["aud"] == TOKEN
        assert clock() < claims["exp"] <= clock() + 300
        jtis.add(claims["jti"])
    assert len(jtis) == 2  # unique per assertion


def test_client_secret_basic(ehr: FakeEhr, clock: Clock) -> None:
    reg = EhrRegistration(
        name="epd", iss=ISS, client_id=CLIENT_ID, client_auth="client_secret_basic", client_secret="s3cr=t&"
    )
    _, sent = exchange(ehr, reg, clock)
    header = sent[0].headers["Authorization"]
    assert header.startswith("Basic ")
    assert base64.b64decode(header[6:]).decode() == "resourcegroep:s3cr%3Dt%26"
    assert "client_secret" not in form(sent[0])


def test_public_jwks_has_only_public_parts(tmp_path: Path) -> None:
    keys = [
        SigningKey.from_file(pem_file(tmp_path, "RS384"), "RS384"),
        SigningKey.from_file(pem_file(tmp_path, "ES384"), "ES384"),
    ]
    doc = public_jwks(keys)
    assert [k["kid"] for k in doc["keys"]] == [k.kid for k in keys]
    assert [k["alg"] for k in doc["keys"]] == ["RS384", "ES384"]
    for jwk in doc["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & jwk.keys()
        assert jwk["use"] == "sig"


def test_key_must_fit_alg(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        SigningKey.from_file(pem_file(tmp_path, "ES384"), "RS384")
    with pytest.raises(ConfigurationError):
        SigningKey.from_file(pem_file(tmp_path, "RS384"), "ES384")
    with pytest.raises(ConfigurationError):
        SigningKey.from_file(tmp_path / "missing.pem", "RS384")
    p256 = tmp_path / "p256.pem"
    p256.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ConfigurationError):
        SigningKey.from_file(p256, "ES384")


def test_registration_checks() -> None:
    with pytest.raises(ConfigurationError):
        EhrRegistration(name="x", iss=ISS, client_id="c", client_auth="client_secret_basic")
    with pytest.raises(ConfigurationError):
        EhrRegistration(name="x", iss=ISS, client_id="c", client_auth="private_key_jwt")
    with pytest.raises(ConfigurationError):
        EhrRegistration(name="x", iss="not-a-url", client_id="c")


def _basic_only(accepted: str) -> Callable[[requests.PreparedRequest], tuple[int, dict[str, str], str]]:
    """A token endpoint that takes exactly one Basic credential string ("id:secret")."""

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        header = request.headers.get("Authorization", "")
        if base64.b64decode(header.removeprefix("Basic ")).decode() == accepted:
            return 200, {}, json.dumps({"access_token": "at", "token_type": "Bearer", "expires_in": 300})
        return 401, {}, json.dumps({"error": "invalid_client"})

    return answer


@pytest.mark.parametrize(
    ("accepts", "calls"),
    [("id:a%2Bb%2Fc%3D", 1), ("id:a+b/c=", 2)],
    ids=["rfc-6749-encoding", "unencoded-only"],
)
def test_a_secret_with_plus_slash_equals_works_with_both_kinds_of_token_endpoint(accepts: str, calls: int) -> None:
    endpoint = f"https://auth.example.org/{calls}/token"
    credentials = ClientCredentials(method="client_secret_basic", client_id="id", client_secret="a+b/c=")
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, endpoint, callback=_basic_only(accepts))
        token = request_token(requests.Session(), endpoint, {"grant_type": "x"}, credentials, timeout=(1, 1))
        assert token.access_token == "at" and len(rsps.calls) == calls
        # What worked is used from then on: one request each time.
        request_token(requests.Session(), endpoint, {"grant_type": "x"}, credentials, timeout=(1, 1))
        assert len(rsps.calls) == calls + 1


def test_a_plain_secret_that_is_refused_is_not_sent_twice() -> None:
    endpoint = "https://auth.example.org/plain/token"
    credentials = ClientCredentials(method="client_secret_basic", client_id="id", client_secret="plain")
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, endpoint, callback=_basic_only("id:other"))
        with pytest.raises(TokenEndpointError) as err:
            request_token(requests.Session(), endpoint, {"grant_type": "x"}, credentials, timeout=(1, 1))
        assert err.value.error == "invalid_client" and len(rsps.calls) == 1
