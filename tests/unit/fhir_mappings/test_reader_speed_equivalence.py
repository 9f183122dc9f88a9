"""The reader's result for groups of odd shapes is what it was before the reader was made faster (issue 16).

The resources below hold what other systems (and older versions) write: references in relative, absolute,
versioned, urn:uuid, contained and display-only forms, foreign and unknown codes, missing focus, elements of the
wrong shape, resources without an id. The expectations are literal: the reader's output for these resources as
it was before the per-load memos and fast paths, so any change in what is read shows up here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, datetime
from enum import Enum
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fhir_mappings.codes import (
    CS_ARTIFACT,
    CS_GOAL_RELATIONSHIP_TYPE,
    CS_GOAL_TERM,
    CS_LIFE_AREA,
    CS_MEETING_ROLE,
    CS_MEETING_THEME,
    CS_MEMBER_ROLE,
    CS_NOMINATION_STATE,
    CS_SECTION,
    CS_V3_PARTICIPATION_TYPE,
    CS_WISH_KIND,
    EXT_GOAL_RELATIONSHIP,
    EXT_MEETING,
    EXT_MEMBER_KEY,
    EXT_NOMINATION_STATE,
    EXT_ROLE_PRACTITIONER,
    EXT_SECTION,
    IDENTIFIER_SYSTEM,
)
from fhir_mappings.errors import CompartmentError, MappingError
from fhir_mappings.from_fhir import (
    check_read_compartment,
    group_from_fhir,
    group_summary_from_fhir,
    only_patient_in_text,
    plans_in,
)
from fhir_mappings.refs import RefIndex

Json = dict[str, Any]
PATIENT = "Patient/p1"
BASE = "http://ehr.example/fhir/"


def _art(code: str) -> Json:
    return {"coding": [{"system": "http://other.example/cs", "code": "x"}, {"system": CS_ARTIFACT, "code": code}]}


def _ident(uid: str) -> list[Json]:
    return [{"system": "http://other.example/ids", "value": "other"}, {"system": IDENTIFIER_SYSTEM, "value": uid}]


def _role(system: str, *codes: str) -> list[Json]:
    return [{"coding": [{"system": system, "code": c} for c in codes]}]


def _part(ref: str | None, status: str = "accepted", **extra: Any) -> Json:
    part: Json = {"status": status, **extra}
    if ref is not None:
        part["actor"] = {"reference": ref}
    return part


def _score(rid: str | None, focus: Any, **extra: Any) -> Json:
    res: Json = {
        "resourceType": "Observation",
        "status": "final",
        "code": _art("doelvoortgang"),
        "subject": {"reference": PATIENT},
        "effectiveDateTime": "2026-03-09T09:30:00Z",
        "valueInteger": 5,
        "basedOn": [{"reference": "CarePlan/plan1"}],
    }
    if rid is not None:
        res["id"] = rid
    if focus is not None:
        res["focus"] = focus
    res.update(extra)
    return res


def resources() -> list[Json]:
    """A group with every odd shape the reader meets (fresh objects on every call)."""
    meeting_type = [{"coding": [{"system": CS_ARTIFACT, "code": "resourcegroepbijeenkomst"}]}]
    return [
        {"resourceType": "Patient", "id": "p1", "name": [{"given": ["Sanne"], "family": "de Vries"}]},
        {
            "resourceType": "CarePlan",
            "id": "plan1",
            "identifier": _ident("plan-uid"),
            "category": [_art("resourcegroepplan")],
            "status": "active",
            "intent": "plan",
            "subject": {"reference": BASE + PATIENT},
            "careTeam": [{"display": "no reference"}, {"reference": "CareTeam/t1"}],
            "goal": [
                {"reference": "Goal/g1"},
                {"reference": BASE + "Goal/g2/_history/3"},
                {"reference": "urn:uuid:g3-uid"},
                {"display": "display only"},
                {"reference": "#contained"},
                {"reference": "Goal/g5"},
            ],
            "activity": [
                {"reference": {"reference": "Task/k1"}},
                {"reference": "Task/k2"},
                "not an object",
                {"reference": {"reference": BASE + "Task/k5"}},
            ],
            "contained": [{"resourceType": "Goal", "id": "contained", "lifecycleStatus": "active"}],
        },
        {
            "resourceType": "CareTeam",
            "id": "t1",
            "identifier": _ident("team-uid"),
            "category": [_art("resourcegroep")],
            "status": "active",
            "name": "Team Sanne",
            "subject": {"reference": PATIENT},
            "period": {"start": "2026-03-02"},
            "participant": [
                {"member": {"reference": PATIENT, "display": "Sanne"}, "role": _role(CS_MEMBER_ROLE, "regisseur")},
                {
                    "id": "pr1-part",
                    "member": {"reference": "Practitioner/pr1"},
                    "role": _role(CS_MEMBER_ROLE, "regieondersteuner", "kernlid"),
                },
                {
                    "member": {"reference": BASE + "RelatedPerson/rp1"},
                    "role": [*_role("http://other.example/cs", "y"), *_role(CS_MEMBER_ROLE, "lid")],
                    "extension": [
                        {"url": EXT_NOMINATION_STATE, "valueCoding": {"system": CS_NOMINATION_STATE, "code": "lid"}}
                    ],
                },
                {"member": {"reference": "urn:uuid:rp2-uid"}, "role": _role(CS_MEMBER_ROLE, "lid")},
                {"member": {"display": "Oma"}, "role": _role(CS_MEMBER_ROLE, "lid")},
                {"member": {"reference": "Organization/o1"}},
                {"member": {"reference": "RelatedPerson/rp3/_history/2"}, "role": _role(CS_MEMBER_ROLE, "xx")},
                {
                    "member": {"reference": "PractitionerRole/role1", "display": "Coach"},
                    "role": _role(CS_MEMBER_ROLE, "lid"),
                    "extension": [
                        {"url": EXT_ROLE_PRACTITIONER, "valueReference": {"reference": BASE + "Practitioner/pr2"}}
                    ],
                },
                {"member": {"reference": "#contained-person"}},
                "not an object",
            ],
        },
        {"resourceType": "Practitioner", "id": "pr1", "name": [{"text": "Jeroen Bakker"}]},
        {"resourceType": "RelatedPerson", "id": "rp1", "patient": {"reference": PATIENT}, "name": [{"text": "Ans"}]},
        {
            "resourceType": "RelatedPerson",
            "id": "rp2",
            "identifier": _ident("rp2-uid"),
            "patient": {"reference": BASE + PATIENT},
            "name": [{"given": ["Karim"]}],
            "telecom": [{"system": "phone", "value": "06"}],
        },
        {"resourceType": "RelatedPerson", "id": "rp3", "patient": {"reference": PATIENT}},
        {
            "resourceType": "Goal",
            "id": "g1",
            "identifier": _ident("g1-uid"),
            "lifecycleStatus": "active",
            "description": {"text": "Werk vinden"},
            "category": [
                {"coding": [{"system": CS_LIFE_AREA, "code": "dagbesteding-werk"}]},
                {"coding": [{"system": CS_GOAL_TERM, "code": "lang"}]},
            ],
            "extension": [
                {
                    "url": EXT_GOAL_RELATIONSHIP,
                    "extension": [
                        {
                            "url": "type",
                            "valueCodeableConcept": {
                                "coding": [{"system": CS_GOAL_RELATIONSHIP_TYPE, "code": "milestone"}]
                            },
                        },
                        {"url": "target", "valueReference": {"reference": BASE + "Goal/g2"}},
                    ],
                }
            ],
        },
        {
            "resourceType": "Goal",
            "id": "g2",
            "lifecycleStatus": "active",
            "description": {"coding": [{"system": "http://other.example/cs", "code": "c", "display": "CV maken"}]},
            "category": [{"coding": [{"system": CS_GOAL_TERM, "code": "kort"}]}],
            "target": [{"dueDate": "2026-06-01"}],
        },
        {
            "resourceType": "Goal",
            "id": "g3",
            "identifier": _ident("g3-uid"),
            "lifecycleStatus": "active",
            "description": {"text": "Onbekend levensgebied"},
            "category": [{"coding": [{"system": CS_LIFE_AREA, "code": "xyz"}]}],
        },
        {"resourceType": "Goal", "id": "g4", "lifecycleStatus": "active", "description": {"text": "Niet in het plan"}},
        {"resourceType": "Goal", "id": "g5", "description": {"text": "Zonder lifecycleStatus"}},
        {
            "resourceType": "Task",
            "id": "k1",
            "status": "requested",
            "description": "Bellen",
            "focus": {"reference": BASE + "Goal/g1/_history/1"},
            "owner": {"reference": "CareTeam/t1"},
            "basedOn": [{"reference": "CarePlan/plan1"}],
            "restriction": {"period": {"end": "2026-04-01"}},
        },
        {
            "resourceType": "Task",
            "id": "k2",
            "status": "completed",
            "description": "Fietsen",
            "focus": {"reference": "urn:uuid:g1-uid"},
            "owner": {"reference": BASE + "RelatedPerson/rp1"},
            "basedOn": [{"reference": BASE + "CarePlan/plan1"}],
            "note": [{"text": "klaar", "authorReference": {"reference": "Practitioner/pr1"}, "time": "2026-03-05"}],
        },
        {"resourceType": "Task", "id": "k3", "status": "weird", "basedOn": [{"reference": "urn:uuid:plan-uid"}]},
        {
            "resourceType": "Task",
            "id": "k4",
            "status": "entered-in-error",
            "basedOn": [{"reference": "CarePlan/plan1"}],
        },
        {"resourceType": "Task", "id": "k6", "status": "requested", "basedOn": [{"reference": "CarePlan/other"}]},
        {"resourceType": "Location", "id": "loc1", "name": "Wijkcentrum", "address": {"text": "Straat 1"}},
        {
            "resourceType": "Appointment",
            "id": "a1",
            "identifier": _ident("a1-uid"),
            "status": "fulfilled",
            "serviceType": meeting_type,
            "start": "2026-03-09T10:00:00+01:00",
            "end": "2026-03-09T11:30:00+01:00",
            "created": "2026-03-01",
            "supportingInformation": [{"reference": "CarePlan/plan1"}],
            "reasonCode": [{"text": "Vrije tekst"}, {"coding": [{"system": CS_MEETING_THEME, "code": "stress"}]}],
            "participant": [
                _part(
                    PATIENT,
                    type=_role(CS_V3_PARTICIPATION_TYPE, "ATND") + _role(CS_MEETING_ROLE, "voorzitter"),
                ),
                _part("Practitioner/pr1", "needs-action", type=_role(CS_MEETING_ROLE, "notulist")),
                _part(BASE + "RelatedPerson/rp1", "tentative"),
                _part("urn:uuid:rp2-uid", "declined", type=_role(CS_V3_PARTICIPATION_TYPE, "ATND")),
                _part("Location/loc1"),
                _part("Practitioner/stranger"),
                {"actor": {"display": "display only"}, "status": "accepted"},
                {"status": "accepted"},
            ],
        },
        {
            "resourceType": "Appointment",
            "id": "a2",
            "status": "booked",
            "serviceType": meeting_type,
            "start": "2026-03-10T10:00:00",
            "end": "2026-03-10T11:00:00",
            "supportingInformation": [{"reference": "CarePlan/plan1"}],
        },
        {
            "resourceType": "Appointment",
            "id": "a3",
            "status": "booked",
            "serviceType": [{"coding": [{"system": CS_ARTIFACT, "code": "nominatiegesprek"}]}],
            "start": "2026-03-11T14:00:00Z",
            "end": "2026-03-11T15:00:00Z",
            "supportingInformation": [{"reference": "CarePlan/plan1"}],
            "participant": [_part(BASE + "RelatedPerson/rp1"), _part("Practitioner/pr1")],
        },
        {
            "resourceType": "Appointment",
            "id": "a4",
            "status": "proposed",
            "serviceType": meeting_type,
            "start": "2026-04-01T10:00:00Z",
            "end": "2026-04-01T10:45:00Z",
            "minutesDuration": 0,
            "supportingInformation": [{"reference": "urn:uuid:plan-uid"}],
            "participant": [
                {"actor": {"reference": "Location/elsewhere", "display": "Buurthuis"}, "status": "accepted"},
                _part("Practitioner/pr1", "accepted", type=_role(CS_MEETING_ROLE, "tijdbewaker", "onbekend")),
            ],
        },
        {
            "resourceType": "Appointment",
            "id": "a5",
            "status": "entered-in-error",
            "serviceType": meeting_type,
            "supportingInformation": [{"reference": "CarePlan/plan1"}],
        },
        {
            "resourceType": "Appointment",
            "id": "a6",
            "status": "booked",
            "serviceType": meeting_type,
            "start": "2026-04-08T10:00:00Z",
            "end": "2026-04-08T11:00:00Z",
            "supportingInformation": [{"reference": "CarePlan/plan1"}],
            "participant": [_part("Practitioner/pr1", "maybe")],
        },
        {
            "resourceType": "Appointment",
            "id": "a7",
            "status": "booked",
            "serviceType": [{"coding": [{"system": CS_ARTIFACT, "code": "nominatiegesprek"}]}],
            "start": "2026-03-12T14:00:00Z",
            "extension": [{"url": EXT_MEMBER_KEY, "valueString": "#3"}],
            "supportingInformation": [{"reference": "CarePlan/plan1"}],
        },
        _score(
            "o1",
            [{"reference": "Goal/g1"}],
            note=[{"text": "goed"}],
            performer=[{"reference": PATIENT}],
            extension=[{"url": EXT_MEETING, "valueReference": {"reference": "Appointment/a1"}}],
        ),
        _score(
            "o2",
            [{"reference": BASE + "Goal/g2/_history/1"}],
            valueInteger=3,
            performer=[{"display": "iemand"}, {"reference": BASE + "Practitioner/pr1"}],
        ),
        _score(
            "o3",
            [{"reference": "urn:uuid:g1-uid"}],
            effectiveDateTime="2026-03-09T10:30:00+01:00",
            extension=[{"url": EXT_MEETING, "valueReference": {"reference": "urn:uuid:a1-uid"}}],
        ),
        _score("o4", None),
        _score("o5", [{"display": "alleen tekst"}, {"reference": "Goal/unknown"}, {"reference": "Goal/g2"}]),
        _score("o6", [{"reference": "Goal/g1"}], valueInteger="7"),
        _score("o7", [{"reference": "Goal/g1"}], effectiveDateTime=None),
        _score("o8", [{"reference": "Goal/g1"}], code={"coding": [{"system": "http://loinc.org", "code": "1"}]}),
        _score("o9", [{"reference": "Goal/g2"}], code=[_art("doelvoortgang")], valueInteger=9),
        _score("o9b", {"reference": "Goal/g2"}),
        _score(None, [{"reference": "Goal/g1"}]),
        _score("o11", [{"reference": "Goal/g1"}], effectiveDateTime="2026-03-08"),
        _score("o12", [{"reference": "#contained"}]),
        _score("o13", [{"reference": "Goal/g1"}], valueInteger=True),
        _score("o14", [{"reference": "Goal/g3"}]),
        _score(None, [{"reference": "Goal/g2"}], identifier=_ident("o15-uid"), valueInteger=10),
        _score("o16", "Goal/g1"),
        _score("o18", [{"reference": "Goal/g1"}], code="doelvoortgang"),
        _score("o19", [{"reference": "Goal/g1"}], performer={"reference": "Practitioner/pr1"}),
        _score("o20", [{"reference": "Goal/g1"}], note="not a list"),
        {
            "resourceType": "Communication",
            "id": "c1",
            "status": "completed",
            "category": [_art("agenda")],
            "basedOn": [{"reference": "CarePlan/plan1"}],
            "partOf": [{"reference": BASE + "Appointment/a1"}],
            "payload": [
                {"contentReference": {"reference": "Task/k1", "display": "Bellen"}},
                {"contentReference": {"reference": "urn:uuid:g1-uid", "display": "Werk"}},
                {"contentString": "Rondvraag"},
            ],
        },
        {
            "resourceType": "Communication",
            "id": "c2",
            "status": "completed",
            "category": [_art("verslag")],
            "basedOn": [{"reference": "urn:uuid:plan-uid"}],
            "partOf": [{"reference": "urn:uuid:a1-uid"}],
            "about": [{"reference": "Goal/g1"}, {"reference": "Task/k2"}, {"reference": "Goal/nope"}],
            "sent": "2026-03-09T12:00:00Z",
            "payload": [
                {
                    "extension": [{"url": EXT_SECTION, "valueCoding": {"system": CS_SECTION, "code": "besproken"}}],
                    "contentString": "Veel",
                }
            ],
        },
        {
            "resourceType": "Communication",
            "id": "c3",
            "status": "in-progress",
            "category": [_art("wens")],
            "basedOn": [{"reference": "CarePlan/plan1"}],
            "topic": {"coding": [{"system": CS_WISH_KIND, "code": "bijeenkomst"}]},
            "sender": {"reference": PATIENT},
            "sent": "2026-03-05T08:00:00Z",
            "reasonCode": [{"coding": [{"system": CS_MEETING_THEME, "code": "anders"}]}],
        },
    ]


def _plain(value: Any) -> Any:
    """The reader's output as plain data: entities by field (a source by the id of the resource it is)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"type": type(value).__name__}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if f.name.endswith("source"):
                out[f.name] = None if item is None else (item.get("resourceType"), item.get("id"))
            else:
                out[f.name] = _plain(item)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _index(index: RefIndex) -> dict[str, Any]:
    return {"by_uid": dict(sorted(index._ref_by_uid.items())), "by_ref": dict(sorted(index._uid_by_ref.items()))}


