"""The portal for members: a related person (Ans Bakker, Sanne's mother) signs in, opens the app by standalone
launch, and gets a token with fhirUser = RelatedPerson/<id> and patient = the patient she belongs to, whose record
(and only that record) the token can read. The whole sandbox runs in-process with its demo data."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient

from sandbox.app import Sandbox, SandboxSettings, create_sandbox
from sandbox.auth.views import SSO_SESSION_KEY
from sandbox.epd import PORTAL_SESSION_KEY
from sandbox.fhir.directory import person_of
from tests.unit.sandbox.auth.sandbox_auth_support import pkce_pair, query_of

BASE = "http://127.0.0.1:8400"
APP = "http://127.0.0.1:8401"
SCOPES = "launch/patient openid fhirUser patient/CareTeam.rs patient/Appointment.rs patient/Task.crus patient/Patient.r"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    running = create_sandbox(SandboxSettings(base_url=BASE, app_base_url=APP, client_auth="none"))
    running.app.config["TESTING"] = True
    running.seed_demo_data(date(2026, 3, 2))
    yield running
    assert running.store is not None
    running.store.close()


def related_id(sandbox: Sandbox, name: str) -> str:
    found = [p for p in sandbox.directory.related_people() if p.display == name]
    assert len(found) == 1, name
    return found[0].id


def authorize(client: FlaskClient, **extra: str) -> tuple[str, str]:
    """The app's standalone authorize request; returns (code, verifier)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": "resourcegroep",
        "redirect_uri": f"{APP}/callback",
        "scope": SCOPES,
        "state": "s1",
        "aud": f"{BASE}/fhir",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    response = client.get("/auth/authorize", query_string=params)
    assert response.status_code == 302, response.get_data(as_text=True)
    return query_of(response.headers["Location"])["code"], verifier


def token(client: FlaskClient, code: str, verifier: str) -> dict[str, Any]:
    response = client.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": f"{APP}/callback",
            "client_id": "resourcegroep",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def claims(id_token: str) -> dict[str, Any]:
    payload = id_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def test_the_directory_lists_active_related_people_with_their_patient(sandbox: Sandbox) -> None:
    people = {p.display: p for p in sandbox.directory.related_people()}
    assert people["Ans Bakker"].patient == "sanne-bakker" and people["Karim Haddou"].patient == "sanne-bakker"
    assert people["Youssef El Amrani"].patient == "mohammed-el-amrani"
    ans = people["Ans Bakker"]
    assert sandbox.directory.get("RelatedPerson", ans.id) == ans
    # Someone no longer active, or not tied to a patient, cannot sign in.
    gone = {"resourceType": "RelatedPerson", "id": "x", "active": False, "patient": {"reference": "Patient/p"}}
    assert person_of(gone) is None
    assert person_of({"resourceType": "RelatedPerson", "id": "y", "name": [{"text": "Y"}]}) is None


def test_the_portal_lists_members_apart_from_patients_in_dutch_and_english(sandbox: Sandbox) -> None:
    client = sandbox.app.test_client()
    html = client.get("/epd/portal").get_data(as_text=True)
    assert "Wie bent u?" in html and "Of bent u een naaste: familie of vriend van een patiënt?" in html
    ans = related_id(sandbox, "Ans Bakker")
    assert f'value="RelatedPerson/{ans}"' in html and "naaste van Sanne Bakker" in html
    # The patient's name is not in the member's label (so "Sanne Bakker" names one choice only).
    assert '<label for="person-rp-1">Ans Bakker</label>' in html
    english = client.get("/epd/portal?lang=en").get_data(as_text=True)
    assert "close to Sanne Bakker" in english and "Or are you close to a patient" in english


def test_a_member_signs_in_and_the_token_names_her_and_her_patient(sandbox: Sandbox) -> None:
    client = sandbox.app.test_client()
    ans = related_id(sandbox, "Ans Bakker")
    chosen = client.post("/epd/portal", data={"person": f"RelatedPerson/{ans}"})
    assert chosen.status_code == 302 and chosen.headers["Location"].endswith("/epd/portal/me")
    page = client.get("/epd/portal/me").get_data(as_text=True)
    assert "Welkom, Ans Bakker" in page and "U bent in het portaal als naaste van Sanne Bakker." in page
    assert "de resourcegroep van Sanne Bakker" in page and "<iframe" not in page
    app_page = client.get("/epd/portal/me/app").get_data(as_text=True)
    assert f'src="{APP}/?iss=' in app_page and 'title="Resourcegroep voor Sanne Bakker"' in app_page
    with client.session_transaction() as session:
        assert session[SSO_SESSION_KEY] == session[PORTAL_SESSION_KEY] == f"RelatedPerson/{ans}"

    # The standalone launch needs no second sign-in; the token carries her patient, the id_token her.
    body = token(client, *authorize(client))
    assert body["patient"] == "sanne-bakker"
    assert claims(body["id_token"])["fhirUser"] == f"{BASE}/fhir/RelatedPerson/{ans}"
    assert set(body["scope"].split()) == set(SCOPES.split())

    # The token reads Sanne's record (her group's team and meetings) and nothing of another patient.
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    teams = client.get("/fhir/CareTeam", headers=bearer).get_json()
    assert {e["resource"]["subject"]["reference"] for e in teams["entry"]} == {"Patient/sanne-bakker"}
    meetings = client.get("/fhir/Appointment?patient=sanne-bakker", headers=bearer).get_json()
    assert meetings.get("total", len(meetings.get("entry", []))) >= 3
    other = client.get("/fhir/CareTeam?patient=mohammed-el-amrani", headers=bearer)
    assert other.status_code == 403 or not other.get_json().get("entry")
    assert client.get("/fhir/Patient/mohammed-el-amrani", headers=bearer).status_code in (403, 404)


def test_a_member_picked_on_the_sign_in_page_gets_her_patient_too(sandbox: Sandbox) -> None:
    client = sandbox.app.test_client()
    karim = related_id(sandbox, "Karim Haddou")
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": "resourcegroep",
        "redirect_uri": f"{APP}/callback",
        "scope": SCOPES,
        "state": "s2",
        "aud": f"{BASE}/fhir",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    login = client.get("/auth/authorize", query_string=params).get_data(as_text=True)
    assert "Naasten (familie en vrienden van een patiënt)" in login and f"RelatedPerson/{karim}" in login
    picked = client.post("/auth/authorize", data={**params, "sandbox_user": f"RelatedPerson/{karim}"})
    assert picked.status_code == 302, picked.get_data(as_text=True)
    body = token(client, query_of(picked.headers["Location"])["code"], verifier)
    assert body["patient"] == "sanne-bakker"
    assert claims(body["id_token"])["fhirUser"].endswith(f"/RelatedPerson/{karim}")


def test_the_portal_refuses_what_is_not_a_patient_or_a_related_person(sandbox: Sandbox) -> None:
    client = sandbox.app.test_client()
    for value in ("Practitioner/anna-de-vries", "RelatedPerson/nobody", "Patient/", "CareTeam/x"):
        response = client.post("/epd/portal", data={"person": value})
        assert response.status_code == 200 and "Kies eerst wie u bent." in response.get_data(as_text=True), value
    # A bare patient id (the older form) still signs the patient in.
    assert client.post("/epd/portal", data={"patient": "eva-visser"}).status_code == 302
    with client.session_transaction() as session:
        assert session[SSO_SESSION_KEY] == "Patient/eva-visser"
