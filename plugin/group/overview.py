"""What the context view shows beyond the group itself: what needs attention, the agreements it lists, and the
timeline (pure)."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext

from fhir_mappings.codes import (
    AgendaStatus,
    AgreementStatus,
    GoalLifecycle,
    GroupStatus,
    MeetingStatus,
    NominationState,
    ParticipationStatus,
    WishKind,
)
from fhir_mappings.model import (
    CLINIC_ZONE,
    MEETING_INTERVAL_MONTHS,
    NOMINEE_STATES,
    AgendaItem,
    Agreement,
    Goal,
    Meeting,
    Member,
    ProgressScore,
    ResourceGroup,
    Wish,
    add_months,
    day_start,
)
from fhir_mappings.rights import Action, Actor
from plugin.web.format import long_date


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
        if not group.nominee_waits(member, now):  # the domain's one rule, as the caseload's
            continue
        if member.nomination is NominationState.GENOMINEERD:
            items.append(
                Attention(
                    "interview",
                    gettext("%(name)s is nominated: plan the introductory interview.", name=member.display),
                    "members.index",
                )
            )
        elif member.nomination is NominationState.GESPREK_GEPLAND:
            items.append(
                Attention(
                    "interview",
                    gettext("The interview with %(name)s was planned: write down how it went.", name=member.display),
                    "members.index",
                )
            )
        else:
            items.append(
                Attention(
                    "interview",
                    gettext("%(name)s has had the interview: decide whether they join.", name=member.display),
                    "members.index",
                )
            )
    if group.may_plan:  # paused: nothing is planned until the group goes on
        items += _meeting_attention(group, now)
    for agreement in group.overdue_agreements(now.date()):
        items.append(
            Attention(
                "agreement",
                gettext("Agreement past its date: %(text)s", text=_clip(agreement.description)),
                "agreements.index",
            )
        )
    return items


def _meeting_attention(group: ResourceGroup, now: datetime) -> list[Attention]:
    """No meeting planned within three months of the last held one; or, before the first, none planned at all
    while the group has members."""
    last = group.last_held_meeting()
    upcoming = group.next_meeting(now)
    if last is not None:
        if upcoming is not None and upcoming.start <= add_months(last.start, MEETING_INTERVAL_MONTHS):
            return []
        text = gettext(
            "No meeting is planned within three months of the last one (%(date)s).", date=_day_in_text(last.start)
        )
        return [Attention("meeting", text, "meetings.index")]
    if upcoming is None and any(m.is_member for m in group.members if m.who != group.patient):
        return [Attention("meeting", gettext("No meeting is planned yet."), "meetings.index")]
    return []


def attention_for(group: ResourceGroup, actor: Actor, now: datetime) -> list[Attention] | None:
    """What needs attention, for care professionals only (None: the actor's pages have no such list)."""
    return attention(group, now) if actor.is_professional else None


# Goals the patient works on now: the ones to score and to show on the home page.
WORKING_GOALS = frozenset({GoalLifecycle.PROPOSED, GoalLifecycle.ACCEPTED, GoalLifecycle.ACTIVE})


def scores_by_goal(group: ResourceGroup) -> dict[str, list[ProgressScore]]:
    """Every goal's scores the group holds, oldest first, in one pass over the scores (`ResourceGroup.progress_for`
    of each goal walks all scores of the group once per goal). On a load of the newest scores only: those since
    `ResourceGroup.scores_since` (a page using this says so)."""
    found: dict[str, list[ProgressScore]] = {goal.uid: [] for goal in group.goals}
    for score in group.held_scores():
        found.setdefault(score.goal_uid, []).append(score)
    for scores in found.values():
        scores.sort(key=lambda p: p.when)
    return found


def scored_since(scores: list[ProgressScore], last: Meeting | None) -> bool:
    """Whether a goal's `scores` (`scores_by_goal`) hold one given after the last meeting began, other than at that
    meeting (any score at all when no meeting was held yet). On a load of the newest scores only, a score older than
    the scores held does not count: the patient is asked for a new one (the group has not met since)."""
    return any(last is None or (p.when > last.start and p.meeting_uid != last.uid) for p in scores)


def waiting_for_patient(group: ResourceGroup, now: datetime) -> list[Attention]:
    """What waits for the patient (regisseur) before the next meeting, addressed to them: answer the
    invitation, give wishes, look at the agenda, score each goal they work on, and their own late agreements."""
    if group.status is GroupStatus.ENDED:
        return []
    items: list[Attention] = []
    upcoming = group.next_meeting(now)
    if upcoming is not None:
        at = (("meeting_uid", upcoming.uid),)
        when = _day_in_text(upcoming.start)
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
        scores = scores_by_goal(group)
        for goal in group.goals:
            if goal.lifecycle in WORKING_GOALS and not scored_since(scores[goal.uid], last):
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
            for p in group.held_scores()  # on a load of the newest scores: those since the scores held
            if p.by == group.patient and (last is None or (p.when > last.start and p.meeting_uid != last.uid))
        ],
        meeting_uid=upcoming.uid if upcoming is not None else None,
    )


