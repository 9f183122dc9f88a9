"""Reminders for regieondersteuners, written by the worker into the clinic's record (SMART Backend Services).

One round (:func:`send_reminders`):

1. find the open groups: one search ``CareTeam?identifier=<product system>|&status=proposed,active`` (the
   caseload's team search, without the practitioner: a ``system/`` token sees every patient), pages followed;
2. load each patient's group into the domain the one way the app reads groups
   (:class:`plugin.sync.repository.GroupRepository` ``.load()``: ``fhir_mappings.from_fhir``, the same load
   strategy and compartment guard as a launch), with its newest progress score only (``SCORES_READ``: no
   reminder is about a score);
3. ask :func:`fhir_mappings.reminders.due_reminders` what is due, and write each reminder as a Communication
   with a conditional create (``If-None-Exist: identifier=<product id system>|<deterministic id>``): the record
   is the only store, so two workers or a restart never write a reminder twice;
4. keep an access record (NEN 7513) of each group read and each reminder written, as it happens: the app itself
   (the worker's ``--device``, else ``Device/<client id>``; role ``system``; app action ``send_reminders``) on
   that patient, with what it read (the group's team and plans) or wrote (the Communication); a read or write
   that failed is on record as failed (refused when the EHR refused it), with nothing in it. The worker writes
   them to the app's access log, so the group's page "Wie heeft deze groep bekeken" lists them.

Where a reminder appears: in the EHR, as a Communication in the patient's record, addressed (``recipient``) to
the regieondersteuner, with category ``herinnering`` and a reason code from the ``reminder-reason`` CodeSystem.
The app itself does not show them (they are not based on the group's plan, so the group load does not read them).

Scopes the Backend Services client needs: ``system/CareTeam.rs system/CarePlan.rs system/Goal.rs system/Task.rs
system/Appointment.rs system/Communication.crs system/Observation.rs system/RelatedPerson.rs system/Location.rs``
(or ``system/*.rs`` plus ``system/Communication.c``).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from fhir_mappings.audit import (
    ROLE_SYSTEM,
    SEND_REMINDERS,
    AccessRecord,
    AuditAction,
    AuditOutcome,
    AuditValueError,
)
from fhir_mappings.codes import CARETEAM_STATUS, GroupStatus
from fhir_mappings.fhirjson import ref_of
from fhir_mappings.model import CLINIC_ZONE
from fhir_mappings.query import group_team_params
from fhir_mappings.refs import literal, ref_type
from fhir_mappings.reminders import Reminder, due_reminders, reminder_condition, reminder_to_fhir
from plugin.sync.capabilities import CapabilityCache
from plugin.sync.client import FhirClient, entries_of
from plugin.sync.errors import Forbidden, OutageError, SyncError, Unauthorized
from plugin.sync.outbox import Outbox
from plugin.sync.repository import GroupRepository

log = logging.getLogger(__name__)

REMINDER_GROUP_STATES = (GroupStatus.FORMING, GroupStatus.ACTIVE)
PAGE_SIZE = 1000
# Reminders are about meetings, interviews and agreements, never about progress scores: a round reads a group with
# the fewest scores a load can ask for (its newest one), not every score ever given (a huge group's ~20,000: a
# 25 MB answer and ~270 MB of worker memory, per group, per round). A server without batch sends every score.
SCORES_READ = 1

# Where a round's access records go (the worker: the app's access log); it must not raise.
Recorder = Callable[[Sequence[AccessRecord]], None]


@dataclass
class ReminderReport:
    """What one round did."""

    groups: int = 0
    written: list[str] = field(default_factory=list)  # Communication/<id> created now
    existing: list[str] = field(default_factory=list)  # reminders found in the record already
    failed: list[str] = field(default_factory=list)  # "Patient/x: why" (the round went on with the next group)
    stopped: str | None = None  # the EHR was out of reach or refused the token: the round stopped here


def open_group_params(page_size: int = PAGE_SIZE) -> list[tuple[str, str]]:
    """The search for every forming or active resource group team (any patient: a ``system/`` token)."""
    return [
        *group_team_params(),
        ("status", ",".join(CARETEAM_STATUS[s] for s in REMINDER_GROUP_STATES)),
        ("_count", str(page_size)),
    ]


def open_group_patients(client: FhirClient, page_size: int = PAGE_SIZE) -> list[str]:
    """The patients (``Patient/<id>``) with a forming or active group, in the order found, each once."""
    first = client.search("CareTeam", open_group_params(page_size))
    patients: dict[str, None] = {}
    for team in entries_of(list(client.pages(first))):
        if team.get("resourceType") != "CareTeam":
            continue
        subject = ref_of(team.get("subject"))
        if subject is None or ref_type(subject) != "Patient":
            log.info("reminders: CareTeam/%s has no patient as subject; skipped", team.get("id"))
            continue
        patients[literal(subject)] = None
    return list(patients)


@dataclass(frozen=True)
class DueReminders:
    """What a round read of one patient's group (for the access record) and the reminders due for it."""

    read: list[str]  # the group's team and plans (`LoadedGroup.group_references`)
    reminders: list[Reminder]


