"""Access records (NEN 7513) and their FHIR R4 AuditEvent form, in the IHE BALP shape. Pure: no I/O.

One `AccessRecord` says who (user reference and their role in the group), which patient, what action on
which resources (the app's own action code and the REST interaction), when, from which client (the app's
client id and the browser's address) and with what outcome. It holds codes, references and ids only:
never tokens, never free text, never names.

`to_audit_event` writes the record as an AuditEvent; `from_audit_event` reads back the ones this app wrote
(others, e.g. the FHIR server's own, give None); `to_line`/`from_line` are the JSON-lines form of the local log.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir_mappings.codes import (
    CLIENT_ID_SYSTEM,
    CS_ACCESS_ROLE,
    CS_APP_ACTION,
    CS_AUDIT_ENTITY_TYPE,
    CS_AUDIT_EVENT_TYPE,
    CS_DICOM,
    CS_EXTRA_SECURITY_ROLE_TYPE,
    CS_OBJECT_ROLE,
    CS_RESTFUL_INTERACTION,
    CS_SECURITY_SOURCE_TYPE,
    CS_V3_ACT_REASON,
    coding,
)
from fhir_mappings.refs import FHIR_ID

JsonDict = dict[str, Any]

_REFERENCE = re.compile(rf"[A-Z][A-Za-z]+/{FHIR_ID}")
_CODE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_ADDRESS = re.compile(r"[0-9A-Fa-f:.]{1,45}")
_ID = re.compile(FHIR_ID)


# App actions that are no right of the group (fhir_mappings.rights.Action): the caseload, the launch summary, the
# Koppeltaal launch's Task, the worker's replay of a waiting save and its reminder round.
VIEW_CASELOAD = "view_caseload"
VIEW_LAUNCH = "view_launch"
VIEW_LAUNCH_TASK = "view_launch_task"  # a Koppeltaal launch's Task, read before the launch opens
REPLAY_SAVE = "replay_save"  # the outbox worker sent a waiting save for its author
SEND_REMINDERS = "send_reminders"  # the worker read a group for its reminders (a read) or wrote one (a create)
# Every one of them: the app-action CodeSystem holds these and the rights' actions, nothing else.
APP_ACTIONS_BEYOND_RIGHTS = (VIEW_CASELOAD, VIEW_LAUNCH, VIEW_LAUNCH_TASK, REPLAY_SAVE, SEND_REMINDERS)
# The role of a record made by a page that did not load the group (the role in it was not looked up).
ROLE_UNKNOWN = "unknown"
# The role of a record of the app's own work, with no person behind it (the worker's reminder round): its user is
# the app as a Device (`Device/<client id>`).
ROLE_SYSTEM = "system"


class AuditAction(enum.StrEnum):
    """AuditEvent.action: what was done to the data."""

    CREATE = "C"
    READ = "R"
    UPDATE = "U"
    DELETE = "D"
    EXECUTE = "E"


class AuditOutcome(enum.StrEnum):
    """AuditEvent.outcome."""

    SUCCESS = "0"
    REFUSED = "4"  # minor failure: refused (a right, a domain rule, a form error); nothing was written
    FAILED = "8"  # serious failure: the app or the record could not do it


# The REST interaction behind each audit action (AuditEvent.subtype, restful-interaction).
_INTERACTION = {
    AuditAction.READ: "search-type",
    AuditAction.CREATE: "create",
    AuditAction.UPDATE: "update",
    AuditAction.DELETE: "delete",
    AuditAction.EXECUTE: "transaction",
}
_OUTCOME_TEXT = {AuditOutcome.SUCCESS: "success", AuditOutcome.REFUSED: "refused", AuditOutcome.FAILED: "failed"}


class AuditValueError(ValueError):
    """A value that must never go into an access record (not a reference, code or id)."""


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise AuditValueError(f"{what} is not allowed in an access record")
    return value


@dataclass(frozen=True)
class AccessRecord:
    """One access to one patient's data by one user (see the module docstring)."""

    id: str  # a UUID: the AuditEvent's identity in the log and on the server (no duplicates on a retry)
    recorded: datetime  # aware
    action: AuditAction
    app_action: str  # the app's action code (fhir_mappings.rights.Action value, or view_caseload)
    outcome: AuditOutcome
    user: str  # literal reference: "Practitioner/1", "Patient/7", "RelatedPerson/3"; the app's own work "Device/<id>"
    role: str  # the user's role in the group (fhir_mappings.rights.Role value)
    patient: str  # "Patient/7"
    entities: tuple[str, ...] = ()  # the resources read or written ("CareTeam/3", "Goal/9")
    client_id: str = "resourcegroep"  # the app as registered at the EHR
    address: str | None = None  # the browser's network address as the app saw it

    def __post_init__(self) -> None:
        if self.recorded.tzinfo is None:
            raise AuditValueError("recorded must carry a time zone")
        _check(_ID, self.id, "id")
        _check(_CODE, self.app_action, "app action")
        _check(_CODE, self.role, "role")
        _check(_REFERENCE, self.user, "user")
        _check(_REFERENCE, self.patient, "patient")
        if not self.patient.startswith("Patient/"):
            raise AuditValueError("patient must be a Patient reference")
        for entity in self.entities:
            _check(_REFERENCE, entity, "entity")
        _check(_ID, self.client_id, "client id")
        if self.address is not None:
            _check(_ADDRESS, self.address, "address")

    @property
    def changed(self) -> bool:
        """Whether this was a write (create, update, delete) rather than a read."""
        return self.action in (AuditAction.CREATE, AuditAction.UPDATE, AuditAction.DELETE)


