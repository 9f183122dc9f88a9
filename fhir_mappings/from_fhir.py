"""FHIR R4 -> domain: read one resource group from the resources a load returned.

Reading is tolerant of what other systems write (foreign codings, extra participants, missing
optional elements) and strict where it matters: unknown status codes, missing required elements
and references to another patient are errors. With `tolerate`, a resource (or a team participant,
a plan activity) that has such an error is left out of the group and listed in `group.unreadable`
instead, so one bad resource never locks a group; references to another patient stay errors.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import is_
from typing import Any

from fhir_mappings.codes import (
    CAREPLAN_STATUS,
    CARETEAM_STATUS,
    CS_ARTIFACT,
    CS_GOAL_ACHIEVEMENT,
    CS_GOAL_RELATIONSHIP_TYPE,
    CS_GOAL_TERM,
    CS_LIFE_AREA,
    CS_MEETING_ROLE,
    CS_MEETING_THEME,
    CS_MEMBER_ROLE,
    CS_NOMINATION_STATE,
    CS_SECTION,
    CS_V3_CONFIDENTIALITY,
    CS_V3_PARTICIPATION_TYPE,
    CS_WISH_KIND,
    EXT_AFTER_TREATMENT,
    EXT_AGREEMENT_GOAL,
    EXT_DUE_DATE,
    EXT_GOAL_RELATIONSHIP,
    EXT_MEETING,
    EXT_MEMBER_JOINED,
    EXT_MEMBER_KEY,
    EXT_MEMBER_PERIOD,
    EXT_NOMINATION_REASON,
    EXT_NOMINATION_STATE,
    EXT_NOTE,
    EXT_PATIENT_PARTICIPATION,
    EXT_PROPOSED_BY,
    EXT_ROLE_PRACTITIONER,
    EXT_SECTION,
    EXT_STATUS_CHANGE,
    IDENTIFIER_SYSTEM,
    KERNLID,
    AgendaStatus,
    AgreementStatus,
    Artifact,
    GoalAchievement,
    GoalLifecycle,
    GoalTerm,
    GroupStatus,
    InterviewVisibility,
    LifeArea,
    MeetingRole,
    MeetingStatus,
    MeetingTheme,
    MemberRole,
    NominationState,
    ParticipationStatus,
    Section,
    WishKind,
    WishStatus,
)
from fhir_mappings.errors import CompartmentError, DomainError, MappingError
from fhir_mappings.fhirjson import (
    Json,
    code_in,
    codes_in,
    enum_value,
    extension,
    names_display,
    parse_date,
    parse_datetime,
    ref_of,
    required,
)
from fhir_mappings.model import (
    CLINIC_ZONE,
    MAX_MEETING_MINUTES,
    MEETING_MINUTES,
    Agenda,
    AgendaItem,
    Agreement,
    Goal,
    Invitation,
    Meeting,
    MeetingParticipant,
    Member,
    NominationInterview,
    Note,
    Place,
    ProgressScore,
    Report,
    ResourceGroup,
    StatusChange,
    Supporter,
    Unreadable,
    Wish,
)
from fhir_mappings.refs import RefIndex, literal, ref_type
from fhir_mappings.to_fhir import ATTENDED

MEMBER_TYPES = ("Patient", "Practitioner", "PractitionerRole", "RelatedPerson")
_TEAM_STATUS = {v: k for k, v in CARETEAM_STATUS.items()}
# A resource the product retired (a create compensated after a failed save) or another system voided:
# no longer part of the group. The product never deletes; it retires with this status.
RETIRED = "entered-in-error"
# Plan statuses after which a CarePlan is no longer a plan of record.
_DEAD_PLAN = frozenset({RETIRED, "revoked"})
# Interview Appointments that do not (or no longer) plan the interview.
_NOT_PLANNING = frozenset({MeetingStatus.CANCELLED.value, RETIRED})

# Called with what could not be read (e.g. "Task/k1") and why, when a reader tolerates unreadable elements.
Tolerate = Callable[[str, Exception], None]


def is_artifact(resource: Json, artifact: Artifact, key: str = "category") -> bool:
    """Whether a resource carries the product code for `artifact` in `key`."""
    return _has_artifact(resource.get(key), artifact)  # a StrEnum member equals its code


def _has_artifact(value: object, code: str) -> bool:
    """Whether a CodeableConcept (or a list of them) holds the product's artifact `code`: `is_artifact` with the
    code given as text. Every coding is looked at, as `codes_in` does (JSON of the wrong shape fails alike)."""
    if isinstance(value, dict):
        concepts: list[Any] = [value]
    elif isinstance(value, list):
        concepts = value
    else:
        return False
    found = False
    for concept in concepts:
        for coding in concept.get("coding") or []:
            if coding.get("system") == CS_ARTIFACT and "code" in coding and str(coding["code"]) == code:
                found = True
    return found


# The artifact codes the readers look for per resource, as plain text.
_PROGRESS = Artifact.PROGRESS.value
_MEETING = Artifact.MEETING.value
_INTERVIEW = Artifact.INTERVIEW.value


def is_group_team(team: Json) -> bool:
    """Whether a CareTeam is a resource group's team, in either mapping mode: the product's category (nl-core
    mode) or the product's identifier (every team has one; a KT2-mode team has no category)."""
    if team.get("resourceType") != "CareTeam":
        return False
    if is_artifact(team, Artifact.TEAM):
        return True
    idents = team.get("identifier")
    if not isinstance(idents, list):
        return False
    return any(isinstance(i, dict) and i.get("system") == IDENTIFIER_SYSTEM for i in idents)


def plans_in(resources: Iterable[Json], patient: str) -> list[Json]:
    """The resource group plans (CarePlans) of a patient among loaded resources, newest first.

    A retired (entered-in-error) or revoked plan is no plan of record and is left out.
    """
    plans = [
        r
        for r in resources
        if r.get("resourceType") == "CarePlan"
        and is_artifact(r, Artifact.PLAN)
        and r.get("status") not in _DEAD_PLAN
        and literal(ref_of(r.get("subject")) or "") == literal(patient)
    ]
    ended = CAREPLAN_STATUS[GroupStatus.ENDED]
    return sorted(
        plans,
        key=lambda p: (
            p.get("status") != ended,
            (p.get("period") or {}).get("start", ""),
            (p.get("meta") or {}).get("lastUpdated", ""),
        ),
        reverse=True,
    )


_ANOTHER_PATIENT = "Er kwamen gegevens van een andere patiënt mee. Die worden niet getoond."
_CHECKED = object()


