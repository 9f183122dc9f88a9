"""The caseload on both servers: 1,000 patients with groups in varied states, read in at most 2 round trips.

Groups are built with the domain (`ResourceGroup`) and written with the mapping (`group_to_fhir`),
so the test reads exactly what the product writes. Patients and practitioners go in one batch of
PUTs (Medplum allows at most 50 updates in a transaction, none in a batch); the groups go in a few
large transaction Bundles of creates. The seeding time is printed (`-s`) and measured in
`bench/bench_caseload.py`; it is not asserted.

Every tenth patient has one of ten group kinds (patient i has kind i % 10), so the expected facts
are known per patient without reading anything back.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from fhir_mappings.codes import (
    CS_ARTIFACT,
    CS_MEMBER_ROLE,
    IDENTIFIER_SYSTEM,
    AgreementStatus,
    Artifact,
    GroupStatus,
    InterviewVisibility,
    MeetingStatus,
    MemberRole,
    NominationState,
    Section,
)
from fhir_mappings.model import CLINIC_ZONE, ResourceGroup
from fhir_mappings.profiles import MappingMode
from fhir_mappings.refs import URN_UUID
from fhir_mappings.to_fhir import group_to_fhir
from plugin.sync.caseload import Caseload, CaseloadRow, PractitionerRoles, load_caseload
from plugin.sync.client import FhirClient, RetryPolicy
from tests.contract.conftest import Fhir
from tests.support.proxy import FaultProxy

pytestmark = pytest.mark.integration

PATIENTS = 1000
GROUPS_PER_TRANSACTION = 250
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=CLINIC_ZONE)
TODAY = NOW.date()
START = TODAY - timedelta(days=400)

# What each kind of group shows in the caseload (kinds "left" has no row at all).
KINDS = ("due", "planned", "recent", "ended", "on-hold", "nominees", "past-booked", "agreements", "left", "member")
DUE_KINDS = {"due", "past-booked"}
# Teams not ended that list the practitioner, as a participant now or before: 900 of the patients plus the rogue one.
OPEN_TEAMS_LISTING = PATIENTS - PATIENTS // len(KINDS) + 1


@dataclass
class Seeded:
    """What was written for one practitioner's caseload."""

    run: str
    practitioner: str
    other_practitioner: str
    patients: list[str]
    seconds: float = 0.0
    resources: int = 0
    rogue: dict[str, str] = field(default_factory=dict)

    def kind(self, index: int) -> str:
        return KINDS[index % len(KINDS)]


def _patient_id(run: str, index: int) -> str:
    return f"cl-{run}-p{index:04d}"


def patient_name(index: int) -> str:
    return f"P{index:04d} Jansen"


def build_group(index: int, patient: str, practitioner: str, other: str) -> ResourceGroup:
    """The group of patient `index`, in the state its kind asks for (see KINDS)."""
    kind = KINDS[index % len(KINDS)]
    lead, lead_name = (other, "Dr. Ander") if kind in ("left", "member") else (practitioner, "Dr. Caseload")
    group = ResourceGroup.start_new(
        patient=patient,
        patient_display=patient_name(index),
        regieondersteuner=lead,
        regieondersteuner_display=lead_name,
        name=f"Resourcegroep {index:04d}",
        today=START,
    )

    def held(days_ago: int) -> None:
        meeting = group.plan_meeting(NOW - timedelta(days=days_ago))
        group.set_meeting_status(meeting.uid, MeetingStatus.FULFILLED, TODAY)

    if kind == "due":
        held(150)
    elif kind == "planned":
        held(150)
        booked = group.plan_meeting(NOW + timedelta(days=20))
        group.set_meeting_status(booked.uid, MeetingStatus.BOOKED, TODAY)
    elif kind == "recent":
        held(30)
    elif kind == "ended":
        held(200)
        group.change_status(GroupStatus.ENDED, TODAY - timedelta(days=10))
    elif kind == "on-hold":
        held(200)
        group.change_status(GroupStatus.ON_HOLD, TODAY - timedelta(days=10))
    elif kind == "nominees":
        group.nominate(f"Practitioner/cl-nominee-a-{index}", "Nominee A", TODAY)
        b = group.nominate(f"Practitioner/cl-nominee-b-{index}", "Nominee B", TODAY)
        group.plan_interview(b.uid, NOW + timedelta(days=7))
        c = group.nominate(f"Practitioner/cl-nominee-c-{index}", "Nominee C", TODAY)
        group.decline(c.uid, TODAY)
    elif kind == "past-booked":
        held(120)
        missed = group.plan_meeting(NOW - timedelta(days=10))
        group.set_meeting_status(missed.uid, MeetingStatus.BOOKED, TODAY)
    elif kind == "agreements":
        held(30)
        group.add_agreement("Te laat", START, due=TODAY - timedelta(days=3))
        later = group.add_agreement("Nog niet", START, due=TODAY + timedelta(days=5))
        done = group.add_agreement("Gedaan", START, due=TODAY - timedelta(days=10))
        for agreement, status in ((later, AgreementStatus.ACCEPTED), (done, AgreementStatus.COMPLETED)):
            group.edit_agreement(
                agreement.uid,
                description=agreement.description,
                owner=None,
                goal_uid=None,
                due=agreement.due,
                status=status,
            )
    elif kind == "left":
        nominee = group.nominate(practitioner, "Dr. Caseload", TODAY - timedelta(days=20))
        group.decline(nominee.uid, TODAY - timedelta(days=5))
    elif kind == "member":
        nominee = group.nominate(practitioner, "Dr. Caseload", TODAY - timedelta(days=20))
        group.record_interview(
            nominee.uid, NOW - timedelta(days=10), {Section.INZET: "Elke maand"}, visibility=InterviewVisibility.SHARED
        )
        group.admit(nominee.uid, TODAY - timedelta(days=9))
        group.set_core(nominee.uid, True)
    return group


