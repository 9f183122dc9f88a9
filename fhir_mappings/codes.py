"""The one place for the product's canonical URLs, code systems and vocabularies.

Every product code lives in a CodeSystem JSON file under `codesystems/` (Dutch displays),
all under one canonical base URL. The base can be changed for a deployment by setting
`RESOURCEGROEP_CANONICAL_BASE` before the package is imported.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_CANONICAL_BASE = "https://resourcegroep.nl/fhir"
CANONICAL_BASE: str = os.environ.get("RESOURCEGROEP_CANONICAL_BASE", DEFAULT_CANONICAL_BASE).rstrip("/")


def cs_url(name: str) -> str:
    """Canonical URL of one of the product's CodeSystems."""
    return f"{CANONICAL_BASE}/CodeSystem/{name}"


def ext_url(name: str) -> str:
    """Canonical URL of one of the product's extensions."""
    return f"{CANONICAL_BASE}/StructureDefinition/{name}"


def profile_url(name: str) -> str:
    """Canonical URL of one of the product's own profiles (fhir_mappings/conformance)."""
    return f"{CANONICAL_BASE}/StructureDefinition/{name}"


def vs_url(name: str) -> str:
    """Canonical URL of one of the product's ValueSets (one per product CodeSystem, same name)."""
    return f"{CANONICAL_BASE}/ValueSet/{name}"


# Product identifier system: every resource the product creates carries one (value = a UUID),
# so a retried create can be made conditional (ifNoneExist) and never duplicates.
IDENTIFIER_SYSTEM = f"{CANONICAL_BASE}/NamingSystem/resourcegroep-id"
# The tag system of a save's idempotency key (Provenance.meta.tag): finding it proves a save committed.
SAVE_KEY_SYSTEM = f"{CANONICAL_BASE}/NamingSystem/save-key"

CS_MEMBER_ROLE = cs_url("member-role")
CS_NOMINATION_STATE = cs_url("nomination-state")
CS_MEETING_ROLE = cs_url("meeting-role")
CS_ARTIFACT = cs_url("artifact")
CS_LIFE_AREA = cs_url("life-area")
CS_GOAL_TERM = cs_url("goal-term")
CS_MEETING_THEME = cs_url("meeting-theme")
CS_SECTION = cs_url("section")
CS_WISH_KIND = cs_url("wish-kind")
# Why the worker wrote a reminder to the regieondersteuner (Communication.reasonCode).
CS_REMINDER_REASON = cs_url("reminder-reason")
# Audit (AuditEvent): what the user did in the app, and the role they had in the group when they did it.
CS_APP_ACTION = cs_url("app-action")
CS_ACCESS_ROLE = cs_url("access-role")
# The app's client id as an identifier (the AuditEvent source and app agent, the worker's Provenance agent).
CLIENT_ID_SYSTEM = "urn:resourcegroep:client-id"

EXT_NOMINATION_STATE = ext_url("nomination-state")
EXT_SECTION = ext_url("payload-section")
EXT_MEETING = ext_url("meeting")
EXT_MEMBER_KEY = ext_url("member-key")
EXT_AFTER_TREATMENT = ext_url("continued-after-treatment")
# Who put it forward (the patient's own input, shown to the clinician as theirs): on a CareTeam participant
# (a nomination) and on an agenda payload item (a proposed agenda item).
EXT_PROPOSED_BY = ext_url("proposed-by")
# Why the patient nominated someone, in their own words (on the CareTeam participant).
EXT_NOMINATION_REASON = ext_url("nomination-reason")
# KT2 mode (fhir_mappings/profiles.py): what KT2 profiles leave no element for, kept in extensions of ours.
# A member's dates in the group (CareTeam.participant; KT2CareTeam does not use participant.period).
EXT_MEMBER_PERIOD = ext_url("member-period")
# The Practitioner behind a member listed as a PractitionerRole (CareTeam.participant): lets a user who
# launches as that Practitioner be recognised without reading the role on every page.
EXT_ROLE_PRACTITIONER = ext_url("role-practitioner")
# The patient's own participation (key, roles, dates; KT2CareTeam has the patient only as subject).
EXT_PATIENT_PARTICIPATION = ext_url("patient-participation")
# A note (Annotation): a goal's earlier notes (nl-core-TreatmentObjective allows one Goal.note) and an
# agreement's notes in KT2 mode (KT2Task has no Task.note).
EXT_NOTE = ext_url("note")
# An agreement's goal and due date in KT2 mode (KT2Task has no focus and no restriction).
EXT_AGREEMENT_GOAL = ext_url("agreement-goal")
EXT_DUE_DATE = ext_url("due-date")
# The day a nominee became a member (CareTeam.participant, both modes: participant.period.start stays the
# nomination date).
EXT_MEMBER_JOINED = ext_url("member-joined")
# One change of the group's status (CarePlan, repeating): the status it left and got, the day and who did it.
EXT_STATUS_CHANGE = ext_url("status-change")
# The R4 CarePlan status value set: the codes of a status change.
VS_REQUEST_STATUS = "http://hl7.org/fhir/ValueSet/request-status"

