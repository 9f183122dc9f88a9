"""Equal parts of scores as read are held as one object (plugin/sync/compact.py): less memory, the same JSON."""

from __future__ import annotations

import copy
import json
from typing import Any

from plugin.sync.compact import SharedParts


def score(rid: str, goal: str, when: str, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "meta": {"versionId": "1"},
        "identifier": [{"system": "urn:x", "value": rid}],
        "status": "final",
        "code": {"coding": [{"system": "urn:cs", "code": "doelvoortgang"}]},
        "subject": {"reference": "Patient/p1"},
        "focus": [{"reference": f"Goal/{goal}"}],
        "effectiveDateTime": when,
        "valueInteger": 5,
        **more,
    }


def test_equal_parts_become_one_object_and_the_json_stays_the_same() -> None:
    scores = [
        score("a", "g1", "2026-03-02T10:00:00Z"),
        score("b", "g1", "2026-03-02T10:00:00Z"),
        score("c", "g2", "2026-06-02T10:00:00Z", note=[{"text": "goed"}]),
    ]
    before = json.dumps(scores)
    SharedParts().share(scores)
    assert json.dumps(scores) == before
    a, b, c = scores
    assert a["code"] is b["code"] is c["code"] and a["subject"] is c["subject"]
    assert a["focus"] is b["focus"] and a["focus"] is not c["focus"]  # another goal: its own
    assert a["effectiveDateTime"] is b["effectiveDateTime"] and a["status"] is c["status"]
    # What each has of its own is not compared; within other parts, equal parts are shared too.
    assert a["meta"] is not b["meta"] and a["identifier"] is not b["identifier"]
    assert a["identifier"][0]["system"] is b["identifier"][0]["system"]


def test_a_meetings_participants_are_shared_with_the_other_meetings() -> None:
    def meeting(rid: str, answers: list[str]) -> dict[str, Any]:
        return {
            "resourceType": "Appointment",
            "id": rid,
            "participant": [
                {"actor": {"reference": f"RelatedPerson/{n}"}, "status": answer, "type": [{"text": "lid"}]}
                for n, answer in enumerate(answers)
            ],
        }

    first, second = meeting("m1", ["accepted", "declined"]), meeting("m2", ["accepted", "accepted"])
    before = json.dumps([first, second])
    SharedParts().share([first, second])
    assert json.dumps([first, second]) == before
    assert first["participant"][0] is second["participant"][0]  # the same answer of the same member
    one, other = first["participant"][1], second["participant"][1]  # the same member, another answer
    assert one is not other and one["actor"] is other["actor"] and one["type"] is other["type"]
    assert one["actor"] is not first["participant"][0]["actor"]  # (another member)


def test_parts_are_shared_across_calls_of_one_load_and_not_between_loads() -> None:
    shared = SharedParts()
    first, second = [score("a", "g1", "t")], [score("b", "g1", "t")]
    shared.share(first)
    shared.share(second)
    assert first[0]["focus"] is second[0]["focus"]
    other = [score("c", "g1", "t")]
    SharedParts().share(other)
    assert other[0]["focus"] is not first[0]["focus"]


def test_other_types_empty_parts_and_what_orjson_cannot_write_are_left_as_they_are() -> None:
    goal = {"resourceType": "Goal", "id": "g1", "target": [{"measure": {"text": "x"}}]}
    goal2 = copy.deepcopy(goal) | {"id": "g2"}
    huge = score("a", "g1", "t", valueQuantity={"value": 2**70})
    huge2 = score("b", "g1", "t", valueQuantity={"value": 2**70})
    empty, empty2 = score("c", "g1", "t", note=[], extension=[]), score("d", "g1", "t", extension=[])
    SharedParts().share([goal, goal2, huge, huge2, empty, empty2])
    assert goal["target"] is not goal2["target"]  # only the types asked for (scores by default)
    assert huge["valueQuantity"] is not huge2["valueQuantity"] and huge["valueQuantity"]["value"] == 2**70
    assert huge["code"] is huge2["code"]  # the rest of such a score is still shared
    assert empty["extension"] is not empty2["extension"]  # (nothing to gain)
    both = [copy.deepcopy(goal), copy.deepcopy(goal2) | {"id": "g2"}]
    SharedParts(("Goal",)).share(both)
    assert both[0]["target"] is both[1]["target"]
