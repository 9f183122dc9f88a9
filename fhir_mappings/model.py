"""The resource group aggregate and its rules (pure Python, no I/O).

Identity: every entity has a `uid`. For entities the product created it is a UUID that is also
written as the resource's product identifier; for resources another system wrote it is the
literal reference (`"Goal/123"`). References between entities are by uid; people outside the
product's own resources (the patient, practitioners) are referred to by literal reference.

Every entity has a `source`: the FHIR JSON it was read from (None when new), so that a write keeps
what the product does not own. It takes no part in equality.
"""

from __future__ import annotations

import dataclasses
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fhir_mappings.codes import (
    AgendaStatus,
    AgreementStatus,
    GoalAchievement,
    GoalLifecycle,
    GoalTerm,
    GroupStatus,
    InterviewVisibility,
    LifeArea,
    MeetingRole,
    MeetingStatus,
    MeetingTheme,
    MemberRole,
    NominationState,
    ParticipationStatus,
    Section,
    WishKind,
    WishStatus,
)
from fhir_mappings.errors import DomainError
from fhir_mappings.refs import is_professional_ref

MEETING_INTERVAL_MONTHS = 3
MEETING_MINUTES = 60
# The longest a meeting read from the record may last (a week); a longer stated length is not believed.
MAX_MEETING_MINUTES = 7 * 24 * 60
MAX_TEXT = 4000
MAX_NAME = 200
MAX_SCORE = 10
MAX_NOTE = 500  # a short note (e.g. when marking an agreement done)


# While an action runs for a submission, the uids it makes derive from the submission key: the same
# submission applied twice (a retry, a re-apply after a conflict) makes the same uids, so the server's
# conditional creates find the first one instead of making a second.
_UID_NAMESPACE = uuid.UUID("5d0c8a4e-3f0b-4f57-9a35-2f7f8f3c1b6e")

# The clinic's own zone: where a "day" of scores starts and ends (the Dutch GGZ).
CLINIC_ZONE = ZoneInfo("Europe/Amsterdam")

_UID_SEED: ContextVar[tuple[str, list[int]] | None] = ContextVar("resourcegroep_uid_seed", default=None)


def new_uid() -> str:
    """A fresh product identifier value (derived from the submission key inside `uids_from`)."""
    seed = _UID_SEED.get()
    if seed is None:
        return str(uuid.uuid4())
    key, counter = seed
    counter[0] += 1
    return seeded_uid(key, counter[0])


def seeded_uid(key: str, n: int = 1) -> str:
    """The `n`-th uid an action makes inside `uids_from(key)`."""
    return str(uuid.uuid5(_UID_NAMESPACE, f"{key}:{n}"))


@contextmanager
def uids_from(key: str) -> Iterator[None]:
    """Within this block, `new_uid()` gives the same sequence of uids for the same `key`."""
    token = _UID_SEED.set((key, [0]))
    try:
        yield
    finally:
        _UID_SEED.reset(token)


def add_months(moment: datetime, months: int) -> datetime:
    """Same day and time `months` later, clamped to the end of a shorter month."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def minutes_between(start: datetime, end: datetime) -> int:
    """Whole minutes from `start` to `end` as they were meant: two times in the same zone object are compared on the
    wall clock (so `start + timedelta(minutes=n)` is always n), times in different zones in real time."""
    return int((end - start).total_seconds() // 60)


# Line breaks and tabs are text; every other control character (NUL, ESC of a terminal escape, ...) is not.
_TEXT_CONTROLS = frozenset("\n\r\t")


def _invisible(char: str) -> bool:
    """A character that shows nothing: white space, or a format character such as a zero-width space."""
    return char.isspace() or unicodedata.category(char) == "Cf"


def check_text(value: str, what_nl: str, what_en: str, limit: int = MAX_TEXT, required: bool = True) -> str:
    """Strip and bound a user text; raise a DomainError with a Dutch message when it does not fit.

    Control characters (NUL, escape sequences; not line breaks or tabs) are refused, and a text of invisible
    characters only (e.g. zero-width spaces) counts as empty. Otherwise the text is kept as typed."""
    text = value.strip()
    if any(unicodedata.category(c) == "Cc" and c not in _TEXT_CONTROLS for c in text):
        raise DomainError(
            f"{what_nl.capitalize()} bevat een onzichtbaar stuurteken. "
            "Typ de tekst opnieuw, of plak hem zonder opmaak.",
            f"{what_en} contains a control character",
        )
    if all(_invisible(c) for c in text):
        text = ""
    if required and not text:
        raise DomainError(f"Vul {what_nl} in.", f"{what_en} is empty")
    if len(text) > limit:
        raise DomainError(
            f"{what_nl.capitalize()} is te lang: maximaal {limit} tekens.", f"{what_en} longer than {limit}"
        )
    return text


# --------------------------------------------------------------------------- people


@dataclass
class Supporter:
    """Details of an informal supporter, kept in a RelatedPerson resource."""

    uid: str
    name: str
    relationship: str  # v3-RoleCode (MTH, FTH, FRND, ...) or another system's code
    relationship_system: str
    phone: str = ""
    email: str = ""
    relationship_text: str = ""
    # Administrative gender (male/female/other/unknown, "" = not asked) and birth date (None = not known);
    # KT2RelatedPerson requires both, so the KT2 mapping writes "unknown" for what is not known.
    gender: str = ""
    birth_date: date | None = None
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass
class Member:
    """One participation of one person in the group (a CareTeam.participant)."""

    uid: str  # the participant element's id
    who: str  # literal reference ("Patient/p1", "Practitioner/x") or a Supporter uid
    display: str
    roles: set[MemberRole]
    core: bool = False
    nomination: NominationState = NominationState.GENOMINEERD
    start: date | None = None
    end: date | None = None
    proposed_by: str | None = None  # who nominated them, when it was the patient (shown as the patient's input)
    reason: str = ""  # why they were nominated, in the nominator's own words
    joined: date | None = None  # the day a nominee became a member (`start` is the nomination date)
    # For a member listed as "PractitionerRole/<id>": that role's practitioner ("Practitioner/<id>"), so a user
    # launching as the Practitioner is recognised as this member without reading the role (rights.member_ref).
    practitioner: str | None = None

    @property
    def active(self) -> bool:
        """Still in the group (not left, not declined or withdrawn)."""
        return self.end is None and self.nomination not in (NominationState.AFGEZIEN, NominationState.TERUGGETROKKEN)

    @property
    def is_member(self) -> bool:
        """A full member now (the interview is behind them and they have not left)."""
        return self.active and self.nomination is NominationState.LID


_NOMINATION_NEXT: dict[NominationState, set[NominationState]] = {
    NominationState.GENOMINEERD: {
        NominationState.GESPREK_GEPLAND,
        NominationState.GESPREK_GEVOERD,
        NominationState.AFGEZIEN,
        NominationState.TERUGGETROKKEN,
    },
    NominationState.GESPREK_GEPLAND: {
        NominationState.GESPREK_GEVOERD,
        NominationState.GESPREK_GEPLAND,
        NominationState.AFGEZIEN,
        NominationState.TERUGGETROKKEN,
    },
    NominationState.GESPREK_GEVOERD: {NominationState.LID, NominationState.AFGEZIEN, NominationState.TERUGGETROKKEN},
    NominationState.LID: set(),
    NominationState.AFGEZIEN: set(),
    NominationState.TERUGGETROKKEN: set(),
}

_NOMINATION_NL = {
    NominationState.GENOMINEERD: "genomineerd",
    NominationState.GESPREK_GEPLAND: "gesprek gepland",
    NominationState.GESPREK_GEVOERD: "gesprek gevoerd",
    NominationState.LID: "lid",
    NominationState.AFGEZIEN: "afgezien",
    NominationState.TERUGGETROKKEN: "teruggetrokken",
}


@dataclass
class NominationInterview:
    """The interview with a nominee before they join (Appointment when planned, Communication when held)."""

    uid: str  # the Communication holding the record
    member_uid: str
    appointment_uid: str | None = None
    planned_start: datetime | None = None
    held_at: datetime | None = None
    sections: dict[Section, str] = field(default_factory=dict)
    interviewer: str | None = None  # literal reference of the regieondersteuner
    # Who may read the record; None: not stated (an older record, or another system's): care professionals only.
    visibility: InterviewVisibility | None = None
    cancelled: bool = False  # the planned interview was called off (pausing or ending the group)
    planned_at: datetime | None = None  # when it was planned (Appointment.created); moving it keeps this
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    appointment_source: dict[str, Any] | None = field(default=None, compare=False, repr=False)


# --------------------------------------------------------------------------- goals


@dataclass
class Note:
    """A dated note on a goal."""

    time: datetime
    text: str
    author: str | None = None
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass
class Goal:
    """A goal in the patient's own words."""

    uid: str
    text: str
    term: GoalTerm
    life_area: LifeArea | None = None
    lifecycle: GoalLifecycle = GoalLifecycle.ACTIVE
    achievement: GoalAchievement | None = None
    start: date | None = None
    due: date | None = None
    parent_uid: str | None = None
    notes: list[Note] = field(default_factory=list)
    status_date: date | None = None  # when the lifecycle status last changed (Goal.statusDate): reached, stopped
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def is_open(self) -> bool:
        """Still being worked on (also proposed or on hold): not reached, stopped or entered in error. Only an open
        goal gets new agreements, agenda items and scores."""
        return self.lifecycle in OPEN_GOAL_STATES


# A nomination not yet decided: the nominee is not a member yet, nor has the nomination ended.
NOMINEE_STATES = frozenset(
    {NominationState.GENOMINEERD, NominationState.GESPREK_GEPLAND, NominationState.GESPREK_GEVOERD}
)

OPEN_GOAL_STATES = frozenset(
    {GoalLifecycle.PROPOSED, GoalLifecycle.PLANNED, GoalLifecycle.ACCEPTED, GoalLifecycle.ACTIVE, GoalLifecycle.ON_HOLD}
)

# A goal's final achievements: reached, and not reached (what a status change keeps or clears).
GOAL_REACHED = frozenset({GoalAchievement.ACHIEVED, GoalAchievement.SUSTAINING})
GOAL_NOT_REACHED = frozenset({GoalAchievement.NOT_ACHIEVED, GoalAchievement.NOT_ATTAINABLE})


@dataclass(frozen=True)
class ProgressScore:
    """How the patient rates progress on a goal, 0-10, usually at a meeting. Never changed in place (a correction
    replaces it), so a copy of the group for an action shares the scores it does not replace."""

    uid: str
    goal_uid: str
    when: datetime
    score: int
    meeting_uid: str | None = None
    note: str = ""
    by: str | None = None  # who gave the score (Observation.performer), e.g. the patient before a meeting
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)


