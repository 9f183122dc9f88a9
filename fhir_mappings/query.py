"""What a load must fetch: the search that returns one whole resource group (pure data, no I/O).

Every resource of a group points (directly or through the CarePlan) at the plan, so one CarePlan
search with these includes returns the team, members, goals, agreements, meetings with their
places, agendas, reports, invitations, interviews and progress scores.
"""

from __future__ import annotations

from fhir_mappings.codes import CS_ARTIFACT, Artifact

GROUP_INCLUDES: tuple[tuple[str, str], ...] = (
    ("_include", "CarePlan:care-team"),
    ("_include", "CarePlan:goal"),
    ("_include", "CarePlan:activity-reference"),
    ("_revinclude", "Appointment:supporting-info"),
    ("_revinclude", "Communication:based-on"),
    ("_revinclude", "Observation:based-on"),
    ("_include:iterate", "CareTeam:participant"),
    ("_include:iterate", "Appointment:actor"),
)


def plan_search(patient_id: str) -> list[tuple[str, str]]:
    """Search parameters for the patient's resource group plans (CarePlan), without includes."""
    return [
        ("subject", f"Patient/{patient_id}"),
        ("category", f"{CS_ARTIFACT}|{Artifact.PLAN.value}"),
    ]


def group_load_params(patient_id: str, count: int = 1000) -> list[tuple[str, str]]:
    """The one search (on CarePlan) that loads every resource of the patient's group(s)."""
    return [*plan_search(patient_id), *GROUP_INCLUDES, ("_count", str(count))]
