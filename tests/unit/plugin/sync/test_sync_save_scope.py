"""A save sends, and guards, what the action touched; the group an action changes is a real copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from fhir_mappings.model import ResourceGroup
from plugin.sync.errors import CompartmentViolation
from plugin.sync.repository import _copy_group, _references
from tests.unit.fhir_mappings.factory import full_group
from tests.unit.plugin.sync.test_sync_repository import (
    BASE,
    NOW,
    make_repo,
    rsps,  # noqa: F401 - the fixture
    searchset,
    served,
    transaction_ok,
)


def test_the_copy_is_equal_and_independent() -> None:
    group = full_group()
    notes = list(group.goals[0].notes)
    assert notes
    copied = _copy_group(group)
    assert copied == group and copied is not group
    copied.goals[0].notes.clear()
    copied.members[0].display = "ander"
    assert group.goals[0].notes == notes and group.members[0].display != "ander"
    assert copied != group


def test_references_are_found_at_any_depth_without_recursion() -> None:
    node: dict[str, object] = {"reference": "Practitioner/deep"}
    for _ in range(20_000):
        node = {"extension": [node]}
    resource = {"resourceType": "Goal", "subject": {"reference": "Patient/p1"}, **node}
    assert sorted(_references(resource)) == ["Patient/p1", "Practitioner/deep"]


def test_an_untouched_resource_with_an_outside_reference_is_neither_sent_nor_refused(
    rsps: responses.RequestsMock,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    """Another system's reference in a resource the action does not touch is not this save's write."""
    resources = served(full_group())
    goals = [r for r in resources if r["resourceType"] == "Goal"]
    goals[1]["addresses"] = [{"reference": "Condition/of-another-system"}]
    rsps.get(f"{BASE}/CarePlan", json=searchset(resources))
    repo = make_repo(tmp_path)
    loaded = repo.load()
    rsps.add_callback(responses.POST, BASE, callback=transaction_ok)
    touched = goals[0]["id"]
    saved = repo.save(loaded, lambda g: g.add_goal_note(touched, "Gaat goed", NOW), "Notitie bij doel")
    assert saved.saved
    bundle = json.loads(rsps.calls[-1].request.body)
    assert [e["request"]["url"] for e in bundle["entry"]] == [f"Goal/{touched}", "Provenance"]


def test_a_touched_resource_with_an_outside_reference_is_still_refused(
    rsps: responses.RequestsMock,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    resources = served(full_group())
    goal = next(r for r in resources if r["resourceType"] == "Goal")
    goal["addresses"] = [{"reference": "Condition/of-another-system"}]
    rsps.get(f"{BASE}/CarePlan", json=searchset(resources))
    repo = make_repo(tmp_path)
    loaded = repo.load()
    calls = len(rsps.calls)

    def note(g: ResourceGroup) -> None:
        g.add_goal_note(goal["id"], "Gaat goed", NOW)

    with pytest.raises(CompartmentViolation, match="Condition/of-another-system"):
        repo.save(loaded, note, "Notitie bij doel")
    assert len(rsps.calls) == calls  # nothing was sent
