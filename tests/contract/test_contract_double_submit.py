"""A form sent twice makes one resource, on both servers (sandbox store, Medplum).

- two identical submits at once (a double click): one save, the other is recognised;
- a submit again after Back: recognised, nothing new;
- two identical submits at once on two machines that share no submission log: the uids derive from the
  submission key, so the server's conditional create finds the first Task and the re-read after the
  version conflict sees that the submission is already in: still exactly one Task.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fhir_mappings.codes import IDENTIFIER_SYSTEM
from fhir_mappings.model import Agreement, ResourceGroup, seeded_uid
from fhir_mappings.rights import Action
from plugin.services.core import act
from plugin.services.fhir_uow import FhirUnitOfWork
from plugin.services.submissions import MemorySubmissionLog, SqliteSubmissionLog, SubmissionLog
from plugin.services.uow import Activity, Done, SaveState
from plugin.sync.capabilities import CapabilityCache
from plugin.sync.client import FhirClient
from plugin.sync.errors import Forbidden
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.repository import GroupRepository
from tests.contract.conftest import Fhir

TODAY = date(2026, 11, 2)
USER = "Practitioner/contract-double"


class NoProvenanceSearch(FhirClient):
    """A launch that may write Provenances but not search them (a patient's token often may not)."""

    def search(self, resource_type: str, params: Any = (), **kw: Any) -> Any:
        if resource_type == "Provenance":
            raise Forbidden("no patient/Provenance.s", permission="patient/Provenance.s", resource_type="Provenance")
        return super().search(resource_type, params, **kw)


def repository(
    fhir: Fhir, patient_id: str, tmp_path: Path, caps: CapabilityCache, *, provenance_search: bool = True
) -> GroupRepository:
    return GroupRepository(
        client=FhirClient(fhir.base) if provenance_search else NoProvenanceSearch(fhir.base),
        patient_id=patient_id,
        user=USER,
        outbox=SqliteOutbox(tmp_path / f"outbox-{uuid.uuid4().hex}.sqlite3"),
        capabilities=caps,
    )


@pytest.fixture
def patient_with_group(fhir: Fhir, tmp_path: Path) -> str:
    patient_id = str(fhir.create({"resourceType": "Patient", "name": [{"family": "Dubbel", "given": ["Klik"]}]})["id"])
    repo = repository(fhir, patient_id, tmp_path, CapabilityCache())
    group = ResourceGroup.start_new(
        patient=f"Patient/{patient_id}",
        patient_display="Klik Dubbel",
        regieondersteuner=USER,
        regieondersteuner_display="Anna",
        name="Team Dubbel",
        today=TODAY,
    )
    assert repo.start(group, Activity("Resourcegroep gestart", "CREATE")).saved
    return patient_id


def add_agreement(text: str) -> Callable[[FhirUnitOfWork, str], Done[Agreement]]:
    def call(uow: FhirUnitOfWork, key: str) -> Done[Agreement]:
        return act(uow, key, Action.ADD_AGREEMENT, "Afspraak gemaakt", lambda g, _: g.add_agreement(text, TODAY))

    return call


def tasks_with(fhir: Fhir, patient_id: str, text: str) -> list[dict[str, Any]]:
    bundle = fhir.search(f"Task?patient=Patient/{patient_id}&_count=100")
    return [e["resource"] for e in bundle.get("entry", []) if e["resource"].get("description") == text]


def at_once(calls: list[Callable[[], Done[Any]]]) -> list[Done[Any]]:
    barrier = threading.Barrier(len(calls))
    results: list[Done[Any] | BaseException] = [RuntimeError("not run")] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [r for r in results if not isinstance(r, BaseException)]


def uow(
    fhir: Fhir, patient_id: str, tmp_path: Path, log: SubmissionLog, *, provenance_search: bool = True
) -> FhirUnitOfWork:
    repo = repository(fhir, patient_id, tmp_path, CapabilityCache(), provenance_search=provenance_search)
    return FhirUnitOfWork(repo, log)


def test_double_click_then_back_and_submit_makes_one_task(fhir: Fhir, patient_with_group: str, tmp_path: Path) -> None:
    log = SqliteSubmissionLog(tmp_path / "submissions.sqlite3")
    key, text = str(uuid.uuid4()), f"Boodschappen doen {uuid.uuid4().hex[:6]}"
    first, second = (uow(fhir, patient_with_group, tmp_path, log) for _ in range(2))
    for u in (first, second):
        u.group()  # both requests read the group before either saves, as two clicks do
    results = at_once([lambda: add_agreement(text)(first, key), lambda: add_agreement(text)(second, key)])
    assert sorted(r.state.value for r in results) == ["repeated", "saved"]
    assert len(tasks_with(fhir, patient_with_group, text)) == 1
    again = add_agreement(text)(uow(fhir, patient_with_group, tmp_path, log), key)  # Back, then submit again
    assert again.state is SaveState.REPEATED
    assert again.uid == seeded_uid(key)
    tasks = tasks_with(fhir, patient_with_group, text)
    assert len(tasks) == 1
    assert {"system": IDENTIFIER_SYSTEM, "value": seeded_uid(key)} in tasks[0]["identifier"]


@pytest.mark.parametrize("provenance_search", [True, False], ids=["provenance-found", "provenance-search-refused"])
def test_same_submission_on_two_machines_at_once_makes_one_task(
    fhir: Fhir, patient_with_group: str, tmp_path: Path, provenance_search: bool
) -> None:
    """Without a shared log: the Provenance tag finds the first save; where the token may not search
    Provenances, the seeded uids do (the conditional create and the re-read both see the first Task)."""
    key, text = str(uuid.uuid4()), f"Fietsen {uuid.uuid4().hex[:6]}"
    first = uow(fhir, patient_with_group, tmp_path, MemorySubmissionLog(), provenance_search=provenance_search)
    second = uow(fhir, patient_with_group, tmp_path, MemorySubmissionLog(), provenance_search=provenance_search)
    for u in (first, second):
        u.group()
    results = at_once([lambda: add_agreement(text)(first, key), lambda: add_agreement(text)(second, key)])
    assert all(r.state in (SaveState.SAVED, SaveState.REPEATED) for r in results)
    assert len(tasks_with(fhir, patient_with_group, text)) == 1
    plan = fhir.search(f"CarePlan?subject=Patient/{patient_with_group}")["entry"][0]["resource"]
    task_id = tasks_with(fhir, patient_with_group, text)[0]["id"]
    activity_refs = [a["reference"]["reference"] for a in plan.get("activity", [])]
    assert activity_refs.count(f"Task/{task_id}") == 1
    # Back and submit again on a third machine that never saw this key: recognised from the record itself.
    third = uow(fhir, patient_with_group, tmp_path, MemorySubmissionLog(), provenance_search=provenance_search)
    assert add_agreement(text)(third, key).state is SaveState.REPEATED
    assert len(tasks_with(fhir, patient_with_group, text)) == 1
