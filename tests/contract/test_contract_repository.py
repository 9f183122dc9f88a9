"""The group repository on both servers (sandbox store, Medplum), through the counting, fault-injecting proxy.

- load and save round trip of a full group; a load with the include strategy is one round trip;
- two editors change the same goal text: one wins, the other gets a Conflict with both versions;
- two editors add a goal at the same time: both goals end up in the plan;
- a save with a fault at each single request in turn: after replay exactly one copy of everything.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from fhir_mappings.codes import (
    IDENTIFIER_SYSTEM,
    SAVE_KEY_SYSTEM,
    AgreementStatus,
    GoalTerm,
    InterviewVisibility,
    LifeArea,
    MeetingRole,
    Section,
)
from fhir_mappings.model import AgendaItem, ResourceGroup, Supporter, new_uid
from plugin.sync.capabilities import CapabilityCache, LoadStrategy
from plugin.sync.client import FhirClient, RetryPolicy
from plugin.sync.errors import Conflict
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.repository import Activity, GroupRepository, LoadedGroup
from tests.contract.conftest import Fhir
from tests.support.proxy import Fault, FaultProxy

AMS = ZoneInfo("Europe/Amsterdam")
TODAY = date(2026, 11, 2)
READ_TIMEOUT = 1.0
USER = "Practitioner/contract-rgo"


@pytest.fixture
def proxy(fhir: Fhir) -> Iterator[FaultProxy]:
    parts = urlsplit(fhir.base)
    with FaultProxy(f"{parts.scheme}://{parts.netloc}", hang_seconds=READ_TIMEOUT + 2) as p:
        yield p


@pytest.fixture
def caps() -> CapabilityCache:
    return CapabilityCache()


def repo_for(
    fhir: Fhir, proxy: FaultProxy, caps: CapabilityCache, patient_id: str, tmp_path: Path, *, attempts: int = 4
) -> GroupRepository:
    client = FhirClient(
        proxy.rebase(fhir.base),
        read_timeout=READ_TIMEOUT,
        retry=RetryPolicy(max_attempts=attempts),
        sleep=lambda _s: None,
    )
    return GroupRepository(
        client=client,
        patient_id=patient_id,
        user=USER,
        user_display="Anna de Vries",
        outbox=SqliteOutbox(tmp_path / "outbox.sqlite"),
        capabilities=caps,
    )


def new_patient(fhir: Fhir) -> str:
    return str(fhir.create({"resourceType": "Patient", "name": [{"family": "Contract", "given": ["Repo"]}]})["id"])


def started(repo: GroupRepository) -> LoadedGroup:
    group = ResourceGroup.start_new(
        patient=repo.patient,
        patient_display="Repo Contract",
        regieondersteuner=repo.user,
        regieondersteuner_display="Anna de Vries",
        name="Team Contract",
        today=TODAY,
    )
    saved = repo.start(group, Activity("Resourcegroep gestart", "CREATE"))
    assert saved.saved
    return repo.load()


def count_identifier(fhir: Fhir, rtype: str, uid: str) -> int:
    bundle = fhir.search(f"{rtype}?identifier={IDENTIFIER_SYSTEM}|{uid}")
    return len([e for e in bundle.get("entry", []) if e.get("search", {}).get("mode", "match") == "match"])


def full_story() -> list[tuple[str, Callable[[ResourceGroup], object]]]:
    """Most of a group's story, one user action at a time (as the UI saves it)."""
    ids: dict[str, str] = {}

    def nominate(g: ResourceGroup) -> None:
        uid = ids["mother"] = new_uid()
        g.nominate(
            uid,
            "Ans Contract",
            TODAY,
            Supporter(
                uid,
                "Ans Contract",
                "MTH",
                "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                phone="06-12345678",
                relationship_text="moeder",
            ),
        )

    def member(g: ResourceGroup) -> object:
        return next(m for m in g.members if m.who == ids["mother"])

    def plan_interview(g: ResourceGroup) -> None:
        g.plan_interview(member(g).uid, datetime(2026, 11, 5, 14, 0, tzinfo=AMS))  # type: ignore[attr-defined]

    def record_interview(g: ResourceGroup) -> None:
        g.record_interview(
            member(g).uid,
            datetime(2026, 11, 5, 14, 0, tzinfo=AMS),
            {  # type: ignore[attr-defined]
                Section.VERWACHTINGEN: "Ze wil helpen",
                Section.INZET: "Eens per week bellen",
                Section.RELATIE: "Moeder",
                Section.BIJDRAGE: "Rust brengen",
            },
            visibility=InterviewVisibility.SHARED,
        )

    def admit(g: ResourceGroup) -> None:
        g.admit(member(g).uid, TODAY)  # type: ignore[attr-defined]

    def goals(g: ResourceGroup) -> None:
        long = g.add_goal("Ik wil weer zelfstandig wonen", GoalTerm.LANG, TODAY, LifeArea.WONEN)
        ids["long"] = long.uid
        ids["short"] = g.add_goal("Elke week boodschappen doen", GoalTerm.KORT, TODAY, parent_uid=long.uid).uid

    def agreement(g: ResourceGroup) -> None:
        ids["agreement"] = g.add_agreement(
            "Ans belt op maandag", TODAY, owner=ids["mother"], goal_uid=ids["short"], due=TODAY + timedelta(days=30)
        ).uid

    def meeting(g: ResourceGroup) -> None:
        place = g.add_place("Buurthuis De Linde", "Lindelaan 1, Utrecht")
        m = g.plan_meeting(datetime(2026, 11, 20, 10, 0, tzinfo=AMS), place_uid=place.uid)
        ids["meeting"] = m.uid
        g.assign_role(m.uid, ids["mother"], MeetingRole.VOORZITTER)

    def agenda(g: ResourceGroup) -> None:
        g.set_agenda(ids["meeting"], [AgendaItem(goal_uid=ids["long"]), AgendaItem("Rondvraag")], ready=True)

    def report(g: ResourceGroup) -> None:
        g.write_report(
            ids["meeting"],
            sections={Section.SAMENVATTING: "Goed gesprek"},
            attended=[ids["mother"]],
            goals_discussed=[ids["long"]],
            new_agreements=[ids["agreement"]],
            written=datetime(2026, 11, 20, 11, 30, tzinfo=AMS),
        )
        g.score_progress(ids["long"], 6, datetime(2026, 11, 20, 11, 0, tzinfo=AMS), ids["meeting"], "Stap gezet")

    def agreement_status(g: ResourceGroup) -> None:
        g.edit_agreement(
            ids["agreement"],
            description="Ans belt op maandag",
            owner=ids["mother"],
            goal_uid=ids["short"],
            due=TODAY + timedelta(days=30),
            status=AgreementStatus.IN_PROGRESS,
        )

    return [
        ("nomineren", nominate),
        ("gesprek plannen", plan_interview),
        ("gesprek vastleggen", record_interview),
        ("lid maken", admit),
        ("doelen", goals),
        ("afspraak", agreement),
        ("bijeenkomst", meeting),
        ("agenda", agenda),
        ("verslag", report),
        ("afspraak bijgewerkt", agreement_status),
    ]


