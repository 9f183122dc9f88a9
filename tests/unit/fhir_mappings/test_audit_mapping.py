"""Access records and their AuditEvent form (IHE BALP shape): valid FHIR R4, read back, never free text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from fhir_mappings import audit
from fhir_mappings.audit import (
    APP_ACTIONS_BEYOND_RIGHTS,
    ROLE_SYSTEM,
    ROLE_UNKNOWN,
    AccessRecord,
    AuditAction,
    AuditOutcome,
    AuditValueError,
    from_audit_event,
    from_line,
    to_audit_event,
    to_line,
)
from fhir_mappings.codes import CS_ACCESS_ROLE, CS_APP_ACTION, CS_DICOM, codesystem, display
from fhir_mappings.rights import Action, Role


def record(**changes: object) -> AccessRecord:
    values: dict[str, object] = {
        "id": "0b6c5f1e-8f0a-4a51-9d4c-1f7f0c2a9e11",
        "recorded": datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        "action": AuditAction.UPDATE,
        "app_action": "add_goal",
        "outcome": AuditOutcome.SUCCESS,
        "user": "Practitioner/anna-de-vries",
        "role": "regieondersteuner",
        "patient": "Patient/sanne-bakker",
        "entities": ("Goal/g1", "CarePlan/p1"),
        "client_id": "resourcegroep",
        "address": "10.1.2.3",
    }
    values.update(changes)
    return AccessRecord(**values)  # type: ignore[arg-type]


def test_an_access_record_is_a_valid_r4_audit_event_that_names_user_patient_action_and_outcome() -> None:
    event = to_audit_event(record())
    AuditEvent.model_validate(event)  # structure and cardinalities
    assert event["action"] == "U" and event["outcome"] == "0" and event["recorded"] == "2026-12-01T09:30:00.000Z"
    user = next(a for a in event["agent"] if a["requestor"])
    assert user["who"] == {"reference": "Practitioner/anna-de-vries"}
    assert user["role"][0]["coding"][0] == {
        "system": CS_ACCESS_ROLE,
        "code": "regieondersteuner",
        "display": "Regieondersteuner",
    }
    assert user["network"] == {"address": "10.1.2.3", "type": "2"}
    app = next(a for a in event["agent"] if not a["requestor"])
    assert app["who"]["identifier"]["value"] == "resourcegroep"
    patient = event["entity"][0]
    assert patient["what"] == {"reference": "Patient/sanne-bakker"} and patient["role"]["code"] == "1"
    assert [e["what"]["reference"] for e in event["entity"][1:]] == ["Goal/g1", "CarePlan/p1"]
    assert {"system": CS_APP_ACTION, "code": "add_goal", "display": "Doel toegevoegd"} in event["subtype"]


def test_the_apps_own_work_is_recorded_with_the_app_as_its_requestor_not_a_human_user() -> None:
    event = to_audit_event(
        record(user="Device/rg-backend", role=ROLE_SYSTEM, app_action="send_reminders", address=None)
    )
    AuditEvent.model_validate(event)
    user = next(a for a in event["agent"] if a["requestor"])
    assert user["who"] == {"reference": "Device/rg-backend"}
    assert user["type"]["coding"] == [{"system": CS_DICOM, "code": "110150", "display": "Application"}]
    assert user["role"][0]["coding"][0] == {
        "system": CS_ACCESS_ROLE,
        "code": "system",
        "display": "Automatisch, geen persoon",
    }
    person = next(a for a in to_audit_event(record())["agent"] if a["requestor"])
    assert person["type"]["coding"][0]["code"] == "humanuser"


def test_an_audit_event_reads_back_into_the_same_record() -> None:
    for original in (
        record(),
        record(action=AuditAction.READ, outcome=AuditOutcome.REFUSED, address=None, entities=()),
        record(user="Device/rg-backend", role=ROLE_SYSTEM, app_action="send_reminders", action=AuditAction.CREATE),
    ):
        back = from_audit_event(to_audit_event(original))
        assert back == original
        assert from_line(to_line(original)) == original


def test_audit_events_the_app_did_not_write_are_not_read_as_its_own() -> None:
    server_own = {
        "resourceType": "AuditEvent",
        "type": {"code": "rest"},
        "action": "R",
        "recorded": "2026-12-01T09:30:00Z",
        "agent": [{"who": {"reference": "Practitioner/x"}, "requestor": True}],
        "source": {"observer": {"display": "server"}},
    }
    assert from_audit_event(server_own) is None
    broken = to_audit_event(record())
    del broken["entity"]
    assert from_audit_event(broken) is None
    assert from_line({"id": "x"}) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("entities", ("Goal/g1", "Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig")),  # a token
        ("entities", ("Sanne heeft het moeilijk thuis",)),  # free text
        ("user", "Anna de Vries"),  # a name, not a reference
        ("patient", "Practitioner/anna-de-vries"),  # not a patient
        ("app_action", "Doel toegevoegd: Zelfstandig wonen"),  # free text as the action
        ("address", "10.0.0.1; drop table"),
        ("recorded", datetime(2026, 12, 1, 9, 30)),  # no time zone
    ],
)
def test_values_that_are_not_codes_references_or_ids_are_refused(field: str, value: object) -> None:
    with pytest.raises(AuditValueError):
        record(**{field: value})


def test_every_app_action_and_role_has_a_dutch_display_in_the_shipped_code_systems() -> None:
    actions = {c["code"]: c["display"] for c in codesystem("app-action")["concept"]}
    assert {a.value for a in Action} | set(APP_ACTIONS_BEYOND_RIGHTS) == set(actions)
    assert len(actions) == len(Action) + len(APP_ACTIONS_BEYOND_RIGHTS)  # no right's action has another's code
    roles = {c["code"] for c in codesystem("access-role")["concept"]}
    assert roles == {r.value for r in Role} | {ROLE_UNKNOWN, ROLE_SYSTEM}


def test_the_actions_beyond_the_rights_are_every_other_action_the_app_records() -> None:
    """Every app action constant of the audit module is listed (a new one is not left out of the CodeSystem)."""
    constants = {
        value
        for name, value in vars(audit).items()
        if name.isupper() and isinstance(value, str) and name.startswith(("VIEW_", "REPLAY_", "SEND_"))
    }
    assert constants == set(APP_ACTIONS_BEYOND_RIGHTS)
    for code in APP_ACTIONS_BEYOND_RIGHTS:
        assert display(CS_APP_ACTION, code) != code  # a Dutch display, not the code itself
