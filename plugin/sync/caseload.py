"""The clinician's caseload: every resource group a practitioner takes part in, with what needs attention.

No clinical data is kept here: everything is read from the clinic's FHIR server on each call, in
at most two HTTP round trips while the practitioner's teams (those left included) fit one page of
``page_size`` (1,000 by default):

1. ``GET CareTeam?participant=<practitioner>&identifier=<product system>|&status=<open states>``
   with ``_include=CareTeam:subject`` (the patients, for their names) and
   ``_revinclude=CarePlan:care-team`` (the RG-plans);
2. one ``batch`` Bundle holding one search per ``page_size`` plans:
   ``CarePlan?_id=<plan ids>`` with ``_include=CarePlan:activity-reference`` (agreements),
   ``_revinclude=Task:based-on`` (agreements that only point back) and
   ``_revinclude=Appointment:supporting-info`` (meetings and nomination interviews).
   A batch carries the ids in its body, so a thousand ids never hit a URL length limit (a
   ``POST CarePlan/_search`` would too, but the client sends JSON bodies only). Each search asks
   for no more plans than ``_count``, and both the sandbox and Medplum page matches, not includes,
   so each answers in one page.

With :class:`PractitionerRoles` (the app's caseload page), the practitioner's active PractitionerRoles are
searched first (``PractitionerRole?practitioner=``; kept per process for 5 minutes) and added to the
participants of round 1: a team may list the person by a role.

A ``next`` link is followed only when the server sends one (a full page) and only when it stays on
the server (:meth:`FhirClient.check_next_link`). A server without ``batch`` gets the plan searches
as plain GETs in small chunks (more round trips; logged as degraded).

This module sorts what comes back: which resources belong to which of the practitioner's groups.
It is strict about the patient compartment: a row is only made for the patient of a CareTeam that
really lists the practitioner, and everything that does not fit that (another patient's plan,
meeting or agreement; a team naming two patients) is skipped and logged by reference, never shown.

Each group is then read into the domain by :func:`fhir_mappings.from_fhir.group_summary_from_fhir`,
the same element readers that open a group, so "a member who left", "the plan of record" or "a
planned interview" mean the same in the caseload as on the group's pages. That read is tolerant: a
resource without the product's codes is ignored, and an element it cannot read (an unknown code, an
unreadable date) is left out of the facts and listed in :attr:`Caseload.unreadable`. The "needs
attention" facts are the domain's own rules (:class:`fhir_mappings.model.ResourceGroup`:
``meeting_due``, ``next_meeting``, ``last_held_meeting``, ``overdue_agreements`` with
``Agreement.is_overdue``; :class:`~fhir_mappings.model.Member` ``.active``; open interviews are the
active members whose nomination is not decided yet, and one needs attention by ``nominee_waits``, the rule of the
group's overview).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any
from urllib.parse import quote, urlencode

from fhir_mappings.codes import CARETEAM_STATUS, Artifact, GroupStatus, MemberRole, NominationState
from fhir_mappings.errors import MappingError
from fhir_mappings.fhirjson import names_display, ref_of
from fhir_mappings.from_fhir import group_summary_from_fhir, is_artifact, is_group_team, plans_in
from fhir_mappings.model import CLINIC_ZONE, NOMINEE_STATES, ResourceGroup
from fhir_mappings.query import group_team_params
from fhir_mappings.refs import PROFESSIONAL_TYPES, RefIndex, literal, other_patient_ref, ref_type
from fhir_mappings.rights import Action, actor_in, visible_to
from plugin.sync.capabilities import ServerCapabilities
from plugin.sync.client import FhirClient, entries_of, entry_status
from plugin.sync.errors import (
    BadRequest,
    Forbidden,
    JsonDict,
    NotFound,
    ServerUnavailable,
    SyncError,
    Unauthorized,
    outcome_issues,
    required_permission,
)

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 1000
# Plan ids per GET when the server takes no batch: keeps each URL well under common 8 KB limits.
GET_CHUNK = 100

_TEAM_STATUS = {v: k for k, v in CARETEAM_STATUS.items()}
_PLAN_INCLUDES: tuple[tuple[str, str], ...] = (
    ("_include", "CarePlan:activity-reference"),
    ("_revinclude", "Task:based-on"),
    ("_revinclude", "Appointment:supporting-info"),
)
# Values in batch entry URLs stay readable; everything else is percent-encoded.
_URL_SAFE = ",:|/"


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class OpenInterview:
    """A nominee not yet decided on: the interview to plan, planned, or held and the decision to take."""

    member: str  # the nominee's reference (CareTeam.participant.member)
    display: str
    state: NominationState  # genomineerd, gesprek-gepland or gesprek-gevoerd
    planned_start: datetime | None = None  # the interview Appointment's start, when one is planned
    waits: bool = False  # the team owes the next step (`ResourceGroup.nominee_waits`): not an interview to come


@dataclass(frozen=True)
class OverdueAgreement:
    """An open agreement (Task) whose due date has passed."""

    task: str  # Task/<id>
    description: str
    due: date
    owner_display: str | None = None


@dataclass(frozen=True)
class CaseloadRow:
    """One resource group the practitioner takes part in, with the facts that may need attention."""

    patient: str  # Patient/<id>
    patient_name: str
    team: str  # CareTeam/<id>
    plan: str | None  # CarePlan/<id>; None when the server holds no RG-plan for the team
    group_name: str
    group_status: GroupStatus
    roles: frozenset[MemberRole]
    core: bool
    last_held_meeting: datetime | None
    next_meeting: datetime | None
    meeting_due: bool
    open_interviews: tuple[OpenInterview, ...] = ()
    overdue_agreements: tuple[OverdueAgreement, ...] = ()

    @property
    def needs_attention(self) -> bool:
        """A meeting is due, a nominee waits for the team's next step, or an agreement is overdue."""
        return self.meeting_due or any(o.waits for o in self.open_interviews) or bool(self.overdue_agreements)


