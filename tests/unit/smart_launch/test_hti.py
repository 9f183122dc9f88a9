"""Koppeltaal HTI tokens: signature against the launching application's JWKS, aud, exp, jti once; the OIDC flow
with `launch openid fhirUser`, and the launch context from the token response."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from smart_fakes import ISS, SESSION, Clock, FakeEhr, query

from smart_launch import (
    HtiTokenError,
    HtiVerifier,
    KoppeltaalDomain,
    MemorySessionStore,
    ServerJwks,
    SmartClient,
    SQLiteSessionStore,
)
from smart_launch.tokens import TokenResponse

PORTAL = "portal-client"
PORTAL_JWKS = "https://portal.example.org/.well-known/jwks.json"
DEVICE = "Device/resourcegroep"


@pytest.fixture
def portal_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "portal-1"})


@pytest.fixture
def domain(tmp_path: Path) -> KoppeltaalDomain:
    return KoppeltaalDomain(
        name="kt",
        iss=ISS,
        client_id="resourcegroep",
        private_key_file=str(tmp_path / "unused.pem"),
        launcher_jwks={PORTAL: PORTAL_JWKS},
    )


@pytest.fixture
def verifier(domain: KoppeltaalDomain, rsps: responses.RequestsMock, portal_key: RSAKey, clock: Clock) -> HtiVerifier:
    rsps.get(PORTAL_JWKS, json={"keys": [portal_key.as_dict(private=False)]})
    return HtiVerifier(domain, MemorySessionStore(), jwks=ServerJwks(requests.Session(), clock=clock), clock=clock)


def hti(key: RSAKey, clock: Clock, *, alg: str = "RS256", **overrides: Any) -> str:
    now = int(clock())
    claims: dict[str, Any] = {
        "iss": PORTAL,
        "aud": DEVICE,
        "sub": "Practitioner/anna",
        "patient": "Patient/321",
        "resource": "Task/t1",
        "definition": "ActivityDefinition/resourcegroep",
        "intent": "plan",
        "iat": now,
        "exp": now + 240,
        "jti": "jti-1",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])


def refused(verifier: HtiVerifier, token: str) -> str:
    with pytest.raises(HtiTokenError) as err:
        verifier.verify(token)
    return err.value.reason


def test_valid_token_gives_the_launch(verifier: HtiVerifier, portal_key: RSAKey, clock: Clock) -> None:
    launch = verifier.verify(hti(portal_key, clock))
    assert launch.launcher == PORTAL
    assert launch.subject == "Practitioner/anna"
    assert launch.patient == "Patient/321"
    assert launch.resource == "Task/t1"
    assert launch.definition == "ActivityDefinition/resourcegroep"
    assert launch.intent == "plan"


def test_expired_token_is_refused(verifier: HtiVerifier, portal_key: RSAKey, clock: Clock) -> None:
    token = hti(portal_key, clock)
    clock.advance(300)
    assert refused(verifier, token) == "expired"


def test_replayed_jti_is_refused(verifier: HtiVerifier, portal_key: RSAKey, clock: Clock) -> None:
    verifier.verify(hti(portal_key, clock))
    assert refused(verifier, hti(portal_key, clock)) == "replayed"
    verifier.verify(hti(portal_key, clock, jti="jti-2"))  # another token of the same portal still works


def test_wrong_audience_is_refused_without_using_up_the_jti(
    verifier: HtiVerifier, portal_key: RSAKey, clock: Clock
) -> None:
    assert refused(verifier, hti(portal_key, clock, aud="Device/other-module")) == "wrong_audience"
    verifier.verify(hti(portal_key, clock))  # the same jti, rightly addressed: not consumed by the refusal


def test_unsigned_token_is_refused(verifier: HtiVerifier, portal_key: RSAKey, clock: Clock) -> None:
    signed = hti(portal_key, clock)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    payload = signed.split(".")[1]
    assert refused(verifier, f"{header}.{payload}.") == "unsigned"


def test_hmac_token_is_refused(verifier: HtiVerifier, clock: Clock) -> None:
    secret = OctKey.generate_key(256, parameters={"kid": "portal-1"})
    now = int(clock())
    claims = {"iss": PORTAL, "aud": DEVICE, "sub": "Patient/p", "exp": now + 60, "jti": "x"}
    token = jwt.encode({"alg": "HS256", "kid": "portal-1"}, claims, secret, algorithms=["HS256"])
    assert refused(verifier, token) == "unsigned"


def test_token_signed_with_another_key_is_refused(verifier: HtiVerifier, clock: Clock) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "portal-1"})  # same kid, other key
    assert refused(verifier, hti(impostor, clock)) == "bad_signature"


def test_exp_more_than_five_minutes_ahead_is_refused(verifier: HtiVerifier, portal_key: RSAKey, clock: Clock) -> None:
    assert refused(verifier, hti(portal_key, clock, exp=int(clock()) + 3600)) == "too_long"


def test_unknown_launcher_is_refused_before_any_request(
    verifier: HtiVerifier, portal_key: RSAKey, clock: Clock, rsps: responses.RequestsMock
) -> None:
    assert refused(verifier, hti(portal_key, clock, iss="someone-else")) == "unknown_issuer"
    assert len(rsps.calls) == 0


def test_subject_must_be_a_person_reference(verifier: HtiVerifier, portal_key: RSAKey, clock: Clock) -> None:
    assert refused(verifier, hti(portal_key, clock, sub="Device/x")) == "bad_subject"


def test_garbage_is_refused(verifier: HtiVerifier) -> None:
    assert refused(verifier, "not-a-token") == "malformed"
    assert refused(verifier, "") == "malformed"


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_stores_remember_once_until_expiry(kind: str, tmp_path: Path) -> None:
    store = MemorySessionStore() if kind == "memory" else SQLiteSessionStore(tmp_path / "s.sqlite3")
    assert store.remember_once("k", time.time() + 60)
    assert not store.remember_once("k", time.time() + 60)
    assert store.remember_once("gone", time.time() - 1)
    assert store.remember_once("gone", time.time() + 60)  # its first memory had expired


def test_domain_defaults_device_to_client_id(tmp_path: Path) -> None:
    domain = KoppeltaalDomain(
        name="kt", iss=ISS + "/", client_id="abc", private_key_file="k.pem", domain_jwks_url=PORTAL_JWKS
    )
    assert domain.device == "Device/abc"
    assert domain.iss == ISS
    assert domain.jwks_url_for("anyone") == PORTAL_JWKS


def test_token_response_keeps_koppeltaal_context_and_patient_id() -> None:
    parsed = TokenResponse.parse(
        {
            "access_token": "NOOP",
            "token_type": "bearer",
            "expires_in": 300,
            "patient": "Patient/321",
            "resource": "Task/t1",
            "definition": "ActivityDefinition/ad",
            "sub": "Practitioner/anna",
            "intent": "plan",
        }
    )
    assert parsed.patient == "321"
    assert (parsed.resource, parsed.definition, parsed.sub, parsed.intent) == (
        "Task/t1",
        "ActivityDefinition/ad",
        "Practitioner/anna",
        "plan",
    )
    assert TokenResponse.parse({"access_token": "a", "token_type": "Bearer", "patient": "p1"}).patient == "p1"


def _hti_launch(
    ehr: FakeEhr, client: SmartClient, verifier: HtiVerifier, portal_key: RSAKey, clock: Clock
) -> tuple[dict[str, str], str]:
    ehr.discovery()
    ehr.jwks()
    token = hti(portal_key, clock)
    request = client.begin_hti_launch(client.registry.by_name("epd"), token, verifier.verify(token), SESSION)
    return query(request.url), token


def test_oidc_flow_asks_exactly_launch_openid_fhiruser(
    ehr: FakeEhr, client: SmartClient, verifier: HtiVerifier, portal_key: RSAKey, clock: Clock
) -> None:
    params, token = _hti_launch(ehr, client, verifier, portal_key, clock)
    assert params["scope"] == "launch openid fhirUser"
    assert params["launch"] == token
    assert params["code_challenge_method"] == "S256"
    assert params["aud"] == ISS


def test_callback_keeps_the_koppeltaal_context(
    ehr: FakeEhr,
    client: SmartClient,
    store: MemorySessionStore,
    verifier: HtiVerifier,
    portal_key: RSAKey,
    clock: Clock,
) -> None:
    params, _ = _hti_launch(ehr, client, verifier, portal_key, clock)
    pending = store.take_pending(params["state"])
    assert pending is not None
    store.save_pending(pending)
    ehr.token(
        {
            "access_token": "NOOP",
            "token_type": "bearer",
            "expires_in": 300,
            "scope": "launch openid fhirUser",
            "id_token": ehr.id_token(pending.nonce),
            "patient": "Patient/321",
            "resource": "Task/t1",
            "definition": "ActivityDefinition/resourcegroep",
            "sub": "Practitioner/anna",
            "intent": "plan",
        }
    )
    context = client.complete_authorization({"state": params["state"], "code": "c1"}, SESSION)
    assert context.launch_kind == "koppeltaal" and context.uses_backend_services
    assert context.patient == "321"
    assert (context.resource, context.definition, context.launch_subject) == (
        "Task/t1",
        "ActivityDefinition/resourcegroep",
        "Practitioner/anna",
    )
    assert context.intent == "plan"
    assert context.expires_at is None  # the NOOP token is never refreshed (and never used)


def test_callback_refuses_a_context_that_contradicts_the_hti_token(
    ehr: FakeEhr,
    client: SmartClient,
    store: MemorySessionStore,
    verifier: HtiVerifier,
    portal_key: RSAKey,
    clock: Clock,
) -> None:
    params, _ = _hti_launch(ehr, client, verifier, portal_key, clock)
    pending = store.take_pending(params["state"])
    assert pending is not None
    store.save_pending(pending)
    ehr.token(
        {
            "access_token": "NOOP",
            "token_type": "bearer",
            "scope": "launch openid fhirUser",
            "id_token": ehr.id_token(pending.nonce),
            "patient": "Patient/999",
            "sub": "Practitioner/anna",
        }
    )
    with pytest.raises(HtiTokenError) as err:
        client.complete_authorization({"state": params["state"], "code": "c1"}, SESSION)
    assert err.value.reason == "context_mismatch"
