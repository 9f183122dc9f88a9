"""The conformance package, built in Python (no I/O): the source of the JSON under `package/` and `claimed/`.

`package()` is the product's own FHIR package: a StructureDefinition per product extension, a profile per kind of
resource the mapping writes (each a differential on the R4 base), a ValueSet per product CodeSystem (the
CodeSystems themselves are `fhir_mappings/codesystems/*.json`, not copied) and a `package.json` manifest.

`claimed()` holds OUR OWN compact rule sets for the nl-core (Nictiz zib2020) and Koppeltaal 2.0 profiles the mapping
claims in `meta.profile`: StructureDefinition-shaped differentials with only the rules an offline check can apply
(required elements, forbidden elements, cardinalities, fixed values, required bindings, reference targets). Each
element says in `comment` which source file and element it restates. They are not the published profiles.

`tools/conformance_build.py` writes both as JSON; a test holds the committed files equal to this module's output.
All canonicals come from `fhir_mappings/codes.py` (built with the default canonical base; the loader rewrites
them for a deployment's base).
"""

from __future__ import annotations

from typing import Any

from fhir_mappings import codes
from fhir_mappings.codes import (
    CODESYSTEM_FILES,
    CS_ARTIFACT,
    CS_PROVENANCE_AGENT_TYPE,
    EXT_AFTER_TREATMENT,
    EXT_AGREEMENT_GOAL,
    EXT_DUE_DATE,
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
    PROFILE_KT2_CARE_TEAM,
    PROFILE_KT2_PATIENT,
    PROFILE_KT2_PRACTITIONER,
    PROFILE_KT2_RELATED_PERSON,
    PROFILE_KT2_TASK,
    PROFILE_NL_CORE_CARE_TEAM,
    PROFILE_NL_CORE_CONTACT_PERSON,
    PROFILE_NL_CORE_PRACTITIONER_ROLE,
    PROFILE_NL_CORE_TREATMENT_OBJECTIVE,
    VS_REQUEST_STATUS,
    Artifact,
    cs_url,
    profile_url,
    vs_url,
)
from fhir_mappings.profiles import ZIB_RELATIE_ROLE_CODES

Json = dict[str, Any]

FHIR_VERSION = "4.0.1"
PACKAGE_NAME = "resourcegroep.fhir"
PACKAGE_VERSION = "0.1.0"
DATE = "2026-12-01"
HL7_SD = "http://hl7.org/fhir/StructureDefinition/"
PUBLISHER = "Resourcegroep"

# The published sources our claimed rule sets restate (read with the fetch tool; nothing copied).
NICTIZ_SOURCE = "Nictiz/Nictiz-R4-zib2020@63373ef1603d7b2df65baf5d778565ed02358fcb"
KT2_SOURCE = "vzvznl/Koppeltaal-2.0-FHIR@412d9c0d3f3c83aee70966bab65073e11660a197"

PATIENT_REF = HL7_SD + "Patient"
PERSON_REFS = [HL7_SD + t for t in ("Patient", "RelatedPerson", "Practitioner", "PractitionerRole")]


def hl7(type_name: str) -> str:
    return HL7_SD + type_name


# --------------------------------------------------------------------------- element helpers


def el(element_id: str, **rules: Any) -> Json:
    """One differential element; `path` is the id without slice names."""
    path = ".".join(part.split(":")[0] for part in element_id.split("."))
    out: Json = {"id": element_id, "path": path}
    if ":" in element_id.split(".")[-1]:
        out["sliceName"] = element_id.split(".")[-1].split(":")[1]
    for key, value in rules.items():
        if key == "min":
            out["min"] = value
        elif key == "max":
            out["max"] = str(value)
        else:
            out[key] = value
    return out


def ref(*targets: str) -> list[Json]:
    return [{"code": "Reference", "targetProfile": list(targets)}]


def required(valueset: str) -> Json:
    return {"strength": "required", "valueSet": valueset}


def artifact_pattern(artifact: Artifact) -> Json:
    return {"coding": [{"system": CS_ARTIFACT, "code": artifact.value}]}