@dataclass(frozen=True)
class Caseload:
    """The practitioner's groups as read just now (never stored)."""

    practitioner: tuple[str, ...]  # the references searched as participant
    as_of: datetime
    rows: tuple[CaseloadRow, ...]
    # References of resources left out because they broke the compartment or did not fit together.
    skipped: tuple[str, ...] = ()
    # Elements left out of the facts because they could not be read (e.g. "Task/k1", "CareTeam/t1 participant 2").
    unreadable: tuple[str, ...] = ()
    round_trips: int = 0  # HTTP requests made, as counted by the client (retries included)
    degraded: bool = False  # the plan searches ran as single GETs because the server takes no batch

    def __len__(self) -> int:
        return len(self.rows)

    def needing_attention(self) -> tuple[CaseloadRow, ...]:
        """The rows with at least one fact that needs attention."""
        return tuple(r for r in self.rows if r.needs_attention)


# --------------------------------------------------------------------------- queries (pure)


def practitioner_references(practitioner: str | Mapping[str, Any]) -> tuple[str, ...]:
    """The participant references that stand for the practitioner.

    A literal reference (``Practitioner/<id>`` or ``PractitionerRole/<id>``, absolute URLs allowed)
    stands for itself. A PractitionerRole resource stands for itself and for its ``practitioner``,
    because a team may list either; a Practitioner resource for itself.
    """
    if isinstance(practitioner, str):
        refs = [literal(practitioner.strip())]
    elif isinstance(practitioner, Mapping):
        rtype, rid = practitioner.get("resourceType"), practitioner.get("id")
        if rtype not in PROFESSIONAL_TYPES or not rid:
            raise ValueError(f"expected a Practitioner or PractitionerRole resource with an id, got {rtype!r}")
        refs = [f"{rtype}/{rid}"]
        if rtype == "PractitionerRole":
            behind = ref_of(practitioner.get("practitioner"))
            if behind is not None and ref_type(behind) == "Practitioner":
                refs.append(literal(behind))
    else:
        raise TypeError(f"practitioner must be a reference or a resource, not {type(practitioner).__name__}")
    for ref in refs:
        parts = ref.split("/")
        if len(parts) != 2 or parts[0] not in PROFESSIONAL_TYPES or not parts[1]:
            raise ValueError(f"not a Practitioner or PractitionerRole reference: {ref!r}")
    return tuple(dict.fromkeys(refs))