@dataclass(frozen=True)
class Glance:
    """The group at a glance (the strip at the top of the care professional's overview): members of the patient's
    network, core and flexible, with nominees counted apart (they are not members until they join); the next
    meeting and how many days until it; the open agreements the page lists and how many are past their date; the
    trend of the latest score against the score before it on the same goal."""

    core: int
    flexible: int
    nominees: int
    next_meeting: datetime | None
    days_to_meeting: int | None  # calendar days in Amsterdam: 0 today, 1 tomorrow
    open_agreements: int
    overdue_agreements: int
    last_score: int | None
    trend: str | None  # "up" | "down" | "flat"; None without two scores on the latest scored goal
    trend_goal: str | None  # the text of the goal the latest score is for


def glance(group: ResourceGroup, now: datetime, agreements: list[Agreement]) -> Glance:
    """The `Glance` of the group at `now`, over the open `agreements` the page shows (see `listed_agreements`)."""
    network = [m for m in group.members if m.active and m.who != group.patient]
    members = [m for m in network if m.is_member]
    upcoming = group.next_meeting(now)
    days = None
    if upcoming is not None:
        days = max(0, (upcoming.start.astimezone(CLINIC_ZONE).date() - now.astimezone(CLINIC_ZONE).date()).days)
    # On a load of the newest scores: no trend when the score before was not read.
    latest = max(group.held_scores(), key=lambda p: p.when, default=None)
    trend = goal_text = None
    if latest is not None:
        goal_text = next((g.text for g in group.goals if g.uid == latest.goal_uid), None)
        earlier = [p for p in group.held_scores_for(latest.goal_uid) if p.when < latest.when]
        if earlier:
            before = earlier[-1].score
            trend = "up" if latest.score > before else "down" if latest.score < before else "flat"
    today = now.astimezone(CLINIC_ZONE).date()
    return Glance(
        core=sum(1 for m in members if m.core),
        flexible=sum(1 for m in members if not m.core),
        nominees=sum(1 for m in network if m.nomination in NOMINEE_STATES),
        next_meeting=upcoming.start if upcoming is not None else None,
        days_to_meeting=days,
        open_agreements=sum(1 for a in agreements if a.is_open),
        overdue_agreements=sum(1 for a in agreements if a.is_overdue(today)),
        last_score=latest.score if latest is not None else None,
        trend=trend,
        trend_goal=goal_text,
    )


def first_name(display: str) -> str:
    """How the app calls someone in a short label ("Voorstel van Sanne"): the first word of the name."""
    words = display.split()
    return words[0] if words else display


def listed_agreements(group: ResourceGroup, actor: Actor) -> list[Agreement]:
    """The open agreements the overview lists: all of them for who may see all, else only the actor's own."""
    everyone = actor.may(Action.VIEW_ALL_AGREEMENTS)
    return [a for a in group.agreements if a.is_open and (everyone or a.owner == actor.who)]


# Open agreements the care professional's overview names at most (the soonest date first; the agreements page has
# them all): the overview stays a glance for a group with many open agreements.
OVERVIEW_AGREEMENTS = 10


def soonest_agreements(agreements: list[Agreement], most: int | None = None) -> list[Agreement]:
    """The first `most` (default `OVERVIEW_AGREEMENTS`) of `agreements` by their date, the soonest (so those past
    their date) first; those without a date last, in the group's order."""
    limit = OVERVIEW_AGREEMENTS if most is None else most
    return sorted(agreements, key=lambda a: (a.due is None, a.due or date.max))[:limit]


