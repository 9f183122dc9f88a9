"""Services of the members area: nominating, the introductory interview, joining, leaving, handing over.

Who may do what is in `fhir_mappings.rights`: the patient (regisseur) chooses who is nominated and may
withdraw a nomination; the interviews, the decision after the interview, core membership and ending a
membership stay with the care professionals; only the current regieondersteuner hands the role over.
Nothing is ever removed: people who left, declined or were withdrawn stay in the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from fhir_mappings.codes import InterviewVisibility, NominationState, Section
from fhir_mappings.errors import DomainError
from fhir_mappings.model import Member, NominationInterview, ResourceGroup, Supporter, new_uid
from fhir_mappings.rights import Action, Actor, Role
from plugin.services.core import act
from plugin.services.uow import Done, UnitOfWork


@dataclass(frozen=True)
class Relationship:
    """Who a nominee kept as a RelatedPerson is for the patient: a coded relationship or occupation, in words too."""

    code: str
    system: str
    text: str = ""  # RelatedPerson.relationship.text (the user's own words, or the word for the code)


@dataclass(frozen=True)
class Contact:
    """A nominee's contact details as typed (each may be empty)."""

    phone: str = ""
    email: str = ""
    gender: str = ""  # administrative gender (male, female, other, unknown); "" = not asked
    birth_date: date | None = None  # None: not known


def _proposer(actor: Actor) -> str | None:
    """The patient, when they nominate someone themselves (their nomination is shown as theirs)."""
    return actor.who if actor.role is Role.REGISSEUR else None


def _nominate_supporter(
    group: ResourceGroup,
    name: str,
    relationship: Relationship,
    contact: Contact,
    today: date,
    proposed_by: str | None,
    reason: str,
) -> Member:
    uid = new_uid()
    supporter = Supporter(
        uid,
        name.strip(),
        relationship.code,
        relationship.system,
        phone=contact.phone.strip(),
        email=contact.email.strip(),
        relationship_text=relationship.text.strip(),
        gender=contact.gender,
        birth_date=contact.birth_date,
    )
    return group.nominate(uid, supporter.name, today, supporter, proposed_by, reason)


def nominate_relation(
    uow: UnitOfWork,
    key: str,
    *,
    name: str,
    relationship: Relationship,
    contact: Contact,
    today: date,
    reason: str = "",
) -> Done[Member]:
    """Nominate someone from the patient's own circle (family, friend, neighbour): a new RelatedPerson.

    `reason`: why, in the nominator's words (the patient says why they want this person in the group)."""
    return act(
        uow,
        key,
        Action.NOMINATE,
        "Naaste genomineerd voor de resourcegroep",
        lambda g, actor: _nominate_supporter(g, name, relationship, contact, today, _proposer(actor), reason),
    )


def nominate_outside_professional(
    uow: UnitOfWork,
    key: str,
    *,
    name: str,
    occupation: Relationship,
    contact: Contact,
    today: date,
    reason: str = "",
) -> Done[Member]:
    """Nominate a professional from outside the clinic: a RelatedPerson whose relationship is their occupation."""
    return act(
        uow,
        key,
        Action.NOMINATE,
        "Hulpverlener van buiten de instelling genomineerd voor de resourcegroep",
        lambda g, actor: _nominate_supporter(g, name, occupation, contact, today, _proposer(actor), reason),
    )


def nominate_practitioner(
    uow: UnitOfWork,
    key: str,
    *,
    reference: str,
    display: str,
    today: date,
    reason: str = "",
    practitioner: str | None = None,
) -> Done[Member]:
    """Nominate a practitioner of the clinic (`reference` "Practitioner/<id>", or "PractitionerRole/<id>" with
    the role's `practitioner`, with the name the record has)."""
    return act(
        uow,
        key,
        Action.NOMINATE,
        "Behandelaar genomineerd voor de resourcegroep",
        lambda g, actor: g.nominate(
            reference, display, today, proposed_by=_proposer(actor), reason=reason, practitioner=practitioner
        ),
    )


def renominate(uow: UnitOfWork, key: str, *, member_uid: str, today: date) -> Done[Member]:
    """Someone who left, declined or was withdrawn is nominated again: a new participation; the old one stays."""

    def change(group: ResourceGroup, _: Actor) -> Member:
        earlier = group.member(member_uid)
        return group.nominate(earlier.who, earlier.display, today)

    return act(uow, key, Action.NOMINATE, "Opnieuw genomineerd voor de resourcegroep", change)


