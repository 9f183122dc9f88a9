"""Caseload queries: the two searches, paging, the needs-attention facts, compartment and tolerant reading."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from fhir_mappings.codes import (
    CS_ARTIFACT,
    CS_MEMBER_ROLE,
    CS_NOMINATION_STATE,
    EXT_MEMBER_KEY,
    EXT_NOMINATION_STATE,
    IDENTIFIER_SYSTEM,
    GroupStatus,
    MemberRole,
    NominationState,
)
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.model import CLINIC_ZONE, NOMINEE_STATES
from plugin.sync.capabilities import ServerCapabilities
from plugin.sync.caseload import (
    GET_CHUNK,
    Caseload,
    CaseloadRow,
    PractitionerRoles,
    caseload_plan_batch,
    caseload_plan_params,
    caseload_team_params,
    load_caseload,
    practitioner_references,
    team_statuses,
)
from plugin.sync.client import FhirClient, StaticTokenProvider
from plugin.sync.errors import (
    BadRequest,
    Forbidden,
    NextLinkRefused,
    NotFound,
    ServerUnavailable,
    SyncError,
    Unauthorized,
)

BASE = "https://ehr.test/fhir/R4"
DR = "Practitioner/dr"
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=CLINIC_ZONE)
TODAY = NOW.date()
Json = dict[str, Any]


# ---------------------------------------------------------------- builders


def concept(system: str, code: str) -> Json:
    return {"coding": [{"system": system, "code": code}]}


def participant(who: str, *roles: str, state: str | None = None, end: str | None = None, pid: str = "") -> Json:
    part: Json = {"member": {"reference": who}}
    if pid:
        part["id"] = pid
    if roles:
        part["role"] = [concept(CS_MEMBER_ROLE, r) for r in roles]
    if state:
        coding = {"system": CS_NOMINATION_STATE, "code": state}
        part["extension"] = [{"url": EXT_NOMINATION_STATE, "valueCoding": coding}]
    if end:
        part["period"] = {"start": "2025-01-01", "end": end}
    return part


def team(
    tid: str,
    patient: str,
    *extra: Json,
    status: str = "active",
    name: str | None = None,
    product: bool = True,
    me: Json | None = None,
) -> Json:
    res: Json = {
        "resourceType": "CareTeam",
        "id": tid,
        "status": status,
        "name": name or f"Groep {tid}",
        "subject": {"reference": patient},
        "participant": [
            participant(patient, "regisseur", "kernlid"),
            me if me is not None else participant(DR, "regieondersteuner", "kernlid"),
            *extra,
        ],
    }
    if product:
        res["category"] = [concept(CS_ARTIFACT, "resourcegroep")]
    return res


def plan(pid: str, patient: str, team_id: str, *tasks: str, status: str = "active", start: str = "2025-01-01") -> Json:
    res: Json = {
        "resourceType": "CarePlan",
        "id": pid,
        "status": status,
        "intent": "plan",
        "category": [concept(CS_ARTIFACT, "resourcegroepplan")],
        "subject": {"reference": patient},
        "careTeam": [{"reference": f"CareTeam/{team_id}"}],
        "period": {"start": start},
    }
    if tasks:
        res["activity"] = [{"reference": {"reference": f"Task/{t}"}} for t in tasks]
    return res


def meeting(
    aid: str,
    plan_id: str,
    status: str,
    start: datetime | str | None,
    *,
    end: str | None = None,
    kind: str = "resourcegroepbijeenkomst",
    actors: tuple[str, ...] = (),
) -> Json:
    res: Json = {
        "resourceType": "Appointment",
        "id": aid,
        "status": status,
        "serviceType": [concept(CS_ARTIFACT, kind)],
        "supportingInformation": [{"reference": f"CarePlan/{plan_id}"}],
        "participant": [{"actor": {"reference": a}, "status": "accepted"} for a in actors],
    }
    if isinstance(start, datetime):
        res["start"] = start.isoformat()
        res["end"] = end or (start + timedelta(hours=1)).isoformat()
    elif start is not None:
        res["start"] = start
        if end:
            res["end"] = end
    return res


def task(
    tid: str,
    patient: str,
    status: str,
    due: date | str | None,
    *,
    plan_id: str | None = None,
    owner: str | None = None,
    description: str = "Afspraak",
) -> Json:
    res: Json = {
        "resourceType": "Task",
        "id": tid,
        "status": status,
        "intent": "plan",
        "description": description,
        "for": {"reference": patient},
    }
    if due is not None:
        res["restriction"] = {"period": {"end": due.isoformat() if isinstance(due, date) else due}}
    if plan_id:
        res["basedOn"] = [{"reference": f"CarePlan/{plan_id}"}]
    if owner:
        res["owner"] = {"reference": owner}
    return res


def patient(pid: str, name: str) -> Json:
    return {"resourceType": "Patient", "id": pid, "name": [{"text": name}]}


def query_of(url: str | None) -> dict[str, str]:
    """The query parameters of a URL (the last value of a repeated one)."""
    return dict(parse_qsl(urlsplit(url or "").query))


def searchset(resources: list[Json], next_url: str | None = None) -> Json:
    bundle: Json = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
        "link": [{"relation": "self", "url": f"{BASE}/CareTeam"}],
    }
    if next_url:
        bundle["link"].append({"relation": "next", "url": next_url})
    return bundle


# ---------------------------------------------------------------- a small fake for round 2


def references_in(value: object) -> list[str]:
    if isinstance(value, dict):
        found = [str(value["reference"])] if isinstance(value.get("reference"), str) else []
        return found + [r for v in value.values() for r in references_in(v)]
    if isinstance(value, list):
        return [r for v in value for r in references_in(v)]
    return []


def plan_search_answer(store: list[Json], url: str) -> Json:
    """What a server answers to one `CarePlan?_id=...` search with the caseload's includes."""
    params = parse_qsl(urlsplit(url).query)
    ids = dict(params)["_id"].split(",")
    plans = [r for r in store if r["resourceType"] == "CarePlan" and r["id"] in ids]
    keys = {f"CarePlan/{p['id']}" for p in plans}
    listed = {r for p in plans for r in references_in(p.get("activity"))}

    def included(r: Json) -> bool:
        if r["resourceType"] == "Task":
            return f"Task/{r.get('id')}" in listed or bool(keys & set(references_in(r.get("basedOn"))))
        return r["resourceType"] == "Appointment" and bool(keys & set(references_in(r.get("supportingInformation"))))

    found = [r for r in store if included(r)]
    bundle = searchset(plans)
    bundle["entry"] += [{"resource": r, "search": {"mode": "include"}} for r in found]
    return bundle