def name_of(group: ResourceGroup, who: str | None) -> str:
    """How the group names a person (`who` as the group refers to them); empty when it does not know them."""
    if not who:
        return ""
    member = next((m for m in group.members if m.who == who), None)
    if member is not None:
        return member.display
    supporter = group.supporter(who)
    return supporter.name if supporter is not None else ""


def _day_in_text(moment: datetime) -> str:
    """A meeting's day within a sentence, as the page writes dates: '18 februari 2027' / 'February 18, 2027'."""
    return long_date(moment)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Event:
    """One line of the timeline: when, what, its kind (see `TIMELINE_KINDS`) and who did it ("" when the record
    does not say)."""

    when: datetime
    text: str
    kind: str  # members | goals | agreements | meetings | group
    all_day: bool = True
    who: str = ""


# The timeline's filter: the value of `?soort=` and the kind of event it shows, in the order the form offers them.
TIMELINE_KINDS: dict[str, str] = {
    "leden": "members",
    "doelen": "goals",
    "afspraken": "agreements",
    "bijeenkomsten": "meetings",
    "groep": "group",
}


def _member_events(group: ResourceGroup) -> list[Event]:
    events: list[Event] = []
    interviewed = {iv.member_uid for iv in group.interviews}
    for m in group.members:
        nominated = m.uid in interviewed or m.nomination is not NominationState.LID
        if m.start:
            if nominated:
                text = gettext("%(name)s was nominated.", name=m.display)
                events.append(Event(day_start(m.start), text, "members", who=name_of(group, m.proposed_by)))
            else:
                events.append(
                    Event(day_start(m.start), gettext("%(name)s joined the group.", name=m.display), "members")
                )
        if m.joined and nominated:
            events.append(Event(day_start(m.joined), gettext("%(name)s joined the group.", name=m.display), "members"))
        if m.end:
            if m.nomination is NominationState.AFGEZIEN:
                text = gettext("%(name)s decided not to join.", name=m.display)
            elif m.nomination is NominationState.TERUGGETROKKEN:
                text = gettext("The nomination of %(name)s was withdrawn.", name=m.display)
            else:
                text = gettext("%(name)s left the group.", name=m.display)
            events.append(Event(day_start(m.end), text, "members"))
    for iv in group.interviews:
        name = next((m.display for m in group.members if m.uid == iv.member_uid), "")
        by = name_of(group, iv.interviewer)
        if iv.held_at:
            text = gettext("Introductory interview with %(name)s held.", name=name)
            events.append(Event(iv.held_at, text, "members", all_day=False, who=by))
        elif iv.planned_start and iv.cancelled:
            text = gettext("The introductory interview with %(name)s was called off.", name=name)
            events.append(Event(iv.planned_start, text, "members", all_day=False, who=by))
        # An interview still to come has not happened: its planning is shown when it was planned (`planned_at`; an
        # older record has none), not at its own (future) start.
        if iv.planned_at and iv.planned_start:
            text = gettext(
                "The introductory interview with %(name)s on %(date)s was planned.",
                name=name,
                date=_day_in_text(iv.planned_start),
            )
            events.append(Event(iv.planned_at, text, "members", all_day=False))
    return events


def _goal_and_agreement_events(group: ResourceGroup, every_read: bool = False) -> list[Event]:
    events: list[Event] = []
    for goal in group.goals:
        if goal.start:
            events.append(Event(day_start(goal.start), gettext("Goal set: %(text)s", text=_clip(goal.text)), "goals"))
        if goal.status_date and goal.lifecycle is GoalLifecycle.COMPLETED:
            text = gettext("Goal reached: %(text)s", text=_clip(goal.text))
            events.append(Event(day_start(goal.status_date), text, "goals"))
        elif goal.status_date and goal.lifecycle is GoalLifecycle.CANCELLED:
            text = gettext("Goal stopped: %(text)s", text=_clip(goal.text))
            events.append(Event(day_start(goal.status_date), text, "goals"))
    texts = {g.uid: g.text for g in group.goals}
    # On a load of the newest scores: those (`timeline_window_page`), or every score read (`timeline_cursor_page`).
    for p in group.scores_read() if every_read else group.held_scores():
        text = gettext(
            "Score %(score)s given for the goal: %(goal)s", score=p.score, goal=_clip(texts.get(p.goal_uid, ""))
        )
        events.append(Event(p.when, text, "goals", all_day=False, who=name_of(group, p.by)))
    for a in group.agreements:
        if a.created:
            text = gettext("Agreement made: %(text)s", text=_clip(a.description))
            events.append(Event(day_start(a.created), text, "agreements"))
        if a.status in (AgreementStatus.COMPLETED, AgreementStatus.CANCELLED) and a.notes:
            # The last note is the one of who closed it (the record keeps no other date for that).
            note = a.notes[-1]
            if a.status is AgreementStatus.COMPLETED:
                text = gettext("Agreement done: %(text)s", text=_clip(a.description))
            else:
                text = gettext("Agreement not going ahead: %(text)s", text=_clip(a.description))
            events.append(Event(note.time, text, "agreements", all_day=False, who=name_of(group, note.author)))
    return events


