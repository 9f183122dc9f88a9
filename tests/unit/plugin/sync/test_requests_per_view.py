"""One FHIR request per page view: the group and the patient for the banner come in one round trip.

The page views run the real app against the sandbox FHIR store behind the counting proxy (every HTTP request
the app makes is counted there); the repository's batch is checked with `responses`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import responses

from plugin.sync.capabilities import CapabilityCache
from plugin.sync.client import FhirClient
from plugin.sync.errors import CompartmentViolation, Forbidden, JsonDict
from plugin.sync.repository import LoadStrategy
from smart_launch import SessionStore
from tests.support.proxy import FaultProxy, Seen
from tests.support.ui import LaunchedApp, launched
from tests.unit.fhir_mappings.factory import PATIENT, full_group
from tests.unit.plugin.sync.test_sync_repository import BASE, make_repo, search_entry, served

PATIENT_ID = PATIENT.split("/")[1]
PATIENT_RESOURCE: JsonDict = {
    "resourceType": "Patient",
    "id": PATIENT_ID,
    "name": [{"given": ["Sanne"], "family": "Vries"}],
}


# ---------------------------------------------------------------------- the app, counted at a proxy


@contextmanager
def counted(tmp_path: Path, patient: str, *, known_server: bool = True) -> Iterator[tuple[LaunchedApp, FaultProxy]]:
    """The launched app whose FHIR traffic goes through a counting proxy.

    `known_server`: the server's capabilities were learnt before this launch (by an earlier launch, or kept across
    restarts); else this is the first view after a start of the app.
    """
    with launched(tmp_path, patient=patient) as env:
        upstream = env.fhir_base.split("/fhir")[0]
        with FaultProxy(upstream) as proxy:
            base = proxy.rebase(env.fhir_base)
            sessions: SessionStore = env.app.extensions["session_store"]
            context = sessions.get_context(env.context_id)
            assert context is not None
            sessions.save_context(dataclasses.replace(context, iss=base))
            caps: CapabilityCache = env.app.extensions["resourcegroep"]["capabilities"]
            if known_server:
                caps.get(FhirClient(base))
            proxy.reset()
            yield env, proxy


def requests_of(proxy: FaultProxy) -> list[Seen]:
    return list(proxy.seen)


def view(env: LaunchedApp, proxy: FaultProxy, path: str) -> list[Seen]:
    proxy.reset()
    page = env.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return requests_of(proxy)


@pytest.mark.parametrize("path", ["/", "/doelen", "/leden", "/bijeenkomsten"])
def test_a_page_view_with_a_group_is_one_request_first_view_included(tmp_path: Path, path: str) -> None:
    with counted(tmp_path, "sanne-bakker") as (env, proxy):
        first = view(env, proxy, path)
        assert len(first) == 1, [(s.method, s.path) for s in first]
        assert first[0].method == "POST"  # the batch: the group's include search and the patient
        later = view(env, proxy, path)
        assert len(later) == 1, [(s.method, s.path) for s in later]
        html = env.get(path).get_data(as_text=True)
        assert "Sanne" in html and "Bakker" in html  # the banner has the patient's name from that one request


def test_a_page_view_without_a_group_is_one_request_too(tmp_path: Path) -> None:
    with counted(tmp_path, "daan-mulder") as (env, proxy):
        seen = view(env, proxy, "/")
        assert len(seen) == 1, [(s.method, s.path) for s in seen]
        assert "Daan Mulder" in env.get("/").get_data(as_text=True)


def test_the_first_view_after_a_start_asks_the_capabilities_once(tmp_path: Path) -> None:
    """An app that knows nothing of the server yet reads /metadata once (the cache keeps it), then one request."""
    with counted(tmp_path, "sanne-bakker", known_server=False) as (env, proxy):
        first = view(env, proxy, "/")
        assert [s.path.rsplit("/", 1)[-1] for s in first if s.method == "GET"] == ["metadata"]
        assert len([s for s in first if s.method == "POST"]) == 1 and len(first) == 2
        assert len(view(env, proxy, "/")) == 1


# ---------------------------------------------------------------------- the repository's batch


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def batch_answer(
    resources: list[JsonDict], patient: JsonDict | None, patient_status: str = "200 OK"
) -> tuple[list[JsonDict], Any]:
    sent: list[JsonDict] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        bundle = json.loads(request.body)
        sent.append(bundle)
        entries = []
        for e in bundle["entry"]:
            url = unquote(e["request"]["url"])
            if url.startswith(("CarePlan?", "Observation?")):
                entries.append(search_entry(url, resources))
            elif patient is not None:
                entries.append({"resource": patient, "response": {"status": patient_status}})
            else:
                outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "forbidden"}]}
                entries.append({"response": {"status": patient_status, "outcome": outcome}})
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "batch-response", "entry": entries})

    return sent, answer


def test_the_include_load_and_the_patient_go_as_one_batch(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    group = full_group()
    sent, answer = batch_answer(served(group), PATIENT_RESOURCE)
    rsps.add_callback(responses.POST, BASE, callback=answer)
    loaded = make_repo(tmp_path, batch=True).load()
    assert len(rsps.calls) == 1 and loaded.round_trips == 1 and loaded.strategy is LoadStrategy.INCLUDE
    urls = [unquote(e["request"]["url"]) for e in sent[0]["entry"]]
    assert urls[0].startswith(f"CarePlan?subject={PATIENT}&") and "_revinclude=Appointment:supporting-info" in urls[0]
    assert "_revinclude=Observation:based-on" in urls[0]  # every score, in the include search
    assert urls[1:] == [PATIENT] and all(e["request"]["method"] == "GET" for e in sent[0]["entry"])
    assert loaded.group == group
    assert loaded.person(PATIENT) == PATIENT_RESOURCE


def test_every_score_in_pages_asks_for_the_newest_page_in_the_same_batch(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    group = full_group()
    sent, answer = batch_answer(served(group), PATIENT_RESOURCE)
    rsps.add_callback(responses.POST, BASE, callback=answer)
    repo = dataclasses.replace(make_repo(tmp_path, batch=True), every_score_in_pages=True)
    loaded = repo.load()
    assert len(rsps.calls) == 1 and loaded.round_trips == 1 and loaded.newest_scores is None
    urls = [unquote(e["request"]["url"]) for e in sent[0]["entry"]]
    # Every score comes page by page, newest first: here the one page of a small group's.
    assert "Observation:based-on" not in urls[0] and urls[1].startswith(f"Observation?subject={PATIENT}&")
    assert "_sort=-date" in urls[1] and "_count=1000" in urls[1] and urls[2:] == [PATIENT]
    assert loaded.group == group and loaded.group is not None and loaded.group.scores_since is None


def test_the_patient_comes_even_without_a_group(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    _, answer = batch_answer([], PATIENT_RESOURCE)
    rsps.add_callback(responses.POST, BASE, callback=answer)
    loaded = make_repo(tmp_path, batch=True).load()
    assert loaded.group is None and loaded.person(PATIENT) == PATIENT_RESOURCE and len(rsps.calls) == 1


def test_a_refused_patient_read_costs_only_the_name(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    _, answer = batch_answer(served(full_group()), None, "403 Forbidden")
    rsps.add_callback(responses.POST, BASE, callback=answer)
    loaded = make_repo(tmp_path, batch=True).load()
    assert loaded.group is not None and loaded.patient_resource is None
    assert loaded.person(PATIENT) == {}  # asked and refused: no second read for the banner


def test_another_patient_in_the_patient_entry_is_refused(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    _, answer = batch_answer(served(full_group()), {**PATIENT_RESOURCE, "id": "someone-else"})
    rsps.add_callback(responses.POST, BASE, callback=answer)
    with pytest.raises(CompartmentViolation, match="Patient/someone-else"):
        make_repo(tmp_path, batch=True).load()


def test_a_refused_group_search_in_the_batch_is_a_typed_error(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "forbidden"}]}
    answer = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [{"response": {"status": "403 Forbidden", "outcome": outcome}}, {"response": {"status": "200 OK"}}],
    }
    rsps.post(BASE, json=answer)
    with pytest.raises(Forbidden) as caught:
        make_repo(tmp_path, batch=True).load()
    assert caught.value.permission == "patient/CarePlan.s"


def test_the_team_members_names_come_with_the_load(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    resources = served(full_group())
    practitioner = {"resourceType": "Practitioner", "id": "pr2", "name": [{"text": "Lotte"}]}
    _, answer = batch_answer([*resources, practitioner], PATIENT_RESOURCE)
    rsps.add_callback(responses.POST, BASE, callback=answer)
    loaded = make_repo(tmp_path, batch=True).load()
    assert loaded.person("Practitioner/pr2") == practitioner
    assert loaded.person("Practitioner/not-loaded") is None  # a caller may read it
    goal = next(r for r in resources if r["resourceType"] == "Goal")
    assert loaded.person(f"Goal/{goal['id']}") is None  # only people
