"""Fixtures for the FHIR contract suite: one parametrised base URL (sandbox store | Medplum engine)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from sandbox.fhir import FhirStore, create_fhir_app
from tests.support.servers import free_port, wait_http

FHIR_JSON = "application/fhir+json"


class Fhir:
    """A small FHIR JSON client for the contract tests (raw responses, nothing hidden)."""

    def __init__(self, base: str, name: str):
        self.base = base.rstrip("/")
        self.name = name
        self.session = requests.Session()
        self.session.headers.update({"Accept": FHIR_JSON})

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base}/{path.lstrip('/')}" if path else self.base

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any
    ) -> requests.Response:
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body)
            h.setdefault("Content-Type", FHIR_JSON)
        return self.session.request(method, self.url(path), data=data, headers=h, timeout=30, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.request("PUT", path, body, **kw)

    def create(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Create and return the stored resource; fails the test unless 201."""
        r = self.post(resource["resourceType"], resource)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created

    def search(self, query: str) -> dict[str, Any]:
        r = self.get(query)
        assert r.status_code == 200, f"{query}: {r.status_code} {r.text[:500]}"
        bundle: dict[str, Any] = r.json()
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
        return bundle

    def transaction(self, entries: list[dict[str, Any]], kind: str = "transaction") -> requests.Response:
        return self.post("", {"resourceType": "Bundle", "type": kind, "entry": entries})


def refs(bundle: dict[str, Any], mode: str | None = None) -> set[str]:
    """'Type/id' of the resources in a Bundle (optionally only one search mode)."""
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", []) or []
        if "resource" in e
        and e["resource"]["resourceType"] != "OperationOutcome"
        and (mode is None or e.get("search", {}).get("mode") == mode)
    }


def ref(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def sandbox_fhir_base() -> Iterator[str]:
    """The sandbox store served over real HTTP on a free loopback port (auth disabled)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    store = FhirStore(":memory:")
    app = create_fhir_app(store=store, auth_enabled=False, base_path="/fhir", public_base_url=base)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        wait_http(f"{base}/metadata", timeout=20)
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)
        store.close()


@pytest.fixture(scope="session", params=["sandbox", "medplum"])
def fhir(request: pytest.FixtureRequest) -> Fhir:
    """A client for each FHIR server under contract."""
    if request.param == "sandbox":
        return Fhir(request.getfixturevalue("sandbox_fhir_base"), "sandbox")
    return Fhir(request.getfixturevalue("medplum_base"), "medplum")
