"""Services of the goals area: add and change a goal, add a note, score progress.

The patient (regisseur) directs their own goals, so they may do all of these, as may the care
professionals; members and nominees may not (see `fhir_mappings.rights`).
"""

from __future__ import annotations

from datetime import date, datetime

from fhir_mappings.codes import GoalLifecycle, GoalTerm, LifeArea
from fhir_mappings.model import Goal, Note, ProgressScore, ResourceGroup
from fhir_mappings.rights import Action, Actor, Role
from plugin.services.core import act
from plugin.services.uow import Done, UnitOfWork


def add_goal(
    uow: UnitOfWork,
    key: str,
    *,
    text: str,
    term: GoalTerm,
    today: date,
    life_area: LifeArea | None = None,
    due: date | None = None,
    parent_uid: str | None = None,
) -> Done[Goal]:
    """A new goal in the patient's words; a short-term goal may be a step towards a long-term one.

    A goal the patient adds themselves is their proposal (`proposed`) until a care professional takes it up.
    """
    return act(
        uow,
        key,
        Action.ADD_GOAL,
        "Doel toegevoegd",
        lambda g, actor: g.add_goal(
            text,
            term,
            today,
            life_area=life_area,
            due=due,
            parent_uid=parent_uid,
            proposed=actor.role is Role.REGISSEUR,
        ),
    )


def take_up_goal(uow: UnitOfWork, key: str, *, uid: str) -> Done[Goal]:
    """A care professional takes up a goal the patient proposed: it becomes an active goal of the group."""
    return act(uow, key, Action.TAKE_UP_INPUT, "Doel van de patiënt overgenomen", lambda g, _: g.take_up_goal(uid))


def edit_goal(
    uow: UnitOfWork,
    key: str,
    *,
    uid: str,
    text: str,
    term: GoalTerm,
    life_area: LifeArea | None,
    due: date | None,
    parent_uid: str | None,
    status: GoalLifecycle | None = None,
    today: date | None = None,
) -> Done[Goal]:
    """Change a goal as its form shows it; `status` (when given) is the status the user picked, `today` the day
    kept as its status date when the status changes."""

    def change(group: ResourceGroup, _: Actor) -> Goal:
        goal = group.edit_goal(uid, text=text, term=term, life_area=life_area, due=due, parent_uid=parent_uid)
        if status is not None:
            group.set_goal_status(uid, status, today)
        return goal

    return act(uow, key, Action.EDIT_GOAL, "Doel gewijzigd", change)


def add_goal_note(uow: UnitOfWork, key: str, *, uid: str, text: str, now: datetime) -> Done[Note]:
    """A dated note on a goal; the acting user (as the launch names them) is its author."""
    return act(
        uow,
        key,
        Action.ADD_GOAL_NOTE,
        "Notitie bij doel toegevoegd",
        lambda g, _: g.add_goal_note(uid, text, now, uow.user),
    )


def score_progress(
    uow: UnitOfWork,
    key: str,
    *,
    uid: str,
    score: int,
    now: datetime,
    meeting_uid: str | None = None,
    note: str = "",
) -> Done[ProgressScore]:
    """A 0-10 progress score by the acting user; for a meeting it counts at that meeting's time, else at `now`.

    The patient's own score before a meeting (no `meeting_uid`) counts at `now`, and names them as performer.
    """

    def change(group: ResourceGroup, actor: Actor) -> ProgressScore:
        when = group.meeting(meeting_uid).start if meeting_uid is not None else now
        return group.score_progress(uid, score, when, meeting_uid, note, by=actor.who)

    return act(uow, key, Action.SCORE_PROGRESS, "Voortgangscijfer voor doel vastgelegd", change)
