"""The contract between the sandbox authorization server and the sandbox FHIR endpoint.

The authorization server issues access tokens; the FHIR endpoint asks a `TokenVerifier`
what a bearer token may do. Neither side imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class AccessGrant:
    """What one access token allows."""

    client_id: str
    scopes: frozenset[str]
    patient: str | None = None  # logical id of the patient in context (patient/ scopes), e.g. "p1"
    fhir_user: str | None = None  # e.g. "Practitioner/pr1" or "Patient/p1"
    expires_at: float = 0.0  # epoch seconds
    extra: dict[str, str] = field(default_factory=dict)


# Returns the grant for a valid, unexpired token, or None.
TokenVerifier = Callable[[str], AccessGrant | None]


@dataclass(frozen=True)
class Person:
    """A person the sandbox can log in as or launch for."""

    resource_type: str  # "Patient" | "Practitioner" | "RelatedPerson"
    id: str
    display: str
    patient: str | None = None  # a RelatedPerson's patient (logical id): whose supporter they are


class Directory(Protocol):
    """Who exists in the sandbox EPD (patients, practitioners, and the patients' related people), read from its
    FHIR data."""

    def patients(self) -> list[Person]: ...

    def practitioners(self) -> list[Person]: ...

    def related_people(self) -> list[Person]: ...

    def get(self, resource_type: str, id: str) -> Person | None: ...
