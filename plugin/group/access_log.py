"""Who looked at the group and when (NEN 7513): the access records of the launch patient, as lines for a page.

The records come from where the trail wrote them: the FHIR server (AuditEvents this app wrote, searched by
the patient), the local log (when the server did not take them), and those not written yet. Names come
from the group itself where the person is in it, else from the record (read once per person, a few at most).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import g
from flask_babel import gettext

from fhir_mappings.audit import ROLE_SYSTEM, ROLE_UNKNOWN, AccessRecord, AuditOutcome, from_audit_event
from fhir_mappings.model import ResourceGroup
from fhir_mappings.refs import is_professional_ref, literal
from fhir_mappings.rights import Role
from plugin.audit.trail import AuditTrail
from plugin.group.overview import name_of
from plugin.group.service import GroupPage, GroupService
from plugin.i18n import lazy_gettext as _l
from plugin.sync.errors import SyncError
from smart_launch.scopes import ScopeGrant

log = logging.getLogger(__name__)

SHOWN = 100  # the newest accesses a page lists
NAME_READS = 10  # people outside the group whose names may be read for one page

_AREAS: dict[str, object] = {
    "overview": _l("the overview"),
    "members": _l("members"),
    "goals": _l("goals"),
    "agreements": _l("agreements"),
    "meetings": _l("meetings"),
    "agenda": _l("the agenda"),
    "report": _l("a report"),
    "timeline": _l("the timeline"),
    "wishes": _l("wishes and requests"),
    "group": _l("the group itself"),
    "saves": _l("changes waiting for the EHR"),
    "access": _l("who looked at the group"),
    "caseload": _l("the caseload"),
    "session": _l("the session summary (patient, user, permissions)"),
    "launch_task": _l("the task the app was opened with (Koppeltaal)"),
    "reminders": _l("reminders for the recovery coordinator"),
}
_AREA_OF: dict[str, str] = {
    "view_overview": "overview",
    "view_timeline": "timeline",
    "view_access_log": "access",
    "view_caseload": "caseload",
    "view_launch": "session",
    "view_launch_task": "launch_task",
    "view_agenda": "agenda",
    "set_agenda": "agenda",
    "propose_agenda_item": "agenda",
    "view_report": "report",
    "write_report": "report",
    "start_group": "group",
    "rename_group": "group",
    "change_status": "group",
    "cancel_unreadable": "group",
    "retry_waiting": "saves",
    "retry_failed": "saves",
    "replay_save": "saves",
    "send_reminders": "reminders",
    "discard_failed": "saves",
    "give_meeting_wish": "wishes",
    "ask_pause_or_end": "wishes",
    "take_up_input": "wishes",
    "view_wishes": "wishes",
}
_AREA_WORDS = (  # the first word found wins: "score" before "core" (score_progress is about goals)
    ("score", "goals"),
    ("member", "members"),
    ("interview", "members"),
    ("nominat", "members"),
    ("core", "members"),
    ("hand_over", "members"),
    ("take_over", "members"),
    ("goal", "goals"),
    ("agreement", "agreements"),
    ("meeting", "meetings"),
    ("invitation", "meetings"),
    ("response", "meetings"),
)
_ROLES: dict[str, object] = {
    Role.REGISSEUR.value: _l("director"),
    Role.REGIEONDERSTEUNER.value: _l("recovery coordinator"),
    Role.MEMBER.value: _l("member"),
    Role.NOMINEE.value: _l("nominee"),
    Role.CARE_PROFESSIONAL.value: _l("other care professional"),
    Role.NONE.value: _l("no role in the group"),
    ROLE_UNKNOWN: _l("role not looked up"),
    ROLE_SYSTEM: _l("automatic, no person"),
}


def area_of(app_action: str) -> str:
    """The part of the group an app action is about (for a short line: "looked at: goals")."""
    if app_action in _AREA_OF:
        return _AREA_OF[app_action]
    return next((area for word, area in _AREA_WORDS if word in app_action), "group")


@dataclass(frozen=True)
class AccessLine:
    """One access as the page lists it."""

    when: datetime
    who: str  # a name, or a description when the name is not known
    yourself: bool  # the viewer themselves
    role: str
    kind: str  # "read", "change", "refused" or "failed" (also the CSS class)
    what: str  # e.g. "looked at goals"


def _kind(record: AccessRecord) -> str:
    if record.outcome is AuditOutcome.REFUSED:
        return "refused"
    if record.outcome is AuditOutcome.FAILED:
        return "failed"
    return "change" if record.changed else "read"


def _what(record: AccessRecord, kind: str) -> str:
    area = str(_AREAS[area_of(record.app_action)])
    if kind in ("refused", "failed"):  # the line's badge says which; this says what was tried
        if record.changed:
            return gettext("tried to change: %(area)s", area=area)
        return gettext("tried to look at: %(area)s", area=area)
    if kind == "change":
        return gettext("changed: %(area)s", area=area)
    return gettext("looked at: %(area)s", area=area)


def _from_fhir(service: GroupService, patient: str) -> list[AccessRecord]:
    """The app's AuditEvents of this patient on the FHIR server (newest first); empty when it may not be searched."""
    launch = service.launch
    if not g.get("audit_fhir_capable", False) or not ScopeGrant.parse(launch.granted_scopes).allows(
        "patient", "AuditEvent", "s"
    ):
        return []
    try:
        bundle = service.client.search(
            "AuditEvent", [("entity", patient), ("_sort", "-date"), ("_count", str(SHOWN))]
        ).json()
    except SyncError as exc:
        log.info("audit events of %s could not be searched: %s", patient, exc.diagnostics)
        return []
    found = []
    for entry in bundle.get("entry") or []:
        record = from_audit_event(entry.get("resource") or {})
        if record is not None and record.patient == patient:
            found.append(record)
    return found


