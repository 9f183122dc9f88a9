"""The production unit of work: the launch patient's group on the clinic's FHIR server."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fhir_mappings.model import ResourceGroup
from fhir_mappings.refs import literal
from fhir_mappings.rights import PROFESSIONAL_TYPES, Action, member_ref
from plugin.audit.trail import RequestAudit
from plugin.services.submissions import SubmissionLog
from plugin.services.uow import Activity, Done, SaveState, uid_of
from plugin.sync.repository import GroupRepository, LoadedGroup, Saved

T = TypeVar("T")


class FhirUnitOfWork:
    """One request's unit of work over `GroupRepository`: one load (one round trip), one transaction a commit."""

    def __init__(
        self,
        repository: GroupRepository,
        submissions: SubmissionLog,
        plan_id: str | None = None,
        loaded: LoadedGroup | None = None,
        *,
        read_only: bool = False,
        audit: RequestAudit | None = None,
        practitioner: str | None = None,
    ) -> None:
        self.read_only = read_only
        self.practitioner = practitioner  # the launch's word on a PractitionerRole user's Practitioner
        self.audit = audit
        self.repository = repository
        self.submissions = submissions
        self.plan_id = plan_id
        self._loaded = loaded
        self.saved = False  # a save of this unit of work went through (or waits): the request must not run again

    @property
    def user(self) -> str:
        return self.repository.user

    @property
    def patient(self) -> str:
        return self.repository.patient

    def loaded(self) -> LoadedGroup:
        """What the load read (read once)."""
        if self._loaded is None:
            self._loaded = self.repository.load(self.plan_id)
        return self._loaded

    def group(self) -> ResourceGroup | None:
        return self.loaded().group

    def who(self) -> str:
        loaded = self.loaded()
        user = literal(self.user)
        if loaded.group is not None and user.startswith("RelatedPerson/"):
            for supporter in loaded.group.supporters:
                if literal(loaded.index.ref(supporter.uid)) == user:
                    return supporter.uid
        if user.startswith(PROFESSIONAL_TYPES):  # listed as their Practitioner or as a PractitionerRole of theirs
            return member_ref(loaded.group, user, self.practitioner)
        return self.user

    def note_action(self, action: Action) -> None:
        if self.audit is not None:
            self.audit.acting(action.value)

    def _audit_saved(self, saved: Saved[T]) -> None:
        if self.audit is None or saved.repeated or saved.outcome is None:
            return
        result = saved.outcome.result
        if result is not None:
            refs = [w.reference for w in result.written if not w.reference.startswith("Provenance/")]
        else:  # waiting in the outbox: what is known before the server assigns ids
            refs = [r for r in saved.written if "/" in r and not r.startswith("urn:")]
        self.audit.wrote(refs)

    def _require_write(self) -> None:
        if self.read_only:
            raise PermissionError("this launch may not write")

    def commit(self, action: Callable[[ResourceGroup], T], activity: Activity, key: str) -> Done[T]:
        self._require_write()
        # From a page's load of the newest scores too: the repository reads the whole group if the action needs it.
        saved = self.repository.save(self.loaded(), action, activity, key)
        self.saved = True
        self._audit_saved(saved)
        self._loaded = None  # the next read sees the save
        return _done(saved)

    def start(self, group: ResourceGroup, activity: Activity, key: str) -> Done[ResourceGroup]:
        self._require_write()
        saved = self.repository.start(group, activity, key)
        self.saved = True
        self._audit_saved(saved)
        self._loaded = None
        return _done(saved)


def _done(saved: Saved[T]) -> Done[T]:
    if saved.repeated:
        return Done(saved.value, SaveState.REPEATED, None)
    state = SaveState.SAVED if saved.saved else SaveState.WAITING if saved.waiting else SaveState.UNCHANGED
    return Done(saved.value, state, uid_of(saved.value))
