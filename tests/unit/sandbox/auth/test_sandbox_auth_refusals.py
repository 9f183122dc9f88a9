"""What the sandbox auth server must refuse (issue 4): PKCE, codes, redirect URIs, clients, aud."""

from __future__ import annotations

import base64

from tests.unit.sandbox.auth.sandbox_auth_support import (
    FHIR_BASE,
    REDIRECT,
    authorize_params,
    exchange,
    get_code,
    make_sandbox,
    pkce_pair,
    query_of,
)


def _redirect_error(response: object) -> dict[str, str]:
    assert response.status_code == 302  # type: ignore[attr-defined]
    location = response.headers["Location"]  # type: ignore[attr-defined]
    assert location.startswith(REDIRECT + "?")
    return query_of(location)


def test_wrong_pkce_verifier_is_refused() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    code = get_code(sb, authorize_params(challenge=challenge))
    response = exchange(sb, "public-app", code, other_verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_missing_verifier_is_refused_even_for_a_confidential_client() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    code = get_code(sb, authorize_params("secret-app", challenge=challenge))
    response = exchange(sb, "secret-app", code, "")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_plain_pkce_is_refused_at_authorize() -> None:
    sb = make_sandbox()
    verifier, _ = pkce_pair()
    params = authorize_params(challenge=verifier, code_challenge_method="plain")
    query = _redirect_error(sb.client.get("/auth/authorize", query_string=params))
    assert query["error"] == "invalid_request"
    assert "S256" in query["error_description"]
    assert query["state"] == params["state"]
    assert "code" not in query


def test_missing_pkce_is_refused_at_authorize() -> None:
    sb = make_sandbox()
    params = authorize_params(challenge="", code_challenge_method="")
    query = _redirect_error(sb.client.get("/auth/authorize", query_string=params))
    assert query["error"] == "invalid_request"
    assert "PKCE" in query["error_description"]


def test_challenge_without_method_is_refused() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, code_challenge_method="")
    assert _redirect_error(sb.client.get("/auth/authorize", query_string=params))["error"] == "invalid_request"


def test_reused_code_is_refused_and_revokes_the_first_tokens() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    code = get_code(sb, authorize_params(challenge=challenge))
    first = exchange(sb, "public-app", code, verifier)
    assert first.status_code == 200
    access = first.get_json()["access_token"]
    assert sb.server.verify_token(access) is not None

    second = exchange(sb, "public-app", code, verifier)

    assert second.status_code == 400
    assert second.get_json()["error"] == "invalid_grant"
    assert sb.server.verify_token(access) is None


def test_wrong_redirect_uri_at_the_token_endpoint_is_refused() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    code = get_code(sb, authorize_params(challenge=challenge))
    response = exchange(sb, "public-app", code, verifier, redirect_uri="http://127.0.0.1:8500/other")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_unregistered_redirect_uri_gets_a_page_not_a_redirect() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    for bad in ("http://evil.example/callback", REDIRECT + "/", REDIRECT + "?x=1"):
        response = sb.client.get(
            "/auth/authorize", query_string=authorize_params(challenge=challenge, redirect_uri=bad)
        )
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert "Inloggen lukt niet" in response.get_data(as_text=True)


def test_missing_redirect_uri_gets_a_page() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    response = sb.client.get("/auth/authorize", query_string=authorize_params(challenge=challenge, redirect_uri=""))
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_unknown_client_gets_a_page_at_authorize_and_invalid_client_at_token() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    response = sb.client.get("/auth/authorize", query_string=authorize_params("nobody", challenge=challenge))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "invalid_client" in response.get_data(as_text=True)

    code = get_code(sb, authorize_params(challenge=challenge))
    token = sb.client.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": REDIRECT,
            "client_id": "nobody",
        },
    )
    assert token.status_code == 400
    assert token.get_json()["error"] == "invalid_client"


def test_wrong_client_secret_is_refused() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    code = get_code(sb, authorize_params("secret-app", challenge=challenge))
    basic = base64.b64encode(b"secret-app:wrong").decode()
    response = sb.client.post(
        "/auth/token",
        data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": REDIRECT},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_confidential_client_cannot_pose_as_public() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    code = get_code(sb, authorize_params("secret-app", challenge=challenge))
    response = sb.client.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": REDIRECT,
            "client_id": "secret-app",
        },
    )
    assert response.get_json()["error"] == "invalid_client"


def test_code_of_another_client_is_refused() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    code = get_code(sb, authorize_params("public-app", challenge=challenge))
    response = exchange(sb, "secret-app", code, verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_expired_code_is_refused() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    code = get_code(sb, authorize_params(challenge=challenge))
    sb.clock.advance(61)
    response = exchange(sb, "public-app", code, verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_code_just_within_its_lifetime_works() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    code = get_code(sb, authorize_params(challenge=challenge))
    sb.clock.advance(59)
    assert exchange(sb, "public-app", code, verifier).status_code == 200


def test_wrong_or_missing_aud_is_refused() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    for aud in ("http://127.0.0.1:9999/fhir", FHIR_BASE + "/R4", ""):
        params = authorize_params(challenge=challenge, aud=aud)
        query = _redirect_error(sb.client.get("/auth/authorize", query_string=params))
        assert query["error"] == "invalid_request"
        assert "aud" in query["error_description"]
        assert query["state"] == params["state"]


def test_aud_with_trailing_slash_is_the_same_server() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    get_code(sb, authorize_params(challenge=challenge, aud=FHIR_BASE + "/"))


def test_unsupported_response_type_goes_back_to_a_registered_redirect() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    query = _redirect_error(
        sb.client.get("/auth/authorize", query_string=authorize_params(challenge=challenge, response_type="token"))
    )
    assert query["error"] == "unsupported_response_type"


def test_scopes_the_client_may_not_have_leave_nothing_to_grant() -> None:
    sb = make_sandbox(clients=[{"client_id": "narrow", "redirect_uris": [REDIRECT], "scopes": ["openid"]}])
    _, challenge = pkce_pair()
    params = authorize_params("narrow", challenge=challenge, scope="patient/*.rs")
    assert _redirect_error(sb.client.get("/auth/authorize", query_string=params))["error"] == "invalid_scope"


def test_replayed_nonce_is_refused() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    get_code(sb, authorize_params(challenge=challenge, nonce="same-nonce"))
    query = _redirect_error(
        sb.client.get("/auth/authorize", query_string=authorize_params(challenge=challenge, nonce="same-nonce"))
    )
    assert query["error"] == "invalid_request"