def batch_callback(store: list[Json]) -> Callable[[requests.PreparedRequest], tuple[int, dict[str, str], str]]:
    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        bundle = json.loads(request.body or b"{}")
        assert bundle["type"] == "batch"
        entries = [
            {"resource": plan_search_answer(store, e["request"]["url"]), "response": {"status": "200 OK"}}
            for e in bundle["entry"]
        ]
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "batch-response", "entry": entries})

    return answer


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r


def make_client(**kw: Any) -> FhirClient:
    return FhirClient(BASE, StaticTokenProvider("tok"), sleep=lambda _: None, **kw)


def serve(rsps: responses.RequestsMock, round_one: list[Json], store: list[Json] | None = None) -> None:
    """Round 1 answers `round_one`; round 2 (if asked) answers from `store` (default: the same resources)."""
    rsps.get(f"{BASE}/CareTeam", json=searchset(round_one))
    if store is not None:
        rsps.add_callback(responses.POST, BASE, callback=batch_callback(store), content_type="application/fhir+json")


def row_of(caseload: Caseload, team_ref: str) -> CaseloadRow:
    return next(r for r in caseload.rows if r.team == team_ref)


# ---------------------------------------------------------------- the queries (pure)


def test_team_search_asks_for_product_teams_of_the_practitioner_with_patients_and_plans() -> None:
    params = caseload_team_params(("Practitioner/dr", "PractitionerRole/r"), page_size=500)
    assert params == [
        ("participant", "Practitioner/dr,PractitionerRole/r"),
        ("identifier", f"{IDENTIFIER_SYSTEM}|"),
        ("status", "proposed,active,suspended"),
        ("_include", "CareTeam:subject"),
        ("_revinclude", "CarePlan:care-team"),
        ("_count", "500"),
    ]
    assert team_statuses() == ("proposed", "active", "suspended")
    assert team_statuses(include_ended=True) == ("proposed", "active", "suspended", "inactive")


def test_a_kt2_team_without_category_is_a_group_by_the_product_identifier(rsps: responses.RequestsMock) -> None:
    kt2 = {**team("t1", "Patient/p1"), "identifier": [{"system": IDENTIFIER_SYSTEM, "value": "u1"}]}
    del kt2["category"]
    foreign = {**team("t2", "Patient/p2", product=False), "identifier": [{"system": "http://other", "value": "x"}]}
    serve(rsps, [kt2, foreign, plan("c1", "Patient/p1", "t1"), patient("p1", "Anna Bos")], [])
    caseload = load_caseload(make_client(), DR, now=NOW)
    assert [r.team for r in caseload.rows] == ["CareTeam/t1"]


def test_plan_batch_has_one_search_per_page_of_plans_with_their_includes() -> None:
    bundle = caseload_plan_batch(["a", "b", "c"], page_size=2)
    urls = [e["request"]["url"] for e in bundle["entry"]]
    assert bundle["type"] == "batch" and all(e["request"]["method"] == "GET" for e in bundle["entry"])
    assert len(urls) == 2
    assert urls[0] == (
        "CarePlan?_id=a,b&_include=CarePlan:activity-reference&_revinclude=Task:based-on"
        "&_revinclude=Appointment:supporting-info&_count=2"
    )
    assert query_of(urls[1])["_id"] == "c"
    assert dict(caseload_plan_params(["x"] * 5, page_size=2))["_count"] == "5"


