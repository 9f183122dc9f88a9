"""A meeting keeps its length in minutes: Appointment.minutesDuration is written, and read back first, so a meeting
across a daylight-saving change never reads back as 0 minutes and never breaks a later save (issue 12)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_mappings.codes import InterviewVisibility, Section
from fhir_mappings.errors import DomainError
from fhir_mappings.fhirjson import fmt_datetime
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.model import MEETING_MINUTES, Meeting, ResourceGroup, dutch_date, minutes_between
from fhir_mappings.to_fhir import group_to_fhir
from tests.unit.fhir_mappings.factory import AMS, full_group

SPRING_GAP = datetime(2027, 3, 28, 2, 30, tzinfo=AMS)  # does not exist on the wall: zoneinfo reads it as +01:00
AUTUMN_FIRST = datetime(2027, 10, 31, 2, 30, fold=0, tzinfo=AMS)  # summer time, +02:00
AUTUMN_SECOND = datetime(2027, 10, 31, 2, 30, fold=1, tzinfo=AMS)  # winter time, +01:00
SHARED = InterviewVisibility.SHARED


def written(group: ResourceGroup) -> list[dict[str, Any]]:
    return [w.resource for w in group_to_fhir(group)]


def appointment_of(resources: list[dict[str, Any]], meeting: Meeting) -> dict[str, Any]:
    return next(
        r
        for r in resources
        if r["resourceType"] == "Appointment" and any(i.get("value") == meeting.uid for i in r.get("identifier", []))
    )


def read_back(group: ResourceGroup, resources: list[dict[str, Any]] | None = None) -> ResourceGroup:
    back, _ = group_from_fhir(resources if resources is not None else written(group), group.patient)
    return back


def real_minutes(meeting: Meeting) -> float:
    return (meeting.end.astimezone(UTC) - meeting.start.astimezone(UTC)).total_seconds() / 60


@pytest.mark.parametrize("start", [SPRING_GAP, AUTUMN_FIRST, AUTUMN_SECOND, datetime(2027, 3, 28, 1, 30, tzinfo=AMS)])
def test_a_meeting_across_a_dst_change_keeps_its_hour(start: datetime) -> None:
    group = full_group()
    meeting = group.plan_meeting(start, start + timedelta(minutes=60))  # the way the plan page computes the end
    assert meeting.minutes == 60 and real_minutes(meeting) == 60
    resources = written(group)
    appointment = appointment_of(resources, meeting)
    assert appointment["minutesDuration"] == 60
    start_at, end_at = (datetime.fromisoformat(appointment[k]) for k in ("start", "end"))
    assert end_at - start_at == timedelta(minutes=60)  # real time: different offsets are compared in UTC
    get_fhir_model_class("Appointment").model_validate(appointment)
    back = next(m for m in read_back(group, resources).meetings if m.uid == meeting.uid)
    assert back.minutes == 60 and real_minutes(back) == 60
    # A second write of what was read keeps the same times (a later save does not touch or break it).
    again = appointment_of(written(read_back(group, resources)), meeting)
    assert {k: again[k] for k in ("start", "end", "minutesDuration")} == {
        k: appointment[k] for k in ("start", "end", "minutesDuration")
    }


def test_minutes_duration_is_read_before_end_minus_start() -> None:
    group = full_group()
    meeting = group.plan_meeting(datetime(2027, 5, 1, 10, 0, tzinfo=AMS), minutes_end(90))
    resources = written(group)
    appointment = appointment_of(resources, meeting)
    # As an older version wrote it: the end at the same instant as the start (read back as 0 minutes before).
    appointment["start"], appointment["end"] = "2027-03-28T02:30:00+01:00", "2027-03-28T03:30:00+02:00"
    appointment["minutesDuration"] = 60
    back = next(m for m in read_back(group, resources).meetings if m.uid == meeting.uid)
    assert back.minutes == 60 and real_minutes(back) == 60


def minutes_end(minutes: int) -> datetime:
    return datetime(2027, 5, 1, 10, 0, tzinfo=AMS) + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("stated", "end", "expected"),
    [
        (None, "2027-05-01T11:30:00+02:00", 90),  # no minutesDuration: end - start
        (0, "2027-05-01T11:30:00+02:00", 90),  # not a positive length: end - start
        (-5, "2027-05-01T11:30:00+02:00", 90),
        ("60", "2027-05-01T11:30:00+02:00", 90),  # not a number
        (True, "2027-05-01T11:30:00+02:00", 90),
        (10**9, "2027-05-01T11:30:00+02:00", 90),  # beyond any meeting: not believed
        (None, "2027-05-01T10:00:00+02:00", MEETING_MINUTES),  # end at the start, no length: one hour
        (None, "2027-05-01T09:00:00+02:00", MEETING_MINUTES),  # end before the start
        (45, "2027-05-01T10:00:00+02:00", 45),
    ],
)
def test_a_foreign_or_broken_length_reads_as_a_positive_one(stated: Any, end: str, expected: int) -> None:
    group = full_group()
    meeting = group.plan_meeting(datetime(2027, 5, 1, 10, 0, tzinfo=AMS))
    resources = written(group)
    appointment = appointment_of(resources, meeting)
    appointment["end"] = end
    if stated is None:
        appointment.pop("minutesDuration", None)
    else:
        appointment["minutesDuration"] = stated
    back = next(m for m in read_back(group, resources).meetings if m.uid == meeting.uid)
    assert back.minutes == expected and back.end > back.start
    rewritten = appointment_of(written(read_back(group, resources)), meeting)
    assert rewritten["minutesDuration"] == expected
    get_fhir_model_class("Appointment").model_validate(rewritten)


def test_a_meeting_must_end_after_it_starts_and_within_a_week() -> None:
    group = full_group()
    start = datetime(2027, 5, 1, 10, 0, tzinfo=AMS)
    with pytest.raises(DomainError, match="ends before it starts"):
        group.plan_meeting(start, start)
    with pytest.raises(DomainError, match="meeting of 11520 minutes"):
        group.plan_meeting(start, start + timedelta(days=8))


def test_minutes_between_compares_one_zone_on_the_wall_clock_and_two_zones_in_real_time() -> None:
    assert minutes_between(AUTUMN_FIRST, AUTUMN_FIRST + timedelta(minutes=60)) == 60
    assert minutes_between(AUTUMN_FIRST.astimezone(UTC), AUTUMN_SECOND.astimezone(UTC)) == 60


def test_an_offset_with_seconds_is_written_in_utc() -> None:
    old = datetime(1900, 1, 1, 10, 0, tzinfo=AMS)  # Amsterdam mean time, +00:19:32
    assert fmt_datetime(old) == "1900-01-01T09:40:28Z"
    assert fmt_datetime(datetime(1938, 1, 1, 10, 0, tzinfo=AMS)) == "1938-01-01T10:00:00+00:20"


@settings(max_examples=60, deadline=None)
@given(
    wall=st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2090, 12, 31)),
    fold=st.sampled_from([0, 1]),
    minutes=st.integers(15, 480),
    zone=st.sampled_from([AMS, UTC, timezone(timedelta(hours=-5))]),
)
def test_any_start_and_length_round_trip(wall: datetime, fold: int, minutes: int, zone: Any) -> None:
    group = full_group()
    start = wall.replace(second=0, microsecond=0, fold=fold, tzinfo=zone)
    meeting = group.plan_meeting(start, start + timedelta(minutes=minutes))
    back = next(m for m in read_back(group).meetings if m.uid == meeting.uid)
    assert back.minutes == minutes
    assert back.start.astimezone(UTC) == start.astimezone(UTC)
    assert real_minutes(back) == minutes


# --------------------------------------------------------------------------- interview dates (same issue)


def test_a_held_interview_before_the_nomination_is_refused() -> None:
    group = full_group()
    karim = next(m for m in group.members if m.display == "Karim")
    assert karim.start is not None
    day_before = datetime.combine(karim.start - timedelta(days=1), datetime.min.time(), tzinfo=AMS).replace(hour=20)
    with pytest.raises(DomainError) as refused:
        group.record_interview(karim.uid, day_before, {Section.INZET: "Elke week"}, visibility=SHARED)
    assert refused.value.user_message.startswith("Het gesprek kan niet eerder zijn dan de nominatie op")
    assert dutch_date(karim.start) in refused.value.user_message
    # On the day of the nomination itself it is fine.
    same_day = day_before + timedelta(hours=14)
    interview = group.record_interview(karim.uid, same_day, {Section.INZET: "Elke week"}, visibility=SHARED)
    assert interview.held_at == same_day


def test_the_domain_writes_days_in_its_messages_as_the_pages_do() -> None:
    assert dutch_date(date(2026, 12, 2)) == "2 december 2026" and dutch_date(date(2027, 1, 31)) == "31 januari 2027"
