"""Validation of every resource written to the sandbox store.

Structure, cardinality and datatypes come from `fhir.resources.R4B`. That library does not check
required code bindings nor most invariants, so the status vocabularies the app writes and the
Appointment invariants are checked here, the way a real FHIR server would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from sandbox.fhir.errors import FhirError

# (resource type, dotted path) -> codes of the required value set (FHIR R4 4.0.1).
REQUIRED_BINDINGS: dict[tuple[str, str], frozenset[str]] = {
    ("CareTeam", "status"): frozenset({"proposed", "active", "suspended", "inactive", "entered-in-error"}),
    ("CarePlan", "status"): frozenset(
        {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
    ),
    ("CarePlan", "intent"): frozenset({"proposal", "plan", "order", "option"}),
    ("CarePlan", "activity.detail.status"): frozenset(
        {
            "not-started",
            "scheduled",
            "in-progress",
            "on-hold",
            "completed",
            "cancelled",
            "stopped",
            "unknown",
            "entered-in-error",
        }
    ),
    ("Goal", "lifecycleStatus"): frozenset(
        {
            "proposed",
            "planned",
            "accepted",
            "active",
            "on-hold",
            "completed",
            "cancelled",
            "entered-in-error",
            "rejected",
        }
    ),
    ("Task", "status"): frozenset(
        {
            "draft",
            "requested",
            "received",
            "accepted",
            "rejected",
            "ready",
            "cancelled",
            "in-progress",
            "on-hold",
            "failed",
            "completed",
            "entered-in-error",
        }
    ),
    ("Task", "intent"): frozenset(
        {
            "unknown",
            "proposal",
            "plan",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        }
    ),
    ("Task", "priority"): frozenset({"routine", "urgent", "asap", "stat"}),
    ("Appointment", "status"): frozenset(
        {
            "proposed",
            "pending",
            "booked",
            "arrived",
            "fulfilled",
            "cancelled",
            "noshow",
            "entered-in-error",
            "checked-in",
            "waitlist",
        }
    ),
    ("Appointment", "participant.status"): frozenset({"accepted", "declined", "tentative", "needs-action"}),
    ("Appointment", "participant.required"): frozenset({"required", "optional", "information-only"}),
    ("Communication", "status"): frozenset(
        {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"}
    ),
    ("Communication", "priority"): frozenset({"routine", "urgent", "asap", "stat"}),
    ("Observation", "status"): frozenset(
        {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
    ),
    ("Patient", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("Practitioner", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("RelatedPerson", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("Location", "status"): frozenset({"active", "suspended", "inactive"}),
    ("Location", "mode"): frozenset({"instance", "kind"}),
}

# Appointment statuses that may lack start/end (invariant app-3).
_UNSCHEDULED_STATUSES = frozenset({"proposed", "cancelled", "waitlist"})


def walk(value: Any, path: str) -> Iterator[Any]:
    """Yield every value found along a dotted path, flattening lists on the way."""
    current: list[Any] = [value]
    for key in path.split("."):
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict) and key in item:
                found = item[key]
                if isinstance(found, list):
                    nxt.extend(found)
                else:
                    nxt.append(found)
        current = nxt
    yield from current


def validate_resource(resource: Any) -> None:
    """Raise FhirError(400) unless `resource` is a valid R4 resource the store accepts."""
    from sandbox.fhir.searchparams import SUPPORTED_TYPES

    if not isinstance(resource, dict):
        raise FhirError(400, "The body is not a JSON object", "structure")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise FhirError(400, "The resource has no resourceType", "structure", "resourceType")
    if rtype not in SUPPORTED_TYPES:
        raise FhirError(400, f"Resource type {rtype} is not supported by this server", "not-supported")
    try:
        model = get_fhir_model_class(rtype)
    except (KeyError, ValueError, AttributeError) as exc:
        raise FhirError(400, f"Unknown resource type {rtype}", "structure") from exc
    try:
        parsed = model.model_validate(resource)
    except ValidationError as exc:
        raise FhirError(400, _describe(rtype, exc), "structure") from exc
    except (ValueError, TypeError) as exc:
        raise FhirError(400, f"{rtype}: {exc}", "structure") from exc
    # The models coerce JSON types in lax mode ("yes" becomes true); a FHIR server must not.
    mismatch = _json_type_mismatch(resource, parsed.model_dump(by_alias=True, exclude_none=True, mode="json"))
    if mismatch:
        raise FhirError(
            400, f"{rtype}.{mismatch}: wrong JSON type for this element", "structure", f"{rtype}.{mismatch}"
        )
    _check_bindings(rtype, resource)
    _check_invariants(rtype, resource)


def _json_type_mismatch(given: Any, parsed: Any, path: str = "") -> str | None:
    """Path of the first primitive whose JSON type the model had to coerce, or None."""
    if isinstance(parsed, dict) and isinstance(given, dict):
        for key, value in parsed.items():
            if key in given:
                found = _json_type_mismatch(given[key], value, f"{path}.{key}" if path else key)
                if found:
                    return found
        return None
    if isinstance(parsed, list) and isinstance(given, list):
        for index, (g, v) in enumerate(zip(given, parsed, strict=False)):
            found = _json_type_mismatch(g, v, f"{path}[{index}]")
            if found:
                return found
        return None
    if isinstance(parsed, bool):
        return None if isinstance(given, bool) else path
    if isinstance(parsed, int | float):
        return None if isinstance(given, int | float) and not isinstance(given, bool) else path
    if isinstance(parsed, str):
        return None if isinstance(given, str) else path
    return None


def _describe(rtype: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(x) for x in err.get("loc", ()))
        parts.append(f"{rtype}.{loc}: {err.get('msg')}" if loc else f"{rtype}: {err.get('msg')}")
    return "; ".join(parts) or str(exc)


def _check_bindings(rtype: str, resource: dict[str, Any]) -> None:
    for (btype, path), codes in REQUIRED_BINDINGS.items():
        if btype != rtype:
            continue
        for value in walk(resource, path):
            if value not in codes:
                raise FhirError(
                    400,
                    f"Value '{value}' is not in the required value set for {rtype}.{path}",
                    "code-invalid",
                    f"{rtype}.{path}",
                )


def _check_invariants(rtype: str, resource: dict[str, Any]) -> None:
    if rtype == "Appointment":
        has_start, has_end = "start" in resource, "end" in resource
        if has_start != has_end:
            raise FhirError(
                400, "Appointment: either start and end are specified, or neither (app-2)", "invariant", "Appointment"
            )
        if not has_start and resource.get("status") not in _UNSCHEDULED_STATUSES:
            raise FhirError(
                400,
                "Appointment: only proposed or cancelled appointments can be missing start/end dates (app-3)",
                "invariant",
                "Appointment",
            )