# Standard (HL7) systems and extensions used by the mapping.
EXT_GOAL_RELATIONSHIP = "http://hl7.org/fhir/StructureDefinition/goal-relationship"
CS_GOAL_RELATIONSHIP_TYPE = "http://hl7.org/fhir/goal-relationship-type"
CS_V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
CS_V3_PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CS_V3_DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
CS_PROVENANCE_AGENT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
CS_GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
CS_V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
# AuditEvent (FHIR R4, the IHE BALP shape).
CS_AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
CS_RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
CS_AUDIT_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
CS_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
CS_SECURITY_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
CS_EXTRA_SECURITY_ROLE_TYPE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
CS_DICOM = "http://dicom.nema.org/resources/ontology/DCM"
CS_V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

# Profiles the mapping claims in meta.profile (see fhir_mappings/profiles.py for which resource gets which).
# Nictiz zib2020 / nl-core (R4), the default mapping mode.
NL_CORE_BASE = "http://nictiz.nl/fhir/StructureDefinition"
PROFILE_NL_CORE_TREATMENT_OBJECTIVE = f"{NL_CORE_BASE}/nl-core-TreatmentObjective"
PROFILE_NL_CORE_CONTACT_PERSON = f"{NL_CORE_BASE}/nl-core-ContactPerson"
PROFILE_NL_CORE_CARE_TEAM = f"{NL_CORE_BASE}/nl-core-CareTeam"
PROFILE_NL_CORE_PRACTITIONER_ROLE = f"{NL_CORE_BASE}/nl-core-HealthProfessional-PractitionerRole"
# Koppeltaal 2.0 (VZVZ), the KT2 mapping mode.
KT2_BASE = "http://koppeltaal.nl/fhir/StructureDefinition"
PROFILE_KT2_CARE_TEAM = f"{KT2_BASE}/KT2CareTeam"
PROFILE_KT2_RELATED_PERSON = f"{KT2_BASE}/KT2RelatedPerson"
PROFILE_KT2_TASK = f"{KT2_BASE}/KT2Task"
PROFILE_KT2_PATIENT = f"{KT2_BASE}/KT2Patient"
PROFILE_KT2_PRACTITIONER = f"{KT2_BASE}/KT2Practitioner"
# KT2Task: the ActivityDefinition a Koppeltaal Task instantiates (an extension with a valueReference).
EXT_KT2_INSTANTIATES = "http://vzvz.nl/fhir/StructureDefinition/instantiates"
# Koppeltaal role value sets (CareTeam.participant.role) and the SNOMED CT system their codes come from.
VS_KT2_PRACTITIONER_ROLE = "http://vzvz.nl/fhir/ValueSet/koppeltaal-practitioner-role"
VS_KT2_RELATED_PERSON_ROLE = "http://vzvz.nl/fhir/ValueSet/koppeltaal-relatedperson-role"
CS_SNOMED = "http://snomed.info/sct"
# The zib RolCodelijst (COD472): a contact person's role (nl-core-ContactPerson / KT2RelatedPerson relationship).
CS_COD472 = "urn:oid:2.16.840.1.113883.2.4.3.11.22.472"
EXT_DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


