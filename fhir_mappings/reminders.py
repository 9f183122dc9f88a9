"""Reminders for the regieondersteuner: which are due for a group, and the Communication that carries one (pure).

The worker (``plugin/reminders.py``) reads each open group into the domain and asks :func:`due_reminders`
what to remind the group's regieondersteuner of:

- **a meeting is due** (``bijeenkomst-nodig``): the group is *active*, no meeting is planned, and the last held
  meeting started more than three months ago (``MEETING_INTERVAL_MONTHS``); when none was held yet, the group
  started more than three months ago. "Three months" is calendar months (``add_months``), compared with the
  exact moment: a meeting held on 1 March 10:00 makes a reminder due after 1 June 10:00 (clinic time);
- **an open interview** (``gesprek-open``): a nominee still in the group whose interview has not been held, who
  was nominated more than ``INTERVIEW_WAIT_DAYS`` (14) days ago, and whose interview is not planned for later
  (a planned interview whose time has passed without a record counts as open);
- **an overdue agreement** (``afspraak-verlopen``): an open agreement past its date (``Agreement.is_overdue``).

Interviews and agreements are reminded of in forming and active groups; a group on hold or ended gets none.

Each reminder is written ONCE: its product identifier is a UUID made from a hash of the group, the reason and
what it is about (the last held meeting or the group's start, the nominee and their nomination date, the Task and
its due date), and the worker writes it with a conditional create on that identifier. A second worker or a
restart finds it in the record and writes nothing; the record itself is the only store. When the situation
comes back later (a new meeting held and again three months passed, an agreement given a new date) the subject
differs, and so does the identifier: a new reminder.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from fhir_mappings.codes import (
    CLIENT_ID_SYSTEM,
    IDENTIFIER_SYSTEM,
    Artifact,
    GroupStatus,
    NominationState,
    ReminderReason,
    product_coding,
)
from fhir_mappings.model import MEETING_INTERVAL_MONTHS, ResourceGroup, add_months, dutch_date

# A nominee waits this many days for their interview before the regieondersteuner is reminded.
INTERVIEW_WAIT_DAYS = 14
# Communication.status of a reminder: it has been delivered by being written into the record.
REMINDER_STATUS = "completed"
SENDER_DISPLAY = "Resourcegroep (herinneringen)"

_OPEN_NOMINATION = (NominationState.GENOMINEERD, NominationState.GESPREK_GEPLAND)
_REMINDED_STATES = (GroupStatus.FORMING, GroupStatus.ACTIVE)


@dataclass(frozen=True)
class Reminder:
    """One reminder for the regieondersteuner of one group."""

    reason: ReminderReason
    group: str  # CareTeam/<id>
    patient: str  # Patient/<id>
    recipient: str  # the regieondersteuner: Practitioner/<id> or PractitionerRole/<id>
    recipient_display: str
    subject: str  # what it is about, as hashed into the key (e.g. "Appointment/a1", "Task/t1|due 2026-01-05")
    about: tuple[str, ...]  # references for Communication.about (the team first)
    text: str  # Dutch, for the care professional

    @property
    def key(self) -> str:
        """The deterministic product identifier value (a UUID) of this reminder."""
        return reminder_key(self.group, self.reason, self.subject)


def reminder_key(group: str, reason: ReminderReason, subject: str) -> str:
    """A UUID made from the SHA-256 of group, reason and subject: the same reminder always gets the same id."""
    digest = hashlib.sha256(f"{group}\n{reason.value}\n{subject}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def due_reminders(group: ResourceGroup, ref: Callable[[str], str], now: datetime, clinic_tz: tzinfo) -> list[Reminder]:
    """The reminders due for ``group`` at ``now`` (time-zone aware); ``ref`` turns a uid into its reference.

    None when the group has no active regieondersteuner (nobody to remind) or is not forming or active.
    """
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    lead = group.regieondersteuner()
    if lead is None or group.status not in _REMINDED_STATES:
        return []
    today = now.astimezone(clinic_tz).date()
    team = ref(group.uid)

    def make(reason: ReminderReason, subject: str, about: tuple[str, ...], text: str) -> Reminder:
        return Reminder(
            reason, team, group.patient, lead.who, lead.display, subject, (team, *about), f"{group.name}: {text}"
        )

    found: list[Reminder] = []
    if (due := _meeting_due(group, ref, now, clinic_tz)) is not None:
        subject, text = due
        about = (subject,) if _is_reference(subject) else ()
        found.append(make(ReminderReason.MEETING_DUE, subject, about, text))
    for member in group.members:
        if not member.active or member.nomination not in _OPEN_NOMINATION or member.start is None:
            continue
        if member.start + timedelta(days=INTERVIEW_WAIT_DAYS) >= today:
            continue
        interview = group.interview_for(member.uid)
        planned = interview.planned_start if interview is not None else None
        if planned is not None and planned >= now:
            continue  # planned for later: nothing to remind of yet
        who = member.display or member.who
        text = f"{who} is op {dutch_date(member.start)} genomineerd en wacht nog op het kennismakingsgesprek. " + (
            f"Het gesprek stond gepland op {dutch_date(planned.astimezone(clinic_tz).date())}; leg vast hoe het ging."
            if planned is not None
            else "Plan het gesprek."
        )
        nominee = ref(member.who)  # a supporter's uid becomes their RelatedPerson reference
        about = (nominee,) if _is_reference(nominee) else ()
        found.append(
            make(ReminderReason.OPEN_INTERVIEW, f"{member.who}|nominated {member.start.isoformat()}", about, text)
        )
    displays = {m.who: m.display for m in group.members}
    for agreement in sorted(group.overdue_agreements(today), key=lambda a: (a.due or today, a.uid)):
        if agreement.due is None:
            continue
        task = ref(agreement.uid)
        owner = f" ({displays.get(agreement.owner) or agreement.owner})" if agreement.owner else ""
        text = (
            f"de afspraak '{agreement.description}'{owner} had klaar moeten zijn op {dutch_date(agreement.due)}. "
            "Bespreek of de afspraak nog past."
        )
        about = (task,) if _is_reference(task) else ()
        found.append(make(ReminderReason.OVERDUE_AGREEMENT, f"{task}|due {agreement.due.isoformat()}", about, text))
    return found


def _meeting_due(
    group: ResourceGroup, ref: Callable[[str], str], now: datetime, clinic_tz: tzinfo
) -> tuple[str, str] | None:
    """(subject, text) when a meeting is due: active, nothing planned, the last (or the start) over 3 months ago."""
    if group.status is not GroupStatus.ACTIVE or group.next_meeting(now) is not None:
        return None
    last = group.last_held_meeting()
    if last is not None:
        if add_months(last.start, MEETING_INTERVAL_MONTHS) >= now:
            return None
        when = last.start.astimezone(clinic_tz)
        return ref(last.uid), (
            f"er is geen bijeenkomst gepland en de laatste bijeenkomst was op {dutch_date(when)}. "
            "Plan een nieuwe bijeenkomst."
        )
    if group.start is None or add_months(_midnight(group.start, clinic_tz), MEETING_INTERVAL_MONTHS) >= now:
        return None
    return f"start {group.start.isoformat()}", (
        f"de groep is op {dutch_date(group.start)} gestart en heeft nog geen bijeenkomst gehad. Plan een bijeenkomst."
    )


def _is_reference(value: str) -> bool:
    """A literal ``Type/id`` reference (not a start date, a supporter uid or a ``urn:uuid:`` of an unsaved entity)."""
    rtype, sep, rid = value.partition("/")
    return bool(sep and rid and rtype[:1].isupper() and rtype.isalpha() and "/" not in rid)


def _midnight(day: date, clinic_tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clinic_tz)


def reminder_to_fhir(reminder: Reminder, sent: datetime, client_id: str) -> dict[str, object]:
    """The Communication that carries one reminder to the regieondersteuner (written once, see module doc).

    It is not based on the group's plan, so the app's group load does not read it back; the EHR shows it in
    the patient's Communication list, addressed to the regieondersteuner.
    """
    if sent.tzinfo is None:
        raise ValueError("sent must carry a time zone")
    return {
        "resourceType": "Communication",
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": reminder.key}],
        "status": REMINDER_STATUS,
        "category": [{"coding": [product_coding(Artifact.REMINDER)]}],
        "reasonCode": [{"coding": [product_coding(reminder.reason)]}],
        "priority": "routine",
        "subject": {"reference": reminder.patient},
        "about": [{"reference": r} for r in dict.fromkeys(reminder.about)],
        "recipient": [{"reference": reminder.recipient, "display": reminder.recipient_display}],
        "sender": {
            "type": "Device",
            "identifier": {"system": CLIENT_ID_SYSTEM, "value": client_id},
            "display": SENDER_DISPLAY,
        },
        "sent": sent.isoformat(timespec="seconds"),
        "payload": [{"contentString": reminder.text}],
    }


def reminder_condition(reminder: Reminder) -> str:
    """The ``If-None-Exist`` search that finds this reminder when it was written before."""
    return f"identifier={IDENTIFIER_SYSTEM}|{reminder.key}"


__all__ = [
    "INTERVIEW_WAIT_DAYS",
    "REMINDER_STATUS",
    "Reminder",
    "due_reminders",
    "reminder_condition",
    "reminder_key",
    "reminder_to_fhir",
]
