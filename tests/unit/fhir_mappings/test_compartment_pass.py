"""The read compartment check: one iterative pass per load, the same refusals at any depth."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fhir_mappings import from_fhir
from fhir_mappings.errors import CompartmentError
from fhir_mappings.from_fhir import (
    CompartmentChecked,
    check_read_compartment,
    foreign_patient_ref,
    group_from_fhir,
    only_patient_in_text,
)
from fhir_mappings.to_fhir import group_to_fhir
from tests.unit.fhir_mappings.factory import PATIENT, full_group


def resources() -> list[dict[str, Any]]:
    out = []
    for w in group_to_fhir(full_group()):
        res = copy.deepcopy(w.resource)
        res["id"] = w.uid
        out.append(res)
    return out


def goal_of(found: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in found if r["resourceType"] == "Goal")


@pytest.mark.parametrize(
    "reference",
    [
        "Patient/someone-else",
        "https://ehr.test/fhir/R4/Patient/someone-else",
        "Patient/someone-else/_history/3",
    ],
)
def test_a_foreign_patient_deep_in_an_extension_is_refused(reference: str) -> None:
    found = resources()
    goal_of(found)["extension"] = [
        {
            "url": "https://example.org/outer",
            "extension": [
                {"url": "https://example.org/inner", "valueReference": {"reference": "Practitioner/pr1"}},
                {"url": "https://example.org/deeper", "extension": [{"valueReference": {"reference": reference}}]},
            ],
        }
    ]
    with pytest.raises(CompartmentError) as caught:
        check_read_compartment(found, PATIENT)
    assert reference in caught.value.log_message
    with pytest.raises(CompartmentError):
        group_from_fhir(found, PATIENT)


def test_a_foreign_patient_in_a_contained_resource_is_refused() -> None:
    found = resources()
    goal_of(found)["contained"] = [
        {"resourceType": "Observation", "id": "c1", "subject": {"reference": "Patient/someone-else"}}
    ]
    with pytest.raises(CompartmentError, match="someone-else"):
        check_read_compartment(found, PATIENT)


def test_a_foreign_patient_resource_is_refused() -> None:
    found = [*resources(), {"resourceType": "Patient", "id": "someone-else"}]
    with pytest.raises(CompartmentError, match="Patient/someone-else"):
        check_read_compartment(found, PATIENT)


def test_own_patient_in_any_form_and_other_types_pass() -> None:
    found = resources()
    goal_of(found)["extension"] = [
        {"valueReference": {"reference": f"https://ehr.test/fhir/R4/{PATIENT}/_history/2"}},
        {"valueReference": {"reference": "urn:uuid:0f9a3c1e-0000-4000-8000-000000000001"}},
        {"valueReference": {"reference": "#contained"}},
        {"valueReference": {"reference": "RelatedPerson/patient-sister"}},  # "Patient" in the text, not the type
        {"valueString": "Patient/someone-else"},  # text, not a reference
    ]
    checked = check_read_compartment(found, PATIENT)
    assert list(checked) == found


def test_a_very_deep_resource_is_walked_without_recursion() -> None:
    node: dict[str, Any] = {"reference": "Patient/someone-else"}
    for _ in range(20_000):  # far beyond Python's recursion limit
        node = {"extension": [node]}
    assert foreign_patient_ref({"resourceType": "Goal", "id": "g", **node}, PATIENT) == "Patient/someone-else"


def test_checked_resources_are_not_walked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    found = resources()
    walked: list[str] = []
    original = from_fhir.foreign_patient_ref

    def counting(resource: dict[str, Any], patient: str) -> str | None:
        walked.append(f"{resource['resourceType']}/{resource['id']}")
        return original(resource, patient)

    monkeypatch.setattr(from_fhir, "foreign_patient_ref", counting)
    checked = check_read_compartment(found, PATIENT)
    assert len(walked) == len(found)
    group, _ = group_from_fhir(checked, PATIENT)
    assert len(walked) == len(found)  # the reader trusted the check: one pass per load
    assert group == group_from_fhir(found, PATIENT)[0]
    assert len(walked) == 2 * len(found)  # unchecked resources are walked by the reader itself


def test_checked_resources_cannot_be_made_or_widened_by_hand() -> None:
    found = resources()
    with pytest.raises(TypeError):
        CompartmentChecked(found, PATIENT)
    checked = check_read_compartment(found[:3], PATIENT)
    assert list(checked.narrowed(found[:2])) == found[:2]
    with pytest.raises(ValueError, match="checked"):
        checked.narrowed(found[:4])
    foreign = {**found[0], "subject": {"reference": "Patient/someone-else"}}
    with pytest.raises(CompartmentError):
        group_from_fhir([foreign, *found[1:]], PATIENT)


def test_checked_for_another_patient_is_checked_again() -> None:
    goal = {"resourceType": "Goal", "id": "g1", "subject": {"reference": "Patient/p2"}}
    other = check_read_compartment([goal], "Patient/p2")
    with pytest.raises(CompartmentError, match="Patient/p2"):
        group_from_fhir(other, PATIENT)


def _text(found: list[dict[str, Any]], **dumps: Any) -> bytes:
    return json.dumps({"resourceType": "Bundle", "entry": [{"resource": r} for r in found]}, **dumps).encode()


def test_a_text_that_names_only_the_launch_patient_is_checked_without_walking_the_resources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = resources()
    raw = _text(found)
    assert only_patient_in_text(raw, PATIENT)
    walked: list[str] = []
    monkeypatch.setattr(from_fhir, "foreign_patient_ref", lambda r, p: walked.append(r["resourceType"]))
    assert list(check_read_compartment(found, PATIENT, raw=raw)) == found
    assert walked == []
    check_read_compartment(found, PATIENT)
    assert len(walked) == len(found)


@pytest.mark.parametrize(
    "reference",
    [
        "Patient/someone-else",
        "https://ehr.test/fhir/R4/Patient/someone-else",
        "Patient/someone-else/_history/3",
        f"{PATIENT}x",  # the launch patient's id as a prefix of another's
        "Patient/",
    ],
)
def test_another_patient_in_the_text_means_the_resources_are_walked_and_refused(reference: str) -> None:
    found = resources()
    goal_of(found)["extension"] = [{"url": "https://x.test/a", "valueReference": {"reference": reference}}]
    raw = _text(found)
    assert not only_patient_in_text(raw, PATIENT)
    with pytest.raises(CompartmentError):
        check_read_compartment(found, PATIENT, raw=raw)


@pytest.mark.parametrize("escape", ["Patient\\/someone-else", "\\u0050atient/someone-else", "Patient/\\u0073omeone"])
def test_an_escape_that_can_hide_another_patient_means_the_resources_are_walked(escape: str) -> None:
    found = resources()
    goal_of(found)["note"] = [{"text": "https://x.test/marker"}, {"text": "Daniëlle"}]
    raw = _text(found).replace(b'"https://x.test/marker"', b'"' + escape.encode() + b'"')
    assert not only_patient_in_text(raw, PATIENT)
    escaped = _text(found, ensure_ascii=True)
    assert b"\\u00eb" in escaped and only_patient_in_text(escaped, PATIENT)  # an escaped non-ASCII letter is fine


def test_a_patient_resource_of_another_id_is_refused_whatever_the_text_says() -> None:
    found = [*resources(), {"resourceType": "Patient", "id": "someone-else"}]
    with pytest.raises(CompartmentError):
        check_read_compartment(found, PATIENT, raw=_text(resources()))
