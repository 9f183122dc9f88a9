"""The unit-of-work protocol every service runs on, and the in-memory one for fast tests.

A unit of work is one request's access to one patient's group: `group()` loads it (once), `commit()`
applies one user action to a copy and saves what changed as one transaction, `start()` saves a new
group. `FhirUnitOfWork` (in `plugin.services.fhir_uow`) is the production one, over the clinic's FHIR
server; `MemoryUnitOfWork` keeps the group in memory and records every commit, so services and rights
are tested without HTTP.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from fhir_mappings.model import ResourceGroup, uids_from
from fhir_mappings.rights import Action
from plugin.services.submissions import MemorySubmissionLog, SubmissionLog
from plugin.sync.repository import Activity

__all__ = ["Activity", "Done", "MemoryUnitOfWork", "SaveState", "UnitOfWork"]

T = TypeVar("T")


class SaveState(enum.StrEnum):
    SAVED = "saved"  # the record has it
    WAITING = "waiting"  # parked in the outbox: the record does not have it yet
    UNCHANGED = "unchanged"  # the action changed nothing
    REPEATED = "repeated"  # the same submission was saved before (double click, Back and submit again)


@dataclass(frozen=True)
class Done(Generic[T]):
    """The result of one service call: what the action returned and where the save stands."""

    value: T | None  # None only for a repeated submission (REPEATED): the first one's value is not kept
    state: SaveState
    uid: str | None = None  # the uid of what the action made or changed (also known for a repeat)

    @property
    def saved(self) -> bool:
        return self.state is SaveState.SAVED

    @property
    def waiting(self) -> bool:
        return self.state is SaveState.WAITING

    @property
    def repeated(self) -> bool:
        return self.state is SaveState.REPEATED


class UnitOfWork(Protocol):
    """One request's access to the launch patient's group (see the module docstring)."""

    submissions: SubmissionLog

    @property
    def user(self) -> str:
        """The acting user as the launch names them (literal reference)."""
        ...

    @property
    def patient(self) -> str:
        """The launch patient ("Patient/<id>")."""
        ...

    def group(self) -> ResourceGroup | None:
        """The patient's group as read (read once per unit of work); None when there is none."""
        ...

    def who(self) -> str:
        """The acting user as the group refers to them (a RelatedPerson is known by its supporter uid)."""
        ...

    def note_action(self, action: Action) -> None:
        """Name the user action this unit of work runs (for the audit trail), before its rights are checked."""
        ...

    def commit(self, action: Callable[[ResourceGroup], T], activity: Activity, key: str) -> Done[T]:
        """Apply `action` to a copy of the group and save the result as one transaction."""
        ...

    def start(self, group: ResourceGroup, activity: Activity, key: str) -> Done[ResourceGroup]:
        """Save a new group."""
        ...


def uid_of(value: Any) -> str | None:
    """The uid of an entity an action returned (None for other values)."""
    uid = getattr(value, "uid", None)
    return uid if isinstance(uid, str) else None


@dataclass
class Commit:
    """One commit the in-memory unit of work took (what a Provenance would record)."""

    activity: Activity
    key: str
    user: str


@dataclass
class MemoryUnitOfWork:
    """A unit of work over a group in memory: for service and rights tests without HTTP.

    `who_map` maps a launch reference to the group's name for that person (a RelatedPerson's supporter
    uid); other references are used as they are.
    """

    user: str
    patient: str
    stored: ResourceGroup | None = None
    submissions: SubmissionLog = field(default_factory=MemorySubmissionLog)
    who_map: dict[str, str] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)
    waiting: bool = False  # pretend the server is out of reach: commits "wait" (and are kept)
    actions: list[Action] = field(default_factory=list)  # every action named (the audit trail's view)

    def note_action(self, action: Action) -> None:
        self.actions.append(action)

    def group(self) -> ResourceGroup | None:
        return copy.deepcopy(self.stored)

    def who(self) -> str:
        return self.who_map.get(self.user, self.user)

    def commit(self, action: Callable[[ResourceGroup], T], activity: Activity, key: str) -> Done[T]:
        if self.stored is None:
            raise ValueError("there is no group to change; start one first")
        group = copy.deepcopy(self.stored)
        with uids_from(key):
            value = action(group)
        group.check_invariants()
        if group == self.stored:
            return Done(value, SaveState.UNCHANGED, uid_of(value))
        self.stored = group
        self.commits.append(Commit(activity, key, self.user))
        return Done(value, SaveState.WAITING if self.waiting else SaveState.SAVED, uid_of(value))

    def start(self, group: ResourceGroup, activity: Activity, key: str) -> Done[ResourceGroup]:
        self.stored = copy.deepcopy(group)
        self.commits.append(Commit(activity, key, self.user))
        return Done(group, SaveState.WAITING if self.waiting else SaveState.SAVED, group.uid)
