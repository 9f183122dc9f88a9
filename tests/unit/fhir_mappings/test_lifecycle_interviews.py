"""Pausing or ending a group calls off its planned introductory interviews (domain and mapping)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fhir_mappings.codes import GroupStatus, NominationState
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.model import Member, NominationInterview, ResourceGroup
from fhir_mappings.to_fhir import group_to_fhir
from tests.unit.fhir_mappings.factory import AMS, PATIENT, TODAY, full_group


def coach_interview(group: ResourceGroup) -> tuple[Member, NominationInterview | None]:
    coach = next(m for m in group.members if m.who == "Practitioner/pr2")
    return coach, group.interview_for(coach.uid)


def test_pausing_calls_off_planned_interviews_and_the_nominee_stays_nominated() -> None:
    g = full_group()
    coach, interview = coach_interview(g)
    assert g.planned_interviews() == [interview]
    assert interview is not None and interview.appointment_uid is not None
    g.change_status(GroupStatus.ON_HOLD, TODAY)
    assert interview.cancelled
    assert coach.nomination is NominationState.GENOMINEERD and coach.active
    assert g.planned_interviews() == []
    written = {w.uid: w.resource for w in group_to_fhir(g)}
    assert written[interview.appointment_uid]["status"] == "cancelled"


def test_a_held_interview_is_not_called_off_and_resuming_cancels_nothing() -> None:
    g = full_group()
    held = [iv for iv in g.interviews if iv.held_at is not None]
    g.change_status(GroupStatus.ON_HOLD, TODAY)
    assert held and not any(iv.cancelled for iv in held)
    _, interview = coach_interview(g)
    g.change_status(GroupStatus.ACTIVE, TODAY)
    assert interview is not None and interview.cancelled  # stays called off; resuming plans nothing by itself


def test_after_reading_back_the_interview_can_be_planned_again_with_a_new_appointment() -> None:
    g = full_group()
    _, interview = coach_interview(g)
    assert interview is not None
    old_appointment = interview.appointment_uid
    g.change_status(GroupStatus.ON_HOLD, TODAY)
    resources = []
    for i, w in enumerate(group_to_fhir(g)):
        res = dict(w.resource)
        res.setdefault("id", f"id{i}")
        resources.append(res)
    back, _ = group_from_fhir(resources, PATIENT)
    coach_back, interview_back = coach_interview(back)
    assert coach_back.nomination is NominationState.GENOMINEERD
    assert interview_back is None or interview_back.planned_start is None  # a cancelled Appointment plans nothing
    back.change_status(GroupStatus.ACTIVE, TODAY)
    again = back.plan_interview(coach_back.uid, datetime(2026, 5, 1, 10, 0, tzinfo=AMS) + timedelta(days=1))
    assert again.appointment_uid not in (None, old_appointment)
    assert not again.cancelled
    assert coach_back.nomination is NominationState.GESPREK_GEPLAND