def read(**kw: Any) -> tuple[Any, Any, list[Any]]:
    """`group_from_fhir` with `tolerate`: the group, the index and what was reported unreadable, as plain data."""
    noted: list[Any] = []
    group, index = group_from_fhir(
        resources(), PATIENT, tolerate=lambda what, exc: noted.append([what, type(exc).__name__, str(exc)]), **kw
    )
    return _plain(group), _index(index), noted


def summary() -> tuple[Any, Any, list[Any]]:
    """`group_summary_from_fhir` of the team, the plan and the plan's Appointments and Tasks, as plain data."""
    res = resources()
    team = next(r for r in res if r["resourceType"] == "CareTeam")
    plan = next(r for r in res if r["resourceType"] == "CarePlan")
    related = [r for r in res if r["resourceType"] in ("Appointment", "Task")]
    noted: list[Any] = []
    group, index = group_summary_from_fhir(
        team, plan, PATIENT, related, tolerate=lambda what, exc: noted.append([what, type(exc).__name__, str(exc)])
    )
    return _plain(group), _index(index), noted


def test_group_reads_as_before() -> None:
    group, index, noted = read()
    assert group == EXPECTED_GROUP
    assert index == EXPECTED_INDEX
    assert noted == EXPECTED_NOTED


def test_group_reads_as_before_after_the_compartment_check() -> None:
    """The load's path: the resources checked once (by a scan of their text), then read."""
    res = resources()
    checked = check_read_compartment(res, PATIENT, raw=json.dumps(res).encode())
    noted: list[Any] = []
    group, index = group_from_fhir(
        checked, PATIENT, tolerate=lambda what, exc: noted.append([what, type(exc).__name__, str(exc)])
    )
    assert (_plain(group), _index(index), noted) == (EXPECTED_GROUP, EXPECTED_INDEX, EXPECTED_NOTED)


