"""Services of the patient's wishes: what the patient (regisseur) asks of the group, and how a care
professional takes it up.

The patient gives wishes for the next meeting (place, chair, theme, in own words) and may ask to pause or
end the group. A care professional then takes a wish up in one step (applied to the meeting, or the group is
paused or ended, with notices to the invitees of what that cancels) or sets it aside.
"""

from __future__ import annotations

from datetime import date, datetime

from fhir_mappings.codes import GroupStatus, MeetingTheme, WishKind
from fhir_mappings.model import ResourceGroup, Wish
from fhir_mappings.rights import Action, Actor
from plugin.services.core import act
from plugin.services.group import move_to
from plugin.services.uow import Done, UnitOfWork


def give_meeting_wish(
    uow: UnitOfWork,
    key: str,
    *,
    now: datetime,
    place: str = "",
    chair: str | None = None,
    theme: MeetingTheme | None = None,
    text: str = "",
) -> Done[Wish]:
    """The patient's wishes for the next meeting; at least one of place, chair, theme or own words."""
    return act(
        uow,
        key,
        Action.GIVE_MEETING_WISH,
        "Wens voor de volgende bijeenkomst gegeven",
        lambda g, actor: g.give_meeting_wish(actor.who, now, place=place, chair=chair, theme=theme, text=text),
    )


def ask_pause_or_end(uow: UnitOfWork, key: str, *, kind: WishKind, text: str, now: datetime) -> Done[Wish]:
    """The patient asks to pause or to end the group, and says why."""
    activity = "Pauze van de groep gevraagd" if kind is WishKind.PAUSE else "Einde van de groep gevraagd"
    return act(
        uow, key, Action.ASK_PAUSE_OR_END, activity, lambda g, actor: g.ask_pause_or_end(kind, actor.who, now, text)
    )


def take_up_wish(
    uow: UnitOfWork, key: str, *, uid: str, today: date, now: datetime, meeting_uid: str | None = None
) -> Done[Wish]:
    """A care professional takes up an open wish in one step.

    A meeting wish: its place, chair and theme are set on the meeting (`meeting_uid`, default the one it was
    given for). A request to pause or end: the group is paused or ended, and the planned meetings are
    cancelled with a notice to their invitees, as when the care professional pauses or ends it themselves.
    """

    def change(group: ResourceGroup, actor: Actor) -> Wish:
        wish = group.take_up_wish(uid, meeting_uid)
        if wish.kind is WishKind.MEETING:
            return wish
        new = GroupStatus.ON_HOLD if wish.kind is WishKind.PAUSE else GroupStatus.ENDED
        move_to(group, new, today, now, by=actor.who)
        return wish

    return act(uow, key, Action.TAKE_UP_INPUT, "Wens van de patiënt overgenomen", change)


def set_aside_wish(uow: UnitOfWork, key: str, *, uid: str) -> Done[Wish]:
    """A care professional has read an open wish and does not take it up (it was talked through, for example)."""
    activity = "Wens van de patiënt gelezen, niet overgenomen"
    return act(uow, key, Action.TAKE_UP_INPUT, activity, lambda g, _: g.set_aside_wish(uid))