def sliced_by_url(element_id: str) -> Json:
    return el(element_id, slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"})


def ext_slice(element_id: str, url: str, min_: int = 0, max_: str = "1") -> Json:
    return el(element_id, min=min_, max=max_, type=[{"code": "Extension", "profile": [url]}])


def sliced_by_pattern(element_id: str) -> Json:
    return el(element_id, slicing={"discriminator": [{"type": "pattern", "path": "$this"}], "rules": "open"})


# --------------------------------------------------------------------------- extensions

# name -> (title, description, contexts, value types, reference targets, required value set, max per element)
_EXTENSIONS: dict[str, tuple[str, str, list[str], list[str], list[str], str | None, str]] = {
    EXT_NOMINATION_STATE: (
        "Nomination state",
        "Where a nominated member stands, from nomination to membership (no extension: a member).",
        ["CareTeam.participant"],
        ["Coding"],
        [],
        vs_url("nomination-state"),
        "1",
    ),
    EXT_AFTER_TREATMENT: (
        "Continued after treatment",
        "The date from which the group continues without the treatment it started in.",
        ["CareTeam"],
        ["date"],
        [],
        None,
        "1",
    ),
    EXT_MEMBER_KEY: (
        "Member key",
        "The CareTeam.participant id of the member a nomination interview is about.",
        ["Communication", "Appointment"],
        ["string"],
        [],
        None,
        "1",
    ),
    EXT_SECTION: (
        "Payload section",
        "Which section of an interview record, report or wish this payload item is.",
        ["Communication.payload"],
        ["Coding"],
        [],
        vs_url("section"),
        "1",
    ),
    EXT_MEETING: (
        "Meeting",
        "The meeting (Appointment) at which a progress score was given.",
        ["Observation"],
        ["Reference"],
        [hl7("Appointment")],
        None,
        "1",
    ),
    EXT_PROPOSED_BY: (
        "Proposed by",
        "Who put a nomination or an agenda item forward (the patient's own input).",
        ["CareTeam.participant", "Communication.payload"],
        ["Reference"],
        PERSON_REFS,
        None,
        "1",
    ),
    EXT_NOMINATION_REASON: (
        "Nomination reason",
        "Why the patient nominated this person, in their own words.",
        ["CareTeam.participant"],
        ["string"],
        [],
        None,
        "1",
    ),
    EXT_MEMBER_PERIOD: (
        "Member period",
        "A member's dates in the group (KT2 mode: KT2CareTeam does not use participant.period).",
        ["CareTeam.participant"],
        ["Period"],
        [],
        None,
        "1",
    ),
    EXT_ROLE_PRACTITIONER: (
        "Role's practitioner",
        "The Practitioner behind a member listed as a PractitionerRole (a copy of PractitionerRole.practitioner).",
        ["CareTeam.participant"],
        ["Reference"],
        [hl7("Practitioner")],
        None,
        "1",
    ),
    EXT_MEMBER_JOINED: (
        "Member joined",
        "The day a nominee became a member of the group (participant.period.start is the nomination date).",
        ["CareTeam.participant"],
        ["date"],
        [],
        None,
        "1",
    ),
    EXT_NOTE: (
        "Note",
        "A note kept outside `note`: a goal's earlier notes (nl-core-TreatmentObjective allows one Goal.note), an "
        "agreement's notes in KT2 mode (KT2Task has no Task.note).",
        ["Goal", "Task"],
        ["Annotation"],
        [],
        None,
        "*",
    ),
    EXT_AGREEMENT_GOAL: (
        "Agreement goal",
        "The goal an agreement serves (KT2 mode: KT2Task has no focus).",
        ["Task"],
        ["Reference"],
        [hl7("Goal")],
        None,
        "1",
    ),
    EXT_DUE_DATE: (
        "Due date",
        "When an agreement is due (KT2 mode: KT2Task has no restriction).",
        ["Task"],
        ["date"],
        [],
        None,
        "1",
    ),
}

# Complex extensions: name -> (title, description, contexts, [(sub url, value type, targets, value set, min, max)])
_COMPLEX: dict[str, tuple[str, str, list[str], list[tuple[str, str, list[str], str | None, int, str]]]] = {
    EXT_PATIENT_PARTICIPATION: (
        "Patient participation",
        "The patient's own membership of the group (KT2 mode: KT2CareTeam has the patient only as subject): "
        "the participant key, the roles and the dates.",
        ["CareTeam"],
        [
            ("key", "string", [], None, 0, "1"),
            ("role", "Coding", [], vs_url("member-role"), 0, "*"),
            ("period", "Period", [], None, 0, "1"),
        ],
    ),
    EXT_STATUS_CHANGE: (
        "Status change",
        "One change of the group's status (start, pause, resume, end, reopen): the CarePlan status it left and the "
        "one it got, the day, and who made the change. Repeats, oldest first; CarePlan keeps only the current status.",
        ["CarePlan"],
        [
            ("from", "code", [], VS_REQUEST_STATUS, 1, "1"),
            ("to", "code", [], VS_REQUEST_STATUS, 1, "1"),
            ("date", "date", [], None, 1, "1"),
            ("by", "Reference", PERSON_REFS, None, 0, "1"),
        ],
    ),
}
# Complex extensions that may repeat on one element.
_REPEATING: frozenset[str] = frozenset({EXT_STATUS_CHANGE})


def _name_of(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


def _sd_header(url: str, title: str, description: str) -> Json:
    name = _name_of(url)
    return {
        "resourceType": "StructureDefinition",
        "id": name,
        "url": url,
        "version": PACKAGE_VERSION,
        "name": "Resourcegroep" + _pascal(name),
        "title": title,
        "status": "active",
        "date": DATE,
        "publisher": PUBLISHER,
        "description": description,
        "fhirVersion": FHIR_VERSION,
    }


def _value_element(element_id: str, value_type: str, targets: list[str], valueset: str | None) -> Json:
    type_entry: Json = {"code": value_type}
    if targets:
        type_entry["targetProfile"] = targets
    extra: Json = {"binding": required(valueset)} if valueset else {}
    return el(element_id, min=1, type=[type_entry], **extra)


def extension_definition(url: str) -> Json:
    """The StructureDefinition of one product extension."""
    header = _sd_header(url, *(_EXTENSIONS[url][:2] if url in _EXTENSIONS else _COMPLEX[url][:2]))
    contexts = _EXTENSIONS[url][2] if url in _EXTENSIONS else _COMPLEX[url][2]
    sd: Json = {
        **header,
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": c} for c in contexts],
        "type": "Extension",
        "baseDefinition": hl7("Extension"),
        "derivation": "constraint",
    }
    if url in _EXTENSIONS:
        _, _, _, types, targets, valueset, max_ = _EXTENSIONS[url]
        elements = [
            el("Extension", max=max_),
            el("Extension.extension", max=0),
            el("Extension.url", fixedUri=url),
            _value_element("Extension.value[x]", types[0], targets, valueset),
        ]
    else:
        parts = _COMPLEX[url][3]
        elements = [el("Extension", max="*" if url in _REPEATING else "1"), sliced_by_url("Extension.extension")]
        for sub, value_type, targets, valueset, min_, max_ in parts:
            elements += [
                el(f"Extension.extension:{sub}", min=min_, max=max_),
                el(f"Extension.extension:{sub}.url", fixedUri=sub),
                _value_element(f"Extension.extension:{sub}.value[x]", value_type, targets, valueset),
            ]
        elements += [el("Extension.url", fixedUri=url), el("Extension.value[x]", max=0)]
    sd["differential"] = {"element": elements}
    return sd


def product_extensions() -> list[str]:
    """Every product extension URL that has a StructureDefinition here."""
    return [*_EXTENSIONS, *_COMPLEX]


# --------------------------------------------------------------------------- product profiles

# profile name -> (resource type, the element holding the product artifact code that selects it, or None)
PROFILE_SELECTORS: dict[str, tuple[str, str | None, Artifact | None]] = {
    "resourcegroep-careteam": ("CareTeam", None, None),
    "resourcegroep-plan": ("CarePlan", "category", Artifact.PLAN),
    "resourcegroep-goal": ("Goal", None, None),
    "resourcegroep-agreement": ("Task", "code", Artifact.AGREEMENT),
    "resourcegroep-progress": ("Observation", "code", Artifact.PROGRESS),
    "resourcegroep-meeting": ("Appointment", "serviceType", Artifact.MEETING),
    "resourcegroep-interview-appointment": ("Appointment", "serviceType", Artifact.INTERVIEW),
    "resourcegroep-agenda": ("Communication", "category", Artifact.AGENDA),
    "resourcegroep-report": ("Communication", "category", Artifact.REPORT),
    "resourcegroep-invitation": ("Communication", "category", Artifact.INVITATION),
    "resourcegroep-cancellation": ("Communication", "category", Artifact.CANCELLATION),
    "resourcegroep-interview-record": ("Communication", "category", Artifact.INTERVIEW),
    "resourcegroep-wish": ("Communication", "category", Artifact.WISH),
    "resourcegroep-reminder": ("Communication", "category", Artifact.REMINDER),
    "resourcegroep-supporter": ("RelatedPerson", None, None),
    "resourcegroep-place": ("Location", None, None),
    "resourcegroep-provenance": ("Provenance", None, None),
}

_TITLES: dict[str, tuple[str, str]] = {
    "resourcegroep-careteam": ("Resource group", "One resource group: its members and their nominations."),
    "resourcegroep-plan": ("RG-plan", "The plan at the centre of a group: team, goals and agreements."),
    "resourcegroep-goal": ("Group goal", "A goal in the patient's words (short or long term, a life area)."),
    "resourcegroep-agreement": ("Agreement", "Who does what by when, for which goal."),
    "resourcegroep-progress": ("Goal progress", "A 0-10 progress score on a goal."),
    "resourcegroep-meeting": ("Group meeting", "A meeting of the group: time, place, theme, roles."),
    "resourcegroep-interview-appointment": ("Nomination interview (planned)", "A planned nomination interview."),
    "resourcegroep-agenda": ("Meeting agenda", "The agenda of a meeting, items in order."),
    "resourcegroep-report": ("Meeting report", "The report of a meeting, in sections."),
    "resourcegroep-invitation": ("Meeting invitation", "An invitation to a meeting with its calendar file."),
    "resourcegroep-cancellation": ("Meeting cancellation", "The invitees are told a meeting does not take place."),
    "resourcegroep-interview-record": ("Nomination interview record", "What was said in a nomination interview."),
    "resourcegroep-wish": ("Patient's wish", "What the patient asks of the group."),
    "resourcegroep-reminder": ("Reminder", "The worker reminds the regieondersteuner of something due."),
    "resourcegroep-supporter": ("Informal supporter", "A person from the patient's own network."),
    "resourcegroep-place": ("Meeting place", "Where the group meets."),
    "resourcegroep-provenance": ("Save record", "Who wrote what, when: one per save, tagged with its key."),
}


def _artifact_slice(resource_type: str, element: str, artifact: Artifact, max_: str = "*") -> list[Json]:
    base = f"{resource_type}.{element}"
    return [
        sliced_by_pattern(base),
        el(f"{base}:{artifact.value}", min=1, max="1", patternCodeableConcept=artifact_pattern(artifact)),
    ]


def _communication(artifact: Artifact, based_on: bool = True) -> list[Json]:
    out = [el("Communication.status", min=1), *_artifact_slice("Communication", "category", artifact)]
    out.append(el("Communication.subject", min=1, type=ref(PATIENT_REF)))
    if based_on:
        out.append(el("Communication.basedOn", min=1, type=ref(hl7("CarePlan"))))
    return out


def _sections(resource_type: str, min_: int) -> list[Json]:
    return [
        sliced_by_url(f"{resource_type}.payload.extension"),
        ext_slice(f"{resource_type}.payload.extension:section", EXT_SECTION, min_),
    ]


def _profile_elements(name: str) -> list[Json]:
    if name == "resourcegroep-careteam":
        return [
            sliced_by_url("CareTeam.extension"),
            ext_slice("CareTeam.extension:continuedAfterTreatment", EXT_AFTER_TREATMENT),
            ext_slice("CareTeam.extension:patientParticipation", EXT_PATIENT_PARTICIPATION),
            el("CareTeam.status", min=1),
            el("CareTeam.name", min=1),
            el("CareTeam.subject", min=1, type=ref(PATIENT_REF)),
            sliced_by_url("CareTeam.participant.extension"),
            ext_slice("CareTeam.participant.extension:nominationState", EXT_NOMINATION_STATE),
            ext_slice("CareTeam.participant.extension:proposedBy", EXT_PROPOSED_BY),
            ext_slice("CareTeam.participant.extension:nominationReason", EXT_NOMINATION_REASON),
            ext_slice("CareTeam.participant.extension:memberPeriod", EXT_MEMBER_PERIOD),
            ext_slice("CareTeam.participant.extension:memberJoined", EXT_MEMBER_JOINED),
            ext_slice("CareTeam.participant.extension:rolePractitioner", EXT_ROLE_PRACTITIONER),
            el("CareTeam.participant.member", min=1),
        ]
    if name == "resourcegroep-plan":
        return [
            sliced_by_url("CarePlan.extension"),
            ext_slice("CarePlan.extension:statusChange", EXT_STATUS_CHANGE, 0, "*"),
            el("CarePlan.intent", fixedCode="plan"),
            *_artifact_slice("CarePlan", "category", Artifact.PLAN),
            el("CarePlan.title", min=1),
            el("CarePlan.subject", type=ref(PATIENT_REF)),
            el("CarePlan.careTeam", min=1, type=ref(hl7("CareTeam"))),
            el("CarePlan.goal", type=ref(hl7("Goal"))),
        ]
    if name == "resourcegroep-goal":
        return [
            sliced_by_url("Goal.extension"),
            ext_slice("Goal.extension:note", EXT_NOTE, 0, "*"),
            el(
                "Goal.category",
                min=1,
                slicing={"discriminator": [{"type": "value", "path": "$this"}], "rules": "open"},
            ),
            el("Goal.category:term", min=1, max="1", binding=required(vs_url("goal-term"))),
            el("Goal.category:lifeArea", max="1", binding=required(vs_url("life-area"))),
            el("Goal.description.text", min=1),
            el("Goal.subject", min=1, type=ref(PATIENT_REF)),
        ]
    if name == "resourcegroep-agreement":
        return [
            sliced_by_url("Task.extension"),
            ext_slice("Task.extension:goal", EXT_AGREEMENT_GOAL),
            ext_slice("Task.extension:dueDate", EXT_DUE_DATE),
            ext_slice("Task.extension:note", EXT_NOTE, 0, "*"),
            el("Task.intent", fixedCode="plan"),
            el("Task.code", min=1, patternCodeableConcept=artifact_pattern(Artifact.AGREEMENT)),
            el("Task.description", min=1),
            el("Task.focus", type=ref(hl7("Goal"))),
            el("Task.for", min=1, type=ref(PATIENT_REF)),
            el("Task.basedOn", type=ref(hl7("CarePlan"))),
        ]
    if name == "resourcegroep-progress":
        return [
            sliced_by_url("Observation.extension"),
            ext_slice("Observation.extension:meeting", EXT_MEETING),
            el("Observation.basedOn", min=1, type=ref(hl7("CarePlan"))),
            el("Observation.code", patternCodeableConcept=artifact_pattern(Artifact.PROGRESS)),
            el("Observation.subject", min=1, type=ref(PATIENT_REF)),
            el("Observation.focus", min=1, max="1", type=ref(hl7("Goal"))),
            el("Observation.effective[x]", min=1, type=[{"code": "dateTime"}]),
            el("Observation.value[x]", min=1, type=[{"code": "integer"}]),
        ]
    if name in ("resourcegroep-meeting", "resourcegroep-interview-appointment"):
        interview = name == "resourcegroep-interview-appointment"
        artifact = Artifact.INTERVIEW if interview else Artifact.MEETING
        out = [*_artifact_slice("Appointment", "serviceType", artifact)]
        if interview:
            out = [
                sliced_by_url("Appointment.extension"),
                ext_slice("Appointment.extension:memberKey", EXT_MEMBER_KEY, 1),
                *out,
            ]
        return [
            *out,
            el("Appointment.start", min=1),
            el("Appointment.end", min=1),
            el("Appointment.supportingInformation", min=1),
        ]
    if name == "resourcegroep-agenda":
        return [
            *_communication(Artifact.AGENDA),
            el("Communication.partOf", min=1, max="1", type=ref(hl7("Appointment"))),
            sliced_by_url("Communication.payload.extension"),
            ext_slice("Communication.payload.extension:proposedBy", EXT_PROPOSED_BY),
        ]
    if name == "resourcegroep-report":
        return [
            *_communication(Artifact.REPORT),
            el("Communication.partOf", min=1, max="1", type=ref(hl7("Appointment"))),
            el("Communication.recipient", min=1),
            *_sections("Communication", 1),
        ]
    if name in ("resourcegroep-invitation", "resourcegroep-cancellation"):
        artifact = Artifact.INVITATION if name == "resourcegroep-invitation" else Artifact.CANCELLATION
        return [
            *_communication(artifact),
            el("Communication.partOf", min=1, max="1", type=ref(hl7("Appointment"))),
            el("Communication.recipient", min=1),
            el("Communication.payload", min=1),
        ]
    if name == "resourcegroep-interview-record":
        return [
            sliced_by_url("Communication.extension"),
            ext_slice("Communication.extension:memberKey", EXT_MEMBER_KEY, 1),
            *_communication(Artifact.INTERVIEW),
            el("Communication.about", min=1, max="1"),
            *_sections("Communication", 1),
        ]
    if name == "resourcegroep-wish":
        return [
            *_communication(Artifact.WISH),
            el("Communication.topic", min=1, binding=required(vs_url("wish-kind"))),
            el("Communication.sender", min=1),
            el("Communication.sent", min=1),
            *_sections("Communication", 0),
        ]
    if name == "resourcegroep-reminder":
        return [
            *_communication(Artifact.REMINDER, based_on=False),
            el("Communication.reasonCode", min=1, max="1", binding=required(vs_url("reminder-reason"))),
            el("Communication.recipient", min=1),
            el("Communication.payload", min=1),
        ]
    if name == "resourcegroep-supporter":
        return [
            el("RelatedPerson.patient", type=ref(PATIENT_REF)),
            el("RelatedPerson.name", min=1),
            el("RelatedPerson.relationship", min=1),
        ]
    if name == "resourcegroep-place":
        return [el("Location.name", min=1)]
    if name == "resourcegroep-provenance":
        return [
            el("Provenance.meta", min=1),
            el("Provenance.meta.tag", min=1),
            el("Provenance.activity", min=1),
            el(
                "Provenance.agent.type",
                min=1,
                patternCodeableConcept={"coding": [{"system": CS_PROVENANCE_AGENT_TYPE, "code": "author"}]},
            ),
        ]
    raise KeyError(name)


def profile_definition(name: str) -> Json:
    """The StructureDefinition of one product profile (a differential on the R4 base resource)."""
    resource_type = PROFILE_SELECTORS[name][0]
    title, description = _TITLES[name]
    header = _sd_header(profile_url(name), title, description)
    header["id"] = name
    return {
        **header,
        "kind": "resource",
        "abstract": False,
        "type": resource_type,
        "baseDefinition": hl7(resource_type),
        "derivation": "constraint",
        "differential": {"element": [el(resource_type), *_profile_elements(name)]},
    }


# --------------------------------------------------------------------------- value sets and manifest


def valueset(name: str) -> Json:
    """The ValueSet of all codes of one product CodeSystem (its codes come from the CodeSystem, never copied)."""
    return {
        "resourceType": "ValueSet",
        "id": f"resourcegroep-{name}",
        "url": vs_url(name),
        "version": PACKAGE_VERSION,
        "name": "Resourcegroep" + _pascal(name) + "Codes",
        "title": f"Resourcegroep {name} (all codes)",
        "status": "active",
        "date": DATE,
        "publisher": PUBLISHER,
        "description": f"All codes of the product CodeSystem {cs_url(name)}.",
        "compose": {"include": [{"system": cs_url(name)}]},
    }


def _filename(resource: Json) -> str:
    return f"{resource['resourceType']}-{resource['id']}.json"


def package() -> dict[str, Json]:
    """The product's FHIR package: file name -> resource (and `package.json`)."""
    resources = [
        *(extension_definition(url) for url in product_extensions()),
        *(profile_definition(name) for name in PROFILE_SELECTORS),
        *(valueset(name) for name in CODESYSTEM_FILES),
    ]
    files = {_filename(r): r for r in resources}
    files["package.json"] = {
        "name": PACKAGE_NAME,
        "version": PACKAGE_VERSION,
        "canonical": codes.CANONICAL_BASE,
        "title": "Resourcegroep",
        "description": "The Resourcegroep app's extensions, profiles and value sets (FHIR R4). The CodeSystems are "
        "shipped beside them in fhir_mappings/codesystems.",
        "fhirVersions": [FHIR_VERSION],
        "type": "fhir.ig",
        "dependencies": {"hl7.fhir.r4.core": FHIR_VERSION},
        "author": PUBLISHER,
        "date": DATE.replace("-", ""),
        "files": sorted(files),
        "codeSystems": [f"fhir_mappings/codesystems/{n}.json" for n in CODESYSTEM_FILES],
    }
    return dict(sorted(files.items()))


# --------------------------------------------------------------------------- claimed profiles (nl-core, KT2)

CS_COD472 = codes.CS_COD472
CS_ROL_NICTIZ = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.23.1"
CS_V3_ROLE_CODE = codes.CS_V3_ROLE_CODE
CS_V3_NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
VS_RELATIE = "http://decor.nictiz.nl/fhir/ValueSet/2.16.840.1.113883.2.4.3.11.60.40.2.3.1.1--20200901000000"
VS_ROL = "http://decor.nictiz.nl/fhir/ValueSet/2.16.840.1.113883.2.4.3.11.60.40.2.3.1.2--20200901000000"

# The external value sets our rules need, with their codes written out (there is no terminology server offline).
EXTERNAL_VALUESETS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    VS_RELATIE: (
        f"{NICTIZ_SOURCE} resources/zib/terminology/ValueSet-RelatieCodelijst-"
        "2.16.840.1.113883.2.4.3.11.60.40.2.3.1.1--20200901000000.xml",
        [(CS_V3_ROLE_CODE, c) for c in ZIB_RELATIE_ROLE_CODES] + [(CS_V3_NULL_FLAVOR, "OTH")],
    ),
    VS_ROL: (
        f"{NICTIZ_SOURCE} resources/zib/terminology/ValueSet-RolCodelijst-"
        "2.16.840.1.113883.2.4.3.11.60.40.2.3.1.2--20200901000000.xml",
        [(CS_ROL_NICTIZ, c) for c in ("100001", "100002", "100003", "100004")]
        + [
            (CS_COD472, c)
            for c in ("01", "02", "03", "04", "05", "06", "07", "09", "11", "14", "15", "19", "20", "21", "23", "24")
        ],
    ),
}

# R4 required bindings on the elements the mapping writes (FHIR R4 4.0.1 core; checked on every resource). The
# codes are those of the bound ValueSets; the system is implied by the `code` datatype.
R4 = "http://hl7.org/fhir/ValueSet/"
R4_REQUIRED_BINDINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CareTeam.status": (R4 + "care-team-status", ("proposed", "active", "suspended", "inactive", "entered-in-error")),
    "CarePlan.status": (
        R4 + "request-status",
        ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"),
    ),
    "CarePlan.intent": (R4 + "care-plan-intent", ("proposal", "plan", "order", "option")),
    "Goal.lifecycleStatus": (
        R4 + "goal-status",
        (
            "proposed",
            "planned",
            "accepted",
            "active",
            "on-hold",
            "completed",
            "cancelled",
            "entered-in-error",
            "rejected",
        ),
    ),
    "Task.status": (
        R4 + "task-status",
        (
            "draft",
            "requested",
            "received",
            "accepted",
            "rejected",
            "ready",
            "cancelled",
            "in-progress",
            "on-hold",
            "failed",
            "completed",
            "entered-in-error",
        ),
    ),
    "Task.intent": (
        R4 + "task-intent",
        (
            "unknown",
            "proposal",
            "plan",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        ),
    ),
    "Task.priority": (R4 + "request-priority", ("routine", "urgent", "asap", "stat")),
    "Communication.priority": (R4 + "request-priority", ("routine", "urgent", "asap", "stat")),
    "Appointment.status": (
        R4 + "appointmentstatus",
        (
            "proposed",
            "pending",
            "booked",
            "arrived",
            "fulfilled",
            "cancelled",
            "noshow",
            "entered-in-error",
            "checked-in",
            "waitlist",
        ),
    ),
    "Appointment.participant.status": (
        R4 + "participationstatus",
        ("accepted", "declined", "tentative", "needs-action"),
    ),
    "Communication.status": (
        R4 + "event-status",
        ("preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"),
    ),
    "Observation.status": (
        R4 + "observation-status",
        ("registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"),
    ),
    "RelatedPerson.gender": (R4 + "administrative-gender", ("male", "female", "other", "unknown")),
    "Location.status": (R4 + "location-status", ("active", "suspended", "inactive")),
}