def team_statuses(include_ended: bool = False) -> tuple[str, ...]:
    """The CareTeam.status codes searched: every group status except ended, unless asked for."""
    return tuple(code for status, code in CARETEAM_STATUS.items() if include_ended or status is not GroupStatus.ENDED)


def caseload_team_params(
    practitioner: Sequence[str], *, include_ended: bool = False, page_size: int = DEFAULT_PAGE_SIZE
) -> list[tuple[str, str]]:
    """Round 1: the practitioner's product CareTeams, their patients and their plans."""
    return [
        ("participant", ",".join(practitioner)),
        *group_team_params(),
        ("status", ",".join(team_statuses(include_ended))),
        ("_include", "CareTeam:subject"),
        ("_revinclude", "CarePlan:care-team"),
        ("_count", str(page_size)),
    ]


def caseload_plan_params(plan_ids: Sequence[str], *, page_size: int = DEFAULT_PAGE_SIZE) -> list[tuple[str, str]]:
    """Round 2 (one search): the given plans with their agreements and meetings."""
    return [("_id", ",".join(plan_ids)), *_PLAN_INCLUDES, ("_count", str(max(page_size, len(plan_ids))))]


def caseload_plan_batch(plan_ids: Sequence[str], *, page_size: int = DEFAULT_PAGE_SIZE) -> JsonDict:
    """Round 2 as one ``batch`` Bundle: one CarePlan search per ``page_size`` plans."""
    entries = [
        {
            "request": {
                "method": "GET",
                "url": "CarePlan?" + urlencode(caseload_plan_params(chunk, page_size=page_size), safe=_URL_SAFE),
            }
        }
        for chunk in _chunks(list(plan_ids), page_size)
    ]
    return {"resourceType": "Bundle", "type": "batch", "entry": entries}


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------- loading


