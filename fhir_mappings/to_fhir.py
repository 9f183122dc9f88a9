"""Domain -> FHIR R4: every resource of one resource group.

Each resource starts from what was read (`source`) so elements and extensions the product does
not own survive a read-modify-write; only the product's own elements are replaced.
"""

from __future__ import annotations

import base64
import typing
from collections.abc import Collection
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime, timedelta
from typing import Any

from fhir_mappings.codes import (
    CAREPLAN_STATUS,
    CARETEAM_STATUS,
    CONFIDENTIALITY_CODE,
    CS_ARTIFACT,
    CS_GOAL_ACHIEVEMENT,
    CS_GOAL_RELATIONSHIP_TYPE,
    CS_GOAL_TERM,
    CS_LIFE_AREA,
    CS_MEETING_ROLE,
    CS_MEETING_THEME,
    CS_MEMBER_ROLE,
    CS_PROVENANCE_AGENT_TYPE,
    CS_SNOMED,
    CS_V3_CONFIDENTIALITY,
    CS_V3_PARTICIPATION_TYPE,
    CS_WISH_KIND,
    EXT_AFTER_TREATMENT,
    EXT_AGREEMENT_GOAL,
    EXT_DATA_ABSENT_REASON,
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
    INTERVIEW_SECTIONS,
    KERNLID,
    REPORT_SECTIONS,
    WISH_SECTIONS,
    Artifact,
    MeetingStatus,
    MeetingTheme,
    MemberRole,
    NominationState,
    Section,
    coding,
    product_coding,
)
from fhir_mappings.errors import CompartmentError, MappingError
from fhir_mappings.fhirjson import (
    Json,
    ensure_identifier,
    fmt_date,
    fmt_datetime,
    merge_codings,
    merge_concepts,
    merge_extensions,
    names_display,
    parse_datetime,
    period,
    ref_of,
    references,
    same_date,
    set_or_drop,
    start_from,
)
from fhir_mappings.model import (
    Agreement,
    Goal,
    Meeting,
    Member,
    NominationInterview,
    Note,
    Place,
    ProgressScore,
    ResourceGroup,
    StatusChange,
    Supporter,
    Wish,
)
from fhir_mappings.profiles import KT2_MEMBER_ROLES, MappingMode, kt2_relationship_role, with_profiles
from fhir_mappings.refs import RefIndex, literal, ref_type

ATTENDED = "ATND"
INTERVIEW_MINUTES = 45
SUPPORTER_TELECOM = ("phone", "email")


@dataclass(frozen=True)
class Written:
    """One resource of the group, with the entity uid it belongs to (fullUrl urn:uuid:<uid> when new)."""

    uid: str
    resource: Json


def _ref(index: RefIndex, uid: str, display: str | None = None) -> Json:
    value: Json = {"reference": index.ref(uid)}
    if display:
        value["display"] = display
    return value


def _category(resource: Json, artifact: Artifact, key: str = "category") -> None:
    resource[key] = merge_concepts(resource.get(key), [{"coding": [product_coding(artifact)]}], [CS_ARTIFACT])


# --------------------------------------------------------------------------- team and plan


def _our_roles(member: Member) -> list[Json]:
    ours = [{"coding": [product_coding(r)]} for r in sorted(member.roles)]
    if member.core:
        ours.append({"coding": [coding(CS_MEMBER_ROLE, KERNLID)]})
    return ours


def _kt2_role(member: Member) -> Json | None:
    """The Koppeltaal role (SNOMED CT, from the KT2 role value sets) that fits this member, if one does."""
    kind = ref_type(member.who) or "RelatedPerson"  # a supporter's uid is a RelatedPerson of ours
    if kind == "RelatedPerson":
        return KT2_MEMBER_ROLES["RelatedPerson"]
    if kind in ("Practitioner", "PractitionerRole") and MemberRole.REGIEONDERSTEUNER in member.roles:
        return KT2_MEMBER_ROLES["regieondersteuner"]
    return None


def _without_kt2_roles(concepts: list[Json]) -> list[Json]:
    """The role concepts without the Koppeltaal codes we write (another system's SNOMED codes stay)."""
    ours = {c["code"] for c in KT2_MEMBER_ROLES.values()}
    return [
        cc
        for cc in concepts
        if not any(c.get("system") == CS_SNOMED and c.get("code") in ours for c in cc.get("coding") or [])
    ]


def _participant(member: Member, base: Json | None, index: RefIndex, mode: MappingMode) -> Json:
    part = dict(base or {})
    if not member.uid.startswith("#"):
        part["id"] = member.uid
    part["member"] = {**(part.get("member") or {}), **_ref(index, member.who, member.display)}
    roles = _without_kt2_roles(merge_concepts(part.get("role"), [], [CS_MEMBER_ROLE]))
    kt2 = _kt2_role(member) if mode is MappingMode.KT2 else None
    set_or_drop(part, "role", roles + ([{"coding": [kt2]}] if kt2 else []) + _our_roles(member))
    dates = period(member.start, member.end, part.get("period"))
    if mode is MappingMode.KT2:  # KT2CareTeam does not use participant.period: the dates go in our extension
        part.pop("period", None)
        member_period = [{"url": EXT_MEMBER_PERIOD, "valuePeriod": dates}] if dates else []
    else:
        set_or_drop(part, "period", dates)
        member_period = []
    had_state = any(e.get("url") == EXT_NOMINATION_STATE for e in part.get("extension") or [])
    state = (
        [{"url": EXT_NOMINATION_STATE, "valueCoding": product_coding(member.nomination)}]
        if had_state or member.nomination is not NominationState.LID
        else []
    )
    by = member.proposed_by
    proposed = [{"url": EXT_PROPOSED_BY, "valueReference": _ref(index, by)}] if by else []
    reason = [{"url": EXT_NOMINATION_REASON, "valueString": member.reason}] if member.reason else []
    # Both modes: participant.period.start (or the member-period extension) stays the nomination date.
    joined = [{"url": EXT_MEMBER_JOINED, "valueDate": fmt_date(member.joined)}] if member.joined else []
    behind = member.practitioner if member.who.startswith("PractitionerRole/") else None
    role_of = [{"url": EXT_ROLE_PRACTITIONER, "valueReference": {"reference": behind}}] if behind else []
    set_or_drop(
        part,
        "extension",
        merge_extensions(
            part.get("extension"),
            state + proposed + reason + member_period + joined + role_of,
            [
                EXT_NOMINATION_STATE,
                EXT_PROPOSED_BY,
                EXT_NOMINATION_REASON,
                EXT_MEMBER_PERIOD,
                EXT_MEMBER_JOINED,
                EXT_ROLE_PRACTITIONER,
            ],
        ),
    )
    return part


