"""Bearer-token checks and SMART scope enforcement for the sandbox FHIR endpoint.

Scopes follow SMART App Launch 2.2: v2 permissions (`c r u d s`, e.g. `patient/Goal.rs`) and the
v1 forms (`read`, `write`, `*`), for the `patient/`, `user/` and `system/` contexts. A permission
that only comes from a `patient/` scope is confined to the compartment of `grant.patient`.
Scopes with a query (`patient/Observation.rs?category=...`) grant nothing here: the sandbox does
not evaluate scope constraints, and refusing is the safe reading.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sandbox.access import AccessGrant, TokenVerifier
from sandbox.fhir.errors import FhirError

# Interaction -> SMART v2 permission letter.
PERMISSION = {"create": "c", "read": "r", "update": "u", "delete": "d", "search": "s"}
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE_RE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.(\*|read|write|c?r?u?d?s?)$")


@dataclass(frozen=True)
class Permission:
    """One parsed resource scope."""

    context: str  # patient | user | system
    resource_type: str  # a type or "*"
    letters: frozenset[str]


def parse_scopes(scopes: frozenset[str] | set[str]) -> list[Permission]:
    """The resource permissions in a set of scope strings (other scopes such as openid are skipped)."""
    found: list[Permission] = []
    for scope in scopes:
        m = _SCOPE_RE.match(scope)
        if not m or not m.group(3):
            continue
        context, rtype, perm = m.groups()
        letters = _V1.get(perm, perm)
        found.append(Permission(context, rtype, frozenset(letters)))
    return found


class GrantGuard:
    """Decides what one access grant may do (implements sandbox.fhir.store.Guard)."""

    def __init__(self, grant: AccessGrant):
        self.grant = grant
        self._permissions = parse_scopes(grant.scopes)

    def _contexts(self, interaction: str, resource_type: str) -> set[str]:
        letter = PERMISSION[interaction]
        return {
            p.context
            for p in self._permissions
            if letter in p.letters
            and p.resource_type in ("*", resource_type)
            and (p.context != "patient" or self.grant.patient is not None)
        }

    def can(self, interaction: str, resource_type: str) -> bool:
        """Whether any scope permits the interaction on this type."""
        return bool(self._contexts(interaction, resource_type))

    def allow(self, interaction: str, resource_type: str) -> None:
        """Raise 403 naming the missing scope unless the interaction is permitted."""
        if not self.can(interaction, resource_type):
            letter = PERMISSION[interaction]
            context = "patient" if self.grant.patient is not None else "user"
            raise FhirError(
                403,
                f"The access token does not allow {interaction} on {resource_type} "
                f"(needs scope {context}/{resource_type}.{letter})",
                "forbidden",
            )

    def patient_for(self, interaction: str, resource_type: str) -> str | None:
        """The launch patient when only patient/ scopes permit this, else None (unconfined)."""
        contexts = self._contexts(interaction, resource_type)
        if contexts and contexts <= {"patient"}:
            return self.grant.patient
        return None


def bearer_token(header: str | None) -> str | None:
    """The token in an `Authorization: Bearer ...` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(header: str | None, verifier: TokenVerifier) -> GrantGuard:
    """Verify the bearer token; 401 when it is missing, unknown or expired."""
    token = bearer_token(header)
    if token is None:
        raise FhirError(401, "This request needs an access token (Authorization: Bearer ...)", "login")
    grant = verifier(token)
    if grant is None or (grant.expires_at and grant.expires_at < time.time()):
        raise FhirError(401, "The access token is invalid or has expired", "login")
    return GrantGuard(grant)
