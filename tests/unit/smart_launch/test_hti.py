"""Koppeltaal HTI tokens: signature against the launching application's JWKS, aud, exp, jti once; the OIDC flow
with `launch openid fhirUser`, and the launch context from the token response."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
import responses
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from smart_fakes import ISS, SESSION, Clock, FakeEhr, query, smart_configuration

from smart_launch import (
    ConfigurationError,
    Discovery,
    HtiTokenError,
    HtiVerifier,
    KoppeltaalDomain,
    MemorySessionStore,
    ServerJwks,
    SigningKey,
    SmartClient,
    SQLiteSessionStore,
)
from smart_launch.hti import HtiIntrospection
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
            "id_token": ehr.id_token(pending.nonce, fhirUser=f"{ISS}/Practitioner/anna"),
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
            "id_token": ehr.id_token(pending.nonce, fhirUser=f"{ISS}/Practitioner/anna"),
            "patient": "Patient/999",
            "sub": "Practitioner/anna",
        }
    )
    with pytest.raises(HtiTokenError) as err:
        client.complete_authorization({"state": params["state"], "code": "c1"}, SESSION)
    assert err.value.reason == "context_mismatch"


@pytest.mark.parametrize("fhir_user", [f"{ISS}/Practitioner/pr1", "RelatedPerson/anna", None])
def test_callback_refuses_a_login_of_another_person_than_the_hti_sub(
    ehr: FakeEhr,
    client: SmartClient,
    store: MemorySessionStore,
    verifier: HtiVerifier,
    portal_key: RSAKey,
    clock: Clock,
    fhir_user: str | None,
) -> None:
    # The HTI token says Practitioner/anna; the person who authenticated (the id_token's fhirUser) is someone
    # else, or not named at all: the launch is refused, whatever the token response's `sub` says.
    params, _ = _hti_launch(ehr, client, verifier, portal_key, clock)
    pending = store.take_pending(params["state"])
    assert pending is not None
    store.save_pending(pending)
    ehr.token(
        {
            "access_token": "NOOP",
            "token_type": "bearer",
            "scope": "launch openid fhirUser",
            "id_token": ehr.id_token(pending.nonce, fhirUser=fhir_user),
            "patient": "Patient/321",
            "sub": "Practitioner/anna",
        }
    )
    with pytest.raises(HtiTokenError) as err:
        client.complete_authorization({"state": params["state"], "code": "c1"}, SESSION)
    assert err.value.reason == "user_mismatch"


# -- introspection (TOP-KT-021) ----------------------------------------------------------------------------------

INTROSPECT = "https://auth.example.org/introspect"


@pytest.fixture
def app_key() -> SigningKey:
    key = RSAKey.generate_key(2048, private=True)
    return SigningKey(alg="RS384", key=key, kid=key.thumbprint())


@pytest.fixture
def kt_introspecting(tmp_path: Path) -> KoppeltaalDomain:
    return KoppeltaalDomain(
        name="kt",
        iss=ISS,
        client_id="resourcegroep",
        private_key_file=str(tmp_path / "unused.pem"),
        hti_check="introspection",
    )


def _introspecting_verifier(
    domain: KoppeltaalDomain, app_key: SigningKey, clock: Clock, ehr: FakeEhr, *, endpoint: str | None = INTROSPECT
) -> HtiVerifier:
    document = {**smart_configuration(), **({"introspection_endpoint": endpoint} if endpoint else {})}
    ehr.rsps.get(f"{ISS}/.well-known/smart-configuration", json=document)
    http = requests.Session()
    introspection = HtiIntrospection(domain, app_key, http=http, discovery=Discovery(http, clock=clock), clock=clock)
    return HtiVerifier(domain, MemorySessionStore(), introspection=introspection, clock=clock)


def _answer(rsps: responses.RequestsMock, body: dict[str, Any], status: int = 200) -> None:
    rsps.post(INTROSPECT, json=body, status=status)


def _claims(clock: Clock, **overrides: Any) -> dict[str, Any]:
    now = int(clock())
    claims: dict[str, Any] = {
        "iss": PORTAL,
        "aud": DEVICE,
        "sub": "Practitioner/anna",
        "patient": "Patient/321",
        "resource": "Task/t1",
        "iat": now,
        "exp": now + 240,
        "jti": "jti-1",
    }
    claims.update(overrides)
    return claims


def test_introspection_asks_the_domain_with_a_client_assertion(
    kt_introspecting: KoppeltaalDomain,
    app_key: SigningKey,
    clock: Clock,
    ehr: FakeEhr,
    rsps: responses.RequestsMock,
    portal_key: RSAKey,
) -> None:
    verifier = _introspecting_verifier(kt_introspecting, app_key, clock, ehr)
    _answer(rsps, {"active": True, **_claims(clock)})
    token = hti(portal_key, clock)

    launch = verifier.verify(token)

    assert (launch.launcher, launch.subject, launch.resource) == (PORTAL, "Practitioner/anna", "Task/t1")
    call = next(c for c in rsps.calls if c.request.url == INTROSPECT)
    form = dict(parse_qsl(str(call.request.body)))
    assert form["token"] == token
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assertion = jwt.decode(form["client_assertion"], app_key.key, algorithms=["RS384"])
    assert assertion.claims["iss"] == assertion.claims["sub"] == "resourcegroep"
    assert assertion.claims["aud"] == INTROSPECT  # RFC 7523 as TOP-KT-021 wants: aud is the endpoint
    assert assertion.claims["exp"] - assertion.claims["iat"] <= 300


def test_introspection_inactive_is_refused(
    kt_introspecting: KoppeltaalDomain,
    app_key: SigningKey,
    clock: Clock,
    ehr: FakeEhr,
    rsps: responses.RequestsMock,
    portal_key: RSAKey,
) -> None:
    verifier = _introspecting_verifier(kt_introspecting, app_key, clock, ehr)
    _answer(rsps, {"active": False})
    assert refused(verifier, hti(portal_key, clock)) == "inactive"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"aud": "Device/other-module"}, "wrong_audience"),
        ({"exp": 1}, "expired"),
        ({"sub": "Device/x"}, "bad_subject"),
    ],
)
def test_introspection_claims_are_checked_like_a_tokens(
    kt_introspecting: KoppeltaalDomain,
    app_key: SigningKey,
    clock: Clock,
    ehr: FakeEhr,
    rsps: responses.RequestsMock,
    portal_key: RSAKey,
    change: dict[str, Any],
    reason: str,
) -> None:
    verifier = _introspecting_verifier(kt_introspecting, app_key, clock, ehr)
    _answer(rsps, {"active": True, **_claims(clock, **change)})
    assert refused(verifier, hti(portal_key, clock)) == reason


def test_introspection_jti_is_used_once(
    kt_introspecting: KoppeltaalDomain,
    app_key: SigningKey,
    clock: Clock,
    ehr: FakeEhr,
    rsps: responses.RequestsMock,
    portal_key: RSAKey,
) -> None:
    verifier = _introspecting_verifier(kt_introspecting, app_key, clock, ehr)
    _answer(rsps, {"active": True, **_claims(clock)})
    token = hti(portal_key, clock)
    verifier.verify(token)
    assert refused(verifier, token) == "replayed"


def test_introspection_about_another_token_is_refused(
    kt_introspecting: KoppeltaalDomain,
    app_key: SigningKey,
    clock: Clock,
    ehr: FakeEhr,
    rsps: responses.RequestsMock,
    portal_key: RSAKey,
) -> None:
    verifier = _introspecting_verifier(kt_introspecting, app_key, clock, ehr)
    _answer(rsps, {"active": True, **_claims(clock, jti="someone-elses")})
    assert refused(verifier, hti(portal_key, clock)) == "malformed"


@pytest.mark.parametrize("status", [401, 500])
def test_introspection_endpoint_failing_is_no_launch(
    kt_introspecting: KoppeltaalDomain,
    app_key: SigningKey,
    clock: Clock,
    ehr: FakeEhr,
    rsps: responses.RequestsMock,
    portal_key: RSAKey,
    status: int,
) -> None:
    verifier = _introspecting_verifier(kt_introspecting, app_key, clock, ehr)
    _answer(rsps, {"error": "invalid_client"}, status=status)
    assert refused(verifier, hti(portal_key, clock)) == "introspection_unavailable"


def test_introspection_without_a_published_endpoint_is_no_launch(
    kt_introspecting: KoppeltaalDomain,
    app_key: SigningKey,
    clock: Clock,
    ehr: FakeEhr,
    rsps: responses.RequestsMock,
    portal_key: RSAKey,
) -> None:
    verifier = _introspecting_verifier(kt_introspecting, app_key, clock, ehr, endpoint=None)
    assert refused(verifier, hti(portal_key, clock)) == "introspection_unavailable"
    assert all(c.request.method == "GET" for c in rsps.calls)  # only discovery: nothing was posted


def test_a_configured_introspection_endpoint_wins_over_discovery(
    tmp_path: Path, app_key: SigningKey, clock: Clock, ehr: FakeEhr, rsps: responses.RequestsMock, portal_key: RSAKey
) -> None:
    domain = KoppeltaalDomain(
        name="kt",
        iss=ISS,
        client_id="resourcegroep",
        private_key_file="k.pem",
        hti_check="introspection",
        introspection_endpoint=INTROSPECT,
    )
    verifier = _introspecting_verifier(domain, app_key, clock, ehr, endpoint="https://elsewhere.example.org/i")
    _answer(rsps, {"active": True, **_claims(clock)})
    verifier.verify(hti(portal_key, clock))
    assert [c.request.url for c in rsps.calls if c.request.method == "POST"] == [INTROSPECT]


def test_introspection_mode_needs_no_jwks_but_jwks_mode_does(tmp_path: Path) -> None:
    KoppeltaalDomain(name="kt", iss=ISS, client_id="c", private_key_file="k.pem", hti_check="introspection")
    with pytest.raises(ConfigurationError):
        KoppeltaalDomain(name="kt", iss=ISS, client_id="c", private_key_file="k.pem")
    with pytest.raises(ConfigurationError):
        KoppeltaalDomain(
            name="kt",
            iss=ISS,
            client_id="c",
            private_key_file="k.pem",
            hti_check="guess",  # type: ignore[arg-type]
        )
