"""The read cache: an answer with the same resource versions as one read before is not read into the domain again.

The EHR is still asked on every load (the cache never answers instead of it); what is kept is bounded in size and
time, keyed by server, patient, plan and mapping, and never changed by the pages that show it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import responses

from plugin.config import config_from_mapping
from plugin.sync import readcache, repository
from plugin.sync.client import FhirClient
from plugin.sync.errors import CompartmentViolation, JsonDict
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.readcache import (
    DEFAULT_MAX_RESOURCES,
    KIN_KEPT_BELOW,
    ReadCache,
    answer_digest,
    fingerprint,
    scope_digest,
)
from plugin.sync.repository import GroupRepository, LoadedGroup
from smart_launch import ConfigurationError
from tests.support.ui import launched
from tests.unit.fhir_mappings.factory import PATIENT, full_group
from tests.unit.language.crawl import as_portal_user, crawl
from tests.unit.language.test_register import related_person
from tests.unit.plugin.sync.test_sync_repository import BASE, make_repo, search_entry, searchset, served

SCOPE = ("https://ehr.test/fhir", "Patient/p1", "", "nl-core", "asked=True")


def resource(rid: str, version: str = "1", updated: str = "2026-11-01T10:00:00Z") -> JsonDict:
    return {"resourceType": "Goal", "id": rid, "meta": {"versionId": version, "lastUpdated": updated}}


# ---------------------------------------------------------------------- the key


def test_the_key_is_the_versions_in_order_with_the_scope() -> None:
    answer = [resource("a"), resource("b")]
    key = fingerprint(SCOPE, answer, [None])
    assert key is not None and key == fingerprint(SCOPE, copy.deepcopy(answer), [None])
    others = [
        fingerprint(SCOPE, [resource("a", version="2"), resource("b")], [None]),
        fingerprint(SCOPE, [resource("a", updated="2026-11-02T10:00:00Z"), resource("b")], [None]),
        fingerprint(SCOPE, [resource("b"), resource("a")], [None]),
        fingerprint(SCOPE, [resource("a")], [None]),
        fingerprint((*SCOPE[:1], "Patient/p2", *SCOPE[2:]), answer, [None]),
        fingerprint((*SCOPE[:3], "kt2", SCOPE[4]), answer, [None]),
        fingerprint(SCOPE, answer, [{"resourceType": "Patient", "id": "p1", "meta": {"versionId": "1"}}]),
    ]
    assert None not in others and len({key, *others}) == len(others) + 1


def test_an_answer_key_is_its_bytes_in_its_scope_and_never_a_versions_key() -> None:
    raw = b'{"resourceType":"Bundle","type":"batch-response"}'
    key = answer_digest(SCOPE, raw)
    others = [
        answer_digest(SCOPE, raw + b" "),
        answer_digest((*SCOPE[:1], "Patient/p2", *SCOPE[2:]), raw),
        answer_digest((SCOPE[0] + SCOPE[1], "", *SCOPE[2:]), raw),  # the parts stay apart
        scope_digest(SCOPE),
    ]
    assert key == answer_digest(list(SCOPE), bytes(raw)) and len({key, *others}) == len(others) + 1
    versions = fingerprint(SCOPE, [resource("a")], [None])
    assert versions is not None and len(versions) != len(key)  # one cache holds both kinds of key


@pytest.mark.parametrize(
    "broken",
    [
        {"resourceType": "Goal", "id": "a"},
        {"resourceType": "Goal", "id": "a", "meta": {"lastUpdated": "2026-11-01T10:00:00Z"}},
        {"resourceType": "Goal", "id": "a", "meta": {"versionId": ""}},
        {"resourceType": "Goal", "meta": {"versionId": "1"}},
        {"resourceType": "Goal", "id": "a", "meta": "1"},
    ],
)
def test_an_answer_with_a_resource_without_id_or_version_has_no_key(broken: JsonDict) -> None:
    assert fingerprint(SCOPE, [resource("b"), broken], [None]) is None


# ---------------------------------------------------------------------- the cache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_ttl_seconds_after_the_ehr_last_sent_it() -> None:
    clock = Clock()
    cache: ReadCache[str] = ReadCache(max_resources=100, ttl=60, clock=clock)
    cache.put(b"k", "group", 10)
    clock.now += 50
    assert cache.get(b"k") == "group"  # sent again: its time starts again
    clock.now += 50
    assert cache.get(b"k") == "group"
    clock.now += 61
    assert cache.get(b"k") is None and len(cache) == 0 and cache.size == 0
    assert (cache.hits, cache.misses) == (2, 1)


def test_the_bound_evicts_the_least_recently_used_and_refuses_what_is_too_big() -> None:
    cache: ReadCache[str] = ReadCache(max_resources=100, ttl=60, clock=Clock())
    cache.put(b"a", "A", 40)
    cache.put(b"b", "B", 40)
    assert cache.get(b"a") == "A"  # a is used after b
    cache.put(b"c", "C", 40)  # 120 > 100: b goes
    assert cache.get(b"b") is None and cache.get(b"a") == "A" and cache.get(b"c") == "C" and cache.size == 80
    cache.put(b"huge", "H", 101)
    assert cache.get(b"huge") is None and cache.size == 80
    cache.put(b"a", "A2", 10)  # the same key again replaces it
    assert cache.get(b"a") == "A2" and cache.size == 50


def test_expired_entries_are_dropped_when_another_is_kept() -> None:
    clock = Clock()
    cache: ReadCache[str] = ReadCache(max_resources=100, ttl=60, clock=clock)
    cache.put(b"old", "O", 10)
    clock.now += 61
    cache.put(b"new", "N", 10)
    assert len(cache) == 1 and cache.size == 10


def test_an_alias_finds_its_entry_and_goes_with_it() -> None:
    cache: ReadCache[str] = ReadCache(max_resources=100, ttl=60, clock=Clock())
    cache.put(b"versions", "G", 60, aliases=(b"bytes-1",))
    cache.put(b"versions", "G", 60, aliases=(b"bytes-2",))  # the same versions in other bytes: both known
    assert cache.get(b"bytes-1") == cache.get(b"bytes-2") == cache.get(b"versions") == "G" and cache.size == 60
    cache.put(b"other", "O", 60)  # 120 > 100: the group goes, with both of its other keys
    assert cache.get(b"bytes-1") is None and cache.get(b"bytes-2") is None and cache._aliases == {}


def test_a_newer_read_of_the_same_scope_replaces_the_older() -> None:
    cache: ReadCache[str] = ReadCache(max_resources=100, ttl=60, clock=Clock())
    cache.put(b"v1", "G1", 10, aliases=(b"bytes-1",), scope=b"sanne")
    cache.put(b"other", "O", 10, scope=b"eva")
    cache.put(b"v2", "G2", 10, scope=b"sanne")
    assert cache.get(b"v1") is None and cache.get(b"bytes-1") is None
    assert cache.get(b"v2") == "G2" and cache.get(b"other") == "O" and cache.size == 20
    cache.put(b"big", "B", 91)  # evicts both: their scopes are forgotten with them
    assert cache._scopes == {} and len(cache) == 1


def test_zero_turns_it_off_and_negative_is_refused() -> None:
    off: ReadCache[str] = ReadCache(max_resources=0)
    off.put(b"k", "v", 1)
    assert not off.enabled and off.get(b"k") is None
    with pytest.raises(ValueError):
        ReadCache(max_resources=-1)


# ---------------------------------------------------------------------- the repository


def cached_repo(tmp_path: Path, cache: ReadCache[LoadedGroup] | None = None) -> GroupRepository:
    repo = make_repo(tmp_path)
    repo.read_cache = cache if cache is not None else ReadCache()
    return repo


@responses.activate
def test_the_same_versions_are_not_read_again_but_the_ehr_is_still_asked(tmp_path: Path) -> None:
    group = full_group()
    responses.get(f"{BASE}/CarePlan", json=searchset(served(group)))
    repo = cached_repo(tmp_path)
    first = repo.load()
    second = repo.load()
    assert len(responses.calls) == 2  # one request per load, as without the cache
    assert second.group is first.group and second.group == group
    assert second.round_trips == 1 and second.resources is first.resources
    assert repo.read_cache is not None and repo.read_cache.hits == 1


@responses.activate
def test_a_new_version_is_read_again(tmp_path: Path) -> None:
    resources = served(full_group())
    responses.get(f"{BASE}/CarePlan", json=searchset(resources))
    repo = cached_repo(tmp_path)
    first = repo.load()
    changed = copy.deepcopy(resources)
    goal = next(r for r in changed if r["resourceType"] == "Goal")
    goal["description"] = {"text": "Weer fietsen naar het werk"}
    goal["meta"]["versionId"] = "2"
    responses.replace(responses.GET, f"{BASE}/CarePlan", json=searchset(changed))
    second = repo.load()
    assert second.group is not first.group and first.group is not None and second.group is not None
    assert "Weer fietsen naar het werk" in [g.text for g in second.group.goals]
    assert "Weer fietsen naar het werk" not in [g.text for g in first.group.goals]
    assert repo.read_cache is not None and len(repo.read_cache) == 1  # the older versions are not kept


@responses.activate
def test_an_answer_without_versions_is_never_kept(tmp_path: Path) -> None:
    resources = served(full_group())
    for r in resources:
        r["meta"].pop("versionId")
    responses.get(f"{BASE}/CarePlan", json=searchset(resources))
    repo = cached_repo(tmp_path)
    assert repo.load().group is not repo.load().group
    assert repo.read_cache is not None and len(repo.read_cache) == 0


@responses.activate
def test_another_patients_load_never_gets_a_kept_read(tmp_path: Path) -> None:
    responses.get(f"{BASE}/CarePlan", json=searchset(served(full_group())))
    cache: ReadCache[LoadedGroup] = ReadCache()
    cached_repo(tmp_path, cache).load()
    other = GroupRepository(
        client=FhirClient(BASE),
        patient_id="someone-else",
        user="Practitioner/x",
        outbox=SqliteOutbox(tmp_path / "other.sqlite"),
        capabilities=make_repo(tmp_path).capabilities,
        read_cache=cache,
    )
    with pytest.raises(CompartmentViolation):  # the same versions, another patient: checked, and refused
        other.load()


# ---------------------------------------------------------------------- the app


@pytest.mark.parametrize("who", ["regieondersteuner", "patient", "member"])
def test_no_page_changes_a_kept_group(tmp_path: Path, who: str) -> None:
    """Every page the regieondersteuner, the patient or a member reaches is rendered from the kept read (the
    patient's and a member's from a copy without what their role may not see, which shares the read's resources and
    scores: `rights.visible_to`); afterwards it equals a fresh read of the same answer (the pages share it between
    requests and threads: none may change it)."""
    with launched(tmp_path) as env:
        if who != "regieondersteuner":
            as_portal_user(env, "Patient/sanne-bakker" if who == "patient" else related_person(env, "Ans Bakker"))
        cache: ReadCache[LoadedGroup] = env.app.extensions["resourcegroep"]["read_cache"]
        start = (
            ("/", "/leden/nomineren", "/doelen/nieuw", "/bijeenkomsten/nieuw") if who == "regieondersteuner" else ("/",)
        )
        pages = list(crawl(env, start))
        assert len(pages) >= 10 and all(p.status == 200 for p in pages), [(p.path, p.status) for p in pages]
        # Up to two reads of the group are kept: the whole group, and its newest scores (overview, goal list).
        assert cache.hits >= 0.8 * len(pages) and cache.misses <= 4 and len(cache) >= 1, (cache.hits, cache.misses)
        for kept in list(cache._entries.values()):
            loaded: LoadedGroup = kept.value
            assert loaded.group is not None
            fresh = GroupRepository(
                client=FhirClient(env.fhir_base),
                patient_id=loaded.patient.split("/", 1)[1],
                user="Practitioner/anna-de-vries",
                outbox=SqliteOutbox(tmp_path / "fresh.sqlite"),
                capabilities=env.app.extensions["resourcegroep"]["capabilities"],
            ).load(
                loaded.group.plan_uid,
                newest_scores=loaded.newest_scores,
                every_score_of=loaded.every_score_of,
                every_score_on=loaded.every_score_on,
            )
            assert fresh.group == loaded.group
            assert fresh.resources == loaded.resources


def test_pages_of_two_extents_of_an_unchanged_group_each_read_it_once(tmp_path: Path) -> None:
    """The overview and a goal's page read the newest scores, the goal's page with all of its scores those and every
    score of the goal (`?alle=`): going back and forth between them reads each extent into the domain once. A read
    of one extent lets the other's kept read go only
    when the group changed (or when it is big: see the unit test below)."""
    with launched(tmp_path) as env:
        cache: ReadCache[LoadedGroup] = env.app.extensions["resourcegroep"]["read_cache"]
        paths = [p.path for p in crawl(env, ("/", "/bijeenkomsten"))]
        goal = next(p for p in paths if re.fullmatch(r"/doelen/[0-9a-f-]{36}", p))
        uid = goal.rsplit("/", 1)[1]
        [server] = [g["id"] for g in env.resources("Goal") if any(i.get("value") == uid for i in g["identifier"])]
        every = f"{goal}?alle={server}"
        cache.clear()
        env.get("/")
        env.get("/")  # the sandbox sends the same bytes again: known to repeat itself, the newest scores kept
        for round_, pages in enumerate([("/", goal, every)] * 3):
            hits, misses = cache.hits, cache.misses
            for path in pages:
                assert env.get(path).status_code == 200, path
            if round_:  # the first round reads the goal's every score (nothing of that extent kept yet)
                assert (cache.hits - hits, cache.misses - misses) == (3, 0), round_
        assert len(cache) == 2


def test_new_bytes_of_a_scope_with_nothing_kept_leave_the_groups_other_reads_unless_big() -> None:
    """A scope's first bytes (or its first since its read was let go) say nothing of the group's versions: its kin
    reads stay, but a big one goes before the new answer is parsed (a huge group's newest scores are not held while
    its every score is read, nor the reverse). True: no versions key of the scope can match, there is none kept."""
    cache: ReadCache[str] = ReadCache(max_resources=3 * KIN_KEPT_BELOW, ttl=60, clock=Clock())
    cache.same_bytes_again(b"sanne", b"sanne")
    cache.put(b"newest", "N", 5, scope=b"sanne+newest", kin=b"sanne")
    assert cache.other_bytes(b"sanne", b"sanne") is True  # the whole group's first read
    assert cache.get(b"newest") == "N"
    cache.put(b"whole", "W", KIN_KEPT_BELOW, scope=b"sanne", kin=b"sanne")
    cache._drop(b"newest")  # let go (say, by the bound)
    assert cache.other_bytes(b"sanne+newest", b"sanne") is True
    assert cache.get(b"whole") is None and cache.size == 0
    cache.put(b"whole", "W", KIN_KEPT_BELOW - 1, scope=b"sanne", kin=b"sanne")
    assert cache.other_bytes(b"sanne+newest", b"sanne") is True
    assert cache.get(b"whole") == "W"


def test_a_deeper_window_lets_the_groups_big_reads_go_before_it_is_parsed() -> None:
    """A deeper window (an older timeline page, read in stretches) has no bytes to go by: whether or not the EHR
    repeats itself, the group's big kept reads go before it is parsed, small ones stay, another group's stay."""
    cache: ReadCache[str] = ReadCache(max_resources=4 * KIN_KEPT_BELOW, ttl=60, clock=Clock())
    cache.put(b"newest", "N", KIN_KEPT_BELOW, scope=b"sanne+newest", kin=b"sanne")
    cache.put(b"goal", "G", 10, scope=b"sanne+goal", kin=b"sanne")
    cache.put(b"other", "O", KIN_KEPT_BELOW, scope=b"bram+newest", kin=b"bram")
    cache.big_kin_go(b"sanne+deeper", b"sanne")
    assert (cache.get(b"newest"), cache.get(b"goal"), cache.get(b"other")) == (None, "G", "O")


def test_a_read_of_one_extent_lets_the_groups_big_reads_of_other_extents_go_and_keeps_its_own() -> None:
    """A huge group's overview after its report: the kept read of every score goes before the overview's answer is
    parsed (a worker would hold both), the overview's own kept read stays (its versions may still match)."""
    cache: ReadCache[str] = ReadCache(max_resources=10 * KIN_KEPT_BELOW, ttl=60, clock=Clock())
    cache.put(b"whole", "W", KIN_KEPT_BELOW, scope=b"sanne", kin=b"sanne")
    cache.put(b"newest", "N", KIN_KEPT_BELOW, scope=b"sanne+newest", kin=b"sanne")
    cache.put(b"goal", "G", 10, scope=b"sanne+goal", kin=b"sanne")
    cache.big_kin_go(b"sanne+newest", b"sanne", others_only=True)
    assert (cache.get(b"whole"), cache.get(b"newest"), cache.get(b"goal")) == (None, "N", "G")
    cache.big_kin_go(b"sanne+newest", b"sanne")
    assert cache.get(b"newest") is None


