"""Reads the shipped conformance JSON (importlib.resources) into a ready `Validator`.

The files are written with the default canonical base; when a deployment sets another base
(`RESOURCEGROEP_CANONICAL_BASE`), the product URLs in them are rewritten on load, like `codes.codesystem()` does.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from fhir_mappings import codes
from fhir_mappings.conformance.definitions import PROFILE_SELECTORS
from fhir_mappings.conformance.validator import Json, Validator

PACKAGE_DIR = "fhir_mappings.conformance.package"
CLAIMED_DIR = "fhir_mappings.conformance.claimed"


def _read_dir(package: str) -> dict[str, Json]:
    out: dict[str, Json] = {}
    for entry in sorted(resources.files(package).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            text = entry.read_text(encoding="utf-8")
            if codes.CANONICAL_BASE != codes.DEFAULT_CANONICAL_BASE:
                text = text.replace(codes.DEFAULT_CANONICAL_BASE + "/", codes.CANONICAL_BASE + "/")
            out[entry.name] = json.loads(text)
    return out


@cache
def package_files() -> dict[str, Json]:
    """The product package as shipped: file name -> resource (and package.json)."""
    return _read_dir(PACKAGE_DIR)


@cache
def claimed_files() -> dict[str, Json]:
    """Our rule sets for the claimed nl-core / KT2 profiles, and terminology.json."""
    return _read_dir(CLAIMED_DIR)


def _codes_of(valueset: Json) -> frozenset[tuple[str, str]]:
    """The codes of one of our ValueSets: every concept of each included product CodeSystem."""
    out: set[tuple[str, str]] = set()
    for include in (valueset.get("compose") or {}).get("include") or []:
        system = str(include["system"])
        name = system.rsplit("/", 1)[-1]
        if name not in codes.CODESYSTEM_FILES:
            raise ValueError(f"{valueset['url']} includes {system}, which is not a product CodeSystem")
        stack: list[Any] = list(codes.codesystem(name).get("concept") or [])
        while stack:
            concept = stack.pop()
            out.add((system, str(concept["code"])))
            stack += concept.get("concept") or []
    return frozenset(out)


@cache
def default_validator() -> Validator:
    """A validator that knows the product package, the claimed rule sets and their terminology."""
    definitions: dict[str, Json] = {}
    valuesets: dict[str, frozenset[tuple[str, str]]] = {}
    for name, resource in {**package_files(), **claimed_files()}.items():
        if resource.get("resourceType") == "StructureDefinition":
            definitions[str(resource["url"])] = resource
        elif resource.get("resourceType") == "ValueSet":
            valuesets[str(resource["url"])] = _codes_of(resource)
        elif name == "terminology.json":
            for url, vs in resource["valueSets"].items():
                valuesets[url] = frozenset((str(s), str(c)) for s, c in vs["codes"])
    terminology = claimed_files()["terminology.json"]
    for binding in terminology["r4RequiredBindings"].values():  # an extension part may bind to one of these too
        valuesets.setdefault(str(binding["valueSet"]), frozenset(("", str(c)) for c in binding["codes"]))
    return Validator(
        definitions=definitions,
        valuesets=valuesets,
        profile_types=dict(terminology["profileTypes"]),
        r4_required={p: frozenset(b["codes"]) for p, b in terminology["r4RequiredBindings"].items()},
        extension_base=f"{codes.CANONICAL_BASE}/StructureDefinition",
    )


def product_profile(resource: Json) -> str | None:
    """The product profile a resource the mapping writes is meant to meet (by type and product artifact code)."""
    rtype = resource.get("resourceType")
    for name, (profile_type, element, artifact) in PROFILE_SELECTORS.items():
        if profile_type != rtype:
            continue
        if element is None or artifact is None:
            return codes.profile_url(name)
        value = resource.get(element)
        concepts = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        if any(
            c.get("system") == codes.CS_ARTIFACT and c.get("code") == artifact.value
            for concept in concepts
            for c in (concept.get("coding") or [])
        ):
            return codes.profile_url(name)
    return None