class CompartmentChecked(list[Json]):
    """Resources that `check_read_compartment` let through for `patient`: `group_from_fhir` does not walk them
    again. Only `check_read_compartment` (and `narrowed`, for a part of them) makes one."""

    def __init__(self, resources: Iterable[Json], patient: str, *, _token: object = None) -> None:
        if _token is not _CHECKED:
            raise TypeError("only check_read_compartment makes CompartmentChecked resources")
        super().__init__(resources)
        self.patient = patient

    def narrowed(self, resources: Iterable[Json]) -> CompartmentChecked:
        """A part of these resources (the same objects, e.g. one per `Type/id`), still checked."""
        kept = list(resources)
        if len(kept) == len(self) and all(map(is_, kept, self)):  # all of them, in order (the common case)
            return CompartmentChecked(kept, self.patient, _token=_CHECKED)
        mine = {id(r) for r in self}
        if any(id(r) not in mine for r in kept):
            raise ValueError("narrowed() takes only resources that were checked")
        return CompartmentChecked(kept, self.patient, _token=_CHECKED)


def foreign_patient_ref(resource: Json, patient: str) -> str | None:
    """A reference anywhere in `resource` (any depth: extensions, contained resources) to a patient other than
    `patient` (a literal `Patient/id`), else None. One iterative walk over the containers only: scalars are
    never visited, and a `reference` is only parsed when it can name a Patient."""
    stack: list[Any] = [resource]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if type(node) is dict:
            ref = node.get("reference")
            if (
                type(ref) is str
                and "Patient/" in ref  # ref_type() can only be "Patient" when the text holds "Patient/"
                and ref_type(ref) == "Patient"
                and literal(ref) != patient
            ):
                return ref
            for value in node.values():
                if type(value) is dict or type(value) is list:
                    push(value)
        else:
            for value in node:
                if type(value) is dict or type(value) is list:
                    push(value)
    return None


# In raw JSON: an escape that can spell an ASCII character of a reference ("\/", "\u0050" for "P", ...).
_ASCII_ESCAPE = re.compile(rb"\\(?:/|u00[2-7][0-9a-fA-F])")


def only_patient_in_text(raw: bytes, patient: str) -> bool:
    """Whether raw JSON names no patient but `patient` (a literal ``Patient/id``) in any string: every
    ``Patient/`` in it is followed by that id and then the end of the string or a ``/``, and no escape spells
    an ASCII character (so every ``Patient/`` of a parsed string is one of those in the raw text).

    True means no reference anywhere in what was parsed from `raw` can name another patient: the same
    judgement as `foreign_patient_ref` on every resource, by one scan of the text. False only means "walk
    the resources" (the text may still be fine: an escaped slash, a patient's name that reads ``Patient/``).
    """
    if _ASCII_ESCAPE.search(raw) is not None:
        return False
    rid = literal(patient).partition("/")[2].encode()
    if not rid or b'"' in rid or b"\\" in rid:
        return False
    # A `Patient/` not followed by the id and then `"` or `/` (one search in C, not a loop over every match).
    other = re.compile(rb"Patient/(?!" + re.escape(rid) + rb'["/])')
    return other.search(raw) is None


def check_read_compartment(resources: Iterable[Json], patient: str, *, raw: bytes | None = None) -> CompartmentChecked:
    """Refuse a load that contains anything of another patient (one pass); returns the resources, checked.

    `raw`: the JSON text every one of `resources` was parsed from (the caller's promise). When the text names
    no other patient (`only_patient_in_text`) the resources are not walked one by one; otherwise they are.
    """
    want = literal(patient)
    checked = CompartmentChecked((), want, _token=_CHECKED)
    text_checked = raw is not None and only_patient_in_text(raw, want)
    for r in resources:
        if r.get("resourceType") == "Patient" and f"Patient/{r.get('id')}" != want:
            raise CompartmentError(_ANOTHER_PATIENT, f"load contains Patient/{r.get('id')}, launch patient is {want}")
        if not text_checked and (ref := foreign_patient_ref(r, want)) is not None:
            raise CompartmentError(
                _ANOTHER_PATIENT, f"{r.get('resourceType')}/{r.get('id')} refers to {ref}, launch patient is {want}"
            )
        checked.append(r)
    return checked


class _Reader:
    """The resources of one read, indexed once: by uid (`RefIndex`) and by type. It remembers what it worked out
    for a reference (its uid, the resource it names) and for a time text, for the rest of the read: a large group
    names the same few references (the plan, the goals, the members, the meetings) thousands of times."""

    def __init__(self, resources: Iterable[Json], patient: str) -> None:
        self.patient = literal(patient)
        checked = isinstance(resources, CompartmentChecked) and resources.patient == self.patient
        self.resources = [r for r in resources if isinstance(r, dict) and r.get("resourceType")]
        if not checked:  # the load checked them already (one pass per load)
            check_read_compartment(self.resources, self.patient)
        self.index = RefIndex()
        self.by_uid: dict[str, Json] = {}
        self._uid_of: dict[int, str] = {}  # id(resource) -> its uid, as registered here
        self._by_type: dict[str, list[Json]] = {}
        # Memos of this read, valid while the index does not change (`register` forgets them when it does).
        self._uids: dict[str, str] = {}  # reference -> index.uid(reference)
        self._actors: dict[str, tuple[str, bool]] = {}  # a participant's reference -> (its uid, is a Location)
        self._instants: dict[str, datetime] = {}  # dateTime text -> parse_datetime of it (only readable ones)
        index_register, by_uid, uid_of, by_type = self.index.register, self.by_uid, self._uid_of, self._by_type
        for r in self.resources:
            rtype = r["resourceType"]
            if isinstance(rtype, str):
                same = by_type.get(rtype)
                if same is None:
                    by_type[rtype] = [r]
                else:
                    same.append(r)
            if r.get("id") or (r.get("identifier")):
                try:
                    uid = uid_of[id(r)] = index_register(r)
                except ValueError:
                    continue
                by_uid[uid] = r

    def register(self, resource: Json) -> str:
        """`RefIndex.register` once per resource of this read (the readers ask again for the uid)."""
        uid = self._uid_of.get(id(resource))
        if uid is None:
            uid = self._uid_of[id(resource)] = self.index.register(resource)
            self._uids.clear()  # the index changed: what a reference meant may have changed too
            self._actors.clear()
        return uid

    def get(self, reference: str | None, resource_type: str | None = None) -> Json | None:
        if not reference:
            return None
        found = self.by_uid.get(self.ref_uid(reference))
        if found is not None and resource_type and found.get("resourceType") != resource_type:
            return None
        return found

    def uid(self, reference: str | None) -> str | None:
        return self.ref_uid(reference) if reference else None

    def ref_uid(self, reference: str) -> str:
        """`RefIndex.uid` of a reference, worked out once per read."""
        found = self._uids.get(reference)
        if found is None:
            found = self._uids[reference] = self.index.uid(reference)
        return found

    def actor(self, reference: str) -> tuple[str, bool]:
        """A participant's uid (the reference itself when it has none) and whether it is a Location."""
        found = self._actors.get(reference)
        if found is None:
            actor_uid = self.uid(reference) or reference
            is_place = (
                ref_type(reference) == "Location" or (self.get(reference) or {}).get("resourceType") == "Location"
            )
            found = self._actors[reference] = (actor_uid, is_place)
        return found

    def instant_text(self, value: object, what: str) -> datetime | None:
        """`parse_datetime(value, what)`, the same text parsed once per read (a datetime is immutable)."""
        if type(value) is not str:
            return parse_datetime(value, what)
        found = self._instants.get(value)
        if found is None:
            parsed = parse_datetime(value, what)
            if parsed is not None:
                self._instants[value] = parsed
            return parsed
        return found

    def of_type(self, resource_type: str) -> list[Json]:
        """The resources of one type, in the order of the read (the read's own list: not to be changed)."""
        return self._by_type.get(resource_type, [])

    def based_on(self, resource_type: str, plan_uid: str, key: str) -> list[Json]:
        """The resources of a type whose `key` (a list of References) names the plan."""
        found = []
        uid = self.ref_uid
        for r in self.of_type(resource_type):
            value = r.get(key)
            if not isinstance(value, list):
                continue
            for b in value:
                if isinstance(b, dict) and (ref := b.get("reference")) and uid(str(ref)) == plan_uid:
                    found.append(r)
                    break
        return found


