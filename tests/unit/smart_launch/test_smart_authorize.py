"""Authorization request: PKCE S256, state, nonce, aud, scopes, iss allow-list."""

from __future__ import annotations

import base64
import hashlib

import pytest
import responses
from smart_fakes import AUTHORIZE, CLIENT_ID, ISS, REDIRECT, SESSION, FakeEhr, query

from smart_launch import EhrRegistration, EhrRegistry, MemorySessionStore, SmartClient, UnknownIssuerError


def test_authorize_url_has_pkce_state_nonce_aud(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    ehr.discovery()
    request = client.begin_ehr_launch(ISS, "launch-123", SESSION)
    assert request.url.startswith(AUTHORIZE + "?")
    params = query(request.url)
    pending = store.take_pending(request.state)
    assert pending is not None and pending.session_id == SESSION
    digest = hashlib.sha256(pending.code_verifier.encode()).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert params["code_challenge_method"] == "S256"
    assert 43 <= len(pending.code_verifier) <= 128
    assert params["state"] == request.state
    assert len(base64.urlsafe_b64decode(request.state + "==")) >= 16  # >= 128 random bits
    assert params["nonce"] == pending.nonce
    assert params["aud"] == ISS
    assert params["launch"] == "launch-123"
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == REDIRECT


def test_default_scopes_are_v2_without_delete(ehr: FakeEhr, client: SmartClient) -> None:
    ehr.discovery(v2=True)
    scopes = query(client.begin_ehr_launch(ISS, "l", SESSION).url)["scope"].split()
    assert scopes[:3] == ["launch", "openid", "fhirUser"]
    for t in (
        "CareTeam",
        "CarePlan",
        "Goal",
        "Task",
        "Appointment",
        "Communication",
        "Observation",
        "RelatedPerson",
        "Location",
    ):
        assert f"patient/{t}.crus" in scopes
    assert "patient/Provenance.c" in scopes
    assert "patient/Patient.r" in scopes
    assert "patient/Practitioner.rs" in scopes
    assert not any(s.startswith("user/") for s in scopes)
    perms = [s.split(".", 1)[1] for s in scopes if "/" in s and "." in s]
    assert perms and not any("d" in p for p in perms)


def test_v1_only_server_gets_read_write_scopes(ehr: FakeEhr, client: SmartClient) -> None:
    ehr.discovery(v2=False)
    scopes = query(client.begin_ehr_launch(ISS, "l", SESSION).url)["scope"].split()
    assert "patient/Goal.read" in scopes and "patient/Goal.write" in scopes
    assert "patient/Provenance.write" in scopes and "patient/Provenance.read" not in scopes
    assert "patient/Patient.read" in scopes and "patient/Patient.write" not in scopes
    assert not any(s.endswith((".crus", ".c", ".r", ".rs")) for s in scopes)
    assert len(scopes) == len(set(scopes))


def test_standalone_launch_asks_for_patient_selection(ehr: FakeEhr, client: SmartClient) -> None:
    ehr.discovery()
    params = query(client.begin_standalone_launch("epd", SESSION).url)
    scopes = params["scope"].split()
    assert "launch/patient" in scopes and "launch" not in scopes
    assert "launch" not in params
    assert params["aud"] == ISS


def test_caseload_user_scopes_when_configured(rsps: responses.RequestsMock, ehr: FakeEhr) -> None:
    ehr.discovery()
    reg = EhrRegistration(name="epd", iss=ISS, client_id=CLIENT_ID, caseload_user_scopes=True)
    client = SmartClient(EhrRegistry([reg]), MemorySessionStore(), redirect_uri=REDIRECT)
    scopes = query(client.begin_ehr_launch(ISS, "l", SESSION).url)["scope"].split()
    assert "user/CareTeam.rs" in scopes and "user/Patient.rs" in scopes and "user/PractitionerRole.rs" in scopes


def test_scopes_override_replaces_resource_scopes(rsps: responses.RequestsMock, ehr: FakeEhr) -> None:
    ehr.discovery()
    reg = EhrRegistration(name="epd", iss=ISS, client_id=CLIENT_ID, scopes=("patient/Goal.rs",))
    client = SmartClient(EhrRegistry([reg]), MemorySessionStore(), redirect_uri=REDIRECT)
    scopes = query(client.begin_ehr_launch(ISS, "l", SESSION).url)["scope"].split()
    assert scopes == ["launch", "openid", "fhirUser", "online_access", "patient/Goal.rs"]


def test_every_launch_gets_fresh_state_verifier_and_nonce(
    ehr: FakeEhr, client: SmartClient, store: MemorySessionStore
) -> None:
    ehr.discovery()
    a = client.begin_ehr_launch(ISS, "l1", SESSION)
    b = client.begin_ehr_launch(ISS, "l2", SESSION)
    pa, pb = store.take_pending(a.state), store.take_pending(b.state)
    assert pa is not None and pb is not None
    assert a.state != b.state and pa.code_verifier != pb.code_verifier and pa.nonce != pb.nonce


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example.org/fhir",
        "https://epd.example.org/fhir/other",
        None,
        "",
        "not a url",
        "javascript:alert(1)",
        "ftp://epd.example.org/fhir",
        "https://user@epd.example.org/fhir",
        "https://epd.example.org/fhir?x=1",
        "https://epd.example.org:99999/fhir",
        "https://epd.example.org/fhir\n",
    ],
)
def test_unknown_or_malformed_iss_makes_no_request(
    rsps: responses.RequestsMock, client: SmartClient, store: MemorySessionStore, iss: str | None
) -> None:
    with pytest.raises(UnknownIssuerError):
        client.begin_ehr_launch(iss, "launch-123", SESSION)
    assert len(rsps.calls) == 0
    assert store.purge_expired(now=float("inf")) == 0  # nothing was stored either


def test_malformed_flag(client: SmartClient) -> None:
    with pytest.raises(UnknownIssuerError) as bad:
        client.begin_ehr_launch("not a url", "l", SESSION)
    assert bad.value.malformed
    with pytest.raises(UnknownIssuerError) as unknown:
        client.begin_ehr_launch("https://evil.example.org/fhir", "l", SESSION)
    assert not unknown.value.malformed


def test_iss_with_trailing_slash_matches(ehr: FakeEhr, client: SmartClient) -> None:
    ehr.discovery()
    assert query(client.begin_ehr_launch(ISS + "/", "l", SESSION).url)["aud"] == ISS
