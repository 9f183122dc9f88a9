"""Refresh rotation, backend services, the TokenVerifier, and EHR launch context."""

from __future__ import annotations

import pytest
import responses

from tests.unit.sandbox.auth.sandbox_auth_support import (
    ISSUER,
    TOKEN_URL,
    authorize_params,
    client_assertion,
    exchange,
    get_code,
    make_sandbox,
    pkce_pair,
    query_of,
    token_request,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _tokens(sb, client_id="public-app", **extra):  # type: ignore[no-untyped-def]
    verifier, challenge = pkce_pair()
    response = exchange(
        sb, client_id, get_code(sb, authorize_params(client_id, challenge=challenge, **extra)), verifier
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("client_id", ["public-app", "secret-app", "jwt-app"])
def test_refresh_rotates_and_the_old_refresh_token_stops_working(client_id: str) -> None:
    sb = make_sandbox()
    first = _tokens(sb, client_id)

    refreshed = token_request(sb, client_id, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})

    assert refreshed.status_code == 200, refreshed.get_json()
    body = refreshed.get_json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["access_token"] != first["access_token"]
    assert body["scope"] == first["scope"]
    assert body["patient"] == "p1"
    grant = sb.server.verify_token(body["access_token"])
    assert grant is not None and grant.patient == "p1" and grant.fhir_user == "Practitioner/pr1"

    again = token_request(sb, client_id, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert again.status_code == 400
    assert again.get_json()["error"] == "invalid_grant"
    newest = token_request(sb, client_id, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert newest.status_code == 200


def test_refresh_may_narrow_but_not_widen_the_scope() -> None:
    sb = make_sandbox()
    first = _tokens(sb)
    narrowed = token_request(
        sb,
        "public-app",
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "scope": "patient/*.rs offline_access",
        },
    )
    assert narrowed.status_code == 200
    assert narrowed.get_json()["scope"] == "patient/*.rs offline_access"
    wider = token_request(
        sb,
        "public-app",
        {
            "grant_type": "refresh_token",
            "refresh_token": narrowed.get_json()["refresh_token"],
            "scope": "patient/*.cruds offline_access",
        },
    )
    assert wider.get_json()["error"] == "invalid_scope"


def test_refresh_token_of_another_client_is_refused() -> None:
    sb = make_sandbox()
    first = _tokens(sb, "public-app")
    response = token_request(sb, "secret-app", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert response.get_json()["error"] == "invalid_grant"


def test_expired_refresh_token_is_refused() -> None:
    sb = make_sandbox(refresh_token_lifetime=600)
    first = _tokens(sb)
    sb.clock.advance(601)
    response = token_request(sb, "public-app", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert response.get_json()["error"] == "invalid_grant"


def test_verifier_knows_live_tokens_only() -> None:
    sb = make_sandbox(access_token_lifetime=300)
    body = _tokens(sb)
    grant = sb.server.verify_token(body["access_token"])
    assert grant is not None
    assert grant.expires_at == pytest.approx(sb.clock() + 300)
    assert grant.extra["grant_type"] == "authorization_code"
    assert sb.server.verify_token("not-a-token") is None
    assert sb.server.verify_token("") is None
    sb.clock.advance(299)
    assert sb.server.verify_token(body["access_token"]) is not None
    sb.clock.advance(2)
    assert sb.server.verify_token(body["access_token"]) is None


# --- Backend Services ----------------------------------------------------------------------


@pytest.mark.parametrize("key_name", ["rsa", "ec"])
def test_backend_services_token_with_rs384_and_es384(key_name: str) -> None:
    sb = make_sandbox()
    response = sb.client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "scope": "system/Patient.rs system/Observation.rs",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(sb.keys[key_name], "backend", sb.clock),
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["scope"] == "system/Patient.rs system/Observation.rs"
    assert body["expires_in"] == 300
    assert "refresh_token" not in body and "id_token" not in body and "patient" not in body
    grant = sb.server.verify_token(body["access_token"])
    assert grant is not None
    assert grant.client_id == "backend" and grant.patient is None and grant.fhir_user is None
    assert grant.scopes == {"system/Patient.rs", "system/Observation.rs"}


def _backend(sb, assertion: str, scope: str = "system/Patient.rs"):  # type: ignore[no-untyped-def]
    return sb.client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


def test_backend_services_refusals() -> None:
    sb = make_sandbox()
    rsa = sb.keys["rsa"]
    cases = {
        "wrong aud": client_assertion(rsa, "backend", sb.clock, aud=ISSUER),
        "rs256 not allowed": client_assertion(rsa, "backend", sb.clock, alg="RS256"),
        "lives too long": client_assertion(rsa, "backend", sb.clock, lifetime=3600),
        "expired": client_assertion(rsa, "backend", sb.clock, lifetime=-120),
        "unknown client": client_assertion(rsa, "nobody", sb.clock),
    }
    for label, assertion in cases.items():
        response = _backend(sb, assertion)
        assert response.status_code in (400, 401), label
        assert response.get_json()["error"] == "invalid_client", label


def test_backend_assertion_signed_by_a_foreign_key_is_refused() -> None:
    sb = make_sandbox()
    other = make_sandbox()
    assertion = client_assertion(other.keys["rsa"], "backend", sb.clock)
    assert _backend(sb, assertion).get_json()["error"] == "invalid_client"


def test_backend_assertion_replay_is_refused() -> None:
    sb = make_sandbox()
    assertion = client_assertion(sb.keys["rsa"], "backend", sb.clock, jti="fixed-jti")
    assert _backend(sb, assertion).status_code == 200
    assert _backend(sb, assertion).get_json()["error"] == "invalid_client"


def test_backend_may_only_ask_system_scopes() -> None:
    sb = make_sandbox()
    response = _backend(sb, client_assertion(sb.keys["rsa"], "backend", sb.clock), scope="patient/*.rs")
    assert response.get_json()["error"] == "invalid_scope"
    response = _backend(sb, client_assertion(sb.keys["rsa"], "backend", sb.clock), scope="")
    assert response.get_json()["error"] == "invalid_scope"


def test_client_credentials_need_private_key_jwt() -> None:
    sb = make_sandbox()
    response = token_request(sb, "secret-app", {"grant_type": "client_credentials", "scope": "system/Patient.rs"})
    assert response.get_json()["error"] == "invalid_client"


@responses.activate
def test_private_key_jwt_keys_from_jwks_uri() -> None:
    probe = make_sandbox()
    jwks = {"keys": [probe.keys["ec"].as_dict(private=False)]}
    responses.get("https://backend.example/jwks.json", json=jwks)
    sb = make_sandbox(
        clients=[
            {"client_id": "remote", "auth_method": "private_key_jwt", "jwks_uri": "https://backend.example/jwks.json"}
        ]
    )
    ok = _backend(sb, client_assertion(probe.keys["ec"], "remote", sb.clock))
    assert ok.status_code == 200, ok.get_json()
    wrong_key = _backend(sb, client_assertion(probe.keys["rsa"], "remote", sb.clock))
    assert wrong_key.get_json()["error"] == "invalid_client"
    assert len(responses.calls) == 1  # the JWKS is cached


# --- EHR launch ------------------------------------------------------------------------------


def test_ehr_launch_resolves_into_the_token_context() -> None:
    sb = make_sandbox()
    launch = sb.server.create_launch(patient="p2", user="Practitioner/pr2", encounter="e7", intent="reconcile")
    verifier, challenge = pkce_pair()
    params = authorize_params(
        challenge=challenge, launch=launch, login_hint="", scope="launch openid fhirUser patient/*.rs user/*.rs"
    )
    body = exchange(sb, "public-app", get_code(sb, params), verifier).get_json()

    assert body["patient"] == "p2"
    assert body["encounter"] == "e7"
    assert body["intent"] == "reconcile"
    assert body["need_patient_banner"] is False
    grant = sb.server.verify_token(body["access_token"])
    assert grant is not None
    assert grant.patient == "p2" and grant.fhir_user == "Practitioner/pr2" and grant.extra["encounter"] == "e7"


def test_unknown_or_expired_launch_is_refused() -> None:
    sb = make_sandbox(launch_lifetime=120)
    _, challenge = pkce_pair()
    unknown = authorize_params(challenge=challenge, launch="made-up", scope="launch openid")
    query = query_of(sb.client.get("/auth/authorize", query_string=unknown).headers["Location"])
    assert query["error"] == "invalid_request" and "launch" in query["error_description"]

    launch = sb.server.create_launch(patient="p1", user="Practitioner/pr1")
    sb.clock.advance(121)
    expired = authorize_params(challenge=challenge, launch=launch, scope="launch openid")
    query = query_of(sb.client.get("/auth/authorize", query_string=expired).headers["Location"])
    assert query["error"] == "invalid_request"


def test_launch_parameter_needs_the_launch_scope() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    launch = sb.server.create_launch(patient="p1", user="Practitioner/pr1")
    params = authorize_params(challenge=challenge, launch=launch, scope="openid patient/*.rs")
    query = query_of(sb.client.get("/auth/authorize", query_string=params).headers["Location"])
    assert query["error"] == "invalid_scope"


def test_token_endpoint_refuses_get_and_unknown_grant_types() -> None:
    sb = make_sandbox()
    assert sb.client.get("/auth/token").status_code == 405
    response = token_request(sb, "public-app", {"grant_type": "password", "username": "x", "password": "y"})
    assert response.get_json()["error"] == "unsupported_grant_type"
    assert TOKEN_URL.endswith("/auth/token")
