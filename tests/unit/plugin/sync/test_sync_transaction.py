"""ChangeSet -> transaction Bundle, Provenance, parsing the answer, submit (incl. replay detection)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from plugin.sync.capabilities import ServerCapabilities
from plugin.sync.client import FhirClient, RetryPolicy
from plugin.sync.errors import PreconditionFailed, ServerUnavailable
from plugin.sync.transaction import (
    ChangeSet,
    fhir_user_reference,
    idempotency_tag,
    is_idempotent,
    parse_transaction_response,
    rewrite_references,
    submit,
)

BASE = "https://ehr.test/fhir/R4"
IDS = "https://resourcegroep.test/id"
TAGS = "https://resourcegroep.test/idempotency"
WHEN = dt.datetime(2025, 3, 1, 10, 30, tzinfo=dt.UTC)
ACTIVITY = {"system": "https://resourcegroep.test/activiteit", "code": "doel-toevoegen"}


def goal(value: str = "g-1", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Goal",
        "identifier": [{"system": IDS, "value": value}],
        "lifecycleStatus": "active",
        "description": {"text": "Weer werken"},
        "subject": {"reference": "Patient/p1"},
        **extra,
    }


def sample() -> tuple[ChangeSet, str, dict[str, Any]]:
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS, idempotency_key="key-1")
    g = cs.create(goal())
    plan = {
        "resourceType": "CarePlan",
        "id": "cp1",
        "meta": {"versionId": "4", "lastUpdated": "x", "tag": [{"system": "other", "code": "keep"}]},
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
        "goal": [{"reference": g}],
    }
    cs.update(plan, version='W/"4"')
    return cs, g, cs.to_bundle(agent="Practitioner/u1", activity=ACTIVITY, recorded=WHEN)


def test_bundle_has_conditional_creates_if_match_updates_and_urn_references() -> None:
    _cs, g, bundle = sample()
    assert bundle["type"] == "transaction"
    create, update, _prov = bundle["entry"]
    assert create["fullUrl"] == g and g.startswith("urn:uuid:")
    assert create["request"] == {"method": "POST", "url": "Goal", "ifNoneExist": f"identifier={IDS}|g-1"}
    assert update["request"] == {"method": "PUT", "url": "CarePlan/cp1", "ifMatch": 'W/"4"'}
    assert update["resource"]["goal"] == [{"reference": g}]
    assert "versionId" not in update["resource"]["meta"]  # server-owned
    assert update["resource"]["meta"]["tag"] == [{"system": "other", "code": "keep"}]  # others' tags survive
    assert is_idempotent(bundle)


def test_provenance_names_everything_written_the_user_and_the_activity() -> None:
    _cs, g, bundle = sample()
    prov_entry = bundle["entry"][-1]
    prov = prov_entry["resource"]
    assert prov["resourceType"] == "Provenance"
    assert prov["target"] == [{"reference": g}, {"reference": "CarePlan/cp1"}]
    assert prov["agent"][0]["who"] == {"reference": "Practitioner/u1"}
    assert prov["agent"][0]["type"]["coding"][0]["code"] == "author"
    assert prov["activity"] == {"coding": [ACTIVITY]}
    assert prov["recorded"] == "2025-03-01T10:30:00.000Z"
    assert prov["meta"]["tag"] == [{"system": TAGS, "code": "key-1"}]
    assert prov_entry["request"]["ifNoneExist"] == f"_tag={TAGS}|key-1"
    assert idempotency_tag(bundle) == (TAGS, "key-1")


def test_rebuilding_the_same_action_gives_the_same_bundle() -> None:
    cs, _, bundle = sample()
    assert json.dumps(cs.to_bundle(agent="Practitioner/u1", activity=ACTIVITY, recorded=WHEN)) == json.dumps(bundle)


def test_create_without_product_identifier_is_refused() -> None:
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS)
    with pytest.raises(ValueError, match="identifier"):
        cs.create({"resourceType": "Goal", "identifier": [{"system": "else", "value": "1"}]})
    with pytest.raises(ValueError):
        cs.create({"resourceType": "Provenance"})
    with pytest.raises(ValueError):
        cs.to_bundle(agent="Practitioner/1", activity=ACTIVITY)  # empty
    with pytest.raises(ValueError):
        cs.provenance(agent="Practitioner/1", activity=ACTIVITY, recorded=dt.datetime(2025, 1, 1))  # naive


def test_is_idempotent_flags_unconditional_writes() -> None:
    post = {"entry": [{"request": {"method": "POST", "url": "Goal"}}]}
    put = {"entry": [{"request": {"method": "PUT", "url": "Goal/1"}}]}
    ok = {
        "entry": [
            {"request": {"method": "GET", "url": "Goal/1"}},
            {"request": {"method": "PUT", "url": "Goal/1", "ifMatch": 'W/"1"'}},
        ]
    }
    assert not is_idempotent(post) and not is_idempotent(put) and is_idempotent(ok)


def test_fhir_user_reference_is_made_relative_on_the_same_server() -> None:
    assert fhir_user_reference(f"{BASE}/Practitioner/9", BASE) == "Practitioner/9"
    assert fhir_user_reference("https://idp.test/Practitioner/9", BASE) == "https://idp.test/Practitioner/9"


def test_rewrite_references_replaces_placeholders_deeply() -> None:
    value = {"a": [{"reference": "urn:uuid:1"}, {"member": {"reference": "urn:uuid:2"}}], "reference": "X/1"}
    out = rewrite_references(value, {"urn:uuid:1": "Goal/9", "urn:uuid:2": "Patient/3"})
    assert out == {"a": [{"reference": "Goal/9"}, {"member": {"reference": "Patient/3"}}], "reference": "X/1"}
    assert value["a"][0]["reference"] == "urn:uuid:1"  # pure


def answer_for(bundle: dict[str, Any], status: str = "201 Created") -> dict[str, Any]:
    entries = []
    for i, e in enumerate(bundle["entry"]):
        rtype = e["resource"]["resourceType"]
        rid = e["resource"].get("id") or f"new{i}"
        entries.append(
            {
                "response": {
                    "status": status,
                    "location": f"{BASE}/{rtype}/{rid}/_history/{i + 10}",
                    "etag": f'W/"{i + 10}"',
                }
            }
        )
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}


def test_parse_transaction_response_maps_placeholders_to_ids_and_versions() -> None:
    _cs, g, bundle = sample()
    result = parse_transaction_response(bundle, answer_for(bundle))
    assert result.ids == {g: "Goal/new0", bundle["entry"][-1]["fullUrl"]: "Provenance/new2"}
    assert result.resolve(g) == "Goal/new0" and result.version(g) == "10"
    assert result.resolve("CarePlan/cp1") == "CarePlan/cp1" and result.version("CarePlan/cp1") == "11"
    assert result.provenance is not None and result.provenance.reference == "Provenance/new2"
    assert result.written[0].created and result.idempotency_key == "key-1"
    with pytest.raises(KeyError):
        result.resolve("Goal/unknown")


def test_parse_transaction_response_rejects_a_mismatched_answer() -> None:
    _, _, bundle = sample()
    with pytest.raises(Exception, match="entries"):
        parse_transaction_response(bundle, {"resourceType": "Bundle", "type": "transaction-response", "entry": []})


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def client() -> FhirClient:
    return FhirClient(BASE, retry=RetryPolicy(max_attempts=2), sleep=lambda _s: None)


def test_submit_posts_one_transaction(rsps: responses.RequestsMock) -> None:
    _, g, bundle = sample()
    rsps.post(BASE, json=answer_for(bundle))
    c = client()
    assert submit(c, bundle).resolve(g) == "Goal/new0"
    assert c.request_count == 1 and json.loads(rsps.calls[0].request.body) == bundle


def test_submit_recognises_an_earlier_commit_after_412(rsps: responses.RequestsMock) -> None:
    _, g, bundle = sample()
    rsps.post(BASE, status=412, json={"resourceType": "OperationOutcome", "issue": []})
    prov = {
        "resourceType": "Provenance",
        "id": "pv",
        "meta": {"versionId": "1"},
        "target": [{"reference": "Goal/77"}, {"reference": "CarePlan/cp1/_history/5"}],
    }
    rsps.get(f"{BASE}/Provenance", json={"resourceType": "Bundle", "entry": [{"resource": prov}]})
    result = submit(client(), bundle)
    assert result.already_applied
    assert result.resolve(g) == "Goal/77" and result.version("CarePlan/cp1") == "5"
    assert "_tag=https%3A%2F%2Fresourcegroep.test%2Fidempotency%7Ckey-1" in str(rsps.calls[1].request.url)


def test_submit_raises_precondition_failed_when_it_was_not_ours(rsps: responses.RequestsMock) -> None:
    _, _, bundle = sample()
    rsps.post(BASE, status=412)
    rsps.get(f"{BASE}/Provenance", json={"resourceType": "Bundle", "type": "searchset"})
    with pytest.raises(PreconditionFailed):
        submit(client(), bundle)


def test_outage_carries_the_bundle_for_the_outbox(rsps: responses.RequestsMock) -> None:
    _, _, bundle = sample()
    rsps.post(BASE, status=503)
    c = client()
    with pytest.raises(ServerUnavailable) as info:
        submit(c, bundle)
    assert info.value.bundle == bundle and c.request_count == 2  # idempotent: retried once


def test_submit_without_transaction_support_sends_ordered_requests(rsps: responses.RequestsMock) -> None:
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS, idempotency_key="k")
    team = cs.create({"resourceType": "CareTeam", "identifier": [{"system": IDS, "value": "t"}]})
    g = cs.create(goal(extra_ref={"reference": team}))
    bundle = cs.to_bundle(agent="Practitioner/u1", activity=ACTIVITY, recorded=WHEN)
    rsps.post(f"{BASE}/CareTeam", status=201, json={"resourceType": "CareTeam", "id": "t9"}, headers={"ETag": 'W/"1"'})
    rsps.post(f"{BASE}/Goal", status=201, json={"resourceType": "Goal", "id": "g9"}, headers={"ETag": 'W/"1"'})
    rsps.post(f"{BASE}/Provenance", status=201, json={"resourceType": "Provenance", "id": "p9"})
    caps = ServerCapabilities(BASE, "4.0.1", {}, frozenset())
    result = submit(client(), bundle, capabilities=caps)
    assert result.degraded and result.resolve(g) == "Goal/g9"
    sent_goal = json.loads(rsps.calls[1].request.body)
    assert sent_goal["extra_ref"] == {"reference": "CareTeam/t9"}  # placeholder rewritten
    assert rsps.calls[1].request.headers["If-None-Exist"] == f"identifier={IDS}|g-1"
    sent_prov = json.loads(rsps.calls[2].request.body)
    assert sent_prov["target"] == [{"reference": "CareTeam/t9"}, {"reference": "Goal/g9"}]
