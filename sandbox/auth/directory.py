"""A fixed, in-memory `Directory` (tests, or a sandbox run without a FHIR store behind its pages)."""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.access import Person


class StaticDirectory:
    """Directory over a fixed list of people."""

    def __init__(self, people: Iterable[Person]) -> None:
        self._people = {(p.resource_type, p.id): p for p in people}

    def patients(self) -> list[Person]:
        """All patients, in the order given."""
        return [p for p in self._people.values() if p.resource_type == "Patient"]

    def practitioners(self) -> list[Person]:
        """All practitioners, in the order given."""
        return [p for p in self._people.values() if p.resource_type == "Practitioner"]

    def related_people(self) -> list[Person]:
        """All related people (a patient's family and friends), in the order given."""
        return [p for p in self._people.values() if p.resource_type == "RelatedPerson"]

    def get(self, resource_type: str, id: str) -> Person | None:
        """One person by type and id."""
        return self._people.get((resource_type, id))
