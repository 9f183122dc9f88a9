"""Conflict primitives: commutative helpers, three-way merge, re-read and re-apply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from plugin.sync.client import FhirClient
from plugin.sync.conflict import reread, three_way_merge
from plugin.sync.errors import Conflict

BASE = "https://ehr.test/fhir/R4"
IDS = "https://resourcegroep.test/id"
TAGS = "https://resourcegroep.test/idempotency"
ACTIVITY = {"system": "https://resourcegroep.test/activiteit", "code": "x"}

PLAN = {
    "resourceType": "CarePlan",
    "id": "cp",
    "meta": {"versionId": "1"},
    "status": "active",
    "intent": "plan",
    "goal": [{"reference": "Goal/1"}],
}


def with_goal(plan: dict[str, Any], ref: str) -> dict[str, Any]:
    return {**plan, "goal": [*plan.get("goal", []), {"reference": ref}]}


def test_three_way_merge_combines_list_additions_and_separate_elements() -> None:
    base = {**PLAN, "title": "oud"}
    mine = {**with_goal(base, "Goal/3"), "title": "nieuw"}
    theirs = {**with_goal(base, "Goal/2"), "meta": {"versionId": "2"}, "period": {"start": "2025"}}
    merged = three_way_merge(base, mine, theirs)
    assert [g["reference"] for g in merged["goal"]] == ["Goal/1", "Goal/2", "Goal/3"]
    assert merged["title"] == "nieuw" and merged["period"] == {"start": "2025"}
    assert merged["meta"] == {"versionId": "2"}


def test_three_way_merge_keeps_removals_and_unknown_extensions() -> None:
    ext_a = {"url": "https://other.system/x", "valueString": "a"}
    ext_b = {"url": "https://resourcegroep.test/y", "valueString": "b"}
    base = {"resourceType": "CareTeam", "id": "t", "participant": [{"member": {"reference": "Patient/p"}}]}
    mine = {**base, "extension": [ext_b]}
    theirs = {**base, "extension": [ext_a]}
    merged = three_way_merge(base, mine, theirs)
    assert merged["extension"] == [ext_a, ext_b]
    removed = three_way_merge(base, {**base, "participant": []}, {**base, "name": "x"})
    assert removed["participant"] == [] and removed["name"] == "x"


def test_three_way_merge_raises_conflict_on_the_same_element() -> None:
    base = {"resourceType": "Goal", "id": "g", "description": {"text": "oud"}}
    with pytest.raises(Conflict) as info:
        three_way_merge(base, {**base, "description": {"text": "A"}}, {**base, "description": {"text": "B"}})
    assert info.value.element == "description"
    assert info.value.mine["description"]["text"] == "A" and info.value.theirs["description"]["text"] == "B"
    assert "niet verloren" in info.value.user_message


def test_three_way_merge_raises_conflict_when_the_same_participant_changed_both_ways() -> None:
    p = {"member": {"reference": "RelatedPerson/r"}}
    base = {"resourceType": "CareTeam", "id": "t", "participant": [p]}
    mine = {**base, "participant": [{**p, "period": {"end": "2025-01-01"}}]}
    theirs = {**base, "participant": [{**p, "period": {"end": "2025-02-01"}}]}
    with pytest.raises(Conflict) as info:
        three_way_merge(base, mine, theirs)
    assert info.value.element is not None and info.value.element.startswith("participant[")


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def tx_answer(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [{"response": {"status": "200 OK", "location": f"X/{i}/_history/9"}} for i in range(n)],
    }


NO_PROVENANCE = {"resourceType": "Bundle", "type": "searchset"}


def test_reread_uses_one_batch(rsps: responses.RequestsMock) -> None:
    goal = {"resourceType": "Goal", "id": "g", "meta": {"versionId": "3"}}
    rsps.post(
        BASE,
        json={"resourceType": "Bundle", "type": "batch-response", "entry": [{"resource": PLAN}, {"resource": goal}]},
    )
    client = FhirClient(BASE)
    assert reread(client, ["CarePlan/cp", "Goal/g"]) == {"CarePlan/cp": PLAN, "Goal/g": goal}
    sent = json.loads(rsps.calls[0].request.body)
    assert [e["request"] for e in sent["entry"]] == [
        {"method": "GET", "url": "CarePlan/cp"},
        {"method": "GET", "url": "Goal/g"},
    ]
    assert client.request_count == 1
