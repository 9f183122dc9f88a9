"""Which scopes to ask for, and what the granted scopes let the app do.

SMART v2 scopes look like `patient/Goal.crus` (optionally with `?query`); v1 scopes like
`patient/Goal.read` / `patient/Goal.write` / `patient/Goal.*`. The app never deletes.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

# The resources of a resource group the app reads and writes (create, read, update, search).
GROUP_RESOURCE_TYPES: tuple[str, ...] = (
    "CareTeam",
    "CarePlan",
    "Goal",
    "Task",
    "Appointment",
    "Communication",
    "Observation",
    "RelatedPerson",
    "Location",
)
# Read-only context the app shows.
READ_SCOPES_V2: tuple[str, ...] = ("patient/Patient.r", "patient/Practitioner.rs", "patient/PractitionerRole.rs")
# Every write transaction carries one Provenance.
PROVENANCE_SCOPE_V2 = "patient/Provenance.c"
# The audit trail (NEN 7513): the app writes an AuditEvent for every access, and shows the patient's care
# professionals and the patient who looked at the group (search). Without it the trail stays in the local log.
AUDIT_SCOPE_V2 = "patient/AuditEvent.cs"
CASELOAD_AUDIT_SCOPE_V2 = "user/AuditEvent.c"
# The clinician's caseload: groups across patients the user may see, and the user's own PractitionerRoles (a team
# may list them by one).
CASELOAD_RESOURCE_TYPES: tuple[str, ...] = (
    "CareTeam",
    "CarePlan",
    "Patient",
    "Appointment",
    "Task",
    "PractitionerRole",
)

EHR_LAUNCH_SCOPES: tuple[str, ...] = ("launch", "openid", "fhirUser", "online_access")
STANDALONE_LAUNCH_SCOPES: tuple[str, ...] = ("launch/patient", "openid", "fhirUser", "online_access")

_SCOPE_RE = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]+)\.(?P<perm>read|write|\*|c?r?u?d?s?)(?P<query>\?.*)?$"
)
_V2_ORDER = "cruds"


def default_resource_scopes(*, caseload: bool = False) -> list[str]:
    """The default clinical scopes in SMART v2 syntax."""
    scopes = [f"patient/{t}.crus" for t in GROUP_RESOURCE_TYPES]
    scopes.append(PROVENANCE_SCOPE_V2)
    scopes.append(AUDIT_SCOPE_V2)
    scopes.extend(READ_SCOPES_V2)
    if caseload:
        scopes.extend(f"user/{t}.rs" for t in CASELOAD_RESOURCE_TYPES)
        scopes.append(CASELOAD_AUDIT_SCOPE_V2)
    return scopes


def to_v1(scope: str) -> list[str]:
    """Translate one v2 resource scope into v1 `.read`/`.write` scopes; other scopes pass unchanged."""
    match = _SCOPE_RE.match(scope)
    if match is None or match["perm"] in ("read", "write", "*"):
        return [scope]
    perm = match["perm"]
    base = f"{match['context']}/{match['type']}"
    out: list[str] = []
    if "r" in perm or "s" in perm:
        out.append(f"{base}.read")
    if "c" in perm or "u" in perm or "d" in perm:
        out.append(f"{base}.write")
    return out


def build_scopes(
    resource_scopes: Iterable[str],
    *,
    standalone: bool,
    v2: bool,
) -> list[str]:
    """The full, de-duplicated scope list for one authorization request."""
    wanted = [*(STANDALONE_LAUNCH_SCOPES if standalone else EHR_LAUNCH_SCOPES), *resource_scopes]
    if not v2:
        wanted = [v1 for s in wanted for v1 in to_v1(s)]
    seen: set[str] = set()
    result: list[str] = []
    for s in wanted:
        if s not in seen:
            seen.add(s)
            result.append(s)
    return result


def _permissions(perm: str) -> frozenset[str]:
    if perm == "read":
        return frozenset("rs")
    if perm == "write":
        return frozenset("cud")
    if perm == "*":
        return frozenset(_V2_ORDER)
    return frozenset(perm)


@dataclass(frozen=True)
class ScopeGrant:
    """Parsed granted scopes: answers "may the app do X on resource type T"."""

    scopes: frozenset[str]

    @classmethod
    def parse(cls, scope: str | Iterable[str] | None) -> ScopeGrant:
        """Parse a space-separated scope string (or an iterable of scopes)."""
        if scope is None:
            return cls(frozenset())
        items = scope.split() if isinstance(scope, str) else list(scope)
        return cls(frozenset(items))

    def allows(self, context: str, resource_type: str, permission: str) -> bool:
        """True when a granted scope gives `permission` (one of c r u d s) on `context/resource_type`.

        A scope with a `?query` restriction counts only for reading and searching: writes
        must be allowed without restriction for the app to offer them.
        """
        for scope in self.scopes:
            match = _SCOPE_RE.match(scope)
            if match is None or match["context"] != context:
                continue
            if match["type"] not in ("*", resource_type):
                continue
            if match["query"] and permission not in "rs":
                continue
            if permission in _permissions(match["perm"]):
                return True
        return False

    def has(self, scope: str) -> bool:
        """True when `scope` was granted literally (e.g. `openid`, `launch`)."""
        return scope in self.scopes


class ReadOnlyReason(enum.Enum):
    """Why the app is read-only; the app shows a translated sentence for each."""

    NO_WRITE_SCOPES = "no_write_scopes"  # nothing writable was granted
    PARTIAL_WRITE_SCOPES = "partial_write_scopes"  # some resource types cannot be written
    NO_PROVENANCE = "no_provenance"  # writes would go unattributed
    NO_READ_SCOPES = "no_read_scopes"  # cannot even read the group


@dataclass(frozen=True)
class AppPermissions:
    """What the app can do with a grant."""

    can_read: bool
    can_write: bool
    read_only_reason: ReadOnlyReason | None
    missing_write: tuple[str, ...]  # resource types without create+update
    missing_read: tuple[str, ...]  # resource types without read+search


@functools.lru_cache(maxsize=256)  # pure, and asked on every request of a launch: the same grant, the same answer
def app_permissions(grant: ScopeGrant, *, context: str = "patient") -> AppPermissions:
    """Compute what the app can do for a patient (or user) context from the granted scopes."""
    missing_read = tuple(
        t for t in GROUP_RESOURCE_TYPES if not (grant.allows(context, t, "r") and grant.allows(context, t, "s"))
    )
    missing_write = tuple(
        t for t in GROUP_RESOURCE_TYPES if not (grant.allows(context, t, "c") and grant.allows(context, t, "u"))
    )
    has_provenance = grant.allows(context, "Provenance", "c")
    can_read = not missing_read
    reason: ReadOnlyReason | None = None
    if not can_read:
        reason = ReadOnlyReason.NO_READ_SCOPES
    elif len(missing_write) == len(GROUP_RESOURCE_TYPES):
        reason = ReadOnlyReason.NO_WRITE_SCOPES
    elif missing_write:
        reason = ReadOnlyReason.PARTIAL_WRITE_SCOPES
    elif not has_provenance:
        reason = ReadOnlyReason.NO_PROVENANCE
    return AppPermissions(
        can_read=can_read,
        can_write=reason is None,
        read_only_reason=reason,
        missing_write=missing_write,
        missing_read=missing_read,
    )
