"""Shared helpers for the sandbox FHIR endpoint unit tests: a fake verifier and seeded data."""

from __future__ import annotations

import time
from typing import Any

from sandbox.access import AccessGrant

P1, P2 = "p1", "p2"


def grants() -> dict[str, AccessGrant]:
    """Tokens the fake verifier knows, by name."""
    soon = time.time() + 3600
    return {
        "patient-p1": AccessGrant(
            "app",
            frozenset({"launch", "openid", "patient/*.cruds"}),
            patient=P1,
            fhir_user="Patient/p1",
            expires_at=soon,
        ),
        "patient-p1-v1": AccessGrant(
            "app", frozenset({"patient/*.read", "patient/Goal.write"}), patient=P1, expires_at=soon
        ),
        "patient-p1-readonly": AccessGrant("app", frozenset({"patient/*.rs"}), patient=P1, expires_at=soon),
        "patient-scope-no-patient": AccessGrant("app", frozenset({"patient/*.cruds"}), expires_at=soon),
        "user-all": AccessGrant("app", frozenset({"user/*.cruds"}), fhir_user="Practitioner/pr1", expires_at=soon),
        "user-goals-read": AccessGrant("app", frozenset({"user/Goal.rs"}), expires_at=soon),
        "system-v1": AccessGrant("backend", frozenset({"system/*.read"}), expires_at=soon),
        "mixed": AccessGrant("app", frozenset({"patient/*.rs", "user/Practitioner.rs"}), patient=P1, expires_at=soon),
        "constrained-only": AccessGrant(
            "app", frozenset({"patient/Observation.rs?category=x"}), patient=P1, expires_at=soon
        ),
        "expired": AccessGrant("app", frozenset({"user/*.cruds"}), expires_at=time.time() - 10),
    }


def verifier(token: str) -> AccessGrant | None:
    return grants().get(token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}


def seed() -> list[dict[str, Any]]:
    """Two patients, each with a goal, a team and a Provenance; shared practitioner and location."""
    data: list[dict[str, Any]] = [
        {"resourceType": "Practitioner", "id": "pr1", "name": [{"given": ["Pieter"], "family": "de Vries"}]},
        {"resourceType": "Location", "id": "loc1", "status": "active", "name": "Kamer 1"},
    ]
    for pid, family in ((P1, "Jansen"), (P2, "Bakker")):
        data += [
            {"resourceType": "Patient", "id": pid, "name": [{"use": "official", "given": ["Anna"], "family": family}]},
            {
                "resourceType": "Goal",
                "id": f"goal-{pid}",
                "lifecycleStatus": "active",
                "description": {"text": "Doel"},
                "subject": {"reference": f"Patient/{pid}"},
            },
            {
                "resourceType": "CareTeam",
                "id": f"team-{pid}",
                "status": "active",
                "subject": {"reference": f"Patient/{pid}"},
                "participant": [
                    {"member": {"reference": f"Patient/{pid}"}},
                    {"member": {"reference": "Practitioner/pr1"}},
                ],
            },
            {
                "resourceType": "Provenance",
                "id": f"prov-{pid}",
                "target": [{"reference": f"Goal/goal-{pid}"}],
                "recorded": "2026-01-01T10:00:00Z",
                "agent": [{"who": {"reference": "Practitioner/pr1"}}],
            },
        ]
    return data
