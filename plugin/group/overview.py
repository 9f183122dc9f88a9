"""What the context view shows beyond the group itself: what needs attention, the agreements it lists, and the
timeline (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from flask_babel import gettext

from fhir_mappings.codes import GroupStatus, MeetingStatus, NominationState
from fhir_mappings.model import MEETING_INTERVAL_MONTHS, Agreement, ResourceGroup, add_months
from fhir_mappings.rights import Action, Actor
from plugin.web.forms import AMSTERDAM


@dataclass(frozen=True)
class Attention:
    """One thing that needs attention, with where to act on it (an endpoint name and its arguments)."""

    kind: str  # interview | meeting | agreement
    text: str
    endpoint: str | None = None


def attention(group: ResourceGroup, now: datetime) -> list[Attention]:
    """Nominees without an interview, no meeting planned within 3 months of the last, overdue agreements."""
    if group.status is GroupStatus.ENDED:
        return []
    items: list[Attention] = []
    for member in group.members:
        if not member.active:
            continue
        interview = group.interview_for(member.uid)
        if member.nomination is NominationState.GENOMINEERD:
            items.append(
                Attention(
                    "interview",
                    gettext("%(name)s is nominated: plan the introductory interview.", name=member.display),
                    "members.index",
                )
            )
        elif (
            member.nomination is NominationState.GESPREK_GEPLAND
            and interview
            and interview.planned_start
            and (interview.planned_start < now)
        ):
            items.append(
                Attention(
                    "interview",
                    gettext("The interview with %(name)s was planned: write down how it went.", name=member.display),
                    "members.index",
                )
            )
        elif member.nomination is NominationState.GESPREK_GEVOERD:
            items.append(
                Attention(
                    "interview",
                    gettext("%(name)s has had the interview: decide whether they join.", name=member.display),
                    "members.index",
                )
            )
    last = group.last_held_meeting()
    upcoming = group.next_meeting(now)
    if last is not None:
        due = add_months(last.start, MEETING_INTERVAL_MONTHS)
        if upcoming is None or upcoming.start > due:
            items.append(
                Attention(
                    "meeting",
                    gettext(
                        "No meeting is planned within three months of the last one (%(date)s).", date=_short(last.start)
                    ),
                    "meetings.index",
                )
            )
    elif upcoming is None and any(m.is_member for m in group.members if m.who != group.patient):
        items.append(Attention("meeting", gettext("No meeting is planned yet."), "meetings.index"))
    for agreement in group.overdue_agreements(now.date()):
        items.append(
            Attention(
                "agreement",
                gettext("Agreement past its date: %(text)s", text=_clip(agreement.description)),
                "agreements.index",
            )
        )
    return items


def attention_for(group: ResourceGroup, actor: Actor, now: datetime) -> list[Attention] | None:
    """What needs attention, for care professionals only (None: the actor's pages have no such list)."""
    return attention(group, now) if actor.is_professional else None


def listed_agreements(group: ResourceGroup, actor: Actor) -> list[Agreement]:
    """The open agreements the overview lists: all of them for who may see all, else only the actor's own."""
    everyone = actor.may(Action.VIEW_ALL_AGREEMENTS)
    return [a for a in group.agreements if a.is_open and (everyone or a.owner == actor.who)]


def name_of(group: ResourceGroup, who: str | None) -> str:
    """How the group names a person (`who` as the group refers to them); empty when it does not know them."""
    if not who:
        return ""
    member = next((m for m in group.members if m.who == who), None)
    if member is not None:
        return member.display
    supporter = group.supporter(who)
    return supporter.name if supporter is not None else ""


def _short(moment: datetime) -> str:
    return moment.astimezone(AMSTERDAM).strftime("%d-%m-%Y")


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Event:
    """One line of the timeline."""

    when: datetime
    text: str
    kind: str
    all_day: bool = True


def _at(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=AMSTERDAM)


def timeline(group: ResourceGroup) -> list[Event]:
    """What happened when, newest first. Nothing is ever deleted, so nothing disappears from here."""
    events: list[Event] = []
    if group.start:
        events.append(Event(_at(group.start), gettext("The group %(name)s started.", name=group.name), "group"))
    for m in group.members:
        if m.start:
            events.append(Event(_at(m.start), gettext("%(name)s was added to the group.", name=m.display), "member"))
        if m.end:
            events.append(Event(_at(m.end), gettext("%(name)s left the group.", name=m.display), "member"))
        if m.nomination in (NominationState.AFGEZIEN, NominationState.TERUGGETROKKEN):
            text = (
                gettext("%(name)s decided not to join.", name=m.display)
                if m.nomination is NominationState.AFGEZIEN
                else gettext("The nomination of %(name)s was withdrawn.", name=m.display)
            )
            events.append(Event(_at(m.end or m.start or group.start or date.today()), text, "member"))
    for iv in group.interviews:
        name = next((m.display for m in group.members if m.uid == iv.member_uid), "")
        if iv.held_at:
            events.append(
                Event(
                    iv.held_at,
                    gettext("Introductory interview with %(name)s held.", name=name),
                    "interview",
                    all_day=False,
                )
            )
        elif iv.planned_start:
            events.append(
                Event(
                    iv.planned_start,
                    gettext("Introductory interview with %(name)s planned.", name=name),
                    "interview",
                    all_day=False,
                )
            )
    for goal in group.goals:
        if goal.start:
            events.append(Event(_at(goal.start), gettext("Goal set: %(text)s", text=_clip(goal.text)), "goal"))
    status_text = {
        MeetingStatus.FULFILLED: gettext("Meeting held."),
        MeetingStatus.CANCELLED: gettext("Meeting cancelled."),
        MeetingStatus.NOSHOW: gettext("Meeting did not take place (no-show)."),
        MeetingStatus.BOOKED: gettext("Meeting planned and invitations sent."),
        MeetingStatus.PROPOSED: gettext("Meeting planned."),
    }
    for meeting in group.meetings:
        events.append(Event(meeting.start, status_text[meeting.status], "meeting", all_day=False))
        if meeting.report and meeting.report.written:
            events.append(
                Event(meeting.report.written, gettext("Report of the meeting written."), "report", all_day=False)
            )
    if group.after_treatment_since:
        events.append(Event(_at(group.after_treatment_since), gettext("The group continues after treatment."), "group"))
    if group.end:
        events.append(Event(_at(group.end), gettext("The group ended."), "group"))
    return sorted(events, key=lambda e: e.when, reverse=True)