def due_for_patient(
    client: FhirClient,
    patient: str,
    outbox: Outbox,
    capabilities: CapabilityCache,
    agent: str,
    now: datetime,
    clinic_tz: tzinfo,
) -> DueReminders:
    """The reminders due for the group of `patient` (``Patient/<id>``), read as a round reads it (one request
    where the EHR takes a batch, with its newest score only); none when the patient has no group."""
    repository = GroupRepository(client, patient.split("/", 1)[1], user=agent, outbox=outbox, capabilities=capabilities)
    loaded = repository.load(newest_scores=SCORES_READ)
    if loaded.group is None:
        return DueReminders(loaded.group_references(), [])
    return DueReminders(loaded.group_references(), due_reminders(loaded.group, loaded.index.ref, now, clinic_tz))


def write_reminder(client: FhirClient, reminder: Reminder, *, sent: datetime, client_id: str) -> tuple[str, bool]:
    """Write one reminder unless the record has it: (``Communication/<id>``, True when written now)."""
    answer = client.create(reminder_to_fhir(reminder, sent, client_id), if_none_exist=reminder_condition(reminder))
    body = answer.body or {}
    if body.get("id"):
        ref = f"Communication/{body['id']}"
    else:  # a server that answers without a body: the Location header names it
        ref = literal((answer.location or "Communication/?").split("/_history/", 1)[0])
    return ref, answer.status == 201


def send_reminders(
    client: FhirClient,
    outbox: Outbox,
    *,
    client_id: str,
    record: Recorder,
    device: str | None = None,
    capabilities: CapabilityCache | None = None,
    now: datetime | None = None,
    clinic_tz: tzinfo = CLINIC_ZONE,
) -> ReminderReport:
    """One round: every open group's due reminders, each written once, each read and write on record through
    `record` as the app's `device` (``Device/<id>``; default ``Device/<client_id>``; see module doc)."""
    moment = now or datetime.now(clinic_tz)
    caps = capabilities or CapabilityCache()
    agent = device or f"Device/{client_id}"  # the load's user (a load makes no Provenance) and the records' user
    report = ReminderReport()
    try:
        patients = open_group_patients(client)
    except (OutageError, Unauthorized, Forbidden) as exc:
        report.stopped = f"{type(exc).__name__}: {exc}"
        return report
    for patient in patients:
        on_record = _OnRecord(record, agent, client_id, patient)
        try:
            with on_record.attempt(AuditAction.READ) as read:
                due = due_for_patient(client, patient, outbox, caps, agent, moment, clinic_tz)
                read.entities = tuple(due.read)
            report.groups += 1
            for reminder in due.reminders:
                with on_record.attempt(AuditAction.CREATE) as written:
                    ref, created = write_reminder(client, reminder, sent=moment, client_id=client_id)
                    written.entities = (ref,) if created else None  # one the record had already: nothing written
                (report.written if created else report.existing).append(ref)
                if created:
                    log.info("reminder %s written for %s (%s)", ref, reminder.group, reminder.reason.value)
        except (OutageError, Unauthorized, Forbidden) as exc:
            report.stopped = f"{type(exc).__name__}: {exc}"
            log.warning("reminders: stopped at %s: %s", patient, exc)
            break
        except SyncError as exc:
            report.failed.append(f"{patient}: {exc}")
            log.warning("reminders: %s skipped: %s", patient, exc)
    return report


@dataclass
class _Attempt:
    """One read or write of a round: what it read or wrote once done (None: nothing to put on record)."""

    entities: tuple[str, ...] | None = None


class _OnRecord:
    """The access records of one patient's part of a round: a read of the group, then each reminder written."""

    def __init__(self, record: Recorder, agent: str, client_id: str, patient: str) -> None:
        self.record, self.agent, self.client_id, self.patient = record, agent, client_id, patient

    @contextlib.contextmanager
    def attempt(self, action: AuditAction) -> Iterator[_Attempt]:
        """On record once done (with what `_Attempt.entities` names), or failed (refused) when the EHR failed it."""
        done = _Attempt()
        try:
            yield done
        except SyncError as exc:
            self._keep(action, _outcome_of(exc), ())
            raise
        if done.entities is not None:
            self._keep(action, AuditOutcome.SUCCESS, done.entities)

    def _keep(self, action: AuditAction, outcome: AuditOutcome, entities: tuple[str, ...]) -> None:
        try:
            kept = AccessRecord(
                id=str(uuid.uuid4()),
                recorded=datetime.now(UTC),
                action=action,
                app_action=SEND_REMINDERS,
                outcome=outcome,
                user=self.agent,
                role=ROLE_SYSTEM,
                patient=self.patient,
                entities=entities,
                client_id=self.client_id,
            )
        except AuditValueError as exc:  # e.g. a client id that is no FHIR id: the round goes on, loudly
            log.error("reminders: no access record of %s could be made: %s", self.patient, exc)
            return
        self.record([kept])


def _outcome_of(exc: SyncError) -> AuditOutcome:
    return AuditOutcome.REFUSED if isinstance(exc, Forbidden) else AuditOutcome.FAILED


__all__ = [
    "DueReminders",
    "Recorder",
    "ReminderReport",
    "due_for_patient",
    "open_group_params",
    "open_group_patients",
    "send_reminders",
    "write_reminder",
]