def _entries(group: ResourceGroup) -> list[dict[str, Any]]:
    return [
        {
            "fullUrl": URN_UUID + w.uid,
            "resource": w.resource,
            "request": {"method": "POST", "url": w.resource["resourceType"]},
        }
        for w in group_to_fhir(group)
    ]


def _post(fhir: Fhir, kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    r = fhir.session.post(
        fhir.base,
        data=json.dumps({"resourceType": "Bundle", "type": kind, "entry": entries}, separators=(",", ":")),
        headers={"Content-Type": "application/fhir+json"},
        timeout=300,
    )
    assert r.status_code == 200, r.text[:2000]
    answer: dict[str, Any] = r.json()
    bad = [e["response"] for e in answer["entry"] if not str(e["response"]["status"]).startswith("20")]
    assert not bad, bad[:3]
    return answer


def _location(entry: dict[str, Any]) -> str:
    return "/".join(str(entry["response"]["location"]).split("/_history/")[0].split("/")[-2:])


def seed_caseload(fhir: Fhir, patients: int = PATIENTS, per_transaction: int = GROUPS_PER_TRANSACTION) -> Seeded:
    """Write `patients` patients with one group each, plus two inconsistent resources; timed."""
    run = uuid.uuid4().hex[:10]
    seeded = Seeded(
        run=run,
        practitioner=f"Practitioner/cl-{run}-dr",
        other_practitioner=f"Practitioner/cl-{run}-other",
        patients=[f"Patient/{_patient_id(run, i)}" for i in range(patients)],
    )
    started = time.perf_counter()
    people = [
        {
            "resource": {
                "resourceType": "Patient",
                "id": _patient_id(run, i),
                "name": [{"family": "Jansen", "given": [f"P{i:04d}"]}],
            },
            "request": {"method": "PUT", "url": f"Patient/{_patient_id(run, i)}"},
        }
        for i in range(patients)
    ]
    for ref, name in ((seeded.practitioner, "Caseload"), (seeded.other_practitioner, "Ander")):
        rid = ref.split("/", 1)[1]
        people.append(
            {
                "resource": {"resourceType": "Practitioner", "id": rid, "name": [{"family": name}]},
                "request": {"method": "PUT", "url": ref},
            }
        )
    _post(fhir, "batch", people)
    seeded.resources += len(people)
    plans: dict[int, str] = {}
    for first in range(0, patients, per_transaction):
        entries: list[dict[str, Any]] = []
        plan_urns: dict[str, int] = {}
        for i in range(first, min(patients, first + per_transaction)):
            group = build_group(i, seeded.patients[i], seeded.practitioner, seeded.other_practitioner)
            plan_urns[URN_UUID + group.plan_uid] = i
            entries += _entries(group)
        answer = _post(fhir, "transaction", entries)
        seeded.resources += len(entries)
        for sent, got in zip(entries, answer["entry"], strict=True):
            if sent["fullUrl"] in plan_urns:
                plans[plan_urns[sent["fullUrl"]]] = _location(got)
    # Two resources that break the compartment: a product team for patient 0 that also names patient 1,
    # and a meeting on patient 2's plan that names patient 3.
    team_code = {"coding": [{"system": CS_ARTIFACT, "code": Artifact.TEAM.value}]}
    rogue = _post(
        fhir,
        "transaction",
        [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "CareTeam",
                    "status": "active",
                    "identifier": [{"system": IDENTIFIER_SYSTEM, "value": str(uuid.uuid4())}],
                    "category": [team_code],
                    "name": "Verkeerd team",
                    "subject": {"reference": seeded.patients[0]},
                    "participant": [
                        {
                            "member": {"reference": seeded.practitioner},
                            "role": [{"coding": [{"system": CS_MEMBER_ROLE, "code": "regieondersteuner"}]}],
                        },
                        {"member": {"reference": seeded.patients[1]}},
                    ],
                },
                "request": {"method": "POST", "url": "CareTeam"},
            },
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "Appointment",
                    "status": "booked",
                    "serviceType": [{"coding": [{"system": CS_ARTIFACT, "code": Artifact.MEETING.value}]}],
                    "start": (NOW + timedelta(days=3)).isoformat(),
                    "end": (NOW + timedelta(days=3, hours=1)).isoformat(),
                    "supportingInformation": [{"reference": plans[2]}],
                    "participant": [{"actor": {"reference": seeded.patients[3]}, "status": "accepted"}],
                },
                "request": {"method": "POST", "url": "Appointment"},
            },
        ],
    )
    seeded.rogue = {"team": _location(rogue["entry"][0]), "meeting": _location(rogue["entry"][1])}
    seeded.resources += 2
    seeded.seconds = time.perf_counter() - started
    return seeded