def test_full_group_round_trip_and_load_in_one_round_trip(
    fhir: Fhir, proxy: FaultProxy, caps: CapabilityCache, tmp_path: Path
) -> None:
    repo = repo_for(fhir, proxy, caps, new_patient(fhir), tmp_path)
    loaded = started(repo)
    for activity, action in full_story():
        saved = repo.save(loaded, action, activity)
        assert saved.saved and saved.rounds == 1, activity
        assert saved.result is not None and saved.result.provenance is not None
        loaded = repo.load()

    proxy.reset()
    again = repo.load()
    assert again.strategy is LoadStrategy.INCLUDE
    assert proxy.count == 1, [s.path for s in proxy.seen]
    assert again.round_trips == 1
    assert again.group is not None
    if fhir.name == "sandbox":
        assert again.group == saved.group
    else:
        # Medplum runs _include:iterate before _revinclude: the place is known by reference and name only.
        expected, got = copy.deepcopy(saved.group), copy.deepcopy(again.group)
        assert [p.name for p in got.places] == [p.name for p in expected.places]
        got.places, expected.places = [], []
        assert got == expected

    # Saving the loaded group unchanged sends nothing.
    proxy.reset()
    nothing = repo.save(again, lambda g: None, "niets")
    assert not nothing.changed and proxy.count == 0


