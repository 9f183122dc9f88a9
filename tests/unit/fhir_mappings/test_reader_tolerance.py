"""A bad resource never locks a group: the reader over resources as other systems (or older versions) write them.

Built from a real group's JSON (`full_group()` + `group_to_fhir`, stored as a server would hold it). Hypothesis
breaks one resource of the group (an unknown code, a missing required element, a time without a zone, JSON of
the wrong shape) and adds harmless foreign content anywhere (extensions, codings of other systems, other time
zones). The group still loads, the broken resource is listed as unreadable and left out, everything that does
not hang on it reads as before, and a change to a known part writes nothing of the broken resource and keeps
every reference to it.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_mappings.codes import Artifact, GoalTerm, MeetingStatus
from fhir_mappings.errors import DomainError, MappingError
from fhir_mappings.fhirjson import references
from fhir_mappings.from_fhir import group_from_fhir, is_artifact
from fhir_mappings.model import ResourceGroup
from fhir_mappings.refs import URN_UUID, RefIndex
from fhir_mappings.to_fhir import group_to_fhir
from tests.unit.fhir_mappings.factory import PATIENT, full_group

Json = dict[str, Any]


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite(v, ids) for k, v in value.items()}
        if isinstance(out.get("reference"), str) and out["reference"] in ids:
            out["reference"] = ids[out["reference"]]
        return out
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    return value


def served(group: ResourceGroup) -> list[Json]:
    """The group as a server holds it: ids, versions, placeholders rewritten to Type/id."""
    written = group_to_fhir(group)
    ids = {URN_UUID + w.uid: f"{w.resource['resourceType']}/{w.uid}" for w in written}
    out = []
    for w in written:
        res = _rewrite(copy.deepcopy(w.resource), ids)
        res["id"] = w.uid
        res["meta"] = {"versionId": "1", "lastUpdated": "2026-11-01T10:00:00Z"}
        out.append(res)
    return out


SERVED = served(full_group())
KEYS = [f"{r['resourceType']}/{r['id']}" for r in SERVED]


def key_of(res: Json) -> str:
    return f"{res['resourceType']}/{res['id']}"


def read(resources: list[Json]) -> tuple[ResourceGroup, RefIndex, list[str]]:
    seen: list[str] = []
    group, index = group_from_fhir(copy.deepcopy(resources), PATIENT, tolerate=lambda what, exc: seen.append(what))
    return group, index, seen


REFERENCE, REFERENCE_INDEX, _ = read(SERVED)


def written_by_key(group: ResourceGroup, index: RefIndex) -> dict[str, Json]:
    return {index.ref(w.uid): w.resource for w in group_to_fhir(group, index) if not index.ref(w.uid).startswith("urn")}


REFERENCE_WRITTEN = written_by_key(REFERENCE, REFERENCE_INDEX)

# ---------------------------------------------------------------------- how another system breaks a resource


def _drop(key: str) -> Any:
    def apply(res: Json) -> None:
        res.pop(key, None)

    return apply


def _set(key: str, value: Any) -> Any:
    def apply(res: Json) -> None:
        res[key] = value

    return apply


def _first_participant_status(res: Json) -> None:
    res["participant"][0]["status"] = "maybe-later"


# Breakages that make the resource unreadable for the app, per kind of resource.
BREAKAGES: dict[str, list[tuple[str, Any]]] = {
    "Goal": [
        ("unknown lifecycle code", _set("lifecycleStatus", "on-ice")),
        ("no lifecycleStatus", _drop("lifecycleStatus")),
        ("no description", _drop("description")),
        ("description of the wrong shape", _set("description", "Zelfstandig wonen")),
        ("target of the wrong shape", _set("target", "2027-06-01")),
        ("bad start date", _set("startDate", "1 maart")),
    ],
    "Task": [
        ("unknown status", _set("status", "postponed-forever")),
        ("no status", _drop("status")),
        ("restriction of the wrong shape", _set("restriction", "soon")),
        ("bad authoredOn", _set("authoredOn", "gisteren")),
    ],
    "Appointment/meeting": [
        ("unknown status", _set("status", "moved")),
        ("no start", _drop("start")),
        ("time without a zone", _set("start", "2027-03-28T02:30:00")),
        ("unreadable time", _set("start", "28-03-2027 02:30")),
        ("participants of the wrong shape", _set("participant", "everyone")),
        ("unknown participant status", _first_participant_status),
    ],
    "Appointment/interview": [
        ("time without a zone", _set("start", "2026-03-12T09:30:00")),
        ("unreadable time", _set("start", "morgen")),
    ],
    "Communication": [
        ("no status", _drop("status")),
        ("empty status", _set("status", [])),
    ],
    "Observation": [
        ("no value", _drop("valueInteger")),
        ("value of the wrong shape", _set("valueInteger", "zes")),
        ("no effectiveDateTime", _drop("effectiveDateTime")),
        ("unreadable effectiveDateTime", _set("effectiveDateTime", "april")),
    ],
}


def kind(res: Json) -> str | None:
    rtype = res["resourceType"]
    if rtype == "Appointment":
        if res.get("status") in ("cancelled", "entered-in-error"):
            return None
        return "Appointment/meeting" if is_artifact(res, Artifact.MEETING, "serviceType") else "Appointment/interview"
    return rtype if rtype in BREAKAGES else None


BREAKABLE = [k for k, r in zip(KEYS, SERVED, strict=True) if kind(r) is not None]

# ---------------------------------------------------------------------- harmless foreign content

FOREIGN = "https://other-ehr.example/fhir"
foreign_values = st.one_of(
    st.text(max_size=20).map(lambda t: {"valueString": t}),
    st.integers(-(10**9), 10**9).map(lambda i: {"valueInteger": i}),
    st.booleans().map(lambda b: {"valueBoolean": b}),
    st.just({"valueCoding": {"system": f"{FOREIGN}/cs", "code": "x-1"}}),
)
offsets = st.integers(-12 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
_INSTANTS = {"Appointment": ("start", "end"), "Communication": ("sent",), "Observation": ("effectiveDateTime",)}


@st.composite
def harmless(draw: st.DrawFn, resources: list[Json]) -> None:
    """Change resources the way another system would without making them unreadable."""
    for res in resources:
        if draw(st.booleans()):
            ext = {"url": f"{FOREIGN}/ext/{draw(st.integers(0, 99))}", **draw(foreign_values)}
            res["extension"] = [*(res.get("extension") or []), ext]
        if draw(st.booleans()) and res["resourceType"] in ("Goal", "CareTeam", "CarePlan", "Communication"):
            res["category"] = [*(res.get("category") or []), {"coding": [{"system": f"{FOREIGN}/cat", "code": "z"}]}]
        if draw(st.booleans()):
            for key in _INSTANTS.get(res["resourceType"], ()):
                if isinstance(res.get(key), str):
                    moment = datetime.fromisoformat(res[key].replace("Z", "+00:00"))
                    res[key] = moment.astimezone(draw(offsets)).isoformat()
        if draw(st.booleans()):
            res[f"_{draw(st.sampled_from(['status', 'id']))}"] = {
                "extension": [{"url": f"{FOREIGN}/x", "valueString": "y"}]
            }


@st.composite
def broken_records(draw: st.DrawFn) -> tuple[list[Json], str]:
    """The group's resources with one resource broken (its key returned) and foreign content anywhere."""
    resources = copy.deepcopy(SERVED)
    draw(harmless(resources))
    victim = draw(st.sampled_from(BREAKABLE))
    res = next(r for r in resources if key_of(r) == victim)
    _, breakage = draw(st.sampled_from(BREAKAGES[kind(res) or ""]))
    breakage(res)
    return resources, victim