def caseload_client(base: str) -> FhirClient:
    """A client with a read timeout that suits a 1,000-group search on the (linear-scan) Medplum engine."""
    return FhirClient(base, read_timeout=120.0, retry=RetryPolicy(max_attempts=1))


def _upstream(base: str) -> str:
    scheme, rest = base.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


@pytest.fixture(scope="module")
def seeded(fhir: Fhir) -> Seeded:
    result = seed_caseload(fhir)
    print(f"\n[{fhir.name}] seeded {PATIENTS} patients ({result.resources} resources) in {result.seconds:.1f} s")
    return result


@pytest.fixture(scope="module")
def counted(fhir: Fhir, seeded: Seeded) -> tuple[Caseload, int]:
    """The default caseload, read through the counting proxy: (caseload, requests the proxy saw)."""
    with FaultProxy(_upstream(fhir.base)) as proxy:
        client = caseload_client(proxy.rebase(fhir.base))
        started = time.perf_counter()
        caseload = load_caseload(client, seeded.practitioner, now=NOW)
        print(
            f"[{fhir.name}] caseload of {len(caseload)} rows in {time.perf_counter() - started:.2f} s, "
            f"{proxy.count} round trips"
        )
        return caseload, proxy.count


def _rows_by_patient(caseload: Caseload) -> dict[str, list[CaseloadRow]]:
    rows: dict[str, list[CaseloadRow]] = {}
    for row in caseload.rows:
        rows.setdefault(row.patient, []).append(row)
    return rows


def test_the_caseload_of_1000_patients_takes_at_most_two_round_trips(counted: tuple[Caseload, int]) -> None:
    caseload, requests_seen = counted
    assert requests_seen <= 2
    assert caseload.round_trips == requests_seen
    assert not caseload.degraded


def test_one_row_per_group_the_practitioner_takes_part_in(seeded: Seeded, counted: tuple[Caseload, int]) -> None:
    caseload, _ = counted
    rows = _rows_by_patient(caseload)
    expected = {p for i, p in enumerate(seeded.patients) if seeded.kind(i) not in ("ended", "left")}
    assert set(rows) == expected
    assert all(len(r) == 1 for r in rows.values())
    assert len(caseload) == len(expected) == 800


def test_names_statuses_and_roles(seeded: Seeded, counted: tuple[Caseload, int]) -> None:
    rows = _rows_by_patient(counted[0])
    for i in (0, 4, 5, 9, 10, 994, 999):
        row = rows[seeded.patients[i]][0]
        assert row.patient_name == patient_name(i)
        assert row.group_name == f"Resourcegroep {i:04d}"
        assert row.team.startswith("CareTeam/") and row.plan is not None and row.plan.startswith("CarePlan/")
    assert rows[seeded.patients[0]][0].group_status is GroupStatus.ACTIVE
    assert rows[seeded.patients[4]][0].group_status is GroupStatus.ON_HOLD
    assert rows[seeded.patients[5]][0].group_status is GroupStatus.FORMING
    lead = rows[seeded.patients[0]][0]
    assert lead.roles == {MemberRole.REGIEONDERSTEUNER} and lead.core
    member = rows[seeded.patients[9]][0]
    assert member.roles == {MemberRole.LID} and member.core


