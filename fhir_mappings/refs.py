"""References between entities: product uids <-> FHIR literal references and urn:uuid placeholders."""

from __future__ import annotations

from typing import Any

from fhir_mappings.codes import IDENTIFIER_SYSTEM
from fhir_mappings.fhirjson import references

URN_UUID = "urn:uuid:"
FHIR_ID = r"[A-Za-z0-9\-.]{1,64}"  # a resource's id (R4 `id`), as a regular expression's text


def product_uid(resource: dict[str, Any]) -> str | None:
    """The product identifier value of a resource, if it carries one."""
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == IDENTIFIER_SYSTEM and ident.get("value"):
            return str(ident["value"])
    return None


def literal(reference: str) -> str:
    """Normalise a reference to `Type/id`: drops a base URL and a `/_history/n` suffix."""
    if reference.startswith(URN_UUID):
        return reference
    if reference.count("/") == 1 and not reference.endswith("/"):
        return reference  # already `Type/id` (the common case: no need to split)
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) >= 2:
        return f"{parts[-2]}/{parts[-1]}"
    return reference


# A care professional, or one of their roles (a team may list either; the app treats them alike).
PROFESSIONAL_TYPES = ("Practitioner", "PractitionerRole")
_PROFESSIONAL_PREFIXES = tuple(f"{kind}/" for kind in PROFESSIONAL_TYPES)


def is_professional_ref(reference: str) -> bool:
    """Whether a `Type/id` reference names a care professional: a Practitioner or one of their PractitionerRoles."""
    return reference.startswith(_PROFESSIONAL_PREFIXES)


def ref_type(reference: str) -> str:
    """The resource type of a literal reference ('' for urn:uuid or contained references)."""
    if reference.startswith((URN_UUID, "#")) or "/" not in reference:
        return ""
    return literal(reference).split("/")[0]


def other_patient_ref(resource: dict[str, Any], patient: str) -> str | None:
    """The first reference anywhere in `resource` to a patient other than `patient` (the compartment rule)."""
    want = literal(patient)
    return next((ref for ref in references(resource) if ref_type(ref) == "Patient" and literal(ref) != want), None)


class RefIndex:
    """Translates between product uids and the references a FHIR server uses.

    A resource read from the server is known by `Type/id` and, when it carries a product
    identifier, by its uid too. A new entity (not on the server yet) is referred to as
    `urn:uuid:<uid>`, which a transaction Bundle rewrites into the real id.
    """

    def __init__(self) -> None:
        self._ref_by_uid: dict[str, str] = {}
        self._uid_by_ref: dict[str, str] = {}

    def register(self, resource: dict[str, Any]) -> str:
        """Remember a resource; returns its uid (product identifier value, else `Type/id`)."""
        rid = resource.get("id")
        ref = f"{resource['resourceType']}/{rid}" if rid else None
        uid = product_uid(resource) or ref
        if uid is None:
            raise ValueError("a resource without id or product identifier cannot be referred to")
        if ref is not None:
            self._ref_by_uid[uid] = ref
            self._uid_by_ref[ref] = uid
        self._uid_by_ref[URN_UUID + uid] = uid
        return uid

    def bind(self, uid: str, reference: str) -> None:
        """Record the server id a new entity received (after a transaction)."""
        self._ref_by_uid[uid] = literal(reference)
        self._uid_by_ref[literal(reference)] = uid

    def ref(self, uid: str) -> str:
        """The reference to write for an entity uid."""
        known = self._ref_by_uid.get(uid)
        if known is not None:
            return known
        if "/" in uid:  # already a literal reference (a resource another system wrote, or a person)
            return uid
        return URN_UUID + uid

    def uid(self, reference: str) -> str:
        """The entity uid behind a reference (the literal reference itself when unknown): what its literal form
        names, else what the reference as written names (an urn:uuid placeholder), else the literal form."""
        lit = literal(reference)  # once: a reference is parsed at most one time per question
        found = self._uid_by_ref.get(lit)
        if found is not None:
            return found
        return self._uid_by_ref.get(reference, lit)