def _meeting_events(group: ResourceGroup) -> list[Event]:
    events: list[Event] = []
    for meeting in group.meetings:
        day = _day_in_text(meeting.start)
        status_text = {
            MeetingStatus.FULFILLED: gettext("Meeting held."),
            MeetingStatus.CANCELLED: gettext("Meeting cancelled."),
            MeetingStatus.NOSHOW: gettext("Meeting did not take place (no-show)."),
        }.get(meeting.status)
        # A meeting still to come has not happened: its planning is on record when it was planned (`created`) and
        # when its invitations went out, not at its own (future) start. A cancelled one that was announced shows
        # when the cancellation went out (below), not as cancelled at its own start.
        announced = any(i.cancellation and i.sent is not None for i in meeting.invitations)
        if status_text is not None and not (meeting.status is MeetingStatus.CANCELLED and announced):
            events.append(Event(meeting.start, status_text, "meetings", all_day=False))
        if meeting.created:
            text = gettext("The meeting of %(date)s was planned.", date=day)
            events.append(Event(meeting.created, text, "meetings", all_day=False))
        for i, invitation in enumerate(meeting.invitations):
            if invitation.sent is None:
                continue
            if invitation.cancellation:
                text = gettext("Cancellation sent for the meeting of %(date)s.", date=day)
            elif i == 0:
                text = gettext("Invitation sent for the meeting of %(date)s.", date=day)
            else:
                text = gettext("Changed invitation sent for the meeting of %(date)s.", date=day)
            events.append(Event(invitation.sent, text, "meetings", all_day=False))
        if meeting.report and meeting.report.written:
            text = gettext("Report of the meeting of %(date)s written.", date=day)
            events.append(Event(meeting.report.written, text, "meetings", all_day=False))
    return events


def _group_events(group: ResourceGroup) -> list[Event]:
    events: list[Event] = []
    if group.start:
        events.append(Event(day_start(group.start), gettext("The group %(name)s started.", name=group.name), "group"))
    asked = {
        WishKind.MEETING: (gettext("Wishes given for the next meeting."), "meetings"),
        WishKind.PAUSE: (gettext("A pause of the group was asked for."), "group"),
        WishKind.END: (gettext("An end of the group was asked for."), "group"),
    }
    for wish in group.wishes:
        text, kind = asked[wish.kind]
        events.append(Event(wish.sent, text, kind, all_day=False, who=name_of(group, wish.by)))
    if group.after_treatment_since:
        text = gettext("The group continues after treatment.")
        events.append(Event(day_start(group.after_treatment_since), text, "group"))
    changed = {
        GroupStatus.ON_HOLD: gettext("The group was paused."),
        GroupStatus.ENDED: gettext("The group ended."),
    }
    for change in group.status_changes:
        if change.new is GroupStatus.ACTIVE and change.old is GroupStatus.ON_HOLD:
            text = gettext("The group was resumed.")
        elif change.new is GroupStatus.ACTIVE and change.old is GroupStatus.ENDED:
            text = gettext("The group was reopened.")
        elif change.new in changed:
            text = changed[change.new]
        else:
            continue  # forming -> active: the start of the group is shown above
        events.append(Event(day_start(change.day), text, "group", who=name_of(group, change.by)))
    recorded_end = any(c.new is GroupStatus.ENDED and c.day == group.end for c in group.status_changes)
    if group.end and not recorded_end:  # an end from before status changes were kept
        events.append(Event(day_start(group.end), gettext("The group ended."), "group"))
    return events