def _patient_participation(member: Member) -> Json:
    """The patient's participation as one extension of the CareTeam (KT2 mode: the patient is only `subject`)."""
    parts: list[Json] = []
    if not member.uid.startswith("#"):
        parts.append({"url": "key", "valueString": member.uid})
    parts += [{"url": "role", "valueCoding": concept["coding"][0]} for concept in _our_roles(member)]
    if (dates := period(member.start, member.end)) is not None:
        parts.append({"url": "period", "valuePeriod": dates})
    return {"url": EXT_PATIENT_PARTICIPATION, "extension": parts}


def care_team(group: ResourceGroup, index: RefIndex, mode: MappingMode = MappingMode.NL_CORE) -> Json:
    """The group and its members (CareTeam).

    KT2 mode: no `category` (the product identifier tells the group apart), the patient only as `subject`
    (their participation in our extension), members' dates in our extension instead of `participant.period`.
    """
    team = start_from(group.source, "CareTeam")
    set_or_drop(team, "meta", with_profiles(team.get("meta"), mode, "CareTeam"))
    ensure_identifier(team, group.uid)
    team["status"] = CARETEAM_STATUS[group.status]
    if mode is MappingMode.KT2:
        set_or_drop(team, "category", merge_concepts(team.get("category"), [], [CS_ARTIFACT]))
    else:
        _category(team, Artifact.TEAM)
    team["name"] = group.name
    team["subject"] = {**(team.get("subject") or {}), "reference": group.patient}
    set_or_drop(team, "period", period(group.start, group.end, team.get("period")))
    after = (
        [{"url": EXT_AFTER_TREATMENT, "valueDate": fmt_date(group.after_treatment_since)}]
        if group.after_treatment_since
        else []
    )
    as_subject = [m for m in group.members if m.who == group.patient] if mode is MappingMode.KT2 else []
    if as_subject and as_subject[0].display:
        team["subject"]["display"] = as_subject[0].display
    set_or_drop(
        team,
        "extension",
        merge_extensions(
            team.get("extension"),
            after + [_patient_participation(m) for m in as_subject],
            [EXT_AFTER_TREATMENT, EXT_PATIENT_PARTICIPATION],
        ),
    )
    existing: list[Json] = list(team.get("participant") or [])
    by_id = {p.get("id"): p for p in existing if p.get("id")}
    used: set[int] = set()
    participants: list[Json] = []
    for member in group.members:
        if as_subject and member.who == group.patient:
            for old in existing:  # a participant that named the patient (written in nl-core mode) goes
                if ref_of(old.get("member")) and index.uid(str(old["member"]["reference"])) == group.patient:
                    used.add(id(old))
            continue
        if member.uid.startswith("#"):
            pos = int(member.uid[1:])
            base = existing[pos] if pos < len(existing) else None
        else:
            base = by_id.get(member.uid)
        if base is not None:
            used.add(id(base))
        participants.append(_participant(member, base, index, mode))
    # Participants the product does not model (an Organization, another system's entries) stay as they were.
    foreign = [p for p in existing if id(p) not in used]
    set_or_drop(team, "participant", participants + foreign)
    return team


def _keep_refs(existing: list[Json] | None, ours: list[Json], index: RefIndex, our_uids: set[str]) -> list[Json]:
    """Our references in order, with the references that are not ours (another system's, one the app could not
    read) kept where they were: a list the action did not change is written back exactly as read."""
    out = list(ours)
    for pos, r in enumerate(existing or []):
        if index.uid(str(r.get("reference", ""))) not in our_uids:
            out.insert(min(pos, len(out)), r)
    return out


def care_plan(group: ResourceGroup, index: RefIndex) -> Json:
    """The RG-plan (CarePlan) tying team, goals and agreements together."""
    plan = start_from(group.plan_source, "CarePlan")
    ensure_identifier(plan, group.plan_uid)
    plan["status"] = CAREPLAN_STATUS[group.status]
    plan["intent"] = "plan"
    _category(plan, Artifact.PLAN)
    renamed = group.source is None or group.name != group.source.get("name", plan.get("title"))
    if renamed or "title" not in plan:  # another system's own plan title stays until the group is renamed
        plan["title"] = group.name
    plan["subject"] = {**(plan.get("subject") or {}), "reference": group.patient}
    set_or_drop(plan, "period", period(group.start, group.end, plan.get("period")))
    plan["careTeam"] = _keep_refs(plan.get("careTeam"), [_ref(index, group.uid)], index, {group.uid})
    goals = [_ref(index, g.uid) for g in group.goals]
    set_or_drop(plan, "goal", _keep_refs(plan.get("goal"), goals, index, {g.uid for g in group.goals}))
    task_uids = {a.uid for a in group.agreements}
    old_activity: list[Json] = list(plan.get("activity") or [])
    by_task = {index.uid(str((a.get("reference") or {}).get("reference", ""))): a for a in old_activity}
    activity = [{**by_task.get(a.uid, {}), "reference": _ref(index, a.uid)} for a in group.agreements]
    foreign = [
        a for a in old_activity if index.uid(str((a.get("reference") or {}).get("reference", ""))) not in task_uids
    ]
    set_or_drop(plan, "activity", activity + foreign)
    changes = [_status_change(c, index) for c in group.status_changes]
    set_or_drop(plan, "extension", merge_extensions(plan.get("extension"), changes, [EXT_STATUS_CHANGE]))
    return plan


