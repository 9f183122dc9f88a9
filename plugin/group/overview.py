"""What the context view shows beyond the group itself: what needs attention, the agreements it lists, and the
timeline (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from flask_babel import gettext

from fhir_mappings.codes import (
    AgendaStatus,
    GoalLifecycle,
    GroupStatus,
    MeetingStatus,
    NominationState,
    ParticipationStatus,
    WishKind,
)
from fhir_mappings.model import (
    MEETING_INTERVAL_MONTHS,
    AgendaItem,
    Agreement,
    Goal,
    Meeting,
    Member,
    ProgressScore,
    ResourceGroup,
    Wish,
    add_months,
)
from fhir_mappings.rights import Action, Actor
from plugin.web.forms import AMSTERDAM


@dataclass(frozen=True)
class Attention:
    """One thing that needs attention, with where to act on it (an endpoint name and its arguments)."""

    kind: str  # interview | meeting | agreement | wish | agenda | score | answer
    text: str
    endpoint: str | None = None
    args: tuple[tuple[str, str], ...] = ()  # the endpoint's arguments, e.g. (("meeting_uid", "..."),)


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


# Goals the patient works on now: the ones to score and to show on the home page.
WORKING_GOALS = frozenset({GoalLifecycle.PROPOSED, GoalLifecycle.ACCEPTED, GoalLifecycle.ACTIVE})


def scored_since(group: ResourceGroup, goal: Goal, last: Meeting | None) -> bool:
    """Whether the goal has a score given after the last meeting began, other than at that meeting (any score
    at all when no meeting was held yet)."""
    return any(
        last is None or (p.when > last.start and p.meeting_uid != last.uid) for p in group.progress_for(goal.uid)
    )


def waiting_for_patient(group: ResourceGroup, now: datetime) -> list[Attention]:
    """What waits for the patient (regisseur) before the next meeting, addressed to them: answer the
    invitation, give wishes, look at the agenda, score each goal they work on, and their own late agreements."""
    if group.status is GroupStatus.ENDED:
        return []
    items: list[Attention] = []
    upcoming = group.next_meeting(now)
    if upcoming is not None:
        at = (("meeting_uid", upcoming.uid),)
        when = _short(upcoming.start)
        mine = next((p for p in upcoming.participants if p.who == group.patient), None)
        if upcoming.invited and mine is not None and mine.response is ParticipationStatus.NEEDS_ACTION:
            items.append(
                Attention(
                    "answer",
                    gettext("Let us know if you will come to the meeting of %(date)s.", date=when),
                    "meetings.detail",
                    at,
                )
            )
        if not any(w.is_open and w.kind is WishKind.MEETING and w.meeting_uid == upcoming.uid for w in group.wishes):
            items.append(
                Attention(
                    "wish",
                    gettext(
                        "Say what you wish for the meeting of %(date)s: the place, who chairs, a theme.", date=when
                    ),
                    "group.meeting_wish",
                )
            )
        if upcoming.agenda is not None and upcoming.agenda.status is AgendaStatus.COMPLETED:
            text = gettext("The agenda for %(date)s is ready. Read it before the meeting.", date=when)
        else:
            text = gettext("Look at the agenda for %(date)s and add what you want to talk about.", date=when)
        items.append(Attention("agenda", text, "notes.agenda", at))
        last = group.last_held_meeting()
        for goal in group.goals:
            if goal.lifecycle in WORKING_GOALS and not scored_since(group, goal, last):
                items.append(
                    Attention(
                        "score",
                        gettext("Give a score for your goal: %(goal)s", goal=_clip(goal.text)),
                        "goals.goal",
                        (("goal_uid", goal.uid),),
                    )
                )
    for agreement in group.overdue_agreements(now.date()):
        if agreement.owner == group.patient:
            items.append(
                Attention(
                    "agreement",
                    gettext("Your agreement is past its date: %(text)s", text=_clip(agreement.description)),
                    "agreements.index",
                )
            )
    return items


@dataclass(frozen=True)
class PatientInput:
    """What the patient put forward that a care professional has not taken up yet (the context view shows it
    as theirs): open wishes and requests, proposed goals, people they nominated, agenda items for the next
    meeting and the scores they gave since the last meeting."""

    wishes: list[Wish]
    goals: list[Goal]
    nominations: list[Member]
    agenda_items: list[AgendaItem]
    scores: list[ProgressScore]
    meeting_uid: str | None  # the meeting the agenda items are for

    def __bool__(self) -> bool:
        return bool(self.wishes or self.goals or self.nominations or self.agenda_items or self.scores)


def patient_input(group: ResourceGroup, now: datetime) -> PatientInput:
    """The patient's open input (see `PatientInput`)."""
    upcoming = group.next_meeting(now)
    last = group.last_held_meeting()
    agenda = upcoming.agenda if upcoming is not None else None
    return PatientInput(
        wishes=[w for w in group.wishes if w.is_open],
        goals=[g for g in group.goals if g.lifecycle is GoalLifecycle.PROPOSED],
        nominations=[
            m
            for m in group.members
            if m.active and m.proposed_by == group.patient and m.nomination is NominationState.GENOMINEERD
        ],
        agenda_items=[i for i in agenda.items if i.proposed_by == group.patient] if agenda is not None else [],
        scores=[
            p
            for p in group.progress
            if p.by == group.patient and (last is None or (p.when > last.start and p.meeting_uid != last.uid))
        ],
        meeting_uid=upcoming.uid if upcoming is not None else None,
    )


def first_name(display: str) -> str:
    """How the app calls someone in a short label ("Voorstel van Sanne"): the first word of the name."""
    words = display.split()
    return words[0] if words else display


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
    asked = {
        WishKind.MEETING: gettext("Wishes given for the next meeting."),
        WishKind.PAUSE: gettext("A pause of the group was asked for."),
        WishKind.END: gettext("An end of the group was asked for."),
    }
    for wish in group.wishes:
        events.append(Event(wish.sent, asked[wish.kind], "wish", all_day=False))
    if group.after_treatment_since:
        events.append(Event(_at(group.after_treatment_since), gettext("The group continues after treatment."), "group"))
    if group.end:
        events.append(Event(_at(group.end), gettext("The group ended."), "group"))
    return sorted(events, key=lambda e: e.when, reverse=True)
