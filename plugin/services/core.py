"""The one path every user action takes: load, who acts, may they, once per submission, commit.

A service function (one per user action, in this package's area modules) is a few lines::

    def add_goal(uow, key, *, text, term, today, ...) -> Done[Goal]:
        return act(uow, key, Action.ADD_GOAL, "Doel toegevoegd",
                   lambda group, actor: group.add_goal(text, term, today, ...))

`act` checks the right on the group as loaded (so a refusal costs no write and no claim) and again on
the group the save applies the change to (after a conflict that group is a fresh read: whoever is
regieondersteuner *now* counts). Refusals raise `NotAllowed` (403 in the pages); domain rules raise
`DomainError`; nothing is written in either case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fhir_mappings.errors import DomainError
from fhir_mappings.model import ResourceGroup
from fhir_mappings.rights import Action, Actor, actor_in, require
from plugin.services.submissions import Recorded
from plugin.services.uow import Activity, Done, SaveState, UnitOfWork

T = TypeVar("T")

Owner = Callable[[ResourceGroup], "str | None"]


class NoGroup(DomainError):
    """The patient has no resource group (yet) to change."""

    def __init__(self) -> None:
        super().__init__("Er is nog geen resourcegroep. Start eerst een groep.", "no group to change")


def current_actor(uow: UnitOfWork) -> Actor:
    """The acting user and their role in the group as loaded."""
    return actor_in(uow.group(), uow.who())


def act(
    uow: UnitOfWork,
    key: str,
    action: Action,
    activity: str | Activity,
    change: Callable[[ResourceGroup, Actor], T],
    *,
    owner: Owner | None = None,
) -> Done[T]:
    """Run one user action (see the module docstring). `owner` names whose thing it is, for own-thing rights."""
    if (earlier := repeated(uow, key)) is not None:
        # Checked before the rights: the first save may have changed them (a hand-over, a take-over).
        return earlier
    uow.note_action(action)
    group = uow.group()
    if group is None:
        raise NoGroup()
    who = uow.who()
    require(actor_in(group, who), action, owner=owner(group) if owner else None)
    what = activity if isinstance(activity, Activity) else Activity(activity)

    def apply(fresh: ResourceGroup) -> T:
        actor = actor_in(fresh, who)
        require(actor, action, owner=owner(fresh) if owner else None)
        return change(fresh, actor)

    return once(uow, key, lambda: uow.commit(apply, what, key))


def _owner(uow: UnitOfWork) -> str:
    return f"{uow.user} {uow.patient}"


def _repeat(earlier: Recorded) -> Done[Any]:
    """What a repeated submission answers: nothing new, and the uid the first save made."""
    return Done(None, SaveState.REPEATED, earlier.uid)


def repeated(uow: UnitOfWork, key: str) -> Done[Any] | None:
    """The result of this submission when it was saved before (double click, Back and submit again), else None."""
    earlier = uow.submissions.done(_owner(uow), key) if key else None
    return _repeat(earlier) if earlier is not None else None


def once(uow: UnitOfWork, key: str, save: Callable[[], Done[T]]) -> Done[T]:
    """Save at most once per submission key: a repeat gets the first result (value None, state REPEATED)."""
    if not key:
        raise DomainError(
            "Dit formulier is niet compleet verstuurd. Laad de pagina opnieuw en probeer het nog eens.",
            "form without a submission key",
        )
    owner = _owner(uow)
    earlier = uow.submissions.claim(owner, key)
    if earlier is not None:
        return _repeat(earlier)
    try:
        done = save()
    except BaseException:
        uow.submissions.release(owner, key)
        raise
    uow.submissions.finish(owner, key, Recorded(done.state.value, done.uid))
    return done