def access_records(service: GroupService, trail: AuditTrail, patient: str) -> list[AccessRecord]:
    """The newest accesses to the patient's data, from the server, the local log and those not written yet."""
    records: dict[str, AccessRecord] = {}
    for record in [*trail.pending(patient), *_from_fhir(service, patient), *trail.log.records(patient, limit=SHOWN)]:
        records.setdefault(record.id, record)
    return sorted(records.values(), key=lambda r: r.recorded, reverse=True)[:SHOWN]


class _Names:
    """Names of the people in the records: from the group, else read (a few), else a description."""

    def __init__(self, service: GroupService, page: GroupPage, group: ResourceGroup) -> None:
        self.service = service
        self.group = group
        self.related = {literal(page.loaded.index.ref(s.uid)): s.name for s in group.supporters}
        self.reads = 0

    def __call__(self, reference: str) -> str:
        if reference.startswith("Device/"):  # the app's own work (the worker's reminder round)
            return gettext("the app itself")
        if reference.startswith("RelatedPerson/") and reference in self.related:
            return self.related[reference]
        known = name_of(self.group, reference)
        if known:
            return known
        if self.reads < NAME_READS and reference.startswith(("Practitioner/", "PractitionerRole/", "Patient/")):
            self.reads += 1
            name = self.service.display_name(reference)
            if name != reference:
                return name
        if is_professional_ref(reference):
            return gettext("a care professional of the clinic")
        return gettext("someone else")


def access_lines(service: GroupService, page: GroupPage, trail: AuditTrail) -> list[AccessLine]:
    """The page's lines, newest first."""
    group = page.loaded.group
    if group is None:
        return []
    names = _Names(service, page, group)
    viewer = service.launch.fhir_user_reference
    lines = []
    for record in access_records(service, trail, service.repository.patient):
        kind = _kind(record)
        lines.append(
            AccessLine(
                when=record.recorded,
                who=names(record.user),
                yourself=record.user == viewer,
                role=str(_ROLES.get(record.role, record.role)),
                kind=kind,
                what=_what(record, kind),
            )
        )
    return lines
