"""Every write is validated: structure, JSON types, required code bindings, invariants."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.conftest import Fhir, unique

P = {"reference": "Patient/example-patient"}


def _assert_rejected(r: Any) -> None:
    assert r.status_code == 400, r.text[:300]
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"] and body["issue"][0]["severity"] in ("error", "fatal")


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param({"resourceType": "Goal", "description": {"text": "x"}, "subject": P}, id="missing-required"),
        pytest.param({"resourceType": "Patient", "notAField": 1}, id="unknown-element"),
        pytest.param({"resourceType": "Patient", "active": "yes"}, id="boolean-as-string"),
        pytest.param({"resourceType": "Patient", "birthDate": "not-a-date"}, id="bad-date"),
        pytest.param({"resourceType": "Patient", "gender": "nope"}, id="bad-gender"),
        pytest.param(
            {"resourceType": "Appointment", "status": "booked", "participant": [{"actor": P, "status": "accepted"}]},
            id="app-3-booked-without-start",
        ),
    ],
)
def test_invalid_resource_is_400(fhir: Fhir, resource: dict[str, Any]) -> None:
    _assert_rejected(fhir.post(resource["resourceType"], resource))


# A valid resource per type, and the status-like element the app writes, set to a bogus code.
VALID: dict[str, dict[str, Any]] = {
    "CareTeam": {"resourceType": "CareTeam", "status": "active", "subject": P},
    "CarePlan": {"resourceType": "CarePlan", "status": "active", "intent": "plan", "subject": P},
    "Goal": {"resourceType": "Goal", "lifecycleStatus": "active", "description": {"text": "x"}, "subject": P},
    "Task": {"resourceType": "Task", "status": "requested", "intent": "plan", "for": P},
    "Appointment": {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2027-01-10T09:00:00Z",
        "end": "2027-01-10T10:00:00Z",
        "participant": [{"actor": P, "status": "accepted"}],
    },
    "Communication": {"resourceType": "Communication", "status": "completed", "subject": P},
    "Observation": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": P},
}


@pytest.mark.parametrize(
    ("rtype", "path"),
    [
        ("CareTeam", "status"),
        ("CarePlan", "status"),
        ("CarePlan", "intent"),
        ("Goal", "lifecycleStatus"),
        ("Task", "status"),
        ("Task", "intent"),
        ("Appointment", "status"),
        ("Appointment", "participant.status"),
        ("Communication", "status"),
        ("Observation", "status"),
    ],
)
def test_bad_status_code_is_400(fhir: Fhir, rtype: str, path: str) -> None:
    good = fhir.post(rtype, VALID[rtype])
    assert good.status_code == 201, good.text[:300]
    bad = {**VALID[rtype]}
    if path == "participant.status":
        bad["participant"] = [{"actor": P, "status": "bogus-status"}]
    else:
        bad[path] = "bogus-status"
    _assert_rejected(fhir.post(rtype, bad))


def test_update_is_validated_too(fhir: Fhir) -> None:
    created = fhir.create({"resourceType": "Patient", "name": [{"family": unique()}]})
    _assert_rejected(fhir.put(f"Patient/{created['id']}", {**created, "active": "yes"}))
    assert fhir.get(f"Patient/{created['id']}").json()["meta"]["versionId"] == created["meta"]["versionId"]


def test_invalid_json_body_is_400(fhir: Fhir) -> None:
    r = fhir.session.post(
        f"{fhir.base}/Patient", data="{not json", headers={"Content-Type": "application/fhir+json"}, timeout=30
    )
    assert r.status_code == 400