class ScoresNotLoaded(RuntimeError):
    """Code read every score of a group that was loaded with its newest scores only (a programming error: that
    page must load every score, or read `ResourceGroup.held_scores` and say from which day the scores are), or
    the scores of a meeting the load did not hold. `day`: the one older day (clinic's zone) whose every score
    would be enough (the scores of a held meeting: `ResourceGroup.scores_at`); None: every score is needed."""

    def __init__(self, message: str, *, day: date | None = None) -> None:
        super().__init__(message)
        self.day = day


# Days in the clinic's zone from the first (None: from the very first score) to the last, both included.
DaySpan = tuple[date | None, date]


class NewestScores(list[ProgressScore]):
    """The scores of a group loaded with its newest scores only: every score given on or after `since` (a day in
    the clinic's zone, `CLINIC_ZONE`) is here; older ones are in the record and were not read.

    Reading it as all of the group's scores (iterating, `len`, indexing, `in`) raises `ScoresNotLoaded`, so a page
    that needs every score fails its tests instead of quietly showing too few. Code that knows about the window
    reads `ResourceGroup.held_scores()` and `ResourceGroup.scores_since`. Copies keep the window.

    `complete`: goals whose every score is here too, older ones included (a goal's page asked for all of them:
    `ResourceGroup.holds_every_score_of`). `days`: older days (clinic's zone) whose every score is here too (an
    older meeting's report asked for the scores of its day: `ResourceGroup.holds_scores_at`). `span`: older days
    from its first (None: from the very first score) to its last (`date.max`: on to `since`), both included, whose
    every score is here too (a page of the timeline far back: `ResourceGroup.holds_every_score_from`)."""

    since: date
    complete: frozenset[str]
    days: frozenset[date]
    span: DaySpan | None

    def __init__(
        self,
        scores: Iterable[ProgressScore],
        since: date,
        complete: Iterable[str] = (),
        days: Iterable[date] = (),
        span: DaySpan | None = None,
    ) -> None:
        super().__init__(scores)
        self.since = since
        self.complete = frozenset(complete)
        self.days = frozenset(days)
        self.span = span

    def _refuse(self) -> ScoresNotLoaded:
        return ScoresNotLoaded(
            f"this group holds the scores since {self.since.isoformat()} only; read held_scores() or load them all"
        )

    def __iter__(self) -> Iterator[ProgressScore]:
        raise self._refuse()

    def __reversed__(self) -> Iterator[ProgressScore]:
        raise self._refuse()

    def __len__(self) -> int:
        raise self._refuse()

    def __contains__(self, value: object) -> bool:
        raise self._refuse()

    def __getitem__(self, index: Any) -> Any:
        raise self._refuse()

    def held(self) -> list[ProgressScore]:
        """The scores held, as a plain list (a copy)."""
        return list.copy(self)

    def __copy__(self) -> NewestScores:
        return NewestScores(self.held(), self.since, self.complete, self.days, self.span)

    def __deepcopy__(self, memo: dict[int, Any]) -> NewestScores:
        # The scores themselves are frozen and never changed in place (see ProgressScore): shared, as a copy of the
        # group for an action shares them.
        return NewestScores(self.held(), self.since, self.complete, self.days, self.span)

    def __reduce__(self) -> tuple[Any, ...]:
        return (NewestScores, (self.held(), self.since, self.complete, self.days, self.span))

    def __repr__(self) -> str:
        complete = f", complete={sorted(self.complete)}" if self.complete else ""
        days = f", days={[d.isoformat() for d in sorted(self.days)]}" if self.days else ""
        span = "" if self.span is None else f", span={self.span[0] and self.span[0].isoformat()}..{self.span[1]}"
        return f"NewestScores(since={self.since.isoformat()}{complete}{days}{span}, {list.__repr__(self)})"


_EARLIEST = datetime.min.replace(tzinfo=UTC)


_DUTCH_MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip


def dutch_date(day: date) -> str:
    """A day as the domain's Dutch messages write it, as the pages do: "2 december 2026"."""
    return f"{day.day} {_DUTCH_MONTHS[day.month - 1]} {day.year}"


def day_start(day: date) -> datetime:
    """The first moment of a day in the clinic's zone."""
    return datetime.combine(day, time(0), tzinfo=CLINIC_ZONE)


@dataclass(frozen=True)
class ScoresBefore:
    """The scores given before a meeting (or up to its end), per goal uid, oldest first
    (`ResourceGroup.scores_before`). `since`: None when they are every such score; else the first day (clinic's
    zone) they are from, older ones were not read."""

    since: date | None
    by_goal: dict[str, list[ProgressScore]]


def first_day_after(moment: datetime) -> date:
    """The first whole day after `moment` in the clinic's zone (where a window of newest scores can start: every
    score of that day and later is known to be held)."""
    return moment.astimezone(CLINIC_ZONE).date() + timedelta(days=1)


@dataclass
class Agreement:
    """Who does what, by when, to support a goal."""

    uid: str
    description: str
    owner: str | None = None  # the member's `who`
    goal_uid: str | None = None
    due: date | None = None
    status: AgreementStatus = AgreementStatus.REQUESTED
    created: date | None = None
    notes: list[Note] = field(default_factory=list)  # e.g. the short note of the member who marked it done
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def is_open(self) -> bool:
        """Still to be done (not completed, not cancelled): the one definition of an open agreement."""
        return self.status in OPEN_AGREEMENT_STATES

    def is_overdue(self, today: date) -> bool:
        """Open and its date has passed."""
        return self.is_open and self.due is not None and self.due < today


OPEN_AGREEMENT_STATES = frozenset({AgreementStatus.REQUESTED, AgreementStatus.ACCEPTED, AgreementStatus.IN_PROGRESS})


# --------------------------------------------------------------------------- meetings


@dataclass
class Place:
    """Where the group meets (a Location)."""

    uid: str
    name: str
    address: str = ""
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass
class AgendaItem:
    """One agenda line: free text, or a goal or agreement to talk about."""

    text: str = ""
    goal_uid: str | None = None
    agreement_uid: str | None = None
    proposed_by: str | None = None  # who proposed it, when not the one preparing the agenda (the patient)


@dataclass
class Agenda:
    uid: str
    items: list[AgendaItem] = field(default_factory=list)
    status: AgendaStatus = AgendaStatus.PREPARATION
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass
class Report:
    """What was discussed at a meeting; scores live in ProgressScores linked to the meeting."""

    uid: str
    sections: dict[Section, str] = field(default_factory=dict)
    goals_discussed: list[str] = field(default_factory=list)
    new_agreements: list[str] = field(default_factory=list)
    written: datetime | None = None
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Invitation:
    """A calendar message sent for a meeting. Frozen (a message once sent does not change; a new one is added), so
    a copy of the group for an action shares it; the recipients are kept as a tuple, whatever sequence is given."""

    uid: str
    recipients: Sequence[str]
    message: str
    sent: datetime | None = None
    calendar: str = ""  # text/calendar (iCalendar) content
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    # A cancellation notice (product code `afzegging`) rather than an invitation or an updated invitation.
    cancellation: bool = False

    def __post_init__(self) -> None:
        if type(self.recipients) is not tuple:
            object.__setattr__(self, "recipients", tuple(self.recipients))


@dataclass(frozen=True)
class MeetingParticipant:
    """A member's part in one meeting: roles, response to the invitation, attendance.

    Frozen: a change replaces the entry in the meeting's list (`Meeting.update_participant`), so a copy of the
    group made for an action shares the entries (a meeting of a large group has one per member) and the save
    sees an untouched one by identity. The roles are kept as a frozenset, whatever set is given."""

    who: str
    roles: AbstractSet[MeetingRole] = frozenset()
    response: ParticipationStatus = ParticipationStatus.NEEDS_ACTION
    attended: bool = False

    def __post_init__(self) -> None:
        if type(self.roles) is not frozenset:
            object.__setattr__(self, "roles", frozenset(self.roles))


@dataclass
class Meeting:
    """A meeting of the group. Its length is kept in minutes (`minutes`); `end` follows from it as an instant,
    so a meeting across a daylight-saving change keeps its real length and never reads back as 0 minutes."""

    uid: str
    start: datetime
    minutes: int = MEETING_MINUTES
    status: MeetingStatus = MeetingStatus.PROPOSED
    place_uid: str | None = None
    theme: MeetingTheme | None = None
    theme_text: str = ""
    participants: list[MeetingParticipant] = field(default_factory=list)
    agenda: Agenda | None = None
    report: Report | None = None
    invitations: list[Invitation] = field(default_factory=list)
    created: datetime | None = None  # when it was planned (Appointment.created)
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def end(self) -> datetime:
        """The moment it ends: `minutes` after the start in real time (not on the wall clock), in the start's zone."""
        tz = self.start.tzinfo
        return (self.start.astimezone(UTC) + timedelta(minutes=self.minutes)).astimezone(tz)

    @end.setter
    def end(self, value: datetime) -> None:
        self.minutes = minutes_between(self.start, value)

    def participant(self, who: str) -> MeetingParticipant:
        """The participant entry for a member, created when missing."""
        for p in self.participants:
            if p.who == who:
                return p
        entry = MeetingParticipant(who=who)
        self.participants.append(entry)
        return entry

    def update_participant(
        self,
        who: str,
        *,
        roles: AbstractSet[MeetingRole] | None = None,
        response: ParticipationStatus | None = None,
        attended: bool | None = None,
    ) -> MeetingParticipant:
        """Replace a member's participant entry (created when missing) by one with the given parts changed; an
        entry that would not change is kept as it is (the same object)."""
        pos = next((i for i, p in enumerate(self.participants) if p.who == who), None)
        if pos is None:
            pos = len(self.participants)
            self.participants.append(MeetingParticipant(who=who))
        entry = self.participants[pos]
        changed = dataclasses.replace(
            entry,
            roles=entry.roles if roles is None else roles,
            response=entry.response if response is None else response,
            attended=entry.attended if attended is None else attended,
        )
        if changed == entry:
            return entry
        self.participants[pos] = changed
        return changed

    def chair(self) -> str | None:
        """The member who chairs, if agreed."""
        return next((p.who for p in self.participants if MeetingRole.VOORZITTER in p.roles), None)

    @property
    def is_planned(self) -> bool:
        """Still to come: proposed or booked (not held, cancelled or a no-show)."""
        return self.status in PLANNED_MEETING_STATES

    @property
    def may_have_report(self) -> bool:
        """A cancelled meeting, or one that did not take place, gets no report."""
        return self.status not in (MeetingStatus.CANCELLED, MeetingStatus.NOSHOW)

    @property
    def day(self) -> date:
        """The day it starts, in the clinic's zone (`CLINIC_ZONE`)."""
        return self.start.astimezone(CLINIC_ZONE).date()

    def day_has_come(self, today: date) -> bool:
        """Its day has come: it starts on `today` (the clinic's date) or earlier. Only from then on can it be marked
        held or as not having taken place, or get a report (`FROM_ITS_DAY`); cancelling is possible before."""
        return self.day <= today

    def made_before(self, agreement: Agreement) -> bool:
        """Whether `agreement` existed before this meeting, so that its report may mark it done or dropped: not one
        of the report's own new agreements, and not one made on the meeting's day or later (`Agreement.created` is
        a day, read against the meeting's day: one made that day counts as made at the meeting). One without a
        made-date (written by another system) counts as earlier: nothing says it is newer."""
        own = self.report.new_agreements if self.report is not None else ()
        return agreement.uid not in own and (agreement.created is None or agreement.created < self.day)

    def may_get_report(self, today: date) -> bool:
        """A report can be written (or changed) on `today`: the meeting may have one and its day has come."""
        return self.may_have_report and self.day_has_come(today)

    def markable_next(self, today: date) -> list[MeetingStatus]:
        """The statuses a user may mark next by hand on `today` (the clinic's date), in the order they are offered:
        booking follows from sending the invitation, and held or not taken place only from the meeting's day on."""
        return [
            s
            for s in MARKED_BY_HAND
            if s in _MEETING_NEXT[self.status] and (s not in FROM_ITS_DAY or self.day_has_come(today))
        ]

    @property
    def invited(self) -> bool:
        """An invitation was sent: the invitees have it in their calendar and hear of every change."""
        return any(not i.cancellation for i in self.invitations)

    @property
    def next_sequence(self) -> int:
        """The iCalendar SEQUENCE of the next calendar message: one more for every message sent before."""
        return len(self.invitations)


