"""The groups of the demo as the app loads them (read through a side door on the same sandbox store), for the uids
and references the attacks put into URLs and forms."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from fhir_mappings.model import ResourceGroup
from plugin.sync.client import FhirClient
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.repository import GroupRepository, LoadedGroup
from tests.security.attack import side_door
from tests.support.stack import Stack


@dataclass(frozen=True)
class Loaded:
    loaded: LoadedGroup

    @property
    def group(self) -> ResourceGroup:
        assert self.loaded.group is not None
        return self.loaded.group

    def uids(self, kind: str) -> list[str]:
        """The uids of one kind of thing in the group (goal, meeting, member, agreement, wish)."""
        group = self.group
        found: dict[str, list[str]] = {
            "goal": [g.uid for g in group.goals],
            "meeting": [m.uid for m in group.meetings],
            "member": [m.uid for m in group.members],
            "agreement": [a.uid for a in group.agreements],
            "wish": [w.uid for w in group.wishes],
        }
        return found[kind]


def load_groups(stack: Stack, tmp: Path, patients: dict[str, str]) -> dict[str, Loaded]:
    """patient id -> the group as the app would load it for `user` (patients maps patient id -> user reference)."""
    out: dict[str, Loaded] = {}
    with side_door(stack) as base:
        for patient, user in patients.items():
            repository = GroupRepository(
                client=FhirClient(base),
                patient_id=patient,
                user=user,
                outbox=SqliteOutbox(tmp / f"read-{uuid.uuid4().hex}.sqlite3"),
            )
            out[patient] = Loaded(repository.load())
    return out
