"""Building the Bundles the endpoint answers with: searchset, history, transaction/batch responses."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sandbox.fhir.errors import FhirError

_REASONS = {200: "200 OK", 201: "201 Created"}


def etag(resource: dict[str, Any]) -> str:
    """Weak ETag of a resource's version."""
    return f'W/"{resource.get("meta", {}).get("versionId", "")}"'


def location(resource: dict[str, Any]) -> str:
    """Relative versioned location: Type/id/_history/vid."""
    return f"{resource['resourceType']}/{resource['id']}/_history/{resource.get('meta', {}).get('versionId', '')}"


def full_url(base_url: str, resource: dict[str, Any]) -> str:
    """Absolute URL of a resource under the endpoint's base."""
    return (
        f"{base_url}/{resource['resourceType']}/{resource['id']}"
        if base_url
        else (f"{resource['resourceType']}/{resource['id']}")
    )


def write_entry(resource: dict[str, Any], status: int, base_url: str) -> dict[str, Any]:
    """A transaction/batch response entry for a resource written or read."""
    response: dict[str, Any] = {
        "status": _REASONS.get(status, str(status)),
        "location": location(resource),
        "etag": etag(resource),
    }
    last = resource.get("meta", {}).get("lastUpdated")
    if last:
        response["lastModified"] = last
    return {"fullUrl": full_url(base_url, resource), "resource": resource, "response": response}


def error_entry(error: FhirError) -> dict[str, Any]:
    """A batch response entry for an entry that failed."""
    return {"response": {"status": str(error.status), "outcome": error.outcome()}}


def response_bundle(bundle_type: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A transaction-response or batch-response Bundle."""
    return {"resourceType": "Bundle", "type": bundle_type, "entry": entries}


def searchset(result: Any, base_url: str) -> dict[str, Any]:
    """A searchset Bundle for one page of a SearchResult, with self/next/previous links."""
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": result.total}
    if not result.summary_count:
        entries = [
            {"fullUrl": full_url(base_url, r), "resource": r, "search": {"mode": "match"}} for r in result.matches
        ]
        entries += [
            {"fullUrl": full_url(base_url, r), "resource": r, "search": {"mode": "include"}} for r in result.included
        ]
        bundle["entry"] = entries

    def page(offset: int) -> str:
        query = urlencode([*result.params, ("_count", str(result.count)), ("_offset", str(offset))])
        return f"{base_url}/{result.resource_type}?{query}"

    links = [{"relation": "self", "url": page(result.offset)}]
    if not result.summary_count and result.count > 0:
        if result.offset + result.count < result.total:
            links.append({"relation": "next", "url": page(result.offset + result.count)})
        if result.offset > 0:
            links.append({"relation": "previous", "url": page(max(0, result.offset - result.count))})
    bundle["link"] = links
    return bundle


def history(versions: list[dict[str, Any]], base_url: str) -> dict[str, Any]:
    """A history Bundle (newest version first)."""
    entries = []
    for index, resource in enumerate(versions):
        first = index == len(versions) - 1
        entries.append(
            {
                "fullUrl": full_url(base_url, resource),
                "resource": resource,
                "request": {
                    "method": "POST" if first else "PUT",
                    "url": resource["resourceType"] if first else f"{resource['resourceType']}/{resource['id']}",
                },
                "response": {
                    "status": "201 Created" if first else "200 OK",
                    "etag": etag(resource),
                    "lastModified": resource.get("meta", {}).get("lastUpdated", ""),
                },
            }
        )
    return {"resourceType": "Bundle", "type": "history", "total": len(entries), "entry": entries}
