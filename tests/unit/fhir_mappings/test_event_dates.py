"""The dates of the group's story the timeline shows (issue 15), kept in the record in both mapping modes: the
day a nominee joined (our member-joined extension; participant.period.start stays the nomination date), a goal
reached or stopped (Goal.statusDate), when a meeting was planned (Appointment.created) and the group's status
changes (our status-change extensions on the CarePlan). A record without them reads as before."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from fhir_mappings.codes import (
    EXT_MEMBER_JOINED,
    EXT_MEMBER_PERIOD,
    EXT_STATUS_CHANGE,
    GoalLifecycle,
    GroupStatus,
    NominationState,
)
from fhir_mappings.fhirjson import Json
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.model import ResourceGroup, StatusChange
from fhir_mappings.profiles import MappingMode
from fhir_mappings.to_fhir import group_to_fhir
from tests.unit.fhir_mappings.factory import AMS, CLINICIAN, PATIENT, TODAY, full_group

MODES = list(MappingMode)


def written(group: ResourceGroup, mode: MappingMode) -> list[Json]:
    return [w.resource for w in group_to_fhir(group, mode=mode)]


def one(resources: list[Json], rtype: str) -> Json:
    return next(r for r in resources if r["resourceType"] == rtype)


def read_back(resources: list[Json]) -> ResourceGroup:
    return group_from_fhir(resources, PATIENT)[0]


def _joined_member(g: ResourceGroup) -> tuple[str, date, date]:
    member = next(m for m in g.members if m.nomination is NominationState.LID and m.joined is not None)
    assert member.start is not None and member.joined is not None and member.joined != member.start
    return member.uid, member.start, member.joined


@pytest.mark.parametrize("mode", MODES)
def test_the_day_a_nominee_joined_round_trips_and_the_nomination_date_stays(mode: MappingMode) -> None:
    g = full_group()  # Ans is nominated on TODAY and joins eight days later
    uid, nominated, joined = _joined_member(g)
    resources = written(g, mode)
    part = next(p for p in one(resources, "CareTeam")["participant"] if p.get("id") == uid)
    assert {"url": EXT_MEMBER_JOINED, "valueDate": joined.isoformat()} in part["extension"]
    period = part.get("period") or next(e for e in part["extension"] if e["url"] == EXT_MEMBER_PERIOD)["valuePeriod"]
    assert period["start"] == nominated.isoformat()
    back = read_back(resources).member(uid)
    assert (back.start, back.joined) == (nominated, joined)


@pytest.mark.parametrize("mode", MODES)
def test_the_day_a_goal_was_reached_round_trips_as_goal_status_date(mode: MappingMode) -> None:
    g = full_group()
    goal = g.goals[0]
    reached = TODAY + timedelta(days=40)
    g.set_goal_status(goal.uid, GoalLifecycle.COMPLETED, reached)
    resources = written(g, mode)
    res = next(r for r in resources if r["resourceType"] == "Goal" and r["description"]["text"] == goal.text)
    assert res["statusDate"] == reached.isoformat()
    assert read_back(resources).goal(goal.uid).status_date == reached


def test_a_goal_status_date_only_moves_when_the_status_changes() -> None:
    g = full_group()
    goal = g.goals[0]
    g.set_goal_status(goal.uid, GoalLifecycle.CANCELLED, TODAY + timedelta(days=3))
    g.set_goal_status(goal.uid, GoalLifecycle.CANCELLED, TODAY + timedelta(days=9))  # the same status again
    assert goal.status_date == TODAY + timedelta(days=3)


@pytest.mark.parametrize("mode", MODES)
def test_when_a_meeting_was_planned_round_trips_as_appointment_created(mode: MappingMode) -> None:
    g = full_group()
    planned = datetime(2026, 4, 20, 11, 15, tzinfo=AMS)
    meeting = g.plan_meeting(datetime(2026, 6, 1, 19, 0, tzinfo=AMS), now=planned)
    resources = written(g, mode)
    res = next(r for r in resources if r["resourceType"] == "Appointment" and r["start"].startswith("2026-06-01"))
    assert res["created"] == "2026-04-20T11:15:00+02:00"
    assert read_back(resources).meeting(meeting.uid).created == planned


@pytest.mark.parametrize("mode", MODES)
def test_when_an_interview_was_planned_round_trips_as_appointment_created_and_moving_it_keeps_that(
    mode: MappingMode,
) -> None:
    g = full_group()
    nominee = g.nominate("Practitioner/nieuw", "Nieuwe Collega", TODAY)
    planned = datetime(2026, 4, 20, 11, 15, tzinfo=AMS)
    interview = g.plan_interview(nominee.uid, datetime(2026, 5, 4, 10, 0, tzinfo=AMS), now=planned)
    g.plan_interview(nominee.uid, datetime(2026, 5, 6, 10, 0, tzinfo=AMS), now=planned + timedelta(days=3))
    assert interview.planned_at == planned  # moved: still planned when it was first
    resources = written(g, mode)
    res = next(r for r in resources if r["resourceType"] == "Appointment" and r["start"].startswith("2026-05-06"))
    assert res["created"] == "2026-04-20T11:15:00+02:00"
    back = read_back(resources).interview_for(nominee.uid)
    assert back is not None and back.planned_at == planned
    res.pop("created")
    back = read_back(resources).interview_for(nominee.uid)
    assert back is not None and back.planned_at is None and back.planned_start is not None  # an older record


@pytest.mark.parametrize("mode", MODES)
def test_the_groups_status_changes_round_trip_on_the_care_plan(mode: MappingMode) -> None:
    g = full_group()
    steps = [
        (GroupStatus.ON_HOLD, TODAY + timedelta(days=50)),
        (GroupStatus.ACTIVE, TODAY + timedelta(days=70)),
        (GroupStatus.ENDED, TODAY + timedelta(days=200)),
        (GroupStatus.ACTIVE, TODAY + timedelta(days=210)),
    ]
    for status, day in steps:
        g.change_status(status, day, CLINICIAN)
    kept = g.status_changes[-4:]
    assert [(c.new, c.day, c.by) for c in kept] == [(s, d, CLINICIAN) for s, d in steps]
    assert (kept[0].old, kept[2].old, kept[3].old) == (GroupStatus.ACTIVE, GroupStatus.ACTIVE, GroupStatus.ENDED)
    resources = written(g, mode)
    plan = one(resources, "CarePlan")
    changes = [e for e in plan["extension"] if e["url"] == EXT_STATUS_CHANGE]
    assert {"url": "to", "valueCode": "on-hold"} in changes[-4]["extension"]
    assert {"url": "date", "valueDate": steps[0][1].isoformat()} in changes[-4]["extension"]
    assert read_back(resources).status_changes == g.status_changes


def test_a_record_without_the_new_dates_reads_as_before() -> None:
    g = full_group()
    g.set_goal_status(g.goals[0].uid, GoalLifecycle.COMPLETED, TODAY)
    g.plan_meeting(datetime(2026, 6, 1, 19, 0, tzinfo=AMS), now=datetime(2026, 4, 1, 9, 0, tzinfo=AMS))
    g.change_status(GroupStatus.ON_HOLD, TODAY, CLINICIAN)
    resources = written(g, MappingMode.NL_CORE)
    for res in resources:
        res.pop("statusDate", None)
        res.pop("created", None)
        if res["resourceType"] == "CarePlan":
            res["extension"] = [e for e in res.get("extension") or [] if e["url"] != EXT_STATUS_CHANGE]
        for part in res.get("participant") or []:
            part["extension"] = [e for e in part.get("extension") or [] if e["url"] != EXT_MEMBER_JOINED]
    back = read_back(resources)
    assert back.status_changes == []
    assert all(m.joined is None for m in back.members)
    assert all(goal.status_date is None for goal in back.goals)
    assert all(m.created is None for m in back.meetings)


def test_a_status_change_in_codes_we_do_not_use_is_left_out() -> None:
    g = full_group()
    before = g.status
    g.change_status(GroupStatus.ON_HOLD, TODAY, CLINICIAN)
    resources = written(g, MappingMode.NL_CORE)
    plan = one(resources, "CarePlan")
    plan["extension"].append({"url": EXT_STATUS_CHANGE, "extension": [{"url": "to", "valueCode": "revoked"}]})
    assert read_back(resources).status_changes == [StatusChange(before, GroupStatus.ON_HOLD, TODAY, CLINICIAN)]


@pytest.mark.parametrize(("created", "read"), [("2026-03-01", True), ("2026-03-01T10:00:00", False)])
def test_another_systems_created_is_kept_as_written(created: str, read: bool) -> None:
    resources = written(full_group(), MappingMode.NL_CORE)
    appointment = next(r for r in resources if r["resourceType"] == "Appointment" and "created" not in r)
    appointment["created"] = created  # a bare date (midnight UTC) or a time without a zone (not a moment)
    back, index = group_from_fhir(resources, PATIENT)
    again = [w.resource for w in group_to_fhir(back, index)]
    meeting = next(m for m in back.meetings if m.source is appointment)
    assert (meeting.created is not None) is read
    rewritten = [r for r in again if r["resourceType"] == "Appointment" and r["start"] == appointment["start"]]
    assert [r.get("created") for r in rewritten] == [created]