class GroupStatus(StrEnum):
    FORMING = "forming"
    ACTIVE = "active"
    ON_HOLD = "on-hold"
    ENDED = "ended"


class MemberRole(StrEnum):
    REGISSEUR = "regisseur"
    REGIEONDERSTEUNER = "regieondersteuner"
    LID = "lid"


KERNLID = "kernlid"


class NominationState(StrEnum):
    GENOMINEERD = "genomineerd"
    GESPREK_GEPLAND = "gesprek-gepland"
    GESPREK_GEVOERD = "gesprek-gevoerd"
    LID = "lid"
    AFGEZIEN = "afgezien"
    TERUGGETROKKEN = "teruggetrokken"


class MeetingRole(StrEnum):
    VOORZITTER = "voorzitter"
    NOTULIST = "notulist"
    TIJDBEWAKER = "tijdbewaker"


class Artifact(StrEnum):
    """Product codes that tell what a resource is within a resource group."""

    PLAN = "resourcegroepplan"
    MEETING = "resourcegroepbijeenkomst"
    INTERVIEW = "nominatiegesprek"
    AGENDA = "agenda"
    REPORT = "verslag"
    INVITATION = "uitnodiging"
    CANCELLATION = "afzegging"  # the invitees are told a meeting they were invited to does not take place
    PROGRESS = "doelvoortgang"
    AGREEMENT = "afspraak"
    WISH = "wens"  # what the patient asks of the group: wishes for the next meeting, a pause or an end
    REMINDER = "herinnering"  # the worker reminds the regieondersteuner (a Communication; see ReminderReason)
    TEAM = "resourcegroep"


class LifeArea(StrEnum):
    WONEN = "wonen"
    DAGBESTEDING = "dagbesteding-werk"
    SPORT = "sport-bewegen"
    GELD = "geld"
    CONTACT = "sociale-contacten"
    GEVOEL = "gezondheid-gevoel"
    ANDERS = "anders"


class GoalTerm(StrEnum):
    KORT = "kort"
    LANG = "lang"


class MeetingTheme(StrEnum):
    STRESS = "stress"
    SIGNALERINGSPLAN = "signaleringsplan"
    HERORIENTATIE = "herorientatie"
    ANDERS = "anders"


class Section(StrEnum):
    # nomination interview
    VERWACHTINGEN = "verwachtingen"
    INZET = "inzet"
    RELATIE = "relatie"
    BIJDRAGE = "bijdrage"
    # meeting report
    SAMENVATTING = "samenvatting"
    BESLUITEN = "besluiten"
    OVERIG = "overig"
    # the patient's wishes for the next meeting
    PLAATS = "plaats"
    VOORZITTER = "voorzitter"
    TOELICHTING = "toelichting"


INTERVIEW_SECTIONS = (Section.VERWACHTINGEN, Section.INZET, Section.RELATIE, Section.BIJDRAGE)
REPORT_SECTIONS = (Section.SAMENVATTING, Section.BESLUITEN, Section.OVERIG)
WISH_SECTIONS = (Section.PLAATS, Section.VOORZITTER, Section.TOELICHTING)


class WishKind(StrEnum):
    """What the patient asks of the group (Communication.topic of a wish)."""

    MEETING = "bijeenkomst"  # wishes for the next meeting: place, chair, theme
    PAUSE = "pauze"  # pause the group for a while
    END = "einde"  # end the group


class ReminderReason(StrEnum):
    """Why the worker reminds the regieondersteuner (Communication.reasonCode of a reminder)."""

    MEETING_DUE = "bijeenkomst-nodig"  # active group, no meeting planned, the last one over three months ago
    OPEN_INTERVIEW = "gesprek-open"  # a nominee still waits for their interview
    OVERDUE_AGREEMENT = "afspraak-verlopen"  # an open agreement is past its date


class WishStatus(StrEnum):
    """Where a wish stands (Communication.status): open until a care professional takes it up or sets it aside."""

    OPEN = "in-progress"
    TAKEN_UP = "completed"
    SET_ASIDE = "not-done"