def test_a_second_read_is_the_same() -> None:
    """Nothing of one read (a memo of references, parsed times) carries over into the next."""
    assert read() == read()


def test_named_plan_reads_as_before() -> None:
    by_uid, _, _ = read(plan_id="plan-uid")
    by_ref, _, _ = read(plan_id=BASE + "CarePlan/plan1")
    assert by_uid == by_ref == EXPECTED_GROUP
    with pytest.raises(MappingError):
        read(plan_id="CarePlan/other")


def test_strict_read_fails_on_the_first_unreadable_element() -> None:
    with pytest.raises(MappingError) as failed:
        group_from_fhir(resources(), PATIENT)
    assert failed.value.log_message == EXPECTED_STRICT_ERROR


def test_summary_reads_as_before() -> None:
    group, index, noted = summary()
    assert group == EXPECTED_SUMMARY
    assert index == EXPECTED_SUMMARY_INDEX
    assert noted == EXPECTED_SUMMARY_NOTED


def test_scores_share_nothing_mutable_and_keep_their_sources() -> None:
    res = resources()
    group, _ = group_from_fhir(res, PATIENT, tolerate=lambda what, exc: None)
    by_id = {id(r) for r in res}
    assert all(id(p.source) in by_id for p in group.progress)
    assert all(id(m.source) in by_id for m in group.meetings)


def test_plans_in_reads_as_before() -> None:
    res = resources()
    plan = next(r for r in res if r["resourceType"] == "CarePlan")
    ended = {**plan, "id": "old", "status": "completed", "identifier": _ident("old-uid")}
    revoked = {**plan, "id": "revoked", "status": "revoked"}
    other = {**plan, "id": "theirs", "subject": {"reference": "Patient/p2"}}
    untyped = {**plan, "id": "untyped", "category": "resourcegroepplan"}
    found = plans_in([ended, *res, revoked, other, untyped], PATIENT)
    assert [p["id"] for p in found] == ["plan1", "old"]


@pytest.mark.parametrize(
    ("where", "value", "refused"),
    [
        (
            "performer",
            [{"reference": BASE + "Patient/p2"}],
            "Observation/o1 refers to http://ehr.example/fhir/Patient/p2",
        ),
        ("performer", [{"reference": "Patient/p2/_history/1"}], "Observation/o1 refers to Patient/p2/_history/1"),
        ("performer", [{"reference": "Patient/p1/_history/4"}], None),
        ("performer", [{"reference": BASE + "Patient/p1"}], None),
        ("performer", [{"reference": "urn:uuid:Patient/p2"}], None),
        ("performer", [{"reference": "#Patient/p2"}], None),
        ("performer", [{"display": "Patient/p2"}], None),
        (
            "contained",
            [{"resourceType": "Observation", "id": "x", "subject": {"reference": "Patient/p2"}}],
            "Observation/o1 refers to Patient/p2",
        ),
        (
            "extension",
            [{"url": "x", "extension": [{"url": "y", "valueReference": {"reference": "Patient/p2"}}]}],
            "Observation/o1 refers to Patient/p2",
        ),
    ],
)
def test_compartment_refusals_as_before(where: str, value: Any, refused: str | None) -> None:
    res = resources()
    score = next(r for r in res if r.get("id") == "o1")
    score[where] = value
    raws = [None, json.dumps(res).encode(), json.dumps(res).replace("/", "\\/").encode()]
    for raw in raws:
        if refused is None:
            checked = check_read_compartment(res, PATIENT, raw=raw)
            assert list(checked) == res
            assert _plain(group_from_fhir(checked, PATIENT, tolerate=lambda what, exc: None)[0])["members"]
        else:
            with pytest.raises(CompartmentError) as failed:
                check_read_compartment(res, PATIENT, raw=raw)
            assert failed.value.log_message == f"{refused}, launch patient is Patient/p1"
            with pytest.raises(CompartmentError):
                group_from_fhir(res, PATIENT, tolerate=lambda what, exc: None)


def test_another_patient_resource_is_refused_as_before() -> None:
    res = [*resources(), {"resourceType": "Patient", "id": "p2"}]
    for raw in (None, json.dumps(res).encode()):
        with pytest.raises(CompartmentError) as failed:
            check_read_compartment(res, PATIENT, raw=raw)
        assert failed.value.log_message == "load contains Patient/p2, launch patient is Patient/p1"


