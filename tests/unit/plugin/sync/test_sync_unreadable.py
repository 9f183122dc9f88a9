"""A bad resource never locks a group: the repository loads around it, never rewrites it, and can cancel it.

The locked group of issue 12: a meeting stored with start 02:30+01:00 and end 03:30+02:00 (inside the spring
daylight-saving gap), one with its end before its start, one with a time without a zone, and a Goal with a code
the app does not know. The group loads; other saves (a new goal, cancelling another meeting) go through and touch
only what they change; the unreadable meeting is cancelled by its status alone, with a Provenance.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import responses

from fhir_mappings.codes import Artifact, GoalTerm, MeetingStatus
from fhir_mappings.errors import DomainError
from fhir_mappings.from_fhir import group_from_fhir, is_artifact
from fhir_mappings.model import ResourceGroup
from fhir_mappings.rights import NotAllowed
from plugin.services.record import CANCEL_TEXT, cancel_unreadable
from plugin.services.uow import MemoryUnitOfWork
from plugin.sync.errors import JsonDict
from plugin.sync.repository import Activity, GroupRepository, LoadedGroup, LoadStrategy
from tests.unit.fhir_mappings.factory import CLINICIAN, PATIENT, TODAY, full_group
from tests.unit.plugin.sync.test_sync_repository import BASE, make_repo, searchset, served, transaction_ok


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def key(res: JsonDict) -> str:
    return f"{res['resourceType']}/{res['id']}"


def is_meeting(res: JsonDict) -> bool:
    return res["resourceType"] == "Appointment" and is_artifact(res, Artifact.MEETING, "serviceType")


def locked_record() -> tuple[list[JsonDict], dict[str, JsonDict]]:
    """full_group() as a server holds it, plus what made the group of the issue unusable."""
    group = full_group()
    group.plan_meeting(*group.propose_next_meeting_time(group.meetings[-1].start))  # a second planned meeting
    resources = served(group)
    meetings = [r for r in resources if is_meeting(r) and r["status"] in ("proposed", "booked")]
    assert len(meetings) >= 2
    dst, other = meetings[0], meetings[1]
    # Written by the old version: the wall clock 02:30-03:30 on the spring change, as two different offsets.
    dst.update(start="2027-03-28T02:30:00+01:00", end="2027-03-28T03:30:00+02:00", minutesDuration=0)
    backwards = copy.deepcopy(dst)
    backwards.update(id="backwards", start="2027-04-10T15:00:00+02:00", end="2027-04-10T14:00:00+02:00")
    backwards.pop("minutesDuration")
    backwards["identifier"] = [{"system": "https://other.example/id", "value": "backwards"}]
    zoneless = copy.deepcopy(dst)
    zoneless.update(id="zoneless", start="2027-05-01T10:00:00", end="2027-05-01T11:00:00")
    zoneless["identifier"] = [{"system": "https://other.example/id", "value": "zoneless"}]
    goal = next(r for r in resources if r["resourceType"] == "Goal")
    goal["lifecycleStatus"] = "on-ice"  # another system's code
    goal["extension"] = [{"url": "https://other.example/ext", "valueString": "kept as it is"}]
    resources += [backwards, zoneless]
    return resources, {"dst": dst, "other": other, "backwards": backwards, "zoneless": zoneless, "goal": goal}


def sent(rsps: responses.RequestsMock) -> list[JsonDict]:
    """The transactions the repository posted."""
    return [json.loads(c.request.body) for c in rsps.calls if c.request.method == "POST" and c.request.url == BASE]


def entries(bundle: JsonDict) -> dict[str, JsonDict]:
    """method + url (or type for a create) -> entry, without the Provenance."""
    out = {}
    for e in bundle["entry"]:
        res = e["resource"]
        if res["resourceType"] == "Provenance":
            continue
        out[f"{e['request']['method']} {e['request']['url']}"] = e
    return out


def provenance(bundle: JsonDict) -> JsonDict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance")


def load(rsps: responses.RequestsMock, tmp_path: Path, resources: list[JsonDict]) -> tuple[GroupRepository, Any]:
    rsps.get(f"{BASE}/CarePlan", json=searchset(resources))
    rsps.add_callback(responses.POST, BASE, callback=transaction_ok)
    repo = make_repo(tmp_path)
    return repo, repo.load()


def test_the_locked_group_of_the_issue_loads(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    resources, bad = locked_record()
    _, loaded = load(rsps, tmp_path, resources)
    group = loaded.group
    assert group is not None
    unreadable = {u.key: u for u in loaded.unreadable}
    # The zoneless meeting and the foreign goal code cannot be read: left out and listed, with a Dutch reason.
    assert set(unreadable) == {key(bad["zoneless"]), key(bad["goal"])}
    assert unreadable[key(bad["zoneless"])].cancellable and unreadable[key(bad["zoneless"])].plans == "meeting"
    assert unreadable[key(bad["zoneless"])].reason == "Een tijdstip in het EPD mist de tijdzone."
    assert not unreadable[key(bad["goal"])].cancellable
    # The DST meeting and the one that ends before it starts are read, each as one hour.
    by_uid = {m.uid: m for m in group.meetings}
    backwards = loaded.index.uid(key(bad["backwards"]))
    assert by_uid[bad["dst"]["id"]].minutes == 60 and by_uid[backwards].minutes == 60
    assert bad["goal"]["id"] not in {g.uid for g in group.goals}


def test_a_new_goal_touches_only_the_plan_and_keeps_the_unreadable_goal(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    resources, bad = locked_record()
    repo, loaded = load(rsps, tmp_path, resources)
    saved = repo.save(loaded, lambda g: g.add_goal("Elke week koken", GoalTerm.KORT, TODAY), "Doel toegevoegd")
    assert saved.saved
    (bundle,) = sent(rsps)
    plan = next(r for r in resources if r["resourceType"] == "CarePlan")
    got = entries(bundle)
    assert set(got) == {"POST Goal", f"PUT CarePlan/{plan['id']}"}  # nothing else is rewritten
    written_plan = got[f"PUT CarePlan/{plan['id']}"]["resource"]
    assert {"reference": key(bad["goal"])} in written_plan["goal"]  # the goal the app cannot read stays listed
    assert [g for g in written_plan["goal"] if g in plan["goal"]] == plan["goal"]  # in its order


def test_cancelling_another_meeting_writes_only_that_meeting(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    resources, bad = locked_record()
    repo, loaded = load(rsps, tmp_path, resources)
    other = bad["other"]["id"]
    saved = repo.save(
        loaded, lambda g: g.set_meeting_status(other, MeetingStatus.CANCELLED, TODAY), "Bijeenkomst afgezegd"
    )
    assert saved.saved
    (bundle,) = sent(rsps)
    got = entries(bundle)
    assert set(got) == {f"PUT Appointment/{other}"}
    assert got[f"PUT Appointment/{other}"]["resource"]["status"] == "cancelled"


def test_cancelling_the_dst_meeting_itself_goes_through(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    resources, bad = locked_record()
    repo, loaded = load(rsps, tmp_path, resources)
    dst = bad["dst"]["id"]
    assert repo.save(loaded, lambda g: g.set_meeting_status(dst, MeetingStatus.CANCELLED, TODAY), "Afgezegd").saved
    written = entries(sent(rsps)[0])[f"PUT Appointment/{dst}"]["resource"]
    assert written["status"] == "cancelled" and written["minutesDuration"] == 60


def test_an_unreadable_meeting_is_cancelled_by_its_status_alone(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    resources, bad = locked_record()
    repo, loaded = load(rsps, tmp_path, resources)
    target = key(bad["zoneless"])
    activity = Activity(CANCEL_TEXT, reason="onleesbaar")
    assert repo.save(loaded, lambda g: g.cancel_unreadable(target), activity).saved
    (bundle,) = sent(rsps)
    got = entries(bundle)
    assert set(got) == {f"PUT {target}"}
    entry = got[f"PUT {target}"]
    assert entry["request"]["ifMatch"] == 'W/"1"'
    expected = {k: v for k, v in bad["zoneless"].items() if k != "meta"}
    assert entry["resource"] == {**expected, "status": "cancelled"}  # its broken times are left exactly as they were
    prov = provenance(bundle)
    assert prov["activity"]["text"] == CANCEL_TEXT
    assert prov["agent"][0]["who"]["reference"] == CLINICIAN
    assert {"reference": target} in prov["target"]


def test_cancel_unreadable_conflict_retries_on_the_fresh_record(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    """Someone else changed the unreadable meeting meanwhile (412): the cancel is applied to the fresh version."""
    resources, _ = locked_record()
    fresh = copy.deepcopy(resources)
    zoneless = next(r for r in fresh if r["id"] == "zoneless")
    zoneless["comment"] = "Door het andere systeem aangepast"
    zoneless["meta"] = {**zoneless["meta"], "versionId": "2"}
    rsps.get(f"{BASE}/CarePlan", json=searchset(resources))
    rsps.get(f"{BASE}/CarePlan", json=searchset(fresh))
    rsps.get(f"{BASE}/Provenance", json=searchset([]))
    rsps.post(BASE, status=412, json={"resourceType": "OperationOutcome", "issue": [{"code": "conflict"}]})
    rsps.add_callback(responses.POST, BASE, callback=transaction_ok)
    repo = make_repo(tmp_path)
    loaded = repo.load()
    saved = repo.save(loaded, lambda g: g.cancel_unreadable("Appointment/zoneless"), CANCEL_TEXT)
    assert saved.saved and saved.rounds == 2
    last = entries(sent(rsps)[-1])["PUT Appointment/zoneless"]
    assert last["request"]["ifMatch"] == 'W/"2"'
    assert (
        last["resource"]["comment"] == "Door het andere systeem aangepast" and last["resource"]["status"] == "cancelled"
    )


# ---------------------------------------------------------------------- the service and its right


def tolerant_group() -> ResourceGroup:
    resources, _ = locked_record()
    group, _ = group_from_fhir(resources, PATIENT, tolerate=lambda what, exc: None)
    return group


@pytest.mark.parametrize("user", [CLINICIAN, "Practitioner/colleague"])
def test_care_professionals_may_cancel_an_unreadable_meeting(user: str) -> None:
    uow = MemoryUnitOfWork(user=user, patient=PATIENT, stored=tolerant_group())
    done = cancel_unreadable(uow, "k1", resource="Appointment/zoneless")
    assert done.saved and uow.commits[0].activity.text == CANCEL_TEXT
    assert uow.stored is not None and next(u for u in uow.stored.unreadable if u.key == "Appointment/zoneless").cancel


def test_the_patient_and_members_may_not_cancel_it() -> None:
    group = tolerant_group()
    member = next(m.who for m in group.members if m.is_member and m.who not in (PATIENT, CLINICIAN))
    for user in (PATIENT, member):
        uow = MemoryUnitOfWork(user=user, patient=PATIENT, stored=copy.deepcopy(group))
        with pytest.raises(NotAllowed):
            cancel_unreadable(uow, "k1", resource="Appointment/zoneless")
        assert uow.commits == []


def test_only_a_listed_unreadable_appointment_can_be_cancelled(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    resources, bad = locked_record()
    _, loaded = load(rsps, tmp_path, resources)
    uow = MemoryUnitOfWork(user=CLINICIAN, patient=PATIENT, stored=loaded.group)
    for target in (key(bad["goal"]), key(bad["dst"]), "Appointment/elsewhere"):
        with pytest.raises(DomainError):
            cancel_unreadable(uow, f"k-{target}", resource=target)
    assert uow.commits == []


def test_a_load_without_anything_unreadable_lists_nothing(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    _, loaded = load(rsps, tmp_path, served(full_group()))
    assert isinstance(loaded, LoadedGroup) and loaded.unreadable == [] and loaded.strategy is LoadStrategy.INCLUDE
