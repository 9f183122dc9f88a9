"""Small, best-effort FHIR reads for the launch summary page (patient banner, user name)."""

from __future__ import annotations

from collections.abc import Callable
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


def read_launch_task(fhir_base_url: str, reference: str, token: Callable[[bool], str]) -> dict[str, Any] | None:
    """Read the Task a Koppeltaal launch names (`resource`) with a Backend Services token (`token(renew)`; one
    new token after a 401). None when it does not exist or is no Task; raises requests.RequestException when the
    server cannot be reached."""
    url = f"{fhir_base_url.rstrip('/')}/{reference}"
    resp = None
    for renew in (False, True):
        resp = requests.get(
            url,
            headers={"Authorization": f"Bearer {token(renew)}", "Accept": "application/fhir+json"},
            timeout=_TIMEOUT,
        )
        if resp.status_code != 401:
            break
    assert resp is not None  # noqa: S101 - the loop runs at least once
    if resp.status_code in (404, 410):
        return None
    resp.raise_for_status()
    try:
        body = resp.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("resourceType") != "Task" or f"Task/{body.get('id')}" != reference:
        return None
    return body


def task_patient(task: dict[str, Any]) -> str | None:
    """The patient id a Task is for (`Task.for` = `Patient/<id>`), or None."""
    target = task.get("for")
    reference = target.get("reference") if isinstance(target, dict) else None
    if not isinstance(reference, str) or not reference.startswith("Patient/"):
        return None
    return reference.split("/_history/", 1)[0].removeprefix("Patient/")
