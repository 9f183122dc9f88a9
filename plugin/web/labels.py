"""Words the pages use for the domain's codes (msgids in English; Dutch by Babel: the words of RACT).

One place for every label, so the same code reads the same on every page. The Dutch label of a product code
is its CodeSystem display (fhir_mappings/codesystems), with a small first letter; tests/unit/language holds that.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from fhir_mappings.codes import (
    AgendaStatus,
    AgreementStatus,
    GoalLifecycle,
    GoalTerm,
    GroupStatus,
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
from plugin.i18n import gettext


def _l(msgid: str) -> str:
    """Marks a label's msgid for extraction (`-k _l`); `label` translates it for the request."""
    return msgid


# Keyed by (enum type, value): the codes are StrEnums, and e.g. GroupStatus.ACTIVE == GoalLifecycle.ACTIVE.
_PAIRS: list[tuple[Enum, str]] = [
    (GroupStatus.FORMING, _l("being formed")),
    (GroupStatus.ACTIVE, _l("active")),
    (GroupStatus.ON_HOLD, _l("paused")),
    (GroupStatus.ENDED, _l("ended")),
    (MemberRole.REGISSEUR, _l("director")),
    (MemberRole.REGIEONDERSTEUNER, _l("recovery coordinator")),
    (MemberRole.LID, _l("member")),
    (NominationState.GENOMINEERD, _l("nominated")),
    (NominationState.GESPREK_GEPLAND, _l("interview planned")),
    (NominationState.GESPREK_GEVOERD, _l("interview held")),
    (NominationState.LID, _l("member")),
    (NominationState.AFGEZIEN, _l("declined")),
    (NominationState.TERUGGETROKKEN, _l("withdrawn")),
    (MeetingRole.VOORZITTER, _l("chair")),
    (MeetingRole.NOTULIST, _l("minute taker")),
    (MeetingRole.TIJDBEWAKER, _l("time keeper")),
    (LifeArea.WONEN, _l("living")),
    (LifeArea.DAGBESTEDING, _l("daytime activities and work")),
    (LifeArea.SPORT, _l("sport and exercise")),
    (LifeArea.GELD, _l("money")),
    (LifeArea.CONTACT, _l("contact with others")),
    (LifeArea.GEVOEL, _l("health and feelings")),
    (LifeArea.ANDERS, _l("something else")),
    (GoalTerm.KORT, _l("short term")),
    (GoalTerm.LANG, _l("long term")),
    (MeetingTheme.STRESS, _l("coping with stress")),
    (MeetingTheme.SIGNALERINGSPLAN, _l("early warning signs")),
    (MeetingTheme.HERORIENTATIE, _l("looking again at goals and members")),
    (MeetingTheme.ANDERS, _l("another theme")),
    (Section.VERWACHTINGEN, _l("Expectations")),
    (Section.INZET, _l("Commitment")),
    (Section.RELATIE, _l("Relationship and history")),
    (Section.BIJDRAGE, _l("Contribution to the goals")),
    (Section.SAMENVATTING, _l("What was discussed")),
    (Section.BESLUITEN, _l("Decisions")),
    (Section.OVERIG, _l("Other")),
    (GoalLifecycle.PROPOSED, _l("proposed")),
    (GoalLifecycle.PLANNED, _l("planned")),
    (GoalLifecycle.ACCEPTED, _l("accepted")),
    (GoalLifecycle.ACTIVE, _l("working on it")),
    (GoalLifecycle.ON_HOLD, _l("on hold")),
    (GoalLifecycle.COMPLETED, _l("achieved")),
    (GoalLifecycle.CANCELLED, _l("stopped")),
    (GoalLifecycle.ENTERED_IN_ERROR, _l("entered in error")),
    (GoalLifecycle.REJECTED, _l("rejected")),
    (AgreementStatus.REQUESTED, _l("agreed")),
    (AgreementStatus.ACCEPTED, _l("taken on")),  # by whoever does it; "accepted" read too much like "agreed"
    (AgreementStatus.IN_PROGRESS, _l("in progress")),
    (AgreementStatus.COMPLETED, _l("done")),
    (AgreementStatus.CANCELLED, _l("not going ahead")),
    (MeetingStatus.PROPOSED, _l("planned")),
    (MeetingStatus.BOOKED, _l("invitations sent")),
    (MeetingStatus.FULFILLED, _l("held")),
    (MeetingStatus.CANCELLED, _l("cancelled")),
    (MeetingStatus.NOSHOW, _l("did not take place")),
    (ParticipationStatus.NEEDS_ACTION, _l("no answer yet")),
    (ParticipationStatus.ACCEPTED, _l("will come")),
    (ParticipationStatus.DECLINED, _l("cannot come")),
    (ParticipationStatus.TENTATIVE, _l("maybe")),
    (AgendaStatus.PREPARATION, _l("being prepared")),
    (AgendaStatus.COMPLETED, _l("ready")),
    (WishKind.MEETING, _l("wish for the next meeting")),
    (WishKind.PAUSE, _l("request for a pause")),
    (WishKind.END, _l("request to end the group")),
    (WishStatus.OPEN, _l("not taken up yet")),
    (WishStatus.TAKEN_UP, _l("taken up")),
    (WishStatus.SET_ASIDE, _l("read, not taken up")),
]
LABELS: dict[tuple[type, str], str] = {(type(k), str(k.value)): v for k, v in _PAIRS}


def label(value: Enum | None) -> str:
    """The user's word for a code (the code itself when no label exists)."""
    if value is None:
        return ""
    code = str(getattr(value, "value", value))
    msgid = LABELS.get((type(value), code))
    return gettext(msgid) if msgid is not None else code


def choices(values: Sequence[Enum]) -> list[tuple[str, str]]:
    """(code, label) pairs for a select or radio list."""
    return [(str(v.value), label(v)) for v in values]


def group_status_label(status: GroupStatus) -> str:
    return label(status)


def yes_no(value: bool) -> str:
    return gettext("yes") if value else gettext("no")
