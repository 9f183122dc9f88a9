"""The sandbox demo data: valid FHIR R4 everywhere, and each group reads back in its expected stage."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhir_mappings.codes import GroupStatus, MeetingStatus, NominationState
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.model import ResourceGroup
from sandbox.demo_data import PATIENTS, PRACTITIONERS, demo_bundles, demo_groups, demo_resources, seed
from sandbox.fhir import FhirStore

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 12, 0).astimezone()
GROUP_TYPES = (
    "CareTeam",
    "CarePlan",
    "RelatedPerson",
    "Goal",
    "Task",
    "Appointment",
    "Communication",
    "Observation",
    "Location",
)


@pytest.fixture(scope="module")
def store() -> Iterator[FhirStore]:
    fhir_store = FhirStore()
    seed(fhir_store.load, TODAY)
    yield fhir_store
    fhir_store.close()


def _read_back(store: FhirStore, patient_id: str) -> ResourceGroup:
    loaded: list[dict[str, Any]] = [r for t in GROUP_TYPES for r in store.all_of_type(t)]
    loaded += store.all_of_type("Patient") + store.all_of_type("Practitioner")
    mine = [r for r in loaded if f"Patient/{patient_id}" in str(r) or r["resourceType"] in ("Location", "Practitioner")]
    group, _ = group_from_fhir(mine, f"Patient/{patient_id}")
    return group


@pytest.mark.parametrize("resource", demo_resources(TODAY), ids=lambda r: r["resourceType"])
def test_every_demo_resource_is_valid_r4(resource: dict[str, Any]) -> None:
    model = get_fhir_model_class(resource["resourceType"])

    parsed = model.model_validate(resource)

    assert parsed.get_resource_type() == resource["resourceType"]


def test_there_are_people_to_log_in_as_and_to_launch_for() -> None:
    assert len(PATIENTS) >= 3 and len(PRACTITIONERS) >= 2
    assert all(p["name"][0]["family"] and p["birthDate"] for p in PATIENTS)
    assert len({p["id"] for p in (*PATIENTS, *PRACTITIONERS)}) == len(PATIENTS) + len(PRACTITIONERS)


def test_groups_are_in_the_three_stages_and_made_of_every_kind_of_resource() -> None:
    groups = demo_groups(TODAY)
    resources = demo_resources(TODAY)

    assert [g.stage for g in groups] == [GroupStatus.ACTIVE, GroupStatus.FORMING, GroupStatus.ENDED]
    assert {r["resourceType"] for r in resources} >= {*GROUP_TYPES, "Patient", "Practitioner"}
    assert all(b["type"] == "transaction" for b in demo_bundles(TODAY))


def test_the_store_accepts_all_demo_data(store: FhirStore) -> None:
    assert len(store.all_of_type("Patient")) == len(PATIENTS)
    assert len(store.all_of_type("CareTeam")) == 3
    assert len(store.all_of_type("RelatedPerson")) >= 6


def test_the_active_group_reads_back_with_goals_agreements_and_past_meetings(store: FhirStore) -> None:
    group = _read_back(store, "sanne-bakker")

    assert group.status is GroupStatus.ACTIVE and group.name == "Team Sanne"
    assert len(group.goals) == 4 and len(group.agreements) == 4
    held = [m for m in group.meetings if m.status is MeetingStatus.FULFILLED]
    assert len(held) == 2 and all(m.report is not None and m.report.sections for m in held)
    assert all(m.start < NOW for m in held)
    assert len(group.progress) == 6
    assert group.next_meeting(NOW) is not None
    assert {s.name for s in group.supporters} == {"Ans Bakker", "Karim Haddou"}


def test_the_forming_group_reads_back_with_open_interviews(store: FhirStore) -> None:
    group = _read_back(store, "mohammed-el-amrani")

    assert group.status is GroupStatus.FORMING
    planned = [i for i in group.interviews if i.held_at is None and i.planned_start is not None]
    assert len(planned) == 3 and all(i.planned_start is not None and i.planned_start > NOW for i in planned)
    states = sorted(m.nomination for m in group.members if m.who != group.patient)
    assert NominationState.GESPREK_GEVOERD in states and states.count(NominationState.GESPREK_GEPLAND) == 3


def test_the_ended_group_reads_back_ended_with_its_history_kept(store: FhirStore) -> None:
    group = _read_back(store, "eva-visser")

    assert group.status is GroupStatus.ENDED and group.end is not None and group.end < TODAY
    assert len([m for m in group.meetings if m.report is not None]) == 4
    assert len(group.progress) == 8