def _as_list(value: object) -> list[Json]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def group_from_fhir(
    resources: Iterable[Json], patient: str, plan_id: str | None = None, *, tolerate: Tolerate | None = None
) -> tuple[ResourceGroup, RefIndex]:
    """The resource group of `patient` from loaded resources, plus the reference index used.

    With several plans (an ended group and a new one) the newest open one is taken unless
    `plan_id` (uid or `CarePlan/<id>`) names another.

    With `tolerate`, a resource of the group that cannot be read (an unknown code, an unreadable time, a
    missing required element, JSON of the wrong shape) is left out of the group, listed in
    `group.unreadable` (with a short Dutch reason) and passed to `tolerate` (for the log). The team and
    the plan themselves must be readable; anything of another patient is refused as without `tolerate`.
    """
    reader = _Reader(resources, patient)
    found: list[Unreadable] = []
    note: Tolerate | None = None
    if tolerate is not None:
        outer = tolerate

        def note(what: str, exc: Exception) -> None:
            found.append(_unreadable(reader, what, exc))
            outer(what, exc)

    plans = plans_in(reader.resources, reader.patient)
    if plan_id is not None:
        plans = [p for p in plans if reader.uid(f"CarePlan/{p.get('id')}") in (plan_id, reader.uid(plan_id))]
    if not plans:
        raise MappingError(
            "Er is nog geen resourcegroep voor deze patiënt.", f"no resource group plan for {reader.patient}"
        )
    plan = plans[0]
    plan_uid = reader.register(plan)
    team = None
    for ref in plan.get("careTeam") or []:
        team = reader.get(ref_of(ref), "CareTeam")
        if team is not None:
            break
    if team is None:
        raise MappingError(
            "De groep is niet compleet in het EPD: het team ontbreekt.",
            f"CarePlan {plan.get('id')} has no loaded CareTeam",
        )
    team_uid = reader.register(team)
    status = _team_status(team)
    team_period = team.get("period") or {}
    after = extension(team, EXT_AFTER_TREATMENT)
    group = ResourceGroup(
        uid=team_uid,
        plan_uid=plan_uid,
        patient=reader.patient,
        name=str(team.get("name") or plan.get("title") or ""),
        status=status,
        start=parse_date(team_period.get("start"), "CareTeam.period.start"),
        end=parse_date(team_period.get("end"), "CareTeam.period.end"),
        after_treatment_since=parse_date(after.get("valueDate"), "after-treatment") if after else None,
        source=team,
        plan_source=plan,
    )
    group.status_changes = _status_changes(reader, plan)
    _read_members(reader, team, group, note)
    _read_goals(reader, plan, group, note)
    _read_agreements(reader, plan, group, note)
    _read_meetings(reader, group, note)
    _read_communications(reader, group, note)
    _read_progress(reader, group, note)
    group.normalise_order()
    group.unreadable = list({(u.key, u.part): u for u in found}.values())
    return group, reader.index


_PLAN_STATUS = {v: k for k, v in CAREPLAN_STATUS.items()}


def _status_changes(reader: _Reader, plan: Json) -> list[StatusChange]:
    """The group's status changes (our status-change extensions on the CarePlan), oldest first. One that does not
    use the group's statuses or has no readable date is left out (the mapping never writes one)."""
    changes: list[StatusChange] = []
    for ext in plan.get("extension") or []:
        if ext.get("url") != EXT_STATUS_CHANGE:
            continue
        subs = {e.get("url"): e for e in ext.get("extension") or []}
        old = _PLAN_STATUS.get(str((subs.get("from") or {}).get("valueCode")))
        new = _PLAN_STATUS.get(str((subs.get("to") or {}).get("valueCode")))
        try:
            day = parse_date((subs.get("date") or {}).get("valueDate"), "status-change date")
        except MappingError:
            day = None
        if old is None or new is None or day is None:
            continue
        by = ref_of((subs.get("by") or {}).get("valueReference"))
        changes.append(StatusChange(old, new, day, (reader.uid(by) or by) if by else None))
    return sorted(changes, key=lambda c: c.day)


# Appointment statuses after which there is nothing left to cancel.
_DONE_APPOINTMENT = frozenset({"cancelled", "fulfilled", "noshow", RETIRED})
_PARTS_NL = {"participant": "deelnemer", "activity": "activiteit", "goal": "doel"}


