"""Scope parsing and what a grant lets the app do."""

from __future__ import annotations

from smart_launch import ReadOnlyReason, ScopeGrant, app_permissions, build_scopes, default_resource_scopes
from smart_launch.scopes import GROUP_RESOURCE_TYPES


def test_v2_scope_permissions() -> None:
    grant = ScopeGrant.parse("patient/Goal.crus patient/Task.rs user/CareTeam.r")
    assert grant.allows("patient", "Goal", "c") and grant.allows("patient", "Goal", "s")
    assert not grant.allows("patient", "Goal", "d")
    assert grant.allows("patient", "Task", "r") and not grant.allows("patient", "Task", "u")
    assert not grant.allows("patient", "CareTeam", "r")  # user/ is not patient/
    assert grant.allows("user", "CareTeam", "r")


def test_v1_and_wildcards() -> None:
    grant = ScopeGrant.parse("patient/*.read patient/Goal.write")
    assert grant.allows("patient", "Observation", "s")
    assert grant.allows("patient", "Goal", "u") and grant.allows("patient", "Goal", "d")
    assert not grant.allows("patient", "Task", "c")


def test_query_restricted_scope_does_not_allow_writes() -> None:
    grant = ScopeGrant.parse("patient/Observation.crus?category=survey")
    assert grant.allows("patient", "Observation", "r")
    assert not grant.allows("patient", "Observation", "c")


def test_full_grant_can_write() -> None:
    grant = ScopeGrant.parse(default_resource_scopes())
    perms = app_permissions(grant)
    assert perms.can_read and perms.can_write and perms.read_only_reason is None


def test_partial_write_grant() -> None:
    scopes = [s for s in default_resource_scopes() if not s.startswith("patient/Appointment")]
    scopes.append("patient/Appointment.rs")
    perms = app_permissions(ScopeGrant.parse(scopes))
    assert not perms.can_write
    assert perms.read_only_reason is ReadOnlyReason.PARTIAL_WRITE_SCOPES
    assert perms.missing_write == ("Appointment",)


def test_nothing_granted() -> None:
    perms = app_permissions(ScopeGrant.parse(""))
    assert not perms.can_read and not perms.can_write
    assert perms.read_only_reason is ReadOnlyReason.NO_READ_SCOPES
    assert perms.missing_read == GROUP_RESOURCE_TYPES


def test_build_scopes_v1_deduplicates() -> None:
    scopes = build_scopes(["patient/Goal.crus", "patient/Goal.rs"], standalone=False, v2=False)
    assert scopes == ["launch", "openid", "fhirUser", "online_access", "patient/Goal.read", "patient/Goal.write"]
