"""Koppeltaal mode of the sandbox authorization server: an HTI token of the portal as `launch`, NOOP as the
access token with the HTI context beside it; the normal mode does not take HTI tokens."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sandbox.auth.koppeltaal import NOOP, PortalKey
from tests.unit.sandbox.auth.sandbox_auth_support import authorize_params, exchange, get_code, make_sandbox, pkce_pair

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
    params = authorize_params(challenge=challenge, scope=SCOPE, launch=_hti(sb.server.portal), login_hint="")

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
