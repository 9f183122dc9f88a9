"""The CapabilityStatement of the sandbox store and the SMART security extension."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.fhir.searchparams import COMMON_PARAMS, SEARCH_PARAMS, SUPPORTED_TYPES

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


@dataclass(frozen=True)
class SmartUrls:
    """The OAuth endpoints the sandbox authorization server offers (advertised in /metadata)."""

    authorize: str
    token: str
    register: str | None = None
    manage: str | None = None
    introspect: str | None = None
    revoke: str | None = None


def security_block(smart: SmartUrls) -> dict[str, Any]:
    """CapabilityStatement.rest.security with the SMART oauth-uris extension."""
    extension = [{"url": "authorize", "valueUri": smart.authorize}, {"url": "token", "valueUri": smart.token}]
    for name in ("register", "manage", "introspect", "revoke"):
        value = getattr(smart, name)
        if value:
            extension.append({"url": name, "valueUri": value})
    return {
        "extension": [{"url": OAUTH_URIS, "extension": extension}],
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
        "description": "Every request needs a bearer access token from the sandbox authorization server.",
    }


def capability_statement(base_url: str, smart: SmartUrls | None) -> dict[str, Any]:
    """What the sandbox store supports, truthfully: types, interactions, search params, includes."""
    resources = []
    for rtype in SUPPORTED_TYPES:
        params = {**COMMON_PARAMS, **SEARCH_PARAMS[rtype]}
        ref_params = [p for p in SEARCH_PARAMS[rtype].values() if p.type == "reference"]
        rev = sorted(
            f"{other}:{p.name}"
            for other, defs in SEARCH_PARAMS.items()
            for p in defs.values()
            if p.type == "reference" and (p.targets is None or rtype in p.targets)
        )
        resources.append(
            {
                "type": rtype,
                "profile": f"http://hl7.org/fhir/StructureDefinition/{rtype}",
                "interaction": [
                    {"code": code} for code in ("read", "vread", "update", "history-instance", "create", "search-type")
                ],
                "versioning": "versioned-update",
                "readHistory": True,
                "updateCreate": True,
                "conditionalCreate": True,
                "conditionalRead": "not-supported",
                "conditionalUpdate": True,
                "conditionalDelete": "not-supported",
                "referencePolicy": ["literal", "local"],
                "searchInclude": sorted(f"{rtype}:{p.name}" for p in ref_params),
                "searchRevInclude": rev,
                "searchParam": [
                    {
                        "name": p.name,
                        "definition": f"http://hl7.org/fhir/SearchParameter/{_definition_id(rtype, p.name)}",
                        "type": p.type,
                    }
                    for p in params.values()
                ],
            }
        )
    rest: dict[str, Any] = {
        "mode": "server",
        "documentation": "Sandbox EPD FHIR store (demo and tests only). Nothing is ever deleted.",
        "resource": resources,
        "interaction": [{"code": "transaction"}, {"code": "batch"}],
        "searchParam": [
            {"name": "_count", "type": "number"},
            {"name": "_sort", "type": "string"},
            {"name": "_summary", "type": "token"},
        ],
    }
    if smart is not None:
        rest["security"] = security_block(smart)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "publisher": "Resourcegroep sandbox EPD",
        "kind": "instance",
        "software": {"name": "Resourcegroep sandbox FHIR store", "version": "1.0"},
        "implementation": {"description": "Sandbox EPD FHIR R4 endpoint", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [rest],
    }


def _definition_id(rtype: str, name: str) -> str:
    if name.startswith("_"):
        return f"Resource-{name[1:]}"
    return f"{rtype}-{name}"


def add_security(statement: dict[str, Any], smart: SmartUrls) -> dict[str, Any]:
    """Put the SMART security block into (a copy of) another server's CapabilityStatement."""
    out = dict(statement)
    rests = [dict(r) for r in out.get("rest", [])] or [{"mode": "server"}]
    for rest in rests:
        if rest.get("mode", "server") == "server":
            rest["security"] = security_block(smart)
    out["rest"] = rests
    return out
