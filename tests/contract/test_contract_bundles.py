"""transaction (atomic, urn:uuid rewriting, ifMatch/ifNoneExist, GET entries) and batch Bundles."""

from __future__ import annotations

import uuid
from typing import Any

from tests.contract.conftest import Fhir, ref, refs, unique
from tests.contract.data import IDENT, write_group


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _post(full_url: str | None, resource: dict[str, Any], if_none_exist: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    if full_url:
        entry["fullUrl"] = full_url
    if if_none_exist:
        entry["request"]["ifNoneExist"] = if_none_exist
    return entry


def _located(entry: dict[str, Any]) -> str:
    """'Type/id' from a response entry's location (relative or absolute, with or without _history)."""
    parts = entry["response"]["location"].split("/_history")[0].rstrip("/").split("/")
    return f"{parts[-2]}/{parts[-1]}"


def test_transaction_rewrites_urn_uuid_references_everywhere(fhir: Fhir) -> None:
    group = write_group(fhir, unique("tx"))
    patient = group.refs["patient"]
    team = fhir.get(group.refs["team"]).json()
    assert team["subject"]["reference"] == patient
    assert {p["member"]["reference"] for p in team["participant"]} == {
        patient,
        group.refs["practitioner"],
        group.refs["related"],
        group.refs["practitioner2"],
    }
    plan = fhir.get(group.refs["plan"]).json()
    assert plan["careTeam"][0]["reference"] == group.refs["team"]
    assert [a["reference"]["reference"] for a in plan["activity"]] == [group.refs["task1"], group.refs["task2"]]
    short = fhir.get(group.refs["goal_short"]).json()
    inner = short["extension"][0]["extension"][1]["valueReference"]["reference"]
    assert inner == group.refs["goal_long"]  # inside an extension
    agenda = fhir.get(group.refs["agenda"]).json()
    assert agenda["payload"][1]["contentReference"]["reference"] == group.refs["goal_short"]


def test_transaction_response_has_status_location_and_etag_per_entry(fhir: Fhir) -> None:
    pu = _urn()
    r = fhir.transaction(
        [
            _post(pu, {"resourceType": "Patient", "name": [{"family": unique()}]}),
            _post(
                None,
                {
                    "resourceType": "Goal",
                    "lifecycleStatus": "active",
                    "description": {"text": "x"},
                    "subject": {"reference": pu},
                },
            ),
        ]
    )
    assert r.status_code == 200
    bundle = r.json()
    assert bundle["type"] == "transaction-response"
    assert len(bundle["entry"]) == 2
    for entry in bundle["entry"]:
        response = entry["response"]
        assert response["status"].startswith("201")
        assert response["etag"].startswith('W/"')
        located = _located(entry)
        assert fhir.get(located).status_code == 200


def test_transaction_is_atomic_when_one_entry_is_invalid(fhir: Fhir) -> None:
    tag = unique("atomic")
    r = fhir.transaction(
        [
            _post(_urn(), {"resourceType": "Patient", "identifier": [{"system": "urn:test:atomic", "value": tag}]}),
            _post(
                None,
                {
                    "resourceType": "Goal",
                    "description": {"text": "missing lifecycleStatus"},
                    "subject": {"reference": "Patient/x"},
                },
            ),
        ]
    )
    assert 400 <= r.status_code < 500
    assert r.json()["resourceType"] == "OperationOutcome"
    assert fhir.search(f"Patient?identifier=urn:test:atomic|{tag}")["total"] == 0


def test_transaction_with_stale_if_match_is_412_and_rolls_back(fhir: Fhir) -> None:
    tag = unique("stale")
    goal = fhir.create(
        {
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "description": {"text": "v1"},
            "subject": {"reference": "Patient/x"},
        }
    )
    stale = f'W/"{goal["meta"]["versionId"]}"'
    assert fhir.put(f"Goal/{goal['id']}", {**goal, "description": {"text": "v2"}}).status_code == 200
    r = fhir.transaction(
        [
            _post(_urn(), {"resourceType": "Patient", "identifier": [{"system": "urn:test:atomic", "value": tag}]}),
            {
                "resource": {**goal, "description": {"text": "v3"}},
                "request": {"method": "PUT", "url": f"Goal/{goal['id']}", "ifMatch": stale},
            },
        ]
    )
    assert r.status_code == 412
    assert fhir.search(f"Patient?identifier=urn:test:atomic|{tag}")["total"] == 0
    assert fhir.get(f"Goal/{goal['id']}").json()["description"]["text"] == "v2"


def test_transaction_update_with_current_if_match(fhir: Fhir) -> None:
    goal = fhir.create(
        {
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "description": {"text": "v1"},
            "subject": {"reference": "Patient/x"},
        }
    )
    r = fhir.transaction(
        [
            {
                "resource": {**goal, "lifecycleStatus": "completed"},
                "request": {
                    "method": "PUT",
                    "url": f"Goal/{goal['id']}",
                    "ifMatch": f'W/"{goal["meta"]["versionId"]}"',
                },
            },
        ]
    )
    assert r.status_code == 200
    entry = r.json()["entry"][0]
    assert entry["response"]["status"].startswith("200")
    current = fhir.get(f"Goal/{goal['id']}")
    assert current.json()["lifecycleStatus"] == "completed"
    assert entry["response"]["etag"] == current.headers["ETag"]


def test_retried_transaction_with_if_none_exist_makes_no_duplicates(fhir: Fhir) -> None:
    tag = unique("retry")
    criteria = f"identifier={IDENT}|{tag}"

    def bundle() -> list[dict[str, Any]]:
        pu = _urn()
        return [
            _post(pu, {"resourceType": "Patient", "identifier": [{"system": IDENT, "value": tag}]}, criteria),
            _post(
                None,
                {
                    "resourceType": "Goal",
                    "lifecycleStatus": "active",
                    "description": {"text": "x"},
                    "identifier": [{"system": IDENT, "value": f"{tag}-goal"}],
                    "subject": {"reference": pu},
                },
                f"identifier={IDENT}|{tag}-goal",
            ),
        ]

    first = fhir.transaction(bundle())
    second = fhir.transaction(bundle())
    assert first.status_code == 200 and second.status_code == 200
    assert [e["response"]["status"][:3] for e in first.json()["entry"]] == ["201", "201"]
    assert [e["response"]["status"][:3] for e in second.json()["entry"]] == ["200", "200"]
    assert fhir.search(f"Patient?identifier={IDENT}|{tag}")["total"] == 1
    goals = fhir.search(f"Goal?identifier={IDENT}|{tag}-goal")
    assert goals["total"] == 1
    patient_id = fhir.search(f"Patient?identifier={IDENT}|{tag}")["entry"][0]["resource"]["id"]
    assert goals["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"


def test_transaction_get_entries_see_the_writes(fhir: Fhir) -> None:
    tag = unique("txget")
    pu = _urn()
    r = fhir.transaction(
        [
            _post(pu, {"resourceType": "Patient", "identifier": [{"system": "urn:test:txget", "value": tag}]}),
            {"request": {"method": "GET", "url": f"Patient?identifier=urn:test:txget|{tag}"}},
        ]
    )
    assert r.status_code == 200
    get_entry = r.json()["entry"][1]
    assert get_entry["response"]["status"].startswith("200")
    assert get_entry["resource"]["type"] == "searchset"
    assert get_entry["resource"]["total"] == 1


def test_batch_entries_are_independent(fhir: Fhir) -> None:
    patient = fhir.create({"resourceType": "Patient", "name": [{"family": unique()}]})
    r = fhir.transaction(
        [
            {"request": {"method": "GET", "url": f"Patient/{patient['id']}"}},
            {"request": {"method": "GET", "url": f"Patient/{unique('missing')}"}},
            {"resource": {"resourceType": "Goal"}, "request": {"method": "POST", "url": "Goal"}},
            {
                "resource": {"resourceType": "Patient", "name": [{"family": "Batch"}]},
                "request": {"method": "POST", "url": "Patient"},
            },
            {"request": {"method": "GET", "url": f"Patient?_id={patient['id']}"}},
        ],
        kind="batch",
    )
    assert r.status_code == 200
    bundle = r.json()
    assert bundle["type"] == "batch-response"
    statuses = [e["response"]["status"][:3] for e in bundle["entry"]]
    assert statuses == ["200", "404", "400", "201", "200"]
    assert ref(bundle["entry"][0]["resource"]) == f"Patient/{patient['id']}"
    assert bundle["entry"][2]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert fhir.get(_located(bundle["entry"][3])).status_code == 200
    search = bundle["entry"][4]["resource"]
    assert search["type"] == "searchset" and refs(search) == {f"Patient/{patient['id']}"}