def test_a_supporter_of_another_patient_is_refused_even_when_tolerated() -> None:
    res = resources()
    next(r for r in res if r.get("id") == "rp1")["patient"] = {"display": "someone else"}
    with pytest.raises(CompartmentError):
        group_from_fhir(res, PATIENT, tolerate=lambda what, exc: None)


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        # The progress code is looked for in every coding: JSON of the wrong shape there fails the read, as before.
        ({"code": [_art("doelvoortgang"), "garbage"]}, ("raised", "AttributeError")),
        ({"code": {"coding": "doelvoortgang"}}, ("raised", "AttributeError")),
        ({"focus": 5}, ("left out", "TypeError")),
        ({"note": {"text": "x"}}, ("left out", "KeyError")),
        ({"performer": "Practitioner/pr1"}, ("read", None)),
        ({"extension": ["x", {"url": "y"}]}, ("left out", "AttributeError")),
        ({"effectiveDateTime": 20260309}, ("read", None)),
        ({"effectiveDateTime": ""}, ("left out", "MappingError")),
        ({"effectiveDateTime": "2026-03-09T25:00:00Z"}, ("left out", "MappingError")),
        ({"valueInteger": 7.0}, ("left out", "MappingError")),
    ],
)
def test_a_score_of_the_wrong_shape_reads_as_before(change: Json, outcome: tuple[str, str | None]) -> None:
    res = resources()
    next(r for r in res if r.get("id") == "o1").update(change)
    noted: list[Any] = []
    try:
        group, _ = group_from_fhir(res, PATIENT, tolerate=lambda what, exc: noted.append((what, type(exc).__name__)))
    except Exception as exc:
        assert outcome == ("raised", type(exc).__name__)
        return
    mine: list[str | None] = [kind for what, kind in noted if what == "Observation/o1"]
    read_o1 = any((p.source or {}).get("id") == "o1" for p in group.progress)
    assert (["read" if read_o1 else "left out", *mine] if mine else ["read" if read_o1 else "lost", None]) == list(
        outcome
    )


_ALLOWED = "allowed: accepted, declined, tentative, needs-action"


@pytest.mark.parametrize(
    ("status", "refused"),
    [
        (None, "None/None lacks required element status"),
        ("", "None/None lacks required element status"),
        (5, f"unknown code 5 for Appointment.participant.status; {_ALLOWED}"),
        (["accepted"], f"unknown code ['accepted'] for Appointment.participant.status; {_ALLOWED}"),
        ("ACCEPTED", f"unknown code 'ACCEPTED' for Appointment.participant.status; {_ALLOWED}"),
        ("accepted", None),
    ],
)
def test_a_participant_status_reads_as_before(status: Any, refused: str | None) -> None:
    res = resources()
    part = next(r for r in res if r.get("id") == "a1")["participant"][1]
    if status is None:
        del part["status"]
    else:
        part["status"] = status
    noted: list[Any] = []
    group, _ = group_from_fhir(
        res, PATIENT, tolerate=lambda what, exc: noted.append((what, type(exc).__name__, str(exc)))
    )
    mine = [(kind, text) for what, kind, text in noted if what == "Appointment/a1"]
    assert mine == ([("MappingError", refused)] if refused else [])
    assert any(m.uid == "a1-uid" for m in group.meetings) == (refused is None)


def test_a_time_read_once_is_the_same_moment_everywhere() -> None:
    """Two meetings and a score at the same text read as equal moments; a time without a zone stays refused."""
    res = resources()
    a4 = next(r for r in res if r.get("id") == "a4")
    a4["participant"] = a4["participant"][:1]
    a4["start"], a4["end"] = "2026-03-09T10:00:00+01:00", "2026-03-09T11:30:00+01:00"
    group, _ = group_from_fhir(res, PATIENT, tolerate=lambda what, exc: None)
    starts = {m.uid: m.start for m in group.meetings}
    assert starts["a1-uid"] == starts["Appointment/a4"] == datetime.fromisoformat("2026-03-09T09:00:00+00:00")
    assert [u.key for u in group.unreadable if u.key.startswith("Appointment/")] == ["Appointment/a2", "Appointment/a6"]


def test_the_reader_forgets_what_a_reference_meant_when_its_index_changes() -> None:
    """The per-read memo of references follows the index: a resource registered later is found by its uid."""
    from fhir_mappings.from_fhir import _Reader

    reader = _Reader(resources(), PATIENT)
    assert reader.uid("Goal/late") == "Goal/late"
    assert reader.actor("urn:uuid:place-uid") == ("urn:uuid:place-uid", False)
    late = {"resourceType": "Goal", "id": "late", "identifier": _ident("late-uid")}
    assert reader.register(late) == "late-uid"
    assert reader.uid("Goal/late") == "late-uid"
    assert reader.uid(BASE + "Goal/late/_history/2") == "late-uid"
    place = {"resourceType": "Location", "identifier": _ident("place-uid")}
    assert reader.register(place) == "place-uid"
    assert reader.actor("urn:uuid:place-uid") == ("place-uid", False)


def _only_patient_oracle(raw: bytes, patient: str) -> bool:
    """`only_patient_in_text` as first written: every `Patient/` followed by the id and then `"` or `/`."""
    if re.search(rb"\\(?:/|u00[2-7][0-9a-fA-F])", raw) is not None:
        return False
    rid = patient.partition("/")[2].encode()
    if not rid or b'"' in rid or b"\\" in rid:
        return False
    for found in re.finditer(rb"Patient/", raw):
        at = found.end()
        if raw[at : at + len(rid)] != rid or raw[at + len(rid) : at + len(rid) + 1] not in (b'"', b"/"):
            return False
    return True


@given(
    parts=st.lists(
        st.sampled_from(
            [b"Patient/", b"p1", b"p.1", b"p+", b"p12", b'"', b"/", b"\\", b"u0050", b"x", b"Pat", b"ient/"]
        ),
        max_size=12,
    ),
    rid=st.sampled_from(["p1", "p.1", "p+", "p", "Patient"]),
)
@settings(max_examples=400, deadline=None)
def test_the_text_scan_judges_as_before(parts: list[bytes], rid: str) -> None:
    raw = b"".join(parts)
    assert only_patient_in_text(raw, f"Patient/{rid}") == _only_patient_oracle(raw, f"Patient/{rid}")


def test_narrowed_takes_the_checked_objects_only() -> None:
    """All of them in order (the load's common case), a part, a new order: checked; an equal copy is not."""
    res = resources()
    checked = check_read_compartment(res, PATIENT)
    assert list(checked.narrowed(res)) == res
    assert all(a is b for a, b in zip(checked.narrowed(res), res, strict=True))
    assert list(checked.narrowed(res[::-1])) == res[::-1]
    assert list(checked.narrowed(res[3:7])) == res[3:7]
    for copied in ([*res[:-1], dict(res[-1])], [dict(res[0]), *res[1:]]):
        assert copied == res  # equal, not the same objects
        with pytest.raises(ValueError):
            checked.narrowed(copied)


def _uid_oracle(index: RefIndex, reference: str) -> str:
    """`RefIndex.uid` as first written (it parsed a reference twice when the first lookup missed)."""
    from fhir_mappings.refs import literal

    known = index._uid_by_ref.get(reference)
    if known is not None and literal(reference) == reference:
        return known
    lit = literal(reference)
    return index._uid_by_ref.get(lit, index._uid_by_ref.get(reference, lit))


_REF_PARTS = ["Goal/g1", "Goal/g2", "g1", "u1", "urn:uuid:u1", "urn:uuid:Goal/g1", BASE + "Goal/g1", "Goal/g1/"]
_REFS = st.sampled_from(
    [*_REF_PARTS, BASE + "Goal/g1/_history/2", "#g1", "Goal", "/g1", "a//", "x//y", "", "Goal/a/b", "a/b", "Goal/b"]
)