def _unreadable(reader: _Reader, what: str, exc: Exception) -> Unreadable:
    """What a care professional is told about one unreadable element (`what`: "Type/id" and maybe a part)."""
    key, _, part = what.partition(" ")
    if part:
        name, _, pos = part.partition(" ")
        part = f"{_PARTS_NL.get(name, name)} {int(pos) + 1}" if pos.isdigit() else part
    if isinstance(exc, MappingError):
        reason = exc.user_message.split(". ")[0].rstrip(".") + "."
    else:
        reason = "De gegevens hebben een vorm die de app niet kent."
    res = reader.get(key) if not part else None
    plans = _plans(res) if res is not None else ""
    return Unreadable(key=key, reason=reason, part=part, cancellable=bool(plans), plans=plans)


def _plans(res: Json) -> str:
    """What one of our Appointments still plans ("meeting", "interview"; "" when nothing): the app may cancel it."""
    if res.get("resourceType") != "Appointment" or res.get("status") in _DONE_APPOINTMENT:
        return ""
    try:
        if is_artifact(res, Artifact.MEETING, "serviceType"):
            return "meeting"
        return "interview" if is_artifact(res, Artifact.INTERVIEW, "serviceType") else ""
    except (AttributeError, TypeError, ValueError):
        return ""


def group_summary_from_fhir(
    team: Json,
    plan: Json | None,
    patient: str,
    related: Iterable[Json] = (),
    *,
    tolerate: Tolerate | None = None,
) -> tuple[ResourceGroup, RefIndex]:
    """What a list of many groups (the caseload) needs of one group, read as `group_from_fhir` reads it.

    The group's name, status, members, meetings, planned interviews and agreements come from `team`,
    `plan` (None: a team without a plan yet, so no meetings or agreements) and `related` (the plan's
    Appointments and Tasks), by the same element readers as `group_from_fhir`; goals, records and
    progress are not read. The caller has chosen the plan and kept only `patient`'s resources: anything
    of another patient is refused, as in `group_from_fhir`.

    With `tolerate`, an element that cannot be read (an unknown code, an unreadable date, a missing
    required element, JSON of the wrong shape) is left out and passed to it, instead of failing the
    whole group: one odd resource of another system should not hide a group from a list.
    """
    reader = _Reader([team, *([plan] if plan is not None else []), *related], patient)
    team_uid = reader.register(team)
    group = ResourceGroup(
        uid=team_uid,
        plan_uid=reader.register(plan) if plan is not None else "",
        patient=reader.patient,
        name=str(team.get("name") or (plan or {}).get("title") or ""),
        status=_team_status(team),
        source=team,
        plan_source=plan,
    )
    _read_members(reader, team, group, tolerate)
    if plan is not None:
        _read_agreements(reader, plan, group, tolerate)
        _read_meetings(reader, group, tolerate)
    group.normalise_order()
    return group, reader.index


def _team_status(team: Json) -> GroupStatus:
    status = _TEAM_STATUS.get(str(required(team, "status")))
    if status is None:
        raise MappingError(
            "Het EPD gaf een onbekende status voor de groep.", f"unknown CareTeam.status {team.get('status')!r}"
        )
    return status


@contextmanager
def _element(tolerate: Tolerate | None, what: str) -> Iterator[None]:
    """Read one element; with `tolerate`, an unreadable one is reported and left out instead of failing the read.

    Unreadable: a MappingError (unknown code, bad date, missing required element) or JSON of the wrong
    shape (a string where an object or a list belongs). Something of another patient (a CompartmentError)
    is never tolerated.
    """
    if tolerate is None:
        yield
        return
    try:
        yield
    except CompartmentError:
        raise
    except _UNREADABLE as exc:
        tolerate(what, exc)


# What makes an element unreadable (a CompartmentError, a MappingError too, never is).
_UNREADABLE = (MappingError, AttributeError, TypeError, ValueError, KeyError, IndexError)


def _read_members(reader: _Reader, team: Json, group: ResourceGroup, tolerate: Tolerate | None = None) -> None:
    for pos, part in enumerate(team.get("participant") or []):
        with _element(tolerate, f"CareTeam/{team.get('id')} participant {pos}"):
            _read_member(reader, part, pos, group)
    own = extension(team, EXT_PATIENT_PARTICIPATION)  # KT2 mode: the patient is only the team's subject
    if own is not None and not any(m.who == reader.patient for m in group.members):
        with _element(tolerate, f"CareTeam/{team.get('id')} patient participation"):
            group.members.insert(0, _patient_member(reader, team, own))


def _patient_member(reader: _Reader, team: Json, own: Json) -> Member:
    subs = own.get("extension") or []
    codes = [str((e.get("valueCoding") or {}).get("code")) for e in subs if e.get("url") == "role"]
    per = next((e.get("valuePeriod") or {} for e in subs if e.get("url") == "period"), {})
    key = next((str(e.get("valueString")) for e in subs if e.get("url") == "key"), "#patient")
    return Member(
        uid=key,
        who=reader.patient,
        display=str((team.get("subject") or {}).get("display") or reader.patient),
        roles={enum_value(MemberRole, c, "patient-participation role") for c in codes if c != KERNLID},
        core=KERNLID in codes,
        nomination=NominationState.LID,
        start=parse_date(per.get("start"), "patient-participation period.start"),
        end=parse_date(per.get("end"), "patient-participation period.end"),
    )


def _read_member(reader: _Reader, part: Json, pos: int, group: ResourceGroup) -> None:
    ref = ref_of(part.get("member"))
    if ref is None or (ref_type(ref) not in MEMBER_TYPES and not ref.startswith("urn:uuid:")):
        return  # an Organization or CareTeam participant: kept untouched on write
    who = reader.uid(ref) or ref
    roles = {
        enum_value(MemberRole, c, "CareTeam.participant.role")
        for c in codes_in(part.get("role"), CS_MEMBER_ROLE)
        if c != KERNLID
    }
    core = KERNLID in codes_in(part.get("role"), CS_MEMBER_ROLE)
    state_ext = extension(part, EXT_NOMINATION_STATE)
    if state_ext is not None:
        code = code_in({"coding": [state_ext.get("valueCoding") or {}]}, CS_NOMINATION_STATE)
        nomination = enum_value(NominationState, code, "nomination state")
    else:
        nomination = NominationState.LID
    per = part.get("period") or (extension(part, EXT_MEMBER_PERIOD) or {}).get("valuePeriod") or {}
    member_res = reader.get(ref)
    group.members.append(
        Member(
            uid=str(part["id"]) if part.get("id") else f"#{pos}",
            who=who,
            display=str((part.get("member") or {}).get("display") or _name_of(member_res) or ref),
            roles=roles,
            core=core,
            nomination=nomination,
            start=parse_date(per.get("start"), "participant.period.start"),
            end=parse_date(per.get("end"), "participant.period.end"),
            proposed_by=_proposed_by(reader, part),
            reason=str((extension(part, EXT_NOMINATION_REASON) or {}).get("valueString") or ""),
            joined=parse_date((extension(part, EXT_MEMBER_JOINED) or {}).get("valueDate"), "member-joined"),
            practitioner=_role_practitioner(part, member_res) if who.startswith("PractitionerRole/") else None,
        )
    )
    if member_res is not None and member_res.get("resourceType") == "RelatedPerson":
        group.supporters.append(_supporter(reader, member_res, who))


