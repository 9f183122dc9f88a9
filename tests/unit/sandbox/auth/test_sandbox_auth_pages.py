"""Human mode of the authorize endpoint: login page, patient picker, single sign-on; and scope narrowing."""

from __future__ import annotations

import re

from joserfc.jwk import RSAKey

from sandbox.auth.scopes import narrow_scopes, parse_resource_scope
from sandbox.auth.views import SSO_SESSION_KEY
from tests.unit.sandbox.auth.sandbox_auth_support import (
    authorize_params,
    client_assertion,
    exchange,
    make_sandbox,
    pkce_pair,
    query_of,
)


def _hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def test_standalone_practitioner_logs_in_and_picks_a_patient() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, login_hint="")

    login = sb.client.get("/auth/authorize", query_string=params)
    assert login.status_code == 200
    html = login.get_data(as_text=True)
    assert 'lang="nl"' in html and "Wie bent u?" in html
    assert "Dr. Anna de Vries" in html and "Sanne Bakker" in html
    hidden = _hidden_fields(html)
    assert hidden["state"] == params["state"] and hidden["code_challenge"] == challenge

    picker = sb.client.post("/auth/authorize", data={**hidden, "sandbox_user": "Practitioner/pr2"})
    assert picker.status_code == 200
    picker_html = picker.get_data(as_text=True)
    assert "Voor welke patiënt?" in picker_html
    hidden = _hidden_fields(picker_html)
    assert hidden["sandbox_user"] == "Practitioner/pr2"

    done = sb.client.post("/auth/authorize", data={**hidden, "sandbox_patient": "p2"})
    assert done.status_code == 302
    query = query_of(done.headers["Location"])
    body = exchange(sb, "public-app", query["code"], verifier).get_json()
    assert body["patient"] == "p2"
    assert sb.server.verify_token(body["access_token"]).fhir_user == "Practitioner/pr2"  # type: ignore[union-attr]


def test_patient_logs_in_and_is_their_own_context() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, login_hint="")
    done = sb.client.post("/auth/authorize", data={**params, "sandbox_user": "Patient/p2"})
    assert done.status_code == 302
    body = exchange(sb, "public-app", query_of(done.headers["Location"])["code"], verifier).get_json()
    assert body["patient"] == "p2"
    grant = sb.server.verify_token(body["access_token"])
    assert grant is not None and grant.fhir_user == "Patient/p2" and grant.patient == "p2"


def test_unknown_user_choice_shows_the_login_page_again() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    response = sb.client.post(
        "/auth/authorize", data={**authorize_params(challenge=challenge, login_hint=""), "sandbox_user": "Patient/zz"}
    )
    assert response.status_code == 200
    assert "Kies eerst een persoon." in response.get_data(as_text=True)


def test_login_page_in_english() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    response = sb.client.get(
        "/auth/authorize", query_string={**authorize_params(challenge=challenge, login_hint=""), "lang": "en"}
    )
    html = response.get_data(as_text=True)
    assert 'lang="en"' in html and "Who are you?" in html


def test_single_sign_on_skips_the_login_page() -> None:
    sb = make_sandbox()
    verifier, challenge = pkce_pair()
    with sb.client.session_transaction() as session:
        session[SSO_SESSION_KEY] = "Patient/p1"
    response = sb.client.get("/auth/authorize", query_string=authorize_params(challenge=challenge, login_hint=""))
    assert response.status_code == 302
    body = exchange(sb, "public-app", query_of(response.headers["Location"])["code"], verifier).get_json()
    assert body["patient"] == "p1"

    _, challenge = pkce_pair()
    forced = sb.client.get(
        "/auth/authorize", query_string=authorize_params(challenge=challenge, login_hint="", prompt="login")
    )
    assert forced.status_code == 200 and "Wie bent u?" in forced.get_data(as_text=True)


def test_prompt_none_without_a_known_user_goes_back_with_an_error() -> None:
    sb = make_sandbox()
    _, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, login_hint="", prompt="none")
    response = sb.client.get("/auth/authorize", query_string=params)
    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "login_required"


def test_auto_login_config_uses_defaults_without_pages() -> None:
    sb = make_sandbox(auto_login=True, default_user="Practitioner/pr2", default_patient="p2")
    verifier, challenge = pkce_pair()
    response = sb.client.get("/auth/authorize", query_string=authorize_params(challenge=challenge, login_hint=""))
    assert response.status_code == 302
    body = exchange(sb, "public-app", query_of(response.headers["Location"])["code"], verifier).get_json()
    assert body["patient"] == "p2"
    assert sb.server.verify_token(body["access_token"]).fhir_user == "Practitioner/pr2"  # type: ignore[union-attr]


def test_auto_login_hint_can_be_switched_off() -> None:
    sb = make_sandbox(allow_auto_login_hint=False)
    _, challenge = pkce_pair()
    response = sb.client.get("/auth/authorize", query_string=authorize_params(challenge=challenge))
    assert response.status_code == 200 and "Wie bent u?" in response.get_data(as_text=True)


def test_rs256_assertion_is_refused_even_when_the_key_allows_it() -> None:
    key = RSAKey.generate_key(2048, private=True, auto_kid=True)  # no "alg": only the server's list decides
    sb = make_sandbox(
        clients=[{"client_id": "b", "auth_method": "private_key_jwt", "jwks": {"keys": [key.as_dict(private=False)]}}]
    )
    data = {
        "grant_type": "client_credentials",
        "scope": "system/Patient.rs",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    refused = sb.client.post(
        "/auth/token", data={**data, "client_assertion": client_assertion(key, "b", sb.clock, alg="RS256")}
    )
    assert refused.get_json()["error"] == "invalid_client"
    accepted = sb.client.post("/auth/token", data={**data, "client_assertion": client_assertion(key, "b", sb.clock)})
    assert accepted.status_code == 200


def test_scope_grammar_and_narrowing() -> None:
    assert parse_resource_scope("patient/Goal.crus") is not None
    assert parse_resource_scope("patient/Goal.rc") is None  # v2 letters must be in order
    assert parse_resource_scope("launch/patient") is None
    v1 = parse_resource_scope("user/*.read")
    assert v1 is not None and v1.permissions == frozenset("rs") and v1.v1

    limits = ["openid", "launch*", "patient/*.rs", "user/Goal.cruds"]
    asked = [
        "openid",
        "launch/patient",
        "patient/Goal.crus",
        "patient/Task.write",
        "patient/Obs.read",
        "user/Goal.write",
        "user/Task.rs",
        "profile",
        "patient/Observation.rs?category=survey",
    ]
    assert narrow_scopes(asked, limits) == [
        "openid",
        "launch/patient",
        "patient/Goal.rs",
        "patient/Obs.read",
        "user/Goal.write",
        "patient/Observation.rs?category=survey",
    ]