def plan_interview(
    uow: UnitOfWork, key: str, *, member_uid: str, start: datetime, now: datetime | None = None
) -> Done[NominationInterview]:
    """Plan (or move) the introductory interview; the regieondersteuner holds it. `now` (default: the clock) is kept
    as when it was planned (moving it keeps the first)."""
    planned_at = now if now is not None else datetime.now(UTC)
    return act(
        uow,
        key,
        Action.PLAN_INTERVIEW,
        "Kennismakingsgesprek gepland",
        lambda g, _: g.plan_interview(member_uid, start, now=planned_at),
    )


def record_interview(
    uow: UnitOfWork,
    key: str,
    *,
    member_uid: str,
    held_at: datetime,
    sections: dict[Section, str],
    visibility: InterviewVisibility,
) -> Done[NominationInterview]:
    """Write down the interview that was held (or correct the record later), saying who may read the record.

    `visibility` is always chosen by the user (clinics differ: sometimes the patient sits in, sometimes the
    nominee talks to the regieondersteuner alone), also when a record is corrected: it may be relabelled.
    """
    if not isinstance(visibility, InterviewVisibility):
        raise DomainError(
            "Kies wie het verslag van het gesprek mag lezen: ook de patiënt, of alleen behandelaars.",
            f"interview record for member {member_uid} without a visibility",
        )
    return act(
        uow,
        key,
        Action.RECORD_INTERVIEW,
        "Kennismakingsgesprek vastgelegd",
        lambda g, _: g.record_interview(member_uid, held_at, sections, visibility=visibility),
    )


# What can follow a nomination, who may decide it and what the Provenance says. The patient may withdraw
# their own nomination; whether someone becomes a member, or declined, is recorded by a care professional.
DECISIONS: dict[NominationState, tuple[Action, str]] = {
    NominationState.LID: (Action.DECIDE_NOMINATION, "Genomineerde is lid geworden van de resourcegroep"),
    NominationState.AFGEZIEN: (Action.DECIDE_NOMINATION, "Genomineerde heeft afgezien van de resourcegroep"),
    NominationState.TERUGGETROKKEN: (Action.WITHDRAW_NOMINATION, "Nominatie voor de resourcegroep teruggetrokken"),
}


def decide_nomination(
    uow: UnitOfWork, key: str, *, member_uid: str, outcome: NominationState, today: date
) -> Done[None]:
    """After (or instead of) the interview: the nominee becomes a member (lid), declines (afgezien), or the
    nomination is withdrawn (teruggetrokken, the same as `withdraw_nomination`)."""
    if outcome not in DECISIONS:
        raise DomainError("Kies wat er gebeurt.", f"no decision {outcome!r} for a nomination")
    action, activity = DECISIONS[outcome]

    def change(group: ResourceGroup, _: Actor) -> None:
        if outcome is NominationState.LID:
            group.admit(member_uid, today)
        else:
            group.decline(member_uid, today, withdrawn=outcome is NominationState.TERUGGETROKKEN)

    return act(uow, key, action, activity, change)


def withdraw_nomination(uow: UnitOfWork, key: str, *, member_uid: str, today: date) -> Done[None]:
    """The patient (or a care professional for them) withdraws a nomination; it stays in the history."""
    return decide_nomination(uow, key, member_uid=member_uid, outcome=NominationState.TERUGGETROKKEN, today=today)


def set_core(uow: UnitOfWork, key: str, *, member_uid: str, core: bool) -> Done[None]:
    """Make someone a core member, or no longer."""
    return act(
        uow,
        key,
        Action.SET_CORE,
        "Kernlid gemaakt" if core else "Niet langer kernlid",
        lambda g, _: g.set_core(member_uid, core),
    )


def end_membership(uow: UnitOfWork, key: str, *, member_uid: str, today: date) -> Done[None]:
    """A member leaves the group: the membership ends today and stays in the history."""
    return act(
        uow,
        key,
        Action.END_MEMBERSHIP,
        "Lid heeft de resourcegroep verlaten",
        lambda g, _: g.leave(member_uid, today),
    )


def hand_over(uow: UnitOfWork, key: str, *, to: str, display: str, today: date) -> Done[Member]:
    """The current regieondersteuner hands the role to another practitioner; their own membership ends today.

    Only the regieondersteuner may (checked on the group as loaded and again on the group the save changes):
    a member, the patient or a colleague is refused (`NotAllowed`) and nothing is written.
    """
    return act(
        uow,
        key,
        Action.HAND_OVER,
        "Regieondersteuner overgedragen",
        lambda g, _: g.hand_over(to, display, today),
    )