# --------------------------------------------------------------------------- the aggregate

_GROUP_NEXT: dict[GroupStatus, set[GroupStatus]] = {
    GroupStatus.FORMING: {GroupStatus.ACTIVE, GroupStatus.ON_HOLD, GroupStatus.ENDED},
    GroupStatus.ACTIVE: {GroupStatus.ON_HOLD, GroupStatus.ENDED},
    GroupStatus.ON_HOLD: {GroupStatus.ACTIVE, GroupStatus.ENDED},
    GroupStatus.ENDED: {GroupStatus.ACTIVE},  # reopen
}
_GROUP_NL = {
    GroupStatus.FORMING: "in oprichting",
    GroupStatus.ACTIVE: "actief",
    GroupStatus.ON_HOLD: "gepauzeerd",
    GroupStatus.ENDED: "beëindigd",
}
_MEETING_NEXT: dict[MeetingStatus, set[MeetingStatus]] = {
    MeetingStatus.PROPOSED: {MeetingStatus.BOOKED, MeetingStatus.CANCELLED, MeetingStatus.FULFILLED},
    MeetingStatus.BOOKED: {MeetingStatus.FULFILLED, MeetingStatus.CANCELLED, MeetingStatus.NOSHOW},
    MeetingStatus.FULFILLED: set(),
    MeetingStatus.CANCELLED: set(),
    MeetingStatus.NOSHOW: set(),
}
PLANNED_MEETING_STATES = frozenset({MeetingStatus.PROPOSED, MeetingStatus.BOOKED})
# The statuses a user sets by hand, in the order they are offered; `booked` follows from sending an invitation.
MARKED_BY_HAND = (MeetingStatus.FULFILLED, MeetingStatus.CANCELLED, MeetingStatus.NOSHOW)
# What a meeting becomes only from its day on (its start date in the clinic's zone): before that it has not taken
# place, so it can be cancelled but not held, missed or reported on.
FROM_ITS_DAY = frozenset({MeetingStatus.FULFILLED, MeetingStatus.NOSHOW})
_NOT_YET_NL = {
    MeetingStatus.FULFILLED: (
        "Deze bijeenkomst is nog niet geweest. U kunt hem pas vanaf de dag zelf op 'gehouden' zetten."
    ),
    MeetingStatus.NOSHOW: (
        "Deze bijeenkomst is nog niet geweest. U kunt hem pas vanaf de dag zelf op 'niet doorgegaan' zetten. "
        "Gaat hij niet door? Dan kunt u hem afzeggen."
    ),
}


@dataclass(frozen=True)
class StatusChange:
    """One change of the group's status (pause, resume, end, reopen, ...): from what, to what, on which day and
    by whom (a literal reference; None when the record does not say)."""

    old: GroupStatus
    new: GroupStatus
    day: date
    by: str | None = None


@dataclass
class Wish:
    """What the patient asks of the group, for a care professional to take up or set aside (a Communication).

    A wish for the next meeting names a place, a chair (a member's `who`), a theme and/or says something in
    own words; a request for a pause or an end says why. It stays open until a care professional takes it up
    (its wishes are applied to the meeting, or the group is paused or ended) or sets it aside.
    """

    uid: str
    kind: WishKind
    by: str  # the patient's reference
    sent: datetime
    place: str = ""
    chair: str | None = None
    theme: MeetingTheme | None = None
    text: str = ""
    meeting_uid: str | None = None  # the meeting it was given for (the next one then planned), if any
    status: WishStatus = WishStatus.OPEN
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def is_open(self) -> bool:
        return self.status is WishStatus.OPEN


@dataclass
class Unreadable:
    """A resource of the group's record that the app could not read (another system or an older version wrote
    it): left out of the group and never rewritten. Saves that do not touch it go through. One of ours that
    plans something (a meeting, an interview appointment) can be cancelled without reading the broken parts."""

    key: str  # "Appointment/<id>", as the record names it
    reason: str  # short, Dutch: why it could not be read
    part: str = ""  # Dutch, when only one part of the resource is unreadable (e.g. "deelnemer 3")
    cancellable: bool = False  # one of our Appointments that still plans something
    plans: str = ""  # what such an Appointment plans: "meeting" or "interview"
    cancel: bool = False  # the user cancels it: the save sets its status to cancelled and changes nothing else

    @property
    def kind(self) -> str:
        return self.key.split("/", 1)[0]


