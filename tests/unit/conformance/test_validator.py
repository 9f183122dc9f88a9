"""The validator's own mechanics, and the slicing choices our nl-core / KT2 rule sets make (open vs closed)."""

from __future__ import annotations

import pytest

from fhir_mappings.codes import (
    CS_ARTIFACT,
    CS_V3_ROLE_CODE,
    PROFILE_KT2_CARE_TEAM,
    PROFILE_KT2_RELATED_PERSON,
    PROFILE_NL_CORE_CARE_TEAM,
    PROFILE_NL_CORE_CONTACT_PERSON,
    profile_url,
)
from fhir_mappings.conformance.definitions import CS_COD472
from fhir_mappings.conformance.loader import default_validator
from fhir_mappings.conformance.validator import Issue, reference_type

PERSON = {
    "resourceType": "RelatedPerson",
    "identifier": [{"system": "urn:example", "value": "1"}],
    "active": True,
    "patient": {"reference": "Patient/p1"},
    "name": [{"text": "Ans"}],
    "gender": "female",
    "birthDate": "1960-01-01",
}


def _relation(system: str, code: str) -> dict[str, object]:
    return {**PERSON, "relationship": [{"coding": [{"system": system, "code": code}]}]}


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Patient/p1", "Patient"),
        ("https://epd.example/fhir/RelatedPerson/r1/_history/2", "RelatedPerson"),
        ("urn:uuid:0b0f4d5e-0000-4000-8000-000000000000", None),
        ("#contained", None),
        ("", None),
    ],
)
def test_reference_type(reference: str, expected: str | None) -> None:
    assert reference_type(reference) == expected


def test_a_relationship_outside_both_nl_core_value_sets_passes_the_open_slicing_of_nl_core() -> None:
    assert (
        default_validator().validate_profile(_relation(CS_V3_ROLE_CODE, "FRND"), PROFILE_NL_CORE_CONTACT_PERSON) == []
    )


@pytest.mark.parametrize(
    ("system", "code"), [(CS_V3_ROLE_CODE, "MTH"), (CS_COD472, "20"), (CS_COD472, "23")], ids=["MTH", "20", "23"]
)
def test_kt2_relationship_codes_from_either_value_set_pass_its_closed_slicing(system: str, code: str) -> None:
    assert default_validator().validate_profile(_relation(system, code), PROFILE_KT2_RELATED_PERSON) == []


def test_kt2_refuses_a_relationship_outside_both_value_sets() -> None:
    issues = default_validator().validate_profile(_relation(CS_V3_ROLE_CODE, "FRND"), PROFILE_KT2_RELATED_PERSON)
    assert [(i.path, i.rule) for i in issues] == [("RelatedPerson.relationship[0]", "slice-closed")]


def test_a_birth_date_absent_for_a_reason_counts_as_present() -> None:
    person = {k: v for k, v in _relation(CS_V3_ROLE_CODE, "MTH").items() if k != "birthDate"}
    absent = {
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]
    }
    assert default_validator().validate_profile({**person, "_birthDate": absent}, PROFILE_KT2_RELATED_PERSON) == []
    issues = default_validator().validate_profile(person, PROFILE_KT2_RELATED_PERSON)
    assert [(i.path, i.rule) for i in issues] == [("RelatedPerson.birthDate", "min")]


TEAM = {
    "resourceType": "CareTeam",
    "identifier": [{"system": "urn:example", "value": "1"}],
    "status": "active",
    "subject": {"reference": "Patient/p1"},
}


@pytest.mark.parametrize(
    ("member", "slice_name"),
    [
        ("RelatedPerson/r1", "contactPerson"),
        ("Patient/p1", "patient"),
        ("PractitionerRole/pr1", "healthcareProfessional"),
        ("Practitioner/pr1", None),
    ],
)
def test_nl_core_care_team_sorts_participants_into_slices_by_member_type(member: str, slice_name: str | None) -> None:
    team = {**TEAM, "participant": [{"member": {"reference": member}}]}
    v = default_validator()
    assert v.validate_profile(team, PROFILE_NL_CORE_CARE_TEAM) == []  # open slicing: a Practitioner is allowed
    for name in ("contactPerson", "patient", "healthcareProfessional"):
        found = v.element_values(team, PROFILE_NL_CORE_CARE_TEAM, f"CareTeam.participant:{name}")
        assert len(found) == (1 if name == slice_name else 0)


def test_kt2_care_team_takes_practitioners_and_related_persons_and_refuses_the_patient_as_participant() -> None:
    allowed = {**TEAM, "participant": [{"member": {"reference": r}} for r in ("Practitioner/x", "RelatedPerson/y")]}
    v = default_validator()
    assert v.validate_profile(allowed, PROFILE_KT2_CARE_TEAM) == []
    patient = {**TEAM, "participant": [{"member": {"reference": "Patient/p1"}}]}
    assert [i.rule for i in v.validate_profile(patient, PROFILE_KT2_CARE_TEAM)] == ["forbidden"]


def test_an_urn_uuid_reference_is_typed_through_the_resolver() -> None:
    team = {**TEAM, "participant": [{"member": {"reference": "urn:uuid:1"}}]}
    v = default_validator()
    assert v.element_values(team, PROFILE_NL_CORE_CARE_TEAM, "CareTeam.participant:patient") == []
    found = v.element_values(
        team, PROFILE_NL_CORE_CARE_TEAM, "CareTeam.participant:patient", {"urn:uuid:1": "Patient"}.get
    )
    assert len(found) == 1


def test_an_unknown_profile_and_a_profile_of_another_type_are_reported() -> None:
    v = default_validator()
    assert v.validate({"resourceType": "Goal"}, ["http://example.org/StructureDefinition/x"]) == [
        Issue("Goal", "profile-unknown", "no definition for profile http://example.org/StructureDefinition/x")
    ]
    assert [i.rule for i in v.validate({"resourceType": "Goal"}, [profile_url("resourcegroep-place")])] == [
        "profile-type"
    ]


def test_a_pattern_must_be_contained_a_fixed_value_equal() -> None:
    v = default_validator()
    plan_url = profile_url("resourcegroep-plan")
    plan = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "title": "x",
        "subject": {"reference": "Patient/p1"},
        "careTeam": [{"reference": "CareTeam/t1"}],
        "category": [
            {
                "coding": [
                    {
                        "system": CS_ARTIFACT,
                        "code": "resourcegroepplan",
                        "display": "x",
                    },
                    {"system": "urn:other", "code": "y"},
                ]
            }
        ],
    }
    assert v.validate_profile(plan, plan_url) == []  # extra display and codings: the pattern is still met
    assert [i.rule for i in v.validate_profile({**plan, "intent": "order"}, plan_url)] == ["fixed"]
