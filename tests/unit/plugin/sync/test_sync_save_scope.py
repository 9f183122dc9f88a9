"""A save sends, and guards, what the action touched; the group an action changes is a real copy."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import responses

from fhir_mappings.codes import GoalTerm, MeetingRole, MeetingStatus
from fhir_mappings.copying import copy_group as _copy_group
from fhir_mappings.model import ResourceGroup
from plugin.sync import repository
from plugin.sync.errors import CompartmentViolation
from plugin.sync.repository import _references
from tests.unit.fhir_mappings.factory import TODAY, full_group
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


def large_group() -> ResourceGroup:
    """The factory group with 30 more goals, each scored three times (about 150 resources)."""
    group = full_group()
    for i in range(30):
        goal = group.add_goal(f"Doel {i}", GoalTerm.KORT, TODAY)
        for day in range(3):
            group.score_progress(goal.uid, 1 + (i + day) % 10, NOW - dt.timedelta(days=day))
    return group


def sent(mock: responses.RequestsMock) -> list[str]:
    bundle = json.loads(mock.calls[-1].request.body)
    return [f"{e['request']['method']} {e['request']['url']}" for e in bundle["entry"]]


def test_a_note_on_one_goal_of_a_large_group_sends_that_goal_and_the_provenance_only(
    rsps: responses.RequestsMock,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    resources = served(large_group())
    rsps.get(f"{BASE}/CarePlan", json=searchset(resources))
    repo = make_repo(tmp_path)
    repo.check_scope = True  # the whole group is mapped too, and must agree
    loaded = repo.load()
    rsps.add_callback(responses.POST, BASE, callback=transaction_ok)
    goal = loaded.group.goals[7]  # type: ignore[union-attr]
    saved = repo.save(loaded, lambda g: g.add_goal_note(goal.uid, "Gaat goed", NOW), "Notitie bij doel")
    assert saved.saved
    key = loaded.index.ref(goal.uid)
    assert sent(rsps) == [f"PUT {key}", "POST Provenance"]


def test_a_new_goal_sends_the_goal_the_plan_that_lists_it_and_the_provenance(
    rsps: responses.RequestsMock,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    resources = served(large_group())
    rsps.get(f"{BASE}/CarePlan", json=searchset(resources))
    repo = make_repo(tmp_path)
    repo.check_scope = True
    loaded = repo.load()
    rsps.add_callback(responses.POST, BASE, callback=transaction_ok)
    assert loaded.group is not None
    parent = loaded.group.goals[0]
    saved = repo.save(
        loaded, lambda g: g.add_goal("Een stap", GoalTerm.KORT, TODAY, parent_uid=parent.uid), "Doel toegevoegd"
    )
    assert saved.saved
    plan = loaded.index.ref(loaded.group.plan_uid)
    assert sent(rsps) == ["POST Goal", f"PUT {loaded.index.ref(parent.uid)}", f"PUT {plan}", "POST Provenance"]


def test_a_scope_that_misses_a_change_is_caught_before_anything_is_sent(
    rsps: responses.RequestsMock,  # noqa: F811 - the fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rsps.get(f"{BASE}/CarePlan", json=searchset(served(full_group())))
    repo = make_repo(tmp_path)
    repo.check_scope = True
    loaded = repo.load()
    calls = len(rsps.calls)
    monkeypatch.setattr(repository, "save_scope", lambda before, after: set())  # a scope that knows nothing
    goal = loaded.group.goals[0]  # type: ignore[union-attr]
    with pytest.raises(AssertionError, match="save scope"):
        repo.save(loaded, lambda g: g.add_goal_note(goal.uid, "Gaat goed", NOW), "Notitie bij doel")
    assert len(rsps.calls) == calls


def test_the_check_is_on_with_the_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESOURCEGROEP_CHECK_SAVE_SCOPE", raising=False)
    assert not make_repo(tmp_path).check_scope
    monkeypatch.setenv("RESOURCEGROEP_CHECK_SAVE_SCOPE", "1")
    assert make_repo(tmp_path).check_scope


def test_the_copy_shares_the_resources_as_read_and_nothing_else(
    rsps: responses.RequestsMock,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    rsps.get(f"{BASE}/CarePlan", json=searchset(served(full_group())))
    loaded = make_repo(tmp_path).load()
    group = loaded.group
    assert group is not None and group.goals[0].source is not None
    copied = _copy_group(group)
    assert copied == group
    assert copied.goals[0].source is group.goals[0].source and copied.plan_source is group.plan_source
    assert copied.goals[0] is not group.goals[0] and copied.goals[0].notes is not group.goals[0].notes


def test_the_copy_keeps_shared_objects_shared_and_copies_sets_and_dicts() -> None:
    group = full_group()
    member = group.members[0]
    group.members.append(member)  # the same object twice
    copied = _copy_group(group)
    assert copied.members[0] is copied.members[-1] and copied.members[0] is not member
    copied.members[0].roles.clear()
    assert member.roles
    meeting = next(m for m in group.meetings if m.report is not None)
    twin = next(m for m in copied.meetings if m.uid == meeting.uid)
    assert twin.report is not None and meeting.report is not None
    twin.report.sections.clear()
    assert meeting.report.sections


def test_a_score_corrected_at_the_same_meeting_is_saved_and_the_loaded_scores_stay_as_read(
    rsps: responses.RequestsMock,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    """The copy shares the (frozen) scores with the loaded group: a correction replaces one, never changes it."""
    group = full_group()
    meeting = next(m for m in group.meetings if m.status is MeetingStatus.FULFILLED)
    goal = group.goals[0]
    group.score_progress(goal.uid, 4, meeting.start, meeting.uid)
    rsps.get(f"{BASE}/CarePlan", json=searchset(served(group)))
    repo = make_repo(tmp_path)
    repo.check_scope = True
    loaded = repo.load()
    assert loaded.group is not None
    as_read = list(loaded.group.progress)
    score = next(p for p in as_read if p.meeting_uid == meeting.uid and p.goal_uid == goal.uid)
    rsps.add_callback(responses.POST, BASE, callback=transaction_ok)
    saved = repo.save(loaded, lambda g: g.score_progress(goal.uid, 9, meeting.start, meeting.uid), "Cijfer")
    assert saved.saved
    assert sent(rsps) == [f"PUT {loaded.index.ref(score.uid)}", "POST Provenance"]
    assert [p.score for p in loaded.group.progress] == [p.score for p in as_read] and score.score == 4
    shared = [a is b for a, b in zip(as_read, saved.group.progress, strict=True)]
    assert shared.count(False) == 1  # every other score is the same object, not a copy


def test_the_copy_shares_the_meeting_participants_and_invitations_and_copies_their_lists() -> None:
    """Participant entries and invitations are frozen (a change replaces one, a message is added): the copy shares
    every one of them, not the lists."""
    group = full_group()
    meeting = next(m for m in group.meetings if m.participants and m.invitations)
    copied = _copy_group(group)
    twin = copied.meeting(meeting.uid)
    assert twin is not meeting and twin.participants is not meeting.participants
    assert all(a is b for a, b in zip(twin.participants, meeting.participants, strict=True))
    assert twin.invitations is not meeting.invitations and twin.invitations[0] is meeting.invitations[0]
    twin.participants.pop()
    twin.invitations.clear()
    assert len(meeting.participants) == len(twin.participants) + 1 and meeting.invitations


def test_a_role_assigned_in_a_save_replaces_two_entries_and_leaves_the_loaded_meeting_as_read(
    rsps: responses.RequestsMock,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    group = full_group()
    meeting = next(m for m in group.meetings if m.is_planned)
    chair, other = [m.who for m in group.members if m.is_member][:2]
    group.assign_role(meeting.uid, chair, MeetingRole.VOORZITTER)
    rsps.get(f"{BASE}/CarePlan", json=searchset(served(group)))
    repo = make_repo(tmp_path)
    repo.check_scope = True
    loaded = repo.load()
    assert loaded.group is not None
    as_read = list(loaded.group.meeting(meeting.uid).participants)
    roles_as_read = [p.roles for p in as_read]
    rsps.add_callback(responses.POST, BASE, callback=transaction_ok)
    saved = repo.save(loaded, lambda g: g.assign_role(meeting.uid, other, MeetingRole.VOORZITTER), "Rollen")
    assert saved.saved
    assert sent(rsps) == [f"PUT {loaded.index.ref(meeting.uid)}", "POST Provenance"]
    loaded_meeting = loaded.group.meeting(meeting.uid)
    assert loaded_meeting.participants == as_read and loaded_meeting.chair() == chair
    assert [p.roles for p in as_read] == roles_as_read
    after = saved.group.meeting(meeting.uid)
    assert after.chair() == other
    shared = [a is b for a, b in zip(as_read, after.participants, strict=True)]
    assert shared.count(False) == 2  # the old chair's entry and the new one's; every other is the same object
