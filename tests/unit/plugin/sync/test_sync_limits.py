"""Server limits: a save too large for one transaction is split into the fewest the server accepts.

A small in-memory FHIR server (``responses`` callbacks) that refuses transactions the way Medplum 4.5 does
(more than 8 entries with a conditional entry; more than 50 updates), with conditional creates, ifMatch and
outages on demand.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses

from plugin.sync.capabilities import CapabilityCache, ServerCapabilities, TransactionLimits
from plugin.sync.client import FhirClient, RetryPolicy
from plugin.sync.errors import BadRequest, Conflict, PreconditionFailed, ServerUnavailable
from plugin.sync.transaction import ChangeSet, idempotency_tag, limits_from_refusal, split_bundle, submit

BASE = "https://ehr.test/fhir/R4"
IDS = "https://resourcegroep.test/id"
TAGS = "https://resourcegroep.test/save-key"
WHEN = dt.datetime(2026, 11, 20, 10, 30, tzinfo=dt.UTC)
ACTIVITY = {"coding": [{"code": "UPDATE"}], "text": "Verslag van de bijeenkomst"}
STRICT = "Transaction requires strict isolation but has too many entries"
UPDATES = "Transaction contains more update operations than allowed"


def outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "details": {"text": text}}],
    }


class FakeServer:
    """Transactions with Medplum 4.5's limits, conditional creates on identifier/_tag, ifMatch on updates."""

    def __init__(self, max_entries: int | None = 8, max_updates: int | None = 50, message: str = STRICT) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.max_entries, self.max_updates, self.message = max_entries, max_updates, message
        self.transactions: list[int] = []  # entry count of every transaction received
        self.refused = 0
        self.fail_transaction: dict[int, tuple[int, dict[str, Any]]] = {}  # n-th transaction -> (status, body)
        self.before_transaction: dict[int, Callable[[], None]] = {}  # n-th transaction: someone else writes first

    def register(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(responses.POST, BASE, callback=self.transaction)
        rsps.add_callback(responses.GET, re.compile(rf"{re.escape(BASE)}/\w+/[^/?]+$"), callback=self.read)
        rsps.add_callback(responses.PUT, re.compile(rf"{re.escape(BASE)}/\w+/[^/?]+$"), callback=self.put)
        rsps.add_callback(responses.GET, re.compile(rf"{re.escape(BASE)}/Provenance\?.*"), callback=self.search_prov)

    def _find(self, rtype: str, query: str) -> dict[str, Any] | None:
        name, value = query.split("=", 1)
        system, code = value.split("|", 1)
        for res in self.store.values():
            if res["resourceType"] != rtype:
                continue
            items = res.get("identifier", []) if name == "identifier" else res.get("meta", {}).get("tag", [])
            if any(i.get("system") == system and (i.get("value") or i.get("code")) == code for i in items):
                return res
        return None

    def _save(self, res: dict[str, Any]) -> dict[str, Any]:
        res = json.loads(json.dumps(res))
        res.setdefault("id", uuid.uuid4().hex[:8])
        res["meta"] = {**res.get("meta", {}), "versionId": uuid.uuid4().hex[:6]}
        self.store[f"{res['resourceType']}/{res['id']}"] = res
        return res

    def transaction(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        bundle = json.loads(request.body or "{}")
        entries = bundle["entry"]
        self.transactions.append(len(entries))
        if meddle := self.before_transaction.pop(len(self.transactions), None):
            meddle()
        if failure := self.fail_transaction.get(len(self.transactions)):
            return failure[0], {}, json.dumps(failure[1])
        conditional = any(e["request"].get("ifNoneExist") or e["request"].get("ifMatch") for e in entries)
        updates = sum(1 for e in entries if e["request"]["method"] == "PUT")
        if self.max_entries is not None and conditional and len(entries) > self.max_entries:
            self.refused += 1
            return 400, {}, json.dumps(outcome(self.message))
        if self.max_updates is not None and updates > self.max_updates:
            self.refused += 1
            return 400, {}, json.dumps(outcome(UPDATES))
        for e in entries:  # check preconditions before writing anything (atomic)
            req = e["request"]
            if req["method"] == "PUT" and req.get("ifMatch"):
                current = self.store.get(req["url"])
                if current is None or f'W/"{current["meta"]["versionId"]}"' != req["ifMatch"]:
                    return 412, {}, json.dumps(outcome("Precondition Failed"))
        mapping: dict[str, str] = {}
        answers = []
        for e in entries:
            req = e["request"]
            text = json.dumps(e["resource"])
            for urn, ref in mapping.items():
                text = text.replace(urn, ref)
            res = json.loads(text)
            if req["method"] == "POST":
                found = self._find(res["resourceType"], req["ifNoneExist"]) if req.get("ifNoneExist") else None
                stored, status = (found, "200 OK") if found else (self._save(res), "201 Created")
            else:
                stored, status = self._save(res), "200 OK"
            if e.get("fullUrl", "").startswith("urn:uuid:"):
                mapping[e["fullUrl"]] = f"{stored['resourceType']}/{stored['id']}"
            answers.append(
                {
                    "resource": stored,
                    "response": {
                        "status": status,
                        "location": f"{stored['resourceType']}/{stored['id']}/_history/{stored['meta']['versionId']}",
                        "etag": f'W/"{stored["meta"]["versionId"]}"',
                    },
                }
            )
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": answers})

    def read(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        key = "/".join(str(request.url).split("?")[0].split("/")[-2:])
        res = self.store.get(key)
        if res is None:
            return 404, {}, json.dumps(outcome("Not found"))
        return 200, {"ETag": f'W/"{res["meta"]["versionId"]}"'}, json.dumps(res)

    def put(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        res = self._save(json.loads(request.body or "{}"))
        return 200, {"ETag": f'W/"{res["meta"]["versionId"]}"'}, json.dumps(res)

    def search_prov(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        from urllib.parse import parse_qs, urlsplit

        tag = parse_qs(urlsplit(str(request.url)).query)["_tag"][0]
        found = self._find("Provenance", f"_tag={tag}")
        entries = [{"resource": found}] if found else []
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": entries})

    def count(self, rtype: str) -> int:
        return sum(1 for k in self.store if k.startswith(rtype + "/"))


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def client() -> FhirClient:
    return FhirClient(BASE, retry=RetryPolicy(max_attempts=1), sleep=lambda _s: None)


def caps(limits: TransactionLimits | None = None) -> ServerCapabilities:
    return ServerCapabilities(
        BASE, "4.0.1", {}, frozenset({"transaction", "batch"}), limits=limits or TransactionLimits()
    )


def report(server: FakeServer, *, goals: int = 10, agreements: int = 5, key: str = "save-1") -> dict[str, Any]:
    return report_and_bases(server, goals=goals, agreements=agreements, key=key)[0]


def report_and_bases(
    server: FakeServer, *, goals: int = 10, agreements: int = 5, key: str = "save-1", **plan_edit: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A meeting report: a score per goal (Observation) and new agreements (Task), the plan updated to list them."""
    plan = server._save({"resourceType": "CarePlan", "id": "cp1", "status": "active", "intent": "plan"})
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS, idempotency_key=key)
    tasks = []
    for i in range(goals):
        cs.create({"resourceType": "Observation", "identifier": [{"system": IDS, "value": f"{key}-obs-{i}"}]})
    for i in range(agreements):
        tasks.append(cs.create({"resourceType": "Task", "identifier": [{"system": IDS, "value": f"{key}-task-{i}"}]}))
    cs.update(
        {**plan, "activity": [{"reference": {"reference": t}} for t in tasks], **plan_edit},
        version=plan["meta"]["versionId"],
        base=plan,
    )
    bases = {u.key: u.base for u in cs.updates if u.base is not None}
    return cs.to_bundle(agent="Practitioner/anna", activity=ACTIVITY, recorded=WHEN), bases


# ---------------------------------------------------------------------- splitting


def test_a_bundle_within_the_limits_is_not_split() -> None:
    bundle = report(FakeServer(), goals=3, agreements=1)
    assert split_bundle(bundle, TransactionLimits(max_entries=8)) == [bundle]
    assert split_bundle(bundle, TransactionLimits()) == [bundle]


def test_split_gives_the_fewest_parts_in_dependency_order_each_with_its_provenance() -> None:
    bundle = report(FakeServer())  # 10 + 5 creates, 1 update, 1 Provenance = 17 entries
    parts = split_bundle(bundle, TransactionLimits(max_entries=8))
    assert len(parts) == 3  # 16 writes, 7 per part beside its Provenance
    assert all(len(p["entry"]) <= 8 for p in parts)
    writes = [e for p in parts for e in p["entry"] if e["resource"]["resourceType"] != "Provenance"]
    assert sorted(json.dumps(e, sort_keys=True) for e in writes) == sorted(
        json.dumps(e, sort_keys=True) for e in bundle["entry"][:-1]
    )  # every write exactly once
    # The plan update (it refers to the new tasks) comes after every create it refers to.
    assert writes[-1]["request"]["method"] == "PUT"
    original = bundle["entry"][-1]["resource"]
    for number, part in enumerate(parts, start=1):
        prov_entry = part["entry"][-1]
        prov = prov_entry["resource"]
        code = f"save-1.part{number}of3"
        assert prov["meta"]["tag"] == [{"system": TAGS, "code": code}]  # names the save key
        assert prov_entry["request"]["ifNoneExist"] == f"_tag={TAGS}|{code}"
        assert prov["activity"] == original["activity"] and prov["agent"] == original["agent"]
        assert prov["recorded"] == original["recorded"]
        assert [t["reference"] for t in prov["target"]] == [
            e.get("fullUrl") if e["request"]["method"] == "POST" else e["request"]["url"] for e in part["entry"][:-1]
        ]
    assert split_bundle(bundle, TransactionLimits(max_entries=8)) == parts  # deterministic: replays match


def test_split_respects_the_update_limit() -> None:
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS, idempotency_key="many")
    for i in range(60):
        cs.update({"resourceType": "Goal", "id": f"g{i}", "lifecycleStatus": "active"}, version="1")
    bundle = cs.to_bundle(agent="Practitioner/anna", activity=ACTIVITY, recorded=WHEN)
    parts = split_bundle(bundle, TransactionLimits(max_updates=50))
    assert [len(p["entry"]) for p in parts] == [51, 11]


# ---------------------------------------------------------------------- learning the limit from a refusal


def test_medplum_refusals_give_its_known_limits() -> None:
    bundle = report(FakeServer())
    strict = BadRequest("x", status=400, issues=outcome(STRICT)["issue"])
    assert limits_from_refusal(strict, bundle) == {"max_entries": 8}
    many = BadRequest("x", status=400, issues=outcome(UPDATES)["issue"])
    assert limits_from_refusal(many, bundle) is None  # 1 update: nothing to split on
    other = BadRequest("x", status=400, issues=outcome("Goal.lifecycleStatus is required")["issue"])
    assert limits_from_refusal(other, bundle) is None  # a validation error is no size limit
    generic = BadRequest("x", status=400, issues=outcome("Transaction has too many entries")["issue"])
    assert limits_from_refusal(generic, bundle) == {"max_entries": 9}  # unknown server: halve
    assert limits_from_refusal(BadRequest("too big", status=413), bundle) == {"max_entries": 9}


def test_submit_learns_the_limit_once_per_server_and_splits(rsps: responses.RequestsMock) -> None:
    server = FakeServer()
    server.register(rsps)
    cache = CapabilityCache()
    limits = cache.limits(BASE)
    result = submit(client(), report(server), capabilities=caps(limits))
    assert server.transactions == [17, 8, 8, 3]  # one refusal, then the fewest parts
    assert limits.max_entries == 8 and STRICT in limits.learned_from
    assert server.count("Observation") == 10 and server.count("Task") == 5 and server.count("Provenance") == 3
    # References between the parts resolved: the plan lists the real tasks.
    plan = server.store["CarePlan/cp1"]
    assert sorted(a["reference"]["reference"] for a in plan["activity"]) == sorted(
        k for k in server.store if k.startswith("Task/")
    )
    assert len(result.ids) == 15 + 3 and not result.already_applied
    # The next save to the same server is split at once: no refusal.
    server.transactions.clear()
    submit(client(), report(server, key="save-2"), capabilities=caps(cache.limits(BASE)))
    assert server.transactions == [8, 8, 3] and server.refused == 1


def test_an_unknown_servers_refusal_halves_until_accepted(rsps: responses.RequestsMock) -> None:
    server = FakeServer(max_entries=5, message="Transaction has too many entries")
    server.register(rsps)
    limits = TransactionLimits()
    submit(client(), report(server), capabilities=caps(limits))
    assert limits.max_entries == 5  # 17 -> 9 -> 5
    assert server.count("Observation") == 10 and server.count("Task") == 5


def test_a_refusal_that_is_no_size_limit_is_raised_without_learning(rsps: responses.RequestsMock) -> None:
    server = FakeServer()
    server.register(rsps)
    server.fail_transaction[1] = (400, outcome("Task.status is required"))
    limits = TransactionLimits()
    with pytest.raises(BadRequest):
        submit(client(), report(server, goals=2, agreements=1), capabilities=caps(limits))
    assert limits.max_entries is None and server.transactions == [5]


def test_the_update_limit_is_learned_too(rsps: responses.RequestsMock) -> None:
    server = FakeServer(max_entries=None)
    server.register(rsps)
    cs = ChangeSet(identifier_system=IDS, idempotency_tag_system=TAGS, idempotency_key="many")
    for i in range(60):
        goal = server._save({"resourceType": "Goal", "id": f"g{i}", "lifecycleStatus": "active"})
        cs.update({**goal, "lifecycleStatus": "completed"}, version=goal["meta"]["versionId"])
    limits = TransactionLimits()
    submit(
        client(), cs.to_bundle(agent="Practitioner/anna", activity=ACTIVITY, recorded=WHEN), capabilities=caps(limits)
    )
    assert limits.max_updates == 50 and server.transactions == [61, 51, 11]
    assert all(server.store[f"Goal/g{i}"]["lifecycleStatus"] == "completed" for i in range(60))


# ---------------------------------------------------------------------- failures between parts


def test_an_outage_in_a_later_part_parks_the_whole_save_and_its_replay_writes_each_resource_once(
    rsps: responses.RequestsMock,
) -> None:
    server = FakeServer()
    server.register(rsps)
    limits = TransactionLimits(max_entries=8)
    bundle = report(server)
    server.fail_transaction[2] = (503, outcome("down"))
    with pytest.raises(ServerUnavailable) as info:
        submit(client(), bundle, capabilities=caps(limits))
    assert info.value.bundle == bundle  # the outbox parks the whole save, not a part
    assert server.count("Observation") == 7 and server.count("Task") == 0  # part 1 only
    server.fail_transaction.clear()
    server.transactions.clear()
    result = submit(client(), bundle, capabilities=caps(limits))  # the replay
    assert server.transactions == [8, 8, 3]
    assert server.count("Observation") == 10 and server.count("Task") == 5 and server.count("Provenance") == 3
    assert result.written[0].status == 200  # part 1 found, not written again
    # And a third send (a double replay) writes nothing new.
    before = {k: v["meta"]["versionId"] for k, v in server.store.items()}
    again = submit(client(), bundle, capabilities=caps(limits))
    assert {k: v["meta"]["versionId"] for k, v in server.store.items()} == before
    assert again.already_applied


def test_a_refusal_in_a_later_part_undoes_the_earlier_parts(rsps: responses.RequestsMock) -> None:
    server = FakeServer()
    server.register(rsps)
    bundle = report(server)
    server.fail_transaction[3] = (422, outcome("CarePlan.activity: business rule"))
    with pytest.raises(BadRequest) as info:
        submit(client(), bundle, capabilities=caps(TransactionLimits(max_entries=8)))
    assert getattr(info.value, "after_parts", None) == 2
    created = [v for k, v in server.store.items() if k.split("/")[0] in ("Observation", "Task")]
    assert len(created) == 14  # parts 1 and 2 had been written ...
    assert all(r["status"] == "entered-in-error" for r in created)  # ... and are retired: never half a save
    assert "activity" not in server.store["CarePlan/cp1"]


def test_the_cache_keeps_learned_limits_across_metadata_refreshes(rsps: responses.RequestsMock) -> None:
    now = [0.0]
    cache = CapabilityCache(ttl=10, clock=lambda: now[0])
    statement = {
        "resourceType": "CapabilityStatement",
        "rest": [{"mode": "server", "interaction": [{"code": "transaction"}]}],
    }
    rsps.get(f"{BASE}/metadata", json=statement)
    first = cache.get(client(), probe=False)
    first.limits.learn(max_entries=8, why=STRICT)
    now[0] = 100.0  # the statement is read again
    second = cache.get(client(), probe=False)
    assert len([c for c in rsps.calls if c.request.url.endswith("/metadata")]) == 2
    assert second.limits is first.limits and second.limits.max_entries == 8
    assert not second.limits.learn(max_entries=20)  # never raised again
    assert idempotency_tag(report(FakeServer())) == (TAGS, "save-1")


def _someone_edits_the_plan(server: FakeServer, field: str, value: Any) -> Callable[[], None]:
    def edit() -> None:
        server._save({**server.store["CarePlan/cp1"], field: value})

    return edit


def test_a_version_conflict_in_a_later_part_is_merged_when_the_edits_commute(rsps: responses.RequestsMock) -> None:
    server = FakeServer()
    server.register(rsps)
    bundle, bases = report_and_bases(server)
    server.before_transaction[3] = _someone_edits_the_plan(server, "title", "Plan van Sanne")
    submit(client(), bundle, capabilities=caps(TransactionLimits(max_entries=8)), bases=bases)
    plan = server.store["CarePlan/cp1"]
    assert plan["title"] == "Plan van Sanne" and len(plan["activity"]) == 5  # both edits kept
    assert server.transactions == [8, 8, 3, 3]  # the last part again, merged
    assert server.count("Task") == 5 and server.count("Provenance") == 3


def test_a_real_conflict_in_a_later_part_undoes_the_earlier_parts(rsps: responses.RequestsMock) -> None:
    server = FakeServer()
    server.register(rsps)
    bundle, bases = report_and_bases(server, description="Besproken in de bijeenkomst")
    server.before_transaction[3] = _someone_edits_the_plan(server, "description", "Door de huisarts aangepast")
    with pytest.raises(Conflict):
        submit(client(), bundle, capabilities=caps(TransactionLimits(max_entries=8)), bases=bases)
    created = [v for k, v in server.store.items() if k.split("/")[0] in ("Observation", "Task")]
    assert created and all(r["status"] == "entered-in-error" for r in created)


def test_without_bases_a_later_412_undoes_and_raises(rsps: responses.RequestsMock) -> None:
    server = FakeServer()
    server.register(rsps)
    bundle = report(server)
    server.before_transaction[3] = _someone_edits_the_plan(server, "title", "x")
    with pytest.raises(PreconditionFailed) as info:
        submit(client(), bundle, capabilities=caps(TransactionLimits(max_entries=8)))
    assert getattr(info.value, "after_parts", None) == 2
