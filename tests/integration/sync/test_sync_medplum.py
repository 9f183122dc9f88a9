"""The sync layer against the real Medplum FHIR engine, through the counting, fault-injecting proxy."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from fhir_mappings.codes import GoalTerm
from fhir_mappings.model import ResourceGroup
from plugin.sync.capabilities import CapabilityCache, LoadStrategy, ServerCapabilities, choose_load_strategy
from plugin.sync.client import FhirClient, RetryPolicy
from plugin.sync.errors import Invalid
from plugin.sync.outbox import OutboxState, SqliteOutbox, replay, save_or_enqueue
from plugin.sync.repository import Activity, GroupRepository
from plugin.sync.transaction import ChangeSet, submit
from tests.support.proxy import Fault, FaultProxy

pytestmark = pytest.mark.integration

ID_SYSTEM = "https://resourcegroep.test/fhir/identifier"
TAG_SYSTEM = "https://resourcegroep.test/fhir/idempotency"
ACTIVITY = {"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "UPDATE"}
H = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
READ_TIMEOUT = 1.0


@pytest.fixture
def proxy(medplum_base: str) -> Iterator[FaultProxy]:
    upstream = medplum_base.split("/fhir/")[0]
    with FaultProxy(upstream, hang_seconds=READ_TIMEOUT + 2) as p:
        yield p


def make_client(proxy: FaultProxy, medplum_base: str, attempts: int = 4) -> FhirClient:
    return FhirClient(
        proxy.rebase(medplum_base),
        read_timeout=READ_TIMEOUT,
        retry=RetryPolicy(max_attempts=attempts),
        sleep=lambda _s: None,
    )


@pytest.fixture
def client(proxy: FaultProxy, medplum_base: str) -> FhirClient:
    return make_client(proxy, medplum_base)


def direct_create(base: str, resource: dict[str, Any]) -> dict[str, Any]:
    r = requests.post(f"{base}/{resource['resourceType']}", json=resource, headers=H, timeout=10)
    assert r.status_code == 201, r.text
    return dict(r.json())


def direct_get(base: str, path: str) -> dict[str, Any]:
    r = requests.get(f"{base}/{path}", headers=H, timeout=10)
    assert r.status_code == 200, r.text
    return dict(r.json())


def count_by_identifier(base: str, rtype: str, value: str) -> int:
    return int(direct_get(base, f"{rtype}?identifier={ID_SYSTEM}|{value}&_summary=count")["total"])


def count_provenance(base: str, key: str) -> int:
    return int(direct_get(base, f"Provenance?_tag={TAG_SYSTEM}|{key}&_summary=count")["total"])


def ident(value: str) -> list[dict[str, str]]:
    return [{"system": ID_SYSTEM, "value": value}]


@pytest.fixture
def patient(medplum_base: str) -> str:
    p = direct_create(medplum_base, {"resourceType": "Patient", "name": [{"family": "Jansen"}]})
    return f"Patient/{p['id']}"


@pytest.fixture
def practitioner(medplum_base: str) -> str:
    p = direct_create(medplum_base, {"resourceType": "Practitioner", "name": [{"family": "de Vries"}]})
    return f"Practitioner/{p['id']}"


def group_changeset(patient: str, tag: str) -> tuple[ChangeSet, dict[str, str]]:
    """A new group: CareTeam, Goal and CarePlan referencing each other by urn:uuid."""
    cs = ChangeSet(identifier_system=ID_SYSTEM, idempotency_tag_system=TAG_SYSTEM)
    team = cs.create(
        {
            "resourceType": "CareTeam",
            "identifier": ident(f"team-{tag}"),
            "status": "active",
            "name": "Mijn groep",
            "subject": {"reference": patient},
            "participant": [{"member": {"reference": patient}}],
        }
    )
    goal = cs.create(
        {
            "resourceType": "Goal",
            "identifier": ident(f"goal-{tag}"),
            "lifecycleStatus": "active",
            "description": {"text": "Weer zelfstandig wonen"},
            "subject": {"reference": patient},
        }
    )
    plan = cs.create(
        {
            "resourceType": "CarePlan",
            "identifier": ident(f"plan-{tag}"),
            "status": "active",
            "intent": "plan",
            "subject": {"reference": patient},
            "careTeam": [{"reference": team}],
            "goal": [{"reference": goal}],
        }
    )
    return cs, {"team": team, "goal": goal, "plan": plan}


def test_transaction_commits_in_one_round_trip(
    client: FhirClient, proxy: FaultProxy, medplum_base: str, patient: str, practitioner: str
) -> None:
    tag = uuid.uuid4().hex
    cs, refs = group_changeset(patient, tag)
    bundle = cs.to_bundle(agent=practitioner, activity=ACTIVITY)

    result = submit(client, bundle)

    assert proxy.count == 1 and client.request_count == 1
    plan = direct_get(medplum_base, result.resolve(refs["plan"]))
    assert plan["goal"] == [{"reference": result.resolve(refs["goal"])}]
    assert plan["careTeam"] == [{"reference": result.resolve(refs["team"])}]
    assert result.version(refs["plan"]) == plan["meta"]["versionId"]
    prov = direct_get(medplum_base, f"Provenance?_tag={TAG_SYSTEM}|{cs.idempotency_key}")["entry"][0]["resource"]
    assert sorted(t["reference"] for t in prov["target"]) == sorted(result.resolve(r) for r in refs.values())
    assert prov["agent"][0]["who"]["reference"] == practitioner
    assert prov["activity"]["coding"][0]["code"] == "UPDATE"
    assert result.provenance is not None and result.provenance.reference == f"Provenance/{prov['id']}"


def test_retry_after_timeout_after_commit_makes_no_duplicates(
    client: FhirClient, proxy: FaultProxy, medplum_base: str, patient: str, practitioner: str
) -> None:
    tag = uuid.uuid4().hex
    cs, refs = group_changeset(patient, tag)
    bundle = cs.to_bundle(agent=practitioner, activity=ACTIVITY)
    proxy.inject(0, Fault.TIMEOUT_AFTER_COMMIT)

    result = submit(client, bundle)

    assert proxy.count == 2
    assert proxy.seen[0].upstream_status == 200  # the first attempt did commit
    assert [w.status for w in result.written] == [200, 200, 200, 200]  # the retry found everything
    for rtype, value in (("CareTeam", "team"), ("Goal", "goal"), ("CarePlan", "plan")):
        assert count_by_identifier(medplum_base, rtype, f"{value}-{tag}") == 1
    assert count_provenance(medplum_base, cs.idempotency_key) == 1
    assert result.resolve(refs["goal"]).startswith("Goal/")


def test_retry_of_an_update_after_commit_is_recognised_as_done(
    client: FhirClient, proxy: FaultProxy, medplum_base: str, patient: str, practitioner: str
) -> None:
    tag = uuid.uuid4().hex
    team = direct_create(
        medplum_base,
        {
            "resourceType": "CareTeam",
            "identifier": ident(f"team-{tag}"),
            "status": "proposed",
            "subject": {"reference": patient},
        },
    )
    cs = ChangeSet(identifier_system=ID_SYSTEM, idempotency_tag_system=TAG_SYSTEM)
    cs.update({**team, "status": "active"}, version=team["meta"]["versionId"], base=team)
    goal = cs.create(
        {
            "resourceType": "Goal",
            "identifier": ident(f"goal-{tag}"),
            "lifecycleStatus": "active",
            "description": {"text": "Werk vinden"},
            "subject": {"reference": patient},
        }
    )
    proxy.inject(0, Fault.TIMEOUT_AFTER_COMMIT)

    result = submit(client, cs.to_bundle(agent=practitioner, activity=ACTIVITY))

    # Attempt 2 hits 412 (our own update already applied); the Provenance tag proves it: done.
    assert result.already_applied
    assert proxy.count == 3  # timed-out attempt, 412 retry, Provenance lookup
    assert count_by_identifier(medplum_base, "Goal", f"goal-{tag}") == 1
    assert count_provenance(medplum_base, cs.idempotency_key) == 1
    history = direct_get(medplum_base, f"CareTeam/{team['id']}/_history")
    assert len(history["entry"]) == 2 and direct_get(medplum_base, f"CareTeam/{team['id']}")["status"] == "active"
    assert result.resolve(goal).startswith("Goal/")


@pytest.mark.parametrize("fault", [Fault.DROP, Fault.STATUS_503, Fault.TIMEOUT_AFTER_COMMIT])
def test_outage_parks_the_save_and_replay_writes_exactly_once(
    proxy: FaultProxy, medplum_base: str, patient: str, practitioner: str, tmp_path: Path, fault: Fault
) -> None:
    client = make_client(proxy, medplum_base, attempts=1)  # no retries: every fault is an outage
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite")
    tag = uuid.uuid4().hex
    cs, _ = group_changeset(patient, tag)
    bundle = cs.to_bundle(agent=practitioner, activity=ACTIVITY)
    proxy.inject(0, fault)

    outcome = save_or_enqueue(client, outbox, bundle, user=practitioner, patient=patient)

    assert not outcome.saved and outcome.queued is not None
    assert [e.idempotency_key for e in outbox.pending_for(patient)] == [cs.idempotency_key]
    committed = 1 if fault is Fault.TIMEOUT_AFTER_COMMIT else 0
    assert count_by_identifier(medplum_base, "Goal", f"goal-{tag}") == committed

    report = replay(outbox, client)

    assert report.complete and report.sent == [outcome.queued.id]
    assert outbox.pending_for(patient) == []
    assert outbox.get(outcome.queued.id).state is OutboxState.SENT  # type: ignore[union-attr]
    for rtype, value in (("CareTeam", "team"), ("Goal", "goal"), ("CarePlan", "plan")):
        assert count_by_identifier(medplum_base, rtype, f"{value}-{tag}") == 1
    assert count_provenance(medplum_base, cs.idempotency_key) == 1


def no_transactions(caps: ServerCapabilities) -> ServerCapabilities:
    return ServerCapabilities(caps.base_url, caps.fhir_version, caps.resources, frozenset({"batch"}))


@pytest.mark.parametrize("index", range(5))
def test_sequential_save_recovers_forward_after_a_fault_at_each_request(
    proxy: FaultProxy, medplum_base: str, patient: str, practitioner: str, tmp_path: Path, index: int
) -> None:
    client = make_client(proxy, medplum_base, attempts=1)
    caps = no_transactions(CapabilityCache().get(client, probe=False))
    tag = uuid.uuid4().hex
    team = direct_create(
        medplum_base,
        {
            "resourceType": "CareTeam",
            "identifier": ident(f"team-{tag}"),
            "status": "proposed",
            "subject": {"reference": patient},
        },
    )
    cs, _ = group_changeset(patient, tag)
    cs.creates = [c for c in cs.creates if c.resource["resourceType"] != "CareTeam"]
    cs.creates[1].resource["careTeam"] = [{"reference": f"CareTeam/{team['id']}"}]
    cs.update({**team, "status": "active"}, version=team["meta"]["versionId"], base=team)
    bundle = cs.to_bundle(agent=practitioner, activity=ACTIVITY)  # Goal, CarePlan, CareTeam update, Provenance
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite")
    proxy.reset()
    proxy.inject(index, Fault.TIMEOUT_AFTER_COMMIT)

    outcome = save_or_enqueue(client, outbox, bundle, user=practitioner, patient=patient, capabilities=caps)
    if index < 4:  # 4 requests: the fault hits one of them
        assert outcome.queued is not None
        report = replay(outbox, client, capabilities=caps)
        assert report.complete and len(report.sent) == 1
    else:
        assert outcome.saved

    assert count_by_identifier(medplum_base, "Goal", f"goal-{tag}") == 1
    assert count_by_identifier(medplum_base, "CarePlan", f"plan-{tag}") == 1
    assert count_provenance(medplum_base, cs.idempotency_key) == 1
    assert len(direct_get(medplum_base, f"CareTeam/{team['id']}/_history")["entry"]) == 2


def test_sequential_save_compensates_after_a_permanent_refusal(
    client: FhirClient, medplum_base: str, patient: str, practitioner: str
) -> None:
    caps = no_transactions(CapabilityCache().get(client, probe=False))
    tag = uuid.uuid4().hex
    team = direct_create(
        medplum_base,
        {
            "resourceType": "CareTeam",
            "identifier": ident(f"team-{tag}"),
            "status": "proposed",
            "name": "voor",
            "subject": {"reference": patient},
        },
    )
    cs = ChangeSet(identifier_system=ID_SYSTEM, idempotency_tag_system=TAG_SYSTEM)
    cs.create(
        {
            "resourceType": "Goal",
            "identifier": ident(f"goal-{tag}"),
            "lifecycleStatus": "active",
            "description": {"text": "x"},
            "subject": {"reference": patient},
        }
    )
    cs.update({**team, "name": "na"}, version=team["meta"]["versionId"])
    plan = direct_create(
        medplum_base,
        {"resourceType": "CarePlan", "status": "active", "intent": "plan", "subject": {"reference": patient}},
    )
    cs.update({**plan, "status": "not-a-status"}, version=plan["meta"]["versionId"])

    with pytest.raises(Invalid):
        submit(client, cs.to_bundle(agent=practitioner, activity=ACTIVITY), capabilities=caps)

    goal = direct_get(medplum_base, f"Goal?identifier={ID_SYSTEM}|goal-{tag}")["entry"][0]["resource"]
    assert goal["lifecycleStatus"] == "entered-in-error"  # retired, never deleted
    assert direct_get(medplum_base, f"CareTeam/{team['id']}")["name"] == "voor"  # restored
    assert count_provenance(medplum_base, cs.idempotency_key) == 0


def test_capabilities_of_medplum_choose_the_include_strategy(client: FhirClient, proxy: FaultProxy) -> None:
    cache = CapabilityCache()
    caps = cache.get(client)
    assert caps.supports_transaction and caps.supports_batch
    assert caps.includes_declared((("_include", "CarePlan:goal"),)) is None  # Medplum does not list them
    assert caps.includes_probed is True
    assert choose_load_strategy(cache.get(client)) is LoadStrategy.INCLUDE
    assert proxy.count == 2  # /metadata and the probe, then cached


def test_a_group_load_brings_the_patient_in_one_request(
    client: FhirClient, proxy: FaultProxy, patient: str, practitioner: str, tmp_path: Path
) -> None:
    """The include search and the patient's read as one batch: Medplum answers both, with and without a group."""
    cache = CapabilityCache()
    repo = GroupRepository(
        client=client,
        patient_id=patient.split("/")[1],
        user=practitioner,
        outbox=SqliteOutbox(tmp_path / "outbox.sqlite"),
        capabilities=cache,
    )
    cache.get(client)  # what the server can do is known before the view (learnt once per server)
    proxy.reset()
    empty = repo.load()
    assert proxy.count == 1 and empty.group is None
    assert empty.patient_resource is not None and empty.patient_resource["id"] == patient.split("/")[1]
    group = ResourceGroup.start_new(
        patient=patient,
        patient_display="Jansen",
        regieondersteuner=practitioner,
        regieondersteuner_display="de Vries",
        name="Groep",
        today=dt.date(2026, 3, 2),
    )
    group.add_goal("Weer zelfstandig wonen", GoalTerm.LANG, dt.date(2026, 3, 2))
    assert repo.start(group, Activity("Resourcegroep gestart", "CREATE")).saved
    proxy.reset()
    loaded = repo.load()
    assert proxy.count == 1 and loaded.strategy is LoadStrategy.INCLUDE and loaded.round_trips == 1
    assert loaded.group is not None and [g.text for g in loaded.group.goals] == ["Weer zelfstandig wonen"]
    assert loaded.person(patient) == loaded.patient_resource and loaded.patient_resource is not None
    assert loaded.person(practitioner) is not None  # the team's practitioner came with the group
