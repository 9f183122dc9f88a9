"""The one-round-trip load of a resource group (fhir-mapping.md, "Loading and saving").

The Medplum test server applies `_include`/`_revinclude` in one pass, all `_include`s first:
an `:iterate` include only sees what earlier parameters brought in. So `_include:iterate=
Appointment:actor` finds nothing after `_revinclude=Appointment:supporting-info` there, and the
meeting places (Location) are not part of the one CarePlan query; they come with a search on the
meetings (`_include=Appointment:actor`), tested below.
"""

from __future__ import annotations

import pytest

from tests.contract.conftest import Fhir, refs, unique
from tests.contract.data import PRODUCT, Group, write_group

INCLUDES = (
    "&_include=CarePlan:care-team"
    "&_include=CarePlan:goal"
    "&_include=CarePlan:activity-reference"
    "&_revinclude=Appointment:supporting-info"
    "&_revinclude=Communication:based-on"
    "&_include:iterate=CareTeam:participant"
    "&_revinclude:iterate=Communication:part-of"
    "&_revinclude:iterate=Observation:focus"
)


NOT_IN_LOAD = ("provenance", "location")


@pytest.fixture(scope="module")
def two_groups(fhir: Fhir) -> tuple[Group, Group]:
    return write_group(fhir, unique("load")), write_group(fhir, unique("other"))


def _loaded(group: Group) -> set[str]:
    return {ref for role, ref in group.refs.items() if role not in NOT_IN_LOAD}


def test_one_carePlan_search_returns_every_resource_of_the_group(fhir: Fhir, two_groups: tuple[Group, Group]) -> None:
    group, other = two_groups
    query = f"CarePlan?patient={group.refs['patient']}&category={PRODUCT}|resourcegroepplan{INCLUDES}&_count=50"
    bundle = fhir.search(query)
    assert refs(bundle, "match") == {group.refs["plan"]}
    everything = _loaded(group)
    assert refs(bundle) == everything
    assert refs(bundle, "include") == everything - {group.refs["plan"]}
    assert not refs(bundle) & set(other.refs.values())
    assert bundle["total"] == 1


def test_the_load_query_for_the_other_patient_stays_separate(fhir: Fhir, two_groups: tuple[Group, Group]) -> None:
    group, other = two_groups
    bundle = fhir.search(f"CarePlan?patient={other.refs['patient']}{INCLUDES}")
    assert refs(bundle) == _loaded(other)
    assert not refs(bundle) & set(group.refs.values())


def test_the_load_query_works_inside_a_batch(fhir: Fhir, two_groups: tuple[Group, Group]) -> None:
    group, _ = two_groups
    r = fhir.transaction(
        [
            {"request": {"method": "GET", "url": f"CarePlan?patient={group.refs['patient']}{INCLUDES}"}},
            {"request": {"method": "GET", "url": f"Goal?patient={group.refs['patient']}"}},
        ],
        kind="batch",
    )
    assert r.status_code == 200
    first, second = (e["resource"] for e in r.json()["entry"])
    assert group.refs["progress"] in refs(first)
    assert refs(second) == {group.refs["goal_long"], group.refs["goal_short"]}


def test_meetings_with_their_places_in_one_search(fhir: Fhir, two_groups: tuple[Group, Group]) -> None:
    group, _ = two_groups
    bundle = fhir.search(f"Appointment?supporting-info={group.refs['plan']}&_include=Appointment:actor&_sort=date")
    assert [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"] == [
        group.id("meeting_past"),
        group.id("meeting_next"),
    ]
    people = {group.refs[r] for r in ("patient", "practitioner", "practitioner2", "related", "location")}
    assert refs(bundle, "include") == people