@given(
    registered=st.lists(
        st.tuples(st.sampled_from(["g1", "g2", "a/b", "b", None]), st.sampled_from(["u1", "Goal/g2", "a/b", None])),
        max_size=4,
    ),
    bound=st.lists(st.tuples(st.sampled_from(["u1", "u2", "Goal/g1", "a/b"]), _REFS), max_size=3),
    asked=st.lists(_REFS, min_size=1, max_size=6),
)
@example(registered=[("a/b", None)], bound=[("u1", "a/b")], asked=["Goal/a/b"])  # both forms known: literal wins
@settings(max_examples=300, deadline=None)
def test_a_reference_names_the_same_uid_as_before(
    registered: list[tuple[str | None, str | None]], bound: list[tuple[str, str]], asked: list[str]
) -> None:
    index = RefIndex()
    for rid, uid in registered:
        res: Json = {"resourceType": "Goal"}
        if rid is not None:
            res["id"] = rid
        if uid is not None:
            res["identifier"] = _ident(uid)
        if rid is not None or uid is not None:
            index.register(res)
    for uid, ref in bound:
        index.bind(uid, ref)
    for ref in asked:
        assert index.uid(ref) == _uid_oracle(index, ref)


EXPECTED_GROUP: Any = {
    "after_treatment_since": None,
    "agreements": [
        {
            "created": None,
            "description": "Bellen",
            "due": "2026-04-01",
            "goal_uid": "g1-uid",
            "notes": [],
            "owner": None,
            "source": ("Task", "k1"),
            "status": "requested",
            "type": "Agreement",
            "uid": "Task/k1",
        },
        {
            "created": None,
            "description": "Fietsen",
            "due": None,
            "goal_uid": "g1-uid",
            "notes": [
                {
                    "author": "Practitioner/pr1",
                    "source": (None, None),
                    "text": "klaar",
                    "time": "2026-03-05T00:00:00+00:00",
                    "type": "Note",
                }
            ],
            "owner": "RelatedPerson/rp1",
            "source": ("Task", "k2"),
            "status": "completed",
            "type": "Agreement",
            "uid": "Task/k2",
        },
    ],
    "end": None,
    "goals": [
        {
            "achievement": None,
            "due": None,
            "life_area": "dagbesteding-werk",
            "lifecycle": "active",
            "notes": [],
            "parent_uid": None,
            "source": ("Goal", "g1"),
            "start": None,
            "status_date": None,
            "term": "lang",
            "text": "Werk vinden",
            "type": "Goal",
            "uid": "g1-uid",
        },
        {
            "achievement": None,
            "due": "2026-06-01",
            "life_area": None,
            "lifecycle": "active",
            "notes": [],
            "parent_uid": "g1-uid",
            "source": ("Goal", "g2"),
            "start": None,
            "status_date": None,
            "term": "kort",
            "text": "CV maken",
            "type": "Goal",
            "uid": "Goal/g2",
        },
    ],
    "interviews": [
        {
            "appointment_source": ("Appointment", "a3"),
            "appointment_uid": "Appointment/a3",
            "cancelled": False,
            "held_at": None,
            "interviewer": None,
            "member_uid": "#2",
            "planned_at": None,
            "planned_start": "2026-03-11T14:00:00+00:00",
            "sections": {},
            "source": None,
            "type": "NominationInterview",
            "uid": "",
            "visibility": None,
        },
        {
            "appointment_source": ("Appointment", "a7"),
            "appointment_uid": "Appointment/a7",
            "cancelled": False,
            "held_at": None,
            "interviewer": None,
            "member_uid": "#3",
            "planned_at": None,
            "planned_start": "2026-03-12T14:00:00+00:00",
            "sections": {},
            "source": None,
            "type": "NominationInterview",
            "uid": "",
            "visibility": None,
        },
    ],
    "meetings": [
        {
            "agenda": {
                "items": [
                    {
                        "agreement_uid": "Task/k1",
                        "goal_uid": None,
                        "proposed_by": None,
                        "text": "Bellen",
                        "type": "AgendaItem",
                    },
                    {
                        "agreement_uid": None,
                        "goal_uid": "g1-uid",
                        "proposed_by": None,
                        "text": "Werk",
                        "type": "AgendaItem",
                    },
                    {
                        "agreement_uid": None,
                        "goal_uid": None,
                        "proposed_by": None,
                        "text": "Rondvraag",
                        "type": "AgendaItem",
                    },
                ],
                "source": ("Communication", "c1"),
                "status": "completed",
                "type": "Agenda",
                "uid": "Communication/c1",
            },
            "created": "2026-03-01T00:00:00+00:00",
            "invitations": [],
            "minutes": 90,
            "participants": [
                {
                    "attended": True,
                    "response": "accepted",
                    "roles": ["voorzitter"],
                    "type": "MeetingParticipant",
                    "who": "Patient/p1",
                },
                {
                    "attended": False,
                    "response": "needs-action",
                    "roles": ["notulist"],
                    "type": "MeetingParticipant",
                    "who": "Practitioner/pr1",
                },
                {
                    "attended": False,
                    "response": "tentative",
                    "roles": [],
                    "type": "MeetingParticipant",
                    "who": "RelatedPerson/rp1",
                },
                {"attended": True, "response": "declined", "roles": [], "type": "MeetingParticipant", "who": "rp2-uid"},
            ],
            "place_uid": "Location/loc1",
            "report": None,
            "source": ("Appointment", "a1"),
            "start": "2026-03-09T10:00:00+01:00",
            "status": "fulfilled",
            "theme": None,
            "theme_text": "Vrije tekst",
            "type": "Meeting",
            "uid": "a1-uid",
        }
    ],
    "members": [
        {
            "core": False,
            "display": "Sanne",
            "end": None,
            "joined": None,
            "nomination": "lid",
            "practitioner": None,
            "proposed_by": None,
            "reason": "",
            "roles": ["regisseur"],
            "start": None,
            "type": "Member",
            "uid": "#0",
            "who": "Patient/p1",
        },
        {
            "core": True,
            "display": "Jeroen Bakker",
            "end": None,
            "joined": None,
            "nomination": "lid",
            "practitioner": None,
            "proposed_by": None,
            "reason": "",
            "roles": ["regieondersteuner"],
            "start": None,
            "type": "Member",
            "uid": "pr1-part",
            "who": "Practitioner/pr1",
        },
        {
            "core": False,
            "display": "Ans",
            "end": None,
            "joined": None,
            "nomination": "lid",
            "practitioner": None,
            "proposed_by": None,
            "reason": "",
            "roles": ["lid"],
            "start": None,
            "type": "Member",
            "uid": "#2",
            "who": "RelatedPerson/rp1",
        },
        {
            "core": False,
            "display": "Karim",
            "end": None,
            "joined": None,
            "nomination": "lid",
            "practitioner": None,
            "proposed_by": None,
            "reason": "",
            "roles": ["lid"],
            "start": None,
            "type": "Member",
            "uid": "#3",
            "who": "rp2-uid",
        },
        {
            "core": False,
            "display": "Coach",
            "end": None,
            "joined": None,
            "nomination": "lid",
            "practitioner": "Practitioner/pr2",
            "proposed_by": None,
            "reason": "",
            "roles": ["lid"],
            "start": None,
            "type": "Member",
            "uid": "#7",
            "who": "PractitionerRole/role1",
        },
    ],
    "name": "Team Sanne",
    "patient": "Patient/p1",
    "places": [
        {"address": "", "name": "Buurthuis", "source": None, "type": "Place", "uid": "Location/elsewhere"},
        {
            "address": "Straat 1",
            "name": "Wijkcentrum",
            "source": ("Location", "loc1"),
            "type": "Place",
            "uid": "Location/loc1",
        },
    ],
    "plan_source": ("CarePlan", "plan1"),
    "plan_uid": "plan-uid",
    "progress": [
        {
            "by": None,
            "goal_uid": "g1-uid",
            "meeting_uid": None,
            "note": "",
            "score": 5,
            "source": ("Observation", "o11"),
            "type": "ProgressScore",
            "uid": "Observation/o11",
            "when": "2026-03-08T00:00:00+00:00",
        },
        {
            "by": "Patient/p1",
            "goal_uid": "g1-uid",
            "meeting_uid": "a1-uid",
            "note": "goed",
            "score": 5,
            "source": ("Observation", "o1"),
            "type": "ProgressScore",
            "uid": "Observation/o1",
            "when": "2026-03-09T09:30:00+00:00",
        },
        {
            "by": None,
            "goal_uid": "g1-uid",
            "meeting_uid": None,
            "note": "",
            "score": 1,
            "source": ("Observation", "o13"),
            "type": "ProgressScore",
            "uid": "Observation/o13",
            "when": "2026-03-09T09:30:00+00:00",
        },
        {
            "by": None,
            "goal_uid": "g1-uid",
            "meeting_uid": None,
            "note": "",
            "score": 5,
            "source": ("Observation", "o19"),
            "type": "ProgressScore",
            "uid": "Observation/o19",
            "when": "2026-03-09T09:30:00+00:00",
        },
        {
            "by": "Practitioner/pr1",
            "goal_uid": "Goal/g2",
            "meeting_uid": None,
            "note": "",
            "score": 3,
            "source": ("Observation", "o2"),
            "type": "ProgressScore",
            "uid": "Observation/o2",
            "when": "2026-03-09T09:30:00+00:00",
        },
        {
            "by": None,
            "goal_uid": "g1-uid",
            "meeting_uid": "a1-uid",
            "note": "",
            "score": 5,
            "source": ("Observation", "o3"),
            "type": "ProgressScore",
            "uid": "Observation/o3",
            "when": "2026-03-09T10:30:00+01:00",
        },
        {
            "by": None,
            "goal_uid": "Goal/g2",
            "meeting_uid": None,
            "note": "",
            "score": 5,
            "source": ("Observation", "o5"),
            "type": "ProgressScore",
            "uid": "Observation/o5",
            "when": "2026-03-09T09:30:00+00:00",
        },
        {
            "by": None,
            "goal_uid": "Goal/g2",
            "meeting_uid": None,
            "note": "",
            "score": 9,
            "source": ("Observation", "o9"),
            "type": "ProgressScore",
            "uid": "Observation/o9",
            "when": "2026-03-09T09:30:00+00:00",
        },
        {
            "by": None,
            "goal_uid": "Goal/g2",
            "meeting_uid": None,
            "note": "",
            "score": 10,
            "source": ("Observation", None),
            "type": "ProgressScore",
            "uid": "o15-uid",
            "when": "2026-03-09T09:30:00+00:00",
        },
    ],
    "source": ("CareTeam", "t1"),
    "start": "2026-03-02",
    "status": "active",
    "status_changes": [],
    "supporters": [
        {
            "birth_date": None,
            "email": "",
            "gender": "",
            "name": "Ans",
            "phone": "",
            "relationship": "",
            "relationship_system": "",
            "relationship_text": "",
            "source": ("RelatedPerson", "rp1"),
            "type": "Supporter",
            "uid": "RelatedPerson/rp1",
        },
        {
            "birth_date": None,
            "email": "",
            "gender": "",
            "name": "Karim",
            "phone": "06",
            "relationship": "",
            "relationship_system": "",
            "relationship_text": "",
            "source": ("RelatedPerson", "rp2"),
            "type": "Supporter",
            "uid": "rp2-uid",
        },
    ],
    "type": "ResourceGroup",
    "uid": "team-uid",
    "unreadable": [
        {
            "cancel": False,
            "cancellable": False,
            "key": "CareTeam/t1",
            "part": "deelnemer 7",
            "plans": "",
            "reason": "Het EPD gaf een onbekende code terug.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": False,
            "key": "CareTeam/t1",
            "part": "deelnemer 10",
            "plans": "",
            "reason": "De gegevens hebben een vorm die de app niet kent.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": False,
            "key": "Goal/g3",
            "part": "",
            "plans": "",
            "reason": "Het EPD gaf een onbekende code terug.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": False,
            "key": "Goal/g5",
            "part": "",
            "plans": "",
            "reason": "Er ontbreken gegevens in het EPD.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": False,
            "key": "CarePlan/plan1",
            "part": "activiteit 3",
            "plans": "",
            "reason": "De gegevens hebben een vorm die de app niet kent.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": False,
            "key": "Task/k3",
            "part": "",
            "plans": "",
            "reason": "Het EPD gaf een onbekende code terug.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": True,
            "key": "Appointment/a2",
            "part": "",
            "plans": "meeting",
            "reason": "Een tijdstip in het EPD mist de tijdzone.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": True,
            "key": "Appointment/a4",
            "part": "",
            "plans": "meeting",
            "reason": "Het EPD gaf een onbekende code terug.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": True,
            "key": "Appointment/a6",
            "part": "",
            "plans": "meeting",
            "reason": "Het EPD gaf een onbekende code terug.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": False,
            "key": "Communication/c2",
            "part": "",
            "plans": "",
            "reason": "Het EPD gaf een onbekende code terug.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": False,
            "key": "Observation/o6",
            "part": "",
            "plans": "",
            "reason": "Een voortgangscijfer mist zijn waarde.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": False,
            "key": "Observation/o7",
            "part": "",
            "plans": "",
            "reason": "Er ontbreken gegevens in het EPD.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": False,
            "key": "Observation/None",
            "part": "",
            "plans": "",
            "reason": "De gegevens hebben een vorm die de app niet kent.",
            "type": "Unreadable",
        },
        {
            "cancel": False,
            "cancellable": False,
            "key": "Observation/o20",
            "part": "",
            "plans": "",
            "reason": "De gegevens hebben een vorm die de app niet kent.",
            "type": "Unreadable",
        },
    ],
    "wishes": [
        {
            "by": "Patient/p1",
            "chair": None,
            "kind": "bijeenkomst",
            "meeting_uid": None,
            "place": "",
            "sent": "2026-03-05T08:00:00+00:00",
            "source": ("Communication", "c3"),
            "status": "in-progress",
            "text": "",
            "theme": "anders",
            "type": "Wish",
            "uid": "Communication/c3",
        }
    ],
}


