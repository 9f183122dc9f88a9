"""Small pure helpers for editing FHIR JSON while keeping what other systems wrote."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from fhir_mappings.codes import IDENTIFIER_SYSTEM
from fhir_mappings.errors import MappingError

E = TypeVar("E", bound=StrEnum)
Json = dict[str, Any]


def start_from(source: Json | None, resource_type: str) -> Json:
    """A deep copy of what was read (so untouched elements survive), or a fresh resource."""
    if source is not None:
        if source.get("resourceType") != resource_type:
            raise MappingError(
                "Er ging iets mis met de gegevens.", f"source is {source.get('resourceType')}, not {resource_type}"
            )
        return json_copy(source)
    return {"resourceType": resource_type}


def json_copy(value: Json) -> Json:
    """A deep copy of FHIR JSON by a JSON round trip (several times faster than ``copy.deepcopy``; sources are
    parsed JSON). What JSON cannot hold (a Decimal, NaN) is copied by ``copy.deepcopy`` instead."""
    try:
        copied: Json = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return copy.deepcopy(value)
    return copied


def set_or_drop(resource: Json, key: str, value: Any) -> None:
    """Set an element, or remove it when the value is empty."""
    if value is None or value == "" or value == [] or value == {}:
        resource.pop(key, None)
    else:
        resource[key] = value


def ensure_identifier(resource: Json, uid: str) -> None:
    """Make sure the product identifier is present (other identifiers stay)."""
    if "/" in uid:  # a resource another system made: we do not add our identifier
        return
    idents = [i for i in resource.get("identifier") or [] if i.get("system") != IDENTIFIER_SYSTEM]
    resource["identifier"] = [*idents, {"system": IDENTIFIER_SYSTEM, "value": uid}]


def _has_system(concept: Json, systems: Iterable[str]) -> bool:
    owned = set(systems)
    return any(c.get("system") in owned for c in concept.get("coding") or [])


def merge_concepts(existing: list[Json] | None, ours: list[Json], owned_systems: Iterable[str]) -> list[Json]:
    """Replace the CodeableConcepts that use our systems; keep everyone else's, in place."""
    owned = list(owned_systems)
    kept = [c for c in existing or [] if not _has_system(c, owned)]
    return kept + ours


def merge_codings(existing: list[Json] | None, ours: list[Json], owned_systems: Iterable[str]) -> list[Json]:
    """Replace the Codings in our systems inside one CodeableConcept's coding list."""
    owned = set(owned_systems)
    return [c for c in existing or [] if c.get("system") not in owned] + ours


def merge_extensions(existing: list[Json] | None, ours: list[Json], owned_urls: Iterable[str]) -> list[Json]:
    """Replace our extensions; keep every extension we do not own, in place."""
    owned = set(owned_urls)
    return [e for e in existing or [] if e.get("url") not in owned] + ours


def codes_in(concepts: list[Json] | None, system: str) -> list[str]:
    """All codes of one system in a list of CodeableConcepts."""
    return [
        str(c["code"])
        for cc in concepts or []
        for c in cc.get("coding") or []
        if c.get("system") == system and "code" in c
    ]


def code_in(concept: Json | None, system: str) -> str | None:
    """The first code of one system in a CodeableConcept."""
    for c in (concept or {}).get("coding") or []:
        if c.get("system") == system and "code" in c:
            return str(c["code"])
    return None


def extension(resource: Json, url: str) -> Json | None:
    """The first extension with this url."""
    for e in resource.get("extension") or []:  # a loop, not next() over a generator: read per resource
        if e.get("url") == url:
            found: Json = e
            return found
    return None


def enum_value(enum: type[E], value: Any, what: str) -> E:
    """A checked vocabulary member: an unknown code is a clear error, never a silent drop."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise MappingError(
            "Het EPD gaf een onbekende code terug. Neem contact op met functioneel beheer.",
            f"unknown code {value!r} for {what}; allowed: {allowed}",
        ) from None


def required(resource: Json, key: str) -> Any:
    """An element that must be there."""
    value = resource.get(key)
    if value is None or value == "" or value == []:
        raise MappingError(
            "Er ontbreken gegevens in het EPD. Neem contact op met functioneel beheer.",
            f"{resource.get('resourceType')}/{resource.get('id')} lacks required element {key}",
        )
    return value


def parse_date(value: Any, what: str) -> date | None:
    """A FHIR date (or the date part of a dateTime)."""
    if value is None:
        return None
    try:
        text = str(value)
        if len(text) == 4:
            return date(int(text), 1, 1)
        if len(text) == 7:
            return date(int(text[:4]), int(text[5:7]), 1)
        return date.fromisoformat(text[:10])
    except ValueError:
        raise MappingError("Een datum in het EPD is niet leesbaar.", f"bad date {value!r} in {what}") from None


def parse_datetime(value: Any, what: str) -> datetime | None:
    """A FHIR dateTime/instant with time zone; a bare date becomes midnight UTC."""
    if value is None:
        return None
    text = str(value)
    try:
        if len(text) <= 10:
            return datetime.fromisoformat(date.fromisoformat(text[:10]).isoformat() + "T00:00:00+00:00")
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MappingError("Een tijdstip in het EPD is niet leesbaar.", f"bad dateTime {value!r} in {what}") from None


def fmt_datetime(value: datetime) -> str:
    """A FHIR instant: seconds precision with the offset kept."""
    if value.tzinfo is None:
        raise MappingError("Een tijdstip mist de tijdzone.", f"naive datetime {value!r}")
    offset = value.utcoffset()
    if offset is not None and offset.total_seconds() % 60:  # e.g. Amsterdam before 1937 (+00:19:32): not FHIR
        value = value.astimezone(UTC)
    text = value.isoformat(timespec="seconds" if value.microsecond == 0 else "milliseconds")
    return text.replace("+00:00", "Z") if text.endswith("+00:00") else text


def fmt_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def same_date(existing: Any, value: date | None) -> str | None:
    """The date to write: what was there when it means the same day (keeps another system's time part)."""
    if existing is not None and value is not None:
        try:
            if parse_date(existing, "existing") == value:
                return str(existing)
        except MappingError:
            pass
    return fmt_date(value)


def period(start: date | None, end: date | None, source: Json | None = None) -> Json | None:
    """A Period from dates, keeping extra keys of the source period."""
    result = dict(source or {})
    set_or_drop(result, "start", same_date(result.get("start"), start))
    set_or_drop(result, "end", same_date(result.get("end"), end))
    return result or None


def ref_of(value: Json | None) -> str | None:
    """The `reference` string of a Reference."""
    if isinstance(value, dict) and value.get("reference"):
        return str(value["reference"])
    return None


def references(value: Any) -> list[str]:
    """Every `reference` string anywhere inside a resource, in document order (iterative: no recursion limit)."""
    found: list[str] = []
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is str:
            found.append(node)  # only references are pushed as strings
        elif kind is dict:
            for key, item in reversed(node.items()):
                if key == "reference" and isinstance(item, str):
                    stack.append(str(item))
                elif isinstance(item, (dict, list)):
                    stack.append(item)
        elif kind is list:
            stack.extend(item for item in reversed(node) if isinstance(item, (dict, list)))
    return found


def names_display(names: list[Json] | None) -> str | None:
    """A person's name for display: `text`, else given names and family name."""
    for name in names or []:
        if name.get("text"):
            return str(name["text"])
        text = " ".join(p for p in [*name.get("given", []), name.get("family", "")] if p)
        if text:
            return text
    return None
