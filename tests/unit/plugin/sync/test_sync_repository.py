"""The group repository with `responses`: load strategies, the diff, the compartment guard, conflicts, outage."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from fhir_mappings.codes import GoalTerm
from fhir_mappings.model import ResourceGroup
from fhir_mappings.refs import URN_UUID
from fhir_mappings.to_fhir import group_to_fhir
from plugin.sync.capabilities import CapabilityCache, ServerCapabilities
from plugin.sync.client import FhirClient, RetryPolicy
from plugin.sync.errors import CompartmentViolation, Conflict, JsonDict
from plugin.sync.outbox import SqliteOutbox, rebase_bundle
from plugin.sync.repository import GroupRepository, LoadStrategy, NoVersion
from plugin.sync.transaction import rewrite_references
from tests.unit.fhir_mappings.factory import CLINICIAN, PATIENT, TODAY, full_group
from tests.unit.plugin.sync.test_sync_capabilities import statement

BASE = "https://ehr.test/fhir/R4"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


class FixedCapabilities(CapabilityCache):
    """Capabilities without a /metadata round trip."""

    def __init__(self, caps: ServerCapabilities) -> None:
        super().__init__()
        self.caps = caps

    def get(self, client: FhirClient, *, probe: bool = True) -> ServerCapabilities:
        return self.caps


def served(group: ResourceGroup) -> list[JsonDict]:
    """The group as a server would hold it: ids, versions, placeholders rewritten to Type/id."""
    written = group_to_fhir(group)
    ids = {URN_UUID + w.uid: f"{w.resource['resourceType']}/{w.uid}" for w in written}
    out = []
    for w in written:
        res = rewrite_references(copy.deepcopy(w.resource), ids)
        res["id"] = w.uid
        res["meta"] = {**(res.get("meta") or {}), "versionId": "1", "lastUpdated": "2026-11-01T10:00:00Z"}
        out.append(res)
    return out


def searchset(resources: list[JsonDict], next_url: str | None = None) -> JsonDict:
    bundle: JsonDict = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def search_entry(url: str, resources: list[JsonDict]) -> JsonDict:
    """A batch's answer to one of a load's searches over `resources`: the include search (without the scores when
    it asks for none: every score is then read newest first in a search of their own), or the scores' search."""
    scores = [r for r in resources if r.get("resourceType") == "Observation"]
    if url.startswith("Observation?"):
        newest = sorted(scores, key=lambda r: str(r.get("effectiveDateTime")), reverse=True)
        return {"resource": searchset(newest), "response": {"status": "200 OK"}}
    asked = resources if "_revinclude=Observation:based-on" in url else [r for r in resources if r not in scores]
    return {"resource": searchset(asked), "response": {"status": "200 OK"}}


def make_repo(
    tmp_path: Path, *, includes: bool | None = True, batch: bool = False, attempts: int = 1
) -> GroupRepository:
    """A repository on a server that declares the includes and (by default) no batch: the load is one GET.

    With `batch=True` the include search and the patient's read go out as one batch (tests/unit/plugin/sync/
    test_requests_per_view.py); the diff and save tests here keep the plain search.
    """
    caps = ServerCapabilities.from_statement(BASE, statement(includes=includes, batch=batch))
    client = FhirClient(BASE, retry=RetryPolicy(max_attempts=attempts), sleep=lambda _s: None)
    return GroupRepository(
        client=client,
        patient_id=PATIENT.split("/")[1],
        user=CLINICIAN,
        outbox=SqliteOutbox(tmp_path / "outbox.sqlite"),
        capabilities=FixedCapabilities(caps),
        clock=lambda: NOW,
    )


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def transaction_ok(request: Any) -> tuple[int, dict[str, str], str]:
    bundle = json.loads(request.body)
    entries = []
    for e in bundle["entry"]:
        rtype = e["resource"]["resourceType"]
        if e["request"]["method"] == "POST":
            location = f"{rtype}/new-{len(entries)}/_history/1"
            entries.append({"response": {"status": "201 Created", "location": location}})
        else:
            entries.append({"response": {"status": "200 OK", "location": f"{e['request']['url']}/_history/2"}})
    return 200, {}, json.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": entries})


# ---------------------------------------------------------------------- load


