"""The sandbox EPD as one Flask app: authorization server, FHIR endpoint, EPD pages, SMART discovery.

Layout under the sandbox's base URL (e.g. http://127.0.0.1:8400):

    /auth/...                               authorization server (authorize, token, JWKS, login pages)
    /fhir/...                               FHIR R4 endpoint (own SQLite store, or fronting an upstream)
    /fhir/.well-known/smart-configuration   SMART discovery for `iss` = {base}/fhir
    /epd/...                                EPD pages (practitioner login, patients, patient portal)
    /                                       sends the browser to the EPD login

This module composes the parts; it never imports the app (`plugin`): the sandbox only knows the app's
public URLs, as a real EPD does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import requests
from flask import Flask, redirect, url_for
from flask.typing import ResponseReturnValue

from fhir_mappings.profiles import MappingMode
from sandbox import demo_data
from sandbox.access import Directory, Person
from sandbox.auth import AuthServerConfig, SandboxAuthServer, create_auth_blueprint
from sandbox.auth.koppeltaal import launch_tasks_bundle
from sandbox.epd import EpdConfig, create_epd_blueprint
from sandbox.fhir import FhirStore, SmartUrls, StoreDirectory, create_fhir_blueprint
from sandbox.fhir.directory import person_of

FHIR_JSON = "application/fhir+json"
SESSION_COOKIE_NAME = "sandbox_session"
DEFAULT_CLIENT_ID = "resourcegroep"


@dataclass(frozen=True)
class SandboxSettings:
    """How one sandbox EPD runs and which app it knows."""

    base_url: str  # where the sandbox is reachable, e.g. http://127.0.0.1:8400
    app_base_url: str  # where the app is reachable, e.g. http://127.0.0.1:8401
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    database: str = ":memory:"  # SQLite file of the FHIR store, or ":memory:"
    upstream_url: str | None = None  # front this FHIR base instead of the own store
    client_id: str = DEFAULT_CLIENT_ID
    # How the app authenticates at the token endpoint: "private_key_jwt" (keys from the app's JWKS URL),
    # "client_secret_basic" (needs client_secret) or "none" (public client).
    client_auth: str = "private_key_jwt"
    client_secret: str | None = None
    signing_key_pem: str | None = None  # the sandbox's id_token key; generated per run when absent
    auto_login: bool = False  # skip the sandbox's own login/picker pages (scripted runs)
    app_name: str = "Resourcegroep"
    # Koppeltaal mode: the EPD and portal launch the app with a signed HTI token (POST), the token endpoint
    # answers that launch with NOOP, and data access is by Backend Services only (see sandbox.auth.koppeltaal).
    koppeltaal: bool = False

    @property
    def portal_jwks_url(self) -> str:
        """Koppeltaal mode: where the sandbox portal publishes the keys of its HTI tokens."""
        return f"{self.base}/epd/koppeltaal/jwks.json"

    @property
    def base(self) -> str:
        """The sandbox base URL without a trailing slash."""
        return self.base_url.rstrip("/")

    @property
    def fhir_base_url(self) -> str:
        """The FHIR base the EPD sends as `iss`."""
        return f"{self.base}/fhir"

    @property
    def issuer(self) -> str:
        """The authorization server's issuer."""
        return f"{self.base}/auth"

    @property
    def epd_url(self) -> str:
        """The page a person opens first: the EPD login."""
        return f"{self.base}/epd/login"

    @property
    def app_base(self) -> str:
        """The app base URL without a trailing slash."""
        return self.app_base_url.rstrip("/")


@dataclass
class Sandbox:
    """A composed sandbox EPD: the Flask app and the parts behind it."""

    app: Flask
    settings: SandboxSettings
    auth: SandboxAuthServer
    directory: Directory
    store: FhirStore | None  # None when fronting an upstream FHIR server

    def has_demo_data(self) -> bool:
        """Whether the demo patients are there already (a kept database, or a seeded upstream)."""
        first = demo_data.PATIENTS[0]["id"]
        return self.directory.get("Patient", first) is not None

    def seed_demo_data(self, today: date | None = None) -> int:
        """Write the demo data into the store (or the upstream server); returns the number of resources."""
        post = self.bundle_poster()
        # Koppeltaal mode: the groups in KT2 shape, as the app writes them for a Koppeltaal domain.
        mode = MappingMode.KT2 if self.settings.koppeltaal else MappingMode.NL_CORE
        written = demo_data.seed(post, today, mode)
        if self.settings.koppeltaal:
            # Koppeltaal mode: the portal assigned the app to every demo patient with a Task (the HTI `resource`).
            tasks = launch_tasks_bundle([str(p["id"]) for p in demo_data.PATIENTS])
            post(tasks)
            written += len(tasks["entry"])
        return written

    def bundle_poster(self) -> Callable[[dict[str, Any]], object]:
        """Something that writes one transaction Bundle into the data behind this sandbox (no token check)."""
        if self.store is not None:
            return self.store.load
        assert self.settings.upstream_url is not None  # noqa: S101 - a sandbox has a store or an upstream
        return UpstreamWriter(self.settings.upstream_url)

    def close(self) -> None:
        """Close the store's database connection."""
        if self.store is not None:
            self.store.close()


