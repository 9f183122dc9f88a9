"""The sandbox EPD's FHIR R4 endpoint: its own SQLite store, or a front for another FHIR server.

Public API:
    FhirStore(path=":memory:")                  the store; `.load(resources_or_bundle)` seeds data
    create_fhir_app(store=... | upstream_url=..., verifier=..., base_path="/fhir",
                    public_base_url=None, auth_enabled=True, smart=SmartUrls(...)) -> Flask
    create_fhir_blueprint(...)                  the same as a blueprint to mount in another app
    StoreDirectory(store)                       sandbox.access.Directory over the store
"""

from sandbox.fhir.capability import SmartUrls
from sandbox.fhir.directory import StoreDirectory, display_name
from sandbox.fhir.errors import FhirError
from sandbox.fhir.server import create_fhir_app, create_fhir_blueprint
from sandbox.fhir.store import FhirStore, SearchResult, WriteResult

__all__ = [
    "FhirError",
    "FhirStore",
    "SearchResult",
    "SmartUrls",
    "StoreDirectory",
    "WriteResult",
    "create_fhir_app",
    "create_fhir_blueprint",
    "display_name",
]
