"""Create, read, update, versions, ETag, If-Match, If-None-Exist, Prefer, errors."""

from __future__ import annotations

from tests.contract.conftest import FHIR_JSON, Fhir, unique


def _patient(tag: str) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:test:mrn", "value": tag}],
        "name": [{"family": "Contract", "given": [tag]}],
    }


def test_create_answers_201_with_location_etag_and_meta(fhir: Fhir) -> None:
    r = fhir.post("Patient", _patient(unique()))
    assert r.status_code == 201
    assert r.headers["Content-Type"].startswith(FHIR_JSON)
    body = r.json()
    vid = body["meta"]["versionId"]
    assert body["id"] and body["meta"]["lastUpdated"]
    assert r.headers["ETag"] == f'W/"{vid}"'
    assert r.headers["Location"].startswith(fhir.base + "/Patient/" + body["id"])


def test_server_assigns_the_id_on_create(fhir: Fhir) -> None:
    body = {**_patient(unique()), "id": "client-chosen-id"}
    created = fhir.post("Patient", body).json()
    assert created["id"] != "client-chosen-id"


def test_read_returns_the_resource_with_its_etag(fhir: Fhir) -> None:
    created = fhir.create(_patient(unique()))
    r = fhir.get(f"Patient/{created['id']}")
    assert r.status_code == 200
    assert r.json() == created
    assert r.headers["ETag"] == f'W/"{created["meta"]["versionId"]}"'


def test_update_makes_a_new_version_and_vread_history_keep_the_old(fhir: Fhir) -> None:
    created = fhir.create(_patient(unique()))
    v1 = created["meta"]["versionId"]
    changed = {**created, "gender": "female"}
    r = fhir.put(f"Patient/{created['id']}", changed)
    assert r.status_code == 200
    v2 = r.json()["meta"]["versionId"]
    assert v2 != v1
    assert r.headers["ETag"] == f'W/"{v2}"'
    old = fhir.get(f"Patient/{created['id']}/_history/{v1}")
    assert old.status_code == 200 and "gender" not in old.json()
    assert old.headers["ETag"] == f'W/"{v1}"'
    assert fhir.get(f"Patient/{created['id']}/_history/{v2}").json()["gender"] == "female"
    history = fhir.get(f"Patient/{created['id']}/_history").json()
    assert history["resourceType"] == "Bundle" and history["type"] == "history"
    assert {e["resource"]["meta"]["versionId"] for e in history["entry"]} == {v1, v2}


def test_if_match_current_version_succeeds_and_stale_gets_412(fhir: Fhir) -> None:
    created = fhir.create(_patient(unique()))
    etag1 = f'W/"{created["meta"]["versionId"]}"'
    ok = fhir.put(f"Patient/{created['id']}", {**created, "active": True}, headers={"If-Match": etag1})
    assert ok.status_code == 200
    stale = fhir.put(f"Patient/{created['id']}", {**created, "active": False}, headers={"If-Match": etag1})
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert fhir.get(f"Patient/{created['id']}").json()["active"] is True


def test_update_creates_when_the_id_is_new(fhir: Fhir) -> None:
    new_id = unique("put")
    r = fhir.put(f"Patient/{new_id}", {**_patient(new_id), "id": new_id})
    assert r.status_code in (200, 201)
    assert fhir.get(f"Patient/{new_id}").json()["id"] == new_id


def test_update_with_mismatching_id_is_400(fhir: Fhir) -> None:
    created = fhir.create(_patient(unique()))
    r = fhir.put(f"Patient/{created['id']}", {**created, "id": "someone-else"})
    assert r.status_code == 400
    assert r.json()["resourceType"] == "OperationOutcome"


def test_if_none_exist_returns_the_existing_resource_instead_of_a_duplicate(fhir: Fhir) -> None:
    tag = unique()
    criteria = {"If-None-Exist": f"identifier=urn:test:mrn|{tag}"}
    first = fhir.post("Patient", _patient(tag), headers=criteria)
    second = fhir.post("Patient", _patient(tag), headers=criteria)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert fhir.search(f"Patient?identifier=urn:test:mrn|{tag}")["total"] == 1


def test_if_none_exist_with_several_matches_is_412(fhir: Fhir) -> None:
    tag = unique()
    fhir.create(_patient(tag))
    fhir.create(_patient(tag))
    r = fhir.post("Patient", _patient(tag), headers={"If-None-Exist": f"identifier=urn:test:mrn|{tag}"})
    assert r.status_code == 412
    assert fhir.search(f"Patient?identifier=urn:test:mrn|{tag}")["total"] == 2


def test_prefer_return_minimal_and_operation_outcome(fhir: Fhir) -> None:
    minimal = fhir.post("Patient", _patient(unique()), headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 201 and minimal.text == ""
    assert minimal.headers["Location"] and minimal.headers["ETag"]
    outcome = fhir.post("Patient", _patient(unique()), headers={"Prefer": "return=OperationOutcome"})
    assert outcome.status_code == 201
    assert outcome.json()["resourceType"] == "OperationOutcome"
    representation = fhir.post("Patient", _patient(unique()), headers={"Prefer": "return=representation"})
    assert representation.json()["resourceType"] == "Patient"


def test_read_of_a_missing_resource_is_404_operation_outcome(fhir: Fhir) -> None:
    r = fhir.get(f"Patient/{unique('missing')}")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith(FHIR_JSON)
    assert r.json()["resourceType"] == "OperationOutcome"


def test_vread_of_a_missing_version_is_404(fhir: Fhir) -> None:
    created = fhir.create(_patient(unique()))
    r = fhir.get(f"Patient/{created['id']}/_history/{unique('v')}")
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"


def test_metadata_is_a_capability_statement_for_r4(fhir: Fhir) -> None:
    cs = fhir.get("metadata").json()
    assert cs["resourceType"] == "CapabilityStatement"
    assert cs["fhirVersion"] == "4.0.1"
    rest = cs["rest"][0]
    assert {"transaction", "batch"} <= {i["code"] for i in rest["interaction"]}
    types = {r["type"] for r in rest["resource"]}
    assert {
        "CarePlan",
        "CareTeam",
        "Goal",
        "Task",
        "Appointment",
        "Communication",
        "Observation",
        "Provenance",
        "Patient",
        "Practitioner",
        "RelatedPerson",
        "Location",
    } <= types