def _role_practitioner(part: Json, role: Json | None) -> str | None:
    """The Practitioner behind a PractitionerRole member: our extension, else the role itself when loaded."""
    ref = ref_of((extension(part, EXT_ROLE_PRACTITIONER) or {}).get("valueReference"))
    if ref is None and role is not None:
        ref = ref_of(role.get("practitioner"))
    ref = literal(ref) if ref else None
    return ref if ref is not None and ref_type(ref) == "Practitioner" else None


def _proposed_by(reader: _Reader, element: Json) -> str | None:
    """Who put it forward (the proposed-by extension), as the group refers to them."""
    ext = extension(element, EXT_PROPOSED_BY)
    ref = ref_of((ext or {}).get("valueReference"))
    return (reader.uid(ref) or ref) if ref else None


def _notes(reader: _Reader, res: Json, what: str) -> list[Note]:
    return [
        Note(
            time=parse_datetime(n.get("time"), f"{what}.note.time")
            or datetime.fromisoformat("1970-01-01T00:00:00+00:00"),
            text=str(n.get("text", "")),
            author=(reader.uid(author) or author) if (author := ref_of(n.get("authorReference"))) else None,
            source=n,
        )
        # Earlier notes in our extension (a Goal: nl-core allows one note; a KT2Task: no note at all), then note.
        for n in [e.get("valueAnnotation") or {} for e in _as_list(res.get("extension")) if e.get("url") == EXT_NOTE]
        + _as_list(res.get("note"))
    ]


def _name_of(resource: Json | None) -> str | None:
    return names_display(resource.get("name")) if resource is not None else None


def _supporter(reader: _Reader, res: Json, uid: str) -> Supporter:
    if literal(ref_of(res.get("patient")) or "") != reader.patient:
        raise CompartmentError(
            "Deze naaste hoort bij een andere patiënt.", f"RelatedPerson/{res.get('id')} is not of {reader.patient}"
        )
    rel = (res.get("relationship") or [{}])[0]
    first = (rel.get("coding") or [{}])[0]
    telecom = res.get("telecom") or []
    return Supporter(
        uid=uid,
        name=_name_of(res) or "",
        relationship=str(first.get("code", "")),
        relationship_system=str(first.get("system", "")),
        phone=next((str(t["value"]) for t in telecom if t.get("system") == "phone" and t.get("value")), ""),
        email=next((str(t["value"]) for t in telecom if t.get("system") == "email" and t.get("value")), ""),
        relationship_text=str(rel.get("text", "")),
        gender=str(res.get("gender") or ""),
        birth_date=parse_date(res.get("birthDate"), "RelatedPerson.birthDate"),
        source=res,
    )


def _read_goals(reader: _Reader, plan: Json, group: ResourceGroup, tolerate: Tolerate | None = None) -> None:
    parents: dict[str, list[str]] = {}  # child goal -> the goals that list it as a milestone
    for pos, ref in enumerate(plan.get("goal") or []):
        res: Json | None = None
        with _element(tolerate, f"CarePlan/{plan.get('id')} goal {pos}"):
            res = reader.get(ref_of(ref), "Goal")
        if res is None:
            continue
        uid = reader.register(res)
        with _element(tolerate, f"Goal/{res.get('id')}"):
            goal, children = _goal(reader, res, uid)
            group.goals.append(goal)
            for child_uid in children:
                parents.setdefault(child_uid, [])
                if uid not in parents[child_uid]:
                    parents[child_uid].append(uid)
    known = {g.uid: g for g in group.goals}
    for child_uid, parent_uids in parents.items():
        if child_uid not in known:
            continue
        if len(parent_uids) > 1:
            with _element(tolerate, f"Goal/{(known[child_uid].source or {}).get('id')}"):
                group.goals.remove(known.pop(child_uid))
                raise MappingError(
                    "Een doel voor de korte termijn hoort bij meer dan één doel voor de lange termijn.",
                    f"goal {child_uid} is a milestone of both {parent_uids[0]} and {parent_uids[1]}",
                )
            continue
        known[child_uid].parent_uid = parent_uids[0]
    for goal in list(group.goals):
        if goal.parent_uid is not None:
            # Same rule as the domain: only a short-term goal steps towards a long-term one.
            try:
                group._check_parent(goal, goal.parent_uid)
            except DomainError as exc:
                if tolerate is None:
                    raise
                group.goals.remove(goal)
                tolerate(f"Goal/{(goal.source or {}).get('id')}", MappingError(exc.user_message, exc.log_message))


def _goal(reader: _Reader, res: Json, uid: str) -> tuple[Goal, list[str]]:
    """One goal, and the goals it lists as its milestones (short-term steps)."""
    term_code = code_in(
        next(iter(c for c in res.get("category") or [] if code_in(c, CS_GOAL_TERM)), None), CS_GOAL_TERM
    )
    area_code = codes_in(res.get("category"), CS_LIFE_AREA)
    achievement = code_in(res.get("achievementStatus"), CS_GOAL_ACHIEVEMENT)
    description = required(res, "description")
    target = (res.get("target") or [{}])[0]
    notes = _notes(reader, res, "Goal")
    goal = Goal(
        uid=uid,
        text=str(description.get("text") or _first_display(description) or ""),
        term=enum_value(GoalTerm, term_code, "goal term") if term_code else GoalTerm.LANG,
        life_area=enum_value(LifeArea, area_code[0], "life area") if area_code else None,
        lifecycle=enum_value(GoalLifecycle, required(res, "lifecycleStatus"), "Goal.lifecycleStatus"),
        achievement=enum_value(GoalAchievement, achievement, "Goal.achievementStatus") if achievement else None,
        start=parse_date(res.get("startDate"), "Goal.startDate"),
        due=parse_date(target.get("dueDate"), "Goal.target.dueDate"),
        notes=notes,
        status_date=parse_date(res.get("statusDate"), "Goal.statusDate"),
        source=res,
    )
    children: list[str] = []
    for ext in res.get("extension") or []:
        if ext.get("url") != EXT_GOAL_RELATIONSHIP:
            continue
        subs = {e.get("url"): e for e in ext.get("extension") or []}
        kind = code_in((subs.get("type") or {}).get("valueCodeableConcept"), CS_GOAL_RELATIONSHIP_TYPE)
        child = ref_of((subs.get("target") or {}).get("valueReference"))
        if kind == "milestone" and child:
            children.append(reader.uid(child) or child)
    return goal, children


