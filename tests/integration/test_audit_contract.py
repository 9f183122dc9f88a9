"""Contract: the app's AuditEvents are taken by real FHIR engines (Medplum and the sandbox) in one batch, found
again by the patient they are about, and read back into the same access records."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from werkzeug.serving import make_server

from fhir_mappings.audit import AccessRecord, AuditAction, AuditOutcome, from_audit_event
from plugin.audit.trail import ship_to_fhir
from sandbox.fhir import FhirStore, create_fhir_app
from tests.support.servers import free_port, wait_http

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


@pytest.fixture(scope="module")
def sandbox_base() -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    app = create_fhir_app(store=FhirStore(":memory:"), auth_enabled=False, base_path="/fhir", public_base_url=base)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        wait_http(f"{base}/metadata", timeout=20)
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def create(base: str, body: dict[str, object]) -> str:
    answer = requests.post(f"{base}/{body['resourceType']}", json=body, headers=JSON, timeout=30)
    assert answer.status_code == 201, answer.text
    return f"{body['resourceType']}/{answer.json()['id']}"


@pytest.mark.parametrize("engine", ["medplum", "sandbox"])
def test_audit_events_are_taken_in_one_batch_and_found_by_patient(engine: str, request: pytest.FixtureRequest) -> None:
    base = request.getfixturevalue("medplum_base" if engine == "medplum" else "sandbox_base")
    patient = create(base, {"resourceType": "Patient", "name": [{"text": "Sanne Contract"}]})
    other = create(base, {"resourceType": "Patient", "name": [{"text": "Iemand Anders"}]})
    user = create(base, {"resourceType": "Practitioner", "name": [{"text": "Anna Contract"}]})
    team = create(base, {"resourceType": "CareTeam", "status": "active", "subject": {"reference": patient}})
    start = datetime.now(UTC).replace(microsecond=0)
    records = [
        AccessRecord(
            id=str(uuid.uuid4()),
            recorded=start + timedelta(seconds=n),
            action=action,
            app_action=app_action,
            outcome=outcome,
            user=user,
            role="regieondersteuner",
            patient=who,
            entities=(team,),
            address="127.0.0.1",
        )
        for n, (action, app_action, outcome, who) in enumerate(
            [
                (AuditAction.READ, "view_goals", AuditOutcome.SUCCESS, patient),
                (AuditAction.UPDATE, "add_goal", AuditOutcome.SUCCESS, patient),
                (AuditAction.READ, "view_report", AuditOutcome.REFUSED, patient),
                (AuditAction.READ, "view_overview", AuditOutcome.SUCCESS, other),
            ]
        )
    ]
    assert ship_to_fhir({})(base, "unused-token", records) == [True, True, True, True]
    found = requests.get(
        f"{base}/AuditEvent", params={"entity": patient, "_sort": "-date", "_count": "50"}, headers=JSON, timeout=30
    )
    assert found.status_code == 200, found.text
    back = [from_audit_event(e["resource"]) for e in found.json().get("entry") or []]
    assert all(r is not None for r in back)
    mine = [r for r in back if r is not None]
    assert [r.app_action for r in mine] == ["view_report", "add_goal", "view_goals"]  # newest first, not the other's
    for got, sent in zip(mine, reversed(records[:3]), strict=True):
        assert (got.user, got.patient, got.action, got.outcome, got.entities, got.role) == (
            sent.user,
            sent.patient,
            sent.action,
            sent.outcome,
            sent.entities,
            sent.role,
        )
        assert got.recorded == sent.recorded
