"""The callback: state checks, authorization errors, token endpoint errors, id_token validation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from smart_fakes import CLIENT_ID, FULL_GRANT, ISS, REDIRECT, SESSION, TOKEN, Clock, FakeEhr, form

from smart_launch import (
    AuthorizationDeniedError,
    IdTokenError,
    LaunchExpiredError,
    MemorySessionStore,
    ReadOnlyReason,
    SmartClient,
    StateError,
    TokenEndpointError,
)


def start(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> tuple[str, str]:
    """Begin a launch; returns (state, nonce) and puts the pending authorization back."""
    ehr.discovery()
    ehr.jwks()
    request = client.begin_ehr_launch(ISS, "launch-1", SESSION)
    pending = store.take_pending(request.state)
    assert pending is not None
    store.save_pending(pending)
    return request.state, pending.nonce


def test_successful_callback(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore, clock: Clock) -> None:
    state, nonce = start(ehr, client, store)
    ehr.token(ehr.token_body(nonce))
    context = client.complete_authorization({"state": state, "code": "code-1"}, SESSION)

    token_call = next(c for c in ehr.rsps.calls if c.request.url == TOKEN)
    sent = form(token_call.request)
    assert sent["grant_type"] == "authorization_code"
    assert sent["code"] == "code-1"
    assert sent["redirect_uri"] == REDIRECT
    assert sent["client_id"] == CLIENT_ID  # public client
    pending_verifier = sent["code_verifier"]
    assert 43 <= len(pending_verifier) <= 128

    assert context.access_token == "at-1"
    assert context.refresh_token == "rt-1"
    assert context.patient == "p1"
    assert context.encounter == "e1"
    assert context.fhir_context == ({"reference": "CarePlan/cp1"},)
    assert context.need_patient_banner is False
    assert context.smart_style_url == "https://epd.example.org/style.json"
    assert context.intent == "group-view"
    assert context.fhir_user == f"{ISS}/Practitioner/pr1"
    assert context.fhir_user_reference == "Practitioner/pr1"
    assert context.expires_at == clock() + 3600
    assert context.permissions.can_write
    assert context.fhir_base_url == ISS
    assert store.get_context(context.context_id) == context


def test_missing_state(client: SmartClient) -> None:
    with pytest.raises(StateError) as err:
        client.complete_authorization({"code": "c"}, SESSION)
    assert err.value.reason == "missing"


def test_wrong_state(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    start(ehr, client, store)
    with pytest.raises(StateError) as err:
        client.complete_authorization({"state": "forged", "code": "c"}, SESSION)
    assert err.value.reason == "unknown"


def test_replayed_state(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    state, nonce = start(ehr, client, store)
    ehr.token(ehr.token_body(nonce))
    client.complete_authorization({"state": state, "code": "c"}, SESSION)
    calls = len(ehr.rsps.calls)
    with pytest.raises(StateError) as err:
        client.complete_authorization({"state": state, "code": "c"}, SESSION)
    assert err.value.reason == "unknown"
    assert len(ehr.rsps.calls) == calls  # no second code exchange


def test_state_from_another_browser_session(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    state, nonce = start(ehr, client, store)
    calls = len(ehr.rsps.calls)
    with pytest.raises(StateError) as err:
        client.complete_authorization({"state": state, "code": "c"}, "someone-else")
    assert err.value.reason == "session_mismatch"
    assert len(ehr.rsps.calls) == calls  # the stranger's code is never exchanged
    # A stranger cannot burn the victim's state: her own callback still works, once.
    ehr.token(ehr.token_body(nonce))
    context = client.complete_authorization({"state": state, "code": "code-1"}, SESSION)
    assert context.session_id == SESSION
    with pytest.raises(StateError) as again:
        client.complete_authorization({"state": state, "code": "code-1"}, SESSION)
    assert again.value.reason == "unknown"


def test_expired_pending_authorization(
    ehr: FakeEhr, client: SmartClient, store: MemorySessionStore, clock: Clock
) -> None:
    state, _ = start(ehr, client, store)
    clock.advance(601)
    with pytest.raises(LaunchExpiredError):
        client.complete_authorization({"state": state, "code": "c"}, SESSION)


def test_authorization_error_from_ehr(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    state, _ = start(ehr, client, store)
    params = {"state": state, "error": "access_denied", "error_description": "<b>Geweigerd</b>"}
    with pytest.raises(AuthorizationDeniedError) as err:
        client.complete_authorization(params, SESSION)
    assert err.value.error == "access_denied"
    assert err.value.description == "<b>Geweigerd</b>"
    assert not any(c.request.url == TOKEN for c in ehr.rsps.calls)


def test_missing_code(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    state, _ = start(ehr, client, store)
    with pytest.raises(AuthorizationDeniedError):
        client.complete_authorization({"state": state}, SESSION)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"error": "invalid_grant", "error_description": "code used"}, 400, "invalid_grant"),
        (None, 500, None),
        ({"token_type": "Bearer"}, 200, None),  # no access_token
        ({"access_token": "x", "token_type": "mac"}, 200, None),
    ],
)
def test_token_endpoint_errors(
    ehr: FakeEhr,
    client: SmartClient,
    store: MemorySessionStore,
    body: dict[str, Any] | None,
    status: int,
    error: str | None,
) -> None:
    state, _ = start(ehr, client, store)
    ehr.token(body, status=status)
    with pytest.raises(TokenEndpointError) as err:
        client.complete_authorization({"state": state, "code": "c"}, SESSION)
    assert err.value.error == error


def test_token_endpoint_unreachable(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    state, _ = start(ehr, client, store)
    ehr.rsps.post(TOKEN, body=requests.ConnectTimeout("slow"))
    with pytest.raises(TokenEndpointError):
        client.complete_authorization({"state": state, "code": "c"}, SESSION)


def test_token_endpoint_returns_html(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    state, _ = start(ehr, client, store)
    ehr.rsps.post(TOKEN, body="<html>oops</html>", status=200, content_type="text/html")
    with pytest.raises(TokenEndpointError):
        client.complete_authorization({"state": state, "code": "c"}, SESSION)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_id_tokens(ehr: FakeEhr, nonce: str) -> dict[str, str]:
    now = int(ehr.clock())
    impostor = RSAKey.generate_key(2048, parameters={"kid": "server-1"})  # same kid, other key
    unsigned = (
        _b64({"alg": "none", "typ": "JWT"})
        + "."
        + _b64({"iss": "https://epd.example.org/oauth", "sub": "u", "aud": CLIENT_ID, "exp": now + 300, "nonce": nonce})
        + "."
    )
    hmac_key = OctKey.import_key("a-secret-that-is-long-enough-for-hs256!!")
    hs = jwt.encode(
        {"alg": "HS256"},
        {"iss": "https://epd.example.org/oauth", "sub": "u", "aud": CLIENT_ID, "exp": now + 300, "nonce": nonce},
        hmac_key,
        algorithms=["HS256"],
    )
    return {
        "bad_signature": ehr.id_token(nonce, key=impostor),
        "wrong_aud": ehr.id_token(nonce, aud="another-app"),
        "expired": ehr.id_token(nonce, exp=now - 120, iat=now - 600),
        "alg_none": unsigned,
        "wrong_nonce": ehr.id_token("other-nonce"),
        "missing_nonce": ehr.id_token(None),
        "wrong_iss": ehr.id_token(nonce, iss="https://evil.example.org"),
        "hmac": hs,
        "garbage": "not.a.jwt",
    }


@pytest.mark.parametrize(
    "case",
    [
        "bad_signature",
        "wrong_aud",
        "expired",
        "alg_none",
        "wrong_nonce",
        "missing_nonce",
        "wrong_iss",
        "hmac",
        "garbage",
    ],
)
def test_invalid_id_token_is_rejected(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore, case: str) -> None:
    state, nonce = start(ehr, client, store)
    ehr.token(ehr.token_body(nonce, id_token=bad_id_tokens(ehr, nonce)[case]))
    with pytest.raises(IdTokenError):
        client.complete_authorization({"state": state, "code": "c"}, SESSION)
    assert store.purge_expired(now=float("inf")) == 0  # no launch context was stored


def test_missing_id_token_when_openid_granted(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    state, nonce = start(ehr, client, store)
    ehr.token(ehr.token_body(nonce, id_token=None))
    with pytest.raises(IdTokenError):
        client.complete_authorization({"state": state, "code": "c"}, SESSION)


def test_server_key_rotation_refetches_jwks(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    state, nonce = start(ehr, client, store)
    new_key = RSAKey.generate_key(2048, parameters={"kid": "server-2"})
    ehr.rsps.get("https://epd.example.org/oauth/jwks", json={"keys": [new_key.as_dict(private=False)]})
    ehr.key = new_key  # the first JWKS answer still has only server-1
    ehr.token(ehr.token_body(nonce))
    context = client.complete_authorization({"state": state, "code": "c"}, SESSION)
    assert context.fhir_user_reference == "Practitioner/pr1"


def test_partial_scope_grant_is_read_only(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    state, nonce = start(ehr, client, store)
    read_only = [s.replace(".crus", ".rs") for s in FULL_GRANT]
    ehr.token(ehr.token_body(nonce, scope=" ".join(read_only)))
    context = client.complete_authorization({"state": state, "code": "c"}, SESSION)
    assert context.permissions.can_read
    assert not context.permissions.can_write
    assert context.permissions.read_only_reason is ReadOnlyReason.NO_WRITE_SCOPES


def test_grant_without_provenance_is_read_only(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    state, nonce = start(ehr, client, store)
    grant = [s for s in FULL_GRANT if "Provenance" not in s]
    ehr.token(ehr.token_body(nonce, scope=" ".join(grant)))
    context = client.complete_authorization({"state": state, "code": "c"}, SESSION)
    assert context.permissions.read_only_reason is ReadOnlyReason.NO_PROVENANCE


def test_v1_grant_allows_writing(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    state, nonce = start(ehr, client, store)
    grant = ["launch", "openid", "fhirUser", "patient/*.read", "patient/*.write"]
    ehr.token(ehr.token_body(nonce, scope=" ".join(grant)))
    context = client.complete_authorization({"state": state, "code": "c"}, SESSION)
    assert context.permissions.can_write
