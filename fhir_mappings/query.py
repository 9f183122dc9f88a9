"""What a load must fetch: the search that returns one whole resource group (pure data, no I/O).

Every resource of a group points (directly or through the CarePlan) at the plan, so one CarePlan
search with these includes returns the team, members, goals, agreements, meetings with their
places, agendas, reports, invitations, interviews and progress scores.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fhir_mappings.codes import CS_ARTIFACT, IDENTIFIER_SYSTEM, Artifact
from fhir_mappings.model import day_start


def group_team_params() -> list[tuple[str, str]]:
    """How a search across patients finds the product's group teams in either mapping mode: by the product's
    identifier system (every team carries one; a KT2-mode team has no category, KT2CareTeam forbids it)."""
    return [("identifier", f"{IDENTIFIER_SYSTEM}|")]


# Without includes: what to search per type for one patient (a batch, or one by one), narrowed by the
# product's category code where the resource carries one. The reader keeps only what hangs off the plan.
_BY_PATIENT: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("CarePlan", "subject", (("category", f"{CS_ARTIFACT}|{Artifact.PLAN.value}"),)),
    # No category: a KT2-mode team has none (KT2CareTeam forbids it); the reader keeps the plan's team.
    ("CareTeam", "subject", ()),
    ("Goal", "subject", ()),
    ("Task", "patient", ()),
    ("Observation", "subject", ()),
    (
        "Appointment",
        "patient",
        (("service-type", ",".join(f"{CS_ARTIFACT}|{a.value}" for a in (Artifact.MEETING, Artifact.INTERVIEW))),),
    ),
    (
        "Communication",
        "subject",
        (
            (
                "category",
                ",".join(
                    f"{CS_ARTIFACT}|{a.value}"
                    for a in (
                        Artifact.AGENDA,
                        Artifact.REPORT,
                        Artifact.INVITATION,
                        Artifact.CANCELLATION,
                        Artifact.INTERVIEW,
                    )
                ),
            ),
        ),
    ),
    ("RelatedPerson", "patient", ()),
)

# The progress scores (Observations based on the plan): the bulk of a long-running group.
SCORES_INCLUDE = ("_revinclude", "Observation:based-on")

GROUP_INCLUDES: tuple[tuple[str, str], ...] = (
    ("_include", "CarePlan:care-team"),
    ("_include", "CarePlan:goal"),
    ("_include", "CarePlan:activity-reference"),
    ("_revinclude", "Appointment:supporting-info"),
    ("_revinclude", "Communication:based-on"),
    SCORES_INCLUDE,
    ("_include:iterate", "CareTeam:participant"),
    ("_include:iterate", "Appointment:actor"),
)


def plan_search(patient_id: str) -> list[tuple[str, str]]:
    """Search parameters for the patient's resource group plans (CarePlan), without includes."""
    return [
        ("subject", f"Patient/{patient_id}"),
        ("category", f"{CS_ARTIFACT}|{Artifact.PLAN.value}"),
    ]


def group_load_params(patient_id: str, count: int = 1000, *, scores: bool = True) -> list[tuple[str, str]]:
    """The one search (on CarePlan) that loads every resource of the patient's group(s); without `scores` it leaves
    out the progress scores (a load of the newest scores only asks for those with `newest_scores_params`)."""
    includes = GROUP_INCLUDES if scores else tuple(i for i in GROUP_INCLUDES if i != SCORES_INCLUDE)
    return [*plan_search(patient_id), *includes, ("_count", str(count))]


def newest_scores_params(patient_id: str, count: int) -> list[tuple[str, str]]:
    """The patient's `count` newest progress scores (Observation), newest first: one page, whatever the group's age.

    FHIR has no search for "the newest N per goal" (`$lastn` groups by code, and every score has the same code), so
    this is the newest N of the patient; the reader keeps those of the group's goals. Where the page has a next link
    the load knows there are older ones, and from which day it holds them all.
    """
    return [
        ("subject", f"Patient/{patient_id}"),
        ("code", f"{CS_ARTIFACT}|{Artifact.PROGRESS.value}"),
        ("_sort", "-date"),
        ("_count", str(count)),
    ]


