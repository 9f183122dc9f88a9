"""Koppeltaal mode of the sandbox authorization server: an HTI token of the portal as `launch`, NOOP as the
access token with the HTI context beside it; the normal mode does not take HTI tokens."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt

from sandbox.auth.koppeltaal import NOOP, PortalKey, launch_task
from sandbox.auth.views import SSO_SESSION_KEY
from tests.unit.sandbox.auth.sandbox_auth_support import (
    ISSUER,
    Sandbox,
    authorize_params,
    client_assertion,
    exchange,
    get_code,
    make_sandbox,
    pkce_pair,
)

SCOPE = "launch openid fhirUser"


def _hti(portal: PortalKey, **overrides: object) -> str:
    values: dict[str, object] = {
        "audience": "Device/public-app",
        "subject": "Practitioner/pr1",
        "patient": "Patient/p1",
        "task": "Task/t1",
    }
    values.update(overrides)
    return portal.sign(**values)  # type: ignore[arg-type]


def test_hti_launch_gets_noop_and_the_hti_context() -> None:
    sb = make_sandbox(koppeltaal=True)
    assert sb.server.portal is not None
    verifier, challenge = pkce_pair()
    # The user who logs in (here automatically) is the one the HTI token names.
    params = authorize_params(
        challenge=challenge, scope=SCOPE, launch=_hti(sb.server.portal), login_hint="sandbox_auto:Practitioner/pr1"
    )

    body = exchange(sb, "public-app", get_code(sb, params), verifier).get_json()

    assert body["access_token"] == NOOP
    assert "refresh_token" not in body
    assert body["patient"] == "Patient/p1"
    assert (body["sub"], body["resource"], body["definition"]) == (
        "Practitioner/pr1",
        "Task/t1",
        "ActivityDefinition/resourcegroep",
    )
    assert "fhirContext" not in body
    assert sb.server.verify_token(NOOP) is None


def test_hti_token_of_another_portal_is_refused() -> None:
    sb = make_sandbox(koppeltaal=True)
    _, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, scope=SCOPE, launch=_hti(PortalKey()), login_hint="")

    response = sb.client.get("/auth/authorize", query_string=params)

    location = response.headers.get("Location", "")
    assert response.status_code in (302, 400)
    assert "code" not in parse_qs(urlsplit(location).query)


def test_normal_mode_takes_no_hti_tokens() -> None:
    sb = make_sandbox()
    assert sb.server.portal is None
    _, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, scope=SCOPE, launch=_hti(PortalKey()), login_hint="")

    response = sb.client.get("/auth/authorize", query_string=params)

    assert "code" not in parse_qs(urlsplit(response.headers.get("Location", "")).query)


def _signed_in(sb: Sandbox, reference: str) -> None:
    with sb.client.session_transaction() as session:
        session[SSO_SESSION_KEY] = reference


def test_the_signed_in_user_must_be_the_hti_sub() -> None:
    sb = make_sandbox(koppeltaal=True)
    assert sb.server.portal is not None
    _signed_in(sb, "Practitioner/pr2")  # someone else than the HTI token's Practitioner/pr1
    _, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, scope=SCOPE, launch=_hti(sb.server.portal), login_hint="")

    response = sb.client.get("/auth/authorize", query_string=params)

    assert response.status_code == 403 and "Location" not in response.headers  # no code for anyone
    page = response.get_data(as_text=True)
    assert "U bent als iemand anders ingelogd" in page and "Bram Jansen" in page


def test_the_hti_sub_alone_does_not_log_anyone_in() -> None:
    sb = make_sandbox(koppeltaal=True)
    assert sb.server.portal is not None
    _, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, scope=SCOPE, launch=_hti(sb.server.portal), login_hint="")

    response = sb.client.get("/auth/authorize", query_string=params)

    assert response.status_code == 200 and "Location" not in response.headers
    assert 'name="sandbox_user"' in response.get_data(as_text=True)  # the login page: who are you?


def test_the_signed_in_hti_sub_gets_a_code_and_is_the_id_tokens_fhir_user() -> None:
    sb = make_sandbox(koppeltaal=True)
    assert sb.server.portal is not None
    _signed_in(sb, "Practitioner/pr1")
    verifier, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, scope=SCOPE, launch=_hti(sb.server.portal), login_hint="")

    body = exchange(sb, "public-app", get_code(sb, params), verifier).get_json()

    claims = jwt.decode(body["id_token"], sb.server.key.private_key, algorithms=["RS256"]).claims
    assert claims["fhirUser"].endswith("/Practitioner/pr1") and body["sub"] == "Practitioner/pr1"


def _introspect(
    sb: Sandbox, token: str, *, client_id: str = "jwt-app", aud: str | None = None
) -> tuple[int, dict[str, Any]]:
    assertion = client_assertion(sb.keys["rsa"], client_id, sb.clock, aud=aud or f"{ISSUER}/introspect")
    response = sb.client.post(
        "/auth/introspect",
        data={
            "token": token,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )
    return response.status_code, response.get_json()


def test_introspection_says_active_with_the_hti_claims_for_the_addressed_module() -> None:
    sb = make_sandbox(koppeltaal=True)
    assert sb.server.portal is not None
    status, body = _introspect(sb, _hti(sb.server.portal, audience="Device/jwt-app"))
    assert status == 200 and body["active"] is True
    assert (body["sub"], body["aud"], body["resource"]) == ("Practitioner/pr1", "Device/jwt-app", "Task/t1")
    config = sb.client.get("/auth/.well-known/smart-configuration").get_json()
    assert config["introspection_endpoint"] == f"{ISSUER}/introspect"


def test_introspection_says_inactive_for_a_foreign_expired_or_misaddressed_token() -> None:
    sb = make_sandbox(koppeltaal=True)
    assert sb.server.portal is not None
    for token in (
        _hti(PortalKey(), audience="Device/jwt-app"),  # another portal's key
        _hti(sb.server.portal, audience="Device/jwt-app", lifetime=-60),  # expired
        _hti(sb.server.portal, audience="Device/another-module"),  # for another module
        "garbage",
    ):
        assert _introspect(sb, token) == (200, {"active": False})


def test_introspection_needs_a_client_assertion_for_this_endpoint() -> None:
    sb = make_sandbox(koppeltaal=True)
    assert sb.server.portal is not None
    token = _hti(sb.server.portal, audience="Device/jwt-app")
    assert _introspect(sb, token, aud=f"{ISSUER}/token")[0] == 401  # an assertion for the token endpoint
    assert _introspect(sb, token, client_id="public-app")[0] == 401  # a client without keys
    assert sb.client.post("/auth/introspect", data={"token": token}).status_code == 401
    assert "introspection_endpoint" not in make_sandbox().client.get("/auth/.well-known/smart-configuration").get_json()


def test_the_launch_task_has_what_kt2task_requires_and_nothing_it_forbids() -> None:
    task = launch_task("p1")
    assert task["meta"]["profile"] == ["http://koppeltaal.nl/fhir/StructureDefinition/KT2Task"]
    assert task["identifier"] and task["priority"] == "routine"
    assert task["for"]["reference"] == task["owner"]["reference"] == "Patient/p1"
    assert task["extension"][0]["valueReference"]["reference"].startswith("ActivityDefinition/")
    forbidden = {"basedOn", "focus", "note", "restriction", "input", "output", "instantiatesUri", "encounter"}
    assert not forbidden & set(task)