def hangs_on(res: Json | None, victim: Json, victim_key: str) -> bool:
    """Whether a resource refers to the broken one or the broken one refers to it."""
    if res is None:
        return True
    mine = {r.split("/_history")[0] for r in references(res)}
    theirs = {r.split("/_history")[0] for r in references(victim)}
    return victim_key in mine or key_of(res) in theirs


# ---------------------------------------------------------------------- the properties


def test_the_reference_group_reads_completely() -> None:
    group, _, seen = read(SERVED)
    assert seen == [] and group.unreadable == [] and group == REFERENCE
    assert len(BREAKABLE) >= 15, BREAKABLE  # goals, tasks, meetings, interviews, communications, scores


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_harmless_foreign_content_reads_the_same(data: st.DataObject) -> None:
    resources = copy.deepcopy(SERVED)
    data.draw(harmless(resources))
    group, _, seen = read(resources)
    assert seen == [] and group.unreadable == []
    assert group == REFERENCE


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_records())
def test_one_broken_resource_is_left_out_and_the_rest_reads_as_before(case: tuple[list[Json], str]) -> None:
    resources, victim_key = case
    victim = next(r for r in SERVED if key_of(r) == victim_key)  # as it was: what it referred to
    broken = next(r for r in resources if key_of(r) == victim_key)
    group, index, seen = read(resources)  # never raises
    assert [u.key for u in group.unreadable] == [victim_key], seen
    unreadable = group.unreadable[0]
    assert unreadable.reason and unreadable.reason.endswith(".")
    # Cancelling is offered exactly for our appointments that still plan something.
    done = ("cancelled", "fulfilled", "noshow", "entered-in-error")
    assert unreadable.cancellable == (broken["resourceType"] == "Appointment" and broken.get("status") not in done)
    # The known parts: the same people and group, and every resource that does not hang on the broken one
    # is written exactly as before; the broken one is not written at all.
    assert (group.name, group.status, group.members, group.supporters) == (
        REFERENCE.name,
        REFERENCE.status,
        REFERENCE.members,
        REFERENCE.supporters,
    )
    written = written_by_key(group, index)
    assert victim_key not in written
    for key, before in REFERENCE_WRITTEN.items():
        if key == victim_key or hangs_on(before, victim, victim_key):
            continue
        assert key in written, f"{key} was lost with {victim_key}"
        assert _plain(written[key]) == _plain(before), key