# Events per page of the timeline: a group of years with weekly scores has tens of thousands.
TIMELINE_PAGE = 100


# The days a link's place may name: the day after is still a date, and the clinic's zone has a whole-minute offset
# (Amsterdam's before 1940 was +00:19:32, which no FHIR date takes). No group is older than the first.
_FIRST_DAY, _LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)


@dataclass(frozen=True)
class TimelineCursor:
    """A place in the timeline between two events: after the first `shown` events of `day` (the clinic's zone). The
    older link carries where the next page starts (`?vanaf=`, `text`), the newer link where the page before ends
    (`?tot=`), so that a page far back reads a page of the scores beside that day with the newest
    (`timeline_cursor_page`, `timeline_newer_page`), not every score."""

    day: date
    shown: int

    @property
    def text(self) -> str:
        return f"{self.day.isoformat()}.{self.shown}"

    @staticmethod
    def oldest() -> TimelineCursor:
        """The place after every event (before the first day a place may name): the newer link that ends there
        leads to the oldest page."""
        return TimelineCursor(_FIRST_DAY, 0)

    @staticmethod
    def up_to(day: date) -> TimelineCursor:
        """The place before the newest event of `day` (a day asked for: the events up to and including it). A day
        before the first a place may name has nothing up to it; one after the last has everything."""
        return TimelineCursor(min(max(day, _FIRST_DAY), _LAST_DAY), 0)

    @staticmethod
    def parse(text: str | None) -> TimelineCursor | None:
        """The cursor of `?vanaf=` (`text`), or None for none or one that does not read (the page is then found by
        its number)."""
        if not text or len(text) > 30:
            return None
        day, _, shown = text.partition(".")
        if len(day) != 10 or not (shown.isascii() and shown.isdigit()) or len(shown) > _PAGE_DIGITS:
            return None
        try:
            found = TimelineCursor(date.fromisoformat(day), int(shown))
        except ValueError:
            return None
        return found if _FIRST_DAY <= found.day <= _LAST_DAY else None


_ASKED_DAY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")


def day_asked(text: str) -> date | None:
    """The day in the timeline's form (`?datum=`): as the date field sends it (2025-03-14), or as a person types it
    in the address (14-03-2025, 14/3/2025, 14.3.2025); None when it is no day."""
    text = text.strip()
    if len(text) > 10:
        return None
    try:
        if len(text) == 10 and text[4] == "-":
            return date.fromisoformat(text)
        found = _ASKED_DAY.fullmatch(text)
        return date(int(found[3]), int(found[2]), int(found[1])) if found else None
    except ValueError:
        return None


@dataclass(frozen=True)
class TimelinePage:
    """One page of the timeline, newest first: its events, its number (1 = the newest) of `pages`, and `total`
    (None: unknown, the page came from the newest scores; then `pages` is one more than `number`, or equal on the
    last page read up to a day). `number` and `pages` are None for a page found by a place with no number (a day
    asked for, and the pages its links lead to). `after`: where the next page starts, for the older link (None: on
    the last page); `before`: where the page starts, for the newer link (None: on the first page)."""

    events: list[Event]
    number: int | None
    pages: int | None
    total: int | None
    after: TimelineCursor | None = None
    before: TimelineCursor | None = None

    @classmethod
    def at(
        cls,
        events: list[Event],
        number: int | None,
        more: bool,
        after: TimelineCursor | None,
        before: TimelineCursor | None,
    ) -> TimelinePage:
        """A page found by a place (the total unknown): `more` when older events follow."""
        pages = None if number is None else number + 1 if more else number
        return cls(events, number, pages, None, after, before)


def _day_of(event: Event) -> date:
    return event.when.astimezone(CLINIC_ZONE).date()


def _last_of_day(events: list[Event], day: date) -> int:
    """How many of `events` (newest first) at their end fall on `day`."""
    count = 0
    for event in reversed(events):
        if _day_of(event) != day:
            break
        count += 1
    return count


