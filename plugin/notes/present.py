"""What the agenda and report pages show of one meeting: names, places, items and scores, ready for a template.

Pure reading of the domain aggregate (no I/O). The same view serves the edit pages and the print views, so a
printed agenda or report always says what the screen says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fhir_mappings.codes import AgendaStatus, MeetingRole, Section
from fhir_mappings.model import Agreement, Goal, Meeting, Place, ProgressScore, ResourceGroup
from plugin.notes.forms import AGREEMENT_LINES_MIN, FREE_LINES_MIN, KIND_AGREEMENT, KIND_FREE, KIND_GOAL

ROLE_ORDER = (MeetingRole.VOORZITTER, MeetingRole.NOTULIST, MeetingRole.TIJDBEWAKER)
SECTION_ORDER = (Section.SAMENVATTING, Section.BESLUITEN, Section.OVERIG)


@dataclass(frozen=True)
class AgendaLine:
    """One agenda item as shown: what kind, the text, and for an agreement who and by when."""

    kind: str
    text: str
    agreement: Agreement | None = None


@dataclass(frozen=True)
class ScoreLine:
    goal: Goal | None
    goal_uid: str
    score: ProgressScore


@dataclass
class MeetingNotes:
    """One meeting of one group, seen from its agenda and report."""

    group: ResourceGroup
    meeting: Meeting
    _names: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for m in self.group.members:
            self._names[m.who] = m.display

    # ------------------------------------------------------------------ lookups

    def name(self, who: str | None) -> str:
        """A member's name (the reference itself when it is no member of the group)."""
        if not who:
            return ""
        return self._names.get(who, who)

    def goal(self, uid: str | None) -> Goal | None:
        return next((g for g in self.group.goals if g.uid == uid), None) if uid else None

    def agreement(self, uid: str | None) -> Agreement | None:
        return next((a for a in self.group.agreements if a.uid == uid), None) if uid else None

    def goal_text(self, uid: str) -> str:
        goal = self.goal(uid)
        return goal.text if goal is not None else ""

    @property
    def place(self) -> Place | None:
        return next((p for p in self.group.places if p.uid == self.meeting.place_uid), None)

    @property
    def chair(self) -> str:
        return self.name(self.meeting.chair())

    def roles(self) -> list[tuple[MeetingRole, str]]:
        """(role, name) for every role agreed for this meeting, chair first."""
        out = []
        for role in ROLE_ORDER:
            holder = next((p.who for p in self.meeting.participants if role in p.roles), None)
            if holder is not None:
                out.append((role, self.name(holder)))
        return out

    @property
    def report_possible(self) -> bool:
        """A cancelled meeting, or one that did not take place, gets no report."""
        return self.meeting.may_have_report

    @property
    def agenda_ready(self) -> bool:
        agenda = self.meeting.agenda
        return agenda is not None and agenda.status is AgendaStatus.COMPLETED

    @property
    def agenda_open(self) -> bool:
        """The patient can still add an item: the meeting is to come and the agenda is not ready yet."""
        return self.meeting.is_planned and not self.agenda_ready

    # ------------------------------------------------------------------ agenda

    def agenda_lines(self) -> list[AgendaLine]:
        """The agenda as it stands, in order; goals and agreements by their current words."""
        agenda = self.meeting.agenda
        lines: list[AgendaLine] = []
        for item in agenda.items if agenda is not None else []:
            if item.goal_uid is not None:
                lines.append(AgendaLine(KIND_GOAL, self.goal_text(item.goal_uid) or item.text))
            elif item.agreement_uid is not None:
                agreement = self.agreement(item.agreement_uid)
                lines.append(AgendaLine(KIND_AGREEMENT, agreement.description if agreement else item.text, agreement))
            else:
                lines.append(AgendaLine(KIND_FREE, item.text))
        return lines

    def agenda_rows(self) -> list[dict[str, Any]]:
        """The agenda form's lines: the agenda in order, then open goals and agreements to add, then empty lines."""
        rows: list[dict[str, Any]] = []
        on_agenda: set[tuple[str, str]] = set()
        agenda = self.meeting.agenda
        for item in agenda.items if agenda is not None else []:
            if item.goal_uid is not None:
                rows.append(_row(KIND_GOAL, item.goal_uid, include=True))
                on_agenda.add((KIND_GOAL, item.goal_uid))
            elif item.agreement_uid is not None:
                rows.append(_row(KIND_AGREEMENT, item.agreement_uid, include=True))
                on_agenda.add((KIND_AGREEMENT, item.agreement_uid))
            else:
                rows.append(_row(KIND_FREE, "", text=item.text))
        for goal in self.group.goals:
            if goal.is_open and (KIND_GOAL, goal.uid) not in on_agenda:
                rows.append(_row(KIND_GOAL, goal.uid))
        for agreement in self.group.agreements:
            if agreement.is_open and (KIND_AGREEMENT, agreement.uid) not in on_agenda:
                rows.append(_row(KIND_AGREEMENT, agreement.uid))
        free = sum(1 for r in rows if r["kind"] == KIND_FREE)
        for _ in range(max(1, FREE_LINES_MIN - free)):
            rows.append(_row(KIND_FREE, ""))
        return rows

    def describe(self, kind: str, ref: str) -> str:
        """The words of a goal or agreement line in the agenda form."""
        if kind == KIND_AGREEMENT:
            agreement = self.agreement(ref)
            if agreement is None:
                return ref
            who = self.name(agreement.owner)
            return f"{agreement.description} ({who})" if who else agreement.description
        return self.goal_text(ref) or ref

    # ------------------------------------------------------------------ report

    def scores(self) -> list[ScoreLine]:
        """The newest score per goal given at this meeting, in the order of the goals (`ScoresNotLoaded` when the
        group may not hold them all: `ResourceGroup.holds_scores_at`)."""
        latest: dict[str, ProgressScore] = {}
        for p in self.group.scores_at(self.meeting.uid):  # oldest first: a later score for the same goal wins
            latest[p.goal_uid] = p
        order = {g.uid: i for i, g in enumerate(self.group.goals)}
        return [
            ScoreLine(self.goal(uid), uid, p)
            for uid, p in sorted(latest.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
        ]

    def discussed_without_score(self) -> list[Goal]:
        """Goals the report says were talked about but got no score."""
        report = self.meeting.report
        scored = {s.goal_uid for s in self.scores()}
        goals = (self.goal(uid) for uid in (report.goals_discussed if report else []) if uid not in scored)
        return [g for g in goals if g is not None]

    def attended(self) -> list[str]:
        """The names of everyone who was there."""
        return [self.name(p.who) for p in self.meeting.participants if p.attended]

    def new_agreements(self) -> list[Agreement]:
        report = self.meeting.report
        found = (self.agreement(uid) for uid in (report.new_agreements if report else []))
        return [a for a in found if a is not None]

    def sections(self) -> list[tuple[Section, str]]:
        report = self.meeting.report
        if report is None:
            return []
        return [(s, report.sections[s]) for s in SECTION_ORDER if report.sections.get(s)]

    def attendance_choices(self) -> list[tuple[str, str]]:
        """Who can be ticked as present: today's members and everyone who was invited to this meeting."""
        invited = {p.who for p in self.meeting.participants}
        out: dict[str, str] = {}
        for m in self.group.members:
            if m.is_member or m.who in invited:
                out.setdefault(m.who, m.display)
        return list(out.items())

    def owner_choices(self) -> list[tuple[str, str]]:
        """Who can take on an agreement: the active members."""
        out: dict[str, str] = {}
        for m in self.group.members:
            if m.active:
                out.setdefault(m.who, m.display)
        return list(out.items())

    def goal_choices(self) -> list[tuple[str, str]]:
        return [(g.uid, g.text) for g in self.group.goals if g.is_open]

    def report_data(self) -> dict[str, Any]:
        """The report form as the record has it now (empty lines for a report still to be written)."""
        report = self.meeting.report
        scored = {s.goal_uid: s.score for s in self.scores()}
        agenda = self.meeting.agenda
        on_agenda = {i.goal_uid for i in (agenda.items if agenda else []) if i.goal_uid}
        discussed = set(report.goals_discussed) if report is not None else on_agenda
        wanted = on_agenda | discussed | set(scored)
        rows = []
        for goal in self.group.goals:
            if goal.uid in wanted or goal.is_open:
                score = scored.get(goal.uid)
                rows.append(
                    {
                        "goal": goal.uid,
                        "discussed": goal.uid in discussed or score is not None,
                        "score": str(score.score) if score is not None else "",
                        "note": score.note if score is not None else "",
                    }
                )
        sections = report.sections if report is not None else {}
        return {
            "attended": [p.who for p in self.meeting.participants if p.attended],
            "scores": rows,
            "samenvatting": sections.get(Section.SAMENVATTING, ""),
            "besluiten": sections.get(Section.BESLUITEN, ""),
            "overig": sections.get(Section.OVERIG, ""),
            "agreements": [{} for _ in range(AGREEMENT_LINES_MIN)],
            "close": [{"agreement": a.uid, "outcome": "open"} for a in self.agreements_to_close()],
        }

    def agreements_to_close(self) -> list[Agreement]:
        """The open agreements the report can mark done or dropped ("Agreements made earlier"): those made before
        this meeting (`earlier_agreements`)."""
        return earlier_agreements(self.group.agreements, self.meeting)


def earlier_agreements(agreements: Iterable[Agreement], meeting: Meeting) -> list[Agreement]:
    """The open agreements that already existed before `meeting`, in their order: what its report lists as made
    earlier, to mark done or dropped (`Meeting.made_before`: never the report's own new agreements, none made on
    the meeting's day or later; one without a made-date is kept, or no report could close it)."""
    return [a for a in agreements if a.is_open and meeting.made_before(a)]


def _row(kind: str, ref: str, *, include: bool = False, text: str = "") -> dict[str, Any]:
    return {"kind": kind, "ref": ref, "include": include, "text": text}
