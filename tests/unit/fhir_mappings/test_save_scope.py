"""A save maps only what the action can have changed (`save_scope`): for every service action that must give
exactly what mapping the whole group gives, and the common small actions must really be scoped. The action
changes the repository's copy of the group (`copy_group`, which shares what cannot change in place), and the
group it was copied from must be exactly as it was afterwards, sources and all."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any, TypeVar

import pytest

from fhir_mappings.codes import GoalTerm, WishKind
from fhir_mappings.copying import copy_group as _copy_group
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.model import Note, ResourceGroup, uids_from
from fhir_mappings.refs import RefIndex
from fhir_mappings.to_fhir import group_to_fhir, save_scope
from plugin.services import wishes
from plugin.services.uow import Activity, Commit, Done, MemoryUnitOfWork, SaveState, uid_of
from tests.unit.fhir_mappings.factory import AMS, CLINICIAN, PATIENT, TODAY, full_group
from tests.unit.plugin.services import test_members_services as members_tests
from tests.unit.plugin.services.test_agreements_services import ACTIONS as AGREEMENT_ACTIONS
from tests.unit.plugin.services.test_goals_services import ACTIONS as GOAL_ACTIONS
from tests.unit.plugin.services.test_meetings_services import PROFESSIONAL_ACTIONS as MEETING_ACTIONS
from tests.unit.plugin.sync.test_sync_repository import served

T = TypeVar("T")
NOW = datetime(2026, 6, 2, 10, 30, tzinfo=AMS)


def as_read(group: ResourceGroup) -> tuple[ResourceGroup, RefIndex]:
    """The group as a load gives it: every entity with its source, the index of the record's references."""
    return group_from_fhir(served(group), group.patient)


def changed(before: ResourceGroup, after: ResourceGroup, index: RefIndex, only: set[str] | None) -> dict[str, Any]:
    """The resources the mapping of `after` writes differently from the mapping of `before` (or anew)."""
    old = {w.uid: w.resource for w in group_to_fhir(before, index, only)}
    return {w.uid: w.resource for w in group_to_fhir(after, index, only) if old.get(w.uid) != w.resource}