def _first_display(concept: Json) -> str | None:
    for c in concept.get("coding") or []:
        if c.get("display"):
            return str(c["display"])
    return None


def _read_agreements(reader: _Reader, plan: Json, group: ResourceGroup, tolerate: Tolerate | None = None) -> None:
    seen: set[str] = set()
    candidates: list[Json | None] = []
    for pos, activity in enumerate(plan.get("activity") or []):
        with _element(tolerate, f"CarePlan/{plan.get('id')} activity {pos}"):
            candidates.append(reader.get(ref_of(activity.get("reference")), "Task"))
    candidates += reader.based_on("Task", group.plan_uid, "basedOn")
    for res in candidates:
        if res is None or res.get("status") == RETIRED:
            continue
        uid = reader.register(res)
        if uid in seen:
            continue
        seen.add(uid)
        with _element(tolerate, f"Task/{res.get('id')}"):
            group.agreements.append(_agreement(reader, res, uid))


def _is_team(reader: _Reader, ref: str) -> bool:
    return ref_type(ref) == "CareTeam" or (reader.get(ref) or {}).get("resourceType") == "CareTeam"


def _agreement(reader: _Reader, res: Json, uid: str) -> Agreement:
    # A KT2Task (KT2 mode) has the due date and the goal in our extensions, and the team as owner when
    # nobody in particular owns the agreement.
    restricted = ((res.get("restriction") or {}).get("period") or {}).get("end")
    due = restricted or (extension(res, EXT_DUE_DATE) or {}).get("valueDate")
    goal = ref_of(res.get("focus")) or ref_of((extension(res, EXT_AGREEMENT_GOAL) or {}).get("valueReference"))
    owner = ref_of(res.get("owner"))
    return Agreement(
        uid=uid,
        description=str(res.get("description") or ""),
        owner=reader.uid(owner) if owner and not _is_team(reader, owner) else None,
        goal_uid=reader.uid(goal),
        due=parse_date(due, "Task.restriction.period.end"),
        status=enum_value(AgreementStatus, required(res, "status"), "Task.status"),
        created=parse_date(res.get("authoredOn"), "Task.authoredOn"),
        notes=_notes(reader, res, "Task"),
        source=res,
    )


def _read_meetings(reader: _Reader, group: ResourceGroup, tolerate: Tolerate | None = None) -> None:
    interviews_by_member: dict[str, NominationInterview] = {}
    member_uids = {m.who for m in group.members}
    for res in reader.based_on("Appointment", group.plan_uid, "supportingInformation"):
        if res.get("status") == RETIRED:
            continue
        uid = reader.register(res)
        with _element(tolerate, f"Appointment/{res.get('id')}"):
            if _has_artifact(res.get("serviceType"), _INTERVIEW):
                _read_interview_appointment(reader, res, uid, group, interviews_by_member)
            elif _has_artifact(res.get("serviceType"), _MEETING) and (
                meeting := _meeting(reader, res, uid, group, member_uids)
            ):
                group.meetings.append(meeting)
    group.interviews.extend(interviews_by_member.values())


def _read_interview_appointment(
    reader: _Reader, res: Json, uid: str, group: ResourceGroup, interviews_by_member: dict[str, NominationInterview]
) -> None:
    if res.get("status") in _NOT_PLANNING:
        return  # a cancelled interview plans nothing; planning it again makes a new Appointment
    key = extension(res, EXT_MEMBER_KEY)
    member_uid = str(key.get("valueString")) if key else _member_from_actors(reader, res, group)
    if member_uid is None:
        return
    iv = NominationInterview(uid="", member_uid=member_uid, appointment_uid=uid)
    iv.planned_start = _instant(res.get("start"), "Appointment.start")
    iv.planned_at = _planned_at(res.get("created"))
    iv.appointment_source = res
    interviews_by_member[member_uid] = iv


def _meeting(reader: _Reader, res: Json, uid: str, group: ResourceGroup, member_uids: set[str]) -> Meeting | None:
    """One meeting. `member_uids`: the `who` of every member of the group (worked out once per read)."""
    start = _instant(required(res, "start"), "Appointment.start", reader)
    end = _instant(required(res, "end"), "Appointment.end", reader)
    if start is None or end is None:  # required() already refused empties
        return None
    theme_concept = next(
        (c for c in res.get("reasonCode") or [] if code_in(c, CS_MEETING_THEME) or c.get("text")), None
    )
    theme_code = code_in(theme_concept, CS_MEETING_THEME)
    meeting = Meeting(
        uid=uid,
        start=start,
        minutes=_meeting_minutes(res.get("minutesDuration"), start, end),
        status=enum_value(MeetingStatus, required(res, "status"), "Appointment.status"),
        theme=enum_value(MeetingTheme, theme_code, "meeting theme") if theme_code else None,
        theme_text=str((theme_concept or {}).get("text", "")),
        created=_planned_at(res.get("created")),
        source=res,
    )
    participants = meeting.participants
    for part in res.get("participant") or []:
        ref = ref_of(part.get("actor"))
        if ref is None:
            continue
        actor_uid, is_place = reader.actor(ref)
        if is_place:
            loc = reader.get(ref, "Location")
            if loc is not None and all(p.uid != actor_uid for p in group.places):
                group.places.append(
                    Place(
                        actor_uid,
                        str(loc.get("name", "")),
                        str((loc.get("address") or {}).get("text", "")),
                        source=loc,
                    )
                )
            elif loc is None and all(p.uid != actor_uid for p in group.places):
                display = str((part.get("actor") or {}).get("display", ""))
                group.places.append(Place(actor_uid, display))
            meeting.place_uid = actor_uid
            continue
        if actor_uid not in member_uids:
            continue  # someone the product does not track: kept as-is on write
        types = part.get("type")
        if types:
            roles: AbstractSet[MeetingRole] = {
                enum_value(MeetingRole, c, "meeting role") for c in codes_in(types, CS_MEETING_ROLE)
            }
        else:  # no type: no role and not attended (the common case)
            roles = _NO_ROLES
        status = part.get("status")
        response = _PARTICIPATION.get(status) if type(status) is str else None
        if response is None:  # not a known code: refused as `enum_value` refuses it
            response = enum_value(ParticipationStatus, required(part, "status"), "Appointment.participant.status")
        participants.append(
            MeetingParticipant(
                who=actor_uid,
                roles=roles,
                response=response,
                attended=ATTENDED in codes_in(types, CS_V3_PARTICIPATION_TYPE) if types else False,
            )
        )
    return meeting


