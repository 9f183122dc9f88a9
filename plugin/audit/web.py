"""The audit trail in the app: every request that touched patient data leaves access records.

Views and services name what they do (`request_audit().reading(...)`, `.acting(...)`, `.wrote(...)`;
the group service and the unit of work do this for every group page and save). After the response
(`after_request`, error pages included) one record per patient touched is made, its outcome taken from
the status code: below 400 success, 4xx refused (a right, a rule, a form error: nothing was written), 5xx
failed. The records go to the trail (see `plugin.audit.trail`), never on the request's own time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, request
from werkzeug.wrappers import Response

from fhir_mappings.audit import REPLAY_SAVE, AccessRecord, AuditAction, AuditOutcome, AuditValueError
from plugin.audit.trail import AccessLog, AuditTrail, RequestAudit, action_for, ship_to_fhir
from plugin.config import AppConfig
from plugin.sync.capabilities import ServerCapabilities
from plugin.sync.client import FhirClient, StaticTokenProvider
from smart_launch.scopes import ScopeGrant

log = logging.getLogger("plugin.audit")

AUDIT_FILE = "audit.jsonl"


@dataclass(frozen=True)
class FhirTarget:
    """Where this request's records may go on the FHIR server (base URL and the launch's token)."""

    base_url: str
    token: str


def audit_log_path(config: AppConfig, data_folder: Path) -> Path:
    """The local audit log: configured, else `audit/audit.jsonl` in the app's data folder (the outbox's)."""
    if config.audit.log_file:
        return Path(config.audit.log_file)
    return data_folder / "audit" / AUDIT_FILE


def init_audit(app: Flask, config: AppConfig, data_folder: Path, client_options: dict[str, Any]) -> AuditTrail:
    """Create the trail (the local log checked writable at start) and record every request's accesses.

    `client_options` is the app's FHIR client options dict, used as it stands at each shipment."""
    path = audit_log_path(config, data_folder)
    access_log = AccessLog(path, max_bytes=config.audit.max_bytes, backups=config.audit.backups)
    access_log.check_writable()
    trail = AuditTrail(
        access_log,
        shipper=ship_to_fhir(client_options) if config.audit.sink != "file" else None,
        interval=config.audit.flush_interval,
        batch_size=config.audit.batch_size,
    )
    app.extensions["audit"] = trail

    @app.after_request
    def write_access_records(response: Response) -> Response:
        audit: RequestAudit | None = g.pop("audit", None)
        if audit is not None and audit.touched:
            try:
                _emit(trail, config, audit, response.status_code, request.method)
            except AuditValueError:
                log.exception("an access record could not be made")
        return response

    return trail


def request_audit() -> RequestAudit:
    """This request's collector (made on first use)."""
    audit: RequestAudit | None = g.get("audit")
    if audit is None:
        audit = g.audit = RequestAudit()
    return audit


def current_trail() -> AuditTrail:
    trail: AuditTrail = current_app.extensions["audit"]
    return trail


def _outcome(status: int, method: str) -> AuditOutcome:
    if status >= 500:
        return AuditOutcome.FAILED
    if status == 422 and method in ("GET", "HEAD"):
        return AuditOutcome.SUCCESS  # a page shown with a word about what was asked for (a date it cannot read)
    if status >= 400:
        return AuditOutcome.REFUSED
    return AuditOutcome.SUCCESS


def _address() -> str | None:
    address = request.remote_addr
    return address if address and len(address) <= 45 else None


def _user(audit: RequestAudit) -> str:
    launch = g.get("launch")
    reference = launch.fhir_user_reference if launch is not None else audit.user
    return reference or "Practitioner/unknown"


def _emit(trail: AuditTrail, config: AppConfig, audit: RequestAudit, status: int, method: str) -> None:
    outcome = _outcome(status, method)
    app_action = audit.app_action or "view_overview"
    writing = bool(audit.written) and outcome is AuditOutcome.SUCCESS
    action = action_for(app_action, method)  # a page is a read, a save its write (also when it was refused)
    entities = audit.written if writing else audit.read
    now = datetime.now(UTC)
    client_id = _client_id(config, audit)
    user = _user(audit)
    records = []
    if audit.patient is not None:
        records.append(_record(audit.role, app_action, action, outcome, audit.patient, entities, now, client_id, user))
    for patient, (role, listed) in audit.listed.items():
        if patient != audit.patient:
            records.append(_record(role, app_action, AuditAction.READ, outcome, patient, listed, now, client_id, user))
    if audit.patient is not None:  # the user's own waiting saves sent on their way: writes, whatever the page did
        replays = [(AuditOutcome.SUCCESS, audit.replayed)] if audit.replayed else []
        replays += [(AuditOutcome.REFUSED, [])] * audit.replays_refused
        for done, written in replays:
            records.append(
                _record(audit.role, REPLAY_SAVE, AuditAction.UPDATE, done, audit.patient, written, now, client_id, user)
            )
    target = _fhir_target(config, audit) if config.audit.sink != "file" else None
    trail.record(records, fhir_base=target.base_url if target else None, token=target.token if target else None)


def _record(
    role: str,
    app_action: str,
    action: AuditAction,
    outcome: AuditOutcome,
    patient: str,
    entities: Sequence[str],
    now: datetime,
    client_id: str,
    user: str,
) -> AccessRecord:
    return AccessRecord(
        id=str(uuid.uuid4()),
        recorded=now,
        action=action,
        app_action=app_action,
        outcome=outcome,
        user=user,
        role=role,
        patient=patient,
        entities=tuple(entities),
        client_id=client_id,
        address=_address(),
    )


def _client_id(config: AppConfig, audit: RequestAudit) -> str:
    launch = g.get("launch")
    ehr_name = launch.ehr_name if launch is not None else audit.ehr_name
    if ehr_name is not None:
        for ehr in config.ehrs:
            if ehr.name == ehr_name and ehr.client_id:
                return ehr.client_id
    return "resourcegroep"


def takes_audit_events(caps: ServerCapabilities) -> bool:
    """Whether the server's CapabilityStatement offers AuditEvent create and batch (the trail's shipment)."""
    return caps.supports("AuditEvent", "create") and caps.supports_batch


def _fhir_target(config: AppConfig, audit: RequestAudit) -> FhirTarget | None:
    """The launch's FHIR server when it takes AuditEvents from this launch (capability and scope), else None.

    A group page knows the server's capabilities from its load (`g.audit_fhir_capable`); other pages (the launch
    summary, the caseload) ask the shared capability cache, which reads /metadata at most once per server and TTL."""
    launch = g.get("launch")
    if launch is None:
        return None
    grant = ScopeGrant.parse(launch.granted_scopes)
    context = "patient" if launch.patient_id else "user"
    if not grant.allows(context, "AuditEvent", "c"):
        return None
    try:
        token = launch.access_token()
        capable = g.get("audit_fhir_capable")
        if capable is None:
            settings: dict[str, Any] = current_app.extensions["resourcegroep"]
            client = FhirClient(launch.fhir_base_url, StaticTokenProvider(token), **settings.get("client_options", {}))
            capable = takes_audit_events(settings["capabilities"].get(client, probe=False))
    except Exception:  # an ended launch, an unreachable server: the record still goes to the local log
        log.info("the audit record goes to the local log (no token or no capabilities)")
        return None
    return FhirTarget(launch.fhir_base_url, token) if capable else None
