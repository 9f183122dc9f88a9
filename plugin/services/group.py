"""Services of the group as a whole: who sees the overview, start, rename, lifecycle, take over."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from fhir_mappings.codes import GroupStatus
from fhir_mappings.errors import DomainError
from fhir_mappings.model import Meeting, Member, NominationInterview, ResourceGroup, check_text, uids_from
from fhir_mappings.refs import is_professional_ref, literal
from fhir_mappings.rights import Action, Actor, NotAllowed, Role, actor_in, may_take_over, require
from plugin.services.core import act, once, repeated
from plugin.services.meetings import cancel_with_notice
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


def require_overview(actor: Actor) -> None:
    """Raise `NotAllowed` unless the actor may see the group's overview, saying why in their own terms."""
    professional = is_professional_ref(actor.who)  # addressed as "u", others "je"
    if actor.role is Role.NOMINEE:
        raise NotAllowed(
            "U bent genomineerd voor deze resourcegroep. Als u na het kennismakingsgesprek lid wordt, kunt u de "
            "groep zien."
            if professional
            else "Je bent genomineerd voor deze resourcegroep. Als je na het kennismakingsgesprek lid wordt, kun je "
            "de groep zien.",
            f"nominee {actor.who!r} may not view the group before the interview",
        )
    if not actor.may(Action.VIEW_OVERVIEW):
        raise NotAllowed(
            ("U hoort" if professional else "Je hoort")
            + " niet bij deze resourcegroep. Alleen de patiënt, de leden van de groep en de behandelaars van de "
            "instelling kunnen de groep zien.",
            f"{actor.role} {actor.who!r} may not view the group",
        )


class StartOffer(StrEnum):
    """What the start page offers when the patient has no open group."""

    FORM = "form"  # a care professional: the form to start the group
    WAIT = "wait"  # the patient: their care professional starts the group


def start_offer(uow: UnitOfWork) -> StartOffer:
    """What the start page shows the acting user; `NotAllowed` for anybody who is neither patient nor professional."""
    actor = actor_in(uow.group(), uow.who())
    if actor.may(Action.START_GROUP):
        return StartOffer.FORM
    if literal(uow.user) == literal(uow.patient):
        return StartOffer.WAIT
    require_overview(actor)  # a nominee or a stranger: the overview's refusal, in their terms
    return StartOffer.WAIT  # a member of an ended group: a care professional starts the next one


def start_group(
    uow: UnitOfWork, key: str, *, name: str, patient_display: str, user_display: str, today: date
) -> Done[ResourceGroup]:
    """Start the patient's group: the patient is regisseur, the acting care professional regieondersteuner."""
    if (earlier := repeated(uow, key)) is not None:
        return earlier  # a double click on "start": the group is there, say so instead of "already has a group"
    uow.note_action(Action.START_GROUP)
    existing = uow.group()
    require(actor_in(existing, uow.who()), Action.START_GROUP)
    if existing is not None and existing.status is not GroupStatus.ENDED:
        raise DomainError("Deze patiënt heeft al een resourcegroep.", "start while an open group exists")
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


# Steps that cancel every planned meeting (the confirmation page lists them first).
CANCELLING_STEPS = frozenset({Lifecycle.PAUSE, Lifecycle.END})


def cancelled_by(group: ResourceGroup | None, step: Lifecycle) -> list[Meeting]:
    """The planned meetings that the step would cancel, earliest first (empty for other steps)."""
    if group is None or step not in CANCELLING_STEPS or group.status is GroupStatus.ENDED:
        return []
    return group.planned_meetings()


def interviews_cancelled_by(group: ResourceGroup | None, step: Lifecycle) -> list[NominationInterview]:
    """The planned introductory interviews that the step would call off, earliest first."""
    if group is None or step not in CANCELLING_STEPS or group.status is GroupStatus.ENDED:
        return []
    return group.planned_interviews()


def change_lifecycle(
    uow: UnitOfWork, key: str, *, step: Lifecycle, today: date, now: datetime | None = None
) -> Done[None]:
    """Pause, resume, end, reopen, or continue after treatment.

    Pausing or ending cancels the planned meetings in the same save; the invitees of an invited meeting get a
    cancellation notice with a METHOD:CANCEL calendar file.
    """
    sent = now if now is not None else datetime.now(UTC)

    def change(group: ResourceGroup, actor: Actor) -> None:
        if step is Lifecycle.AFTER_TREATMENT:
            group.continue_after_treatment(today)
            return
        move_to(group, _LIFECYCLE_STATUS[step], today, sent, by=actor.who)

    return act(uow, key, Action.CHANGE_STATUS, _LIFECYCLE_TEXT[step], change)


def move_to(group: ResourceGroup, new: GroupStatus, today: date, sent: datetime, by: str | None = None) -> None:
    """Give the group a new status; pausing or ending first cancels the planned meetings with a notice.

    An illegal step is refused by `change_status`; a save is applied to a copy, so nothing is cancelled then.
    """
    if group.status is not new and new in (GroupStatus.ON_HOLD, GroupStatus.ENDED):
        for meeting in group.planned_meetings():
            cancel_with_notice(group, meeting.uid, sent)
    group.change_status(new, today, by)


def require_take_over(group: ResourceGroup, actor: Actor) -> None:
    """Raise `NotAllowed` unless the actor may take the group over now (a colleague, and no regieondersteuner)."""
    require(actor, Action.TAKE_OVER)
    if not may_take_over(group, actor):
        raise NotAllowed(
            "De groep heeft een regieondersteuner. Alleen die kan de groep aan u overdragen.",
            f"{actor.who!r} may not take over: the group has an active regieondersteuner",
        )


def take_over(uow: UnitOfWork, key: str, *, reason: str, display: str, today: date) -> Done[Member]:
    """A colleague takes over a group whose regieondersteuner left the team; the reason goes into the Provenance.

    Refused (`NotAllowed`) while the group has an active regieondersteuner: then only a hand-over can change it.
    """
    loaded = uow.group()
    if loaded is not None:
        require_take_over(loaded, actor_in(loaded, uow.who()))
    why = check_text(reason, "de reden", "take-over reason", MAX_REASON)
    activity = Activity("Regieondersteuning overgenomen", reason=why)

    def change(group: ResourceGroup, actor: Actor) -> Member:
        require_take_over(group, actor)  # the group as saved: someone may have become regieondersteuner meanwhile
        return group.take_over(actor.who, display, today)

    return act(uow, key, Action.TAKE_OVER, activity, change)