def _plain(res: Json) -> Json:
    """A written resource without what the harmless changes or the server add (meta, extensions, categories)."""
    out = {k: v for k, v in res.items() if k not in ("meta", "extension", "category", "_status", "_id")}
    for key in ("start", "end", "sent", "effectiveDateTime"):
        if isinstance(out.get(key), str):
            out[key] = datetime.fromisoformat(out[key].replace("Z", "+00:00")).timestamp()
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_records(), st.sampled_from(["add goal", "rename", "cancel a meeting"]))
def test_a_change_to_a_known_part_keeps_the_broken_resource_and_every_reference_to_it(
    case: tuple[list[Json], str], change: str
) -> None:
    resources, victim_key = case
    group, index, _ = read(resources)
    changed = copy.deepcopy(group)
    if change == "add goal":
        changed.add_goal("Elke week koken", GoalTerm.KORT, date(2026, 11, 30))
    elif change == "rename":
        changed.rename("Team Sanne en Ans")
    else:
        planned = [m for m in changed.meetings if m.status in (MeetingStatus.PROPOSED, MeetingStatus.BOOKED)]
        if not planned:
            return  # the broken resource was the one planned meeting: nothing else to cancel
        changed.set_meeting_status(planned[0].uid, MeetingStatus.CANCELLED, date(2026, 11, 30))
    after = written_by_key(changed, index)
    assert victim_key not in after  # never rewritten
    by_key = {key_of(r): r for r in resources}
    for key, res in after.items():
        was = by_key.get(key)
        if was is None:
            continue
        # Every reference the record had to the broken resource is still there, element by element.
        for element in _referring(was, victim_key):
            assert _somewhere(res, element), f"{key} lost {element!r}"


def _referring(value: Any, key: str) -> list[Any]:
    """The smallest elements of `value` that refer to `key` (a reference object)."""
    found: list[Any] = []
    if isinstance(value, dict):
        if str(value.get("reference", "")).split("/_history")[0] == key:
            return [value]
        for v in value.values():
            found += _referring(v, key)
    elif isinstance(value, list):
        for v in value:
            found += _referring(v, key)
    return found