def _status_change(change: StatusChange, index: RefIndex) -> Json:
    """One change of the group's status, in the CarePlan's status codes (request-status)."""
    parts: list[Json] = [
        {"url": "from", "valueCode": CAREPLAN_STATUS[change.old]},
        {"url": "to", "valueCode": CAREPLAN_STATUS[change.new]},
        {"url": "date", "valueDate": fmt_date(change.day)},
    ]
    if change.by:
        parts.append({"url": "by", "valueReference": _ref(index, change.by)})
    return {"url": EXT_STATUS_CHANGE, "extension": parts}


def related_person(supporter: Supporter, patient: str, mode: MappingMode = MappingMode.NL_CORE) -> Json:
    """An informal supporter (RelatedPerson).

    Gender and birth date are written when known; KT2RelatedPerson requires both, so KT2 mode writes gender
    `unknown` and a birth date that is absent for a reason (data-absent-reason `unknown`) when they are not known.
    """
    person = start_from(supporter.source, "RelatedPerson")
    set_or_drop(person, "meta", with_profiles(person.get("meta"), mode, "RelatedPerson"))
    ensure_identifier(person, supporter.uid)
    kt2 = mode is MappingMode.KT2
    set_or_drop(person, "gender", supporter.gender or ("unknown" if kt2 else None))
    set_or_drop(person, "birthDate", fmt_date(supporter.birth_date) if supporter.birth_date else None)
    absent = [{"url": EXT_DATA_ABSENT_REASON, "valueCode": "unknown"}] if kt2 and not supporter.birth_date else []
    set_or_drop(
        person,
        "_birthDate",
        {"extension": absent} if absent else None,
    )
    person.setdefault("active", True)
    person["patient"] = {**(person.get("patient") or {}), "reference": patient}
    names = list(person.get("name") or [])
    if names_display(names) != supporter.name:  # only a changed name replaces what was there
        first = {k: v for k, v in (names[0] if names else {}).items() if k not in ("given", "family", "text")}
        person["name"] = [{**first, "text": supporter.name}, *names[1:]]
    telecom: list[Json] = []
    wanted = {"phone": supporter.phone, "email": supporter.email}
    for item in person.get("telecom") or []:
        system = item.get("system")
        if system not in SUPPORTER_TELECOM:
            telecom.append(item)
        elif wanted.get(system) == item.get("value"):  # unchanged: keep it with its use, rank, period
            telecom.append(item)
            wanted[system] = ""
    telecom += [{"system": system, "value": value} for system, value in wanted.items() if value]
    set_or_drop(person, "telecom", telecom)
    relations: list[Json] = list(person.get("relationship") or [])
    ours: Json = {
        "coding": [{"system": supporter.relationship_system, "code": supporter.relationship}],
    }
    role = kt2_relationship_role(supporter.relationship_system, supporter.relationship) if kt2 else None
    if role is not None:  # KT2RelatedPerson: a relationship from the zib value sets (see profiles.py)
        ours["coding"].append(role)
    if supporter.relationship_text:
        ours["text"] = supporter.relationship_text
    person["relationship"] = [ours, *relations[1:]] if relations else [ours]
    return person


def location(place: Place) -> Json:
    """A place where the group meets."""
    loc = start_from(place.source, "Location")
    ensure_identifier(loc, place.uid)
    loc.setdefault("status", "active")
    loc["name"] = place.name
    address = {k: v for k, v in (loc.get("address") or {}).items() if k != "text"}
    if place.address:
        address["text"] = place.address
    set_or_drop(loc, "address", address)
    return loc


# --------------------------------------------------------------------------- goals, agreements, progress


def goal(group: ResourceGroup, g: Goal, index: RefIndex, mode: MappingMode = MappingMode.NL_CORE) -> Json:
    """A goal in the patient's words; a long-term goal lists its short-term steps as milestones.

    nl-core-TreatmentObjective allows one `Goal.note`: it holds the newest note, the earlier ones are kept in
    order in our `note` extension (each a full Annotation: author, time, text).
    """
    res = start_from(g.source, "Goal")
    set_or_drop(res, "meta", with_profiles(res.get("meta"), mode, "Goal"))
    ensure_identifier(res, g.uid)
    res["lifecycleStatus"] = g.lifecycle.value
    if g.achievement is not None:
        ach = dict(res.get("achievementStatus") or {})
        ach["coding"] = merge_codings(
            ach.get("coding"),
            [{"system": CS_GOAL_ACHIEVEMENT, "code": g.achievement.value}],
            [CS_GOAL_ACHIEVEMENT],
        )
        res["achievementStatus"] = ach
    else:
        res.pop("achievementStatus", None)
    ours = [{"coding": [product_coding(g.term)]}]
    if g.life_area is not None:
        ours.append({"coding": [product_coding(g.life_area)]})
    res["category"] = merge_concepts(res.get("category"), ours, [CS_GOAL_TERM, CS_LIFE_AREA])
    res["description"] = {**(res.get("description") or {}), "text": g.text}
    res["subject"] = {**(res.get("subject") or {}), "reference": group.patient}
    res.setdefault("expressedBy", {"reference": group.patient})
    set_or_drop(res, "startDate", fmt_date(g.start))
    set_or_drop(res, "statusDate", same_date(res.get("statusDate"), g.status_date))
    targets: list[Json] = list(res.get("target") or [])
    first = dict(targets[0]) if targets else {}
    set_or_drop(first, "dueDate", fmt_date(g.due))
    set_or_drop(res, "target", ([first] if first else []) + targets[1:])
    notes = _notes(g.notes, index)
    set_or_drop(res, "note", notes[-1:])
    earlier = [{"url": EXT_NOTE, "valueAnnotation": n} for n in notes[:-1]]
    steps = [
        {
            "url": EXT_GOAL_RELATIONSHIP,
            "extension": [
                {
                    "url": "type",
                    "valueCodeableConcept": {"coding": [{"system": CS_GOAL_RELATIONSHIP_TYPE, "code": "milestone"}]},
                },
                {"url": "target", "valueReference": _ref(index, child.uid)},
            ],
        }
        for child in group.goals
        if child.parent_uid == g.uid
    ]
    # A step towards a goal the app could not read (not in the group) stays as it was.
    known = {x.uid for x in group.goals}
    kept = [
        e
        for e in res.get("extension") or []
        if e.get("url") != EXT_NOTE and (not _is_milestone(e) or _milestone_target(e, index) not in known)
    ]
    set_or_drop(res, "extension", earlier + kept + steps)
    return res