# Profiles that rules refer to as reference targets, with the resource type each constrains.
PROFILE_TYPES: dict[str, str] = {
    "http://nictiz.nl/fhir/StructureDefinition/nl-core-Patient": "Patient",
    "http://nictiz.nl/fhir/StructureDefinition/nl-core-Problem": "Condition",
    "http://nictiz.nl/fhir/StructureDefinition/nl-core-HealthcareProvider-Organization": "Organization",
    PROFILE_NL_CORE_PRACTITIONER_ROLE: "PractitionerRole",
    PROFILE_NL_CORE_CONTACT_PERSON: "RelatedPerson",
    PROFILE_KT2_PATIENT: "Patient",
    PROFILE_KT2_PRACTITIONER: "Practitioner",
    PROFILE_KT2_RELATED_PERSON: "RelatedPerson",
    PROFILE_KT2_CARE_TEAM: "CareTeam",
    PROFILE_KT2_TASK: "Task",
    "http://koppeltaal.nl/fhir/StructureDefinition/KT2Organization": "Organization",
}


def _src(source: str, path: str, element: str) -> str:
    return f"{source} {path}: {element}"


def _nl(file: str, element: str) -> str:
    return _src(NICTIZ_SOURCE, f"resources/{file}", element)


def _kt2(file: str, element: str) -> str:
    return _src(KT2_SOURCE, f"input/fsh/profiles/{file}", element)


