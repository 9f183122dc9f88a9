"""Authorization code flow of the sandbox auth server, end to end through the Flask test client."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from sandbox.auth import SMART_CAPABILITIES
from tests.unit.sandbox.auth.sandbox_auth_support import (
    FHIR_BASE,
    ISSUER,
    REDIRECT,
    authorize_params,
    exchange,
    get_code,
    make_sandbox,
    pkce_pair,
    query_of,
)


def test_smart_configuration_advertises_what_the_server_does() -> None:
    sb = make_sandbox()
    body = sb.client.get("/auth/.well-known/smart-configuration").get_json()
    assert body["issuer"] == ISSUER
    assert body["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert body["token_endpoint"] == f"{ISSUER}/token"
    assert body["jwks_uri"] == f"{ISSUER}/jwks.json"
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert {"private_key_jwt", "client_secret_basic", "none"} <= set(body["token_endpoint_auth_methods_supported"])
    assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(body["grant_types_supported"])
    assert body["response_types_supported"] == ["code"]
    required = {
        "launch-ehr",
        "launch-standalone",
        "client-public",
        "client-confidential-symmetric",
        "client-confidential-asymmetric",
        "context-ehr-patient",
        "context-standalone-patient",
        "context-passthrough-banner",
        "context-passthrough-style",
        "permission-v2",
        "permission-patient",
        "permission-user",
        "sso-openid-connect",
        "permission-offline",
        "permission-online",
        "authorize-post",
    }
    assert required <= set(body["capabilities"]) == set(SMART_CAPABILITIES)
    assert {"launch", "launch/patient", "openid", "fhirUser", "offline_access"} <= set(body["scopes_supported"])


def test_smart_configuration_view_mounts_under_the_fhir_base() -> None:
    sb = make_sandbox()
    sb.app.add_url_rule("/fhir/.well-known/smart-configuration", view_func=sb.server.smart_configuration_response)
    response = sb.client.get("/fhir/.well-known/smart-configuration")
    assert response.status_code == 200
    assert response.get_json() == sb.server.smart_configuration()


@pytest.mark.parametrize("client_id", ["public-app", "secret-app", "jwt-app"])
def test_code_flow_gives_tokens_and_context(client_id: str) -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    code = get_code(sb, authorize_params(client_id, challenge=challenge))

    response = exchange(sb, client_id, code, verifier)

    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "openid fhirUser launch/patient patient/*.rs offline_access"
    assert body["patient"] == "p1"
    assert body["need_patient_banner"] is True
    assert body["smart_style_url"] == f"{ISSUER}/smart-style.json"
    assert body["refresh_token"] and body["id_token"]
    grant = sb.server.verify_token(body["access_token"])
    assert grant is not None
    assert grant.client_id == client_id
    assert grant.patient == "p1"
    assert grant.fhir_user == "Practitioner/pr1"
    assert grant.scopes == frozenset(body["scope"].split())
    assert grant.expires_at == pytest.approx(sb.clock() + 3600)


def test_style_document_is_served() -> None:
    sb = make_sandbox()
    style = sb.client.get("/auth/smart-style.json").get_json()
    assert style["color_highlight"].startswith("#")


def test_id_token_verifies_with_the_published_jwks_and_names_the_user() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    params = authorize_params("public-app", challenge=challenge, nonce="n-0S6_WzA2Mj")
    body = exchange(sb, "public-app", get_code(sb, params), verifier).get_json()

    jwks = KeySet.import_key_set(sb.client.get("/auth/jwks.json").get_json())
    token = jwt.decode(body["id_token"], jwks, algorithms=["RS256"])

    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == sb.server.key.kid
    claims = token.claims
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "public-app"
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["fhirUser"] == f"{FHIR_BASE}/Practitioner/pr1"
    assert claims["sub"] == "Practitioner/pr1"
    assert claims["iat"] <= sb.clock() < claims["exp"]


def test_id_token_with_another_key_does_not_verify() -> None:
    sb = make_sandbox()
    other = make_sandbox()
    verifier, challenge = pkce_pair()
    body = exchange(sb, "public-app", get_code(sb, authorize_params(challenge=challenge)), verifier).get_json()
    foreign = KeySet.import_key_set(other.server.key.jwks())
    with pytest.raises(Exception, match=r"(?i)key|signature"):
        jwt.decode(body["id_token"], foreign, algorithms=["RS256"])


def test_no_refresh_token_without_offline_or_online_access() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, scope="openid fhirUser launch/patient patient/*.rs")
    body = exchange(sb, "public-app", get_code(sb, params), verifier).get_json()
    assert "refresh_token" not in body
    assert body["access_token"]


def test_online_access_also_gives_a_refresh_token() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, scope="launch/patient patient/*.rs online_access")
    body = exchange(sb, "public-app", get_code(sb, params), verifier).get_json()
    assert body["refresh_token"]
    assert "id_token" not in body  # no openid asked


def test_authorize_by_post_works_too() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    params = authorize_params(challenge=challenge)
    response = sb.client.post("/auth/authorize", data=params)
    assert response.status_code == 302
    query = query_of(response.headers["Location"])
    assert query["state"] == params["state"]
    assert exchange(sb, "public-app", query["code"], verifier).status_code == 200


def test_partial_grant_narrows_scopes_to_the_client_limit() -> None:
    sb = make_sandbox(
        clients=[
            {
                "client_id": "read-only-app",
                "redirect_uris": [REDIRECT],
                "grant_only": ["launch", "launch/patient", "openid", "fhirUser", "patient/*.rs"],
            }
        ]
    )
    verifier, challenge = pkce_pair()
    asked = "launch/patient openid fhirUser patient/Goal.crus patient/CarePlan.cru patient/Provenance.c offline_access"
    params = authorize_params("read-only-app", challenge=challenge, scope=asked)
    body = exchange(sb, "read-only-app", get_code(sb, params), verifier).get_json()

    assert body["scope"] == "launch/patient openid fhirUser patient/Goal.rs patient/CarePlan.r"
    assert "refresh_token" not in body
    grant = sb.server.verify_token(body["access_token"])
    assert grant is not None and "patient/Goal.crus" not in grant.scopes