def test_practitioner_references() -> None:
    assert practitioner_references("Practitioner/dr") == ("Practitioner/dr",)
    assert practitioner_references(f"{BASE}/PractitionerRole/r1/_history/2") == ("PractitionerRole/r1",)
    role = {"resourceType": "PractitionerRole", "id": "r1", "practitioner": {"reference": f"{BASE}/Practitioner/dr"}}
    assert practitioner_references(role) == ("PractitionerRole/r1", "Practitioner/dr")
    assert practitioner_references({"resourceType": "PractitionerRole", "id": "r2"}) == ("PractitionerRole/r2",)
    assert practitioner_references({"resourceType": "Practitioner", "id": "dr"}) == ("Practitioner/dr",)
    bad_ones: list[Any] = [
        "Patient/p1",
        "dr",
        "Practitioner/",
        {"resourceType": "Patient", "id": "p"},
        {"resourceType": "Practitioner"},
    ]
    for bad in bad_ones:
        with pytest.raises(ValueError):
            practitioner_references(bad)
    with pytest.raises(TypeError):
        practitioner_references(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the facts


def full_scenario() -> tuple[list[Json], list[Json]]:
    """Round-1 resources and the round-2 store for four groups with known facts."""
    p1, p2, p3, p4 = "Patient/p1", "Patient/p2", "Patient/p3", "Patient/p4"
    teams = [
        team("t1", p1, name="Groep Anna"),  # meeting due
        team(
            "t2",
            p2,
            participant("Practitioner/other", "regieondersteuner"),  # planned; the dr is a lid
            me=participant(DR, "lid"),
            name="Groep Bert",
        ),
        team(
            "t3",
            p3,
            participant("Practitioner/n1", "lid", state="genomineerd"),
            participant("Practitioner/n2", "lid", state="gesprek-gepland", pid="part-n2"),
            participant("Practitioner/n3", "lid", state="gesprek-gevoerd"),
            participant("Practitioner/n4", "lid", state="afgezien", end="2026-05-01"),
            participant("Practitioner/n5", "lid", state="genomineerd", end="2026-05-20"),
            status="proposed",
            name="Groep Carla",
        ),
        team("t4", p4, participant("RelatedPerson/rp", "lid"), status="suspended", name="Groep Dirk"),
    ]
    plans = [
        plan("c1", p1, "t1"),
        plan("c2", p2, "t2"),
        plan("c3", p3, "t3"),
        plan("c4", p4, "t4", "k1", "k2", "k3", "k4"),
    ]
    patients = [patient("p1", "Anna"), patient("p2", "Bert"), patient("p3", "Carla"), patient("p4", "Dirk")]
    store = [
        *plans,
        meeting("m1", "c1", "fulfilled", NOW - timedelta(days=100)),
        meeting("m2", "c1", "fulfilled", NOW - timedelta(days=200)),
        meeting("m3", "c1", "cancelled", NOW + timedelta(days=5)),
        meeting("m4", "c2", "fulfilled", NOW - timedelta(days=120)),
        meeting("m5", "c2", "booked", NOW + timedelta(days=14)),
        meeting("m6", "c2", "proposed", NOW + timedelta(days=40)),
        meeting("m6x", "c2", "entered-in-error", NOW + timedelta(days=2)),  # retired: no meeting
        {
            **meeting("i1", "c3", "booked", NOW + timedelta(days=3), kind="nominatiegesprek"),
            "extension": [{"url": EXT_MEMBER_KEY, "valueString": "part-n2"}],
        },
        {
            **meeting("i0", "c3", "cancelled", NOW + timedelta(days=1), kind="nominatiegesprek"),
            "extension": [{"url": EXT_MEMBER_KEY, "valueString": "part-n2"}],
        },
        meeting("m7", "c4", "fulfilled", NOW - timedelta(days=150)),  # on hold: never due
        task("k1", p4, "requested", TODAY - timedelta(days=1), owner="RelatedPerson/rp", description="Bellen"),
        task("k2", p4, "in-progress", TODAY - timedelta(days=30), description="Oefenen"),
        task("k3", p4, "completed", TODAY - timedelta(days=30)),
        task("k4", p4, "accepted", TODAY),  # due today: not overdue yet
        task("k5", p4, "accepted", TODAY - timedelta(days=2), plan_id="c4", description="Alleen basedOn"),
        task("k6", p4, "entered-in-error", TODAY - timedelta(days=9), plan_id="c4"),  # retired: no agreement
    ]
    return [*teams, *patients, *plans], store


def test_rows_carry_the_facts_that_need_attention(rsps: responses.RequestsMock) -> None:
    round_one, store = full_scenario()
    serve(rsps, round_one, store)
    client = make_client()
    caseload = load_caseload(client, DR, now=NOW)

    assert caseload.round_trips == 2 == client.request_count
    assert caseload.practitioner == (DR,) and caseload.as_of == NOW and not caseload.degraded
    # What needs attention first (Bert's group needs none), then by name.
    assert [r.patient_name for r in caseload.rows] == ["Anna", "Carla", "Dirk", "Bert"]
    anna, carla, dirk, bert = caseload.rows

    assert anna.meeting_due and anna.needs_attention
    assert anna.last_held_meeting == NOW - timedelta(days=100) and anna.next_meeting is None
    assert anna.roles == {MemberRole.REGIEONDERSTEUNER} and anna.core
    assert (anna.patient, anna.team, anna.plan, anna.group_name) == (
        "Patient/p1",
        "CareTeam/t1",
        "CarePlan/c1",
        "Groep Anna",
    )
    assert anna.group_status is GroupStatus.ACTIVE

    assert not bert.meeting_due and not bert.needs_attention
    assert bert.next_meeting == NOW + timedelta(days=14)
    assert bert.roles == {MemberRole.LID} and not bert.core

    assert carla.group_status is GroupStatus.FORMING and not carla.meeting_due  # never met: nothing is due yet
    # Every nominee not yet decided on; the team owes the next step to the one to plan and the one to decide on,
    # not to the one whose interview is still to come (ResourceGroup.nominee_waits, the overview's rule).
    assert [(o.member, o.state, o.planned_start, o.waits) for o in carla.open_interviews] == [
        ("Practitioner/n1", NominationState.GENOMINEERD, None, True),
        ("Practitioner/n2", NominationState.GESPREK_GEPLAND, NOW + timedelta(days=3), False),
        ("Practitioner/n3", NominationState.GESPREK_GEVOERD, None, True),
    ]
    assert carla.needs_attention and carla.next_meeting is None  # an interview is not a meeting

    assert dirk.group_status is GroupStatus.ON_HOLD and not dirk.meeting_due
    assert [(a.task, a.description, a.due, a.owner_display) for a in dirk.overdue_agreements] == [
        ("Task/k2", "Oefenen", TODAY - timedelta(days=30), None),
        ("Task/k5", "Alleen basedOn", TODAY - timedelta(days=2), None),
        ("Task/k1", "Bellen", TODAY - timedelta(days=1), "RelatedPerson/rp"),  # no name: as the group page
    ]
    assert caseload.needing_attention() == (anna, carla, dirk)
    assert len(caseload) == 4 and caseload.skipped == () and caseload.unreadable == ()

    sent = json.loads(rsps.calls[1].request.body or b"{}")
    assert len(sent["entry"]) == 1
    ids = query_of(sent["entry"][0]["request"]["url"])["_id"].split(",")
    assert sorted(ids) == ["c1", "c2", "c3", "c4"]
    first = query_of(rsps.calls[0].request.url)
    assert first["participant"] == DR and first["status"] == "proposed,active,suspended"


def test_every_row_has_the_facts_of_the_group_as_its_pages_read_it(rsps: responses.RequestsMock) -> None:
    """One way to read FHIR into the domain: the caseload's facts are those of from_fhir's ResourceGroup."""
    round_one, store = full_scenario()
    serve(rsps, round_one, store)
    caseload = load_caseload(make_client(), DR, now=NOW)
    teams = {f"CareTeam/{r['id']}": r for r in round_one if r["resourceType"] == "CareTeam"}
    for row in caseload.rows:
        assert row.plan is not None
        loaded = [teams[row.team], *[e["resource"] for e in plan_search_answer(store, f"?_id={row.plan[9:]}")["entry"]]]
        group, index = group_from_fhir(loaded, row.patient)
        held, planned = group.last_held_meeting(), group.next_meeting(NOW)
        assert row.meeting_due is group.meeting_due(NOW), row.team
        assert row.last_held_meeting == (held.start if held else None), row.team
        assert row.next_meeting == (planned.start if planned else None), row.team
        assert [a.task for a in row.overdue_agreements] == [
            index.ref(a.uid)
            for a in sorted(group.agreements, key=lambda a: (a.due or TODAY, a.uid))
            if a.is_overdue(TODAY)
        ], row.team
        assert [(o.member, o.planned_start, o.waits) for o in row.open_interviews] == [
            (m.who, iv.planned_start if (iv := group.interview_for(m.uid)) else None, group.nominee_waits(m, NOW))
            for m in group.members
            if m.active and m.nomination in NOMINEE_STATES
        ], row.team


def test_a_member_who_left_is_read_as_the_group_page_reads_it(rsps: responses.RequestsMock) -> None:
    """A participation with an end has ended (Member.active), whether the end is past or still ahead.

    The caseload used to read members itself and took an end still ahead for "not left yet", so a nominee
    the group page shows as gone still waited for an interview here, and a practitioner who is leaving
    kept a row for a group whose pages no longer count them in.
    """
    nominees = (
        participant("Practitioner/n1", "lid", state="genomineerd"),
        participant("Practitioner/n2", "lid", state="genomineerd", end="2026-05-20"),  # left before today
        participant("Practitioner/n3", "lid", state="gesprek-gepland", end="2026-12-31"),  # an end ahead
    )
    nominated = team("t1", "Patient/p1", *nominees)
    leaving = team("t2", "Patient/p2", me=participant(DR, "regieondersteuner", end="2026-12-31"))
    plans = [plan("c1", "Patient/p1", "t1"), plan("c2", "Patient/p2", "t2")]
    serve(rsps, [nominated, leaving, *plans], plans)
    caseload = load_caseload(make_client(), DR, now=NOW)

    page, _ = group_from_fhir([nominated, plans[0]], "Patient/p1")
    assert [m.who for m in page.members if not m.active] == ["Practitioner/n2", "Practitioner/n3"]
    assert [r.team for r in caseload.rows] == ["CareTeam/t1"]
    assert [o.member for o in caseload.rows[0].open_interviews] == ["Practitioner/n1"]
    gone, _ = group_from_fhir([leaving, plans[1]], "Patient/p2")
    assert not next(m for m in gone.members if m.who == DR).active


def test_the_owner_display_comes_from_the_team(rsps: responses.RequestsMock) -> None:
    owner = {"member": {"reference": "RelatedPerson/rp", "display": "Moeder"}, "role": [concept(CS_MEMBER_ROLE, "lid")]}
    serve(
        rsps,
        [team("t1", "Patient/p1", owner), plan("c1", "Patient/p1", "t1", "k1")],
        [
            plan("c1", "Patient/p1", "t1", "k1"),
            task("k1", "Patient/p1", "requested", TODAY - timedelta(days=1), owner="RelatedPerson/rp"),
        ],
    )
    row = load_caseload(make_client(), DR, now=NOW).rows[0]
    assert row.overdue_agreements[0].owner_display == "Moeder"


def test_a_meeting_is_due_three_calendar_months_after_the_last_one(rsps: responses.RequestsMock) -> None:
    held = datetime(2025, 11, 30, 22, 30, tzinfo=CLINIC_ZONE)  # three months on: 28 February (clamped)
    resources = [team("t1", "Patient/p1"), plan("c1", "Patient/p1", "t1")]
    store = [plan("c1", "Patient/p1", "t1"), meeting("m1", "c1", "fulfilled", held)]
    serve(rsps, resources, store)
    serve(rsps, resources, store)
    on_the_day = load_caseload(make_client(), DR, now=datetime(2026, 2, 28, 22, 30, tzinfo=CLINIC_ZONE))
    just_after = load_caseload(make_client(), DR, now=datetime(2026, 2, 28, 22, 31, tzinfo=CLINIC_ZONE))
    assert not on_the_day.rows[0].meeting_due
    assert just_after.rows[0].meeting_due


def test_an_empty_caseload_takes_one_round_trip(rsps: responses.RequestsMock) -> None:
    serve(rsps, [])
    client = make_client()
    caseload = load_caseload(client, DR, now=NOW)
    assert caseload.rows == () and caseload.round_trips == 1 and client.request_count == 1
    assert caseload.needing_attention() == ()


def test_a_team_without_a_plan_still_shows_and_skips_round_two(rsps: responses.RequestsMock) -> None:
    serve(rsps, [team("t1", "Patient/p1"), patient("p1", "Anna")])
    caseload = load_caseload(make_client(), DR, now=NOW)
    row = caseload.rows[0]
    assert row.plan is None and row.patient_name == "Anna"
    assert (row.meeting_due, row.last_held_meeting, row.next_meeting, row.overdue_agreements) == (False, None, None, ())
    assert caseload.round_trips == 1


def test_ended_groups_are_left_out_unless_asked_for(rsps: responses.RequestsMock) -> None:
    # A server that ignores the status parameter still gets the ended group filtered out.
    resources = [
        team("t1", "Patient/p1", status="inactive"),
        plan("c1", "Patient/p1", "t1", status="completed"),
        team("t2", "Patient/p2"),
        plan("c2", "Patient/p2", "t2"),
    ]
    serve(rsps, resources, resources)
    caseload = load_caseload(make_client(), DR, now=NOW)
    assert [r.team for r in caseload.rows] == ["CareTeam/t2"]
    sent = json.loads(rsps.calls[1].request.body or b"{}")
    assert query_of(sent["entry"][0]["request"]["url"])["_id"] == "c2"

    serve(rsps, resources, resources)
    everything = load_caseload(make_client(), DR, now=NOW, include_ended=True)
    assert query_of(rsps.calls[2].request.url)["status"] == "proposed,active,suspended,inactive"
    ended = row_of(everything, "CareTeam/t1")
    assert ended.group_status is GroupStatus.ENDED and ended.plan == "CarePlan/c1"


def test_the_newest_open_plan_of_a_team_is_used(rsps: responses.RequestsMock) -> None:
    old = plan("c-old", "Patient/p1", "t1", status="completed", start="2024-01-01")
    new = plan("c-new", "Patient/p1", "t1", start="2025-06-01")
    void = plan("c-void", "Patient/p1", "t1", status="entered-in-error", start="2026-01-01")
    foreign = {**plan("c-foreign", "Patient/p1", "t1", start="2026-02-01"), "category": [concept("http://x", "y")]}
    store = [
        old,
        new,
        void,
        foreign,
        meeting("m1", "c-old", "fulfilled", NOW - timedelta(days=300)),
        meeting("m2", "c-new", "fulfilled", NOW - timedelta(days=10)),
    ]
    serve(rsps, [team("t1", "Patient/p1"), old, new, void, foreign], store)
    row = load_caseload(make_client(), DR, now=NOW).rows[0]
    assert row.plan == "CarePlan/c-new" and row.last_held_meeting == NOW - timedelta(days=10)
    # The plan of record the group's pages open (from_fhir) is the same one.
    opened, _ = group_from_fhir([team("t1", "Patient/p1"), *store], "Patient/p1")
    assert opened.plan_uid == "CarePlan/c-new"


def test_a_practitioner_role_searches_for_itself_and_its_practitioner(rsps: responses.RequestsMock) -> None:
    via_role = team("t1", "Patient/p1", me=participant("PractitionerRole/r1", "regieondersteuner"))
    serve(rsps, [via_role, team("t2", "Patient/p2")])
    role = {"resourceType": "PractitionerRole", "id": "r1", "practitioner": {"reference": DR}}
    caseload = load_caseload(make_client(), role, now=NOW)
    assert query_of(rsps.calls[0].request.url)["participant"] == f"PractitionerRole/r1,{DR}"
    assert [r.team for r in caseload.rows] == ["CareTeam/t1", "CareTeam/t2"]


def role_of(rid: str, practitioner: str = DR, *, active: bool = True) -> Json:
    return {
        "resourceType": "PractitionerRole",
        "id": rid,
        "practitioner": {"reference": practitioner},
        "active": active,
    }


def test_a_practitioner_is_found_where_a_team_lists_one_of_their_roles(rsps: responses.RequestsMock) -> None:
    """The launch names the Practitioner, the team one of their PractitionerRoles (the member picker offers them):
    the caseload asks for the roles once, then searches for the person and every active role."""
    rsps.get(f"{BASE}/PractitionerRole", json=searchset([role_of("r1"), role_of("r2", active=False)]))
    via_role = team("t1", "Patient/p1", me=participant("PractitionerRole/r1", "regieondersteuner"))
    serve(rsps, [via_role, team("t2", "Patient/p2")])
    roles = PractitionerRoles()
    client = make_client()
    caseload = load_caseload(client, DR, roles=roles, now=NOW)
    assert query_of(rsps.calls[0].request.url) == {"practitioner": DR, "_count": "100"}
    assert query_of(rsps.calls[1].request.url)["participant"] == f"{DR},PractitionerRole/r1"
    assert [r.team for r in caseload.rows] == ["CareTeam/t1", "CareTeam/t2"]
    assert row_of(caseload, "CareTeam/t1").roles == frozenset({MemberRole.REGIEONDERSTEUNER})
    assert caseload.round_trips == 2 == client.request_count  # the roles, the teams (no plans in round one)

    again = load_caseload(client, DR, roles=roles, now=NOW)  # the roles are known now: the teams only
    assert again.rows == caseload.rows and again.round_trips == 1


def test_a_role_user_counts_as_the_practitioner_the_launch_names_with_all_their_roles(
    rsps: responses.RequestsMock,
) -> None:
    rsps.get(
        f"{BASE}/PractitionerRole", json=searchset([role_of("r1"), role_of("r2"), role_of("x", "Practitioner/other")])
    )
    serve(rsps, [])
    load_caseload(make_client(), "PractitionerRole/r1", person=DR, roles=PractitionerRoles(), now=NOW)
    assert query_of(rsps.calls[1].request.url)["participant"] == f"PractitionerRole/r1,{DR},PractitionerRole/r2"


@pytest.mark.parametrize("status", [400, 403, 404])
def test_a_refused_role_search_leaves_the_practitioners_own_reference(
    rsps: responses.RequestsMock, status: int
) -> None:
    rsps.get(f"{BASE}/PractitionerRole", status=status, json={"resourceType": "OperationOutcome", "issue": []})
    serve(rsps, [team("t2", "Patient/p2")])
    roles = PractitionerRoles()
    caseload = load_caseload(make_client(), DR, roles=roles, now=NOW)
    assert query_of(rsps.calls[1].request.url)["participant"] == DR
    assert [r.team for r in caseload.rows] == ["CareTeam/t2"]
    assert load_caseload(make_client(), DR, roles=roles, now=NOW).round_trips == 1  # the refusal is kept too


def test_the_roles_are_asked_again_after_their_time_and_an_outage_is_not_kept(rsps: responses.RequestsMock) -> None:
    clock = [0.0]
    roles = PractitionerRoles(ttl=300, clock=lambda: clock[0])
    rsps.get(f"{BASE}/PractitionerRole", status=503)
    with pytest.raises(ServerUnavailable):
        roles.of(make_client(), DR)
    rsps.replace(responses.GET, f"{BASE}/PractitionerRole", json=searchset([role_of("r1")]))
    assert roles.of(make_client(), DR) == ("PractitionerRole/r1",)
    rsps.replace(responses.GET, f"{BASE}/PractitionerRole", json=searchset([role_of("r1"), role_of("r3")]))
    clock[0] = 299.0
    assert roles.of(make_client(), DR) == ("PractitionerRole/r1",)
    clock[0] = 300.0
    assert roles.of(make_client(), DR) == ("PractitionerRole/r1", "PractitionerRole/r3")


# ---------------------------------------------------------------- paging


def test_a_full_page_of_teams_is_followed_on_the_same_server(rsps: responses.RequestsMock) -> None:
    page2 = f"{BASE}/CareTeam?_page=2"
    rsps.get(
        f"{BASE}/CareTeam",
        json=searchset([team("t1", "Patient/p1"), team("t2", "Patient/p2")], page2),
        match=[responses.matchers.query_param_matcher({"participant": DR}, strict_match=False)],
    )
    rsps.get(
        page2,
        json=searchset([team("t3", "Patient/p3"), team("t2", "Patient/p2")]),  # t2 again
        match=[responses.matchers.query_param_matcher({"_page": "2"})],
    )
    client = make_client()
    caseload = load_caseload(client, DR, now=NOW, page_size=2)
    assert [r.team for r in caseload.rows] == ["CareTeam/t1", "CareTeam/t2", "CareTeam/t3"]
    assert caseload.round_trips == 2 == client.request_count
    assert query_of(rsps.calls[0].request.url)["_count"] == "2"


def test_a_next_link_to_another_server_is_refused(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/CareTeam", json=searchset([team("t1", "Patient/p1")], "https://evil.test/fhir/R4/CareTeam?p=2"))
    with pytest.raises(NextLinkRefused):
        load_caseload(make_client(), DR, now=NOW)
    assert len(rsps.calls) == 1  # nothing was sent to the other host


def test_a_full_page_inside_the_batch_is_followed(rsps: responses.RequestsMock) -> None:
    resources = [team("t1", "Patient/p1"), plan("c1", "Patient/p1", "t1")]
    rsps.get(f"{BASE}/CareTeam", json=searchset(resources))
    more = f"{BASE}/CarePlan?_id=c1&_offset=1"
    first = searchset([plan("c1", "Patient/p1", "t1")], more)
    rsps.post(
        BASE,
        json={
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [{"resource": first, "response": {"status": "200"}}],
        },
    )
    rsps.get(more, json=searchset([meeting("m1", "c1", "fulfilled", NOW - timedelta(days=200))]))
    caseload = load_caseload(make_client(), DR, now=NOW)
    assert caseload.rows[0].meeting_due and caseload.round_trips == 3


def test_a_thousand_plans_go_in_one_batch_of_one_search(rsps: responses.RequestsMock) -> None:
    teams = [team(f"t{i}", f"Patient/p{i}") for i in range(1000)]
    plans = [plan(f"c{i}", f"Patient/p{i}", f"t{i}") for i in range(1000)]
    serve(rsps, [*teams, *plans], plans)
    caseload = load_caseload(make_client(), DR, now=NOW)
    assert len(caseload) == 1000 and caseload.round_trips == 2
    sent = json.loads(rsps.calls[1].request.body or b"{}")
    assert len(sent["entry"]) == 1


# ---------------------------------------------------------------- without batch


def no_batch_caps() -> ServerCapabilities:
    return ServerCapabilities(base_url=BASE, fhir_version="4.0.1", resources={}, system_interactions=frozenset())


def test_without_batch_the_plans_are_searched_in_small_chunks(rsps: responses.RequestsMock) -> None:
    count = GET_CHUNK + 5
    teams = [team(f"t{i}", f"Patient/p{i}") for i in range(count)]
    plans = [plan(f"c{i}", f"Patient/p{i}", f"t{i}") for i in range(count)]
    rsps.get(
        f"{BASE}/CareTeam",
        json=searchset([*teams, *plans]),
        match=[responses.matchers.query_param_matcher({"participant": DR}, strict_match=False)],
    )
    rsps.add_callback(
        responses.GET,
        f"{BASE}/CarePlan",
        callback=lambda req: (200, {}, json.dumps(plan_search_answer(plans, req.url or ""))),
    )
    caseload = load_caseload(make_client(), DR, now=NOW, capabilities=no_batch_caps())
    assert caseload.degraded and len(caseload) == count and caseload.round_trips == 3
    chunks = [query_of(c.request.url or "") for c in rsps.calls[1:]]
    assert [len(c["_id"].split(",")) for c in chunks] == [GET_CHUNK, 5]
    assert all(c["_revinclude"] for c in chunks)


@pytest.mark.parametrize("status", [404, 405, 501])
def test_a_refused_batch_falls_back_to_searches(
    rsps: responses.RequestsMock, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    resources = [team("t1", "Patient/p1"), plan("c1", "Patient/p1", "t1")]
    rsps.get(f"{BASE}/CareTeam", json=searchset(resources))
    rsps.post(BASE, status=status, json={"resourceType": "OperationOutcome", "issue": []})
    rsps.get(
        f"{BASE}/CarePlan",
        json=plan_search_answer(
            [plan("c1", "Patient/p1", "t1"), meeting("m1", "c1", "fulfilled", NOW - timedelta(days=200))], "?_id=c1"
        ),
    )
    with caplog.at_level(logging.WARNING, "plugin.sync.caseload"):
        caseload = load_caseload(make_client(), DR, now=NOW)
    assert caseload.degraded and caseload.rows[0].meeting_due
    assert "degraded" in caplog.text


def test_a_batch_answered_with_something_else_falls_back(rsps: responses.RequestsMock) -> None:
    resources = [team("t1", "Patient/p1"), plan("c1", "Patient/p1", "t1")]
    rsps.get(f"{BASE}/CareTeam", json=searchset(resources))
    rsps.post(BASE, json={"resourceType": "OperationOutcome", "issue": []})
    rsps.get(f"{BASE}/CarePlan", json=searchset([plan("c1", "Patient/p1", "t1")]))
    assert load_caseload(make_client(), DR, now=NOW).degraded


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, Forbidden), (401, Unauthorized), (503, ServerUnavailable), (404, NotFound), (400, BadRequest)],
)
def test_a_failed_search_inside_the_batch_is_a_typed_error(
    rsps: responses.RequestsMock, status: int, error: type[SyncError]
) -> None:
    rsps.get(f"{BASE}/CareTeam", json=searchset([team("t1", "Patient/p1"), plan("c1", "Patient/p1", "t1")]))
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "forbidden"}]}
    rsps.post(
        BASE,
        json={
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [{"response": {"status": f"{status} Nope", "outcome": outcome}}],
        },
    )
    with pytest.raises(error) as caught:
        load_caseload(make_client(scope_context="user"), DR, now=NOW)
    assert caught.value.status == status
    if isinstance(caught.value, Forbidden):
        assert caught.value.permission == "user/CarePlan.s"
        assert "user/CarePlan.s" in caught.value.user_message


