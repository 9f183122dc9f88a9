"""Search parameters the sandbox store supports, per resource type (FHIR R4 definitions, subset).

Each parameter names the JSON paths it indexes. The store extracts values along those paths
when a resource is written and keeps them in side tables, so searches never scan JSON.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SearchParam:
    """One search parameter: its FHIR type and where its values live in the resource."""

    name: str
    type: str  # "token" | "reference" | "date" | "string"
    paths: tuple[str, ...]
    targets: tuple[str, ...] | None = None  # reference target types; None = any type
    description: str = ""


def _p(name: str, type_: str, *paths: str, targets: tuple[str, ...] | None = None) -> SearchParam:
    return SearchParam(name, type_, paths, targets)


_PATIENT = ("Patient",)
_PERSONS = ("Patient", "Practitioner", "PractitionerRole", "RelatedPerson", "Organization", "CareTeam", "Device")

# Parameters every type has. `_id` and `_lastUpdated` are handled by the store's own columns.
COMMON_PARAMS: dict[str, SearchParam] = {
    "_id": _p("_id", "token", "id"),
    "_lastUpdated": _p("_lastUpdated", "date", "meta.lastUpdated"),
    # A save's idempotency key travels as a Provenance tag: replay finds an earlier commit with `_tag`.
    "_tag": _p("_tag", "token", "meta.tag"),
}

# The R4 definitions of the parameters the app (and the demo) use.
SEARCH_PARAMS: dict[str, dict[str, SearchParam]] = {
    "Patient": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("name", "string", "name"),
            _p("family", "string", "name.family"),
            _p("given", "string", "name.given"),
            _p("birthdate", "date", "birthDate"),
            _p("gender", "token", "gender"),
            _p("active", "token", "active"),
            _p("general-practitioner", "reference", "generalPractitioner"),
            _p("organization", "reference", "managingOrganization", targets=("Organization",)),
        )
    },
    "Practitioner": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("name", "string", "name"),
            _p("family", "string", "name.family"),
            _p("given", "string", "name.given"),
            _p("active", "token", "active"),
        )
    },
    "PractitionerRole": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("practitioner", "reference", "practitioner", targets=("Practitioner",)),
            _p("organization", "reference", "organization", targets=("Organization",)),
            _p("role", "token", "code"),
            _p("specialty", "token", "specialty"),
            _p("active", "token", "active"),
        )
    },
    "RelatedPerson": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("patient", "reference", "patient", targets=_PATIENT),
            _p("name", "string", "name"),
            _p("relationship", "token", "relationship"),
            _p("active", "token", "active"),
        )
    },
    "Organization": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("name", "string", "name", "alias"),
            _p("active", "token", "active"),
        )
    },
    "Location": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("name", "string", "name", "alias"),
            _p("status", "token", "status"),
            _p("organization", "reference", "managingOrganization", targets=("Organization",)),
        )
    },
    "CareTeam": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("patient", "reference", "subject", targets=_PATIENT),
            _p("subject", "reference", "subject", targets=("Patient", "Group")),
            _p("status", "token", "status"),
            _p("category", "token", "category"),
            _p("participant", "reference", "participant.member", targets=_PERSONS),
            _p("date", "date", "period"),
        )
    },
    "CarePlan": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("patient", "reference", "subject", targets=_PATIENT),
            _p("subject", "reference", "subject", targets=("Patient", "Group")),
            _p("status", "token", "status"),
            _p("intent", "token", "intent"),
            _p("category", "token", "category"),
            _p("care-team", "reference", "careTeam", targets=("CareTeam",)),
            _p("goal", "reference", "goal", targets=("Goal",)),
            _p("activity-reference", "reference", "activity.reference"),
            _p("based-on", "reference", "basedOn", targets=("CarePlan",)),
            _p("part-of", "reference", "partOf", targets=("CarePlan",)),
            _p("replaces", "reference", "replaces", targets=("CarePlan",)),
            _p("date", "date", "period"),
        )
    },
    "Goal": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("patient", "reference", "subject", targets=_PATIENT),
            _p("subject", "reference", "subject", targets=("Patient", "Group", "Organization")),
            _p("lifecycle-status", "token", "lifecycleStatus"),
            _p("achievement-status", "token", "achievementStatus"),
            _p("category", "token", "category"),
            _p("start-date", "date", "startDate"),
            _p("target-date", "date", "target.dueDate"),
        )
    },
    "Task": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("patient", "reference", "for", targets=_PATIENT),
            _p("subject", "reference", "for"),
            _p("based-on", "reference", "basedOn"),
            _p("part-of", "reference", "partOf", targets=("Task",)),
            _p("focus", "reference", "focus"),
            _p("owner", "reference", "owner"),
            _p("requester", "reference", "requester"),
            _p("status", "token", "status"),
            _p("intent", "token", "intent"),
            _p("code", "token", "code"),
            _p("authored-on", "date", "authoredOn"),
            _p("modified", "date", "lastModified"),
            _p("period", "date", "executionPeriod"),
        )
    },
    "Appointment": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("patient", "reference", "participant.actor", targets=_PATIENT),
            _p("practitioner", "reference", "participant.actor", targets=("Practitioner",)),
            _p("location", "reference", "participant.actor", targets=("Location",)),
            _p("actor", "reference", "participant.actor"),
            _p("part-status", "token", "participant.status"),
            _p("status", "token", "status"),
            _p("date", "date", "start"),
            _p("service-type", "token", "serviceType"),
            _p("appointment-type", "token", "appointmentType"),
            _p("reason-code", "token", "reasonCode"),
            _p("supporting-info", "reference", "supportingInformation"),
        )
    },
    "Communication": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("patient", "reference", "subject", targets=_PATIENT),
            _p("subject", "reference", "subject", targets=("Patient", "Group")),
            _p("based-on", "reference", "basedOn"),
            _p("part-of", "reference", "partOf"),
            _p("category", "token", "category"),
            _p("status", "token", "status"),
            _p("recipient", "reference", "recipient"),
            _p("sender", "reference", "sender"),
            _p("sent", "date", "sent"),
            _p("received", "date", "received"),
        )
    },
    "Observation": {
        p.name: p
        for p in (
            _p("identifier", "token", "identifier"),
            _p("patient", "reference", "subject", targets=_PATIENT),
            _p("subject", "reference", "subject"),
            _p("focus", "reference", "focus"),
            _p("code", "token", "code"),
            _p("category", "token", "category"),
            _p("status", "token", "status"),
            _p("based-on", "reference", "basedOn"),
            _p("performer", "reference", "performer"),
            _p("date", "date", "effectiveDateTime", "effectivePeriod", "effectiveInstant"),
        )
    },
    "Provenance": {
        p.name: p
        for p in (
            _p("target", "reference", "target"),
            _p("patient", "reference", "target", targets=_PATIENT),
            _p("agent", "reference", "agent.who"),
            _p("recorded", "date", "recorded"),
        )
    },
    "AuditEvent": {
        p.name: p
        for p in (
            _p("date", "date", "recorded"),
            _p("type", "token", "type"),
            _p("subtype", "token", "subtype"),
            _p("action", "token", "action"),
            _p("outcome", "token", "outcome"),
            _p("agent", "reference", "agent.who"),
            _p("entity", "reference", "entity.what"),
            _p("patient", "reference", "agent.who", "entity.what", targets=_PATIENT),
        )
    },
}

SUPPORTED_TYPES: tuple[str, ...] = tuple(sorted(SEARCH_PARAMS))

# Types whose instances belong to one patient (the R4 patient compartment, plus Task.for).
# The fields listed hold the owning patient; a patient-context token only sees its own.
COMPARTMENT_OWNER_PATHS: dict[str, tuple[str, ...]] = {
    "RelatedPerson": ("patient",),
    "CareTeam": ("subject",),
    "CarePlan": ("subject",),
    "Goal": ("subject",),
    "Task": ("for",),
    "Appointment": ("participant.actor",),
    "Communication": ("subject",),
    "Observation": ("subject",),
    "Provenance": ("target",),
    "AuditEvent": ("entity.what",),
}

# Result parameters (not filters) that every search accepts.
RESULT_PARAMS = frozenset(
    {"_count", "_offset", "_sort", "_include", "_revinclude", "_summary", "_total", "_format", "_pretty"}
)


def params_for(resource_type: str) -> dict[str, SearchParam]:
    """All filter parameters of a type, common ones included."""
    return {**COMMON_PARAMS, **SEARCH_PARAMS.get(resource_type, {})}


def direct_owners(resource: dict[str, object]) -> tuple[set[str], list[tuple[str, str]]]:
    """Patients a resource names as its owner, plus the non-patient owner references (for Provenance).

    The Patient resource owns itself. The second list holds ("Type", "id") targets that are not
    patients, so a caller with a store can follow them (a Provenance about a Goal belongs to the
    Goal's patient).
    """
    from sandbox.fhir.validation import walk
    from sandbox.fhir.values import split_reference

    rtype = str(resource.get("resourceType", ""))
    if rtype == "Patient":
        return {str(resource.get("id"))}, []
    owners: set[str] = set()
    others: list[tuple[str, str]] = []
    for path in COMPARTMENT_OWNER_PATHS.get(rtype, ()):
        for value in walk(resource, path):
            ref = value.get("reference") if isinstance(value, dict) else None
            target = split_reference(ref) if isinstance(ref, str) else None
            if target is None:
                continue
            if target[0] == "Patient":
                owners.add(target[1])
            else:
                others.append(target)
    return owners, others