def _milestone_target(ext: Json, index: RefIndex) -> str | None:
    for sub in ext.get("extension") or []:
        if sub.get("url") == "target":
            ref = str((sub.get("valueReference") or {}).get("reference", ""))
            return index.uid(ref) if ref else None
    return None


def _is_milestone(ext: Json) -> bool:
    if ext.get("url") != EXT_GOAL_RELATIONSHIP:
        return False
    for sub in ext.get("extension") or []:
        if sub.get("url") == "type":
            codes = (sub.get("valueCodeableConcept") or {}).get("coding") or []
            return any(c.get("code") == "milestone" for c in codes)
    return False


def task(group: ResourceGroup, a: Agreement, index: RefIndex, mode: MappingMode = MappingMode.NL_CORE) -> Json:
    """An agreement (Task): who does what, by when, for which goal.

    KT2 mode writes a KT2Task: `owner` always (the group's CareTeam when nobody in particular owns it),
    priority `routine`, no `basedOn` (CarePlan.activity names the Task), and the goal, the due date and the
    notes in extensions of ours instead of `focus`, `restriction` and `note`, which KT2Task does not allow.
    """
    if mode is MappingMode.KT2:
        return _kt2_task(group, a, index)
    res = start_from(a.source, "Task")
    set_or_drop(res, "meta", with_profiles(res.get("meta"), mode, "Task"))
    ensure_identifier(res, a.uid)
    res["status"] = a.status.value
    res["intent"] = "plan"
    code = dict(res.get("code") or {})
    code["coding"] = merge_codings(code.get("coding"), [product_coding(Artifact.AGREEMENT)], [CS_ARTIFACT])
    res["code"] = code
    res["description"] = a.description
    res["for"] = {**(res.get("for") or {}), "reference": group.patient}
    set_or_drop(res, "focus", _ref(index, a.goal_uid) if a.goal_uid else None)
    set_or_drop(res, "owner", _ref(index, a.owner, _display(group, a.owner)) if a.owner else None)
    restriction = dict(res.get("restriction") or {})
    set_or_drop(restriction, "period", period(None, a.due, restriction.get("period")))
    set_or_drop(res, "restriction", restriction)
    res["basedOn"] = _keep_refs(res.get("basedOn"), [_ref(index, group.plan_uid)], index, {group.plan_uid})
    set_or_drop(res, "authoredOn", same_date(res.get("authoredOn"), a.created))
    set_or_drop(res, "note", _notes(a.notes, index))
    # What KT2 mode keeps in extensions is in the standard elements now (a domain switched back to nl-core).
    set_or_drop(
        res, "extension", merge_extensions(res.get("extension"), [], [EXT_AGREEMENT_GOAL, EXT_DUE_DATE, EXT_NOTE])
    )
    return res


def _kt2_task(group: ResourceGroup, a: Agreement, index: RefIndex) -> Json:
    res = start_from(a.source, "Task")
    set_or_drop(res, "meta", with_profiles(res.get("meta"), MappingMode.KT2, "Task"))
    ensure_identifier(res, a.uid)
    res["status"] = a.status.value
    res["intent"] = "plan"
    res["priority"] = "routine"
    code = dict(res.get("code") or {})
    code["coding"] = merge_codings(code.get("coding"), [product_coding(Artifact.AGREEMENT)], [CS_ARTIFACT])
    res["code"] = code
    res["description"] = a.description
    res["for"] = {**(res.get("for") or {}), "reference": group.patient}
    for forbidden in ("focus", "restriction", "basedOn", "note"):
        res.pop(forbidden, None)
    res["owner"] = _ref(index, a.owner, _display(group, a.owner)) if a.owner else _ref(index, group.uid, group.name)
    set_or_drop(res, "authoredOn", same_date(res.get("authoredOn"), a.created))
    ours: list[Json] = []
    if a.goal_uid:
        ours.append({"url": EXT_AGREEMENT_GOAL, "valueReference": _ref(index, a.goal_uid)})
    if a.due:
        ours.append({"url": EXT_DUE_DATE, "valueDate": fmt_date(a.due)})
    ours += [{"url": EXT_NOTE, "valueAnnotation": n} for n in _notes(a.notes, index)]
    set_or_drop(
        res, "extension", merge_extensions(res.get("extension"), ours, [EXT_AGREEMENT_GOAL, EXT_DUE_DATE, EXT_NOTE])
    )
    return res


def _notes(notes: list[Note], index: RefIndex) -> list[Json]:
    """Annotations, each kept with what another system added to it."""
    out = []
    for n in notes:
        note = dict(n.source or {})
        note["text"] = n.text
        note["time"] = fmt_datetime(n.time)
        if n.author:
            note.pop("authorString", None)
            note["authorReference"] = {"reference": index.ref(n.author)}
        out.append(note)
    return out


def observation(group: ResourceGroup, p: ProgressScore, index: RefIndex) -> Json:
    """A 0-10 progress score on a goal (Observation)."""
    res = start_from(p.source, "Observation")
    ensure_identifier(res, p.uid)
    res.setdefault("status", "final")
    code = dict(res.get("code") or {})
    code["coding"] = merge_codings(code.get("coding"), [product_coding(Artifact.PROGRESS)], [CS_ARTIFACT])
    res["code"] = code
    res["subject"] = {**(res.get("subject") or {}), "reference": group.patient}
    res["focus"] = [_ref(index, p.goal_uid)]
    res["effectiveDateTime"] = fmt_datetime(p.when)
    res["valueInteger"] = p.score
    res["basedOn"] = _keep_refs(res.get("basedOn"), [_ref(index, group.plan_uid)], index, {group.plan_uid})
    set_or_drop(res, "note", [{"text": p.note}] if p.note else None)
    if p.by:
        res["performer"] = _keep_refs(res.get("performer"), [_ref(index, p.by)], index, {p.by})
    meeting = [{"url": EXT_MEETING, "valueReference": _ref(index, p.meeting_uid)}] if p.meeting_uid else []
    set_or_drop(res, "extension", merge_extensions(res.get("extension"), meeting, [EXT_MEETING]))
    return res


