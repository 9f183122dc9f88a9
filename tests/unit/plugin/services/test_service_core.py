"""The one path of every user action: rights before and inside the save, once per submission key."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fhir_mappings.codes import GoalTerm
from fhir_mappings.errors import DomainError
from fhir_mappings.model import ResourceGroup, seeded_uid
from fhir_mappings.rights import Action, NotAllowed
from plugin.services.core import NoGroup, act, once
from plugin.services.submissions import MemorySubmissionLog, Recorded, SqliteSubmissionLog, StillRunning
from plugin.services.uow import Done, MemoryUnitOfWork, SaveState
from tests.unit.fhir_mappings.factory import CLINICIAN, PATIENT, TODAY, full_group


def uow_as(user: str, group: ResourceGroup | None = None) -> MemoryUnitOfWork:
    return MemoryUnitOfWork(user=user, patient=PATIENT, stored=group if group is not None else full_group())


def add_goal(uow: MemoryUnitOfWork, key: str, text: str = "Weer fietsen") -> Done[object]:
    return act(uow, key, Action.ADD_GOAL, "Doel toegevoegd", lambda g, _: g.add_goal(text, GoalTerm.LANG, TODAY))


def test_allowed_action_commits_once_with_seeded_uids() -> None:
    uow = uow_as(PATIENT)
    done = add_goal(uow, "key-1")
    assert done.state is SaveState.SAVED
    assert done.uid == seeded_uid("key-1")
    assert [c.activity.text for c in uow.commits] == ["Doel toegevoegd"]
    assert uow.stored is not None and uow.stored.goals[-1].text == "Weer fietsen"


def test_second_submit_of_the_same_key_is_recognised_not_saved_again() -> None:
    uow = uow_as(CLINICIAN)
    first = add_goal(uow, "same")
    again = add_goal(uow, "same")
    assert again.state is SaveState.REPEATED
    assert again.uid == first.uid
    assert len(uow.commits) == 1
    assert uow.stored is not None and [g.text for g in uow.stored.goals].count("Weer fietsen") == 1


def test_refused_role_writes_nothing_and_claims_no_key() -> None:
    group = full_group()
    member = next(m.who for m in group.members if m.display == "Karim")
    uow = uow_as(member, group)
    with pytest.raises(NotAllowed) as refused:
        add_goal(uow, "k")
    assert "Dit mag alleen" in refused.value.user_message
    assert uow.commits == []
    assert uow.submissions.claim(f"{member} {PATIENT}", "k") is None  # the key was never taken


def test_right_is_checked_again_on_the_group_the_save_changes() -> None:
    """Between load and save the actor lost the role (a fresh read after a conflict): the save refuses."""
    group = full_group()
    uow = uow_as(CLINICIAN, group)

    class Shifting(MemoryUnitOfWork):
        def commit(self, action, activity, key):  # type: ignore[no-untyped-def]
            assert self.stored is not None
            self.stored.hand_over("Practitioner/new", "Nieuw", TODAY)  # someone else handed over meanwhile
            return super().commit(action, activity, key)

    shifting = Shifting(user=uow.user, patient=uow.patient, stored=uow.stored)
    with pytest.raises(NotAllowed):
        act(shifting, "k", Action.HAND_OVER, "Overgedragen", lambda g, _: g.rename("x"))
    assert shifting.commits == []


def test_domain_refusal_releases_the_key_so_the_corrected_form_can_be_sent() -> None:
    uow = uow_as(PATIENT)
    with pytest.raises(DomainError):
        add_goal(uow, "k", text="   ")
    done = add_goal(uow, "k", text="Nu wel ingevuld")
    assert done.state is SaveState.SAVED


def test_no_key_no_save_and_no_group_no_action() -> None:
    uow = uow_as(PATIENT)
    with pytest.raises(DomainError) as missing:
        add_goal(uow, "")
    assert "niet compleet verstuurd" in missing.value.user_message
    empty = MemoryUnitOfWork(user=CLINICIAN, patient=PATIENT)
    with pytest.raises(NoGroup):
        add_goal(empty, "k")


def test_nothing_changed_is_unchanged() -> None:
    uow = uow_as(CLINICIAN)
    assert uow.stored is not None
    name = uow.stored.name
    done = act(uow, "k", Action.RENAME_GROUP, "Naam", lambda g, _: g.rename(name))
    assert done.state is SaveState.UNCHANGED
    assert uow.commits == []


def test_owner_rule_is_passed_to_the_rights() -> None:
    group = full_group()
    friend = next(m.who for m in group.members if m.display == "Karim")
    mother = next(m.who for m in group.members if m.display == "Ans de Vries")
    uow = uow_as(friend, group)
    with pytest.raises(NotAllowed) as refused:
        act(uow, "k", Action.MARK_OWN_AGREEMENT_DONE, "Afspraak gedaan", lambda g, _: None, owner=lambda g: mother)
    assert refused.value.user_message == "Dit mag je alleen voor jezelf doen."


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_two_identical_submits_at_once_save_once(kind: str, tmp_path: Path) -> None:
    log = MemorySubmissionLog() if kind == "memory" else SqliteSubmissionLog(tmp_path / "s.sqlite3")
    uow = uow_as(CLINICIAN)
    uow.submissions = log
    barrier = threading.Barrier(2)
    lock = threading.Lock()
    saves: list[str] = []

    def slow_save() -> Done[str]:
        with lock:
            saves.append("x")
        threading.Event().wait(0.2)  # the first save is still running when the second arrives
        return Done("made", SaveState.SAVED, "uid-1")

    def submit() -> Done[str]:
        barrier.wait()
        return once(uow, "double-click", slow_save)

    with ThreadPoolExecutor(2) as pool:
        results = [f.result() for f in [pool.submit(submit), pool.submit(submit)]]
    assert saves == ["x"]
    assert sorted(r.state.value for r in results) == ["repeated", "saved"]
    assert {r.uid for r in results} == {"uid-1"}


def test_sqlite_log_is_shared_between_instances_and_waits_with_a_limit(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    one, two = SqliteSubmissionLog(path), SqliteSubmissionLog(path, wait_seconds=0.3)
    assert one.claim("u p", "k") is None
    with pytest.raises(StillRunning):
        two.claim("u p", "k")  # still running in "one"
    one.finish("u p", "k", Recorded("saved", "uid-9"))
    assert two.claim("u p", "k") == Recorded("saved", "uid-9")
    assert two.claim("other-user p", "k") is None  # keys are per user and patient
    two.release("other-user p", "k")
    assert one.claim("other-user p", "k") is None