def _somewhere(value: Any, element: Any) -> bool:
    if value == element:
        return True
    if isinstance(value, dict):
        return any(_somewhere(v, element) for v in value.values())
    if isinstance(value, list):
        return any(_somewhere(v, element) for v in value)
    return False


# ---------------------------------------------------------------------- without `tolerate`: strict as before


def test_without_tolerate_a_broken_resource_still_fails_the_read() -> None:
    resources = copy.deepcopy(SERVED)
    goal = next(r for r in resources if r["resourceType"] == "Goal")
    goal["lifecycleStatus"] = "on-ice"
    with pytest.raises(MappingError):
        group_from_fhir(resources, PATIENT)


def test_a_broken_team_or_plan_is_no_group_even_when_tolerant() -> None:
    resources = copy.deepcopy(SERVED)
    team = next(r for r in resources if r["resourceType"] == "CareTeam")
    team["status"] = "dormant"
    with pytest.raises(MappingError):
        read(resources)


def _is_step(ext: Json) -> bool:
    return str(ext.get("url", "")).endswith("goal-relationship")


def test_a_goal_listed_under_two_long_term_goals_is_left_out_not_the_group() -> None:
    resources = copy.deepcopy(SERVED)
    goals = [r for r in resources if r["resourceType"] == "Goal"]
    parent = next(
        g for g in goals if any(e.get("url", "").endswith("goal-relationship") for e in g.get("extension") or [])
    )
    other = next(g for g in goals if g is not parent and g["description"]["text"] == "Werk vinden dat bij me past")
    milestone = next(e for e in parent["extension"] if _is_step(e))
    other["extension"] = [*(other.get("extension") or []), copy.deepcopy(milestone)]
    child_key = str(milestone["extension"][1]["valueReference"]["reference"])
    with pytest.raises(MappingError):
        group_from_fhir(copy.deepcopy(resources), PATIENT)
    group, _, _ = read(resources)
    assert [u.key for u in group.unreadable] == [child_key]
    assert len(group.goals) == len(REFERENCE.goals) - 1


def test_a_score_at_a_time_without_a_zone_is_left_out_not_the_group() -> None:
    """FHIR requires a zone on a dateTime with a time; a score without one cannot be ordered among the others."""
    resources = copy.deepcopy(SERVED)
    scores = [r for r in resources if r["resourceType"] == "Observation" and is_artifact(r, Artifact.PROGRESS, "code")]
    assert len(scores) >= 2
    scores[0]["effectiveDateTime"] = "2026-03-02T10:00:00"
    with pytest.raises(MappingError):
        group_from_fhir(copy.deepcopy(resources), PATIENT)
    group, _, _ = read(resources)
    assert [u.key for u in group.unreadable] == [f"Observation/{scores[0]['id']}"]
    assert len(group.progress) == len(REFERENCE.progress) - 1
    assert all(p.when.tzinfo is not None for p in group.progress)


def test_the_reason_is_short_dutch_and_names_the_part() -> None:
    resources = copy.deepcopy(SERVED)
    team = next(r for r in resources if r["resourceType"] == "CareTeam")
    team["participant"][1]["role"] = [
        {"coding": [{"system": team["participant"][0]["role"][0]["coding"][0]["system"], "code": "opa"}]}
    ]
    group, _, _ = read(resources)
    (u,) = group.unreadable
    assert u.key == key_of(team) and u.part == "deelnemer 2" and not u.cancellable
    assert u.reason == "Het EPD gaf een onbekende code terug."
    assert len(group.members) == len(REFERENCE.members) - 1


def test_cancel_unreadable_only_for_a_listed_appointment() -> None:
    resources = copy.deepcopy(SERVED)
    meeting = next(r for r in resources if kind(r) == "Appointment/meeting" and r["status"] in ("proposed", "booked"))
    meeting["start"] = "2027-03-28T02:30:00"
    group, _, _ = read(resources)
    with pytest.raises(DomainError):
        group.cancel_unreadable("Appointment/not-listed")
    done = group.cancel_unreadable(key_of(meeting))
    assert done.cancel and done.plans == "meeting"
