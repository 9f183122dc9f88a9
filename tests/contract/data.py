"""A complete resource group (and a second patient's data) written in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

PRODUCT = "https://resourcegroep.example/fhir/CodeSystem/resourcegroep"
IDENT = "https://resourcegroep.example/fhir/NamingSystem/id"


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def code(c: str) -> dict[str, Any]:
    return {"coding": [{"system": PRODUCT, "code": c}]}


@dataclass
class Group:
    """What was written: 'Type/id' per role, and every resource of the group."""

    refs: dict[str, str] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    tag: str = ""

    def id(self, role: str) -> str:
        return self.refs[role].split("/", 1)[1]


def group_entries(tag: str, mrn: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Transaction entries for one patient's full group; returns (entries, the role of each entry)."""
    u = {
        role: _urn()
        for role in (
            "patient",
            "practitioner",
            "practitioner2",
            "related",
            "location",
            "team",
            "plan",
            "goal_long",
            "goal_short",
            "task1",
            "task2",
            "meeting_past",
            "meeting_next",
            "agenda",
            "report",
            "interview",
            "progress",
            "provenance",
        )
    }

    def ident(role: str) -> list[dict[str, str]]:
        return [{"system": IDENT, "value": f"{tag}-{role}"}]

    res: dict[str, dict[str, Any]] = {
        "patient": {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": mrn}],
            "name": [{"family": f"Jansen{tag}", "given": ["Anna"]}],
            "gender": "female",
            "birthDate": "1985-04-12",
        },
        "practitioner": {
            "resourceType": "Practitioner",
            "identifier": ident("practitioner"),
            "name": [{"family": f"deVries{tag}", "given": ["Pieter"]}],
        },
        "practitioner2": {
            "resourceType": "Practitioner",
            "identifier": ident("practitioner2"),
            "name": [{"family": f"Bakker{tag}", "given": ["Sanne"]}],
        },
        "related": {
            "resourceType": "RelatedPerson",
            "identifier": ident("related"),
            "patient": {"reference": u["patient"]},
            "relationship": [
                {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "SIS"}]}
            ],
            "name": [{"family": "Jansen", "given": ["Els"]}],
        },
        "location": {
            "resourceType": "Location",
            "identifier": ident("location"),
            "status": "active",
            "name": f"Spreekkamer {tag}",
        },
        "team": {
            "resourceType": "CareTeam",
            "identifier": ident("team"),
            "status": "active",
            "name": "Mijn resourcegroep",
            "subject": {"reference": u["patient"]},
            "period": {"start": "2026-01-05"},
            "participant": [
                {"role": [code("regisseur")], "member": {"reference": u["patient"]}},
                {"role": [code("regieondersteuner")], "member": {"reference": u["practitioner"]}},
                {"role": [code("lid")], "member": {"reference": u["related"]}},
                {"role": [code("lid")], "member": {"reference": u["practitioner2"]}},
            ],
        },
        "goal_long": {
            "resourceType": "Goal",
            "identifier": ident("goal_long"),
            "lifecycleStatus": "active",
            "category": [code("wonen")],
            "description": {"text": "Zelfstandig wonen"},
            "subject": {"reference": u["patient"]},
            "startDate": "2026-01-10",
            "target": [{"dueDate": "2027-01-10"}],
        },
        "goal_short": {
            "resourceType": "Goal",
            "identifier": ident("goal_short"),
            "lifecycleStatus": "proposed",
            "category": [code("wonen")],
            "description": {"text": "Woningen bekijken"},
            "subject": {"reference": u["patient"]},
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/goal-relationship",
                    "extension": [
                        {
                            "url": "type",
                            "valueCodeableConcept": {
                                "coding": [
                                    {"system": "http://hl7.org/fhir/goal-relationship-type", "code": "milestone"}
                                ]
                            },
                        },
                        {"url": "target", "valueReference": {"reference": u["goal_long"]}},
                    ],
                }
            ],
        },
        "plan": {
            "resourceType": "CarePlan",
            "identifier": ident("plan"),
            "status": "active",
            "intent": "plan",
            "category": [code("resourcegroepplan")],
            "title": "Mijn resourcegroep",
            "subject": {"reference": u["patient"]},
            "period": {"start": "2026-01-05"},
            "careTeam": [{"reference": u["team"]}],
            "goal": [{"reference": u["goal_long"]}, {"reference": u["goal_short"]}],
            "activity": [{"reference": {"reference": u["task1"]}}, {"reference": {"reference": u["task2"]}}],
        },
        "task1": {
            "resourceType": "Task",
            "identifier": ident("task1"),
            "status": "requested",
            "intent": "plan",
            "for": {"reference": u["patient"]},
            "focus": {"reference": u["goal_short"]},
            "owner": {"reference": u["related"]},
            "basedOn": [{"reference": u["plan"]}],
            "description": "Samen twee woningen bekijken",
            "restriction": {"period": {"end": "2026-03-01"}},
        },
        "task2": {
            "resourceType": "Task",
            "identifier": ident("task2"),
            "status": "completed",
            "intent": "plan",
            "for": {"reference": u["patient"]},
            "focus": {"reference": u["goal_long"]},
            "owner": {"reference": u["practitioner"]},
            "basedOn": [{"reference": u["plan"]}],
            "description": "Aanmelding woningcorporatie",
        },
        "meeting_past": {
            "resourceType": "Appointment",
            "identifier": ident("meeting_past"),
            "status": "fulfilled",
            "serviceType": [code("resourcegroepbijeenkomst")],
            "start": "2026-02-01T14:00:00Z",
            "end": "2026-02-01T15:00:00Z",
            "supportingInformation": [{"reference": u["plan"]}],
            "participant": [
                {"actor": {"reference": u["patient"]}, "status": "accepted"},
                {"actor": {"reference": u["practitioner"]}, "status": "accepted"},
                {"actor": {"reference": u["related"]}, "status": "accepted"},
                {"actor": {"reference": u["location"]}, "status": "accepted"},
            ],
        },
        "meeting_next": {
            "resourceType": "Appointment",
            "identifier": ident("meeting_next"),
            "status": "proposed",
            "serviceType": [code("resourcegroepbijeenkomst")],
            "start": "2026-05-01T14:00:00Z",
            "end": "2026-05-01T15:00:00Z",
            "supportingInformation": [{"reference": u["plan"]}],
            "participant": [
                {"actor": {"reference": u["patient"]}, "status": "needs-action"},
                {"actor": {"reference": u["practitioner2"]}, "status": "tentative"},
            ],
        },
        "agenda": {
            "resourceType": "Communication",
            "identifier": ident("agenda"),
            "status": "preparation",
            "category": [code("agenda")],
            "subject": {"reference": u["patient"]},
            "basedOn": [{"reference": u["plan"]}],
            "partOf": [{"reference": u["meeting_next"]}],
            "payload": [{"contentString": "Terugblik"}, {"contentReference": {"reference": u["goal_short"]}}],
        },
        "report": {
            "resourceType": "Communication",
            "identifier": ident("report"),
            "status": "completed",
            "category": [code("verslag")],
            "subject": {"reference": u["patient"]},
            "partOf": [{"reference": u["meeting_past"]}],
            "recipient": [{"reference": u["team"]}],
            "about": [{"reference": u["goal_long"]}],
            "sent": "2026-02-02T09:00:00Z",
            "payload": [{"contentString": "Goed gesprek gehad."}],
        },
        "interview": {
            "resourceType": "Communication",
            "identifier": ident("interview"),
            "status": "completed",
            "category": [code("nominatiegesprek")],
            "subject": {"reference": u["patient"]},
            "basedOn": [{"reference": u["plan"]}],
            "about": [{"reference": u["related"]}],
            "sender": {"reference": u["practitioner"]},
            "payload": [{"contentString": "Verwachtingen besproken."}],
        },
        "progress": {
            "resourceType": "Observation",
            "identifier": ident("progress"),
            "status": "final",
            "code": code("doelvoortgang"),
            "subject": {"reference": u["patient"]},
            "focus": [{"reference": u["goal_long"]}],
            "effectiveDateTime": "2026-02-01T15:00:00Z",
            "valueInteger": 6,
        },
        "provenance": {
            "resourceType": "Provenance",
            "target": [{"reference": u["plan"]}, {"reference": u["goal_long"]}],
            "recorded": "2026-02-01T15:05:00Z",
            "agent": [{"who": {"reference": u["practitioner"]}}],
        },
    }
    entries = [
        {"fullUrl": u[role], "resource": body, "request": {"method": "POST", "url": body["resourceType"]}}
        for role, body in res.items()
    ]
    return entries, list(res)


def write_group(fhir: Any, tag: str) -> Group:
    """Write one full group in one transaction and return what the server stored."""
    mrn = f"MRN-{tag}"
    entries, roles = group_entries(tag, mrn)
    r = fhir.transaction(entries)
    assert r.status_code == 200, r.text[:1000]
    bundle = r.json()
    group = Group(tag=tag)
    for role, entry in zip(roles, bundle["entry"], strict=True):
        resource = entry["resource"]
        group.refs[role] = f"{resource['resourceType']}/{resource['id']}"
        group.resources[role] = resource
    return group
