"""Profile claims survive the save: ChangeSet keeps `meta.profile` (with the confidentiality labels) on create
and update, and the repository maps in the mode of the EHR or Koppeltaal domain."""

from __future__ import annotations

from datetime import date

from fhir_mappings.codes import (
    CS_V3_CONFIDENTIALITY,
    IDENTIFIER_SYSTEM,
    PROFILE_KT2_CARE_TEAM,
    PROFILE_NL_CORE_CARE_TEAM,
    SAVE_KEY_SYSTEM,
)
from fhir_mappings.model import ResourceGroup
from fhir_mappings.profiles import MappingMode
from fhir_mappings.refs import RefIndex
from plugin.sync.capabilities import LoadStrategy
from plugin.sync.repository import GroupRepository, LoadedGroup
from plugin.sync.transaction import ChangeSet

CLAIM = "http://nictiz.nl/fhir/StructureDefinition/nl-core-TreatmentObjective"
LABEL = {"system": CS_V3_CONFIDENTIALITY, "code": "R"}


def _goal(**extra: object) -> dict[str, object]:
    return {
        "resourceType": "Goal",
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": "g-1"}],
        "meta": {"profile": [CLAIM], "security": [LABEL], "versionId": "2", "lastUpdated": "2026-01-01T00:00:00Z"},
        **extra,
    }


def _changeset() -> ChangeSet:
    return ChangeSet(identifier_system=IDENTIFIER_SYSTEM, idempotency_tag_system=SAVE_KEY_SYSTEM)


def test_a_create_keeps_the_profile_claim() -> None:
    cs = _changeset()
    cs.create(_goal())
    assert cs.creates[0].resource["meta"]["profile"] == [CLAIM]


def test_a_create_keeps_the_confidentiality_label_next_to_the_claim() -> None:
    cs = _changeset()
    cs.create(_goal())
    assert cs.creates[0].resource["meta"]["security"] == [LABEL]


def test_a_create_leaves_the_servers_version_out() -> None:
    cs = _changeset()
    cs.create(_goal())
    assert cs.creates[0].resource["meta"].keys() == {"profile", "security"}


def test_an_update_keeps_the_profile_claim() -> None:
    cs = _changeset()
    cs.update(_goal(id="g1"), version='W/"2"')
    assert cs.updates[0].resource["meta"]["profile"] == [CLAIM]


def _team_created_by(mode: MappingMode) -> dict[str, object]:
    group = ResourceGroup.start_new(
        patient="Patient/p1",
        patient_display="Sanne",
        regieondersteuner="Practitioner/pr1",
        regieondersteuner_display="Anna",
        name="Team Sanne",
        today=date(2026, 3, 2),
    )
    repository = GroupRepository(
        client=None,  # type: ignore[arg-type]  # _diff_of does no I/O
        patient_id="p1",
        user="Practitioner/pr1",
        outbox=None,  # type: ignore[arg-type]
        mapping=mode,
    )
    loaded = LoadedGroup("Patient/p1", None, RefIndex(), {}, [], LoadStrategy.INCLUDE, 0)
    cs = repository._diff_of(group, loaded, None, None)
    return next(c.resource for c in cs.creates if c.resource["resourceType"] == "CareTeam")


def test_the_repository_maps_in_nl_core_by_default() -> None:
    assert _team_created_by(MappingMode.NL_CORE)["meta"] == {"profile": [PROFILE_NL_CORE_CARE_TEAM]}


def test_the_repository_maps_in_its_configured_mode() -> None:
    assert _team_created_by(MappingMode.KT2)["meta"] == {"profile": [PROFILE_KT2_CARE_TEAM]}