def _cursor_after(shown: list[Event], before: TimelineCursor | None = None) -> TimelineCursor | None:
    """Where the page after `shown` starts (`shown`: every event up to the page's end, newest first; or only the
    page's own events after the cursor `before`)."""
    if not shown:
        return None
    day = _day_of(shown[-1])
    count = _last_of_day(shown, day)
    if before is not None and count == len(shown) and before.day == day:
        count += before.shown  # the page holds only events of the cursor's day: those before it count too
    return TimelineCursor(day, count)


def _cursor_at(events: list[Event], start: int) -> TimelineCursor | None:
    """The place just before `events[start]` (newest first; None at the very start or past the end), counted within
    its day."""
    if start <= 0 or start >= len(events):
        return None
    day = _day_of(events[start])
    return TimelineCursor(day, _last_of_day(events[:start], day))


_PAGE_DIGITS = 9  # a longer page number is past the end of any timeline


def _page_number(asked: str | None) -> int:
    """The page `?pagina=` asks for: 1 for none or one that is not a whole number in ASCII digits ("²" is a digit
    to `str.isdigit` and no number to `int`); one past the end of any timeline for a very long one."""
    if asked is None or not (asked.isascii() and asked.isdigit()):
        return 1
    return 10**_PAGE_DIGITS if len(asked) > _PAGE_DIGITS else max(int(asked), 1)


