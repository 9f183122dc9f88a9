"""Data another system wrote: read tolerantly, and what the product does not own survives an update."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from fhir_mappings.codes import GoalTerm, GroupStatus, MemberRole, NominationState
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.to_fhir import group_to_fhir

FIXTURE = Path(__file__).parent / "fixtures" / "foreign_group.json"
PATIENT = "Patient/p1"


def load() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def by_ref(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{r['resourceType']}/{r['id']}": r for r in resources if r.get("id")}


def contains(whole: Any, part: Any, path: str = "") -> None:
    """Assert that everything in `part` is still in `whole` (lists: every item of part is in whole)."""
    if isinstance(part, dict):
        assert isinstance(whole, dict), path
        for key, value in part.items():
            assert key in whole, f"{path}.{key} was dropped"
            contains(whole[key], value, f"{path}.{key}")
    elif isinstance(part, list):
        assert isinstance(whole, list), path
        for i, item in enumerate(part):
            assert any(_matches(w, item) for w in whole), f"{path}[{i}] = {item!r} was dropped or changed"
    else:
        assert whole == part, f"{path}: {whole!r} != {part!r}"


def _matches(whole: Any, part: Any) -> bool:
    try:
        contains(whole, part)
    except AssertionError:
        return False
    return True


def test_foreign_group_reads_tolerantly() -> None:
    group, _ = group_from_fhir(load(), PATIENT)
    assert group.name == "Sannes steungroep"
    assert group.status is GroupStatus.ACTIVE and group.start == date(2025, 9, 1)
    members = {m.who: m for m in group.members}
    assert set(members) == {"Patient/p1", "Practitioner/pr1", "RelatedPerson/rp-9"}  # the Organization is not a member
    assert members["Patient/p1"].roles == {MemberRole.REGISSEUR}
    assert members["RelatedPerson/rp-9"].roles == set()  # a role in free text only: no product role claimed
    assert all(m.nomination is NominationState.LID for m in group.members)  # no state recorded: a member
    assert group.supporters[0].name == "Piet Jansen" and group.supporters[0].relationship == "NBOR"
    assert group.supporters[0].phone == "010-1234567"
    goal = group.goals[0]
    assert goal.text == "Weer zelfstandig wonen" and goal.term is GoalTerm.LANG and goal.life_area is None
    assert goal.due == date(2027, 1, 1) and goal.notes[0].author is None
    assert len(group.goals) == 1  # Goal/g-elders was not loaded: its reference is kept, not invented
    assert group.agreements[0].owner == "RelatedPerson/rp-9"
    meeting = group.meetings[0]
    assert meeting.theme is None and meeting.place_uid == "Location/loc-1" and meeting.chair() == "Practitioner/pr1"
    assert group.places[0].name == "Spreekkamer 3" and group.places[0].address == ""
    assert group.progress[0].score == 5


def test_untouched_update_keeps_every_foreign_element() -> None:
    source = load()
    group, index = group_from_fhir(copy.deepcopy(source), PATIENT)
    written = {f"{w.resource['resourceType']}/{w.resource.get('id')}": w.resource for w in group_to_fhir(group, index)}
    for ref, original in by_ref(source).items():
        if ref.split("/")[0] in ("Practitioner", "Patient"):
            assert ref not in written  # the product never writes people it does not own
            continue
        contains(written[ref], original, ref)
        get_fhir_model_class(original["resourceType"]).model_validate(written[ref])
    # what the product adds is only its own marker codes, never a second copy of foreign elements
    team = written["CareTeam/ct-7"]
    assert len(team["participant"]) == 4
    assert team["participant"][3] == by_ref(source)["CareTeam/ct-7"]["participant"][3]
    plan = written["CarePlan/cp-7"]
    assert {"reference": "Goal/g-elders"} in plan["goal"]
    assert {"detail": {"status": "scheduled", "description": "Depotmedicatie"}} in plan["activity"]


def test_editing_changes_only_what_was_edited() -> None:
    source = by_ref(load())
    group, index = group_from_fhir(load(), PATIENT)
    g0 = group.goals[0]
    group.edit_goal(
        g0.uid, text="Op mezelf wonen in Breda", term=g0.term, life_area=g0.life_area, due=g0.due, parent_uid=None
    )
    written = {f"{w.resource['resourceType']}/{w.resource.get('id')}": w.resource for w in group_to_fhir(group, index)}
    goal = written["Goal/g-1"]
    assert goal["description"] == {
        "text": "Op mezelf wonen in Breda",
        "coding": source["Goal/g-1"]["description"]["coding"],
    }
    expected = copy.deepcopy(source["Goal/g-1"])
    expected["description"]["text"] = "Op mezelf wonen in Breda"
    contains(goal, expected)
    assert goal["target"][1] == {"detailString": "tweede doel"}
    assert goal["note"][0]["authorString"] == "Verpleegkundige"


def test_leaving_member_written_by_another_system_keeps_its_participant() -> None:
    group, index = group_from_fhir(load(), PATIENT)
    piet = next(m for m in group.members if m.who == "RelatedPerson/rp-9")
    group.leave(piet.uid, date(2026, 6, 1))
    team = next(w.resource for w in group_to_fhir(group, index) if w.resource["resourceType"] == "CareTeam")
    part = team["participant"][2]
    assert part["member"]["reference"] == "RelatedPerson/rp-9"
    assert part["period"] == {"end": "2026-06-01"}
    assert "id" not in part  # no product id forced onto another system's participant
    assert part["role"] == [{"text": "buurman"}]