EXPECTED_INDEX: Any = {
    "by_ref": {
        "Appointment/a1": "a1-uid",
        "Appointment/a2": "Appointment/a2",
        "Appointment/a3": "Appointment/a3",
        "Appointment/a4": "Appointment/a4",
        "Appointment/a5": "Appointment/a5",
        "Appointment/a6": "Appointment/a6",
        "Appointment/a7": "Appointment/a7",
        "CarePlan/plan1": "plan-uid",
        "CareTeam/t1": "team-uid",
        "Communication/c1": "Communication/c1",
        "Communication/c2": "Communication/c2",
        "Communication/c3": "Communication/c3",
        "Goal/g1": "g1-uid",
        "Goal/g2": "Goal/g2",
        "Goal/g3": "g3-uid",
        "Goal/g4": "Goal/g4",
        "Goal/g5": "Goal/g5",
        "Location/loc1": "Location/loc1",
        "Observation/o1": "Observation/o1",
        "Observation/o11": "Observation/o11",
        "Observation/o12": "Observation/o12",
        "Observation/o13": "Observation/o13",
        "Observation/o14": "Observation/o14",
        "Observation/o16": "Observation/o16",
        "Observation/o18": "Observation/o18",
        "Observation/o19": "Observation/o19",
        "Observation/o2": "Observation/o2",
        "Observation/o20": "Observation/o20",
        "Observation/o3": "Observation/o3",
        "Observation/o4": "Observation/o4",
        "Observation/o5": "Observation/o5",
        "Observation/o6": "Observation/o6",
        "Observation/o7": "Observation/o7",
        "Observation/o8": "Observation/o8",
        "Observation/o9": "Observation/o9",
        "Observation/o9b": "Observation/o9b",
        "Patient/p1": "Patient/p1",
        "Practitioner/pr1": "Practitioner/pr1",
        "RelatedPerson/rp1": "RelatedPerson/rp1",
        "RelatedPerson/rp2": "rp2-uid",
        "RelatedPerson/rp3": "RelatedPerson/rp3",
        "Task/k1": "Task/k1",
        "Task/k2": "Task/k2",
        "Task/k3": "Task/k3",
        "Task/k4": "Task/k4",
        "Task/k6": "Task/k6",
        "urn:uuid:Appointment/a2": "Appointment/a2",
        "urn:uuid:Appointment/a3": "Appointment/a3",
        "urn:uuid:Appointment/a4": "Appointment/a4",
        "urn:uuid:Appointment/a5": "Appointment/a5",
        "urn:uuid:Appointment/a6": "Appointment/a6",
        "urn:uuid:Appointment/a7": "Appointment/a7",
        "urn:uuid:Communication/c1": "Communication/c1",
        "urn:uuid:Communication/c2": "Communication/c2",
        "urn:uuid:Communication/c3": "Communication/c3",
        "urn:uuid:Goal/g2": "Goal/g2",
        "urn:uuid:Goal/g4": "Goal/g4",
        "urn:uuid:Goal/g5": "Goal/g5",
        "urn:uuid:Location/loc1": "Location/loc1",
        "urn:uuid:Observation/o1": "Observation/o1",
        "urn:uuid:Observation/o11": "Observation/o11",
        "urn:uuid:Observation/o12": "Observation/o12",
        "urn:uuid:Observation/o13": "Observation/o13",
        "urn:uuid:Observation/o14": "Observation/o14",
        "urn:uuid:Observation/o16": "Observation/o16",
        "urn:uuid:Observation/o18": "Observation/o18",
        "urn:uuid:Observation/o19": "Observation/o19",
        "urn:uuid:Observation/o2": "Observation/o2",
        "urn:uuid:Observation/o20": "Observation/o20",
        "urn:uuid:Observation/o3": "Observation/o3",
        "urn:uuid:Observation/o4": "Observation/o4",
        "urn:uuid:Observation/o5": "Observation/o5",
        "urn:uuid:Observation/o6": "Observation/o6",
        "urn:uuid:Observation/o7": "Observation/o7",
        "urn:uuid:Observation/o8": "Observation/o8",
        "urn:uuid:Observation/o9": "Observation/o9",
        "urn:uuid:Observation/o9b": "Observation/o9b",
        "urn:uuid:Patient/p1": "Patient/p1",
        "urn:uuid:Practitioner/pr1": "Practitioner/pr1",
        "urn:uuid:RelatedPerson/rp1": "RelatedPerson/rp1",
        "urn:uuid:RelatedPerson/rp3": "RelatedPerson/rp3",
        "urn:uuid:Task/k1": "Task/k1",
        "urn:uuid:Task/k2": "Task/k2",
        "urn:uuid:Task/k3": "Task/k3",
        "urn:uuid:Task/k4": "Task/k4",
        "urn:uuid:Task/k6": "Task/k6",
        "urn:uuid:a1-uid": "a1-uid",
        "urn:uuid:g1-uid": "g1-uid",
        "urn:uuid:g3-uid": "g3-uid",
        "urn:uuid:o15-uid": "o15-uid",
        "urn:uuid:plan-uid": "plan-uid",
        "urn:uuid:rp2-uid": "rp2-uid",
        "urn:uuid:team-uid": "team-uid",
    },
    "by_uid": {
        "Appointment/a2": "Appointment/a2",
        "Appointment/a3": "Appointment/a3",
        "Appointment/a4": "Appointment/a4",
        "Appointment/a5": "Appointment/a5",
        "Appointment/a6": "Appointment/a6",
        "Appointment/a7": "Appointment/a7",
        "Communication/c1": "Communication/c1",
        "Communication/c2": "Communication/c2",
        "Communication/c3": "Communication/c3",
        "Goal/g2": "Goal/g2",
        "Goal/g4": "Goal/g4",
        "Goal/g5": "Goal/g5",
        "Location/loc1": "Location/loc1",
        "Observation/o1": "Observation/o1",
        "Observation/o11": "Observation/o11",
        "Observation/o12": "Observation/o12",
        "Observation/o13": "Observation/o13",
        "Observation/o14": "Observation/o14",
        "Observation/o16": "Observation/o16",
        "Observation/o18": "Observation/o18",
        "Observation/o19": "Observation/o19",
        "Observation/o2": "Observation/o2",
        "Observation/o20": "Observation/o20",
        "Observation/o3": "Observation/o3",
        "Observation/o4": "Observation/o4",
        "Observation/o5": "Observation/o5",
        "Observation/o6": "Observation/o6",
        "Observation/o7": "Observation/o7",
        "Observation/o8": "Observation/o8",
        "Observation/o9": "Observation/o9",
        "Observation/o9b": "Observation/o9b",
        "Patient/p1": "Patient/p1",
        "Practitioner/pr1": "Practitioner/pr1",
        "RelatedPerson/rp1": "RelatedPerson/rp1",
        "RelatedPerson/rp3": "RelatedPerson/rp3",
        "Task/k1": "Task/k1",
        "Task/k2": "Task/k2",
        "Task/k3": "Task/k3",
        "Task/k4": "Task/k4",
        "Task/k6": "Task/k6",
        "a1-uid": "Appointment/a1",
        "g1-uid": "Goal/g1",
        "g3-uid": "Goal/g3",
        "plan-uid": "CarePlan/plan1",
        "rp2-uid": "RelatedPerson/rp2",
        "team-uid": "CareTeam/t1",
    },
}


