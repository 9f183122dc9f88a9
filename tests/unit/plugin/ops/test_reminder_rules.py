"""Which reminders are due (the pure rules in fhir_mappings/reminders.py) and the Communication that carries one."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.communication import Communication

from fhir_mappings.codes import (
    CS_ARTIFACT,
    CS_REMINDER_REASON,
    IDENTIFIER_SYSTEM,
    AgreementStatus,
    GroupStatus,
    MeetingStatus,
    ReminderReason,
    all_codesystems,
)
from fhir_mappings.model import Meeting, ResourceGroup, new_uid
from fhir_mappings.reminders import (
    INTERVIEW_WAIT_DAYS,
    Reminder,
    due_reminders,
    reminder_condition,
    reminder_key,
    reminder_to_fhir,
)

AMS = ZoneInfo("Europe/Amsterdam")
PATIENT = "Patient/sanne"
LEAD = "Practitioner/anna"
START = date(2026, 1, 15)


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=AMS)


def active_group(start: date = START) -> ResourceGroup:
    group = ResourceGroup.start_new(
        patient=PATIENT,
        patient_display="Sanne Bakker",
        regieondersteuner=LEAD,
        regieondersteuner_display="Anna de Vries",
        name="Team Sanne",
        today=start,
    )
    group.change_status(GroupStatus.ACTIVE, start)
    return group


def refs(group: ResourceGroup) -> dict[str, str]:
    known = {group.uid: "CareTeam/t1", group.plan_uid: "CarePlan/c1"}
    known.update({m.uid: f"Appointment/{m.uid[:8]}" for m in group.meetings})
    known.update({a.uid: f"Task/{a.uid[:8]}" for a in group.agreements})
    return known


def due(group: ResourceGroup, now: datetime) -> list[Reminder]:
    known = refs(group)
    return due_reminders(group, lambda uid: known.get(uid, uid if "/" in uid else f"urn:uuid:{uid}"), now, AMS)


def held(group: ResourceGroup, start: datetime) -> Meeting:
    meeting = Meeting(uid=new_uid(), start=start, status=MeetingStatus.FULFILLED)
    group.meetings.append(meeting)
    return meeting


def reasons(found: list[Reminder]) -> list[ReminderReason]:
    return [r.reason for r in found]


# ---------------------------------------------------------------- a meeting is due


def test_a_meeting_is_due_just_after_three_months_since_the_last_held_one() -> None:
    group = active_group()
    last = held(group, at(date(2026, 1, 31), 10))  # three months later is clamped to 30 April 10:00
    assert due(group, at(date(2026, 4, 30), 10)) == []
    found = due(group, at(date(2026, 4, 30), 10, 1))
    assert reasons(found) == [ReminderReason.MEETING_DUE]
    reminder = found[0]
    assert reminder.recipient == LEAD and reminder.group == "CareTeam/t1" and reminder.patient == PATIENT
    assert reminder.subject == refs(group)[last.uid]
    assert reminder.about == ("CareTeam/t1", refs(group)[last.uid])
    assert "31 januari 2026" in reminder.text and reminder.text.startswith("Team Sanne: ")


def test_no_meeting_held_counts_from_the_start_of_the_group() -> None:
    group = active_group(START)
    assert due(group, at(date(2026, 4, 15), 0, 0)) == []  # exactly three months after the start (midnight)
    found = due(group, at(date(2026, 4, 15), 0, 1))
    assert reasons(found) == [ReminderReason.MEETING_DUE]
    assert found[0].subject == "start 2026-01-15" and found[0].about == ("CareTeam/t1",)


def test_a_planned_meeting_or_a_group_that_is_not_active_gets_no_meeting_reminder() -> None:
    group = active_group()
    held(group, at(date(2026, 1, 20)))
    later = at(date(2026, 6, 1))
    group.meetings.append(Meeting(uid=new_uid(), start=later + timedelta(days=7), status=MeetingStatus.BOOKED))
    assert due(group, later) == []
    forming = active_group()
    forming.status = GroupStatus.FORMING
    assert due(forming, later) == []
    paused = active_group()
    paused.change_status(GroupStatus.ON_HOLD, START)
    assert due(paused, later) == []


def test_a_new_held_meeting_gives_a_new_reminder_later_not_the_same_one() -> None:
    group = active_group()
    held(group, at(date(2026, 1, 20)))
    first = due(group, at(date(2026, 5, 1)))[0]
    held(group, at(date(2026, 5, 5)))
    assert due(group, at(date(2026, 6, 1))) == []
    second = due(group, at(date(2026, 9, 1)))[0]
    assert first.key != second.key


# ---------------------------------------------------------------- open interviews


def test_a_nominee_waiting_more_than_two_weeks_is_reminded_of() -> None:
    group = active_group()
    held(group, at(date(2026, 3, 1)))
    nominated = date(2026, 3, 2)
    nominee = group.nominate("Practitioner/lotte", "Lotte Smit", nominated)
    assert INTERVIEW_WAIT_DAYS == 14
    assert due(group, at(nominated + timedelta(days=14), 23, 59)) == []  # 14 days: not yet
    found = due(group, at(nominated + timedelta(days=15), 0, 1))
    assert reasons(found) == [ReminderReason.OPEN_INTERVIEW]
    assert found[0].about == ("CareTeam/t1", "Practitioner/lotte")
    assert "Lotte Smit is op 2 maart 2026 genomineerd" in found[0].text and "Plan het gesprek." in found[0].text
    # Planned for later: nothing to remind of; the planned time passed without a record: reminded again.
    group.plan_interview(nominee.uid, at(date(2026, 3, 25)))
    assert due(group, at(date(2026, 3, 20))) == []
    late = due(group, at(date(2026, 3, 26)))
    assert reasons(late) == [ReminderReason.OPEN_INTERVIEW]
    assert "stond gepland op 25 maart 2026" in late[0].text
    assert late[0].key == found[0].key  # the same nominee, the same nomination: the same reminder


def test_a_declined_or_admitted_nominee_is_not_reminded_of() -> None:
    group = active_group()
    held(group, at(date(2026, 3, 1)))
    nominee = group.nominate("Practitioner/lotte", "Lotte Smit", date(2026, 3, 2))
    group.decline(nominee.uid, date(2026, 3, 3))
    assert due(group, at(date(2026, 4, 1))) == []


def test_a_forming_group_gets_interview_reminders() -> None:
    group = active_group()
    group.status = GroupStatus.FORMING
    group.nominate("Practitioner/lotte", "Lotte Smit", START)
    assert reasons(due(group, at(START + timedelta(days=20)))) == [ReminderReason.OPEN_INTERVIEW]


# ---------------------------------------------------------------- overdue agreements


def test_an_open_agreement_past_its_date_is_reminded_of_once_per_date() -> None:
    group = active_group()
    held(group, at(date(2026, 3, 1)))
    agreement = group.add_agreement("Huurtoeslag aanvragen", START, LEAD, None, date(2026, 3, 10))
    assert due(group, at(date(2026, 3, 10), 23, 59)) == []  # due today: not overdue yet
    found = due(group, at(date(2026, 3, 11), 0, 1))
    assert reasons(found) == [ReminderReason.OVERDUE_AGREEMENT]
    task = refs(group)[agreement.uid]
    assert found[0].about == ("CareTeam/t1", task) and found[0].subject == f"{task}|due 2026-03-10"
    assert "'Huurtoeslag aanvragen' (Anna de Vries) had klaar moeten zijn op 10 maart 2026" in found[0].text
    agreement.due = date(2026, 3, 20)  # a new date: a new reminder when that one passes too
    assert due(group, at(date(2026, 3, 15))) == []
    assert due(group, at(date(2026, 3, 21)))[0].key != found[0].key
    agreement.status = AgreementStatus.COMPLETED
    assert due(group, at(date(2026, 3, 25))) == []


# ---------------------------------------------------------------- nobody to remind, bad input


def test_no_regieondersteuner_or_an_ended_group_gets_nothing() -> None:
    group = active_group()
    group.add_agreement("Iets", START, LEAD, None, date(2026, 2, 1))
    next(m for m in group.members if m.who == LEAD).end = date(2026, 2, 2)
    assert due(group, at(date(2026, 6, 1))) == []
    ended = active_group()
    ended.add_agreement("Iets", START, LEAD, None, date(2026, 2, 1))
    ended.change_status(GroupStatus.ENDED, date(2026, 2, 2))
    assert due(ended, at(date(2026, 6, 1))) == []
    with pytest.raises(ValueError, match="time zone"):
        due(active_group(), datetime(2026, 6, 1))


# ---------------------------------------------------------------- the Communication


def test_the_key_is_deterministic_and_differs_per_reason_group_and_subject() -> None:
    key = reminder_key("CareTeam/t1", ReminderReason.MEETING_DUE, "Appointment/a1")
    assert key == reminder_key("CareTeam/t1", ReminderReason.MEETING_DUE, "Appointment/a1")
    others = {
        reminder_key("CareTeam/t2", ReminderReason.MEETING_DUE, "Appointment/a1"),
        reminder_key("CareTeam/t1", ReminderReason.OPEN_INTERVIEW, "Appointment/a1"),
        reminder_key("CareTeam/t1", ReminderReason.MEETING_DUE, "Appointment/a2"),
    }
    assert key not in others and len(others) == 3
    assert len(key) == 36 and key.count("-") == 4


def test_the_reminder_communication_is_valid_r4_with_the_products_codes() -> None:
    group = active_group()
    group.add_agreement("Huurtoeslag aanvragen", START, LEAD, None, date(2026, 2, 1))
    reminder = due(group, at(date(2026, 3, 1)))[0]
    sent = at(date(2026, 3, 1), 7)
    resource = reminder_to_fhir(reminder, sent, "resourcegroep-backend")
    Communication.model_validate(resource)
    assert resource["identifier"] == [{"system": IDENTIFIER_SYSTEM, "value": reminder.key}]
    assert resource["status"] == "completed"
    assert resource["recipient"] == [{"reference": LEAD, "display": "Anna de Vries"}]
    assert resource["subject"] == {"reference": PATIENT}
    assert "basedOn" not in resource  # the group load must not read reminders back as group resources
    assert resource["sent"] == "2026-03-01T07:00:00+01:00"
    assert resource["sender"]["identifier"]["value"] == "resourcegroep-backend"
    shipped = {(cs["url"], c["code"]) for cs in all_codesystems() for c in cs["concept"]}
    assert (CS_ARTIFACT, "herinnering") in shipped
    assert (CS_REMINDER_REASON, ReminderReason.OVERDUE_AGREEMENT.value) in shipped
    assert resource["category"][0]["coding"][0]["code"] == "herinnering"
    assert resource["reasonCode"][0]["coding"][0] == {
        "system": CS_REMINDER_REASON,
        "code": "afspraak-verlopen",
        "display": "Afspraak verlopen",
    }
    assert reminder_condition(reminder) == f"identifier={IDENTIFIER_SYSTEM}|{reminder.key}"
    with pytest.raises(ValueError, match="time zone"):
        reminder_to_fhir(reminder, datetime(2026, 3, 1), "x")