# --------------------------------------------------------------------------- meetings


def _display(group: ResourceGroup, who: str) -> str | None:
    return next((m.display for m in group.members if m.who == who), None)


def _same_instant(existing: object, value: datetime) -> str:
    """The instant to write: what was there when it is the same moment (an end read back in the start's offset
    is the same moment in another offset: rewriting it would change the Appointment on every save)."""
    if isinstance(existing, str):
        try:
            if datetime.fromisoformat(existing.replace("Z", "+00:00")) == value:
                return existing
        except (ValueError, TypeError):
            pass
    return fmt_datetime(value)


def _same_moment(existing: object, value: datetime) -> str:
    """Like `_same_instant`, also keeping a bare date that was read as this moment (midnight UTC)."""
    try:
        if existing is not None and parse_datetime(existing, "existing") == value:
            return str(existing)
    except MappingError:
        pass
    return fmt_datetime(value)


def appointment(group: ResourceGroup, m: Meeting, index: RefIndex) -> Json:
    """A meeting of the group (Appointment): time, place, theme, roles, responses and attendance."""
    res = start_from(m.source, "Appointment")
    ensure_identifier(res, m.uid)
    res["status"] = m.status.value
    _category(res, Artifact.MEETING, "serviceType")
    res["start"] = fmt_datetime(m.start)
    res["end"] = _same_instant(res.get("end"), m.end)
    res["minutesDuration"] = m.minutes  # the stored length: what is read back first
    if m.created is not None:  # when it was planned; a value that means the same moment (a bare date) stays
        res["created"] = _same_moment(res.get("created"), m.created)
    res.setdefault("description", f"Bijeenkomst {group.name}")
    if m.theme is not None or m.theme_text:
        theme: Json = {"coding": [product_coding(m.theme or MeetingTheme.ANDERS)]}
        if m.theme_text:
            theme["text"] = m.theme_text
        res["reasonCode"] = merge_concepts(res.get("reasonCode"), [theme], [CS_MEETING_THEME])
    else:
        set_or_drop(res, "reasonCode", merge_concepts(res.get("reasonCode"), [], [CS_MEETING_THEME]))
    res["supportingInformation"] = _keep_refs(
        res.get("supportingInformation"), [_ref(index, group.plan_uid)], index, {group.plan_uid}
    )
    existing: list[Json] = list(res.get("participant") or [])
    by_actor = {index.uid(ref): p for p in existing if (ref := str((p.get("actor") or {}).get("reference", "")))}
    actorless = [p for p in existing if not (p.get("actor") or {}).get("reference")]  # e.g. a type-only slot
    ours: list[Json] = []
    handled: set[str] = set()
    for mp in m.participants:
        base = dict(by_actor.get(mp.who) or {})
        handled.add(mp.who)
        types = [{"coding": [product_coding(r)]} for r in sorted(mp.roles)]
        kept_types = [
            t
            for t in merge_concepts(base.get("type"), [], [CS_MEETING_ROLE])
            if not any(
                c.get("code") == ATTENDED and c.get("system") == CS_V3_PARTICIPATION_TYPE for c in t.get("coding") or []
            )
        ]
        if mp.attended:
            types.append({"coding": [{"system": CS_V3_PARTICIPATION_TYPE, "code": ATTENDED, "display": "attender"}]})
        base["actor"] = {**(base.get("actor") or {}), **_ref(index, mp.who, _display(group, mp.who))}
        set_or_drop(base, "type", kept_types + types)
        base["status"] = mp.response.value
        ours.append(base)
    if m.place_uid is not None:
        handled.add(m.place_uid)
        place = next((p for p in group.places if p.uid == m.place_uid), None)
        base = dict(by_actor.get(m.place_uid) or {})
        base["actor"] = {**(base.get("actor") or {}), **_ref(index, m.place_uid, place.name if place else None)}
        base.setdefault("status", "accepted")
        ours.append(base)
    place_uids = {p.uid for p in group.places}
    foreign = [
        p
        for uid, p in by_actor.items()
        if uid not in handled and uid not in place_uids and not _is_member_actor(group, uid)
    ]
    res["participant"] = ours + foreign + actorless
    return res


def _is_member_actor(group: ResourceGroup, uid: str) -> bool:
    return any(m.who == uid for m in group.members)


def interview_appointment(group: ResourceGroup, iv: NominationInterview, index: RefIndex) -> Json | None:
    """The planned nomination interview (Appointment), if it was planned."""
    if iv.appointment_uid is None or iv.planned_start is None:
        return None
    member = group.member(iv.member_uid)
    res = start_from(iv.appointment_source, "Appointment")
    ensure_identifier(res, iv.appointment_uid)
    if iv.cancelled:
        res["status"] = MeetingStatus.CANCELLED.value
    else:
        res["status"] = MeetingStatus.FULFILLED.value if iv.held_at else MeetingStatus.BOOKED.value
    _category(res, Artifact.INTERVIEW, "serviceType")
    res["start"] = fmt_datetime(iv.planned_start)
    if iv.planned_at is not None:  # when it was planned; a value that means the same moment (a bare date) stays
        res["created"] = _same_moment(res.get("created"), iv.planned_at)
    end = res.get("end")
    if not end or iv.appointment_source is None or iv.appointment_source.get("start") != res["start"]:
        res["end"] = fmt_datetime(iv.planned_start + timedelta(minutes=INTERVIEW_MINUTES))
    res.setdefault("description", f"Kennismakingsgesprek met {member.display}")
    res["supportingInformation"] = _keep_refs(
        res.get("supportingInformation"), [_ref(index, group.plan_uid)], index, {group.plan_uid}
    )
    res["extension"] = merge_extensions(
        res.get("extension"), [{"url": EXT_MEMBER_KEY, "valueString": iv.member_uid}], [EXT_MEMBER_KEY]
    )
    people = [group.patient, member.who] + ([iv.interviewer] if iv.interviewer else [])
    existing = {index.uid(str((p.get("actor") or {}).get("reference", ""))): p for p in res.get("participant") or []}
    parts = []
    for who in dict.fromkeys(people):
        base = dict(existing.pop(who, {}))
        base["actor"] = {**(base.get("actor") or {}), **_ref(index, who, _display(group, who))}
        base.setdefault("status", "accepted")
        parts.append(base)
    res["participant"] = parts + list(existing.values())
    return res