_HUMAN_USER = {"system": CS_EXTRA_SECURITY_ROLE_TYPE, "code": "humanuser", "display": "human user"}
_APPLICATION = {"system": CS_DICOM, "code": "110150", "display": "Application"}


def to_audit_event(record: AccessRecord) -> JsonDict:
    """The record as a FHIR R4 AuditEvent (IHE BALP: RESTful activity, patient and data entities)."""
    user_agent: JsonDict = {
        "type": {"coding": [dict(_APPLICATION if record.user.startswith("Device/") else _HUMAN_USER)]},
        "role": [{"coding": [coding(CS_ACCESS_ROLE, record.role)]}],
        "who": {"reference": record.user},
        "requestor": True,
    }
    if record.address:
        user_agent["network"] = {"address": record.address, "type": "2"}  # 2: IP address
    app_agent: JsonDict = {
        "type": {"coding": [dict(_APPLICATION)]},
        "who": {"identifier": {"system": CLIENT_ID_SYSTEM, "value": record.client_id}},
        "requestor": False,
    }
    entities: list[JsonDict] = [
        {
            "what": {"reference": record.patient},
            "type": {"system": CS_AUDIT_ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": CS_OBJECT_ROLE, "code": "1", "display": "Patient"},
        }
    ]
    entities.extend(
        {
            "what": {"reference": ref},
            "type": {"system": CS_AUDIT_ENTITY_TYPE, "code": "2", "display": "System Object"},
            "role": {"system": CS_OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
        }
        for ref in record.entities
        if ref != record.patient
    )
    return {
        "resourceType": "AuditEvent",
        "id": record.id,
        "type": {"system": CS_AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [
            {"system": CS_RESTFUL_INTERACTION, "code": _INTERACTION[record.action]},
            coding(CS_APP_ACTION, record.app_action),
        ],
        "action": record.action.value,
        "recorded": record.recorded.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "outcome": record.outcome.value,
        "purposeOfEvent": [{"coding": [{"system": CS_V3_ACT_REASON, "code": "TREAT", "display": "treatment"}]}],
        "agent": [user_agent, app_agent],
        "source": {
            "observer": {"identifier": {"system": CLIENT_ID_SYSTEM, "value": record.client_id}},
            "type": [{"system": CS_SECURITY_SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
        "entity": entities,
    }


def _codes(codings: Any, system: str) -> list[str]:
    if not isinstance(codings, list):
        return []
    return [c["code"] for c in codings if isinstance(c, dict) and c.get("system") == system and "code" in c]


def from_audit_event(resource: JsonDict) -> AccessRecord | None:
    """The access record of an AuditEvent this app wrote; None for any other AuditEvent or a malformed one."""
    if resource.get("resourceType") != "AuditEvent":
        return None
    actions = _codes(resource.get("subtype"), CS_APP_ACTION)
    if not actions:
        return None  # not the app's: the server's own events, another system's
    try:
        agents = [a for a in resource.get("agent") or [] if isinstance(a, dict)]
        user_agent = next(a for a in agents if a.get("requestor") is True)
        roles = [c for r in user_agent.get("role") or [] for c in _codes(r.get("coding"), CS_ACCESS_ROLE)]
        entities = [e for e in resource.get("entity") or [] if isinstance(e, dict)]
        patient = next(
            e["what"]["reference"]
            for e in entities
            if (e.get("role") or {}).get("code") == "1"
            and str(e.get("what", {}).get("reference", "")).startswith("Patient/")
        )
        others = tuple(
            e["what"]["reference"]
            for e in entities
            if isinstance(e.get("what"), dict) and e["what"].get("reference") and e["what"]["reference"] != patient
        )
        observer = ((resource.get("source") or {}).get("observer") or {}).get("identifier") or {}
        recorded = datetime.fromisoformat(str(resource["recorded"]).replace("Z", "+00:00"))
        return AccessRecord(
            id=str(resource.get("id") or ""),
            recorded=recorded,
            action=AuditAction(resource["action"]),
            app_action=actions[0],
            outcome=AuditOutcome(resource["outcome"]),
            user=str(user_agent["who"]["reference"]),
            role=roles[0] if roles else ROLE_UNKNOWN,
            patient=str(patient),
            entities=others,
            client_id=str(observer.get("value") or "resourcegroep"),
            address=(user_agent.get("network") or {}).get("address"),
        )
    except (StopIteration, KeyError, TypeError, ValueError):
        return None


def to_line(record: AccessRecord) -> JsonDict:
    """The record as one line of the local JSON-lines log (flat, readable with jq)."""
    return {
        "id": record.id,
        "recorded": record.recorded.astimezone(UTC).isoformat(timespec="milliseconds"),
        "action": record.action.value,
        "app_action": record.app_action,
        "outcome": _OUTCOME_TEXT[record.outcome],
        "user": record.user,
        "role": record.role,
        "patient": record.patient,
        "entities": list(record.entities),
        "client_id": record.client_id,
        "address": record.address,
    }


def from_line(line: JsonDict) -> AccessRecord | None:
    """A record read back from the local log; None for a line that is not one."""
    outcomes = {text: outcome for outcome, text in _OUTCOME_TEXT.items()}
    try:
        return AccessRecord(
            id=str(line["id"]),
            recorded=datetime.fromisoformat(str(line["recorded"])),
            action=AuditAction(line["action"]),
            app_action=str(line["app_action"]),
            outcome=outcomes[str(line["outcome"])],
            user=str(line["user"]),
            role=str(line["role"]),
            patient=str(line["patient"]),
            entities=tuple(str(e) for e in line.get("entities") or []),
            client_id=str(line.get("client_id") or "resourcegroep"),
            address=line.get("address") if isinstance(line.get("address"), str) else None,
        )
    except (KeyError, TypeError, ValueError):
        return None