EXPECTED_NOTED: Any = [
    [
        "CareTeam/t1 participant 6",
        "MappingError",
        "unknown code 'xx' for CareTeam.participant.role; allowed: regisseur, regieondersteuner, lid",
    ],
    ["CareTeam/t1 participant 9", "AttributeError", "'str' object has no attribute 'get'"],
    [
        "Goal/g3",
        "MappingError",
        "unknown code 'xyz' for life area; allowed: wonen, dagbesteding-werk, sport-bewegen, geld, sociale-contacten, "
        "gezondheid-gevoel, anders",
    ],
    ["Goal/g5", "MappingError", "Goal/g5 lacks required element lifecycleStatus"],
    ["CarePlan/plan1 activity 2", "AttributeError", "'str' object has no attribute 'get'"],
    [
        "Task/k3",
        "MappingError",
        "unknown code 'weird' for Task.status; allowed: requested, accepted, in-progress, completed, cancelled",
    ],
    ["Appointment/a2", "MappingError", "dateTime '2026-03-10T10:00:00' without a zone in Appointment.start"],
    [
        "Appointment/a4",
        "MappingError",
        "unknown code 'onbekend' for meeting role; allowed: voorzitter, notulist, tijdbewaker",
    ],
    [
        "Appointment/a6",
        "MappingError",
        "unknown code 'maybe' for Appointment.participant.status; allowed: accepted, declined, tentative, needs-action",
    ],
    [
        "Communication/c2",
        "MappingError",
        "unknown code 'besproken' for section; allowed: verwachtingen, inzet, relatie, bijdrage, samenvatting, "
        "besluiten, overig, plaats, voorzitter, toelichting",
    ],
    ["Observation/o6", "MappingError", "Observation/o6 has no valueInteger"],
    ["Observation/o7", "MappingError", "Observation/o7 lacks required element effectiveDateTime"],
    ["Observation/None", "ValueError", "a resource without id or product identifier cannot be referred to"],
    ["Observation/o20", "AttributeError", "'str' object has no attribute 'get'"],
]