# FHIR status vocabularies (required bindings that fhir.resources does not check).
class GoalLifecycle(StrEnum):
    PROPOSED = "proposed"
    PLANNED = "planned"
    ACCEPTED = "accepted"
    ACTIVE = "active"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered-in-error"
    REJECTED = "rejected"


class GoalAchievement(StrEnum):
    IN_PROGRESS = "in-progress"
    IMPROVING = "improving"
    WORSENING = "worsening"
    NO_CHANGE = "no-change"
    ACHIEVED = "achieved"
    SUSTAINING = "sustaining"
    NOT_ACHIEVED = "not-achieved"
    NO_PROGRESS = "no-progress"
    NOT_ATTAINABLE = "not-attainable"


class AgreementStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class MeetingStatus(StrEnum):
    PROPOSED = "proposed"
    BOOKED = "booked"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    NOSHOW = "noshow"


class ParticipationStatus(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"
    NEEDS_ACTION = "needs-action"


class AgendaStatus(StrEnum):
    PREPARATION = "preparation"
    COMPLETED = "completed"


class InterviewVisibility(StrEnum):
    """Who may read a nomination interview's record, chosen when it is written down."""

    SHARED = "shared"  # shared with the patient
    PROFESSIONALS = "professionals"  # only for care professionals


# InterviewVisibility <-> the v3-Confidentiality code in meta.security, so other systems respect it too.
# N (normal): the patient may read it; R (restricted): care professionals only.
CONFIDENTIALITY_CODE: dict[InterviewVisibility, str] = {
    InterviewVisibility.SHARED: "N",
    InterviewVisibility.PROFESSIONALS: "R",
}


# Group status <-> CareTeam.status and CarePlan.status.
CARETEAM_STATUS: dict[GroupStatus, str] = {
    GroupStatus.FORMING: "proposed",
    GroupStatus.ACTIVE: "active",
    GroupStatus.ON_HOLD: "suspended",
    GroupStatus.ENDED: "inactive",
}
CAREPLAN_STATUS: dict[GroupStatus, str] = {
    GroupStatus.FORMING: "draft",
    GroupStatus.ACTIVE: "active",
    GroupStatus.ON_HOLD: "on-hold",
    GroupStatus.ENDED: "completed",
}

# Which code system each product vocabulary lives in.
VOCABULARY_SYSTEM: dict[type[StrEnum], str] = {
    MemberRole: CS_MEMBER_ROLE,
    NominationState: CS_NOMINATION_STATE,
    MeetingRole: CS_MEETING_ROLE,
    Artifact: CS_ARTIFACT,
    LifeArea: CS_LIFE_AREA,
    GoalTerm: CS_GOAL_TERM,
    MeetingTheme: CS_MEETING_THEME,
    Section: CS_SECTION,
    WishKind: CS_WISH_KIND,
    ReminderReason: CS_REMINDER_REASON,
}

CODESYSTEM_FILES = (
    "member-role",
    "nomination-state",
    "meeting-role",
    "artifact",
    "life-area",
    "goal-term",
    "meeting-theme",
    "section",
    "wish-kind",
    "reminder-reason",
    "app-action",
    "access-role",
)


@cache
def codesystem(name: str) -> dict[str, Any]:
    """One shipped CodeSystem resource, with its url on the configured canonical base."""
    text = resources.files("fhir_mappings.codesystems").joinpath(f"{name}.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    data["url"] = cs_url(name)
    return data


def all_codesystems() -> list[dict[str, Any]]:
    """Every CodeSystem the product ships."""
    return [codesystem(n) for n in CODESYSTEM_FILES]


def display(system: str, code: str) -> str:
    """Dutch display of a product code (the code itself when unknown)."""
    for name in CODESYSTEM_FILES:
        if cs_url(name) == system:
            for concept in codesystem(name).get("concept", []):
                if concept["code"] == code:
                    return str(concept["display"])
    return code


def coding(system: str, code: str) -> dict[str, str]:
    """A Coding with the Dutch display of a product code."""
    return {"system": system, "code": code, "display": display(system, code)}


def product_coding(value: StrEnum) -> dict[str, str]:
    """A Coding for a product vocabulary member."""
    return coding(VOCABULARY_SYSTEM[type(value)], value.value)
