"""The coded relationships a nominee can have with the patient: personal ones and outside professions.

Personal relationships use HL7 v3 RoleCode (the codes RelatedPerson.relationship expects), with HL7 v2
table 0131 "O" (other) for someone who is neither family nor friend. External professionals are kept as a
RelatedPerson too; their relationship is their occupation as a SNOMED CT concept (the "occupation" hierarchy),
so another system can read what kind of professional they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import force_locale
from flask_babel.speaklater import LazyString
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # newer than the WTForms stubs

from fhir_mappings.codes import CS_V3_ROLE_CODE
from fhir_mappings.model import Supporter
from plugin.i18n import lazy_gettext as _l

CS_V2_CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"
SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True)
class Relationship:
    """One choice in a relationship list: the form's value, the FHIR coding, and the words for it."""

    key: str  # the <option> value
    system: str
    code: str
    words: LazyString  # English msgid; Dutch through the catalog
    needs_text: bool = False  # "other": the user must say in words what it is


PERSONAL: tuple[Relationship, ...] = (
    Relationship("MTH", CS_V3_ROLE_CODE, "MTH", _l("mother")),
    Relationship("FTH", CS_V3_ROLE_CODE, "FTH", _l("father")),
    Relationship("SIS", CS_V3_ROLE_CODE, "SIS", _l("sister")),
    Relationship("BRO", CS_V3_ROLE_CODE, "BRO", _l("brother")),
    Relationship("SIGOTHR", CS_V3_ROLE_CODE, "SIGOTHR", _l("partner")),
    Relationship("SPS", CS_V3_ROLE_CODE, "SPS", _l("husband or wife")),
    Relationship("CHILD", CS_V3_ROLE_CODE, "CHILD", _l("child")),
    Relationship("FAMMEMB", CS_V3_ROLE_CODE, "FAMMEMB", _l("other family")),
    Relationship("FRND", CS_V3_ROLE_CODE, "FRND", _l("friend")),
    Relationship("NBOR", CS_V3_ROLE_CODE, "NBOR", _l("neighbour")),
    Relationship("O", CS_V2_CONTACT_ROLE, "O", _l("someone else"), needs_text=True),
)

PROFESSIONS: tuple[Relationship, ...] = (
    Relationship("62247001", SNOMED, "62247001", _l("general practitioner")),
    Relationship("106328005", SNOMED, "106328005", _l("social worker")),
    Relationship("224535009", SNOMED, "224535009", _l("nurse")),
    Relationship("768832004", SNOMED, "768832004", _l("case manager")),
    Relationship("46255001", SNOMED, "46255001", _l("pharmacist")),
    Relationship("36682004", SNOMED, "36682004", _l("physiotherapist")),
    Relationship("80546007", SNOMED, "80546007", _l("occupational therapist")),
    Relationship("223366009", SNOMED, "223366009", _l("another professional"), needs_text=True),
)

_BY_CODING = {(r.system, r.code): r for r in (*PERSONAL, *PROFESSIONS)}


def relationship_choices(options: tuple[Relationship, ...]) -> list[SelectChoice]:
    """The options of a select, with an empty first choice so nothing is picked by accident."""
    return [SelectChoice("", _l("Choose...")), *(SelectChoice(r.key, r.words) for r in options)]


def find(options: tuple[Relationship, ...], key: str) -> Relationship:
    """The relationship for a submitted select value (the form has already checked it is one of them)."""
    return next(r for r in options if r.key == key)


def stored_text(chosen: Relationship, typed: str) -> str:
    """RelatedPerson.relationship.text: the user's own words, else the Dutch word (the record is Dutch)."""
    if typed.strip():
        return typed.strip()
    with force_locale("nl"):
        return str(chosen.words)


def is_professional(supporter: Supporter | None) -> bool:
    """Whether a supporter was nominated as a professional from outside the clinic."""
    return supporter is not None and supporter.relationship_system == SNOMED


def describe(supporter: Supporter | None) -> str:
    """The relationship in the page's language; the user's own words when they said more than the code."""
    if supporter is None:
        return ""
    text = supporter.relationship_text.strip()
    known = _BY_CODING.get((supporter.relationship_system, supporter.relationship))
    if known is None:
        return text or supporter.relationship
    if not text or text.casefold() == stored_text(known, "").casefold():
        return str(known.words)
    return text
