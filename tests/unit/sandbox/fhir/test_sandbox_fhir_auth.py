"""Bearer token, SMART scopes and patient-compartment enforcement of the sandbox FHIR store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sandbox_fhir_support import P1, P2, bearer, seed, verifier

from sandbox.fhir import FhirStore, SmartUrls, create_fhir_app
from sandbox.fhir.auth import GrantGuard, parse_scopes


@pytest.fixture
def client() -> Iterator[FlaskClient]:
    store = FhirStore()
    store.load(seed())
    app = create_fhir_app(
        store=store,
        verifier=verifier,
        base_path="/fhir",
        smart=SmartUrls(authorize="http://auth.test/authorize", token="http://auth.test/token"),
    )
    yield app.test_client()
    store.close()


def _goal(pid: str) -> dict[str, Any]:
    return {
        "resourceType": "Goal",
        "lifecycleStatus": "proposed",
        "description": {"text": "Nieuw"},
        "subject": {"reference": f"Patient/{pid}"},
    }


def test_missing_token_is_401_with_www_authenticate(client: FlaskClient) -> None:
    r = client.get("/fhir/Goal/goal-p1")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.get_json()["resourceType"] == "OperationOutcome"
    assert r.content_type.startswith("application/fhir+json")


@pytest.mark.parametrize("header", ["Bearer nope", "Basic dXNlcjpwdw==", "Bearer ", "Bearer expired"])
def test_invalid_or_expired_token_is_401(client: FlaskClient, header: str) -> None:
    r = client.get("/fhir/Goal/goal-p1", headers={"Authorization": header})
    assert r.status_code == 401
    assert "WWW-Authenticate" in r.headers


def test_metadata_is_public_and_advertises_smart_oauth_uris(client: FlaskClient) -> None:
    r = client.get("/fhir/metadata")
    assert r.status_code == 200
    security = r.get_json()["rest"][0]["security"]
    ext = security["extension"][0]
    assert ext["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    assert {e["url"]: e["valueUri"] for e in ext["extension"]} == {
        "authorize": "http://auth.test/authorize",
        "token": "http://auth.test/token",
    }


def test_user_token_reads_and_writes_any_patient(client: FlaskClient) -> None:
    assert client.get("/fhir/Goal/goal-p2", headers=bearer("user-all")).status_code == 200
    assert client.post("/fhir/Goal", json=_goal(P2), headers=bearer("user-all")).status_code == 201


def test_patient_token_reads_its_own_record(client: FlaskClient) -> None:
    h = bearer("patient-p1")
    assert client.get(f"/fhir/Patient/{P1}", headers=h).status_code == 200
    assert client.get("/fhir/Goal/goal-p1", headers=h).status_code == 200
    assert client.get("/fhir/Goal/goal-p1/_history", headers=h).status_code == 200
    assert client.get("/fhir/Goal/goal-p1/_history/1", headers=h).status_code == 200
    assert client.get("/fhir/Provenance/prov-p1", headers=h).status_code == 200


def test_patient_token_may_read_member_resources(client: FlaskClient) -> None:
    h = bearer("patient-p1")
    assert client.get("/fhir/Practitioner/pr1", headers=h).status_code == 200
    assert client.get("/fhir/Location/loc1", headers=h).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/fhir/Patient/{P2}",
        "/fhir/Goal/goal-p2",
        "/fhir/Goal/goal-p2/_history",
        "/fhir/Goal/goal-p2/_history/1",
        "/fhir/CareTeam/team-p2",
        "/fhir/Provenance/prov-p2",
    ],
)
def test_patient_token_gets_403_on_another_patients_data(client: FlaskClient, path: str) -> None:
    r = client.get(path, headers=bearer("patient-p1"))
    assert r.status_code == 403
    assert r.get_json()["issue"][0]["code"] == "forbidden"


def test_patient_token_cannot_write_into_another_record(client: FlaskClient) -> None:
    h = bearer("patient-p1")
    assert client.post("/fhir/Goal", json=_goal(P2), headers=h).status_code == 403
    other = client.get("/fhir/Goal/goal-p2", headers=bearer("user-all")).get_json()
    assert client.put("/fhir/Goal/goal-p2", json=other, headers=h).status_code == 403
    # moving one's own goal into another record is refused too
    own = client.get("/fhir/Goal/goal-p1", headers=h).get_json()
    moved = {**own, "subject": {"reference": f"Patient/{P2}"}}
    assert client.put("/fhir/Goal/goal-p1", json=moved, headers=h).status_code == 403
    assert client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=h).status_code == 403
    assert client.post("/fhir/Goal", json=_goal(P1), headers=h).status_code == 201


def test_patient_token_searches_are_confined(client: FlaskClient) -> None:
    h = bearer("patient-p1")
    everything = client.get("/fhir/Goal", headers=h).get_json()
    assert {e["resource"]["id"] for e in everything["entry"]} == {"goal-p1"}
    patients = client.get("/fhir/Patient", headers=h).get_json()
    assert {e["resource"]["id"] for e in patients["entry"]} == {P1}
    assert client.get(f"/fhir/Goal?patient={P2}", headers=h).status_code == 403
    assert client.get(f"/fhir/Goal?subject=Patient/{P2}", headers=h).status_code == 403
    provenance = client.get("/fhir/Provenance", headers=h).get_json()
    assert {e["resource"]["id"] for e in provenance["entry"]} == {"prov-p1"}


def test_patient_token_includes_skip_other_records(client: FlaskClient) -> None:
    h = bearer("patient-p1")
    r = client.get("/fhir/Practitioner?_id=pr1&_revinclude=CareTeam:participant", headers=h).get_json()
    assert {e["resource"]["id"] for e in r["entry"]} == {"pr1", "team-p1"}
    r = client.get(f"/fhir/CareTeam?patient={P1}&_include=CareTeam:participant", headers=h).get_json()
    assert {e["resource"]["id"] for e in r["entry"]} == {"team-p1", P1, "pr1"}


def test_patient_token_bundles_are_checked_per_entry(client: FlaskClient) -> None:
    h = bearer("patient-p1")
    tx = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": _goal(P1), "request": {"method": "POST", "url": "Goal"}},
            {"resource": _goal(P2), "request": {"method": "POST", "url": "Goal"}},
        ],
    }
    assert client.post("/fhir", json=tx, headers=h).status_code == 403
    assert client.get("/fhir/Goal?_summary=count", headers=bearer("user-all")).get_json()["total"] == 2
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Goal/goal-p1"}},
            {"request": {"method": "GET", "url": "Goal/goal-p2"}},
            {"request": {"method": "GET", "url": "Goal"}},
        ],
    }
    r = client.post("/fhir", json=batch, headers=h).get_json()
    assert [e["response"]["status"][:3] for e in r["entry"]] == ["200", "403", "200"]
    assert {e["resource"]["id"] for e in r["entry"][2]["resource"]["entry"]} == {"goal-p1"}


def test_if_none_exist_cannot_reveal_another_patients_resource(client: FlaskClient) -> None:
    r = client.post("/fhir/Goal", json=_goal(P1), headers={**bearer("patient-p1"), "If-None-Exist": "_id=goal-p2"})
    assert r.status_code == 201  # the other patient's goal is invisible, so this is a fresh create
    assert r.get_json()["id"] != "goal-p2"


def test_scopes_are_enforced_per_type_and_interaction(client: FlaskClient) -> None:
    ro = bearer("patient-p1-readonly")
    assert client.get("/fhir/Goal/goal-p1", headers=ro).status_code == 200
    assert client.get("/fhir/Goal", headers=ro).status_code == 200
    r = client.post("/fhir/Goal", json=_goal(P1), headers=ro)
    assert r.status_code == 403
    assert "patient/Goal.c" in r.get_json()["issue"][0]["diagnostics"]
    goals = bearer("user-goals-read")
    assert client.get("/fhir/Goal/goal-p2", headers=goals).status_code == 200
    assert client.get("/fhir/CareTeam/team-p2", headers=goals).status_code == 403
    assert client.get("/fhir/CareTeam", headers=goals).status_code == 403


def test_v1_scopes(client: FlaskClient) -> None:
    v1 = bearer("patient-p1-v1")
    assert client.get("/fhir/CareTeam/team-p1", headers=v1).status_code == 200
    assert client.get("/fhir/CareTeam", headers=v1).status_code == 200
    assert client.post("/fhir/Goal", json=_goal(P1), headers=v1).status_code == 201
    team = {"resourceType": "CareTeam", "status": "active", "subject": {"reference": f"Patient/{P1}"}}
    assert client.post("/fhir/CareTeam", json=team, headers=v1).status_code == 403
    system = bearer("system-v1")
    assert client.get("/fhir/Goal/goal-p2", headers=system).status_code == 200
    assert client.post("/fhir/Goal", json=_goal(P1), headers=system).status_code == 403


def test_patient_scopes_without_a_patient_in_context_grant_nothing(client: FlaskClient) -> None:
    assert client.get("/fhir/Goal/goal-p1", headers=bearer("patient-scope-no-patient")).status_code == 403


def test_scopes_with_constraints_grant_nothing(client: FlaskClient) -> None:
    assert client.get("/fhir/Observation", headers=bearer("constrained-only")).status_code == 403


def test_user_scope_beside_patient_scope_is_not_confined(client: FlaskClient) -> None:
    mixed = bearer("mixed")
    assert client.get("/fhir/Goal/goal-p2", headers=mixed).status_code == 403
    assert client.get("/fhir/Practitioner?_id=pr1", headers=mixed).status_code == 200


def test_delete_is_405_whoever_asks(client: FlaskClient) -> None:
    r = client.delete("/fhir/Goal/goal-p1", headers=bearer("user-all"))
    assert r.status_code == 405
    assert r.get_json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/Goal/goal-p1", headers=bearer("user-all")).status_code == 200


def test_parse_scopes_reads_v1_and_v2() -> None:
    perms = {
        (p.context, p.resource_type, "".join(sorted(p.letters)))
        for p in parse_scopes(
            frozenset({"patient/Goal.rs", "user/*.write", "system/*.*", "openid", "patient/Goal.sr", "launch/patient"})
        )
    }
    assert perms == {("patient", "Goal", "rs"), ("user", "*", "cdu"), ("system", "*", "cdrsu")}


def test_guard_confines_only_patient_scoped_interactions() -> None:
    from sandbox.access import AccessGrant

    guard = GrantGuard(AccessGrant("app", frozenset({"patient/*.rs", "user/Location.rs"}), patient=P1))
    assert guard.patient_for("read", "Goal") == P1
    assert guard.patient_for("read", "Location") is None
    assert not guard.can("create", "Goal")
