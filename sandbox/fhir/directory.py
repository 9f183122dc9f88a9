"""`sandbox.access.Directory` over the sandbox FHIR store: who can log in or be launched for."""

from __future__ import annotations

from typing import Any

from sandbox.access import Person
from sandbox.fhir.errors import FhirError
from sandbox.fhir.store import FhirStore

_PERSON_TYPES = ("Patient", "Practitioner")


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


class StoreDirectory:
    """Patients and practitioners read from the store (implements sandbox.access.Directory)."""

    def __init__(self, store: FhirStore):
        self._store = store

    def _people(self, resource_type: str) -> list[Person]:
        people = [Person(resource_type, str(r["id"]), display_name(r)) for r in self._store.all_of_type(resource_type)]
        return sorted(people, key=lambda p: p.display.casefold())

    def patients(self) -> list[Person]:
        """Every patient, sorted by name."""
        return self._people("Patient")

    def practitioners(self) -> list[Person]:
        """Every practitioner, sorted by name."""
        return self._people("Practitioner")

    def get(self, resource_type: str, id: str) -> Person | None:
        """One patient or practitioner by id, or None."""
        if resource_type not in _PERSON_TYPES:
            return None
        try:
            resource = self._store.read(resource_type, id)
        except FhirError:  # a missing person is simply not in the directory
            return None
        return Person(resource_type, id, display_name(resource))
