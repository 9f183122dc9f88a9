"""SMART App Launch scope grammar: parse scopes and narrow a request to what may be granted."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

# Scopes that carry no resource permission but that the sandbox understands.
CONTEXT_SCOPES: tuple[str, ...] = (
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
)
REFRESH_SCOPES = frozenset({"offline_access", "online_access"})

_V2_ORDER = "cruds"
_V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
_RESOURCE_SCOPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.([A-Za-z*]+)(\?\S*)?$")
_V2_PERMISSIONS = re.compile(r"^c?r?u?d?s?$")


@dataclass(frozen=True)
class ResourceScope:
    """One `context/Type.permissions` scope, v1 (`.read`) or v2 (`.rs`)."""

    context: str  # "patient" | "user" | "system"
    resource_type: str  # a FHIR type or "*"
    permissions: frozenset[str]  # letters out of "cruds"
    v1: bool
    query: str = ""  # v2 fine-grained suffix such as "?category=..."

    def render(self, permissions: frozenset[str]) -> str:
        """Write this scope back with other permissions, keeping v1 spelling where it fits."""
        if self.v1:
            for word, letters in _V1_PERMISSIONS.items():
                if permissions == frozenset(letters):
                    return f"{self.context}/{self.resource_type}.{word}{self.query}"
        letters = "".join(c for c in _V2_ORDER if c in permissions)
        return f"{self.context}/{self.resource_type}.{letters}{self.query}"


def parse_resource_scope(scope: str) -> ResourceScope | None:
    """Parse a SMART resource scope (v1 or v2); None when `scope` is not one."""
    match = _RESOURCE_SCOPE.match(scope)
    if match is None:
        return None
    context, resource_type, perms, query = match.groups()
    if perms in _V1_PERMISSIONS:
        return ResourceScope(context, resource_type, frozenset(_V1_PERMISSIONS[perms]), True, query or "")
    if perms and _V2_PERMISSIONS.match(perms):
        return ResourceScope(context, resource_type, frozenset(perms), False, query or "")
    return None


def split_scope(scope: str | None) -> list[str]:
    """Split a space-separated scope string, dropping duplicates but keeping order."""
    seen: dict[str, None] = {}
    for item in (scope or "").split():
        seen.setdefault(item, None)
    return list(seen)


def join_scope(scopes: Iterable[str]) -> str:
    """Join scopes into the space-separated form OAuth uses."""
    return " ".join(scopes)


def narrow_scopes(requested: Sequence[str], limits: Sequence[str]) -> list[str]:
    """Keep what `limits` allows of each requested scope.

    A limit is a literal scope, a shell-style pattern (`patient/*`), or a resource scope whose
    permissions cap the request: with limit `patient/*.rs` a request for `patient/Goal.crus` becomes
    `patient/Goal.rs`, the way a real server grants less than asked.
    """
    granted: list[str] = []
    parsed_limits = [(limit, parse_resource_scope(limit)) for limit in limits]
    for scope in requested:
        if any(rs is None and fnmatchcase(scope, limit) for limit, rs in parsed_limits):
            granted.append(scope)
            continue
        wanted = parse_resource_scope(scope)
        if wanted is None:
            continue
        allowed: set[str] = set()
        for _, rs in parsed_limits:
            if (
                rs is not None
                and rs.context == wanted.context
                and rs.resource_type in ("*", wanted.resource_type)
                and rs.query in ("", wanted.query)
            ):
                allowed |= rs.permissions
        kept = wanted.permissions & allowed
        if kept == wanted.permissions:
            granted.append(scope)
        elif kept:
            granted.append(wanted.render(frozenset(kept)))
    return granted


def has_patient_scopes(scopes: Iterable[str]) -> bool:
    """Whether any scope asks for patient-compartment access."""
    return any(s.startswith("patient/") for s in scopes)