def state(value: Any) -> Any:
    """Everything a value holds, at any depth, the fields left out of equality (the sources) included."""
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, {f.name: state(getattr(value, f.name)) for f in fields(value)})
    if isinstance(value, (list, tuple)):
        return [state(item) for item in value]
    if isinstance(value, dict):
        return {key: state(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(repr(state(item)) for item in value)
    return value


class ScopeCheckingUnitOfWork(MemoryUnitOfWork):
    """Every commit changes the repository's copy of the group, leaves the group it copied as it was, and is
    mapped twice: within its save scope and as a whole group; both must write the same."""

    index: RefIndex = RefIndex()
    scopes: list[set[str] | None]

    def commit(self, action: Callable[[ResourceGroup], T], activity: Activity, key: str) -> Done[T]:
        before = self.stored
        assert before is not None
        as_it_was = state(before)
        after = _copy_group(before)
        with uids_from(key):
            value = action(after)
        after.check_invariants()
        assert state(before) == as_it_was, "the action changed the group it was given a copy of"
        if after == before:
            return Done(value, SaveState.UNCHANGED, uid_of(value))
        self.stored = after
        self.commits.append(Commit(activity, key, self.user))
        done = Done(value, SaveState.SAVED, uid_of(value))
        only = save_scope(before, after)
        whole = changed(before, after, self.index, None)
        assert whole, "the action changed nothing"
        if only is not None:
            assert changed(before, after, self.index, only) == whole
            assert set(whole) <= only
        self.scopes.append(only)
        return done


def checking_uow(user: str, group: ResourceGroup, index: RefIndex, **kwargs: Any) -> ScopeCheckingUnitOfWork:
    uow = ScopeCheckingUnitOfWork(user=user, patient=group.patient, stored=group, **kwargs)
    uow.index, uow.scopes = index, []
    return uow


SCOPED = {"add_goal", "edit_goal", "add_goal_note", "score_progress", "add_agreement", "edit_agreement"}
SCOPED |= {"assign_roles", "send_invitation", "record_responses", "set_meeting_status", "set_agenda"}
SCOPED |= {"write_report", "reschedule_meeting"}


@pytest.mark.parametrize(
    "action",
    [f"goals:{a}" for a in sorted(GOAL_ACTIONS)]
    + [f"agreements:{a}" for a in sorted(AGREEMENT_ACTIONS)]
    + [f"meetings:{a}" for a in sorted(MEETING_ACTIONS)],
)
def test_every_goal_agreement_and_meeting_action_writes_the_same_within_its_scope(action: str) -> None:
    area, name = action.split(":")
    call = {"goals": GOAL_ACTIONS, "agreements": AGREEMENT_ACTIONS, "meetings": MEETING_ACTIONS}[area][name][0]
    group, index = as_read(full_group())
    uow = checking_uow(CLINICIAN, group, index)
    call(uow, str(uuid.uuid4()))
    assert len(uow.scopes) == 1
    if name in SCOPED:  # the everyday actions really map a part of the group
        only = uow.scopes[0]
        assert only is not None and len(only) < len(group_to_fhir(group, index)) // 2


@pytest.mark.parametrize("case", members_tests.CASES, ids=[c.name for c in members_tests.CASES])
def test_every_member_action_writes_the_same_within_its_scope(case: Any) -> None:
    group, index = as_read(members_tests.sanne_group())
    role = sorted(case.allowed, key=str)[0]
    mother = next(s for s in group.supporters if s.name == "Ans Bakker")
    who_map = {members_tests.NOMINEE: "supporter-tom", members_tests.MOTHER: mother.uid}
    uow = checking_uow(members_tests.USERS[role], group, index, who_map=who_map)
    case.call(uow, str(uuid.uuid4()), group)
    assert len(uow.scopes) == 1


def test_the_patients_wishes_write_the_same_within_their_scope() -> None:
    group, index = as_read(full_group())
    uow = checking_uow(PATIENT, group, index)
    wish = wishes.ask_pause_or_end(uow, "k1", kind=WishKind.PAUSE, text="Even rust", now=NOW).value
    wishes.set_aside_wish(checking_uow(CLINICIAN, uow.stored, index), "k2", uid=wish.uid)  # type: ignore[arg-type]
    assert uow.scopes and uow.scopes[0] is not None


def _rename_member(g: ResourceGroup) -> None:
    g.members[1].display = "Andere Naam"


def _rename_group(g: ResourceGroup) -> None:
    g.name = "Andere groep"


def _drop_goal(g: ResourceGroup) -> None:
    g.goals.pop()


def _new_source(g: ResourceGroup) -> None:
    g.goals[0].source = {**(g.goals[0].source or {}), "priority": {"text": "hoog"}}


def _note_in_place(g: ResourceGroup) -> None:
    g.agreements[0].notes.append(Note(NOW, "Gedaan", CLINICIAN))


def _step(g: ResourceGroup) -> None:
    g.add_goal("Elke dag een stukje", GoalTerm.KORT, TODAY, parent_uid=g.goals[0].uid)


@pytest.mark.parametrize(
    ("change", "scoped"),
    [
        (_rename_member, False),  # a member's name is in tasks, meetings and invitations
        (_rename_group, False),  # the group's name is in new meetings' descriptions
        (_drop_goal, False),  # (the plan keeps naming what it cannot read: nothing is written)
        (_new_source, True),  # a source replaced, nothing else: that resource is mapped again
        (_note_in_place, True),
        (_step, True),  # a new step: the step, its long-term goal and the plan
    ],
)
def test_changes_that_reach_across_the_group_map_everything(
    change: Callable[[ResourceGroup], None], scoped: bool
) -> None:
    group, index = as_read(full_group())
    after = copy.deepcopy(group)
    change(after)
    only = save_scope(group, after)
    assert (only is not None) is scoped
    whole = changed(group, after, index, None)
    assert changed(group, after, index, only) == whole
    assert bool(whole) is (change is not _drop_goal)


def test_an_unchanged_copy_has_an_empty_scope() -> None:
    group, _ = as_read(full_group())
    assert save_scope(group, copy.deepcopy(group)) == set()
