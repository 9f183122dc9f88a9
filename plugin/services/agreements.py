"""Services of the agreements area: make and change an agreement, and mark one's own agreement done.

Care professionals make and change agreements; the patient and the members mark *their own* agreement
done (`Action.MARK_OWN_AGREEMENT_DONE`, checked against the agreement's owner).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from fhir_mappings.codes import AgreementStatus
from fhir_mappings.model import Agreement, ResourceGroup
from fhir_mappings.rights import Action
from plugin.services.core import act
from plugin.services.uow import Done, UnitOfWork


def add_agreement(
    uow: UnitOfWork,
    key: str,
    *,
    description: str,
    today: date,
    owner: str | None = None,
    goal_uid: str | None = None,
    due: date | None = None,
) -> Done[Agreement]:
    """Who does what, by when, for which goal."""
    return act(
        uow,
        key,
        Action.ADD_AGREEMENT,
        "Afspraak gemaakt",
        lambda g, _: g.add_agreement(description, today, owner=owner, goal_uid=goal_uid, due=due),
    )


def edit_agreement(
    uow: UnitOfWork,
    key: str,
    *,
    uid: str,
    description: str,
    owner: str | None,
    goal_uid: str | None,
    due: date | None,
    status: AgreementStatus,
) -> Done[Agreement]:
    """Change an agreement: what, who, by when, for which goal, and its status."""
    return act(
        uow,
        key,
        Action.EDIT_AGREEMENT,
        "Afspraak gewijzigd",
        lambda g, _: g.edit_agreement(
            uid, description=description, owner=owner, goal_uid=goal_uid, due=due, status=status
        ),
    )


def _owner_of(uid: str) -> Callable[[ResourceGroup], str]:
    # An agreement without an owner is nobody's own: "" never equals an actor, so the right is refused.
    return lambda group: group.agreement(uid).owner or ""


def mark_agreement_done(
    uow: UnitOfWork, key: str, *, uid: str, note: str = "", now: datetime | None = None
) -> Done[Agreement]:
    """The patient or a member says their own agreement is done, with a short note if they like (care
    professionals change it instead). The note is dated `now` and signed by the acting user."""
    return act(
        uow,
        key,
        Action.MARK_OWN_AGREEMENT_DONE,
        "Afspraak klaar gemeld",
        lambda g, actor: g.mark_agreement_done(uid, note, now, actor.who),
        owner=_owner_of(uid),
    )
