"""Small, best-effort FHIR reads for the launch summary page (patient banner, user name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

_TIMEOUT = (3.0, 5.0)


@dataclass(frozen=True)
class PersonSummary:
    """Name and a few identifying details for a banner."""

    reference: str
    name: str | None
    birth_date: str | None = None
    gender: str | None = None


def _display_name(resource: dict[str, Any]) -> str | None:
    names = resource.get("name")
    if not isinstance(names, list) or not names:
        return None
    official = next((n for n in names if isinstance(n, dict) and n.get("use") == "official"), names[0])
    if not isinstance(official, dict):
        return None
    if isinstance(official.get("text"), str):
        return str(official["text"])
    given = " ".join(g for g in official.get("given", []) if isinstance(g, str))
    family = official.get("family") if isinstance(official.get("family"), str) else ""
    return " ".join(p for p in (given, family) if p) or None


def read_person(fhir_base_url: str, reference: str, access_token: str) -> PersonSummary:
    """Read `reference` (e.g. `Patient/p1`); on any failure return a summary without a name."""
    try:
        resp = requests.get(
            f"{fhir_base_url.rstrip('/')}/{reference}",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/fhir+json"},
            timeout=_TIMEOUT,
        )
        body = resp.json() if resp.status_code == 200 else None
    except (requests.RequestException, ValueError):
        body = None
    if not isinstance(body, dict) or f"{body.get('resourceType')}/{body.get('id')}" != reference:
        return PersonSummary(reference=reference, name=None)
    return PersonSummary(
        reference=reference,
        name=_display_name(body),
        birth_date=body.get("birthDate") if isinstance(body.get("birthDate"), str) else None,
        gender=body.get("gender") if isinstance(body.get("gender"), str) else None,
    )