class UpstreamWriter:
    """Posts transaction Bundles straight to an upstream FHIR base (seeding, no token check in front)."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout

    def __call__(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """Post `bundle`; raise with the server's OperationOutcome when it is refused."""
        response = requests.post(
            self.base,
            json=bundle,
            headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
            timeout=self.timeout,
        )
        if response.status_code >= 400:
            raise RuntimeError(f"upstream refused the bundle ({response.status_code}): {response.text[:2000]}")
        result: dict[str, Any] = response.json()
        return result


class UpstreamDirectory:
    """`sandbox.access.Directory` read from an upstream FHIR server (used when the sandbox fronts one)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout

    def _search(self, resource_type: str) -> list[Person]:
        people: list[Person] = []
        url: str | None = f"{self.base}/{resource_type}?_count=200"
        while url:
            response = requests.get(url, headers={"Accept": FHIR_JSON}, timeout=self.timeout)
            response.raise_for_status()
            bundle = response.json()
            for entry in bundle.get("entry", []):
                resource = entry.get("resource", {})
                person = person_of(resource) if resource.get("resourceType") == resource_type else None
                if person is not None:
                    people.append(person)
            url = next((link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"), None)
        return sorted(people, key=lambda p: p.display.casefold())

    def patients(self) -> list[Person]:
        """Every patient upstream, sorted by name."""
        return self._search("Patient")

    def practitioners(self) -> list[Person]:
        """Every practitioner upstream, sorted by name."""
        return self._search("Practitioner")

    def related_people(self) -> list[Person]:
        """Every active related person upstream with their patient, sorted by name."""
        return self._search("RelatedPerson")

    def get(self, resource_type: str, id: str) -> Person | None:
        """One patient, practitioner or (active) related person upstream, or None."""
        if resource_type not in ("Patient", "Practitioner", "RelatedPerson") or not id:
            return None
        response = requests.get(
            f"{self.base}/{resource_type}/{id}", headers={"Accept": FHIR_JSON}, timeout=self.timeout
        )
        if response.status_code != 200:
            return None
        return person_of({**response.json(), "resourceType": resource_type, "id": id})


def _client_registration(settings: SandboxSettings) -> dict[str, Any]:
    client: dict[str, Any] = {
        "client_id": settings.client_id,
        "auth_method": settings.client_auth,
        "redirect_uris": [f"{settings.app_base}/callback"],
    }
    if settings.client_auth == "private_key_jwt":
        # Read on first use, as a real EPD does: the app publishes its keys at a fixed URL.
        client["jwks_uri"] = f"{settings.app_base}/.well-known/jwks.json"
    elif settings.client_auth == "client_secret_basic":
        client["secret"] = settings.client_secret
    return client


def create_sandbox(settings: SandboxSettings) -> Sandbox:
    """Compose the sandbox EPD: auth server + FHIR endpoint + EPD pages + SMART discovery, in one Flask app."""
    store: FhirStore | None = None
    directory: Directory
    if settings.upstream_url is None:
        store = FhirStore(settings.database)
        directory = StoreDirectory(store)
    else:
        directory = UpstreamDirectory(settings.upstream_url)

    auth_settings: dict[str, Any] = {
        "issuer": settings.issuer,
        "fhir_base_url": settings.fhir_base_url,
        "clients": [_client_registration(settings)],
        "auto_login": settings.auto_login,
        "koppeltaal": settings.koppeltaal,
    }
    if settings.signing_key_pem:
        auth_settings["signing_key_pem"] = settings.signing_key_pem
    auth = SandboxAuthServer(AuthServerConfig.from_dict(auth_settings), directory)

    app = Flask("sandbox")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # Cookies do not keep ports apart: on 127.0.0.1 the app's cookie would otherwise overwrite ours.
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base.startswith("https://"),
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]

    app.register_blueprint(create_auth_blueprint(auth))
    app.register_blueprint(
        create_fhir_blueprint(
            store=store,
            upstream_url=settings.upstream_url,
            verifier=auth.verify_token,
            base_path="/fhir",
            public_base_url=settings.fhir_base_url,
            smart=SmartUrls(authorize=auth.authorize_endpoint, token=auth.token_endpoint),
            smart_configuration=auth.smart_configuration,
        )
    )
    epd_config = EpdConfig(
        app_launch_url=f"{settings.app_base}/launch",
        fhir_base_url=settings.fhir_base_url,
        app_name=settings.app_name,
        app_standalone_url=f"{settings.app_base}/",
        koppeltaal_device=f"Device/{settings.client_id}" if settings.koppeltaal else None,
    )
    app.register_blueprint(create_epd_blueprint(epd_config, directory, auth, url_prefix="/epd", portal_key=auth.portal))

    @app.get("/")
    def index() -> ResponseReturnValue:
        return redirect(url_for("sandbox_epd.home"))

    return Sandbox(app=app, settings=settings, auth=auth, directory=directory, store=store)