@dataclass
class ResourceGroup:
    """One patient's resource group: CareTeam + CarePlan and everything linked to them."""

    uid: str  # CareTeam
    plan_uid: str  # CarePlan
    patient: str  # "Patient/<id>"
    name: str
    status: GroupStatus = GroupStatus.FORMING
    start: date | None = None
    end: date | None = None
    after_treatment_since: date | None = None
    members: list[Member] = field(default_factory=list)
    supporters: list[Supporter] = field(default_factory=list)
    interviews: list[NominationInterview] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    progress: list[ProgressScore] = field(default_factory=list)
    agreements: list[Agreement] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)
    meetings: list[Meeting] = field(default_factory=list)
    wishes: list[Wish] = field(default_factory=list)
    status_changes: list[StatusChange] = field(default_factory=list)  # oldest first
    source: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    plan_source: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    # What the record holds for this group that the app could not read (see `Unreadable`).
    unreadable: list[Unreadable] = field(default_factory=list)

    # ------------------------------------------------------------ creation

    @classmethod
    def start_new(
        cls,
        *,
        patient: str,
        patient_display: str,
        regieondersteuner: str,
        regieondersteuner_display: str,
        name: str,
        today: date,
    ) -> ResourceGroup:
        """A new group: the patient is regisseur, the launching clinician regieondersteuner."""
        if not patient.startswith("Patient/"):
            raise DomainError("De groep hoort bij een patiënt.", f"group subject must be a Patient, got {patient!r}")
        if not is_professional_ref(regieondersteuner):
            raise DomainError(
                "Alleen een behandelaar kan regieondersteuner zijn.",
                f"regieondersteuner must be a Practitioner(Role), got {regieondersteuner!r}",
            )
        group = cls(
            uid=new_uid(),
            plan_uid=new_uid(),
            patient=patient,
            name=check_text(name, "de naam van de groep", "group name", MAX_NAME),
            start=today,
        )
        group.members.append(
            Member(new_uid(), patient, patient_display, {MemberRole.REGISSEUR}, True, NominationState.LID, today)
        )
        group.members.append(
            Member(
                new_uid(),
                regieondersteuner,
                regieondersteuner_display,
                {MemberRole.REGIEONDERSTEUNER},
                True,
                NominationState.LID,
                today,
            )
        )
        return group

    # ------------------------------------------------------------ invariants

    def check_invariants(self) -> None:
        """Raise when the group breaks a rule that must always hold."""
        if not any(m.who == self.patient and MemberRole.REGISSEUR in m.roles and m.active for m in self.members):
            raise DomainError(
                "De patiënt moet altijd lid zijn, als regisseur.", "patient is not an active regisseur member"
            )
        if not any(MemberRole.REGIEONDERSTEUNER in m.roles and m.active for m in self.members):
            raise DomainError(
                "De groep heeft altijd een regieondersteuner nodig.", "group has no active regieondersteuner"
            )
        for goal in self.goals:
            self._check_parent(goal, goal.parent_uid)

    def cancel_unreadable(self, key: str) -> Unreadable:
        """Cancel a meeting or interview appointment the app cannot read (e.g. a time without a zone): its status
        becomes cancelled, nothing else of it changes. Allowed whatever the group's status: it frees the record."""
        found = next((u for u in self.unreadable if u.key == key), None)
        if found is None or not found.cancellable:
            raise DomainError(
                "Dit onderdeel kan de app niet afzeggen. Pas het aan in het dossier.",
                f"{key} is not an unreadable appointment of this group",
            )
        found.cancel = True
        return found

    def normalise_order(self) -> None:
        """Give the lists whose order carries no meaning one stable order (a server returns any order)."""
        position = {m.uid: i for i, m in enumerate(self.members)}
        self.interviews.sort(key=lambda iv: (position.get(iv.member_uid, len(position)), iv.uid))
        self.meetings.sort(key=lambda m: (m.start, m.uid))
        self.progress.sort(key=lambda p: (p.when, p.uid))
        self.places.sort(key=lambda p: (p.name.casefold(), p.uid))
        self.wishes.sort(key=lambda w: (w.sent, w.uid))
        for meeting in self.meetings:
            start = meeting.start
            meeting.invitations.sort(key=lambda inv: (inv.sent or start, inv.uid))

    # ------------------------------------------------------------ lookups

    def member(self, uid: str) -> Member:
        for m in self.members:
            if m.uid == uid:
                return m
        raise DomainError("Dit lid staat niet in de groep.", f"no member {uid}")

    def goal(self, uid: str) -> Goal:
        for g in self.goals:
            if g.uid == uid:
                return g
        raise DomainError("Dit doel hoort niet bij deze groep.", f"no goal {uid}")

    def agreement(self, uid: str) -> Agreement:
        for a in self.agreements:
            if a.uid == uid:
                return a
        raise DomainError("Deze afspraak hoort niet bij deze groep.", f"no agreement {uid}")

    def meeting(self, uid: str) -> Meeting:
        for m in self.meetings:
            if m.uid == uid:
                return m
        raise DomainError("Deze bijeenkomst hoort niet bij deze groep.", f"no meeting {uid}")

    def supporter(self, uid: str) -> Supporter | None:
        return next((s for s in self.supporters if s.uid == uid), None)

    def interview_for(self, member_uid: str) -> NominationInterview | None:
        return next((i for i in self.interviews if i.member_uid == member_uid), None)

    def entity_uids(self) -> set[str]:
        """The uid of every entity in the group (to see whether something an action makes is there already); of the
        scores, those it holds."""
        uids = {self.uid, self.plan_uid}
        uids.update(m.uid for m in self.members)
        uids.update(s.uid for s in self.supporters)
        uids.update(i.uid for i in self.interviews)
        uids.update(i.appointment_uid for i in self.interviews if i.appointment_uid)
        uids.update(g.uid for g in self.goals)
        # Of a group of newest scores, the scores it holds. A repeated submission whose first entity is an older score
        # is not seen here: correcting a score reads the scores of its meeting (so the save reads that meeting's day
        # or the whole group, where it is found), and a new score's create is conditional on its identifier (the
        # record never gets it twice).
        uids.update(p.uid for p in self.scores_read())
        uids.update(a.uid for a in self.agreements)
        uids.update(p.uid for p in self.places)
        uids.update(w.uid for w in self.wishes)
        for m in self.meetings:
            uids.add(m.uid)
            uids.update(x.uid for x in (m.agenda, m.report) if x is not None)
            uids.update(i.uid for i in m.invitations)
        return uids

    def regieondersteuner(self) -> Member | None:
        return next((m for m in self.members if MemberRole.REGIEONDERSTEUNER in m.roles and m.active), None)

    def active_members(self) -> list[Member]:
        return [m for m in self.members if m.active]

    # ------------------------------------------------------------ lifecycle

    def _require_open(self) -> None:
        if self.status is GroupStatus.ENDED:
            raise DomainError(
                "De groep is beëindigd. Heropen de groep om iets te veranderen.", "group has ended: reopen first"
            )

    @property
    def may_plan(self) -> bool:
        """Whether meetings and interviews can be planned: not while the group is paused (pausing calls off what was
        planned, and nothing new is planned until it goes on) or ended."""
        return self.status in (GroupStatus.FORMING, GroupStatus.ACTIVE)

    def _require_planning(self) -> None:
        self._require_open()
        if not self.may_plan:
            raise DomainError(
                "De groep is gepauzeerd. Start de groep eerst weer, dan kunt u weer iets plannen.",
                "group is on hold: resume it first",
            )

    def change_status(self, new: GroupStatus, today: date, by: str | None = None) -> None:
        """Pause, resume, end or reopen the group (`by`: who did it). Ending never deletes anything."""
        if new is self.status:
            return
        if new not in _GROUP_NEXT[self.status]:
            raise DomainError(
                f"Een groep die {_GROUP_NL[self.status]} is, kan niet {_GROUP_NL[new]} worden.",
                f"illegal group transition {self.status} -> {new}",
            )
        if new in (GroupStatus.ON_HOLD, GroupStatus.ENDED):
            # Nothing stays planned in a paused or ended group (the service tells the invitees first).
            for meeting in self.planned_meetings():
                meeting.status = MeetingStatus.CANCELLED
            for interview in self.planned_interviews():
                self._call_off(interview)
        if new is GroupStatus.ENDED:
            self.end = today
        elif self.status is GroupStatus.ENDED:
            self.end = None
        self.status_changes.append(StatusChange(self.status, new, today, by))
        self.status = new

    def continue_after_treatment(self, today: date) -> None:
        """Mark that the group goes on after the treatment ended."""
        self._require_open()
        self.after_treatment_since = self.after_treatment_since or today

    def rename(self, name: str) -> None:
        self._require_open()
        self.name = check_text(name, "de naam van de groep", "group name", MAX_NAME)

    # ------------------------------------------------------------ members

    def nominate(
        self,
        who: str,
        display: str,
        today: date,
        supporter: Supporter | None = None,
        proposed_by: str | None = None,
        reason: str = "",
        practitioner: str | None = None,
    ) -> Member:
        """Add a nominee: they become a member only after their interview was held.

        `proposed_by` names the patient when they nominated someone themselves (shown as their proposal).
        `practitioner` is the Practitioner behind a `who` of "PractitionerRole/<id>".
        """
        self._require_open()
        if supporter is not None:
            if supporter.uid != who:
                raise DomainError("Onbekende persoon.", "supporter uid does not match member reference")
            supporter.name = check_text(supporter.name, "de naam", "supporter name", MAX_NAME)
            self.supporters.append(supporter)
        elif self.supporter(who) is None and not is_professional_ref(who):
            raise DomainError("Alleen hulpverleners of naasten kunnen genomineerd worden.", f"cannot nominate {who!r}")
        if any(m.who == who and m.active for m in self.members):
            raise DomainError("Deze persoon staat al in de groep.", f"{who} is already an active member")
        member = Member(
            new_uid(),
            who,
            check_text(display, "de naam", "display", MAX_NAME),
            {MemberRole.LID},
            start=today,
            proposed_by=proposed_by,
            reason=check_text(reason, "waarom", "nomination reason", MAX_TEXT, required=False),
            practitioner=practitioner if who.startswith("PractitionerRole/") else None,
        )
        self.members.append(member)
        return member

    def _move(self, member: Member, new: NominationState) -> None:
        if new not in _NOMINATION_NEXT[member.nomination]:
            raise DomainError(
                f"{member.display} staat op '{_NOMINATION_NL[member.nomination]}' en kan niet naar "
                f"'{_NOMINATION_NL[new]}'.",
                f"illegal nomination transition {member.nomination} -> {new} for member {member.uid}",
            )
        member.nomination = new

    def planned_interviews(self) -> list[NominationInterview]:
        """Introductory interviews still planned (not held, not called off) of current nominees, earliest first."""
        planned = [
            iv
            for iv in self.interviews
            if iv.appointment_uid is not None
            and iv.planned_start is not None
            and iv.held_at is None
            and not iv.cancelled
            and any(m.uid == iv.member_uid and m.active for m in self.members)
        ]
        return sorted(planned, key=lambda iv: (iv.planned_start or datetime.max.replace(tzinfo=UTC), iv.uid))

    def _call_off(self, interview: NominationInterview) -> None:
        """The planned interview does not take place; the nominee stays nominated and can be invited again."""
        interview.cancelled = True
        member = self.member(interview.member_uid)
        if member.nomination is NominationState.GESPREK_GEPLAND:
            member.nomination = NominationState.GENOMINEERD

    def plan_interview(
        self, member_uid: str, start: datetime, interviewer: str | None = None, now: datetime | None = None
    ) -> NominationInterview:
        """Plan (or move) the nomination interview. `now` is kept as the moment it was planned (`planned_at`) when
        this plans it; moving it keeps the first."""
        self._require_planning()
        member = self.member(member_uid)
        self._move(member, NominationState.GESPREK_GEPLAND)
        interview = self.interview_for(member_uid)
        if interview is None:
            interview = NominationInterview(new_uid(), member_uid, appointment_uid=new_uid(), planned_at=now)
            self.interviews.append(interview)
            self.normalise_order()
        elif interview.appointment_uid is None or interview.cancelled:
            # A called-off interview keeps its cancelled Appointment; planning again makes a new one.
            interview.appointment_uid, interview.appointment_source, interview.cancelled = new_uid(), None, False
            interview.planned_at = now
        interview.planned_start = start
        interview.interviewer = interviewer or (r.who if (r := self.regieondersteuner()) else None)
        return interview

    def record_interview(
        self,
        member_uid: str,
        held_at: datetime,
        sections: dict[Section, str],
        interviewer: str | None = None,
        visibility: InterviewVisibility | None = None,
    ) -> NominationInterview:
        """Write down the interview that was held; a new record must say who may read it (`visibility`)."""
        self._require_open()
        member = self.member(member_uid)
        if member.start is not None and held_at.date() < member.start:
            raise DomainError(
                f"Het gesprek kan niet eerder zijn dan de nominatie op {dutch_date(member.start)}. "
                "Vul de datum in waarop het gesprek echt was.",
                f"interview of member {member_uid} held {held_at.date()} before nomination {member.start}",
            )
        interview = self.interview_for(member_uid)
        correcting = (
            interview is not None
            and interview.held_at is not None
            and member.nomination in (NominationState.GESPREK_GEVOERD, NominationState.LID)
        )
        if visibility is None and not correcting:
            raise DomainError(
                "Kies wie het verslag van het gesprek mag lezen: ook de patiënt, of alleen behandelaars.",
                f"interview record for member {member_uid} without a visibility",
            )
        if not correcting:  # a held interview's record may be corrected later; otherwise it moves the nominee on
            self._move(member, NominationState.GESPREK_GEVOERD)
        if interview is None:
            interview = NominationInterview(new_uid(), member_uid)
            self.interviews.append(interview)
            self.normalise_order()
        interview.held_at = held_at
        if visibility is not None:
            interview.visibility = visibility
        interview.sections = {
            k: text
            for k, v in sections.items()
            if (text := check_text(v, "dit onderdeel", f"section {k}", required=False))  # invisible-only: left out
        }
        interview.interviewer = (
            interviewer or interview.interviewer or (r.who if (r := self.regieondersteuner()) else None)
        )
        return interview

    def admit(self, member_uid: str, today: date) -> None:
        """A nominee whose interview was held becomes a member."""
        self._require_open()
        member = self.member(member_uid)
        interview = self.interview_for(member_uid)
        if interview is None or interview.held_at is None:
            raise DomainError(
                f"{member.display} kan pas lid worden na het kennismakingsgesprek.",
                f"member {member_uid} admitted without a held interview",
            )
        self._move(member, NominationState.LID)
        member.start = member.start or today
        member.joined = today

    def decline(self, member_uid: str, today: date, withdrawn: bool = False) -> None:
        """The nominee declines (afgezien) or the nomination is withdrawn (teruggetrokken)."""
        self._require_open()
        member = self.member(member_uid)
        self._move(member, NominationState.TERUGGETROKKEN if withdrawn else NominationState.AFGEZIEN)
        member.end = today

    def leave(self, member_uid: str, today: date) -> None:
        """A member leaves: the membership period ends; the member is never removed."""
        self._require_open()
        member = self.member(member_uid)
        if member.end is not None:
            raise DomainError(f"{member.display} is al uit de groep.", f"member {member_uid} already left")
        if member.who == self.patient:
            raise DomainError(
                "De patiënt is de regisseur en blijft altijd lid.", "the patient cannot leave their own group"
            )
        if MemberRole.REGIEONDERSTEUNER in member.roles:
            others = [
                m for m in self.members if m is not member and MemberRole.REGIEONDERSTEUNER in m.roles and m.active
            ]
            if not others:
                raise DomainError(
                    "Kies eerst een nieuwe regieondersteuner voordat deze de groep verlaat.",
                    "the last regieondersteuner cannot leave",
                )
        member.end = today

    def set_core(self, member_uid: str, core: bool) -> None:
        self._require_open()
        member = self.member(member_uid)
        if not member.active:
            raise DomainError(f"{member.display} is geen lid meer.", f"member {member_uid} is not active")
        member.core = core

    def hand_over(self, to: str, display: str, today: date) -> Member:
        """Hand the group over to another regieondersteuner (the old one's membership ends)."""
        self._require_open()
        if not is_professional_ref(to):
            raise DomainError("Alleen een behandelaar kan regieondersteuner zijn.", f"cannot hand over to {to!r}")
        current = [m for m in self.members if MemberRole.REGIEONDERSTEUNER in m.roles and m.active]
        if any(m.who == to for m in current):
            raise DomainError(
                "Deze behandelaar is al de regieondersteuner.", f"hand over to the current regieondersteuner {to}"
            )
        existing = next((m for m in self.members if m.who == to and m.active), None)
        if existing is not None and existing.nomination is not NominationState.LID:
            raise DomainError(
                f"{existing.display} is nog genomineerd. Rond eerst het kennismakingsgesprek af.",
                f"hand over to nominee {to}",
            )
        for m in current:
            m.end = today
        if existing is not None:
            # Already in the group (e.g. as a member): the same participation gets the role, no second one.
            existing.roles.add(MemberRole.REGIEONDERSTEUNER)
            existing.core = True
            return existing
        new = Member(new_uid(), to, display, {MemberRole.REGIEONDERSTEUNER}, True, NominationState.LID, today)
        self.members.append(new)
        return new

    def take_over(self, to: str, display: str, today: date) -> Member:
        """A colleague takes over a group whose regieondersteuner has left the team (no hand-over was possible)."""
        self._require_open()
        if not is_professional_ref(to):
            raise DomainError("Alleen een behandelaar kan regieondersteuner zijn.", f"cannot take over as {to!r}")
        if self.regieondersteuner() is not None:
            raise DomainError(
                "De groep heeft een regieondersteuner. Vraag die om de groep aan u over te dragen.",
                "take over while the group has an active regieondersteuner",
            )
        existing = next((m for m in self.members if m.who == to and m.active), None)
        if existing is not None:
            existing.roles.add(MemberRole.REGIEONDERSTEUNER)
            existing.core = True
            existing.nomination = NominationState.LID
            return existing
        new = Member(new_uid(), to, display, {MemberRole.REGIEONDERSTEUNER}, True, NominationState.LID, today)
        self.members.append(new)
        return new

    # ------------------------------------------------------------ goals

    def _check_parent(self, goal: Goal, parent_uid: str | None) -> None:
        if parent_uid is None:
            return
        if goal.term is not GoalTerm.KORT:
            raise DomainError(
                "Alleen een doel voor de korte termijn kan bij een doel voor de lange termijn horen.",
                f"goal {goal.uid} is long-term but has a parent",
            )
        parent = self.goal(parent_uid)
        if parent.term is not GoalTerm.LANG:
            raise DomainError(
                "Een doel voor de korte termijn kan alleen bij een doel voor de lange termijn horen.",
                f"goal {goal.uid} points to goal {parent_uid}, which is not long-term",
            )

    def add_goal(
        self,
        text: str,
        term: GoalTerm,
        today: date,
        life_area: LifeArea | None = None,
        due: date | None = None,
        parent_uid: str | None = None,
        proposed: bool = False,
    ) -> Goal:
        """A new goal in the patient's words; a short-term goal may step towards one long-term goal.

        `proposed`: the patient wrote it down themselves; it is their proposal (lifecycle `proposed`) until
        a care professional takes it up (`take_up_goal`).
        """
        self._require_open()
        lifecycle = GoalLifecycle.PROPOSED if proposed else GoalLifecycle.ACTIVE
        goal = Goal(
            new_uid(), check_text(text, "het doel", "goal text"), term, life_area, lifecycle, start=today, due=due
        )
        self._check_parent(goal, parent_uid)
        goal.parent_uid = parent_uid
        self.goals.append(goal)
        return goal

    def edit_goal(
        self,
        uid: str,
        *,
        text: str,
        term: GoalTerm,
        life_area: LifeArea | None,
        due: date | None,
        parent_uid: str | None,
        lifecycle: GoalLifecycle | None = None,
        achievement: GoalAchievement | None = None,
    ) -> Goal:
        """Change a goal as its form shows it (every field given); checks the long/short-term link again."""
        self._require_open()
        goal = self.goal(uid)
        new_term = term
        if new_term is GoalTerm.KORT and any(g.parent_uid == uid for g in self.goals):
            raise DomainError(
                "Aan dit doel hangen stappen voor de korte termijn: het blijft een doel voor de lange termijn.",
                f"goal {uid} has short-term children and cannot become short-term",
            )
        probe = Goal(goal.uid, goal.text, new_term)
        self._check_parent(probe, parent_uid)
        goal.text = check_text(text, "het doel", "goal text")
        goal.term = new_term
        goal.life_area = life_area
        goal.due = due
        goal.parent_uid = parent_uid
        if lifecycle is not None:
            goal.lifecycle = lifecycle
        goal.achievement = achievement if achievement is not None else goal.achievement
        if goal.lifecycle is GoalLifecycle.COMPLETED and goal.achievement is None:
            goal.achievement = GoalAchievement.ACHIEVED
        return goal

    def set_goal_status(self, uid: str, chosen: GoalLifecycle, today: date | None = None) -> Goal:
        """Give a goal the status the user picked, with the achievement that goes with it.

        Achieved sets `achieved` (a reached achievement stays), stopped sets `not-achieved` (a not-attainable one
        stays); going back to active or on hold clears a final achievement to `in-progress`. A non-final
        achievement another system wrote (improving, ...) stays. Picking the status it has changes nothing.
        `today` becomes the goal's status date (Goal.statusDate: when it was reached or stopped).
        """
        self._require_open()
        goal = self.goal(uid)
        if chosen is goal.lifecycle:
            return goal
        goal.lifecycle = chosen
        goal.status_date = today or goal.status_date
        if chosen is GoalLifecycle.COMPLETED:
            if goal.achievement not in GOAL_REACHED:
                goal.achievement = GoalAchievement.ACHIEVED
        elif chosen is GoalLifecycle.CANCELLED:
            if goal.achievement not in GOAL_NOT_REACHED:
                goal.achievement = GoalAchievement.NOT_ACHIEVED
        elif goal.achievement in GOAL_REACHED | GOAL_NOT_REACHED:
            goal.achievement = GoalAchievement.IN_PROGRESS
        return goal

    def take_up_goal(self, uid: str) -> Goal:
        """A goal the patient proposed becomes an active goal of the group (anything else: nothing changes)."""
        self._require_open()
        goal = self.goal(uid)
        if goal.lifecycle is GoalLifecycle.PROPOSED:
            goal.lifecycle = GoalLifecycle.ACTIVE
        return goal

    def add_goal_note(self, uid: str, text: str, when: datetime, author: str | None = None) -> Note:
        self._require_open()
        note = Note(when, check_text(text, "de notitie", "note"), author)
        self.goal(uid).notes.append(note)
        return note

    def score_progress(
        self,
        goal_uid: str,
        score: int,
        when: datetime,
        meeting_uid: str | None = None,
        note: str = "",
        by: str | None = None,
    ) -> ProgressScore:
        """Record a 0-10 progress score for a goal."""
        self._require_open()
        self.goal(goal_uid)
        if meeting_uid is not None:
            self.meeting(meeting_uid)
        if not 0 <= score <= MAX_SCORE:
            raise DomainError("Geef een cijfer van 0 tot en met 10.", f"progress score {score} out of range")
        clean_note = check_text(note, "de toelichting", "note", required=False)
        if meeting_uid is not None:
            # One score per goal per meeting: scoring again at the same meeting corrects the earlier score.
            earlier = next((p for p in self.scores_at(meeting_uid) if p.goal_uid == goal_uid), None)
            if earlier is not None:
                corrected = dataclasses.replace(earlier, score=score, note=clean_note, by=by or earlier.by)
                at = next(i for i, p in enumerate(self.scores_read()) if p is earlier)
                self.progress[at] = corrected  # (a window refuses reading by index, not this)
                return corrected
        entry = ProgressScore(new_uid(), goal_uid, when, score, meeting_uid, clean_note, by)
        self.progress.append(entry)
        self.normalise_order()
        return entry

    def holds_scores_at(self, meeting_uid: str) -> bool:
        """Whether this group holds every score given at a meeting: on a whole load; on a load of the newest scores
        when the meeting started on or after `scores_since`, or on a day the load read whole
        (`hold_scores_since(..., every_score_on=...)`): a score at a meeting counts at the meeting's start. Not for
        an older meeting without its day.

        A held meeting no longer moves. A planned one may have: the app itself never gives a score at a planned
        meeting (a goal's page offers held meetings; a report marks its meeting held in the save that writes its
        scores), so a score at one comes from another system, dated at the meeting's start when it was given. If the
        meeting moved to another day after that, its report does not show that score, and a score the report gives
        for that goal is a second one, not a correction (the record keeps both; nothing is lost). Reading every
        score of a long-running group for every first report (~260 MB per worker for 20,000 scores) is the price
        this spares."""
        held = self.progress
        if not isinstance(held, NewestScores):
            return True
        day = self.scores_day(meeting_uid)
        return day in held.days or self.holds_every_score_from(day, day)

    def scores_day(self, meeting_uid: str) -> date:
        """The day (clinic's zone) whose every score a load of the newest scores also needs to hold every score given
        at a meeting (`holds_scores_at`): the day it starts, held or still planned."""
        return self.meeting(meeting_uid).day

    def scores_at(self, meeting_uid: str) -> list[ProgressScore]:
        """Every score given at a meeting, oldest first; `ScoresNotLoaded` when this group may not hold them all
        (`holds_scores_at`), naming the day that would hold them (`ScoresNotLoaded.day`, `scores_day`)."""
        if not self.holds_scores_at(meeting_uid):
            raise ScoresNotLoaded(
                f"the scores of meeting {meeting_uid} may be older than {self.scores_since}; load them",
                day=self.scores_day(meeting_uid),
            )
        return [p for p in self.scores_read() if p.meeting_uid == meeting_uid]

    def progress_for(self, goal_uid: str) -> list[ProgressScore]:
        """All scores for one goal, oldest first (the data for the chart). Raises `ScoresNotLoaded` on a group that
        holds its newest scores only."""
        return sorted((p for p in self.progress if p.goal_uid == goal_uid), key=lambda p: p.when)

    # ------------------------------------------------------------ a load of the newest scores only

    @property
    def scores_since(self) -> date | None:
        """None when the group holds every score; else the first day (clinic's zone) of the scores it holds:
        every score from that day on is held, older ones were not read (`NewestScores`)."""
        return self.progress.since if isinstance(self.progress, NewestScores) else None

    def held_scores(self) -> list[ProgressScore]:
        """The scores this group holds, oldest first: all of them, or those since `scores_since` (and every score of
        the goals read in full: `holds_every_score_of`), what a page shows as the newest scores. Not the scores of
        older days a load read for a meeting's (`scores_read`)."""
        shown = self._older_days_held()
        if shown is None:
            return list.copy(self.progress)
        start, complete = shown
        return [p for p in list.copy(self.progress) if p.when >= start or p.goal_uid in complete]

    def scores_read(self) -> list[ProgressScore]:
        """Every score this group holds, oldest first: `held_scores` and those of the older days a load read too
        (`hold_scores_since(..., every_score_on=...)`: the scores of an older meeting; `every_score_between`: a page
        of the timeline far back). For a meeting's scores (`scores_at`), a correction, a save and the timeline's
        older days (`holds_every_score_from`), not to show as the newest scores."""
        return list.copy(self.progress)

    def held_scores_for(self, goal_uid: str) -> list[ProgressScore]:
        """The scores this group holds for one goal, oldest first: `progress_for` on a whole load, the goal's scores
        since `scores_since` on a load of the newest scores (a page that says from which day they are), all of them
        where the load read the goal's in full (`holds_every_score_of`). Not the scores of older days a load read for
        a meeting's (`scores_read`)."""
        scores = [p for p in list.copy(self.progress) if p.goal_uid == goal_uid]  # (asked per goal: one pass)
        shown = self._older_days_held()
        if shown is not None and goal_uid not in shown[1]:
            scores = [p for p in scores if p.when >= shown[0]]
        return sorted(scores, key=lambda p: p.when)

    def scores_before(self, meeting_uid: str, *, including: bool) -> ScoresBefore:
        """The scores a meeting's print shows, per goal, oldest first: those given before the meeting started
        (`including`: those given at it too, and up to its end), never a later one, so an older meeting's print does
        not read as if newer scores were given then. On a whole load every such score; on a load of the newest
        scores those since `scores_since` when the meeting started on or after that day (and every score of a goal
        read in full), else those of the meeting's own day where the load read that day whole (an older meeting's
        report: its own scores), else none. `ScoresBefore.since` says from which day they are when not all."""
        meeting = self.meeting(meeting_uid)
        start, end = meeting.start, meeting.end

        def shown(p: ProgressScore) -> bool:
            if including:
                return p.when <= end or p.meeting_uid == meeting_uid
            return p.when < start and p.meeting_uid != meeting_uid

        held = self.progress
        since: date | None = None
        if not isinstance(held, NewestScores):
            chosen = [p for p in list.copy(held) if shown(p)]
        elif start >= day_start(held.since):
            chosen, since = [p for p in self.held_scores() if shown(p)], held.since
        else:
            day = self.scores_day(meeting_uid)
            if not (day in held.days or self.holds_every_score_from(day, day)):
                return ScoresBefore(None, {})
            first = day_start(day)
            chosen, since = [p for p in self.scores_read() if p.when >= first and shown(p)], day
        by_goal: dict[str, list[ProgressScore]] = {}
        for score in sorted(chosen, key=lambda p: p.when):
            by_goal.setdefault(score.goal_uid, []).append(score)
        return ScoresBefore(since, by_goal)

    def _older_days_held(self) -> tuple[datetime, frozenset[str]] | None:
        """When the group also holds older days' scores (for a meeting's or the timeline's, not to show as the
        newest: `held_scores` and `held_scores_for` leave them out): the first moment of the newest scores, and the
        goals whose every score is shown all the same. None when it holds no such day."""
        held = self.progress
        if isinstance(held, NewestScores) and (held.days or held.span is not None):
            return day_start(held.since), held.complete
        return None

    def holds_every_score_from(self, first: date, last: date) -> bool:
        """Whether this group holds every score given on the days from `first` to `last` (clinic's zone, both
        included): on a whole load; on a load of the newest scores for days since `scores_since`, and older days in
        the span a load read whole (`hold_scores_since(..., every_score_between=...)`: a page of the timeline far
        back). `date.min` as `first`: every score up to `last`."""
        held = self.progress
        if not isinstance(held, NewestScores) or first >= held.since:
            return True
        if held.span is None:
            return False
        lo, hi = held.span
        return (lo is None or lo <= first) and hi >= min(last, held.since - timedelta(days=1))

    def holds_every_score_of(self, goal_uid: str) -> bool:
        """Whether this group holds every score of the goal: on a whole load, and for a goal whose scores a load of
        the newest scores read in full (`hold_scores_since(..., every_score_of=...)`)."""
        return not isinstance(self.progress, NewestScores) or goal_uid in self.progress.complete

    def hold_scores_since(
        self,
        since: date,
        every_score_of: Iterable[str] = (),
        every_score_on: Iterable[date] = (),
        every_score_between: DaySpan | None = None,
    ) -> None:
        """Keep only the scores given on or after `since` (clinic's zone), every score of the goals `every_score_of`,
        every score of the older days `every_score_on` and of the older days `every_score_between` (the load read
        all of theirs): the group then says it holds no more. A span from after its last day holds nothing."""
        start = day_start(since)  # one comparison per score
        complete = frozenset(every_score_of)
        days = frozenset(d for d in every_score_on if d < since)
        span = every_score_between
        if span is not None and span[0] is not None and span[0] > span[1]:
            span = None
        spans = [(day_start(d), day_start(d + timedelta(days=1))) for d in days]
        if span is not None:  # (its days from `since` on are held anyway: it may reach on to `date.max`)
            end = start if span[1] >= since else day_start(span[1] + timedelta(days=1))
            spans.append((day_start(span[0]) if span[0] is not None else _EARLIEST, end))
        kept = [
            p
            for p in self.scores_read()
            if p.when >= start or p.goal_uid in complete or any(a <= p.when < b for a, b in spans)
        ]
        self.progress = NewestScores(kept, since, complete, days, span)

    def keep_scores(self, keep: Callable[[ProgressScore], bool]) -> None:
        """Keep only the held scores `keep` says yes to (a redacted copy for a role); the window stays."""
        kept = [p for p in self.scores_read() if keep(p)]
        held = self.progress
        self.progress = (
            NewestScores(kept, held.since, held.complete, held.days, held.span)
            if isinstance(held, NewestScores)
            else kept
        )

    # ------------------------------------------------------------ agreements

    def _check_owner(self, owner: str | None) -> None:
        if owner is not None and not any(m.who == owner and m.active for m in self.members):
            raise DomainError("Kies iemand die lid is van de groep.", f"agreement owner {owner!r} is not a member")

    def _check_goal_for_agreement(self, goal_uid: str) -> None:
        if not self.goal(goal_uid).is_open:
            raise DomainError(
                "Dit doel is bereikt of gestopt. Kies een doel waar nog aan gewerkt wordt, of geen doel.",
                f"goal {goal_uid!r} is closed: no new agreement for it",
            )

    def add_agreement(
        self,
        description: str,
        today: date,
        owner: str | None = None,
        goal_uid: str | None = None,
        due: date | None = None,
    ) -> Agreement:
        """Who does what, by when, for which goal."""
        self._require_open()
        self._check_owner(owner)
        if goal_uid is not None:
            self._check_goal_for_agreement(goal_uid)
        agreement = Agreement(
            new_uid(), check_text(description, "de afspraak", "agreement"), owner, goal_uid, due, created=today
        )
        self.agreements.append(agreement)
        return agreement

    def edit_agreement(
        self,
        uid: str,
        *,
        description: str,
        owner: str | None,
        goal_uid: str | None,
        due: date | None,
        status: AgreementStatus,
    ) -> Agreement:
        self._require_open()
        agreement = self.agreement(uid)
        if owner != agreement.owner:
            self._check_owner(owner)
        if goal_uid is not None and goal_uid != agreement.goal_uid:  # the goal it has may since have been reached
            self._check_goal_for_agreement(goal_uid)
        agreement.description = check_text(description, "de afspraak", "agreement")
        agreement.owner, agreement.goal_uid, agreement.due, agreement.status = owner, goal_uid, due, status
        return agreement

    def mark_agreement_done(
        self, uid: str, note: str = "", when: datetime | None = None, by: str | None = None
    ) -> Agreement:
        """The agreement is done (its owner says so, with a short note if they like); one done already stays
        done, a cancelled one cannot be."""
        self._require_open()
        agreement = self.agreement(uid)
        if agreement.status is AgreementStatus.CANCELLED:
            raise DomainError(
                "Deze afspraak gaat niet meer door. Daarom kan hij niet op klaar.",
                f"agreement {uid} is cancelled and cannot be marked done",
            )
        clean = check_text(note, "de notitie", "note", MAX_NOTE, required=False)
        if clean:
            if when is None:
                raise DomainError("Geef een geldige datum en tijd.", "agreement note without a time")
            agreement.notes.append(Note(when, clean, by))
        agreement.status = AgreementStatus.COMPLETED
        return agreement

    def close_agreement(
        self, uid: str, status: AgreementStatus, note: str = "", when: datetime | None = None, by: str | None = None
    ) -> Agreement:
        """An open agreement is done or dropped (e.g. from the report of a meeting), with a dated note saying so.
        One that is closed already stays as it is when it is closed the same way again."""
        self._require_open()
        agreement = self.agreement(uid)
        if status not in (AgreementStatus.COMPLETED, AgreementStatus.CANCELLED):
            raise DomainError("Kies: klaar of gaat niet door.", f"closing agreement {uid} as {status}")
        if not agreement.is_open:
            if agreement.status is status:
                return agreement
            raise DomainError(
                "Deze afspraak is al afgesloten. Verander hem op de pagina met afspraken.",
                f"agreement {uid} is {agreement.status}, not open",
            )
        clean = check_text(note, "de notitie", "note", MAX_NOTE, required=False)
        if clean:
            if when is None:
                raise DomainError("Geef een geldige datum en tijd.", "agreement note without a time")
            agreement.notes.append(Note(when, clean, by))
        agreement.status = status
        return agreement

    def close_agreement_at(
        self, meeting_uid: str, uid: str, status: AgreementStatus, note: str, when: datetime, by: str | None = None
    ) -> Agreement:
        """An agreement marked done or dropped from the report of a meeting (`close_agreement`): only one that
        existed before that meeting (`Meeting.made_before`), the ones its report lists."""
        meeting = self.meeting(meeting_uid)
        if not meeting.made_before(self.agreement(uid)):
            raise DomainError(
                "Deze afspraak is op of na de dag van deze bijeenkomst gemaakt. U kunt hem niet vanuit dit verslag "
                "afsluiten.",
                f"agreement {uid} is not older than meeting {meeting_uid}",
            )
        return self.close_agreement(uid, status, note, when, by)

    def overdue_agreements(self, today: date) -> list[Agreement]:
        """Open agreements whose date has passed."""
        return [a for a in self.agreements if a.is_overdue(today)]

    # ------------------------------------------------------------ meetings

    def last_held_meeting(self) -> Meeting | None:
        held = [m for m in self.meetings if m.status is MeetingStatus.FULFILLED]
        return max(held, key=lambda m: m.start) if held else None

    def next_meeting(self, now: datetime) -> Meeting | None:
        """The first planned meeting from now on."""
        planned = [
            m for m in self.meetings if m.status in (MeetingStatus.PROPOSED, MeetingStatus.BOOKED) and m.end >= now
        ]
        return min(planned, key=lambda m: m.start) if planned else None

    def propose_next_meeting_time(self, now: datetime) -> tuple[datetime, datetime]:
        """About three months after the last held meeting (same time of day), one hour long."""
        last = self.last_held_meeting()
        if last is not None:
            start = add_months(last.start, MEETING_INTERVAL_MONTHS)
            if start < now:
                start = (now + timedelta(days=14)).replace(hour=last.start.hour, minute=last.start.minute)
        else:
            start = (now + timedelta(days=14)).replace(hour=10, minute=0, second=0, microsecond=0)
        start = start.replace(second=0, microsecond=0)
        return start, start + timedelta(minutes=MEETING_MINUTES)

    def nominee_waits(self, member: Member, now: datetime) -> bool:
        """Whether the team owes a nominee the next step: plan the interview (when planning is possible), write down
        an interview whose time has passed, or decide after it. An interview still to come waits for nobody. The one
        rule of the overview's and the caseload's "needs attention"."""
        if not member.active or self.status is GroupStatus.ENDED:
            return False
        if member.nomination is NominationState.GENOMINEERD:
            return self.may_plan
        if member.nomination is NominationState.GESPREK_GEPLAND:
            interview = self.interview_for(member.uid)
            return interview is not None and interview.planned_start is not None and interview.planned_start < now
        return member.nomination is NominationState.GESPREK_GEVOERD

    def meeting_due(self, now: datetime) -> bool:
        """No meeting planned and the last held one is more than three months ago."""
        if self.status not in (GroupStatus.ACTIVE, GroupStatus.FORMING) or self.next_meeting(now) is not None:
            return False
        last = self.last_held_meeting()
        return last is not None and add_months(last.start, MEETING_INTERVAL_MONTHS) < now

    def plan_meeting(
        self,
        start: datetime,
        end: datetime | None = None,
        place_uid: str | None = None,
        theme: MeetingTheme | None = None,
        theme_text: str = "",
        now: datetime | None = None,
    ) -> Meeting:
        """Plan a meeting; the patient and every active member are participants. `now` is kept as the moment it
        was planned."""
        self._require_planning()
        if start.tzinfo is None:
            raise DomainError("Geef een geldige datum en tijd.", "meeting start without a time zone")
        minutes = MEETING_MINUTES if end is None else minutes_between(start, end)
        if minutes <= 0:
            raise DomainError("De eindtijd moet na de begintijd liggen.", "meeting ends before it starts")
        if minutes > MAX_MEETING_MINUTES:
            raise DomainError("Een bijeenkomst duurt hoogstens een week.", f"meeting of {minutes} minutes")
        if place_uid is not None and not any(p.uid == place_uid for p in self.places):
            raise DomainError("Kies een bekende plek.", f"unknown place {place_uid}")
        if theme is None and theme_text.strip():
            theme = MeetingTheme.ANDERS  # a theme in own words is "another theme"
        meeting = Meeting(
            new_uid(),
            start,
            minutes,
            place_uid=place_uid,
            theme=theme,
            theme_text=check_text(theme_text, "het thema", "theme", MAX_NAME, required=False),
            created=now,
        )
        for m in self.members:
            if m.is_member:
                meeting.participant(m.who)
        self.meetings.append(meeting)
        self.normalise_order()
        return meeting

    def add_place(self, name: str, address: str = "") -> Place:
        """A new place to meet; an earlier place with the same name is reused."""
        self._require_open()
        clean = check_text(name, "de plek", "place name", MAX_NAME)
        for p in self.places:
            if p.name.casefold() == clean.casefold() and p.address == address.strip():
                return p
        place = Place(new_uid(), clean, check_text(address, "het adres", "address", MAX_NAME, required=False))
        self.places.append(place)
        self.normalise_order()
        return place

    def set_meeting_status(self, uid: str, new: MeetingStatus, today: date) -> None:
        """Book, hold, cancel or mark a no-show; held and no-show only from the meeting's day on (`today`: the
        clinic's date, `Meeting.day_has_come`)."""
        self._require_open()
        meeting = self.meeting(uid)
        if new is meeting.status:
            return
        if new not in _MEETING_NEXT[meeting.status]:
            raise DomainError(
                "Deze bijeenkomst kan niet meer van status veranderen.",
                f"illegal meeting transition {meeting.status} -> {new}",
            )
        if new in FROM_ITS_DAY and not meeting.day_has_come(today):
            raise DomainError(
                _NOT_YET_NL[new],
                f"meeting of {meeting.day.isoformat()} marked {new} on {today.isoformat()}, before its day",
            )
        meeting.status = new
        if new is MeetingStatus.FULFILLED and self.status is GroupStatus.FORMING:
            self.status = GroupStatus.ACTIVE

    def planned_meetings(self) -> list[Meeting]:
        """Meetings still planned (proposed or booked), earliest first: what pausing or ending cancels."""
        return sorted((m for m in self.meetings if m.is_planned), key=lambda m: m.start)

    def cancel_meeting(self, uid: str, sent: datetime, message: str = "", calendar: str = "") -> Invitation | None:
        """Cancel a planned meeting; when invitees had an invitation they get a cancellation notice (returned).

        Pausing or ending a group cancels through here before the status changes.
        """
        self._require_open()
        meeting = self.meeting(uid)
        if not meeting.is_planned:
            raise DomainError("Deze bijeenkomst is al geweest of gaat niet door.", f"cancel a {meeting.status} meeting")
        notice = None
        if meeting.invited:
            if not calendar:
                raise DomainError("De afzegging mist de agenda-bijlage.", "cancellation without a calendar")
            recipients = list(dict.fromkeys(r for i in meeting.invitations if not i.cancellation for r in i.recipients))
            notice = Invitation(
                new_uid(),
                recipients,
                check_text(message, "de afzegging", "cancellation"),
                sent,
                calendar,
                cancellation=True,
            )
            meeting.invitations.append(notice)
            self.normalise_order()
        meeting.status = MeetingStatus.CANCELLED
        return notice

    def reschedule_meeting(
        self,
        uid: str,
        start: datetime,
        end: datetime | None = None,
        place_uid: str | None = None,
        theme: MeetingTheme | None = None,
        theme_text: str = "",
    ) -> bool:
        """Move a planned meeting (date, time, place, theme); agenda, roles and participants stay.

        Returns True when the answers were reset to "not yet answered" because the day or time changed.
        """
        self._require_open()
        meeting = self.meeting(uid)
        if not meeting.is_planned:
            raise DomainError(
                "Deze bijeenkomst is al geweest of gaat niet door. U kunt hem niet meer verplaatsen.",
                f"reschedule a {meeting.status} meeting",
            )
        if start.tzinfo is None:
            raise DomainError("Geef een geldige datum en tijd.", "meeting start without a time zone")
        minutes = meeting.minutes if end is None else minutes_between(start, end)
        if minutes <= 0:
            raise DomainError("De eindtijd moet na de begintijd liggen.", "meeting ends before it starts")
        if minutes > MAX_MEETING_MINUTES:
            raise DomainError("Een bijeenkomst duurt hoogstens een week.", f"meeting of {minutes} minutes")
        if place_uid is not None and not any(p.uid == place_uid for p in self.places):
            raise DomainError("Kies een bekende plek.", f"unknown place {place_uid}")
        if theme is None and theme_text.strip():
            theme = MeetingTheme.ANDERS
        text = check_text(theme_text, "het thema", "theme", MAX_NAME, required=False)
        moved = start != meeting.start or minutes != meeting.minutes
        meeting.start, meeting.minutes = start, minutes
        meeting.place_uid, meeting.theme, meeting.theme_text = place_uid, theme, text
        if moved:
            for pos, p in enumerate(meeting.participants):
                if p.response is not ParticipationStatus.NEEDS_ACTION:
                    meeting.participants[pos] = dataclasses.replace(p, response=ParticipationStatus.NEEDS_ACTION)
        self.normalise_order()
        return moved

    def add_calendar_update(self, meeting_uid: str, message: str, sent: datetime, calendar: str) -> Invitation:
        """An updated invitation for the invitees of an invited meeting that was moved."""
        meeting = self.meeting(meeting_uid)
        recipients = list(dict.fromkeys(r for i in meeting.invitations if not i.cancellation for r in i.recipients))
        update = Invitation(new_uid(), recipients, check_text(message, "de uitnodiging", "invitation"), sent, calendar)
        meeting.invitations.append(update)
        self.normalise_order()
        return update

    def assign_role(self, meeting_uid: str, who: str, role: MeetingRole) -> None:
        """Give a member a role in a meeting; a role has one holder at a time."""
        self._require_open()
        meeting = self.meeting(meeting_uid)
        if any(m.who == who and m.active and not m.is_member for m in self.members):
            raise DomainError(
                "Wie genomineerd is, krijgt pas een rol als die persoon lid is geworden (na het kennismakingsgesprek).",
                f"{who!r} is a nominee",
            )
        if not any(m.who == who and m.is_member for m in self.members):
            raise DomainError("Kies iemand die lid is van de groep.", f"{who!r} is not an active member")
        for pos, p in enumerate(meeting.participants):
            if role in p.roles and p.who != who:
                meeting.participants[pos] = dataclasses.replace(p, roles=p.roles - {role})
        holder = meeting.participant(who)
        meeting.update_participant(who, roles=holder.roles | {role})

    def record_response(self, meeting_uid: str, who: str, response: ParticipationStatus) -> None:
        """A care professional writes down someone's answer to the invitation of a meeting still to come (who came
        to a held one is in its report)."""
        self._require_open()
        meeting = self.meeting(meeting_uid)
        if not meeting.is_planned:
            raise DomainError(
                "Deze bijeenkomst is al geweest of gaat niet door. U kunt de antwoorden op de uitnodiging niet meer "
                "wijzigen. Wie er was, staat in het verslag.",
                f"response recorded for a {meeting.status} meeting",
            )
        meeting.update_participant(who, response=response)

    def answer_invitation(self, meeting_uid: str, who: str, response: ParticipationStatus) -> None:
        """A member's own answer to the invitation of a meeting still to come."""
        self._require_open()
        meeting = self.meeting(meeting_uid)
        if not meeting.is_planned:
            raise DomainError(
                "Deze bijeenkomst is al geweest of gaat niet door. Je kunt er niet meer op reageren.",
                f"answer to a {meeting.status} meeting",
            )
        if not any(m.who == who and m.is_member for m in self.members):
            raise DomainError("Alleen leden van de groep reageren op de uitnodiging.", f"{who!r} is not a member")
        if response is ParticipationStatus.NEEDS_ACTION:
            raise DomainError("Kies of je komt, niet komt of misschien komt.", "an answer of needs-action")
        meeting.update_participant(who, response=response)

    def propose_agenda_item(self, meeting_uid: str, text: str, by: str | None = None) -> Agenda:
        """Add an item in own words to the end of the agenda of a meeting still to come, while it is prepared.

        `by` names who proposed it (the patient): the item is shown as their proposal."""
        self._require_open()
        meeting = self.meeting(meeting_uid)
        if not meeting.is_planned:
            raise DomainError(
                "Deze bijeenkomst is al geweest of gaat niet door. Je kunt geen agendapunt meer toevoegen.",
                f"agenda item for a {meeting.status} meeting",
            )
        if meeting.agenda is not None and meeting.agenda.status is not AgendaStatus.PREPARATION:
            raise DomainError(
                "De agenda is al klaar. Vraag de regieondersteuner om je punt nog toe te voegen.",
                f"agenda item for a {meeting.agenda.status} agenda",
            )
        item = AgendaItem(check_text(text, "het agendapunt", "agenda item", MAX_TEXT), proposed_by=by)
        if meeting.agenda is None:
            meeting.agenda = Agenda(new_uid())
        meeting.agenda.items.append(item)
        return meeting.agenda

    def set_agenda(self, meeting_uid: str, items: Iterable[AgendaItem], ready: bool = False) -> Agenda:
        """Replace the agenda items (in order) of a meeting still to come; `ready` marks it finished. A held
        meeting's agenda is what was prepared for it (what was discussed is in its report)."""
        self._require_open()
        meeting = self.meeting(meeting_uid)
        if not meeting.is_planned:
            raise DomainError(
                "Deze bijeenkomst is al geweest of gaat niet door. U kunt de agenda niet meer wijzigen.",
                f"agenda set for a {meeting.status} meeting",
            )
        checked: list[AgendaItem] = []
        for item in items:
            if item.goal_uid is not None:
                self.goal(item.goal_uid)
            if item.agreement_uid is not None:
                self.agreement(item.agreement_uid)
            text = check_text(item.text, "het agendapunt", "agenda item", MAX_TEXT, required=False)
            if not text and item.goal_uid is None and item.agreement_uid is None:
                continue
            checked.append(AgendaItem(text, item.goal_uid, item.agreement_uid, item.proposed_by))
        if meeting.agenda is None:
            meeting.agenda = Agenda(new_uid())
        meeting.agenda.items = checked
        meeting.agenda.status = AgendaStatus.COMPLETED if ready else AgendaStatus.PREPARATION
        return meeting.agenda

    def write_report(
        self,
        meeting_uid: str,
        *,
        sections: dict[Section, str],
        attended: Iterable[str],
        goals_discussed: Iterable[str],
        new_agreements: Iterable[str],
        written: datetime,
    ) -> Report:
        """The report of a held meeting; the meeting is marked held. Only from the meeting's day on: `written` (the
        moment it is written) gives the clinic's date."""
        self._require_open()
        meeting = self.meeting(meeting_uid)
        if not meeting.may_have_report:
            raise DomainError(
                "Voor een afgezegde bijeenkomst schrijft u geen verslag.", f"report on {meeting.status} meeting"
            )
        today = written.astimezone(CLINIC_ZONE).date()
        if not meeting.day_has_come(today):
            raise DomainError(
                "Deze bijeenkomst is nog niet geweest. U kunt er pas vanaf de dag zelf een verslag van maken.",
                f"report written {today.isoformat()} on a meeting of {meeting.day.isoformat()}, before its day",
            )
        if meeting.start > written:
            raise DomainError(
                "Deze bijeenkomst is nog niet begonnen. Schrijf het verslag na de bijeenkomst.",
                f"report written {written.isoformat()} before the meeting starts {meeting.start.isoformat()}",
            )
        goals = [self.goal(g).uid for g in goals_discussed]
        agreements = [self.agreement(a).uid for a in new_agreements]
        present = set(attended)
        for who in present:
            meeting.participant(who)
        for pos, p in enumerate(meeting.participants):
            if p.attended != (p.who in present):
                meeting.participants[pos] = dataclasses.replace(p, attended=p.who in present)
        if meeting.report is None:
            meeting.report = Report(new_uid())
        meeting.report.sections = {
            k: text
            for k, v in sections.items()
            if (text := check_text(v, "dit onderdeel", f"section {k}", required=False))  # invisible-only: left out
        }
        meeting.report.goals_discussed = goals
        meeting.report.new_agreements = agreements
        meeting.report.written = written
        if meeting.status is not MeetingStatus.FULFILLED:
            self.set_meeting_status(meeting_uid, MeetingStatus.FULFILLED, today)
        return meeting.report

    def add_invitation(self, meeting_uid: str, message: str, sent: datetime, calendar: str) -> Invitation:
        """An invitation to every current member (the patient included); a proposed meeting becomes booked."""
        self._require_open()
        meeting = self.meeting(meeting_uid)
        if meeting.status not in (MeetingStatus.PROPOSED, MeetingStatus.BOOKED):
            raise DomainError(
                "Voor deze bijeenkomst stuurt u geen uitnodiging meer: die is al geweest of gaat niet door.",
                f"invitation for a {meeting.status} meeting",
            )
        recipients = [m.who for m in self.members if m.is_member]
        invitation = Invitation(
            new_uid(), recipients, check_text(message, "de uitnodiging", "invitation"), sent, calendar
        )
        meeting.invitations.append(invitation)
        self.normalise_order()
        if meeting.status is MeetingStatus.PROPOSED:
            meeting.status = MeetingStatus.BOOKED
        return invitation

    # ------------------------------------------------------------ the patient's wishes

    def wish(self, uid: str) -> Wish:
        for w in self.wishes:
            if w.uid == uid:
                return w
        raise DomainError("Deze wens hoort niet bij deze groep.", f"no wish {uid}")

    def give_meeting_wish(
        self,
        by: str,
        sent: datetime,
        *,
        place: str = "",
        chair: str | None = None,
        theme: MeetingTheme | None = None,
        text: str = "",
    ) -> Wish:
        """The patient's wishes for the next meeting (place, chair, theme, in own words); at least one."""
        self._require_open()
        clean_place = check_text(place, "de plek", "place", MAX_NAME, required=False)
        clean_text = check_text(text, "je toelichting", "wish text", MAX_TEXT, required=False)
        if chair is not None and not any(m.who == chair and m.is_member for m in self.members):
            raise DomainError("Kies als voorzitter iemand die lid is van de groep.", f"chair {chair!r} is no member")
        if not (clean_place or chair or theme or clean_text):
            raise DomainError(
                "Vul minstens één wens in: een plek, een voorzitter, een thema of iets in je eigen woorden.",
                "empty meeting wish",
            )
        if theme is MeetingTheme.ANDERS and not clean_text:
            raise DomainError("Schrijf bij 'ander thema' welk thema je wilt.", "theme 'anders' without text")
        upcoming = next((m for m in self.meetings if m.is_planned and m.start >= sent), None)
        wish = Wish(
            new_uid(),
            WishKind.MEETING,
            by,
            sent,
            place=clean_place,
            chair=chair,
            theme=theme,
            text=clean_text,
            meeting_uid=upcoming.uid if upcoming else None,
        )
        self.wishes.append(wish)
        self.normalise_order()
        return wish

    def pause_or_end_kinds(self) -> tuple[WishKind, ...]:
        """What the patient can ask for now: a pause only while the group is not paused already."""
        if self.status is GroupStatus.ON_HOLD:
            return (WishKind.END,)
        return (WishKind.PAUSE, WishKind.END)

    def ask_pause_or_end(self, kind: WishKind, by: str, sent: datetime, text: str) -> Wish:
        """The patient asks to pause or to end the group, saying why."""
        self._require_open()
        if kind not in (WishKind.PAUSE, WishKind.END):
            raise DomainError("Kies: pauzeren of stoppen.", f"pause-or-end of kind {kind}")
        if kind is WishKind.PAUSE and self.status is GroupStatus.ON_HOLD:
            raise DomainError("De groep heeft al een pauze.", "pause asked for a group on hold")
        if any(w.is_open and w.kind is kind for w in self.wishes):
            raise DomainError(
                "Je hebt dit al gevraagd. De regieondersteuner neemt contact met je op.", f"open {kind} wish exists"
            )
        clean = check_text(text, "waarom je dit vraagt", "reason", MAX_TEXT)
        wish = Wish(new_uid(), kind, by, sent, text=clean)
        self.wishes.append(wish)
        self.normalise_order()
        return wish

    def take_up_wish(self, uid: str, meeting_uid: str | None = None) -> Wish:
        """A care professional takes an open wish up.

        A meeting wish is applied to `meeting_uid` (a planned meeting; default: the one it was given for): its
        place (a known place of that name, or a new one), chair and theme. A pause or end request is only
        marked: the caller then pauses or ends the group (the service does, telling the invitees of the
        meetings that this cancels).
        """
        self._require_open()
        wish = self._open_wish(uid)
        if wish.kind is WishKind.MEETING:
            target = meeting_uid or wish.meeting_uid
            if target is None:
                raise DomainError(
                    "Er is nog geen bijeenkomst gepland. Plan eerst een bijeenkomst; neem daarna de wens over.",
                    f"meeting wish {uid} without a meeting",
                )
            meeting = self.meeting(target)
            if not meeting.is_planned:
                raise DomainError(
                    "Deze bijeenkomst is al geweest of gaat niet door. Kies de volgende bijeenkomst.",
                    f"take up wish {uid} on a {meeting.status} meeting",
                )
            if wish.place:
                meeting.place_uid = self.add_place(wish.place).uid
            if wish.chair is not None and any(m.who == wish.chair and m.active for m in self.members):
                self.assign_role(meeting.uid, wish.chair, MeetingRole.VOORZITTER)
            if wish.theme is not None:
                meeting.theme = wish.theme
                meeting.theme_text = wish.text[:MAX_NAME] if wish.theme is MeetingTheme.ANDERS else ""
            wish.meeting_uid = meeting.uid
        wish.status = WishStatus.TAKEN_UP
        return wish

    def set_aside_wish(self, uid: str) -> Wish:
        """A care professional has read an open wish and does not take it up (talked it through, for example)."""
        self._require_open()
        wish = self._open_wish(uid)
        wish.status = WishStatus.SET_ASIDE
        return wish

    def _open_wish(self, uid: str) -> Wish:
        wish = self.wish(uid)
        if not wish.is_open:
            raise DomainError("Deze wens is al afgehandeld.", f"wish {uid} is {wish.status}")
        return wish
