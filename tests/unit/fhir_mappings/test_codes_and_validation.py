"""Every resource validates as R4, and carries only codes from the shipped CodeSystems or standard ones."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.codesystem import CodeSystem

from fhir_mappings import codes
from fhir_mappings.to_fhir import group_to_fhir, provenance
from tests.unit.fhir_mappings.factory import full_group

STANDARD_PREFIXES = ("http://terminology.hl7.org/", "http://hl7.org/fhir/", "http://snomed.info/sct", "urn:ietf:bcp:47")


def codings(value: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if "system" in value and "code" in value:
            found.append(value)
        for item in value.values():
            found += codings(item)
    elif isinstance(value, list):
        for item in value:
            found += codings(item)
    return found


def test_codesystems_are_valid_and_on_the_configured_base() -> None:
    for cs in codes.all_codesystems():
        CodeSystem.model_validate(cs)
        assert cs["url"].startswith(codes.CANONICAL_BASE + "/CodeSystem/")
        assert cs["count"] == len(cs["concept"])
        assert all(c["display"] for c in cs["concept"])


def test_every_vocabulary_member_is_in_its_codesystem() -> None:
    for enum, system in codes.VOCABULARY_SYSTEM.items():
        name = system.rsplit("/", 1)[1]
        shipped = {c["code"] for c in codes.codesystem(name)["concept"]}
        members: set[str] = {m.value for m in enum}  # type: ignore[attr-defined]
        if enum is codes.MemberRole:
            members.add(codes.KERNLID)
        assert members == shipped, name
        assert issubclass(enum, StrEnum)


def test_display_is_dutch() -> None:
    assert codes.display(codes.CS_GOAL_TERM, "kort") == "Korte termijn"
    assert codes.display(codes.CS_GOAL_TERM, "nope") == "nope"


def test_every_resource_validates_and_uses_known_codes() -> None:
    written = group_to_fhir(full_group())
    shipped = {(cs["url"], c["code"]) for cs in codes.all_codesystems() for c in cs["concept"]}
    assert {w.resource["resourceType"] for w in written} == {
        "CareTeam",
        "CarePlan",
        "Goal",
        "Task",
        "Appointment",
        "Location",
        "Communication",
        "Observation",
        "RelatedPerson",
    }
    for w in written:
        get_fhir_model_class(w.resource["resourceType"]).model_validate(w.resource)
        for c in codings(w.resource):
            system = c["system"]
            if system.startswith(codes.CANONICAL_BASE):
                assert (system, c["code"]) in shipped, c
            else:
                assert system.startswith(STANDARD_PREFIXES), c


def test_provenance_validates() -> None:
    from datetime import UTC, datetime

    p = provenance(
        targets=["Goal/1", "urn:uuid:0a0b"],
        agent="Practitioner/pr1",
        recorded=datetime(2026, 1, 1, tzinfo=UTC),
        activity={"system": codes.CS_V3_DATA_OPERATION, "code": "CREATE"},
        tag=(codes.IDENTIFIER_SYSTEM, "u-1"),
    )
    get_fhir_model_class("Provenance").model_validate(p)
    assert p["agent"][0]["who"]["reference"] == "Practitioner/pr1"
    assert [t["reference"] for t in p["target"]] == ["Goal/1", "urn:uuid:0a0b"]
    assert p["meta"]["tag"] == [{"system": codes.IDENTIFIER_SYSTEM, "code": "u-1"}]
    assert p["recorded"] == "2026-01-01T00:00:00.000Z"