EXPECTED_SUMMARY: Any = {
    "after_treatment_since": None,
    "agreements": [
        {
            "created": None,
            "description": "Bellen",
            "due": "2026-04-01",
            "goal_uid": "Goal/g1",
            "notes": [],
            "owner": None,
            "source": ("Task", "k1"),
            "status": "requested",
            "type": "Agreement",
            "uid": "Task/k1",
        },
        {
            "created": None,
            "description": "Fietsen",
            "due": None,
            "goal_uid": "urn:uuid:g1-uid",
            "notes": [
                {
                    "author": "Practitioner/pr1",
                    "source": (None, None),
                    "text": "klaar",
                    "time": "2026-03-05T00:00:00+00:00",
                    "type": "Note",
                }
            ],
            "owner": "RelatedPerson/rp1",
            "source": ("Task", "k2"),
            "status": "completed",
            "type": "Agreement",
            "uid": "Task/k2",
        },
    ],
    "end": None,
    "goals": [],
    "interviews": [
        {
            "appointment_source": ("Appointment", "a3"),
            "appointment_uid": "Appointment/a3",
            "cancelled": False,
            "held_at": None,
            "interviewer": None,
            "member_uid": "#2",
            "planned_at": None,
            "planned_start": "2026-03-11T14:00:00+00:00",
            "sections": {},
            "source": None,
            "type": "NominationInterview",
            "uid": "",
            "visibility": None,
        },
        {
            "appointment_source": ("Appointment", "a7"),
            "appointment_uid": "Appointment/a7",
            "cancelled": False,
            "held_at": None,
            "interviewer": None,
            "member_uid": "#3",
            "planned_at": None,
            "planned_start": "2026-03-12T14:00:00+00:00",
            "sections": {},
            "source": None,
            "type": "NominationInterview",
            "uid": "",
            "visibility": None,
        },
    ],
    "meetings": [
        {
            "agenda": None,
            "created": "2026-03-01T00:00:00+00:00",
            "invitations": [],
            "minutes": 90,
            "participants": [
                {
                    "attended": True,
                    "response": "accepted",
                    "roles": ["voorzitter"],
                    "type": "MeetingParticipant",
                    "who": "Patient/p1",
                },
                {
                    "attended": False,
                    "response": "needs-action",
                    "roles": ["notulist"],
                    "type": "MeetingParticipant",
                    "who": "Practitioner/pr1",
                },
                {
                    "attended": False,
                    "response": "tentative",
                    "roles": [],
                    "type": "MeetingParticipant",
                    "who": "RelatedPerson/rp1",
                },
                {
                    "attended": True,
                    "response": "declined",
                    "roles": [],
                    "type": "MeetingParticipant",
                    "who": "urn:uuid:rp2-uid",
                },
            ],
            "place_uid": "Location/loc1",
            "report": None,
            "source": ("Appointment", "a1"),
            "start": "2026-03-09T10:00:00+01:00",
            "status": "fulfilled",
            "theme": None,
            "theme_text": "Vrije tekst",
            "type": "Meeting",
            "uid": "a1-uid",
        }
    ],
    "members": [
        {
            "core": False,
            "display": "Sanne",
            "end": None,
            "joined": None,
            "nomination": "lid",
            "practitioner": None,
            "proposed_by": None,
            "reason": "",
            "roles": ["regisseur"],
            "start": None,
            "type": "Member",
            "uid": "#0",
            "who": "Patient/p1",
        },
        {
            "core": True,
            "display": "Practitioner/pr1",
            "end": None,
            "joined": None,
            "nomination": "lid",
            "practitioner": None,
            "proposed_by": None,
            "reason": "",
            "roles": ["regieondersteuner"],
            "start": None,
            "type": "Member",
            "uid": "pr1-part",
            "who": "Practitioner/pr1",
        },
        {
            "core": False,
            "display": "http://ehr.example/fhir/RelatedPerson/rp1",
            "end": None,
            "joined": None,
            "nomination": "lid",
            "practitioner": None,
            "proposed_by": None,
            "reason": "",
            "roles": ["lid"],
            "start": None,
            "type": "Member",
            "uid": "#2",
            "who": "RelatedPerson/rp1",
        },
        {
            "core": False,
            "display": "urn:uuid:rp2-uid",
            "end": None,
            "joined": None,
            "nomination": "lid",
            "practitioner": None,
            "proposed_by": None,
            "reason": "",
            "roles": ["lid"],
            "start": None,
            "type": "Member",
            "uid": "#3",
            "who": "urn:uuid:rp2-uid",
        },
        {
            "core": False,
            "display": "Coach",
            "end": None,
            "joined": None,
            "nomination": "lid",
            "practitioner": "Practitioner/pr2",
            "proposed_by": None,
            "reason": "",
            "roles": ["lid"],
            "start": None,
            "type": "Member",
            "uid": "#7",
            "who": "PractitionerRole/role1",
        },
    ],
    "name": "Team Sanne",
    "patient": "Patient/p1",
    "places": [
        {"address": "", "name": "", "source": None, "type": "Place", "uid": "Location/loc1"},
        {"address": "", "name": "Buurthuis", "source": None, "type": "Place", "uid": "Location/elsewhere"},
    ],
    "plan_source": ("CarePlan", "plan1"),
    "plan_uid": "plan-uid",
    "progress": [],
    "source": ("CareTeam", "t1"),
    "start": None,
    "status": "active",
    "status_changes": [],
    "supporters": [],
    "type": "ResourceGroup",
    "uid": "team-uid",
    "unreadable": [],
    "wishes": [],
}


EXPECTED_SUMMARY_INDEX: Any = {
    "by_ref": {
        "Appointment/a1": "a1-uid",
        "Appointment/a2": "Appointment/a2",
        "Appointment/a3": "Appointment/a3",
        "Appointment/a4": "Appointment/a4",
        "Appointment/a5": "Appointment/a5",
        "Appointment/a6": "Appointment/a6",
        "Appointment/a7": "Appointment/a7",
        "CarePlan/plan1": "plan-uid",
        "CareTeam/t1": "team-uid",
        "Task/k1": "Task/k1",
        "Task/k2": "Task/k2",
        "Task/k3": "Task/k3",
        "Task/k4": "Task/k4",
        "Task/k6": "Task/k6",
        "urn:uuid:Appointment/a2": "Appointment/a2",
        "urn:uuid:Appointment/a3": "Appointment/a3",
        "urn:uuid:Appointment/a4": "Appointment/a4",
        "urn:uuid:Appointment/a5": "Appointment/a5",
        "urn:uuid:Appointment/a6": "Appointment/a6",
        "urn:uuid:Appointment/a7": "Appointment/a7",
        "urn:uuid:Task/k1": "Task/k1",
        "urn:uuid:Task/k2": "Task/k2",
        "urn:uuid:Task/k3": "Task/k3",
        "urn:uuid:Task/k4": "Task/k4",
        "urn:uuid:Task/k6": "Task/k6",
        "urn:uuid:a1-uid": "a1-uid",
        "urn:uuid:plan-uid": "plan-uid",
        "urn:uuid:team-uid": "team-uid",
    },
    "by_uid": {
        "Appointment/a2": "Appointment/a2",
        "Appointment/a3": "Appointment/a3",
        "Appointment/a4": "Appointment/a4",
        "Appointment/a5": "Appointment/a5",
        "Appointment/a6": "Appointment/a6",
        "Appointment/a7": "Appointment/a7",
        "Task/k1": "Task/k1",
        "Task/k2": "Task/k2",
        "Task/k3": "Task/k3",
        "Task/k4": "Task/k4",
        "Task/k6": "Task/k6",
        "a1-uid": "Appointment/a1",
        "plan-uid": "CarePlan/plan1",
        "team-uid": "CareTeam/t1",
    },
}


EXPECTED_SUMMARY_NOTED: Any = [
    [
        "CareTeam/t1 participant 6",
        "MappingError",
        "unknown code 'xx' for CareTeam.participant.role; allowed: regisseur, regieondersteuner, lid",
    ],
    ["CareTeam/t1 participant 9", "AttributeError", "'str' object has no attribute 'get'"],
    ["CarePlan/plan1 activity 2", "AttributeError", "'str' object has no attribute 'get'"],
    [
        "Task/k3",
        "MappingError",
        "unknown code 'weird' for Task.status; allowed: requested, accepted, in-progress, completed, cancelled",
    ],
    ["Appointment/a2", "MappingError", "dateTime '2026-03-10T10:00:00' without a zone in Appointment.start"],
    [
        "Appointment/a4",
        "MappingError",
        "unknown code 'onbekend' for meeting role; allowed: voorzitter, notulist, tijdbewaker",
    ],
    [
        "Appointment/a6",
        "MappingError",
        "unknown code 'maybe' for Appointment.participant.status; allowed: accepted, declined, tentative, needs-action",
    ],
]


EXPECTED_STRICT_ERROR: Any = (
    "unknown code 'xx' for CareTeam.participant.role; allowed: regisseur, regieondersteuner, lid"
)
