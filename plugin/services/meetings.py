"""Services of the meetings and notes areas: plan, roles, invitation, answers, status, agenda and report.

Care professionals plan a meeting, agree the roles, send the invitation, write down anyone's answer, mark
what happened, set the agenda and write the report. The patient and the members answer *their own*
invitation (`Action.RESPOND_TO_INVITATION`, checked against whose answer it is); the patient also proposes
items for the agenda of a meeting still being prepared (see `fhir_mappings.rights`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from fhir_mappings.codes import AgreementStatus, MeetingRole, MeetingStatus, MeetingTheme, ParticipationStatus, Section
from fhir_mappings.errors import DomainError
from fhir_mappings.model import (
    CLINIC_ZONE,
    MARKED_BY_HAND,
    Agenda,
    AgendaItem,
    Invitation,
    Meeting,
    Report,
    ResourceGroup,
    dutch_date,
)
from fhir_mappings.rights import Action, Actor, require
from plugin.meetings.ics import cancellation_calendar, meeting_calendar, update_calendar
from plugin.meetings.invitation import cancellation_text, update_text
from plugin.services.core import act
from plugin.services.uow import Done, UnitOfWork

# ------------------------------------------------------------------------------------------ planning


@dataclass(frozen=True)
class NewPlace:
    """A place to meet that the group did not use before (an earlier place with the same name is reused)."""

    name: str
    address: str = ""


def plan_meeting(
    uow: UnitOfWork,
    key: str,
    *,
    start: datetime,
    end: datetime | None = None,
    place_uid: str | None = None,
    new_place: NewPlace | None = None,
    theme: MeetingTheme | None = None,
    theme_text: str = "",
    now: datetime | None = None,
) -> Done[Meeting]:
    """Plan a meeting at an earlier place (`place_uid`), a new one (`new_place`), or with the place left open;
    `now` (default: the clock) is kept as when it was planned."""
    planned_at = now if now is not None else datetime.now(UTC)
    if place_uid is not None and new_place is not None:
        raise DomainError("Kies een bekende plek of een nieuwe plek, niet allebei.", "both a place and a new place")

    def plan(group: ResourceGroup, _: Actor) -> Meeting:
        where = group.add_place(new_place.name, new_place.address).uid if new_place is not None else place_uid
        return group.plan_meeting(start, end, where, theme, theme_text, now=planned_at)

    activity = "Bijeenkomst gepland met een nieuwe plek" if new_place is not None else "Bijeenkomst gepland"
    return act(uow, key, Action.PLAN_MEETING, activity, plan)


def assign_roles(uow: UnitOfWork, key: str, *, meeting_uid: str, holders: Mapping[MeetingRole, str]) -> Done[None]:
    """Agree who chairs, who takes the minutes and who keeps the time (a role not named stays as it is)."""

    def assign(group: ResourceGroup, _: Actor) -> None:
        for role, who in holders.items():
            group.assign_role(meeting_uid, who, role)

    return act(uow, key, Action.ASSIGN_MEETING_ROLES, "Rollen voor de bijeenkomst afgesproken", assign)


def send_invitation(uow: UnitOfWork, key: str, *, meeting_uid: str, message: str, sent: datetime) -> Done[Invitation]:
    """Send every member the invitation with the meeting for their calendar; a proposed meeting becomes booked."""

    def send(group: ResourceGroup, _: Actor) -> Invitation:
        meeting = group.meeting(meeting_uid)
        # The calendar shows the meeting as booked: sending the invitation books it.
        calendar = meeting_calendar(
            group, meeting, stamp=sent, description=message, status=MeetingStatus.BOOKED, sequence=meeting.next_sequence
        )
        return group.add_invitation(meeting_uid, message, sent=sent, calendar=calendar)

    return act(uow, key, Action.SEND_INVITATION, "Uitnodiging voor de bijeenkomst verstuurd", send)


# ------------------------------------------------------------------------------------------ answers


def _current_answer(meeting: Meeting, who: str) -> ParticipationStatus:
    return next((p.response for p in meeting.participants if p.who == who), ParticipationStatus.NEEDS_ACTION)


def record_responses(
    uow: UnitOfWork, key: str, *, meeting_uid: str, answers: Mapping[str, ParticipationStatus]
) -> Done[None]:
    """A care professional writes down who comes, who cannot and who may come (only changed answers are saved)."""

    def record(group: ResourceGroup, _: Actor) -> None:
        meeting = group.meeting(meeting_uid)
        for who, answer in answers.items():
            if answer is not _current_answer(meeting, who):
                group.record_response(meeting_uid, who, answer)

    return act(uow, key, Action.RECORD_ANY_RESPONSE, "Reacties op de uitnodiging genoteerd", record)


def respond_to_invitation(
    uow: UnitOfWork, key: str, *, meeting_uid: str, answer: ParticipationStatus, who: str | None = None
) -> Done[None]:
    """The patient or a member answers their own invitation (`who` defaults to the acting person)."""
    answering = who if who is not None else uow.who()
    return act(
        uow,
        key,
        Action.RESPOND_TO_INVITATION,
        "Gereageerd op de uitnodiging",
        lambda g, _: g.answer_invitation(meeting_uid, answering, answer),
        owner=lambda _: answering,
    )


# ------------------------------------------------------------------------------------------ status

_STATUS_ACTIVITY = {
    MeetingStatus.FULFILLED: "Bijeenkomst gehouden",
    MeetingStatus.CANCELLED: "Bijeenkomst afgezegd",
    MeetingStatus.NOSHOW: "Bijeenkomst niet doorgegaan",
}


def cancel_with_notice(group: ResourceGroup, meeting_uid: str, sent: datetime) -> Invitation | None:
    """Cancel a planned meeting; the invitees of an invited meeting get a notice with a METHOD:CANCEL calendar."""
    meeting = group.meeting(meeting_uid)
    if not meeting.invited:
        return group.cancel_meeting(meeting_uid, sent)
    text = cancellation_text(group, meeting)
    calendar = cancellation_calendar(group, meeting, stamp=sent, description=text)
    return group.cancel_meeting(meeting_uid, sent, text, calendar)


def set_meeting_status(
    uow: UnitOfWork, key: str, *, meeting_uid: str, status: MeetingStatus, now: datetime | None = None
) -> Done[None]:
    """Mark the meeting held, cancelled or as not having taken place (booking follows from the invitation).

    Cancelling an invited meeting tells the invitees (a cancellation Communication with a calendar file). Held and
    not taken place only from the meeting's day on: `now` (default: the clock) gives the clinic's date.
    """
    if status not in MARKED_BY_HAND:
        raise DomainError("Kies wat er met de bijeenkomst is gebeurd.", f"status {status} is not set by hand")
    sent = now if now is not None else datetime.now(UTC)
    today = sent.astimezone(CLINIC_ZONE).date()

    def mark(group: ResourceGroup, _: Actor) -> None:
        if status is MeetingStatus.CANCELLED and group.meeting(meeting_uid).is_planned:
            cancel_with_notice(group, meeting_uid, sent)
        else:
            group.set_meeting_status(meeting_uid, status, today)

    return act(uow, key, Action.SET_MEETING_STATUS, _STATUS_ACTIVITY[status], mark)


@dataclass(frozen=True)
class Rescheduled:
    """What moving a meeting did: whether the answers were reset, and the updated invitation, if sent."""

    answers_reset: bool
    update: Invitation | None


def reschedule_meeting(
    uow: UnitOfWork,
    key: str,
    *,
    meeting_uid: str,
    start: datetime,
    end: datetime | None = None,
    place_uid: str | None = None,
    new_place: NewPlace | None = None,
    theme: MeetingTheme | None = None,
    theme_text: str = "",
    now: datetime | None = None,
) -> Done[Rescheduled]:
    """Move a planned meeting (date, time, place, theme), keeping its agenda, roles and participants.

    Answers go back to "not yet answered" when the day or time changes; invitees of an invited meeting get an
    updated invitation with a METHOD:REQUEST calendar (same UID, SEQUENCE one higher).
    """
    if place_uid is not None and new_place is not None:
        raise DomainError("Kies een bekende plek of een nieuwe plek, niet allebei.", "both a place and a new place")
    sent = now if now is not None else datetime.now(UTC)

    def move(group: ResourceGroup, _: Actor) -> Rescheduled:
        where = group.add_place(new_place.name, new_place.address).uid if new_place is not None else place_uid
        reset = group.reschedule_meeting(meeting_uid, start, end, where, theme, theme_text)
        meeting = group.meeting(meeting_uid)
        if not meeting.invited:
            return Rescheduled(reset, None)
        text = update_text(group, meeting, reset)
        calendar = update_calendar(group, meeting, stamp=sent, description=text)
        return Rescheduled(reset, group.add_calendar_update(meeting_uid, text, sent, calendar))

    return act(uow, key, Action.RESCHEDULE_MEETING, "Bijeenkomst verplaatst", move)


# ------------------------------------------------------------------------------------------ agenda


def _with_words(group: ResourceGroup, item: AgendaItem) -> AgendaItem:
    """A goal or agreement line carries the words it has now, for readers of the record (the reference's display)."""
    if item.goal_uid is not None:
        return AgendaItem(group.goal(item.goal_uid).text, goal_uid=item.goal_uid)
    if item.agreement_uid is not None:
        return AgendaItem(group.agreement(item.agreement_uid).description, agreement_uid=item.agreement_uid)
    return item


def set_agenda(
    uow: UnitOfWork, key: str, *, meeting_uid: str, items: Sequence[AgendaItem], ready: bool
) -> Done[Agenda]:
    """The agenda in order: goals and agreements to talk about, and items in own words; `ready` when agreed."""
    return act(
        uow,
        key,
        Action.SET_AGENDA,
        "Agenda van de bijeenkomst klaargezet" if ready else "Agenda van de bijeenkomst gewijzigd",
        lambda g, _: g.set_agenda(meeting_uid, [_with_words(g, i) for i in items], ready=ready),
    )


def propose_agenda_item(uow: UnitOfWork, key: str, *, meeting_uid: str, text: str) -> Done[Agenda]:
    """The patient adds an item in their own words to the agenda of a meeting still being prepared."""
    return act(
        uow,
        key,
        Action.PROPOSE_AGENDA_ITEM,
        "Agendapunt voorgesteld",
        lambda g, actor: g.propose_agenda_item(meeting_uid, text, by=actor.who),
    )


# ------------------------------------------------------------------------------------------ report


@dataclass(frozen=True)
class GoalAtMeeting:
    """One goal in a report: talked about or not, and the score (0-10) it got, with a short note."""

    goal_uid: str
    score: int | None = None
    note: str = ""
    discussed: bool = False


@dataclass(frozen=True)
class NewAgreement:
    """An agreement made at the meeting."""

    description: str
    owner: str | None = None
    goal_uid: str | None = None
    due: date | None = None


def build_report(
    group: ResourceGroup,
    meeting_uid: str,
    *,
    sections: Mapping[Section, str],
    attended: Sequence[str],
    goals: Sequence[GoalAtMeeting],
    new_agreements: Sequence[NewAgreement],
    written: datetime,
    today: date,
) -> Report:
    """The whole report as one change: new agreements, scores, then the report itself (which marks it held)."""
    # A refusal anywhere (by the domain, too) leaves the group as it was: the change is applied to a copy.
    meeting = group.meeting(meeting_uid)
    scored = {p.goal_uid for p in group.scores_at(meeting_uid)}
    if any(line.score is None and line.goal_uid in scored for line in goals):
        raise DomainError(
            "Een opgeslagen cijfer kan niet weg. Geef een ander cijfer als het niet klopt.",
            "a score saved for this meeting was emptied",
        )
    made = [
        group.add_agreement(a.description, today, owner=a.owner, goal_uid=a.goal_uid, due=a.due).uid
        for a in new_agreements
    ]
    discussed: list[str] = []
    for line in goals:
        if line.score is not None:
            # One score per goal per meeting: a second one corrects the first.
            group.score_progress(line.goal_uid, line.score, meeting.start, meeting_uid, line.note)
        if (line.score is not None or line.discussed) and line.goal_uid not in discussed:
            discussed.append(line.goal_uid)
    earlier = meeting.report.new_agreements if meeting.report is not None else []
    return group.write_report(
        meeting_uid,
        sections=dict(sections),
        attended=list(attended),
        goals_discussed=discussed,
        new_agreements=[*earlier, *made],
        written=written,
    )


# How an agreement closed from a report is noted on it (the record is Dutch).
_CLOSED_NOTE = {
    AgreementStatus.COMPLETED: "Klaar gemeld in het verslag van de bijeenkomst van {date}.",
    AgreementStatus.CANCELLED: "Gaat niet door, volgens het verslag van de bijeenkomst van {date}.",
}


def write_report(
    uow: UnitOfWork,
    key: str,
    *,
    meeting_uid: str,
    sections: Mapping[Section, str],
    attended: Sequence[str],
    goals: Sequence[GoalAtMeeting],
    new_agreements: Sequence[NewAgreement],
    written: datetime,
    today: date,
    closing: Mapping[str, AgreementStatus] | None = None,
) -> Done[Report]:
    """Write (or change) the report of a meeting with its scores and new agreements, and close the open
    agreements in `closing` (agreement uid -> completed or cancelled), each with a note dated `written` and
    signed by the acting user; all as one save. A refusal anywhere leaves everything as it was.

    A score already saved for this meeting can be changed but not emptied (nothing is ever deleted). Closing
    agreements also needs `Action.EDIT_AGREEMENT`, checked inside the save; the domain says which agreements
    can be closed (`ResourceGroup.close_agreement_at`: open ones made before the meeting).
    """
    loaded = uow.group()
    editing = loaded is not None and any(m.uid == meeting_uid and m.report is not None for m in loaded.meetings)
    activity = "Verslag van de bijeenkomst gewijzigd" if editing else "Verslag van de bijeenkomst geschreven"
    if closing:
        activity += "; afspraken afgesloten"

    def change(group: ResourceGroup, actor: Actor) -> Report:
        if closing:
            require(actor, Action.EDIT_AGREEMENT)
            day = dutch_date(group.meeting(meeting_uid).day)  # "18 november 2026", as the pages write it
            for uid, status in closing.items():
                note = _CLOSED_NOTE.get(status, "").format(date=day)
                group.close_agreement_at(meeting_uid, uid, status, note, written, actor.who)
        return build_report(
            group,
            meeting_uid,
            sections=sections,
            attended=attended,
            goals=goals,
            new_agreements=new_agreements,
            written=written,
            today=today,
        )

    return act(uow, key, Action.WRITE_REPORT, activity, change)