_NO_ROLES: frozenset[MeetingRole] = frozenset()
_PARTICIPATION = {m.value: m for m in ParticipationStatus}  # a participant's known status by one lookup


def _meeting_minutes(stated: object, start: datetime, end: datetime) -> int:
    """The meeting's length: minutesDuration when it is a positive whole number, else end - start in real time,
    else (an end at or before the start, as another system or an older version may have written) one hour."""
    if isinstance(stated, int) and not isinstance(stated, bool) and 0 < stated <= MAX_MEETING_MINUTES:
        return stated
    between = int((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() // 60)
    return between if 0 < between <= MAX_MEETING_MINUTES else MEETING_MINUTES


def _instant(value: object, what: str, reader: _Reader | None = None) -> datetime | None:
    """A moment that is compared with now: a dateTime with a time must carry its zone (FHIR requires one).
    With `reader`, a text that read's readers parsed before is not parsed again."""
    moment = reader.instant_text(value, what) if reader is not None else parse_datetime(value, what)
    if moment is not None and moment.tzinfo is None:
        raise MappingError("Een tijdstip in het EPD mist de tijdzone.", f"dateTime {value!r} without a zone in {what}")
    return moment


def _planned_at(value: object) -> datetime | None:
    """When a meeting or an interview was planned (Appointment.created; a bare date is midnight UTC); None when
    absent or not readable as a moment with a zone (then the timeline shows no "planned" event, and the value stays
    on write)."""
    try:
        return _instant(value, "Appointment.created")
    except MappingError:
        return None


def _member_from_actors(reader: _Reader, res: Json, group: ResourceGroup) -> str | None:
    actors = {reader.uid(ref_of(p.get("actor"))) for p in res.get("participant") or []}
    for m in group.members:
        if m.who in actors and MemberRole.LID in m.roles:
            return m.uid
    return None


def _sections_of(res: Json) -> dict[Section, str]:
    sections: dict[Section, str] = {}
    for item in res.get("payload") or []:
        ext = extension(item, EXT_SECTION)
        code = code_in({"coding": [ext.get("valueCoding") or {}]}, CS_SECTION) if ext else None
        if code and "contentString" in item:
            sections[enum_value(Section, code, "section")] = str(item["contentString"])
    return sections


def confidentiality_of(resource: Json) -> InterviewVisibility | None:
    """Who may read a record, from its v3-Confidentiality label (None: no label; the strictest wins)."""
    codes = {
        str(s.get("code"))
        for s in (resource.get("meta") or {}).get("security") or []
        if isinstance(s, dict) and s.get("system") == CS_V3_CONFIDENTIALITY
    }
    if not codes:
        return None
    if codes <= {"U", "L", "M", "N"}:
        return InterviewVisibility.SHARED
    return InterviewVisibility.PROFESSIONALS


def _read_communications(reader: _Reader, group: ResourceGroup, tolerate: Tolerate | None = None) -> None:
    meetings = {m.uid: m for m in group.meetings}
    for res in reader.based_on("Communication", group.plan_uid, "basedOn"):
        uid = reader.register(res)
        with _element(tolerate, f"Communication/{res.get('id')}"):
            _read_communication(reader, res, uid, group, meetings)


def _read_communication(
    reader: _Reader, res: Json, uid: str, group: ResourceGroup, meetings: dict[str, Meeting]
) -> None:
    """One Communication of the plan; everything is read before anything of the group changes."""
    part_of = [reader.uid(ref_of(p)) for p in res.get("partOf") or []]
    meeting = next((meetings[p] for p in part_of if p in meetings), None)
    status = str(required(res, "status"))
    if is_artifact(res, Artifact.INTERVIEW):
        key = extension(res, EXT_MEMBER_KEY)
        about = [reader.uid(ref_of(a)) for a in res.get("about") or []]
        member_uid = (
            str(key.get("valueString")) if key else next((m.uid for m in group.members if m.who in about), None)
        )
        if member_uid is None:
            return
        held_at = parse_datetime(res.get("sent"), "Communication.sent")
        sections = _sections_of(res)
        interviewer = reader.uid(ref_of(res.get("sender")))
        visibility = confidentiality_of(res)
        existing = group.interview_for(member_uid)
        iv = existing or NominationInterview(uid=uid, member_uid=member_uid)
        iv.uid, iv.held_at, iv.sections, iv.interviewer, iv.visibility = uid, held_at, sections, interviewer, visibility
        iv.source = res
        if existing is None:
            group.interviews.append(iv)
        return
    if is_artifact(res, Artifact.WISH):
        group.wishes.append(_wish(reader, res, uid, status, meeting))
        return
    if meeting is None:
        return
    if is_artifact(res, Artifact.AGENDA):
        items = []
        for item in res.get("payload") or []:
            if "contentReference" in item:
                ref = ref_of(item["contentReference"]) or ""
                target = reader.uid(ref) or ref
                display = str(item["contentReference"].get("display", ""))
                is_task = ref_type(ref) == "Task" or any(a.uid == target for a in group.agreements)
                by = _proposed_by(reader, item)
                items.append(AgendaItem(display, None if is_task else target, target if is_task else None, by))
            elif "contentString" in item:
                items.append(AgendaItem(str(item["contentString"]), proposed_by=_proposed_by(reader, item)))
        meeting.agenda = Agenda(uid, items, enum_value(AgendaStatus, status, "agenda status"), source=res)
    elif is_artifact(res, Artifact.REPORT):
        about = [reader.uid(ref_of(a)) or "" for a in res.get("about") or []]
        goal_uids = {g.uid for g in group.goals}
        task_uids = {a.uid for a in group.agreements}
        meeting.report = Report(
            uid,
            _sections_of(res),
            [a for a in about if a in goal_uids],
            [a for a in about if a in task_uids],
            parse_datetime(res.get("sent"), "Communication.sent"),
            source=res,
        )
    elif is_artifact(res, Artifact.INVITATION) or is_artifact(res, Artifact.CANCELLATION):
        message, calendar = "", ""
        for item in res.get("payload") or []:
            if "contentString" in item and not message:
                message = str(item["contentString"])
            att = item.get("contentAttachment") or {}
            if att.get("contentType") == "text/calendar" and att.get("data"):
                try:
                    calendar = base64.b64decode(att["data"]).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    raise MappingError(
                        "De agenda-bijlage van een uitnodiging is niet leesbaar.", f"bad calendar data in {uid}"
                    ) from None
        meeting.invitations.append(
            Invitation(
                uid,
                [reader.uid(ref_of(r)) or "" for r in res.get("recipient") or []],
                message,
                parse_datetime(res.get("sent"), "Communication.sent"),
                calendar,
                source=res,
                cancellation=is_artifact(res, Artifact.CANCELLATION),
            )
        )


def _wish(reader: _Reader, res: Json, uid: str, status: str, meeting: Meeting | None) -> Wish:
    """The patient's wish (see `to_fhir.wish`)."""
    kind = code_in(res.get("topic"), CS_WISH_KIND)
    if kind is None:
        raise MappingError("Een wens van de patiënt zegt niet wat voor wens het is.", f"{uid}: wish without a topic")
    sender = ref_of(res.get("sender"))
    sent = parse_datetime(required(res, "sent"), "Communication.sent")
    if sender is None or sent is None:
        raise MappingError("Een wens van de patiënt mist de afzender of de datum.", f"{uid}: wish without sender/sent")
    theme = codes_in(res.get("reasonCode"), CS_MEETING_THEME)
    sections = _sections_of(res)
    chair = None
    for item in _as_list(res.get("payload")):
        ext = extension(item, EXT_SECTION)
        code = code_in({"coding": [ext.get("valueCoding") or {}]}, CS_SECTION) if ext else None
        if code == Section.VOORZITTER and (ref := ref_of(item.get("contentReference"))):
            chair = reader.uid(ref) or ref
    return Wish(
        uid=uid,
        kind=enum_value(WishKind, kind, "wish kind"),
        by=reader.uid(sender) or sender,
        sent=sent,
        place=sections.get(Section.PLAATS, ""),
        chair=chair,
        theme=enum_value(MeetingTheme, theme[0], "meeting theme") if theme else None,
        text=sections.get(Section.TOELICHTING, ""),
        meeting_uid=meeting.uid if meeting is not None else None,
        status=enum_value(WishStatus, status, "wish status"),
        source=res,
    )


def _score_times(scores: Iterable[Json]) -> Iterator[datetime]:
    """The times of the Observations among `scores`, in order, read as the reader reads them (`_instant`); a score
    whose time cannot be read is left out (the reader lists it as unreadable)."""
    for res in scores:
        if res.get("resourceType") != "Observation":
            continue
        try:
            moment = _instant(res.get("effectiveDateTime"), "Observation.effectiveDateTime")
        except MappingError:
            continue
        if moment is not None:
            yield moment


def oldest_of_newest_first(scores: Iterable[Json]) -> datetime | None:
    """The time of the oldest score on a page of scores that should come newest first (`_sort=-date`); None when
    they do not (a server that ignores the sort: the page then says nothing about which scores are missing) or
    when no score on it has a readable time. Times are read as the reader reads them (`_instant`); a score whose
    time cannot be read does not count (the reader lists it as unreadable)."""
    oldest: datetime | None = None
    for moment in _score_times(scores):
        if oldest is not None and moment > oldest:
            return None
        oldest = moment
    return oldest


def newest_of_oldest_first(scores: Iterable[Json]) -> datetime | None:
    """The time of the newest score on a page of scores that should come oldest first (`_sort=date`); None when they
    do not, or when no score on it has a readable time (as `oldest_of_newest_first`, the other way round)."""
    newest: datetime | None = None
    for moment in _score_times(scores):
        if newest is not None and moment < newest:
            return None
        newest = moment
    return newest


def scores_on_the_day_of(scores: Iterable[Json], moment: datetime) -> int:
    """How many of `scores` (Observations) fall on the clinic day of `moment` (times read as the reader reads them;
    a score whose time cannot be read does not count)."""
    day = moment.astimezone(CLINIC_ZONE).date()
    return sum(1 for when in _score_times(scores) if when.astimezone(CLINIC_ZONE).date() == day)


def _read_progress(reader: _Reader, group: ResourceGroup, tolerate: Tolerate | None = None) -> None:
    goal_uids = {g.uid for g in group.goals}
    for res in reader.of_type("Observation"):
        if not _has_artifact(res.get("code"), _PROGRESS):
            continue
        if tolerate is None:
            _read_score(reader, res, group, goal_uids)
            continue
        # What `_element` does, without a context manager per score (a large group has thousands).
        try:
            _read_score(reader, res, group, goal_uids)
        except CompartmentError:
            raise
        except _UNREADABLE as exc:
            tolerate(f"Observation/{res.get('id')}", exc)


def _read_score(reader: _Reader, res: Json, group: ResourceGroup, goal_uids: set[str]) -> None:
    goal_uid = None
    for f in res.get("focus") or []:  # the first focus that is a goal of the group
        if (named := reader.uid(ref_of(f))) in goal_uids:
            goal_uid = named
            break
    if goal_uid is None:
        return
    value = res.get("valueInteger")
    if not isinstance(value, int):
        raise MappingError("Een voortgangscijfer mist zijn waarde.", f"Observation/{res.get('id')} has no valueInteger")
    meeting_ext = extension(res, EXT_MEETING)
    effective = res.get("effectiveDateTime")
    if type(effective) is not str or not effective:
        effective = required(res, "effectiveDateTime")
    # With its zone, as FHIR requires of a time: scores are ordered among each other and compared with meetings.
    when = _instant(effective, "Observation.effectiveDateTime", reader)
    if when is None:
        return
    uid = reader.register(res)
    meeting_ref = ref_of(meeting_ext.get("valueReference")) if meeting_ext is not None else None
    notes = res.get("note")
    note = str(notes[0].get("text", "")) if notes else ""
    performers = res.get("performer")
    by = None
    if isinstance(performers, list):
        for p in performers:
            if isinstance(p, dict) and (r := ref_of(p)):
                by = reader.ref_uid(r) or r
                break
    group.progress.append(
        ProgressScore(
            uid=uid,
            goal_uid=goal_uid,
            when=when,
            score=int(value),
            meeting_uid=reader.uid(meeting_ref),
            note=note,
            by=by,
            source=res,
        )
    )
