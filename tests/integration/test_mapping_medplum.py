"""The mapping against a real FHIR engine (Medplum): what the Python models let through, the engine checks."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from fhir_mappings.codes import CS_V3_DATA_OPERATION, IDENTIFIER_SYSTEM, all_codesystems
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.query import group_load_params
from fhir_mappings.refs import URN_UUID
from fhir_mappings.to_fhir import group_to_fhir, provenance
from tests.unit.fhir_mappings.factory import full_group

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


def people(base: str) -> dict[str, str]:
    """Create the patient and practitioners the factory refers to; returns factory reference -> server reference."""
    mapping = {}
    for ref, body in {
        "Patient/p1": {"resourceType": "Patient", "name": [{"text": "Sanne de Vries"}]},
        "Practitioner/pr1": {"resourceType": "Practitioner", "name": [{"text": "Jeroen Bakker"}]},
        "Practitioner/pr2": {"resourceType": "Practitioner", "name": [{"text": "Lotte"}]},
    }.items():
        r = requests.post(f"{base}/{ref.split('/')[0]}", json=body, headers=JSON, timeout=30)
        assert r.status_code == 201, r.text
        mapping[ref] = f"{ref.split('/')[0]}/{r.json()['id']}"
    return mapping


def rewire(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: (mapping.get(v, v) if k == "reference" and isinstance(v, str) else rewire(v, mapping))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [rewire(v, mapping) for v in value]
    return value


def post_group(base: str) -> tuple[Any, dict[str, str], dict[str, Any]]:
    mapping = people(base)
    group = full_group()
    written = group_to_fhir(group)
    entries = [
        {
            "fullUrl": URN_UUID + w.uid,
            "resource": rewire(w.resource, mapping),
            "request": {"method": "POST", "url": w.resource["resourceType"]},
        }
        for w in written
    ]
    from datetime import UTC, datetime

    prov = provenance(
        targets=[e["fullUrl"] for e in entries],
        agent=mapping["Practitioner/pr1"],
        recorded=datetime.now(UTC),
        activity={"system": CS_V3_DATA_OPERATION, "code": "CREATE"},
        tag=(IDENTIFIER_SYSTEM, "tx-1"),
    )
    entries.append(
        {
            "fullUrl": URN_UUID + "0f9a3c1e-0000-4000-8000-000000000001",
            "resource": prov,
            "request": {"method": "POST", "url": "Provenance"},
        }
    )
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    r = requests.post(base, json=bundle, headers=JSON, timeout=60)
    assert r.status_code == 200, r.text
    return group, mapping, r.json()


def test_every_resource_is_accepted_by_the_engine(medplum_base: str) -> None:
    _, _, response = post_group(medplum_base)
    statuses = [e["response"]["status"] for e in response["entry"]]
    assert statuses and all(s.startswith("201") for s in statuses), statuses
    assert len(statuses) == 24  # 23 group resources + the Provenance


def test_codesystems_are_accepted_by_the_engine(medplum_base: str) -> None:
    for cs in all_codesystems():
        r = requests.post(f"{medplum_base}/CodeSystem", json=cs, headers=JSON, timeout=30)
        assert r.status_code == 201, r.text


def test_one_search_loads_the_whole_group_and_it_reads_back_equal(medplum_base: str) -> None:
    group, mapping, _ = post_group(medplum_base)
    patient_id = mapping["Patient/p1"].split("/")[1]
    r = requests.get(f"{medplum_base}/CarePlan", params=group_load_params(patient_id), headers=JSON, timeout=30)
    assert r.status_code == 200, r.text
    resources = [e["resource"] for e in r.json().get("entry", [])]
    types = {x["resourceType"] for x in resources}
    assert types >= {
        "Appointment",
        "CarePlan",
        "CareTeam",
        "Communication",
        "Goal",
        "Observation",
        "Patient",
        "Practitioner",
        "RelatedPerson",
        "Task",
    }, types
    read, index = group_from_fhir(resources, mapping["Patient/p1"])
    expected = rewire_group(group, mapping)
    if "Location" not in types:
        # The shared test server applies `_include:iterate` before `_revinclude`, so it cannot reach the
        # meetings' Locations (the spec lets iterate follow revincluded resources too). The reader then
        # knows a place by reference and name only, and a write leaves that Location alone.
        for place in expected.places:
            old_uid = place.uid
            place.address = ""
            place.uid = next(p.uid for p in read.places if p.name == place.name and p.uid.startswith("Location/"))
            for meeting in expected.meetings:
                if meeting.place_uid == old_uid:
                    meeting.place_uid = place.uid
        assert all(w.resource["resourceType"] != "Location" for w in group_to_fhir(read, index))
    assert read == expected


def rewire_group(group: Any, mapping: dict[str, str]) -> Any:
    """The factory group with the server's ids for the people it refers to."""
    import dataclasses

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            return mapping.get(value, value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return type(value)(**{f.name: fix(getattr(value, f.name)) for f in dataclasses.fields(value)})
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, tuple):
            return tuple(fix(v) for v in value)
        if isinstance(value, set | frozenset):
            return type(value)(fix(v) for v in value)
        if isinstance(value, dict):
            return {fix(k): fix(v) for k, v in value.items()}
        return value

    return fix(group)