def test_meeting_facts_per_kind(seeded: Seeded, counted: tuple[Caseload, int]) -> None:
    rows = _rows_by_patient(counted[0])
    for i, patient in enumerate(seeded.patients):
        kind = seeded.kind(i)
        if kind in ("ended", "left"):
            continue
        row = rows[patient][0]
        assert row.meeting_due is (kind in DUE_KINDS), (i, kind)
        # Patient 2 ("recent") also has the rogue meeting in three days: skipped, so nothing is planned.
        expected_next = NOW + timedelta(days=20) if kind == "planned" else None
        assert row.next_meeting == expected_next, (i, kind)
        held_days = {"due": 150, "planned": 150, "recent": 30, "on-hold": 200, "past-booked": 120, "agreements": 30}
        expected_last = NOW - timedelta(days=held_days[kind]) if kind in held_days else None
        assert row.last_held_meeting == expected_last, (i, kind)


def test_open_interviews_and_overdue_agreements(seeded: Seeded, counted: tuple[Caseload, int]) -> None:
    rows = _rows_by_patient(counted[0])
    for i, patient in enumerate(seeded.patients):
        kind = seeded.kind(i)
        if kind in ("ended", "left"):
            continue
        row = rows[patient][0]
        if kind == "nominees":
            assert [(o.display, o.state, o.planned_start) for o in row.open_interviews] == [
                ("Nominee A", NominationState.GENOMINEERD, None),
                ("Nominee B", NominationState.GESPREK_GEPLAND, NOW + timedelta(days=7)),
            ], i
        else:
            assert row.open_interviews == (), (i, kind)
        if kind == "agreements":
            assert [(a.description, a.due) for a in row.overdue_agreements] == [("Te laat", TODAY - timedelta(days=3))]
            assert row.overdue_agreements[0].task.startswith("Task/")
        else:
            assert row.overdue_agreements == (), (i, kind)
        assert row.needs_attention is (kind in DUE_KINDS | {"nominees", "agreements"}), (i, kind)


def test_inconsistent_resources_are_skipped_never_shown(seeded: Seeded, counted: tuple[Caseload, int]) -> None:
    caseload, _ = counted
    assert seeded.rogue["team"] in caseload.skipped
    assert seeded.rogue["meeting"] in caseload.skipped
    assert seeded.rogue["team"] not in {r.team for r in caseload.rows}
    assert seeded.patients[1] not in {r.patient for r in caseload.rows if r.team == seeded.rogue["team"]}


def test_ended_groups_when_asked_for_and_a_full_page_is_followed(fhir: Fhir, seeded: Seeded) -> None:
    # Straight to the server: the sandbox fixture writes absolute next links for its own port, not the proxy's.
    caseload = load_caseload(caseload_client(fhir.base), seeded.practitioner, now=NOW, include_ended=True)
    # 1,000 teams of the patients plus the rogue team: one more than a page, so exactly one more page.
    assert caseload.round_trips == 3
    rows = _rows_by_patient(caseload)
    assert len(caseload) == 900
    ended = rows[seeded.patients[3]][0]
    assert ended.group_status is GroupStatus.ENDED
    assert ended.meeting_due is False and ended.last_held_meeting == NOW - timedelta(days=200)


def test_small_pages_are_followed_and_give_the_same_caseload(
    fhir: Fhir, seeded: Seeded, counted: tuple[Caseload, int]
) -> None:
    client = caseload_client(fhir.base)
    paged = load_caseload(client, seeded.practitioner, now=NOW, page_size=300)
    assert paged.rows == counted[0].rows
    # Every team that lists the practitioner (left ones too) in pages of 300, then one batch of 3 plan searches.
    assert paged.round_trips == math.ceil(OPEN_TEAMS_LISTING / 300) + 1
    assert set(paged.skipped) == set(counted[0].skipped)


