"""Conflict primitives: commutative helpers, three-way merge, re-read and re-apply."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import responses

from plugin.sync.client import FhirClient
from plugin.sync.conflict import (
    merge_reapply,
    reread,
    submit_with_reapply,
    three_way_merge,
    with_note,
    with_participant,
    with_reference,
)
from plugin.sync.errors import Conflict, PreconditionFailed
from plugin.sync.transaction import ChangeSet

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


def test_with_reference_adds_once_and_is_pure() -> None:
    out = with_reference(PLAN, "goal", "Goal/2")
    assert [g["reference"] for g in out["goal"]] == ["Goal/1", "Goal/2"]
    assert with_reference(out, "goal", "Goal/2") == out
    assert PLAN["goal"] == [{"reference": "Goal/1"}]
    assert with_reference({"resourceType": "CarePlan"}, "careTeam", "CareTeam/1")["careTeam"] == [
        {"reference": "CareTeam/1"}
    ]


def test_with_participant_adds_a_member_once() -> None:
    team = {"resourceType": "CareTeam", "participant": [{"member": {"reference": "Patient/p"}}]}
    new = {"member": {"reference": "RelatedPerson/r"}, "role": [{"text": "lid"}]}
    out = with_participant(team, new)
    assert len(out["participant"]) == 2 and with_participant(out, new) == out
    with pytest.raises(ValueError):
        with_participant(team, {"role": []})


def test_with_note_appends_once() -> None:
    goal = {"resourceType": "Goal", "note": [{"text": "a"}]}
    out = with_note(goal, "b", time="2025-01-01", author="Practitioner/1")
    assert out["note"][-1] == {"text": "b", "time": "2025-01-01", "authorReference": {"reference": "Practitioner/1"}}
    assert with_note(out, "b", time="2025-01-01", author="Practitioner/1") == out
    assert len(with_note(out, "b")["note"]) == 3  # another note with the same text but no time is another note


def test_three_way_merge_combines_list_additions_and_separate_elements() -> None:
    base = {**PLAN, "title": "oud"}
    mine = {**with_reference(base, "goal", "Goal/3"), "title": "nieuw"}
    theirs = {**with_reference(base, "goal", "Goal/2"), "meta": {"versionId": "2"}, "period": {"start": "2025"}}
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


def test_merge_reapply_needs_a_base() -> None:
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS)
    cs.update(PLAN, version="1")
    with pytest.raises(Conflict):
        merge_reapply()(cs, {"CarePlan/cp": {**PLAN, "meta": {"versionId": "2"}}})


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


def test_412_rereads_and_reapplies_a_commutative_change(rsps: responses.RequestsMock) -> None:
    theirs = {**with_reference(PLAN, "goal", "Goal/2"), "meta": {"versionId": "2"}}
    rsps.post(BASE, status=412)
    rsps.get(f"{BASE}/Provenance", json=NO_PROVENANCE)
    rsps.get(f"{BASE}/CarePlan/cp", json=theirs)
    rsps.post(BASE, json=tx_answer(3))
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS)
    g3 = cs.create({"resourceType": "Goal", "identifier": [{"system": IDS, "value": "g3"}]})
    cs.update(with_reference(PLAN, "goal", g3), version="1", base=PLAN)
    client = FhirClient(BASE)

    submit_with_reapply(client, cs, agent="Practitioner/u", activity=ACTIVITY)

    resent = json.loads(rsps.calls[3].request.body)
    update = resent["entry"][1]
    assert update["request"]["ifMatch"] == 'W/"2"'
    assert [g["reference"] for g in update["resource"]["goal"]] == ["Goal/1", "Goal/2", g3]
    assert client.request_count == 4


def test_caller_supplied_reapply_is_used_and_a_real_conflict_propagates(rsps: responses.RequestsMock) -> None:
    theirs = {**PLAN, "meta": {"versionId": "2"}, "title": "B"}
    rsps.post(BASE, status=409)
    rsps.get(f"{BASE}/Provenance", json=NO_PROVENANCE)
    rsps.get(f"{BASE}/CarePlan/cp", json=theirs)
    seen: list[Mapping[str, Any]] = []

    def reapply(cs: ChangeSet, current: Mapping[str, Any]) -> ChangeSet:
        seen.append(current)
        raise Conflict("title edited twice", mine={**PLAN, "title": "A"}, theirs=current["CarePlan/cp"])

    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS)
    cs.update({**PLAN, "title": "A"}, version="1", base=PLAN)
    with pytest.raises(Conflict) as info:
        submit_with_reapply(FhirClient(BASE), cs, agent="Practitioner/u", activity=ACTIVITY, reapply=reapply)
    assert seen == [{"CarePlan/cp": theirs}] and info.value.theirs["title"] == "B"


def test_reapply_is_bounded(rsps: responses.RequestsMock) -> None:
    versions = iter(range(2, 100))
    rsps.post(BASE, status=412)
    rsps.get(f"{BASE}/Provenance", json=NO_PROVENANCE)
    rsps.add_callback(
        "GET",
        f"{BASE}/CarePlan/cp",
        callback=lambda _r: (200, {}, json.dumps({**PLAN, "meta": {"versionId": str(next(versions))}})),
    )
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS)
    cs.update({**PLAN, "title": "A"}, version="1", base=PLAN)
    client = FhirClient(BASE)
    with pytest.raises(PreconditionFailed, match="still conflicting"):
        submit_with_reapply(client, cs, agent="Practitioner/u", activity=ACTIVITY, max_rounds=2)
    assert len([c for c in rsps.calls if c.request.method == "POST"]) == 2


def test_a_409_about_something_else_is_not_reapplied(rsps: responses.RequestsMock) -> None:
    rsps.post(BASE, status=409)
    rsps.get(f"{BASE}/Provenance", json=NO_PROVENANCE)
    rsps.get(f"{BASE}/CarePlan/cp", json=PLAN)  # still version 1: nothing moved
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS)
    cs.update({**PLAN, "title": "A"}, version="1", base=PLAN)
    with pytest.raises(PreconditionFailed):
        submit_with_reapply(FhirClient(BASE), cs, agent="Practitioner/u", activity=ACTIVITY)
