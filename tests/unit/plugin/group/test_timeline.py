"""The timeline (plugin.group.overview.timeline): every dated event, newest first, who did it, filtered by kind."""

from __future__ import annotations

from datetime import date, datetime

from fhir_mappings.codes import (
    AgreementStatus,
    GoalLifecycle,
    GoalTerm,
    GroupStatus,
    MeetingStatus,
    MemberRole,
    NominationState,
    WishKind,
)
from fhir_mappings.model import (
    CLINIC_ZONE,
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
    StatusChange,
    Supporter,
    Wish,
)
from plugin.group.overview import TIMELINE_KINDS, timeline


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=CLINIC_ZONE)


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
        "Invitation sent for the meeting of March 15, 2026.",
        "Meeting held.",
        "Report of the meeting of March 15, 2026 written.",
        "Cancellation sent for the meeting of March 25, 2026.",
        "A pause of the group was asked for.",
        "The group ended.",
    ):
        assert expected in joined, expected
    assert events[0].text == "The group ended."
    assert events[-1].text == "The group Sanne's groep started." or events[-1].when == events[-2].when
    # The cancelled meeting was announced: the cancellation shows when it went out, not again at its own start.
    assert "Meeting cancelled." not in joined


def test_a_meeting_cancelled_without_a_word_shows_as_cancelled_at_its_start() -> None:
    g = story()
    g.meeting("mc").invitations = []
    cancelled = [e for e in timeline(g) if e.text == "Meeting cancelled."]
    assert [e.when for e in cancelled] == [at(25, 19)]


def test_of_events_at_one_moment_the_one_recorded_later_comes_first() -> None:
    """Newest first also within a day whose events carry no time: a joining above its nomination, a resume above
    the pause of the same day."""
    g = story()
    g.member("m").joined = date(2026, 3, 2)  # nominated and joined on one day
    anna = "Practitioner/anna"
    g.status_changes = [
        StatusChange(GroupStatus.ACTIVE, GroupStatus.ON_HOLD, date(2026, 3, 22), anna),
        StatusChange(GroupStatus.ON_HOLD, GroupStatus.ACTIVE, date(2026, 3, 22), anna),
    ]
    shown = texts(timeline(g))
    assert shown.index("Ans joined the group.") < shown.index("Ans was nominated.")
    resumed = next(t for t in shown if "resumed" in t)
    paused = next(t for t in shown if "paused" in t)
    assert shown.index(resumed) < shown.index(paused), shown


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


def story_with_event_dates() -> ResourceGroup:
    """The story, with the dates the record now keeps: Ans joined (nominated on the 2nd, joined on the 7th), the
    goal reached, when the held meeting was planned, and the group paused, resumed, ended, reopened and ended."""
    g = story()
    g.member("m").joined = date(2026, 3, 7)
    goal = g.goal("g")
    goal.lifecycle, goal.status_date = GoalLifecycle.COMPLETED, date(2026, 3, 21)
    g.meeting("mt").created = at(13, 9)
    anna = "Practitioner/anna"
    g.status_changes = [
        StatusChange(GroupStatus.FORMING, GroupStatus.ACTIVE, date(2026, 3, 1), anna),
        StatusChange(GroupStatus.ACTIVE, GroupStatus.ON_HOLD, date(2026, 3, 22), anna),
        StatusChange(GroupStatus.ON_HOLD, GroupStatus.ACTIVE, date(2026, 3, 24), anna),
        StatusChange(GroupStatus.ACTIVE, GroupStatus.ENDED, date(2026, 3, 26), anna),
        StatusChange(GroupStatus.ENDED, GroupStatus.ACTIVE, date(2026, 3, 27), "Patient/p"),
        StatusChange(GroupStatus.ACTIVE, GroupStatus.ENDED, date(2026, 3, 30), None),
    ]
    return g


def _events(group: ResourceGroup) -> list[tuple[date, str, str, str]]:
    return [(e.when.date(), e.text, e.kind, e.who) for e in timeline(group)]


def test_a_nominee_joining_is_an_event_of_its_own() -> None:
    events = _events(story_with_event_dates())
    assert (date(2026, 3, 2), "Ans was nominated.", "members", "Sanne") in events
    assert (date(2026, 3, 7), "Ans joined the group.", "members", "") in events


def test_a_goal_reached_or_stopped_is_shown_on_its_status_date() -> None:
    g = story_with_event_dates()
    assert (date(2026, 3, 21), "Goal reached: Weer werken", "goals", "") in _events(g)
    g.goal("g").lifecycle = GoalLifecycle.CANCELLED
    assert (date(2026, 3, 21), "Goal stopped: Weer werken", "goals", "") in _events(g)
    g.goal("g").lifecycle = GoalLifecycle.ACTIVE  # taken up again: no longer reached
    assert not [e for e in _events(g) if e[1].startswith(("Goal reached", "Goal stopped"))]


def test_when_a_meeting_was_planned_is_shown() -> None:
    events = timeline(story_with_event_dates(), "meetings")
    planned = [e for e in events if e.text == "The meeting of March 15, 2026 was planned."]
    assert [(e.when, e.all_day) for e in planned] == [(at(13, 9), False)]


def test_pause_resume_end_and_reopen_are_shown_with_who_did_them() -> None:
    group_events = [(day, text, who) for day, text, kind, who in _events(story_with_event_dates()) if kind == "group"]
    assert group_events == [
        (date(2026, 3, 30), "The group ended.", ""),
        (date(2026, 3, 27), "The group was reopened.", "Sanne"),
        (date(2026, 3, 26), "The group ended.", "Anna"),
        (date(2026, 3, 24), "The group was resumed.", "Anna"),
        (date(2026, 3, 22), "The group was paused.", "Anna"),
        (date(2026, 3, 19), "A pause of the group was asked for.", "Sanne"),
        (date(2026, 3, 1), "The group Sanne's groep started.", ""),
    ]


def test_old_data_without_the_event_dates_shows_no_such_events() -> None:
    shown = texts(timeline(story()))
    assert "Ans joined the group." not in shown
    assert "The group ended." in shown  # the end date alone still tells that
    for new in ("Goal reached", "Goal stopped", "was planned.", "was paused", "was resumed", "was reopened"):
        assert not [t for t in shown if new in t], new