def test_an_outage_on_the_batch_is_not_mistaken_for_a_refusal(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/CareTeam", json=searchset([team("t1", "Patient/p1"), plan("c1", "Patient/p1", "t1")]))
    rsps.post(BASE, status=503)
    client = make_client()
    with pytest.raises(ServerUnavailable):
        load_caseload(client, DR, now=NOW)
    assert client.request_count == 1 + client.retry.max_attempts  # a batch of reads is retried, then given up
    assert not [c for c in rsps.calls if urlsplit(c.request.url or "").path.endswith("/CarePlan")]  # no fallback


def test_a_batch_answer_with_missing_entries_is_an_error(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/CareTeam", json=searchset([team("t1", "Patient/p1"), plan("c1", "Patient/p1", "t1")]))
    rsps.post(BASE, json={"resourceType": "Bundle", "type": "batch-response", "entry": []})
    with pytest.raises(SyncError, match="0 entries for 1"):
        load_caseload(make_client(), DR, now=NOW)


def test_a_batch_entry_without_a_bundle_is_an_error(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/CareTeam", json=searchset([team("t1", "Patient/p1"), plan("c1", "Patient/p1", "t1")]))
    answer = {"resourceType": "Bundle", "type": "batch-response", "entry": [{"response": {"status": "200"}}]}
    rsps.post(BASE, json=answer)
    with pytest.raises(SyncError, match="without a searchset"):
        load_caseload(make_client(), DR, now=NOW)


# ---------------------------------------------------------------- compartment


def test_only_teams_that_really_list_the_practitioner_make_rows(
    rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    resources = [
        team("t1", "Patient/p1", me=participant("Practitioner/someone-else", "regieondersteuner")),
        team("t2", "Patient/p2", me=participant(DR, "regieondersteuner", end="2026-05-01")),  # left: no row
        team("t3", "Patient/p3", me=participant(DR, "regieondersteuner", end="2026-12-31")),  # an end: left
        team("t8", "Patient/p10"),
        team("t4", "Patient/p4", me=participant(DR, "lid", state="afgezien")),  # declined
        team("t5", "Patient/p5", participant("Patient/p6")),  # names another patient
        {**team("t6", "Patient/p7"), "subject": {"reference": "Group/g1"}},
        {**team("t7", "Patient/p8"), "subject": None},
        patient("p1", "Niet tonen"),
        patient("p5", "Ook niet"),
        patient("p6", "Zeker niet"),
    ]
    serve(rsps, resources)
    with caplog.at_level(logging.WARNING, "plugin.sync.caseload"):
        caseload = load_caseload(make_client(), DR, now=NOW)
    assert [r.team for r in caseload.rows] == ["CareTeam/t8"]
    assert caseload.rows[0].patient_name == "Patient/p10"  # no Patient resource: the reference
    assert set(caseload.skipped) == {"CareTeam/t1", "CareTeam/t5", "CareTeam/t6", "CareTeam/t7"}
    assert "CareTeam/t5" in caplog.text and "Patient/p6" in caplog.text
    assert "Niet tonen" not in caplog.text  # names never reach the log


def test_plans_meetings_and_agreements_of_another_patient_are_skipped(rsps: responses.RequestsMock) -> None:
    stranger = plan("c-x", "Patient/p9", "t1", start="2026-01-01")
    round_one = [team("t1", "Patient/p1"), plan("c1", "Patient/p1", "t1", "k1"), stranger]
    store = [
        plan("c1", "Patient/p1", "t1", "k1"),
        meeting("m1", "c1", "fulfilled", NOW - timedelta(days=200)),
        meeting("m2", "c1", "booked", NOW + timedelta(days=3), actors=("Patient/p9",)),
        task("k1", "Patient/p9", "requested", TODAY - timedelta(days=3)),
        task("k2", "Patient/p1", "requested", TODAY - timedelta(days=3), plan_id="c1"),
    ]
    serve(rsps, round_one, store)
    caseload = load_caseload(make_client(), DR, now=NOW)
    row = caseload.rows[0]
    assert row.plan == "CarePlan/c1"
    assert row.meeting_due and row.next_meeting is None  # the other patient's meeting does not count
    assert [a.task for a in row.overdue_agreements] == ["Task/k2"]
    assert set(caseload.skipped) == {"CarePlan/c-x", "Appointment/m2", "Task/k1"}


def test_resources_of_plans_outside_the_caseload_are_ignored(rsps: responses.RequestsMock) -> None:
    round_one = [team("t1", "Patient/p1"), plan("c1", "Patient/p1", "t1")]
    rsps.get(f"{BASE}/CareTeam", json=searchset(round_one))
    extra = searchset(
        [
            plan("c1", "Patient/p1", "t1"),
            meeting("m9", "c9", "booked", NOW + timedelta(days=1)),
            task("k9", "Patient/p1", "requested", TODAY - timedelta(days=9), plan_id="c9"),
            {"resourceType": "Observation", "id": "o1"},
        ]
    )
    rsps.post(
        BASE,
        json={
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [{"resource": extra, "response": {"status": "200 OK"}}],
        },
    )
    caseload = load_caseload(make_client(), DR, now=NOW)
    row = caseload.rows[0]
    assert row.next_meeting is None and row.overdue_agreements == () and caseload.skipped == ()


# ---------------------------------------------------------------- tolerant reading


def test_foreign_and_broken_data_is_read_tolerantly(rsps: responses.RequestsMock) -> None:
    odd_member = {
        "member": {"reference": "Practitioner/odd"},
        "role": "not-a-list",
        "extension": [
            {"url": "http://other.test/ext", "valueString": "x"},
            {"url": EXT_NOMINATION_STATE, "valueCoding": "genomineerd"},
            {"url": EXT_NOMINATION_STATE, "valueCoding": {"system": CS_NOMINATION_STATE, "code": "bogus"}},
        ],
        "period": "2026",
    }
    round_one = [
        team("t0", "Patient/p0", product=False),  # another system's team: ignored, not skipped
        team("t9", "Patient/p9", status="entered-in-error"),
        {"resourceType": "CareTeam"},  # no id
        team(
            "t1",
            "Patient/p1",
            odd_member,
            participant("Practitioner/n1", "lid", state="genomineerd"),
            {"member": {"display": "Alleen een naam"}},
            "not-a-participant",
        ),  # type: ignore[arg-type]
        {
            **plan("c1", "Patient/p1", "t1", "k1", "k2", "k3"),
            "activity": [
                {"reference": {"reference": "Task/k1"}},
                {"reference": "k2"},
                "x",
                {"detail": {}},
                {"reference": {"reference": "Task/k2"}},
                {"reference": {"reference": "Task/k3"}},
            ],
        },
        {**patient("p1", ""), "name": [{"given": ["Anna"], "family": "Bos"}]},
        {"resourceType": "Patient"},
        {**plan("c-loose", "Patient/p1", "t1"), "careTeam": None},  # names no team: belongs to no group
    ]
    store = [
        round_one[4],
        meeting("m1", "c1", "fulfilled", "2026-01-10T10:00:00+01:00", end="2026-01-10T11:00:00+01:00"),
        meeting("m1b", "c1", "fulfilled", "2026-05-30T10:00:00", end="2026-05-30T11:00:00"),  # no zone
        meeting("m2", "c1", "fulfilled", "not a date", end="2026-05-30T11:00:00+02:00"),
        meeting("m3", "c1", "arrived", NOW - timedelta(days=1)),  # not a product meeting status
        meeting("m4", "c1", "booked", None),
        meeting("m5", "c1", "booked", (NOW - timedelta(minutes=30)).isoformat()),  # no end (FHIR requires one)
        meeting("m6", "c1", "booked", NOW + timedelta(days=2), end="garbage"),
        {**meeting("m7", "c1", "booked", NOW + timedelta(days=1)), "serviceType": [concept("http://other", "x")]},
        {**meeting("m8", "c1", "booked", NOW + timedelta(days=1)), "serviceType": None},
        task("k1", "Patient/p1", "draft", TODAY - timedelta(days=5)),  # not an agreement status
        task("k2", "Patient/p1", "requested", "31-12-2025"),  # unreadable due date
        {**task("k3", "Patient/p1", "requested", None), "restriction": {"period": "x"}},
        {"resourceType": "Task", "status": "requested", "basedOn": [{"reference": "CarePlan/c1"}]},  # no id
    ]
    serve(rsps, round_one, store)
    caseload = load_caseload(make_client(), DR, now=NOW)
    assert [r.team for r in caseload.rows] == ["CareTeam/t1"]
    row = caseload.rows[0]
    assert row.patient_name == "Anna Bos"
    # Only what from_fhir can read counts: the one readable meeting, held more than three months ago.
    assert row.last_held_meeting == datetime(2026, 1, 10, 10, 0, tzinfo=CLINIC_ZONE)
    assert row.next_meeting is None and row.meeting_due
    assert [o.member for o in row.open_interviews] == ["Practitioner/n1"]
    assert row.overdue_agreements == ()
    assert caseload.skipped == ()  # nothing broke the compartment: the unreadable is listed apart, once each
    assert caseload.unreadable == (
        "CareTeam/t1 participant 2",
        "CareTeam/t1 participant 5",
        "CarePlan/c1 activity 2",
        "Task/k1",
        "Task/k2",
        "Task/k3",
        "Appointment/m1b",
        "Appointment/m2",
        "Appointment/m3",
        "Appointment/m4",
        "Appointment/m5",
        "Appointment/m6",
    )


def test_the_subject_display_names_a_patient_without_a_resource(rsps: responses.RequestsMock) -> None:
    serve(rsps, [{**team("t1", "Patient/p1"), "subject": {"reference": "Patient/p1", "display": "A. de Vries"}}])
    assert load_caseload(make_client(), DR, now=NOW).rows[0].patient_name == "A. de Vries"


def test_the_group_name_falls_back_to_the_plan_title(rsps: responses.RequestsMock) -> None:
    resources = [{**team("t1", "Patient/p1"), "name": None}, {**plan("c1", "Patient/p1", "t1"), "title": "Plan Anna"}]
    serve(rsps, resources, resources[1:])
    assert load_caseload(make_client(), DR, now=NOW).rows[0].group_name == "Plan Anna"


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="time zone"):
        load_caseload(make_client(), DR, now=datetime(2026, 6, 1, 10, 0))
    with pytest.raises(ValueError, match="page_size"):
        load_caseload(make_client(), DR, now=NOW, page_size=0)


def test_without_now_the_current_time_is_used(rsps: responses.RequestsMock) -> None:
    serve(rsps, [])
    caseload = load_caseload(make_client(), DR)
    assert caseload.as_of.tzinfo is not None
    assert abs((caseload.as_of - datetime.now(CLINIC_ZONE)).total_seconds()) < 600


@pytest.mark.parametrize(("days", "waits"), [(7, False), (-2, True)])
def test_a_nominee_whose_interview_is_still_to_come_needs_no_attention(
    rsps: responses.RequestsMock, days: int, waits: bool
) -> None:
    """The caseload's "needs attention" is the overview's (ResourceGroup.nominee_waits): an interview next week is
    on its way; one whose time has passed is to be written down."""
    nominee = participant("Practitioner/n1", "lid", state="gesprek-gepland", pid="part-n1")
    forming = team("t1", "Patient/p1", nominee, status="proposed")
    plans = [plan("c1", "Patient/p1", "t1")]
    interview = {
        **meeting("i1", "c1", "booked", NOW + timedelta(days=days), kind="nominatiegesprek"),
        "extension": [{"url": EXT_MEMBER_KEY, "valueString": "part-n1"}],
    }
    serve(rsps, [forming, *plans], [*plans, interview])
    [row] = load_caseload(make_client(), DR, now=NOW).rows
    assert [(o.member, o.planned_start, o.waits) for o in row.open_interviews] == [
        ("Practitioner/n1", NOW + timedelta(days=days), waits)
    ]
    assert row.needs_attention is waits and not row.meeting_due