def _communication(
    group: ResourceGroup, source: Json | None, uid: str, artifact: Artifact, status: str, index: RefIndex
) -> Json:
    res = start_from(source, "Communication")
    ensure_identifier(res, uid)
    res["status"] = status
    _category(res, artifact)
    res["subject"] = {**(res.get("subject") or {}), "reference": group.patient}
    res["basedOn"] = _keep_refs(res.get("basedOn"), [_ref(index, group.plan_uid)], index, {group.plan_uid})
    return res


def _sections(sections: dict[Section, str], order: tuple[Section, ...]) -> list[Json]:
    return [
        {
            "extension": [{"url": EXT_SECTION, "valueCoding": product_coding(key)}],
            "contentString": sections[key],
        }
        for key in order
        if sections.get(key)
    ] + [
        {"extension": [{"url": EXT_SECTION, "valueCoding": product_coding(key)}], "contentString": text}
        for key, text in sections.items()
        if key not in order and text
    ]


def agenda(group: ResourceGroup, m: Meeting, index: RefIndex) -> Json | None:
    """The meeting's agenda (Communication), items in order."""
    if m.agenda is None:
        return None
    a = m.agenda
    res = _communication(group, a.source, a.uid, Artifact.AGENDA, a.status.value, index)
    res["partOf"] = [_ref(index, m.uid)]
    payload: list[Json] = []
    for item in a.items:
        target = item.goal_uid or item.agreement_uid
        entry: Json = (
            {"contentReference": _ref(index, target, item.text or None)}
            if target is not None
            else {"contentString": item.text}
        )
        if item.proposed_by:
            entry["extension"] = [{"url": EXT_PROPOSED_BY, "valueReference": _ref(index, item.proposed_by)}]
        payload.append(entry)
    set_or_drop(res, "payload", payload)
    return res


def report(group: ResourceGroup, m: Meeting, index: RefIndex) -> Json | None:
    """The meeting's report (Communication): sections, goals discussed, new agreements."""
    if m.report is None:
        return None
    r = m.report
    res = _communication(group, r.source, r.uid, Artifact.REPORT, "completed", index)
    res["partOf"] = [_ref(index, m.uid)]
    res["recipient"] = _keep_refs(res.get("recipient"), [_ref(index, group.uid)], index, {group.uid})
    about = [_ref(index, g) for g in r.goals_discussed] + [_ref(index, a) for a in r.new_agreements]
    # What the app does not know (a goal it could not read, another system's reference) stays named.
    known = {g.uid for g in group.goals} | {a.uid for a in group.agreements}
    set_or_drop(res, "about", _keep_refs(res.get("about"), about, index, known))
    set_or_drop(res, "sent", fmt_datetime(r.written) if r.written else None)
    set_or_drop(res, "payload", _sections(r.sections, REPORT_SECTIONS))
    return res


def invitation(group: ResourceGroup, m: Meeting, inv_index: int, index: RefIndex) -> Json:
    """An invitation to a meeting, with the calendar file attached."""
    inv = m.invitations[inv_index]
    kind = Artifact.CANCELLATION if inv.cancellation else Artifact.INVITATION
    res = _communication(group, inv.source, inv.uid, kind, "completed", index)
    res["partOf"] = [_ref(index, m.uid)]
    res["recipient"] = [_ref(index, who, _display(group, who)) for who in inv.recipients]
    set_or_drop(res, "sent", fmt_datetime(inv.sent) if inv.sent else None)
    payload: list[Json] = [{"contentString": inv.message}]
    if inv.calendar:
        payload.append(
            {
                "contentAttachment": {
                    "contentType": "text/calendar",
                    "data": base64.b64encode(inv.calendar.encode("utf-8")).decode("ascii"),
                    "title": "bijeenkomst.ics",
                }
            }
        )
    res["payload"] = payload
    return res


def interview_record(group: ResourceGroup, iv: NominationInterview, index: RefIndex) -> Json:
    """The nomination interview's record (Communication): in preparation until held, then four sections."""
    member = group.member(iv.member_uid)
    status = "completed" if iv.held_at else "preparation"
    res = _communication(group, iv.source, iv.uid, Artifact.INTERVIEW, status, index)
    ours = [_ref(index, iv.appointment_uid)] if iv.appointment_uid and iv.planned_start else []
    # The interview's appointment the app could not read stays named (it is not in the group, so not `ours`).
    unreadable = {u.key for u in group.unreadable}
    kept = [p for p in res.get("partOf") or [] if literal(str(p.get("reference", ""))) in unreadable]
    set_or_drop(res, "partOf", ours + kept)
    res["about"] = [_ref(index, member.who, member.display)]
    set_or_drop(res, "sender", _ref(index, iv.interviewer) if iv.interviewer else None)
    set_or_drop(res, "sent", fmt_datetime(iv.held_at) if iv.held_at else None)
    res["extension"] = merge_extensions(
        res.get("extension"), [{"url": EXT_MEMBER_KEY, "valueString": iv.member_uid}], [EXT_MEMBER_KEY]
    )
    set_or_drop(res, "payload", _sections(iv.sections, INTERVIEW_SECTIONS))
    if iv.visibility is not None:
        res["meta"] = with_confidentiality(res.get("meta"), CONFIDENTIALITY_CODE[iv.visibility])
    return res


