"""The timeline (plugin.group.overview.timeline): every dated event, newest first, who did it, filtered by kind."""

from __future__ import annotations

from datetime import date, datetime

from fhir_mappings.codes import (
    AgreementStatus,
    GoalTerm,
    MeetingStatus,
    MemberRole,
    NominationState,
    WishKind,
)
from fhir_mappings.model import (
    Agreement,
    Goal,
    Invitation,
    Meeting,
    Member,
    NominationInterview,
    Note,
    ProgressScore,
    Report,
    ResourceGroup,
    Supporter,
    Wish,
)
from plugin.group.overview import TIMELINE_KINDS, timeline
from plugin.web.forms import AMSTERDAM


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=AMSTERDAM)


def story() -> ResourceGroup:
    """A group with one event of every dated kind, on distinct days of March 2026."""
    patient = Member(
        "p", "Patient/p", "Sanne", {MemberRole.REGISSEUR}, nomination=NominationState.LID, start=date(2026, 3, 1)
    )
    anna = Member(
        "a",
        "Practitioner/anna",
        "Anna",
        {MemberRole.REGIEONDERSTEUNER},
        nomination=NominationState.LID,
        start=date(2026, 3, 1),
    )
    ans = Member(
        "m",
        "rp-ans",
        "Ans",
        {MemberRole.LID},
        nomination=NominationState.LID,
        start=date(2026, 3, 2),
        proposed_by="Patient/p",
    )
    karim = Member(
        "k",
        "rp-karim",
        "Karim",
        {MemberRole.LID},
        nomination=NominationState.LID,
        start=date(2026, 3, 2),
        end=date(2026, 3, 20),
    )
    piet = Member(
        "x",
        "rp-piet",
        "Piet",
        {MemberRole.LID},
        nomination=NominationState.AFGEZIEN,
        start=date(2026, 3, 3),
        end=date(2026, 3, 4),
    )
    return ResourceGroup(
        uid="ct",
        plan_uid="cp",
        patient="Patient/p",
        name="Sanne's groep",
        start=date(2026, 3, 1),
        end=date(2026, 3, 30),
        members=[patient, anna, ans, karim, piet],
        supporters=[
            Supporter("rp-ans", "Ans", "MTH", "x"),
            Supporter("rp-karim", "Karim", "FRND", "x"),
            Supporter("rp-piet", "Piet", "FRND", "x"),
        ],
        interviews=[
            NominationInterview("i1", "m", planned_start=at(5), held_at=at(6), interviewer="Practitioner/anna"),
            NominationInterview("i2", "k", planned_start=at(7), cancelled=True, interviewer="Practitioner/anna"),
        ],
        goals=[Goal("g", "Weer werken", GoalTerm.LANG, start=date(2026, 3, 8))],
        progress=[ProgressScore("s", "g", at(9), 6, by="Patient/p")],
        agreements=[
            Agreement(
                "ag",
                "Ans belt de werkgever",
                owner="rp-ans",
                created=date(2026, 3, 10),
                status=AgreementStatus.COMPLETED,
                notes=[Note(at(12), "Gebeld", "rp-ans")],
            )
        ],
        meetings=[
            Meeting(
                "mt",
                at(15, 19),
                status=MeetingStatus.FULFILLED,
                invitations=[Invitation("inv", ["rp-ans"], "Kom", sent=at(11))],
                report=Report("r", written=at(16)),
            ),
            Meeting(
                "mc",
                at(25, 19),
                status=MeetingStatus.CANCELLED,
                invitations=[
                    Invitation("inv2", ["rp-ans"], "Kom", sent=at(17)),
                    Invitation("inv3", ["rp-ans"], "Gaat niet door", sent=at(18), cancellation=True),
                ],
            ),
        ],
        wishes=[Wish("w", WishKind.PAUSE, "Patient/p", at(19), text="Even rust")],
    )


def texts(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.text for e in events]


def test_every_dated_event_newest_first() -> None:
    events = timeline(story())
    assert [e.when for e in events] == sorted((e.when for e in events), reverse=True)
    joined = "\n".join(texts(events))
    for expected in (
        "The group Sanne's groep started.",
        "Sanne joined the group.",
        "Ans was nominated.",
        "Introductory interview with Ans held.",
        "The introductory interview with Karim was called off.",
        "Karim left the group.",
        "Piet decided not to join.",
        "Goal set: Weer werken",
        "Score 6 given for the goal: Weer werken",
        "Agreement made: Ans belt de werkgever",
        "Agreement done: Ans belt de werkgever",
        "Invitation sent for the meeting of 15-03-2026.",
        "Meeting held.",
        "Report of the meeting of 15-03-2026 written.",
        "Cancellation sent for the meeting of 25-03-2026.",
        "Meeting cancelled.",
        "A pause of the group was asked for.",
        "The group ended.",
    ):
        assert expected in joined, expected
    assert events[0].text == "The group ended."
    assert events[-1].text == "The group Sanne's groep started." or events[-1].when == events[-2].when


def test_who_did_it_where_the_record_says() -> None:
    by = {e.text: e.who for e in timeline(story())}
    assert by["Ans was nominated."] == "Sanne"
    assert by["Introductory interview with Ans held."] == "Anna"
    assert by["Score 6 given for the goal: Weer werken"] == "Sanne"
    assert by["Agreement done: Ans belt de werkgever"] == "Ans"
    assert by["A pause of the group was asked for."] == "Sanne"
    assert by["The group ended."] == ""


def test_filter_by_kind() -> None:
    g = story()
    every = timeline(g)
    parts = {kind: timeline(g, kind) for kind in TIMELINE_KINDS.values()}
    assert sum(len(p) for p in parts.values()) == len(every)
    for kind, part in parts.items():
        assert part and all(e.kind == kind for e in part)
    assert texts(parts["agreements"]) == [
        "Agreement done: Ans belt de werkgever",
        "Agreement made: Ans belt de werkgever",
    ]
    assert "A pause of the group was asked for." in texts(parts["group"])
    assert timeline(ResourceGroup(uid="c", plan_uid="p", patient="Patient/p", name="G"), "goals") == []