@responses.activate
def test_a_huge_groups_kept_read_of_every_score_goes_before_its_overview_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, cache, _ = served_and_cached(tmp_path)
    monkeypatch.setattr(readcache, "KIN_KEPT_BELOW", 10)  # this small group counts as a huge one
    repo.load()  # every score: kept
    assert len(cache) == 1
    kept_while_parsing = kept_at_each_parse(monkeypatch, cache)
    newest = repo.load(newest_scores=2)
    assert kept_while_parsing == [0] and newest.newest_scores == 2 and len(cache) == 1
    monkeypatch.setattr(readcache, "KIN_KEPT_BELOW", 10**6)  # a group of the usual size: both stay
    repo.load()
    assert len(cache) == 2


@responses.activate
def test_a_big_groups_read_of_every_score_in_one_answer_is_still_known_by_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many resources, no more scores than a page: every score's batch holds them all, so its bytes say it all and
    the next same bytes are not parsed again (its kept read does not go first, as a stretched read's would)."""
    _, answer = batch_server(served(full_group()), {"resourceType": "Patient", "id": PATIENT.split("/")[1]})
    responses.add_callback(responses.POST, BASE, callback=answer)
    repo = dataclasses.replace(make_repo(tmp_path, batch=True), every_score_in_pages=True)
    repo.read_cache = ReadCache()
    monkeypatch.setattr(readcache, "KIN_KEPT_BELOW", 10)  # this group counts as a huge one
    parsed: list[bytes] = []
    real_parse = repository.parse_json
    monkeypatch.setattr(repository, "parse_json", lambda raw, headers: parsed.append(raw) or real_parse(raw, headers))
    first = repo.load()
    assert repo.load().group is first.group and len(parsed) == 1


def test_configuration() -> None:
    base = {"app": {"public_base_url": "https://app.test", "secret_key": "s" * 32}}
    assert config_from_mapping(base, env={}).read_cache_resources == DEFAULT_MAX_RESOURCES
    config = config_from_mapping({"app": {**base["app"], "read_cache_resources": 0, "read_cache_ttl": 30}}, env={})
    assert (config.read_cache_resources, config.read_cache_ttl) == (0, 30.0)
    from_env = config_from_mapping(base, env={"RESOURCEGROEP_READ_CACHE_RESOURCES": "500"})
    assert from_env.read_cache_resources == 500
    with pytest.raises(ConfigurationError, match="read_cache_resources must be a number"):
        config_from_mapping(base, env={"RESOURCEGROEP_READ_CACHE_RESOURCES": "veel"})
    with pytest.raises(ConfigurationError, match="must not be negative"):
        dataclasses.replace(config, read_cache_ttl=-1)


# ---------------------------------------------------------------------- the very same bytes: not even parsed


def batch_server(resources: list[JsonDict], patient: JsonDict) -> tuple[list[str], Callable[[Any], Any]]:
    """A batch endpoint whose answer's bytes change only when `stamp[0]` (a Bundle id, as some servers send)
    or the resources change."""
    stamp = ["1"]

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        asked = [unquote(e["request"]["url"]) for e in json.loads(request.body)["entry"]]
        entries = [search_entry(url, resources) for url in asked[:-1]]
        entries.append({"resource": patient, "response": {"status": "200 OK"}})
        return (
            200,
            {},
            json.dumps({"resourceType": "Bundle", "id": stamp[0], "type": "batch-response", "entry": entries}),
        )

    return stamp, answer


def served_and_cached(tmp_path: Path) -> tuple[GroupRepository, ReadCache[LoadedGroup], list[JsonDict]]:
    """A repository with a read cache, in front of a batch endpoint that serves a full group (its resources)."""
    resources = served(full_group())
    patient = {"resourceType": "Patient", "id": PATIENT.split("/")[1], "meta": {"versionId": "3"}}
    _, answer = batch_server(resources, patient)
    responses.add_callback(responses.POST, BASE, callback=answer)
    repo = make_repo(tmp_path, batch=True)
    cache: ReadCache[LoadedGroup] = ReadCache()
    repo.read_cache = cache
    return repo, cache, resources


def kept_at_each_parse(monkeypatch: pytest.MonkeyPatch, cache: ReadCache[LoadedGroup]) -> list[int]:
    """How many reads the cache keeps at each parse of an answer from now on."""
    kept: list[int] = []
    real_parse = repository.parse_json

    def parse(raw: bytes, headers: Any) -> Any:
        kept.append(len(cache))
        return real_parse(raw, headers)

    monkeypatch.setattr(repository, "parse_json", parse)
    return kept


@responses.activate
def test_the_same_bytes_are_not_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    patient = {"resourceType": "Patient", "id": PATIENT.split("/")[1], "meta": {"versionId": "3"}}
    stamp, answer = batch_server(served(full_group()), patient)
    responses.add_callback(responses.POST, BASE, callback=answer)
    parsed: list[bytes] = []
    real_parse = repository.parse_json
    monkeypatch.setattr(repository, "parse_json", lambda raw, headers: parsed.append(raw) or real_parse(raw, headers))
    repo = make_repo(tmp_path, batch=True)
    repo.read_cache = ReadCache()
    first = repo.load()
    assert len(parsed) == 1 and first.group is not None and first.patient_resource == patient
    stamp[0] = "2"  # other bytes (a server that stamps its answers), the same versions: parsed, not read again
    assert repo.load().group is first.group and len(parsed) == 2
    assert repo.load().group is first.group and len(parsed) == 2  # these bytes are known now too: not parsed
    assert len(responses.calls) == 3  # the EHR was asked every time


@responses.activate
def test_where_the_ehr_sends_the_same_bytes_new_bytes_let_the_kept_read_go_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, cache, resources = served_and_cached(tmp_path)
    first = repo.load()
    assert repo.load().group is first.group  # the very same bytes: this EHR repeats itself
    kept_while_parsing = kept_at_each_parse(monkeypatch, cache)
    goal = next(r for r in resources if r["resourceType"] == "Goal")
    goal["meta"]["versionId"] = "2"  # another system wrote: new bytes
    keyed: list[int] = []
    real_fingerprint = repository.fingerprint
    monkeypatch.setattr(repository, "fingerprint", lambda *a: keyed.append(1) or real_fingerprint(*a))
    second = repo.load()
    assert kept_while_parsing == [0]  # the old read was let go before the new answer was parsed
    assert second.group is not first.group and len(cache) == 1
    assert keyed == []  # new bytes from this EHR are new versions: no versions key is worked out for them
    assert repo.load().group is second.group  # kept by its bytes


def test_new_bytes_drop_a_kept_read_only_where_the_ehr_repeats_itself() -> None:
    cache: ReadCache[str] = ReadCache(max_resources=100, ttl=60, clock=Clock())
    cache.put(b"v1", "G1", 10, aliases=(b"bytes-1",), scope=b"sanne")
    cache.other_bytes(b"sanne")  # not known to repeat itself: the versions may still match
    assert cache.get(b"v1") == "G1"
    cache.same_bytes_again(b"sanne")
    cache.other_bytes(b"eva")  # another scope: untouched
    assert cache.get(b"v1") == "G1"
    assert cache.other_bytes(b"sanne") is True
    assert cache.get(b"v1") is None and cache.get(b"bytes-1") is None and cache.size == 0
    assert cache.other_bytes(b"eva") is False


def test_new_bytes_of_one_extent_of_a_group_drop_its_other_kept_reads_too() -> None:
    """The whole group and its newest scores are two reads of one record: where the EHR repeats itself, new bytes of
    either mean a new version, so neither kept read is held while the new answer is parsed (a huge group's worker
    would otherwise hold a kept read of the overview while it parses the whole group for a save)."""
    cache: ReadCache[str] = ReadCache(max_resources=100, ttl=60, clock=Clock())
    cache.put(b"whole", "W", 10, scope=b"sanne", kin=b"sanne")
    cache.put(b"newest", "N", 5, scope=b"sanne+newest", kin=b"sanne")
    cache.put(b"eva", "E", 5, scope=b"eva", kin=b"eva")
    assert cache.other_bytes(b"sanne", b"sanne") is False  # not known to repeat itself: both stay
    assert cache.get(b"whole") == "W" and cache.get(b"newest") == "N"
    cache.same_bytes_again(b"sanne+newest", b"sanne")  # learned on one extent, known for the group
    assert cache.other_bytes(b"sanne", b"sanne") is True
    assert cache.get(b"whole") is None and cache.get(b"newest") is None and cache.get(b"eva") == "E"
    assert cache.size == 5


@responses.activate
def test_the_same_bytes_are_kept_even_without_versions(tmp_path: Path) -> None:
    resources = served(full_group())
    for r in resources:
        r["meta"].pop("versionId")
    _, answer = batch_server(resources, {"resourceType": "Patient", "id": PATIENT.split("/")[1]})
    responses.add_callback(responses.POST, BASE, callback=answer)
    repo = make_repo(tmp_path, batch=True)
    repo.read_cache = ReadCache()
    first = repo.load()
    assert first.group is not None and repo.load().group is first.group