def wish(group: ResourceGroup, w: Wish, index: RefIndex) -> Json:
    """The patient's wish (Communication from the patient to the team): for the next meeting, a pause or an end."""
    res = _communication(group, w.source, w.uid, Artifact.WISH, w.status.value, index)
    topic = dict(res.get("topic") or {})
    topic["coding"] = merge_codings(topic.get("coding"), [product_coding(w.kind)], [CS_WISH_KIND])
    res["topic"] = topic
    res["sender"] = _ref(index, w.by)
    res["recipient"] = _keep_refs(res.get("recipient"), [_ref(index, group.uid)], index, {group.uid})
    res["sent"] = fmt_datetime(w.sent)
    ours = [_ref(index, w.meeting_uid)] if w.meeting_uid else []
    set_or_drop(res, "partOf", _keep_refs(res.get("partOf"), ours, index, {m.uid for m in group.meetings}))
    themes = [{"coding": [product_coding(w.theme)]}] if w.theme is not None else []
    set_or_drop(res, "reasonCode", merge_concepts(res.get("reasonCode"), themes, [CS_MEETING_THEME]))
    texts = {k: v for k, v in ((Section.PLAATS, w.place), (Section.TOELICHTING, w.text)) if v}
    payload = _sections(texts, WISH_SECTIONS)
    if w.chair:
        payload.insert(
            1 if w.place else 0,
            {
                "extension": [{"url": EXT_SECTION, "valueCoding": product_coding(Section.VOORZITTER)}],
                "contentReference": _ref(index, w.chair, _display(group, w.chair)),
            },
        )
    set_or_drop(res, "payload", payload)
    return res


def with_confidentiality(meta: Json | None, code: str) -> Json:
    """`meta` with one v3-Confidentiality label in `security` (other labels and elements kept)."""
    out = dict(meta or {})
    labels = [s for s in out.get("security") or [] if s.get("system") != CS_V3_CONFIDENTIALITY]
    out["security"] = [*labels, {"system": CS_V3_CONFIDENTIALITY, "code": code}]
    return out


# --------------------------------------------------------------------------- the whole group


def group_to_fhir(
    group: ResourceGroup,
    index: RefIndex | None = None,
    only: Collection[str] | None = None,
    mode: MappingMode = MappingMode.NL_CORE,
) -> list[Written]:
    """Every resource of the group, in an order where a resource comes after what it refers to.

    `only` (uids, see `save_scope`): just those resources, in the same order, each mapped exactly as the whole
    group's mapping maps it. `mode`: the profiles to meet (fhir_mappings/profiles.py; docs/mapping.md).
    """
    index = index or RefIndex()

    def wanted(uid: str) -> bool:
        return only is None or uid in only

    out: list[Written] = []
    out += [Written(s.uid, related_person(s, group.patient, mode)) for s in group.supporters if wanted(s.uid)]
    # A place known only by its reference (the Location itself was not loaded) is left alone, never blanked.
    out += [
        Written(p.uid, location(p))
        for p in group.places
        if (p.source is not None or "/" not in p.uid) and wanted(p.uid)
    ]
    if wanted(group.uid):
        out.append(Written(group.uid, care_team(group, index, mode)))
    out += [Written(g.uid, goal(group, g, index, mode)) for g in group.goals if wanted(g.uid)]
    if wanted(group.plan_uid):
        out.append(Written(group.plan_uid, care_plan(group, index)))
    out += [Written(a.uid, task(group, a, index, mode)) for a in group.agreements if wanted(a.uid)]
    for m in group.meetings:
        if wanted(m.uid):
            out.append(Written(m.uid, appointment(group, m, index)))
        if m.agenda is not None and wanted(m.agenda.uid) and (ag := agenda(group, m, index)) is not None:
            out.append(Written(m.agenda.uid, ag))
        if m.report is not None and wanted(m.report.uid) and (rp := report(group, m, index)) is not None:
            out.append(Written(m.report.uid, rp))
        out += [
            Written(inv.uid, invitation(group, m, i, index)) for i, inv in enumerate(m.invitations) if wanted(inv.uid)
        ]
    for iv in group.interviews:
        if (
            iv.appointment_uid is not None
            and wanted(iv.appointment_uid)
            and (appt := interview_appointment(group, iv, index)) is not None
        ):
            out.append(Written(iv.appointment_uid, appt))
        if wanted(iv.uid):
            out.append(Written(iv.uid, interview_record(group, iv, index)))
    # The scores the group holds (a load of the newest scores holds those since a day, and maybe an older day's: the
    # others are not written, as no action can have changed a score it cannot see).
    out += [Written(p.uid, observation(group, p, index)) for p in group.scores_read() if wanted(p.uid)]
    out += [Written(w.uid, wish(group, w, index)) for w in group.wishes if wanted(w.uid)]
    supporters = {s.uid for s in group.supporters}  # once per group, not per resource
    for w in out:
        check_compartment(w.resource, group.patient, supporters, index)
    return out


def check_compartment(resource: Json, patient: str, own_uids: set[str], index: RefIndex) -> None:
    """Refuse any reference to another patient or to a RelatedPerson that is not this group's (one walk)."""
    refs = references(resource)
    want = literal(patient)
    if (other := next((r for r in refs if ref_type(r) == "Patient" and literal(r) != want), None)) is not None:
        raise CompartmentError(
            "Dit gegeven hoort bij een andere patiënt en wordt niet opgeslagen.",
            f"{resource['resourceType']} refers to {other}, outside compartment of {patient}",
        )
    for ref in refs:
        if ref_type(ref) == "RelatedPerson" and index.uid(ref) not in own_uids:
            raise CompartmentError(
                "Deze naaste hoort niet bij deze patiënt.",
                f"{resource['resourceType']} refers to {ref}, not a RelatedPerson of {patient}",
            )


# --------------------------------------------------------------------------- what a save maps

# The group's own fields that only its CareTeam and CarePlan are made of; any other field of the group that
# changes (its name is in every new meeting's description, its uids and patient are in every resource, a field
# added later is unknown here) makes `save_scope` answer None: map everything.
_TEAM_AND_PLAN_FIELDS = frozenset({"status", "start", "end", "after_treatment_since", "source", "plan_source"})
_ENTITY_LISTS = frozenset(
    {"members", "supporters", "interviews", "goals", "progress", "agreements", "places", "meetings", "wishes"}
)