def test_every_save_writes_one_provenance_naming_the_user(
    fhir: Fhir, proxy: FaultProxy, caps: CapabilityCache, tmp_path: Path
) -> None:
    repo = repo_for(fhir, proxy, caps, new_patient(fhir), tmp_path)
    loaded = started(repo)
    saved = repo.save(loaded, lambda g: g.add_goal("Weer sporten", GoalTerm.LANG, TODAY), "Doel toegevoegd")
    assert saved.result is not None and saved.result.provenance is not None
    prov = fhir.get(saved.result.provenance.reference).json()
    assert prov["agent"][0]["who"]["reference"] == USER
    assert prov["activity"]["text"] == "Doel toegevoegd"
    assert prov["meta"]["tag"][0]["system"] == SAVE_KEY_SYSTEM
    targets = {t["reference"].split("/_history")[0] for t in prov["target"]}
    assert saved.result.resolve(f"urn:uuid:{saved.value.uid}") in targets
    assert f"CarePlan/{loaded.plans[0]['id']}" in targets


def test_two_editors_change_the_same_goal_text(
    fhir: Fhir, proxy: FaultProxy, caps: CapabilityCache, tmp_path: Path
) -> None:
    pid = new_patient(fhir)
    repo = repo_for(fhir, proxy, caps, pid, tmp_path)
    loaded = started(repo)
    goal_uid = repo.save(loaded, lambda g: g.add_goal("Weer werken", GoalTerm.LANG, TODAY), "doel").value.uid
    editor_a, editor_b = repo.load(), repo.load()

    def edit(text: str) -> Callable[[ResourceGroup], object]:
        return lambda g: g.edit_goal(goal_uid, text=text, term=GoalTerm.LANG, life_area=None, due=None, parent_uid=None)

    assert repo.save(editor_a, edit("Weer werken, drie dagen per week"), "doel gewijzigd").saved
    with pytest.raises(Conflict) as caught:
        repo.save(editor_b, edit("Vrijwilligerswerk doen"), "doel gewijzigd")
    assert caught.value.mine["description"]["text"] == "Vrijwilligerswerk doen"
    assert caught.value.theirs["description"]["text"] == "Weer werken, drie dagen per week"
    final = repo.load()
    assert final.group is not None
    assert final.group.goal(goal_uid).text == "Weer werken, drie dagen per week"


def test_two_editors_add_a_goal_at_the_same_time(
    fhir: Fhir, proxy: FaultProxy, caps: CapabilityCache, tmp_path: Path
) -> None:
    repo = repo_for(fhir, proxy, caps, new_patient(fhir), tmp_path)
    loaded = started(repo)
    editor_a, editor_b = repo.load(), repo.load()
    first = repo.save(editor_a, lambda g: g.add_goal("Weer fietsen", GoalTerm.LANG, TODAY), "doel")
    second = repo.save(editor_b, lambda g: g.add_goal("Vrienden zien", GoalTerm.LANG, TODAY), "doel")
    assert first.saved and second.saved
    assert second.rounds == 2  # the plan's version moved: re-read, re-applied
    final = repo.load()
    assert final.group is not None
    assert sorted(g.text for g in final.group.goals) == ["Vrienden zien", "Weer fietsen"]
    plan = final.plans[0]
    assert len(plan["goal"]) == 2
    assert loaded.group is not None


