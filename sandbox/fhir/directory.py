"""`sandbox.access.Directory` over the sandbox FHIR store: who can log in or be launched for."""

from __future__ import annotations

from typing import Any

from sandbox.access import Person
from sandbox.fhir.errors import FhirError
from sandbox.fhir.store import FhirStore

_PERSON_TYPES = ("Patient", "Practitioner", "RelatedPerson")


def display_name(resource: dict[str, Any]) -> str:
    """A human-readable name: the official (or first) HumanName, else the id."""
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    chosen = next((n for n in names if n.get("use") == "official"), None) or next(
        (n for n in names if n.get("use") != "old"), None
    )
    if chosen:
        if chosen.get("text"):
            return str(chosen["text"])
        parts = [*chosen.get("prefix", []), *chosen.get("given", []), chosen.get("family", "")]
        text = " ".join(str(p) for p in parts if p).strip()
        if text:
            return text
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def patient_of(resource: dict[str, Any]) -> str | None:
    """The logical id of the patient a RelatedPerson belongs to (`RelatedPerson.patient`), else None."""
    reference = (resource.get("patient") or {}).get("reference")
    if not isinstance(reference, str):
        return None
    parts = reference.rstrip("/").split("/")
    return parts[-1] if len(parts) >= 2 and parts[-2] == "Patient" and parts[-1] else None


def person_of(resource: dict[str, Any]) -> Person | None:
    """The directory entry of a Patient, Practitioner or RelatedPerson resource; None for a RelatedPerson who
    cannot log in (no longer active, or not tied to a patient)."""
    resource_type = str(resource.get("resourceType"))
    if resource_type not in _PERSON_TYPES:
        return None
    if resource_type != "RelatedPerson":
        return Person(resource_type, str(resource["id"]), display_name(resource))
    patient = patient_of(resource)
    if patient is None or resource.get("active") is False:
        return None
    return Person(resource_type, str(resource["id"]), display_name(resource), patient)


class StoreDirectory:
    """Patients, practitioners and related people read from the store (implements sandbox.access.Directory)."""

    def __init__(self, store: FhirStore):
        self._store = store

    def _people(self, resource_type: str) -> list[Person]:
        found = (person_of(r) for r in self._store.all_of_type(resource_type))
        people = [p for p in found if p is not None]
        return sorted(people, key=lambda p: p.display.casefold())

    def patients(self) -> list[Person]:
        """Every patient, sorted by name."""
        return self._people("Patient")

    def practitioners(self) -> list[Person]:
        """Every practitioner, sorted by name."""
        return self._people("Practitioner")

    def related_people(self) -> list[Person]:
        """Every active related person with their patient, sorted by name."""
        return self._people("RelatedPerson")

    def get(self, resource_type: str, id: str) -> Person | None:
        """One patient, practitioner or (active) related person by id, or None."""
        if resource_type not in _PERSON_TYPES:
            return None
        try:
            resource = self._store.read(resource_type, id)
        except FhirError:  # a missing person is simply not in the directory
            return None
        return person_of({**resource, "id": id})