def test_a_practitioner_role_finds_its_practitioners_groups_and_today_decides_what_is_overdue(
    fhir: Fhir, seeded: Seeded
) -> None:
    role = {
        "resourceType": "PractitionerRole",
        "id": f"cl-{seeded.run}-role",
        "practitioner": {"reference": seeded.practitioner},
    }
    later = NOW + timedelta(days=6)  # the accepted agreement (due in 5 days) is overdue by then
    caseload = load_caseload(caseload_client(fhir.base), role, now=later)
    assert caseload.practitioner == (f"PractitionerRole/cl-{seeded.run}-role", seeded.practitioner)
    assert len(caseload) == 800
    row = _rows_by_patient(caseload)[seeded.patients[7]][0]
    assert [(a.description, a.due) for a in row.overdue_agreements] == [
        ("Te laat", TODAY - timedelta(days=3)),
        ("Nog niet", TODAY + timedelta(days=5)),
    ]


def test_an_unknown_practitioner_has_an_empty_caseload_in_one_round_trip(fhir: Fhir, seeded: Seeded) -> None:
    caseload = load_caseload(caseload_client(fhir.base), f"Practitioner/cl-{seeded.run}-nobody", now=NOW)
    assert caseload.rows == () and caseload.round_trips == 1


def test_a_team_that_lists_one_of_the_practitioners_roles_is_in_their_caseload(fhir: Fhir) -> None:
    """The team lists the regieondersteuner by a PractitionerRole, the launch names the Practitioner: with the
    roles looked up (the caseload page does) the group is in the caseload, in one more round trip the first
    time; without, it is not."""
    run = uuid.uuid4().hex[:8]
    practitioner = fhir.create({"resourceType": "Practitioner", "name": [{"family": f"Rol {run}"}]})
    lead = f"Practitioner/{practitioner['id']}"
    role = fhir.create({"resourceType": "PractitionerRole", "active": True, "practitioner": {"reference": lead}})
    patient = fhir.create({"resourceType": "Patient", "name": [{"family": f"Rol {run}"}]})
    group = ResourceGroup.start_new(
        patient=f"Patient/{patient['id']}",
        patient_display=f"Rol {run}",
        regieondersteuner=f"PractitionerRole/{role['id']}",
        regieondersteuner_display="Dr. Rol",
        name=f"Groep rol {run}",
        today=START,
    )
    entries = [
        {
            "fullUrl": URN_UUID + w.uid,
            "resource": w.resource,
            "request": {"method": "POST", "url": w.resource["resourceType"]},
        }
        for w in group_to_fhir(group)
    ]
    _post(fhir, "transaction", entries)

    assert load_caseload(caseload_client(fhir.base), lead, now=NOW).rows == ()
    roles = PractitionerRoles()
    found = load_caseload(caseload_client(fhir.base), lead, roles=roles, now=NOW)
    assert [(r.group_name, r.roles) for r in found.rows] == [
        (f"Groep rol {run}", frozenset({MemberRole.REGIEONDERSTEUNER}))
    ]
    assert found.practitioner == (lead, f"PractitionerRole/{role['id']}") and found.round_trips == 3
    assert load_caseload(caseload_client(fhir.base), lead, roles=roles, now=NOW).round_trips == 2


def test_a_kt2_mode_group_is_in_the_caseload_too(fhir: Fhir) -> None:
    """A Koppeltaal domain's team has no category (KT2CareTeam forbids it): the caseload finds it by the product's
    identifier, next to an nl-core-mode group of the same practitioner."""
    run = uuid.uuid4().hex[:8]
    practitioner = fhir.create({"resourceType": "Practitioner", "name": [{"family": f"KT2 {run}"}]})
    lead = f"Practitioner/{practitioner['id']}"
    entries = []
    for mode in (MappingMode.NL_CORE, MappingMode.KT2):
        patient = fhir.create({"resourceType": "Patient", "name": [{"family": f"{mode.value} {run}"}]})
        group = ResourceGroup.start_new(
            patient=f"Patient/{patient['id']}",
            patient_display=f"{mode.value} {run}",
            regieondersteuner=lead,
            regieondersteuner_display="Dr. KT2",
            name=f"Groep {mode.value}",
            today=START,
        )
        entries += [
            {
                "fullUrl": URN_UUID + w.uid,
                "resource": w.resource,
                "request": {"method": "POST", "url": w.resource["resourceType"]},
            }
            for w in group_to_fhir(group, mode=mode)
        ]
    _post(fhir, "transaction", entries)
    caseload = load_caseload(caseload_client(fhir.base), lead, now=NOW)
    assert sorted(row.group_name for row in caseload.rows) == ["Groep kt2", "Groep nl-core"]