FAULTS = (Fault.DROP, Fault.STATUS_503, Fault.TIMEOUT_AFTER_COMMIT)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.value)
def test_a_fault_at_each_request_of_a_save_leaves_exactly_one_copy(
    fhir: Fhir, proxy: FaultProxy, caps: CapabilityCache, tmp_path: Path, fault: Fault
) -> None:
    """The save runs into a version conflict first, so it makes several requests: each one gets the fault in turn.

    Without a fault the save is: transaction (412) -> Provenance search (was it ours?) -> re-load -> transaction.
    One attempt per request, so no retry hides the fault and the outbox path is taken.
    """
    clean = repo_for(fhir, proxy, caps, new_patient(fhir), tmp_path / "probe", attempts=1)
    _race(clean, proxy, fault_at=None)
    requests_of_a_save = proxy.count
    assert requests_of_a_save == 4, [f"{s.method} {s.path}" for s in proxy.seen]
    for index in range(requests_of_a_save):
        repo = repo_for(fhir, proxy, caps, new_patient(fhir), tmp_path / f"case{index}", attempts=1)
        mine, theirs = _race(repo, proxy, fault_at=(index, fault))
        recovered = repo_for(fhir, proxy, caps, repo.patient_id, tmp_path / f"case{index}")  # same outbox file
        for _ in range(3):
            if recovered.replay_waiting():
                break
        assert not recovered.waiting(), f"fault {fault.value} at request {index}: still waiting"
        assert not recovered.failed(), f"fault {fault.value} at request {index}: {recovered.failed()[0].last_error}"
        final = recovered.load()
        assert final.group is not None
        texts = sorted(g.text for g in final.group.goals)
        assert texts == sorted([mine, theirs]), f"fault {fault.value} at request {index}: {texts}"
        assert [a.description for a in final.group.agreements] == ["Samen een recept kiezen"]
        for goal in final.group.goals:
            assert count_identifier(fhir, "Goal", goal.uid) == 1
        assert count_identifier(fhir, "Task", final.group.agreements[0].uid) == 1
        plan = final.plans[0]
        assert len(plan["goal"]) == 2 and len(plan["activity"]) == 1
        tags = fhir.search(f"Provenance?target={plan['resourceType']}/{plan['id']}")
        assert len(tags.get("entry", [])) == 3  # start, the other editor, this save: each exactly once


def _race(repo: GroupRepository, proxy: FaultProxy, fault_at: tuple[int, Fault] | None) -> tuple[str, str]:
    """Editor A loads; editor B adds a goal; A saves a goal + agreement (stale plan version) with a fault."""
    loaded = started(repo)
    other = repo_for_same(repo)
    other_loaded = other.load()
    assert other.save(other_loaded, lambda g: g.add_goal("Vrienden zien", GoalTerm.LANG, TODAY), "doel").saved

    def action(g: ResourceGroup) -> None:
        goal = g.add_goal("Weer koken voor vrienden", GoalTerm.LANG, TODAY, LifeArea.WONEN)
        g.add_agreement("Samen een recept kiezen", TODAY, goal_uid=goal.uid)

    proxy.reset()
    if fault_at is not None:
        proxy.inject(*fault_at)
    saved = repo.save(loaded, action, "Doel en afspraak")
    assert saved.saved or saved.waiting
    return "Weer koken voor vrienden", "Vrienden zien"


def repo_for_same(repo: GroupRepository) -> GroupRepository:
    """Another editor on the same patient and server, with a client that retries."""
    client = FhirClient(repo.client.base_url, read_timeout=READ_TIMEOUT, sleep=lambda _s: None)
    return GroupRepository(
        client=client,
        patient_id=repo.patient_id,
        user="Practitioner/contract-other",
        outbox=repo.outbox,
        capabilities=repo.capabilities,
    )