def save_scope(before: ResourceGroup, after: ResourceGroup) -> set[str] | None:
    """The uids of the resources whose mapping can differ between `before` and `after` (an action's copy of it):
    the entities the action changed or added, and the resources that list them (the plan its goals and
    agreements, a goal its steps, the team its members, a meeting its agenda, report and invitations).
    Every other resource maps exactly as before, so a save need not map it.

    None when the change reaches across the group (a member renamed or added, a place renamed, anything removed
    or reordered, the group renamed, a field this function does not know): then every resource is mapped.
    Entities are compared by value and their sources (what was read) by identity, else by value.
    """
    only: set[str] = set()
    for f in fields(ResourceGroup):
        if f.name in _ENTITY_LISTS:
            continue
        old, new = getattr(before, f.name), getattr(after, f.name)
        if old is new or old == new:
            continue
        if f.name not in _TEAM_AND_PLAN_FIELDS:
            return None
        only |= {after.uid, after.plan_uid}
    # Members: their who and name are in tasks, meetings, invitations, interviews and wishes.
    if [(m.uid, m.who, m.display) for m in before.members] != [(m.uid, m.who, m.display) for m in after.members]:
        return None
    if before.members != after.members:
        only.add(after.uid)
    # A place's name is in the meetings held there; unreadable resources are kept by interview records.
    if [(p.uid, p.name) for p in before.places] != [(p.uid, p.name) for p in after.places]:
        return None
    if [u.key for u in before.unreadable] != [u.key for u in after.unreadable]:
        return None
    goal_keys = [(g.uid, g.parent_uid) for g in before.goals]
    if [(g.uid, g.parent_uid) for g in after.goals[: len(goal_keys)]] != goal_keys:
        return None  # a goal removed, moved or given another parent
    for new_goal in after.goals[len(goal_keys) :]:
        only |= {new_goal.uid, after.plan_uid}
        if new_goal.parent_uid is not None:
            only.add(new_goal.parent_uid)  # the long-term goal lists its new step
    if len(after.agreements) > len(before.agreements):
        only.add(after.plan_uid)  # the plan lists its agreements
    lists: list[tuple[list[Any], list[Any]]] = [
        (before.supporters, after.supporters),
        (before.places, after.places),
        (before.goals, after.goals),
        (before.agreements, after.agreements),
        (before.scores_read(), after.scores_read()),
        (before.meetings, after.meetings),
        (before.interviews, after.interviews),
        (before.wishes, after.wishes),
    ]
    for olds, news in lists:
        if [e.uid for e in olds] != [e.uid for e in news[: len(olds)]]:
            return None  # removed or reordered
        for pos, new_entity in enumerate(news):
            old_entity = olds[pos] if pos < len(olds) else None
            if old_entity is None or not _same(old_entity, new_entity):
                only |= _uids_of(new_entity) | (_uids_of(old_entity) if old_entity is not None else set())
    return only


def _uids_of(entity: Any) -> set[str]:
    """The uids of the resources an entity is written as."""
    if isinstance(entity, Meeting):
        uids = {entity.uid, *(inv.uid for inv in entity.invitations)}
        uids |= {part.uid for part in (entity.agenda, entity.report) if part is not None}
        return uids
    if isinstance(entity, NominationInterview):
        return {entity.uid} | ({entity.appointment_uid} if entity.appointment_uid else set())
    return {str(entity.uid)}


def _same(old: Any, new: Any) -> bool:
    """Equal by value, and their sources (left out of dataclass equality) the same, at any depth."""
    if old is new:
        return True
    if old != new:
        return False
    sources, nested = _shape(type(old))
    for name in sources:
        a, b = getattr(old, name), getattr(new, name)
        if a is not b and a != b:
            return False
    for name in nested:
        a, b = getattr(old, name), getattr(new, name)
        if isinstance(a, list):
            if not all(_same(x, y) for x, y in zip(a, b, strict=True)):  # equal lists: equal lengths
                return False
        elif a is not None and not _same(a, b):
            return False
    return True


_SHAPES: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _shape(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the fields left out of equality, the fields holding dataclasses) of an entity class, worked out once."""
    if (known := _SHAPES.get(cls)) is not None:
        return known
    hints = typing.get_type_hints(cls)
    sources = tuple(f.name for f in fields(cls) if not f.compare)
    nested = tuple(f.name for f in fields(cls) if f.compare and _holds_dataclass(hints[f.name]))
    _SHAPES[cls] = (sources, nested)
    return sources, nested


def _holds_dataclass(hint: Any) -> bool:
    if is_dataclass(hint):
        return True
    return any(_holds_dataclass(arg) for arg in typing.get_args(hint))


def provenance(
    *,
    targets: list[str],
    agent: str,
    recorded: datetime,
    activity: Json,
    tag: tuple[str, str],
    agent_display: str | None = None,
    reason: str | None = None,
) -> Json:
    """Who wrote what, when: one Provenance per write transaction (targets are references or urn:uuids).

    `reason` (free text) says why, where the rules ask for one (a colleague taking over the group).

    `activity` is a Coding or a CodeableConcept. R4 Provenance has no identifier: `tag` (system, code)
    goes into `meta.tag`, searchable with `_tag`, so a replayed transaction can create it conditionally
    and never twice.
    """
    if recorded.tzinfo is None:
        raise MappingError("Een tijdstip mist de tijdzone.", f"naive Provenance.recorded {recorded!r}")
    who: Json = {"reference": agent}
    if agent_display:
        who["display"] = agent_display
    out: Json = {
        "resourceType": "Provenance",
        "meta": {"tag": [{"system": tag[0], "code": tag[1]}]},
        "target": [{"reference": t} for t in targets],
        "recorded": recorded.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "activity": activity if "coding" in activity or "text" in activity else {"coding": [activity]},
        "agent": [
            {
                "type": {"coding": [{"system": CS_PROVENANCE_AGENT_TYPE, "code": "author", "display": "Author"}]},
                "who": who,
            }
        ],
    }
    if reason:
        out["reason"] = [{"text": reason}]
    return out