def timeline_page(events: list[Event], asked: str | None, size: int = TIMELINE_PAGE) -> TimelinePage:
    """Page `asked` (the text of `?pagina=`) of `events`: the first page for no number or one that is not a whole
    number, the last one for a number past the end."""
    pages = max(1, -(-len(events) // size))
    number = min(_page_number(asked), pages)
    after = _cursor_after(events[: number * size]) if number < pages else None
    before = _cursor_at(events, (number - 1) * size)
    return TimelinePage(events[(number - 1) * size : number * size], number, pages, len(events), after, before)


# The deepest window of newest scores an older page of the timeline reads (in stretches of a page of scores each,
# `GroupRepository.load`); a page further back reads every score, and so does the last page.
TIMELINE_DEEPEST = 10_000


def timeline_scores_needed(asked: str | None, size: int | None = None) -> int | None:
    """How many of the newest scores page `asked` of the timeline needs (pages of `size`, else `TIMELINE_PAGE`):
    every score event on pages 1 to N is among the newest N pages' worth, and one page more covers the day a window
    holds only in part. None: more than `TIMELINE_DEEPEST` (read every score)."""
    number = _page_number(asked)
    need = (number + 1) * (TIMELINE_PAGE if size is None else size)
    return need if need <= TIMELINE_DEEPEST else None


def timeline_page_within(asked: str | None, window: int, size: int | None = None) -> bool:
    """Whether page `asked` may lie within a window of `window` newest scores (it has no more events than that up
    to its end): then the page's own load is tried first."""
    return _page_number(asked) * (TIMELINE_PAGE if size is None else size) <= window


def timeline_window_page(
    events: list[Event], asked: str | None, since: date, size: int = TIMELINE_PAGE
) -> TimelinePage | None:
    """Page `asked` of a timeline built from a load of the newest scores (`ResourceGroup.scores_since` = `since`):
    every event from that day on is there, older scores are not. The page when it lies wholly within those days
    (the total is then unknown, and older events follow); None when it reaches back before them (the page needs
    every score). `events`: newest first, as `timeline` gives them."""
    number = _page_number(asked)
    upto = events[: number * size]
    if len(upto) < number * size or upto[-1].when < day_start(since):
        return None
    before = _cursor_at(upto, (number - 1) * size)
    return TimelinePage(upto[(number - 1) * size :], number, number + 1, None, _cursor_after(upto), before)


def _place(events: list[Event], cursor: TimelineCursor) -> int | None:
    """Where `cursor` falls in `events` (newest first): the index of the first event after it; None when its day has
    fewer events than it counts (a link made by hand, or by a load that held other events)."""
    end = day_start(cursor.day + timedelta(days=1))  # (once, not per event)
    later = sum(1 for e in events if e.when >= end)
    if sum(1 for e in events[later : later + cursor.shown] if _day_of(e) == cursor.day) < cursor.shown:
        return None
    return later + cursor.shown


def _number_of(asked: str | None) -> int | None:
    """A page found by a place: the number its link gives it (`?pagina=`), None without one."""
    return _page_number(asked) if asked is not None else None


def timeline_cursor_page(
    events: list[Event],
    cursor: TimelineCursor,
    asked: str | None,
    holds: Callable[[date, date], bool],
    size: int = TIMELINE_PAGE,
) -> TimelinePage | None:
    """Page `asked` of the timeline, starting where `cursor` says (the older link of the page before), from a load
    that holds a page of the scores up to the cursor's day (`holds`: `ResourceGroup.holds_every_score_from`, whether
    every score of a stretch of days is held). None when that load does not hold every score of the days the page
    covers, or the cursor does not fit these events: the page is then found by its number. `events`: newest first,
    every score the load read among them (`timeline(..., every_read=True)`)."""
    at = _place(events, cursor)
    if at is None:
        return None
    number = _number_of(asked)
    rest = events[at:]
    page = rest[:size]
    first = _day_of(page[0]) if page and at > 0 else None  # (nothing newer: no newer link)
    before = TimelineCursor(first, cursor.shown if first == cursor.day else 0) if first is not None else None
    if len(rest) > size:  # older events follow: every day from the page's last one to the cursor's is held whole
        if not holds(_day_of(page[-1]), cursor.day):
            return None
        return TimelinePage.at(page, number, True, _cursor_after(page, cursor), before)
    if not holds(date.min, cursor.day):  # the last page: only when every older score is held
        return None
    return TimelinePage.at(page, number, False, None, before)


def timeline_newer_page(
    events: list[Event],
    cursor: TimelineCursor,
    asked: str | None,
    holds: Callable[[date, date], bool],
    size: int = TIMELINE_PAGE,
) -> TimelinePage | None:
    """Page `asked` of the timeline, ending where `cursor` says (the newer link of the page after it), from a load
    that holds a page of the scores from the cursor's day on (`holds`, as for `timeline_cursor_page`). None when
    that load does not hold every score of the days the page covers, the cursor does not fit these events, or the
    page would be the newest one and has a number (it is then found by it: within the newest scores). Without a
    number, the newest page holds what is newer than the place (fewer than a page, perhaps)."""
    at = _place(events, cursor)
    if at is None:
        return None
    newer = events[:at]
    if len(newer) <= size:  # the newest page
        if asked is not None or not newer or not holds(cursor.day, date.max):
            return None
        return TimelinePage.at(newer, None, at < len(events), cursor if at < len(events) else None, None)
    if not holds(cursor.day, _day_of(newer[-size])):
        return None
    start = len(newer) - size
    number = _number_of(asked)
    more = at < len(events)  # (none after the oldest place)
    return TimelinePage.at(newer[start:], number, more, cursor if more else None, _cursor_at(newer, start))


@dataclass(frozen=True)
class TimelineCount:
    """Where page `number` of `pages` of a timeline of `total` events starts, found by counting the older scores
    (`timeline_counted_place`): after `place` (None: nothing happened yet)."""

    number: int
    pages: int
    total: int
    place: TimelineCursor | None


def timeline_counted_place(
    events: list[Event],
    since: date,
    asked: str | None,
    older: int,
    oldest: datetime | None,
    counted: Callable[[date], int | None],
    size: int = TIMELINE_PAGE,
) -> TimelineCount | None:
    """Where page `asked` (a number far back, or past the end: the last page) of a timeline starts, when the scores
    before `since` were counted, not read. `events`: the timeline of a load of the newest scores (newest first:
    every event from `since` on, every event that is no score before it); `older`: how many scores there are
    before `since`, `oldest` the time of the oldest of them; `counted(day)`: how many of those fall from `day` on
    (a request each; None: the server gave no total). The page's day is first guessed without a request (the
    events known, and the older scores as if spread evenly over their days), then found by counts from that guess
    (`_first_day_within`: 3 to 7 for four years of weekly meetings); the page itself is then read as the older
    link's page is, beside that day (`timeline_cursor_page`). None when a count fails, or the counts do not fit
    the events (the page is then read from every score)."""
    total = len(events) + older
    pages = max(1, -(-total // size))
    number = min(_page_number(asked), pages)
    start = (number - 1) * size
    ordinals = [-_day_of(e).toordinal() for e in events]  # ascending, as the events are newest first

    def known_after(day: date) -> int:  # the events of `events` on days after `day`
        return bisect_left(ordinals, -day.toordinal())

    last_unknown = since - timedelta(days=1)
    within = known_after(last_unknown)  # every event from `since` on
    if start == 0:  # the first page: before the newest event (its load may not hold the page whole)
        return TimelineCount(number, pages, total, TimelineCursor(_day_of(events[0]), 0) if events else None)
    if start < within:
        return TimelineCount(number, pages, total, _cursor_at(events, start))
    if older and oldest is None:
        return None
    first = min([_day_of(events[-1])] if events else [], default=since)
    if oldest is not None:
        first = min(first, oldest.astimezone(CLINIC_ZONE).date())
    first = max(first, _FIRST_DAY)
    seen: dict[date, int] = {}

    def after(day: date) -> int | None:  # every event on a day after `day`
        if day >= last_unknown:
            return known_after(day)
        if day not in seen:
            found = counted(day + timedelta(days=1))
            if found is None:
                return None
            seen[day] = known_after(day) + found
        return seen[day]

    lo = first - timedelta(days=1)
    span = max((last_unknown - lo).days, 1)

    def spread(day: date) -> float:  # the events after `day` were the older scores spread evenly over their days
        return known_after(day) + older * (last_unknown - day).days / span

    guess = _first_day_within(lo, last_unknown, within, start, spread)  # no request: where to count first
    found = _first_day_within(lo, last_unknown, within, start, after, guess[0] if guess else None)
    if found is None:
        return None
    day, newer = found
    if newer > start:
        return None
    return TimelineCount(number, pages, total, TimelineCursor(day, start - int(newer)))


def _first_day_within(
    lo: date,
    hi: date,
    at_hi: float,
    start: int,
    after: Callable[[date], float | None],
    guess: date | None = None,
) -> tuple[date, float] | None:
    """The first day after `lo`, up to `hi`, whose later events (`after(day)`, which falls as the day moves on) do
    not reach `start`, with that count: `after(lo)` is more than `start`, `after(hi)` (`at_hi`) is not.
    With a `guess` (where an even spread of the older scores puts the page's start), steps of 1, 2, 4, … days from
    it toward the other side until that is passed, then halving: a group that meets regularly needs a handful of
    counts where halving the days alone needs a dozen. None when a count fails."""
    anchor = guess if guess is not None and lo < guess < hi else None  # None: halving (no guess, or it is passed)
    toward, step = 0, 1  # from the guess: to earlier days (-1) or later ones (1), 1, 2, 4, … days
    probe = anchor
    while True:
        if probe is None:
            if (hi - lo).days <= 1:
                return hi, at_hi
            probe = lo + timedelta(days=(hi - lo).days // 2)
        count = after(probe)
        if count is None:
            return None
        below = count <= start
        if below:
            hi, at_hi = probe, count
        else:
            lo = probe
        if anchor is not None and toward and below == (toward > 0):
            anchor = None  # passed the page's day: halve from here
        probe = None
        if anchor is not None:
            toward = toward or (-1 if below else 1)
            probe = anchor + timedelta(days=toward * step)
            step *= 2
            if not lo < probe < hi:
                anchor = probe = None


def timeline(group: ResourceGroup, kind: str | None = None, *, every_read: bool = False) -> list[Event]:
    """What happened when, newest first (of events at one moment, the one recorded later first: a joining above
    its nomination, a resume above its pause); only the events of `kind`
    (a value of `TIMELINE_KINDS`) when given. Nothing is ever deleted, so nothing disappears from here.
    `every_read`: with every score the load read (`ResourceGroup.scores_read`: the older days of a page far back),
    not only those it shows as the newest.

    A nominee's joining, a goal reached or stopped, a meeting planned and the group's pauses, resumes, ends and
    reopenings have their own dates in the record (member-joined, Goal.statusDate, Appointment.created, the
    CarePlan's status-change extensions); a record written before those were kept simply shows no such event.
    The record holds no date for an agreement dropped or done without a note (closing one from a report adds a
    dated note)."""
    events = (
        _member_events(group)
        + _goal_and_agreement_events(group, every_read)
        + _meeting_events(group)
        + _group_events(group)
    )
    if kind is not None:
        events = [e for e in events if e.kind == kind]
    # A stable sort keeps the order of equal moments; reversed first, the one recorded later comes first.
    events.reverse()
    events.sort(key=lambda e: e.when, reverse=True)
    return events
