"""The patient's own input (issue 11): proposals, wishes and requests, in the domain and in FHIR."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest

from fhir_mappings.codes import (
    CS_WISH_KIND,
    EXT_NOMINATION_REASON,
    EXT_PROPOSED_BY,
    GoalLifecycle,
    GroupStatus,
    MeetingRole,
    MeetingTheme,
    WishKind,
    WishStatus,
)
from fhir_mappings.errors import DomainError
from fhir_mappings.fhirjson import extension
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.rights import Role, actor_in, visible_to
from fhir_mappings.to_fhir import group_to_fhir
from tests.unit.fhir_mappings.factory import AMS, PATIENT, TODAY, full_group, group_with_patient_input

LATER = datetime(2026, 4, 20, 19, 0, tzinfo=AMS)


@contextmanager
def refused(words: str) -> Iterator[None]:
    """The block raises a DomainError whose Dutch message contains `words`."""
    with pytest.raises(DomainError) as caught:
        yield
    assert words in caught.value.user_message


def test_everything_the_patient_puts_forward_roundtrips_and_is_marked_as_theirs() -> None:
    g = group_with_patient_input()
    written = group_to_fhir(g)
    back, _ = group_from_fhir([w.resource for w in written], g.patient)
    assert back == g
    neighbour = next(m for m in back.members if m.display == "Fatima (buurvrouw)")
    assert neighbour.proposed_by == PATIENT and neighbour.reason == "Ze helpt me als het druk is."
    assert next(x for x in back.goals if x.text == "Weer gaan zwemmen").lifecycle is GoalLifecycle.PROPOSED
    agenda = back.meetings[-1].agenda
    assert agenda is not None and agenda.items[-1].proposed_by == PATIENT
    assert [p.by for p in back.progress if p.by] == [PATIENT]
    assert back.agreements[-1].notes[0].text == "Twee sportscholen bekeken."
    assert [(w.kind, w.status) for w in back.wishes] == [
        (WishKind.MEETING, WishStatus.OPEN),
        (WishKind.PAUSE, WishStatus.OPEN),
    ]
    meeting_wish = back.wishes[0]
    assert meeting_wish.place == "Bij mij thuis" and meeting_wish.theme is MeetingTheme.SIGNALERINGSPLAN
    assert meeting_wish.meeting_uid == back.meetings[-1].uid and meeting_wish.chair is not None


def test_the_fhir_shape_of_a_wish_a_nomination_and_a_score() -> None:
    g = group_with_patient_input()
    by_uid = {w.uid: w.resource for w in group_to_fhir(g)}
    wish = by_uid[g.wishes[0].uid]
    assert wish["resourceType"] == "Communication" and wish["status"] == "in-progress"
    assert wish["topic"]["coding"][0] == {
        "system": CS_WISH_KIND,
        "code": "bijeenkomst",
        "display": "Wens voor de volgende bijeenkomst",
    }
    assert wish["sender"] == {"reference": PATIENT}
    assert wish["recipient"] == [{"reference": f"urn:uuid:{g.uid}"}]
    assert wish["reasonCode"][0]["coding"][0]["code"] == "signaleringsplan"
    assert [p.get("contentString") or p["contentReference"]["display"] for p in wish["payload"]] == [
        "Bij mij thuis",
        "Ans de Vries",
    ]
    team = by_uid[g.uid]
    nominee = next(p for p in team["participant"] if p["member"].get("display") == "Fatima (buurvrouw)")
    assert extension(nominee, EXT_PROPOSED_BY) == {"url": EXT_PROPOSED_BY, "valueReference": {"reference": PATIENT}}
    assert extension(nominee, EXT_NOMINATION_REASON)["valueString"] == "Ze helpt me als het druk is."  # type: ignore[index]
    score = by_uid[next(p.uid for p in g.progress if p.by)]
    assert score["performer"] == [{"reference": PATIENT}]


def test_a_meeting_wish_needs_something_and_a_chair_who_is_a_member() -> None:
    g = full_group()
    with refused("minstens één wens"):
        g.give_meeting_wish(PATIENT, LATER, place="  ")
    with refused("voorzitter iemand die lid"):
        g.give_meeting_wish(PATIENT, LATER, chair="Practitioner/pr2")  # nominee, interview not held
    with refused("ander thema"):
        g.give_meeting_wish(PATIENT, LATER, theme=MeetingTheme.ANDERS)
    assert not g.wishes


def test_taking_up_a_meeting_wish_sets_place_chair_and_theme_on_the_meeting() -> None:
    g = full_group()
    karim = next(m.who for m in g.members if m.display == "Karim")
    wish = g.give_meeting_wish(PATIENT, LATER, place="Bij mij thuis", chair=karim, theme=MeetingTheme.STRESS)
    meeting = g.meeting(wish.meeting_uid or "")
    g.take_up_wish(wish.uid)
    assert wish.status is WishStatus.TAKEN_UP
    place = next(p for p in g.places if p.uid == meeting.place_uid)
    assert place.name == "Bij mij thuis"
    assert meeting.chair() == karim and MeetingRole.VOORZITTER in meeting.participant(karim).roles
    assert meeting.theme is MeetingTheme.STRESS
    with refused("al afgehandeld"):
        g.take_up_wish(wish.uid)


def test_a_meeting_wish_without_a_planned_meeting_waits_for_one() -> None:
    g = full_group()
    for m in g.planned_meetings():
        g.set_meeting_status(m.uid, m.status.__class__("cancelled"), TODAY)
    wish = g.give_meeting_wish(PATIENT, LATER, text="Graag in de middag")
    assert wish.meeting_uid is None
    with refused("Plan eerst een bijeenkomst"):
        g.take_up_wish(wish.uid)
    planned = g.plan_meeting(LATER + timedelta(days=30))
    g.take_up_wish(wish.uid, planned.uid)
    assert wish.status is WishStatus.TAKEN_UP and wish.meeting_uid == planned.uid


def test_a_pause_request_is_asked_once_and_set_aside_or_taken_up() -> None:
    g = full_group()
    with refused("waarom"):
        g.ask_pause_or_end(WishKind.PAUSE, PATIENT, LATER, " ")
    first = g.ask_pause_or_end(WishKind.PAUSE, PATIENT, LATER, "Op reis")
    with refused("al gevraagd"):
        g.ask_pause_or_end(WishKind.PAUSE, PATIENT, LATER, "Nog eens")
    g.set_aside_wish(first.uid)
    assert first.status is WishStatus.SET_ASIDE
    again = g.ask_pause_or_end(WishKind.PAUSE, PATIENT, LATER, "Toch graag")
    g.take_up_wish(again.uid)
    assert again.status is WishStatus.TAKEN_UP
    assert g.status is GroupStatus.ACTIVE  # the service pauses the group (with notices); the model only marks


def test_a_proposed_goal_is_taken_up_once() -> None:
    g = full_group()
    goal = g.add_goal("Weer gaan zwemmen", g.goals[0].term, TODAY, proposed=True)
    assert goal.lifecycle is GoalLifecycle.PROPOSED
    g.take_up_goal(goal.uid)
    assert goal.lifecycle is GoalLifecycle.ACTIVE
    g.set_goal_status(goal.uid, GoalLifecycle.ON_HOLD)
    g.take_up_goal(goal.uid)
    assert goal.lifecycle is GoalLifecycle.ON_HOLD  # only a proposal is taken up


def test_a_score_at_a_meeting_is_one_per_goal_and_names_who_gave_it_last() -> None:
    g = full_group()
    held = g.meetings[0]
    goal_uid = g.goals[0].uid
    before = len(g.progress)
    g.score_progress(goal_uid, 7, held.start, held.uid, by=PATIENT)
    assert len(g.progress) == before
    assert [(p.score, p.by) for p in g.progress if p.meeting_uid == held.uid and p.goal_uid == goal_uid] == [
        (7, PATIENT)
    ]
    own = g.score_progress(goal_uid, 6, LATER, by=PATIENT)  # her own score before the next meeting
    assert len(g.progress) == before + 1 and own.meeting_uid is None


def test_members_do_not_see_the_patients_wishes() -> None:
    g = group_with_patient_input()
    mother = next(m.who for m in g.members if m.display == "Ans de Vries")
    member = actor_in(g, mother)
    assert member.role is Role.MEMBER
    assert visible_to(g, member).wishes == []
    assert visible_to(g, actor_in(g, PATIENT)).wishes == g.wishes


def test_a_done_note_is_short_and_needs_a_time() -> None:
    g = copy.deepcopy(full_group())
    a = g.agreements[-1]
    with refused("maximaal 500"):
        g.mark_agreement_done(a.uid, "x" * 501, LATER, a.owner)
    with refused("geldige datum"):
        g.mark_agreement_done(a.uid, "Gedaan", None, a.owner)
    g.mark_agreement_done(a.uid, "  Gedaan  ", LATER, a.owner)
    assert [n.text for n in a.notes] == ["Gedaan"] and a.notes[0].author == a.owner
    assert date(2026, 4, 20) == a.notes[0].time.date()