def _rules(url: str, resource_type: str, base: str | None, source: str, elements: list[Json]) -> Json:
    return {
        "resourceType": "StructureDefinition",
        "id": "rules-" + url.rsplit("/", 1)[-1],
        "url": url,
        "name": "RulesFor" + _pascal(url.rsplit("/", 1)[-1]),
        "status": "draft",
        "description": "Our own compact restatement of the rules of this published profile that an offline check "
        f"can apply; not the published profile. Source: {source}.",
        "kind": "resource",
        "abstract": False,
        "type": resource_type,
        "baseDefinition": base or hl7(resource_type),
        "derivation": "constraint",
        "differential": {"element": [el(resource_type), *elements]},
    }


def claimed() -> dict[str, Json]:
    """Our rule sets for the profiles the mapping claims: file name -> StructureDefinition-shaped rules."""
    zto = "zib/zib-TreatmentObjective.xml"
    nlto = "nl-core/nl-core-TreatmentObjective.xml"
    zct = "zib/zib-CareTeam.xml"
    zcp = "zib/zib-ContactPerson.xml"
    nlcp = "nl-core/nl-core-ContactPerson.xml"
    kct = "KT2_CareTeam.fsh"
    krp = "KT2_RelatedPerson.fsh"
    ktask = "KT2_Task.fsh"
    sets = [
        _rules(
            PROFILE_NL_CORE_TREATMENT_OBJECTIVE,
            "Goal",
            None,
            f"{NICTIZ_SOURCE} resources/{nlto} and its base resources/{zto}",
            [
                el("Goal.note", max=1, comment=_nl(zto, "Goal.note max 1")),
                el("Goal.addresses", max=1, comment=_nl(zto, "Goal.addresses max 1")),
                el(
                    "Goal.subject",
                    type=ref(hl7("Patient"), hl7("Group"), hl7("Organization")),
                    comment=_nl(nlto, "Goal.subject Reference(Patient | Group | Organization | nl-core-Patient)"),
                ),
            ],
        ),
        _rules(
            PROFILE_NL_CORE_CONTACT_PERSON,
            "RelatedPerson",
            None,
            f"{NICTIZ_SOURCE} resources/{nlcp} and its base resources/{zcp}",
            [
                el(
                    "RelatedPerson.patient",
                    type=ref(hl7("Patient")),
                    comment=_nl(nlcp, "RelatedPerson.patient Reference(Patient | nl-core-Patient)"),
                ),
                el(
                    "RelatedPerson.relationship",
                    slicing={"discriminator": [{"type": "value", "path": "$this"}], "rules": "open"},
                    comment=_nl(zcp, "RelatedPerson.relationship sliced by value $this (open)"),
                ),
                el(
                    "RelatedPerson.relationship:role",
                    binding=required(VS_ROL),
                    comment=_nl(zcp, "RelatedPerson.relationship:role required RolCodelijst"),
                ),
                el(
                    "RelatedPerson.relationship:relationship",
                    binding=required(VS_RELATIE),
                    comment=_nl(zcp, "RelatedPerson.relationship:relationship required RelatieCodelijst"),
                ),
            ],
        ),
        _rules(
            PROFILE_NL_CORE_CARE_TEAM,
            "CareTeam",
            None,
            f"{NICTIZ_SOURCE} resources/nl-core/nl-core-CareTeam.xml and its base resources/{zct}",
            [
                el(
                    "CareTeam.participant",
                    slicing={"discriminator": [{"type": "type", "path": "member.resolve()"}], "rules": "open"},
                    comment=_nl(
                        zct,
                        "CareTeam.participant sliced by profile on member.resolve() (open); the slices' "
                        "max 1 is not checked: Nictiz's own example nl-core-CareTeam-01 has five "
                        "PractitionerRole participants",
                    ),
                ),
                el("CareTeam.participant:contactPerson"),
                el(
                    "CareTeam.participant:contactPerson.member",
                    min=1,
                    type=ref(PROFILE_NL_CORE_CONTACT_PERSON),
                    comment=_nl(zct, "CareTeam.participant:contactPerson.member 1..1 Reference(zib-ContactPerson)"),
                ),
                el("CareTeam.participant:patient"),
                el(
                    "CareTeam.participant:patient.member",
                    min=1,
                    type=ref("http://nictiz.nl/fhir/StructureDefinition/nl-core-Patient"),
                    comment=_nl(zct, "CareTeam.participant:patient.member 1..1 Reference(zib-Patient)"),
                ),
                el("CareTeam.participant:healthcareProfessional"),
                el(
                    "CareTeam.participant:healthcareProfessional.member",
                    min=1,
                    type=ref(PROFILE_NL_CORE_PRACTITIONER_ROLE),
                    comment=_nl(
                        zct,
                        "CareTeam.participant:healthcareProfessional.member 1..1 "
                        "Reference(zib-HealthProfessional-PractitionerRole)",
                    ),
                ),
            ],
        ),
        _rules(
            PROFILE_KT2_CARE_TEAM,
            "CareTeam",
            PROFILE_NL_CORE_CARE_TEAM,
            f"{KT2_SOURCE} input/fsh/profiles/{kct}",
            [
                el("CareTeam.identifier", min=1, comment=_kt2(kct, "identifier 1..")),
                el("CareTeam.status", min=1, comment=_kt2(kct, "status 1..")),
                el("CareTeam.category", max=0, comment=_kt2(kct, "category ..0")),
                el(
                    "CareTeam.subject",
                    min=1,
                    type=ref(PROFILE_KT2_PATIENT),
                    comment=_kt2(kct, "subject 1.. only Reference(KT2_Patient)"),
                ),
                el("CareTeam.encounter", max=0, comment=_kt2(kct, "encounter ..0")),
                el(
                    "CareTeam.participant",
                    slicing={"discriminator": [{"type": "type", "path": "member.resolve()"}], "rules": "open"},
                    comment=_kt2(kct, "participant slices (profile on member.resolve(), from nl-core-CareTeam)"),
                ),
                el("CareTeam.participant:patient", max=0, comment=_kt2(kct, "participant[patient] ..0")),
                el("CareTeam.participant:patient.member", type=ref(PROFILE_KT2_PATIENT)),
                el(
                    "CareTeam.participant:healthcareProfessional",
                    max=0,
                    comment=_kt2(kct, "participant[healthcareProfessional] ..0"),
                ),
                el(
                    "CareTeam.participant:healthcareProfessional.member",
                    type=ref(PROFILE_NL_CORE_PRACTITIONER_ROLE),
                ),
                el(
                    "CareTeam.participant:kt2contactperson",
                    comment=_kt2(kct, "participant contains kt2contactperson 0..* (member only KT2_RelatedPerson)"),
                ),
                el("CareTeam.participant:kt2contactperson.member", type=ref(PROFILE_KT2_RELATED_PERSON)),
                el(
                    "CareTeam.participant:kt2healthcareProfessional",
                    comment=_kt2(
                        kct, "participant contains kt2healthcareProfessional 0..* (member only KT2_Practitioner)"
                    ),
                ),
                el("CareTeam.participant:kt2healthcareProfessional.member", type=ref(PROFILE_KT2_PRACTITIONER)),
                el("CareTeam.reasonCode", max=0, comment=_kt2(kct, "reasonCode ..0")),
                el("CareTeam.reasonReference", max=0, comment=_kt2(kct, "reasonReference ..0")),
                el("CareTeam.managingOrganization", max=1, comment=_kt2(kct, "managingOrganization ..1")),
                el("CareTeam.telecom", max=0, comment=_kt2(kct, "telecom ..0")),
                el("CareTeam.note", max=0, comment=_kt2(kct, "note ..0")),
            ],
        ),
        _rules(
            PROFILE_KT2_RELATED_PERSON,
            "RelatedPerson",
            PROFILE_NL_CORE_CONTACT_PERSON,
            f"{KT2_SOURCE} input/fsh/profiles/{krp}",
            [
                el("RelatedPerson.identifier", min=1, comment=_kt2(krp, "identifier 1..")),
                el("RelatedPerson.active", min=1, comment=_kt2(krp, "active 1..")),
                el(
                    "RelatedPerson.patient",
                    type=ref(PROFILE_KT2_PATIENT),
                    comment=_kt2(krp, "patient only Reference(KT2_Patient)"),
                ),
                el(
                    "RelatedPerson.relationship",
                    min=1,
                    slicing={"discriminator": [{"type": "value", "path": "$this"}], "rules": "closed"},
                    comment=_kt2(
                        krp,
                        "relationship 1.., slicing value $this closed (slices role and relationship "
                        "from nl-core-ContactPerson)",
                    ),
                ),
                el("RelatedPerson.relationship:role", binding=required(VS_ROL)),
                el("RelatedPerson.relationship:relationship", binding=required(VS_RELATIE)),
                el("RelatedPerson.name", min=1, comment=_kt2(krp, "name 1..")),
                el("RelatedPerson.gender", min=1, comment=_kt2(krp, "gender 1..")),
                el("RelatedPerson.birthDate", min=1, comment=_kt2(krp, "birthDate 1..")),
                el("RelatedPerson.photo", max=0, comment=_kt2(krp, "photo ..0")),
            ],
        ),
        _rules(
            PROFILE_KT2_TASK,
            "Task",
            None,
            f"{KT2_SOURCE} input/fsh/profiles/{ktask}",
            [
                el("Task.identifier", min=1, comment=_kt2(ktask, "identifier 1..")),
                el("Task.instantiatesUri", max=0, comment=_kt2(ktask, "instantiatesUri ..0")),
                el("Task.basedOn", max=0, comment=_kt2(ktask, "basedOn ..0")),
                el("Task.groupIdentifier", max=0, comment=_kt2(ktask, "groupIdentifier ..0")),
                el("Task.partOf", type=ref(PROFILE_KT2_TASK), comment=_kt2(ktask, "partOf only Reference(KT2_Task)")),
                el("Task.statusReason", max=0, comment=_kt2(ktask, "statusReason ..0")),
                el("Task.businessStatus", max=0, comment=_kt2(ktask, "businessStatus ..0")),
                el("Task.priority", fixedCode="routine", comment=_kt2(ktask, "priority = #routine (exactly)")),
                el("Task.focus", max=0, comment=_kt2(ktask, "focus ..0")),
                el(
                    "Task.for",
                    min=1,
                    type=ref(PROFILE_KT2_PATIENT),
                    comment=_kt2(ktask, "for 1.. only Reference(KT2_Patient)"),
                ),
                el("Task.encounter", max=0, comment=_kt2(ktask, "encounter ..0")),
                el(
                    "Task.requester",
                    type=ref(PROFILE_KT2_PRACTITIONER),
                    comment=_kt2(ktask, "requester only Reference(KT2_Practitioner)"),
                ),
                el("Task.performerType", max=0, comment=_kt2(ktask, "performerType ..0")),
                el(
                    "Task.owner",
                    min=1,
                    type=ref(
                        PROFILE_KT2_CARE_TEAM, PROFILE_KT2_PATIENT, PROFILE_KT2_PRACTITIONER, PROFILE_KT2_RELATED_PERSON
                    ),
                    comment=_kt2(
                        ktask,
                        "owner 1.. only Reference(KT2_CareTeam or KT2_Patient or KT2_Practitioner "
                        "or KT2_RelatedPerson)",
                    ),
                ),
                *(
                    el(f"Task.{name}", max=0, comment=_kt2(ktask, f"{name} ..0"))
                    for name in (
                        "location",
                        "reasonCode",
                        "reasonReference",
                        "insurance",
                        "note",
                        "relevantHistory",
                        "restriction",
                        "input",
                        "output",
                    )
                ),
            ],
        ),
    ]
    files = {f"{s['id']}.json": s for s in sets}
    files["terminology.json"] = {
        "description": "Codes of the external ValueSets our rules bind to (written out: no terminology server "
        "offline), the R4 required bindings checked on every resource, and the resource type each referenced "
        "profile constrains.",
        "valueSets": {
            url: {"source": source, "codes": [list(c) for c in concepts]}
            for url, (source, concepts) in EXTERNAL_VALUESETS.items()
        },
        "r4RequiredBindings": {
            path: {"valueSet": vs, "codes": list(cs)} for path, (vs, cs) in R4_REQUIRED_BINDINGS.items()
        },
        "profileTypes": PROFILE_TYPES,
    }
    return dict(sorted(files.items()))
