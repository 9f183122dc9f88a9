"""An interview record's confidentiality label survives create, update and a read, on both servers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fhir_mappings.codes import CS_V3_CONFIDENTIALITY, IDENTIFIER_SYSTEM, SAVE_KEY_SYSTEM
from plugin.sync.client import FhirClient
from plugin.sync.transaction import ChangeSet, submit
from tests.contract.conftest import Fhir


def labels(resource: dict[str, Any]) -> list[str]:
    return [s["code"] for s in (resource.get("meta") or {}).get("security", []) if s["system"] == CS_V3_CONFIDENTIALITY]


def test_label_is_written_kept_and_changed(fhir: Fhir) -> None:
    patient = fhir.create({"resourceType": "Patient", "name": [{"family": "Label"}]})
    client = FhirClient(fhir.base)
    uid = str(uuid.uuid4())
    record = {
        "resourceType": "Communication",
        "meta": {"security": [{"system": CS_V3_CONFIDENTIALITY, "code": "R"}]},
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": uid}],
        "status": "completed",
        "subject": {"reference": f"Patient/{patient['id']}"},
        "payload": [{"contentString": "Wat de genomineerde in vertrouwen vertelde."}],
    }
    create = ChangeSet(identifier_system=IDENTIFIER_SYSTEM, idempotency_tag_system=SAVE_KEY_SYSTEM)
    create.create(record)
    result = submit(
        client, create.to_bundle(agent="Practitioner/x", activity={"text": "test"}, recorded=datetime.now(UTC))
    )
    ref = next(w.reference for w in result.written if w.reference.startswith("Communication/"))
    stored = client.read("Communication", ref.split("/")[1]).json()
    assert labels(stored) == ["R"]

    changed = dict(stored, payload=[{"contentString": "Aangevuld."}])
    update = ChangeSet(identifier_system=IDENTIFIER_SYSTEM, idempotency_tag_system=SAVE_KEY_SYSTEM)
    update.update(changed, version=str(stored["meta"]["versionId"]), base=stored)
    submit(client, update.to_bundle(agent="Practitioner/x", activity={"text": "test"}, recorded=datetime.now(UTC)))
    kept = client.read("Communication", ref.split("/")[1]).json()
    assert labels(kept) == ["R"]  # an update of the text keeps the label

    shared = dict(kept, meta={**kept["meta"], "security": [{"system": CS_V3_CONFIDENTIALITY, "code": "N"}]})
    relabel = ChangeSet(identifier_system=IDENTIFIER_SYSTEM, idempotency_tag_system=SAVE_KEY_SYSTEM)
    relabel.update(shared, version=str(kept["meta"]["versionId"]), base=kept)
    submit(client, relabel.to_bundle(agent="Practitioner/x", activity={"text": "test"}, recorded=datetime.now(UTC)))
    assert labels(client.read("Communication", ref.split("/")[1]).json()) == ["N"]