def test_include_load_is_one_request_and_reads_the_group(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    group = full_group()
    rsps.get(f"{BASE}/CarePlan", json=searchset(served(group)))
    repo = make_repo(tmp_path)
    loaded = repo.load()
    assert loaded.strategy is LoadStrategy.INCLUDE and loaded.round_trips == 1 and len(rsps.calls) == 1
    assert loaded.group == group
    query = rsps.calls[0].request.url
    assert "_revinclude=Appointment%3Asupporting-info" in query and f"subject={PATIENT.replace('/', '%2F')}" in query


def test_include_load_follows_next_links(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    resources = served(full_group())
    rsps.get(f"{BASE}/CarePlan", json=searchset(resources[:5], next_url=f"{BASE}/paging/abc"))
    rsps.get(f"{BASE}/paging/abc", json=searchset(resources[5:]))
    loaded = make_repo(tmp_path).load()
    assert loaded.round_trips == 2 and loaded.group is not None and len(loaded.resources) == len(resources)


def test_no_plan_means_no_group_yet(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    rsps.get(f"{BASE}/CarePlan", json=searchset([]))
    loaded = make_repo(tmp_path).load()
    assert loaded.group is None and loaded.plans == []


def test_batch_load_searches_by_patient_and_reads_missing_places(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    group = full_group()
    resources = served(group)
    places = [r for r in resources if r["resourceType"] == "Location"]
    assert places, "the factory group meets at a place"
    others = [r for r in resources if r["resourceType"] != "Location"]
    seen: list[JsonDict] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        bundle = json.loads(request.body)
        seen.append(bundle)
        entries = []
        for e in bundle["entry"]:
            url = e["request"]["url"]
            rtype = url.split("?")[0].split("/")[0]
            if "?" in url:
                page = searchset([r for r in others if r["resourceType"] == rtype])
            elif url == PATIENT:
                page = {"resourceType": "Patient", "id": PATIENT.split("/")[1], "name": [{"text": "Sanne"}]}
            else:
                page = next(r for r in places if f"Location/{r['id']}" == url)
            entries.append({"resource": page, "response": {"status": "200 OK"}})
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "batch-response", "entry": entries})

    rsps.add_callback(responses.POST, BASE, callback=answer)
    loaded = make_repo(tmp_path, includes=False, batch=True).load()
    assert loaded.strategy is LoadStrategy.BATCH and loaded.round_trips == 2
    assert [e["request"]["url"].split("?")[0] for e in seen[0]["entry"]] == [
        "CarePlan",
        "CareTeam",
        "Goal",
        "Task",
        "Observation",
        "Appointment",
        "Communication",
        "RelatedPerson",
        PATIENT,  # the patient for the banner comes in the same batch
    ]
    assert all(f"Patient%2F{PATIENT.split('/')[1]}" in e["request"]["url"] for e in seen[0]["entry"][:-1])
    assert [e["request"]["url"] for e in seen[1]["entry"]] == [f"Location/{p['id']}" for p in places]
    assert loaded.group == group
    assert loaded.patient_resource is not None and loaded.person(PATIENT) == loaded.patient_resource


def test_batch_load_fails_loudly_when_one_search_fails(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    answer = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [{"response": {"status": "400 Bad Request"}}] * 8,
    }
    rsps.post(BASE, json=answer)
    with pytest.raises(Exception, match="batch search for CarePlan failed"):
        make_repo(tmp_path, includes=False, batch=True).load()


def test_sequential_load_is_degraded_and_logged(
    rsps: responses.RequestsMock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    group = full_group()
    resources = served(group)
    for rtype in (
        "CarePlan",
        "CareTeam",
        "Goal",
        "Task",
        "Observation",
        "Appointment",
        "Communication",
        "RelatedPerson",
    ):
        rsps.get(f"{BASE}/{rtype}", json=searchset([r for r in resources if r["resourceType"] == rtype]))
    for place in (r for r in resources if r["resourceType"] == "Location"):
        rsps.get(f"{BASE}/Location/{place['id']}", json=place)
    loaded = make_repo(tmp_path, includes=False, batch=False).load()
    assert loaded.strategy is LoadStrategy.SEQUENTIAL
    assert loaded.round_trips == 9  # eight searches and one place
    assert loaded.group == group
    assert "degraded" in caplog.text


def test_a_load_with_another_patients_data_is_refused(
    rsps: responses.RequestsMock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    resources = served(full_group())
    goal = next(r for r in resources if r["resourceType"] == "Goal")
    goal["subject"] = {"reference": "Patient/someone-else"}
    rsps.get(f"{BASE}/CarePlan", json=searchset(resources))
    with pytest.raises(CompartmentViolation) as caught:
        make_repo(tmp_path).load()
    assert "Patient/someone-else" in caught.value.diagnostics
    assert "compartment guard refused a load" in caplog.text


# ---------------------------------------------------------------------- save


def loaded_repo(rsps: responses.RequestsMock, tmp_path: Path, **kw: Any) -> tuple[GroupRepository, Any]:
    rsps.get(f"{BASE}/CarePlan", json=searchset(served(full_group())))
    repo = make_repo(tmp_path, **kw)
    return repo, repo.load()


def test_save_sends_only_what_changed(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    repo, loaded = loaded_repo(rsps, tmp_path)
    rsps.add_callback(responses.POST, BASE, callback=transaction_ok)
    goal_uid = loaded.group.goals[0].uid
    saved = repo.save(loaded, lambda g: g.add_goal_note(goal_uid, "Gaat goed", NOW), "Notitie bij doel")
    assert saved.saved and saved.rounds == 1
    bundle = json.loads(rsps.calls[-1].request.body)
    assert bundle["type"] == "transaction"
    methods = [(e["request"]["method"], e["request"]["url"]) for e in bundle["entry"]]
    assert methods == [("PUT", f"Goal/{goal_uid}"), ("POST", "Provenance")]
    assert bundle["entry"][0]["request"]["ifMatch"] == 'W/"1"'
    prov = bundle["entry"][1]["resource"]
    assert prov["agent"][0]["who"]["reference"] == CLINICIAN
    assert prov["activity"]["text"] == "Notitie bij doel" and prov["activity"]["coding"][0]["code"] == "UPDATE"
    assert prov["target"] == [{"reference": f"Goal/{goal_uid}"}]


def test_new_entities_are_conditional_creates(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    repo, loaded = loaded_repo(rsps, tmp_path)
    rsps.add_callback(responses.POST, BASE, callback=transaction_ok)
    saved = repo.save(loaded, lambda g: g.add_goal("Weer gaan zwemmen", GoalTerm.LANG, TODAY), "Doel toegevoegd")
    bundle = json.loads(rsps.calls[-1].request.body)
    create = bundle["entry"][0]
    assert create["fullUrl"] == URN_UUID + saved.value.uid
    assert create["request"]["ifNoneExist"].endswith(f"|{saved.value.uid}")
    plan_update = bundle["entry"][1]
    assert plan_update["request"]["method"] == "PUT" and plan_update["request"]["url"].startswith("CarePlan/")
    assert {"reference": URN_UUID + saved.value.uid} in plan_update["resource"]["goal"]


def test_an_action_that_changes_nothing_sends_nothing(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    repo, loaded = loaded_repo(rsps, tmp_path)
    calls = len(rsps.calls)
    saved = repo.save(loaded, lambda g: g.rename(g.name), "niets")
    assert not saved.changed and not saved.saved and not saved.waiting and len(rsps.calls) == calls


def test_the_loaded_group_is_never_changed_by_a_save(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    repo, loaded = loaded_repo(rsps, tmp_path)
    before = copy.deepcopy(loaded.group)
    rsps.add_callback(responses.POST, BASE, callback=transaction_ok)
    repo.save(loaded, lambda g: g.rename("Nieuwe naam"), "naam")
    assert loaded.group == before


def test_write_guard_refuses_a_reference_outside_the_group(
    rsps: responses.RequestsMock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo, loaded = loaded_repo(rsps, tmp_path)
    calls = len(rsps.calls)

    def sneak(g: ResourceGroup) -> None:
        g.agreements[0].owner = "Practitioner/not-in-this-team"

    with pytest.raises(CompartmentViolation):
        repo.save(loaded, sneak, "afspraak")
    assert len(rsps.calls) == calls  # nothing was sent
    assert "compartment guard refused a write" in caplog.text


def test_update_without_a_version_is_refused(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    resources = served(full_group())
    for r in resources:
        r.pop("meta")
    rsps.get(f"{BASE}/CarePlan", json=searchset(resources))
    repo = make_repo(tmp_path)
    loaded = repo.load()
    with pytest.raises(NoVersion):
        repo.save(loaded, lambda g: g.rename("Andere naam"), "naam")


def test_outage_parks_the_save_with_its_bases(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    repo, loaded = loaded_repo(rsps, tmp_path)
    rsps.post(BASE, status=503)
    saved = repo.save(loaded, lambda g: g.rename("Team Sanne en vrienden"), "naam")
    assert saved.waiting and not saved.saved
    [entry] = repo.waiting()
    assert entry.patient == PATIENT and entry.user == CLINICIAN
    assert sorted(entry.bases) == sorted([f"CareTeam/{loaded.group.uid}", f"CarePlan/{loaded.group.plan_uid}"])
    assert entry.bases[f"CareTeam/{loaded.group.uid}"]["name"] == "Team Sanne"


def test_a_new_save_waits_behind_earlier_waiting_saves(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    repo, loaded = loaded_repo(rsps, tmp_path)
    rsps.post(BASE, status=503)
    repo.save(loaded, lambda g: g.rename("Eerste"), "naam")
    second = repo.save(loaded, lambda g: g.add_goal("Tweede doel", GoalTerm.LANG, TODAY), "doel")
    assert second.waiting and len(repo.waiting()) == 2


def test_a_conflict_that_commutes_is_reapplied_on_the_fresh_group(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    group = full_group()
    first = served(group)
    rsps.get(f"{BASE}/CarePlan", json=searchset(first))
    repo = make_repo(tmp_path)
    loaded = repo.load()
    # Meanwhile someone else added a goal: the plan is at version 2 with a goal this editor has not seen.
    theirs = copy.deepcopy(group)
    other = theirs.add_goal("Vaker buiten zijn", GoalTerm.LANG, TODAY)
    second = served(theirs)
    for r in second:
        if r["resourceType"] == "CarePlan":
            r["meta"]["versionId"] = "2"
    rsps.replace(responses.GET, f"{BASE}/CarePlan", json=searchset(second))
    answers = iter(
        [
            (
                412,
                {},
                json.dumps(
                    {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "conflict", "diagnostics": "version"}],
                    }
                ),
            )
        ]
    )

    def transaction(request: Any) -> tuple[int, dict[str, str], str]:
        return next(answers, None) or transaction_ok(request)

    rsps.add_callback(responses.POST, BASE, callback=transaction)
    rsps.get(f"{BASE}/Provenance", json=searchset([]))
    saved = repo.save(loaded, lambda g: g.add_goal("Weer gaan zwemmen", GoalTerm.LANG, TODAY), "doel")
    assert saved.saved and saved.rounds == 2
    resent = json.loads([c for c in rsps.calls if c.request.method == "POST"][-1].request.body)
    plan = next(e for e in resent["entry"] if e["request"]["url"].startswith("CarePlan/"))
    assert plan["request"]["ifMatch"] == 'W/"2"'
    goal_refs = [g["reference"] for g in plan["resource"]["goal"]]
    assert f"Goal/{other.uid}" in goal_refs and URN_UUID + saved.value.uid in goal_refs


def test_two_edits_of_the_same_text_raise_conflict(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    group = full_group()
    rsps.get(f"{BASE}/CarePlan", json=searchset(served(group)))
    repo = make_repo(tmp_path)
    loaded = repo.load()
    theirs = copy.deepcopy(group)
    theirs.name = "Team van Sanne"
    second = served(theirs)
    for r in second:
        if r["resourceType"] == "CareTeam":
            r["meta"]["versionId"] = "2"
    rsps.replace(responses.GET, f"{BASE}/CarePlan", json=searchset(second))
    rsps.post(
        BASE,
        status=412,
        json={"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "conflict"}]},
    )
    rsps.get(f"{BASE}/Provenance", json=searchset([]))
    with pytest.raises(Conflict) as caught:
        repo.save(loaded, lambda g: g.rename("Sannes steungroep"), "naam")
    assert caught.value.mine["name"] == "Sannes steungroep" and caught.value.theirs["name"] == "Team van Sanne"
    assert not repo.waiting()


# ---------------------------------------------------------------------- replay rebase


def test_rebase_merges_a_parked_update_onto_the_current_version() -> None:
    base = {"resourceType": "CarePlan", "id": "p", "meta": {"versionId": "1"}, "goal": [{"reference": "Goal/a"}]}
    mine = {"resourceType": "CarePlan", "id": "p", "goal": [{"reference": "Goal/a"}, {"reference": "urn:uuid:x"}]}
    theirs = {
        "resourceType": "CarePlan",
        "id": "p",
        "meta": {"versionId": "3"},
        "goal": [{"reference": "Goal/a"}, {"reference": "Goal/b"}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": mine, "request": {"method": "PUT", "url": "CarePlan/p", "ifMatch": 'W/"1"'}}],
    }
    out = rebase_bundle(bundle, {"CarePlan/p": base}, {"CarePlan/p": theirs})
    entry = out["entry"][0]
    assert entry["request"]["ifMatch"] == 'W/"3"'
    assert [g["reference"] for g in entry["resource"]["goal"]] == ["Goal/a", "Goal/b", "urn:uuid:x"]
    assert "meta" not in entry["resource"]
    assert bundle["entry"][0]["request"]["ifMatch"] == 'W/"1"'  # the parked Bundle itself is untouched


def test_rebase_raises_conflict_for_two_edits_of_one_element() -> None:
    base = {"resourceType": "Goal", "id": "g", "description": {"text": "a"}}
    mine = {"resourceType": "Goal", "id": "g", "description": {"text": "b"}}
    theirs = {"resourceType": "Goal", "id": "g", "meta": {"versionId": "2"}, "description": {"text": "c"}}
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": mine, "request": {"method": "PUT", "url": "Goal/g", "ifMatch": 'W/"1"'}}],
    }
    with pytest.raises(Conflict):
        rebase_bundle(bundle, {"Goal/g": base}, {"Goal/g": theirs})


# ---------------------------------------------------------------------- counting scores (a timeline page far back)


def test_counting_scores_asks_for_the_total_of_the_plans_scores_only(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    """`count_scores`: one search that reads no score (`_summary=count`), by the plan the scores are based on, from
    a day's start up to another's; with `oldest`, the oldest score, whose time is all that is
    used. No total (a server that ignores `_summary` or `_total`): None, so the page reads the scores instead."""
    zone = dt.timezone(dt.timedelta(hours=1))
    start, end = dt.datetime(2025, 1, 1, tzinfo=zone), dt.datetime(2026, 1, 1, tzinfo=zone)
    asked: list[dict[str, list[str]]] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        params = parse_qs(urlsplit(request.url).query)
        asked.append(params)
        if "_summary" in params:
            return 200, {}, json.dumps({"resourceType": "Bundle", "type": "searchset", "total": 41})
        score = {"resourceType": "Observation", "id": "o1", "effectiveDateTime": "2024-03-05T10:00:00+01:00"}
        bundle = searchset([score])
        return 200, {}, json.dumps({**bundle, "total": 57} if len(asked) == 2 else bundle)

    rsps.add_callback(responses.GET, f"{BASE}/Observation", callback=answer)
    repo = make_repo(tmp_path)
    counted = repo.count_scores("plan-1", end, start)
    assert counted is not None and (counted.total, counted.oldest) == (41, None)
    assert asked[0]["based-on"] == ["CarePlan/plan-1"] and asked[0]["subject"] == [PATIENT]
    assert asked[0]["date"] == [f"ge{start.isoformat()}", f"lt{end.isoformat()}"] and asked[0]["_summary"] == ["count"]
    oldest = repo.count_scores("plan-1", end, oldest=True)
    assert oldest is not None and oldest.total == 57
    assert oldest.oldest == dt.datetime(2024, 3, 5, 10, tzinfo=zone)
    assert (
        asked[1]["_sort"] == ["date"] and asked[1]["_count"] == ["1"] and asked[1]["date"] == [f"lt{end.isoformat()}"]
    )
    assert repo.count_scores("plan-1", end, oldest=True) is None  # the third answer has no total
    with pytest.raises(ValueError):
        repo.count_scores("plan-1", dt.datetime(2026, 1, 1))  # a moment without a zone
