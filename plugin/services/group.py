"""Services of the group as a whole: start, rename, lifecycle, take over."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from fhir_mappings.codes import GroupStatus
from fhir_mappings.errors import DomainError
from fhir_mappings.model import Member, ResourceGroup, check_text, uids_from
from fhir_mappings.rights import Action, actor_in, require
from plugin.services.core import act, once
from plugin.services.uow import Activity, Done, UnitOfWork

MAX_REASON = 1000


class Lifecycle(StrEnum):
    """The lifecycle steps a care professional records."""

    PAUSE = "pause"
    RESUME = "resume"
    END = "end"
    REOPEN = "reopen"
    AFTER_TREATMENT = "after_treatment"


_LIFECYCLE_TEXT = {
    Lifecycle.PAUSE: "Groep gepauzeerd",
    Lifecycle.RESUME: "Groep hervat",
    Lifecycle.END: "Groep beëindigd",
    Lifecycle.REOPEN: "Groep heropend",
    Lifecycle.AFTER_TREATMENT: "Groep gaat door na de behandeling",
}
_LIFECYCLE_STATUS = {
    Lifecycle.PAUSE: GroupStatus.ON_HOLD,
    Lifecycle.RESUME: GroupStatus.ACTIVE,
    Lifecycle.END: GroupStatus.ENDED,
    Lifecycle.REOPEN: GroupStatus.ACTIVE,
}


def start_group(
    uow: UnitOfWork, key: str, *, name: str, patient_display: str, user_display: str, today: date
) -> Done[ResourceGroup]:
    """Start the patient's group: the patient is regisseur, the acting care professional regieondersteuner."""
    existing = uow.group()
    if existing is not None and existing.status is not GroupStatus.ENDED:
        raise DomainError("Deze patiënt heeft al een resourcegroep.", "start while an open group exists")
    require(actor_in(existing, uow.who()), Action.START_GROUP)
    with uids_from(key):
        group = ResourceGroup.start_new(
            patient=uow.patient,
            patient_display=patient_display,
            regieondersteuner=uow.user,
            regieondersteuner_display=user_display,
            name=name,
            today=today,
        )
    return once(uow, key, lambda: uow.start(group, Activity("Resourcegroep gestart", "CREATE"), key))


def rename_group(uow: UnitOfWork, key: str, *, name: str) -> Done[None]:
    """Give the group another name (the patient chooses it)."""
    return act(uow, key, Action.RENAME_GROUP, "Naam van de groep gewijzigd", lambda g, _: g.rename(name))


def change_lifecycle(uow: UnitOfWork, key: str, *, step: Lifecycle, today: date) -> Done[None]:
    """Pause, resume, end, reopen, or continue after treatment."""

    def change(group: ResourceGroup, _: object) -> None:
        if step is Lifecycle.AFTER_TREATMENT:
            group.continue_after_treatment(today)
        else:
            group.change_status(_LIFECYCLE_STATUS[step], today)

    return act(uow, key, Action.CHANGE_STATUS, _LIFECYCLE_TEXT[step], change)


def take_over(uow: UnitOfWork, key: str, *, reason: str, display: str, today: date) -> Done[Member]:
    """A colleague takes over a group whose regieondersteuner left the team; the reason goes into the Provenance."""
    why = check_text(reason, "de reden", "take-over reason", MAX_REASON)
    activity = Activity("Regieondersteuning overgenomen", reason=why)
    return act(uow, key, Action.TAKE_OVER, activity, lambda g, actor: g.take_over(actor.who, display, today))