class PractitionerRoles:
    """A practitioner's PractitionerRoles per FHIR server, looked up at most once per ``ttl`` seconds per process.

    A team may list a professional by one of their PractitionerRoles (the app's own member picker offers them,
    and EHRs on nl-core often do) while the launch names the Practitioner, or the other way round; the group
    pages count every role of the person as them (`fhir_mappings.rights.member_ref`), so the caseload searches
    for them all. Roles change rarely and are no patient data: the answer is kept (by server and
    practitioner) so a caseload costs its two round trips again after its first view. A server that refuses
    the search (no right to read PractitionerRole, no such search) gives no roles, for the same time."""

    def __init__(self, ttl: float = 300.0, max_entries: int = 2048, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {}

    def of(self, client: FhirClient, practitioner: str) -> tuple[str, ...]:
        """``PractitionerRole/<id>`` of every active role of ``practitioner`` (``Practitioner/<id>``) on the
        client's server. An outage or a refused token is raised, as the caseload's own searches would."""
        key = (client.base_url, practitioner)
        now = self._clock()
        with self._lock:
            found = self._known.get(key)
        if found is not None and now - found[0] < self.ttl:
            return found[1]
        params = [("practitioner", practitioner), ("_count", str(PAGE_OF_ROLES))]
        try:
            bundle = client.search("PractitionerRole", params).json()
        except (BadRequest, Forbidden, NotFound) as exc:
            log.info(
                "caseload on %s: no PractitionerRole search (%s); the practitioner's own references only",
                client.base_url,
                type(exc).__name__,
            )
            roles: tuple[str, ...] = ()
        else:
            roles = tuple(
                f"PractitionerRole/{res['id']}"
                for res in entries_of([bundle])
                if res.get("resourceType") == "PractitionerRole"
                and res.get("id")
                and res.get("active", True) is not False
                and literal(ref_of(res.get("practitioner")) or "") == practitioner
            )
        with self._lock:
            if len(self._known) >= self.max_entries:
                self._known.clear()
            self._known[key] = (now, roles)
        return roles


PAGE_OF_ROLES = 100  # a practitioner's roles asked for at once (more are not followed)


def load_caseload(
    client: FhirClient,
    practitioner: str | Mapping[str, Any],
    *,
    person: str | None = None,
    roles: PractitionerRoles | None = None,
    include_ended: bool = False,
    now: datetime | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    capabilities: ServerCapabilities | None = None,
    clinic_tz: tzinfo = CLINIC_ZONE,
) -> Caseload:
    """The practitioner's caseload, read from the server in (at most) two round trips.

    ``person``: the Practitioner behind a PractitionerRole user (the launch's fhirContext names them), who
    stands for the user too. ``roles``: look up the person's PractitionerRoles (:class:`PractitionerRoles`; one
    more round trip when it does not know them yet), so teams that list the user by any of their roles count.
    ``now`` (time-zone aware; default: the current time) decides what is past and due; "today"
    is its date in ``clinic_tz``. ``capabilities``, when known, tells whether the server takes a
    ``batch``; without it a batch is tried and plain GETs are used only if the server refuses it.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    moment = now or datetime.now(clinic_tz)
    if moment.tzinfo is None:
        raise ValueError("now must carry a time zone")
    refs = practitioner_references(practitioner)
    started = client.request_count
    if person is not None:
        refs = (*refs, *practitioner_references(person))
    if roles is not None:
        behind = next((r for r in refs if ref_type(r) == "Practitioner"), None)
        if behind is not None:
            refs = (*refs, *roles.of(client, behind))
    refs = tuple(dict.fromkeys(refs))
    reader = _Reader(refs, moment, clinic_tz)

    first = client.search("CareTeam", caseload_team_params(refs, include_ended=include_ended, page_size=page_size))
    reader.add_round_one(entries_of(list(client.pages(first))))
    groups = reader.groups(include_ended)

    degraded = False
    plan_ids = [g.plan_ref.split("/", 1)[1] for g in groups if g.plan_ref is not None]
    if plan_ids:
        resources, degraded = _load_plans(client, plan_ids, page_size, capabilities)
        reader.add_round_two(resources)

    rows = sorted(
        (row for g in groups if (row := reader.row(g)) is not None),
        # What needs attention comes first; then by name.
        key=lambda r: (not r.needs_attention, r.patient_name.casefold(), r.group_name.casefold(), r.team),
    )
    return Caseload(
        practitioner=refs,
        as_of=moment,
        rows=tuple(rows),
        skipped=tuple(dict.fromkeys(reader.skipped)),
        unreadable=tuple(reader.unreadable),
        round_trips=client.request_count - started,
        degraded=degraded,
    )


def _load_plans(
    client: FhirClient, plan_ids: list[str], page_size: int, capabilities: ServerCapabilities | None
) -> tuple[list[JsonDict], bool]:
    """Round 2: the plans' resources, by one batch when the server takes it, else by chunked GETs."""
    if capabilities is None or capabilities.supports_batch:
        try:
            return _load_plans_by_batch(client, plan_ids, page_size), False
        except _BatchRefused as exc:
            log.warning(
                "caseload on %s: batch refused (%s); plan searches run one by one (degraded)", client.base_url, exc
            )
    else:
        log.warning(
            "caseload on %s: server declares no batch; plan searches run one by one (degraded)", client.base_url
        )
    resources: list[JsonDict] = []
    chunk = min(page_size, GET_CHUNK)
    for ids in _chunks(plan_ids, chunk):
        first = client.search("CarePlan", caseload_plan_params(ids, page_size=chunk))
        resources.extend(entries_of(list(client.pages(first))))
    return resources, True


class _BatchRefused(Exception):
    """The server does not process batch Bundles (the request itself was refused)."""


def _load_plans_by_batch(client: FhirClient, plan_ids: list[str], page_size: int) -> list[JsonDict]:
    bundle = caseload_plan_batch(plan_ids, page_size=page_size)
    try:
        answer = client.batch(bundle).json()
    except (BadRequest, NotFound) as exc:
        raise _BatchRefused(str(exc)) from exc
    except SyncError as exc:
        if exc.status in (405, 501):
            raise _BatchRefused(str(exc)) from exc
        raise
    if answer.get("resourceType") != "Bundle" or answer.get("type") != "batch-response":
        raise _BatchRefused(f"answer to the batch was a {answer.get('resourceType')} of type {answer.get('type')}")
    entries = answer.get("entry") or []
    if len(entries) != len(bundle["entry"]):
        raise SyncError(f"batch answer has {len(entries)} entries for {len(bundle['entry'])} searches")
    resources: list[JsonDict] = []
    for index, entry in enumerate(entries):
        response = entry.get("response") or {}
        status = entry_status(response.get("status"), 0)
        if not 200 <= status < 300:
            raise _entry_error(client, status, response.get("outcome") or entry.get("resource"), index)
        page = entry.get("resource")
        if not isinstance(page, dict) or page.get("resourceType") != "Bundle":
            raise SyncError(f"batch entry {index} answered {status} without a searchset Bundle")
        resources.extend(entries_of(list(client.pages(page))))
    return resources


def _entry_error(client: FhirClient, status: int, outcome: object, index: int) -> SyncError:
    """A typed error for a failed search inside the batch (the batch itself succeeded)."""
    issues = outcome_issues(outcome)
    detail = f"caseload plan search (batch entry {index}): HTTP {status}"
    if status == 401:
        return Unauthorized(detail, status=status, issues=issues)
    if status == 403:
        permission = required_permission("CarePlan", "search", client.scope_context)
        return Forbidden(
            detail + f"; needs {permission}",
            permission=permission,
            resource_type="CarePlan",
            interaction="search",
            issues=issues,
        )
    if status == 429 or status >= 500:
        return ServerUnavailable(detail, status=status, issues=issues)
    if status == 404:
        return NotFound(detail, status=status, issues=issues)
    return BadRequest(detail, status=status, issues=issues)


# --------------------------------------------------------------------------- reading


@dataclass
class _Group:
    """One CareTeam that lists the practitioner, with what was found for it."""

    team: JsonDict
    team_ref: str
    patient: str
    status: GroupStatus
    plan_ref: str | None = None
    plan: JsonDict | None = None
    appointments: list[JsonDict] = field(default_factory=list)
    tasks: dict[str, JsonDict] = field(default_factory=dict)


class _Reader:
    """Sorts what the server returned into groups, skipping (and logging) what does not fit.

    Sorting is this module's work: which resources belong to which of the practitioner's groups, and
    which break the patient compartment. Reading a group's resources into the domain is
    :func:`fhir_mappings.from_fhir.group_summary_from_fhir`'s, the same element readers as when a
    group is opened, so a member who left, an open agreement or a planned meeting means the same here.
    """

    def __init__(self, practitioner: tuple[str, ...], now: datetime, clinic_tz: tzinfo) -> None:
        self.practitioner = practitioner
        self.now = now
        self.today = now.astimezone(clinic_tz).date()
        self.teams: list[JsonDict] = []
        self.patients: dict[str, JsonDict] = {}
        self.plans: dict[str, JsonDict] = {}
        self.by_plan: dict[str, _Group] = {}
        self.skipped: list[str] = []
        self.unreadable: dict[str, str] = {}
        self._groups: list[_Group] = []

    def skip(self, ref: str, reason: str) -> None:
        log.warning("caseload: skipped %s: %s", ref, reason)
        self.skipped.append(ref)

    def tolerate(self, what: str, exc: Exception) -> None:
        """An element from_fhir could not read: left out of the facts (once logged), the rest still counts."""
        if what not in self.unreadable:
            reason = exc.log_message if isinstance(exc, MappingError) else f"{type(exc).__name__}: {exc}"
            self.unreadable[what] = reason
            log.info("caseload: %s is not readable (%s); left out", what, reason)

    def summary(self, group: _Group, related: Iterable[JsonDict] = ()) -> tuple[ResourceGroup, RefIndex]:
        plan = group.plan if group.plan_ref is not None else None
        return group_summary_from_fhir(group.team, plan, group.patient, related, tolerate=self.tolerate)

    # ------------------------------------------------------------ round 1

    def add_round_one(self, resources: Iterable[JsonDict]) -> None:
        for res in resources:
            rtype, rid = res.get("resourceType"), res.get("id")
            if not rid:
                continue
            if rtype == "CareTeam":
                self.teams.append(res)
            elif rtype == "Patient":
                self.patients[f"Patient/{rid}"] = res
            elif rtype == "CarePlan":
                self.plans[f"CarePlan/{rid}"] = res

    def groups(self, include_ended: bool) -> list[_Group]:
        """The teams that really list the practitioner (and still have them), each with its plan of record."""
        seen: set[str] = set()
        for team in self.teams:
            ref = f"CareTeam/{team['id']}"
            if ref in seen:
                continue
            seen.add(ref)
            group = self._group(team, ref, include_ended)
            if group is not None:
                self._groups.append(group)
        plans_by_team: dict[str, list[JsonDict]] = {}
        for plan_ref, plan in self.plans.items():
            teams = {literal(r) for c in _dicts(plan.get("careTeam")) if (r := ref_of(c))}
            for team_ref in teams:
                plans_by_team.setdefault(team_ref, []).append(plan)
            if not teams:
                log.debug("caseload: %s names no CareTeam", plan_ref)
        for group in self._groups:
            self._pick_plan(group, plans_by_team.get(group.team_ref, []))
        return self._groups

    def _group(self, team: JsonDict, ref: str, include_ended: bool) -> _Group | None:
        if not is_group_team(team):
            log.debug("caseload: %s is not a resource group team; ignored", ref)
            return None
        status = _TEAM_STATUS.get(str(team.get("status")))
        if status is None:
            log.debug("caseload: %s has status %r; ignored", ref, team.get("status"))
            return None
        if status is GroupStatus.ENDED and not include_ended:
            return None
        patient = ref_of(team.get("subject"))
        if patient is None or ref_type(patient) != "Patient":
            self.skip(ref, "the team's subject is not a patient")
            return None
        patient = literal(patient)
        if (other := other_patient_ref(team, patient)) is not None:
            self.skip(ref, f"the team of {patient} also refers to {literal(other)}")
            return None
        group = _Group(team, ref, patient, status)
        members, _ = self.summary(group)  # the team alone: who takes part, as the group page reads it
        listed = [m for m in members.members if m.who in self.practitioner]
        if not listed:
            self.skip(ref, "the team does not list the practitioner")
            return None
        if not any(m.active for m in listed):
            log.debug("caseload: the practitioner has left %s", ref)
            return None
        return group

    def _pick_plan(self, group: _Group, candidates: list[JsonDict]) -> None:
        usable = []
        for plan in candidates:
            plan_ref = f"CarePlan/{plan['id']}"
            if not is_artifact(plan, Artifact.PLAN):
                continue  # another system's plan for the same team
            subject = ref_of(plan.get("subject"))
            if subject is None or literal(subject) != group.patient or other_patient_ref(plan, group.patient):
                self.skip(plan_ref, f"the plan of {group.team_ref} is not about {group.patient}")
                continue
            usable.append(plan)
        ordered = plans_in(usable, group.patient)  # the plan of record, chosen as when the group is opened
        if not ordered:
            log.info("caseload: %s has no resource group plan", group.team_ref)
            return
        group.plan = ordered[0]
        group.plan_ref = f"CarePlan/{ordered[0]['id']}"
        self.by_plan[group.plan_ref] = group

    # ------------------------------------------------------------ round 2

    def add_round_two(self, resources: Iterable[JsonDict]) -> None:
        tasks: list[JsonDict] = []
        for res in resources:
            rtype, rid = res.get("resourceType"), res.get("id")
            if not rid:
                continue
            if rtype == "CarePlan":
                group = self.by_plan.get(f"CarePlan/{rid}")
                if group is not None:
                    group.plan = res  # the same plan, possibly a newer version
            elif rtype == "Appointment":
                self._appointment(res)
            elif rtype == "Task":
                tasks.append(res)
        # Tasks are placed once every plan is final: a plan's activity list may be the only link.
        listed: dict[str, list[_Group]] = {}
        for group in self.by_plan.values():
            for activity in _dicts((group.plan or {}).get("activity")):
                ref = ref_of(_dict(activity.get("reference")))
                if ref is not None and ref_type(ref) == "Task":
                    listed.setdefault(literal(ref), []).append(group)
        for res in tasks:
            self._task(res, listed.get(f"Task/{res['id']}", []))

    def _appointment(self, res: JsonDict) -> None:
        ref = f"Appointment/{res['id']}"
        plans = [p for s in _dicts(res.get("supportingInformation")) if (p := ref_of(s)) and ref_type(p) == "CarePlan"]
        groups = {id(g): g for p in plans if (g := self.by_plan.get(literal(p))) is not None}
        if not groups:
            log.debug("caseload: %s belongs to no plan of the caseload", ref)
            return
        for group in groups.values():
            if (other := other_patient_ref(res, group.patient)) is not None:
                self.skip(ref, f"a meeting of {group.plan_ref} names {literal(other)}")
                continue
            group.appointments.append(res)

    def _task(self, res: JsonDict, listed_by: list[_Group]) -> None:
        ref = f"Task/{res['id']}"
        based_on = [p for b in _dicts(res.get("basedOn")) if (p := ref_of(b)) and ref_type(p) == "CarePlan"]
        groups = {id(g): g for g in listed_by}
        groups.update({id(g): g for p in based_on if (g := self.by_plan.get(literal(p))) is not None})
        if not groups:
            log.debug("caseload: %s belongs to no plan of the caseload", ref)
            return
        for group in groups.values():
            if (other := other_patient_ref(res, group.patient)) is not None:
                self.skip(ref, f"an agreement of {group.plan_ref} names {literal(other)}")
                continue
            group.tasks[ref] = res

    # ------------------------------------------------------------ rows

    def row(self, group: _Group) -> CaseloadRow | None:
        """The caseload row of one group: the group read by from_fhir, the facts by the domain's own rules.

        What the row shows follows the practitioner's rights in that group, as the group pages do: a nominee gets
        no row, a plain member no interview states and only the agreements a member may see.
        """
        full, index = self.summary(group, [*group.appointments, *group.tasks.values()])
        mine = [m for m in full.members if m.who in self.practitioner and m.active]
        actor = actor_in(full, mine[0].who if mine else self.practitioner[0])
        if not actor.may(Action.VIEW_OVERVIEW):
            return None
        aggregate = visible_to(full, actor)
        last = aggregate.last_held_meeting()
        upcoming = aggregate.next_meeting(self.now)
        displays = {m.who: m.display for m in aggregate.members}
        return CaseloadRow(
            patient=group.patient,
            patient_name=self._patient_name(group),
            team=group.team_ref,
            plan=group.plan_ref,
            group_name=aggregate.name,
            group_status=aggregate.status,
            roles=frozenset(r for m in mine for r in m.roles),
            core=any(m.core for m in mine),
            last_held_meeting=last.start if last else None,
            next_meeting=upcoming.start if upcoming else None,
            meeting_due=aggregate.meeting_due(self.now),
            open_interviews=open_interviews(aggregate, self.now) if actor.may(Action.VIEW_MEMBER_DETAILS) else (),
            overdue_agreements=tuple(
                OverdueAgreement(index.ref(a.uid), a.description, a.due, displays.get(a.owner) if a.owner else None)
                for a in sorted(aggregate.overdue_agreements(self.today), key=lambda a: (a.due or self.today, a.uid))
                if a.due is not None
            ),
        )

    def _patient_name(self, group: _Group) -> str:
        patient = self.patients.get(group.patient)
        names = patient.get("name") if patient is not None else None
        name = names_display([n for n in names if isinstance(n, dict)]) if isinstance(names, list) else None
        return name or str(_dict(group.team.get("subject")).get("display") or "") or group.patient


def patient_page_url(template: str | None, patient: str) -> str | None:
    """The EHR's page of `patient` ("Patient/<id>") from the configured `ehr_patient_url` template (None: the
    EHR offers no such page, and the SMART launch context no way to open another patient's record)."""
    if not template or ref_type(patient) != "Patient":
        return None
    return template.replace("{patient_id}", quote(patient.split("/", 1)[1], safe=""))


def open_interviews(group: ResourceGroup, now: datetime) -> tuple[OpenInterview, ...]:
    """The nominees still in the group not yet decided on, in the team's order."""
    return tuple(
        OpenInterview(
            m.who,
            m.display or m.who,
            m.nomination,
            iv.planned_start if (iv := group.interview_for(m.uid)) is not None else None,
            group.nominee_waits(m, now),
        )
        for m in group.members
        if m.active and m.nomination in NOMINEE_STATES
    )


def _dict(value: object) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[JsonDict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "Caseload",
    "CaseloadRow",
    "OpenInterview",
    "OverdueAgreement",
    "caseload_plan_batch",
    "caseload_plan_params",
    "caseload_team_params",
    "load_caseload",
    "patient_page_url",
    "practitioner_references",
    "team_statuses",
]