def older_scores_params(patient_id: str, before: datetime, count: int) -> list[tuple[str, str]]:
    """The patient's `count` newest progress scores from before `before` (an aware moment: the start of the first
    day a window holds whole), newest first: the next stretch of a deeper window of newest scores than one page
    holds. Scores of the day before `before` may come again; the reader keeps each once."""
    return _scores_beside(patient_id, "lt", before, "-date", count)


def later_scores_params(patient_id: str, since: datetime, count: int) -> list[tuple[str, str]]:
    """The patient's `count` oldest progress scores from `since` on (an aware moment: the start of a day), oldest
    first: a page of the timeline far back that its newer link led to reads these beside the newest scores."""
    return _scores_beside(patient_id, "ge", since, "date", count)


def _scores_beside(patient_id: str, prefix: str, moment: datetime, order: str, count: int) -> list[tuple[str, str]]:
    if moment.tzinfo is None:
        raise ValueError("the moment must carry a time zone")
    return [
        ("subject", f"Patient/{patient_id}"),
        ("code", f"{CS_ARTIFACT}|{Artifact.PROGRESS.value}"),
        ("date", f"{prefix}{moment.isoformat()}"),
        ("_sort", order),
        ("_count", str(count)),
    ]


def goal_scores_params(patient_id: str, goal_id: str, count: int) -> list[tuple[str, str]]:
    """Every progress score (Observation) of one goal (`goal_id`: the Goal's server id), in pages of `count`: a
    goal's page that shows all of its scores reads these beside the patient's newest scores, not the whole group.
    Within the patient's compartment (`subject`), whatever the id."""
    return [
        ("subject", f"Patient/{patient_id}"),
        ("focus", f"Goal/{goal_id}"),
        ("code", f"{CS_ARTIFACT}|{Artifact.PROGRESS.value}"),
        ("_count", str(count)),
    ]


def day_scores_params(patient_id: str, day: date, count: int) -> list[tuple[str, str]]:
    """Every progress score (Observation) of the patient given on one day (`day`, in the clinic's zone), in pages of
    `count`: an older meeting's report reads these beside the patient's newest scores (a score at a meeting counts
    at the meeting's start), not every score of the group."""
    start, end = day_start(day), day_start(day + timedelta(days=1))
    return [
        ("subject", f"Patient/{patient_id}"),
        ("code", f"{CS_ARTIFACT}|{Artifact.PROGRESS.value}"),
        ("date", f"ge{start.isoformat()}"),
        ("date", f"lt{end.isoformat()}"),
        ("_count", str(count)),
    ]


def counted_scores_params(
    patient_id: str, plan_id: str, end: datetime, start: datetime | None = None, *, oldest: bool = False
) -> list[tuple[str, str]]:
    """How many progress scores of one group (`plan_id`: the CarePlan's server id, the scores' `basedOn`) fall from
    `start` (None: ever) up to, not including, `end` (aware moments: the start of a day in the clinic's zone): a
    timeline page far back asked for by its number finds its place by these counts, not by reading every score.
    Only the total is asked (`_summary=count`); with `oldest` the oldest of them comes too (`_sort=date`, one
    entry, `_total=accurate`), where the counting can start."""
    moments = [m for m in (start, end) if m is not None]
    if any(m.tzinfo is None for m in moments):
        raise ValueError("the moments must carry a time zone")
    params = [
        ("subject", f"Patient/{patient_id}"),
        ("code", f"{CS_ARTIFACT}|{Artifact.PROGRESS.value}"),
        ("based-on", f"CarePlan/{plan_id}"),
    ]
    if start is not None:
        params.append(("date", f"ge{start.isoformat()}"))
    params.append(("date", f"lt{end.isoformat()}"))
    if oldest:
        return [*params, ("_sort", "date"), ("_count", "1"), ("_total", "accurate")]
    return [*params, ("_summary", "count")]


def group_searches_by_patient(patient_id: str, count: int = 1000) -> list[tuple[str, list[tuple[str, str]]]]:
    """The searches (type, parameters) that together find a group without `_include` (batch or sequential).

    Places are not reachable this way: the caller reads the Locations the meetings name afterwards.
    """
    return [
        (rtype, [(param, f"Patient/{patient_id}"), *extra, ("_count", str(count))])
        for rtype, param, extra in _BY_PATIENT
    ]
