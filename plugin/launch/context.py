"""The launch context of a request: `@launch_required` loads it for the `<context_id>` URL segment.

Later blueprints use it like this::

    @bp.get("/c/<context_id>/groep")
    @launch_required
    def group(context_id: str) -> str:
        token = g.launch.access_token()   # refreshed when near expiry
        ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import current_app, g, session

from fhir_mappings.refs import literal
from plugin.launch.messages import read_only_reason_text
from plugin.session_store import ServerSideSession
from smart_launch import (
    BackendServicesClient,
    HtiVerifier,
    KoppeltaalDomain,
    LaunchContext,
    ServerJwks,
    SmartClient,
    UnknownIssuerError,
    app_permissions,
    normalize_iss,
)
from smart_launch.hti import HtiIntrospection
from smart_launch.scopes import ScopeGrant

P = ParamSpec("P")
R = TypeVar("R")


def smart_client() -> SmartClient:
    """The app's SMART client."""
    client: SmartClient = current_app.extensions["smart_client"]
    return client


def koppeltaal_domains() -> tuple[KoppeltaalDomain, ...]:
    """The configured Koppeltaal domains."""
    domains: tuple[KoppeltaalDomain, ...] = current_app.config["RESOURCEGROEP"].koppeltaal
    return domains


def koppeltaal_domain(iss: str | None) -> KoppeltaalDomain | None:
    """The Koppeltaal domain whose FHIR base is `iss`, or None (raises UnknownIssuerError when malformed)."""
    normalized = normalize_iss(iss)
    if normalized is None:
        raise UnknownIssuerError(iss, malformed=True)
    return next((d for d in koppeltaal_domains() if d.iss == normalized), None)


def _koppeltaal_domain_named(name: str) -> KoppeltaalDomain:
    domain = next((d for d in koppeltaal_domains() if d.name == name), None)
    if domain is None:
        raise UnknownIssuerError(None, malformed=False)
    return domain


def hti_verifier(domain: KoppeltaalDomain) -> HtiVerifier:
    """The HTI token verifier of `domain` (one per app: it caches the launching applications' keys); used jtis
    are remembered in the session store, so every app instance sharing it refuses a replay."""
    verifiers: dict[str, HtiVerifier] = current_app.extensions.setdefault("hti_verifiers", {})
    verifier = verifiers.get(domain.name)
    if verifier is None:
        introspection = None
        if domain.hti_check == "introspection":
            # The app authenticates at the introspection endpoint with the domain's key (TOP-KT-021).
            introspection = HtiIntrospection(
                domain, koppeltaal_backend(domain.name).signing_key, discovery=smart_client().discovery
            )
        verifier = verifiers.setdefault(
            domain.name,
            HtiVerifier(domain, smart_client().store, jwks=ServerJwks(ttl=300.0), introspection=introspection),
        )
    return verifier


def koppeltaal_backend(name: str) -> BackendServicesClient:
    """The Backend Services client of Koppeltaal domain `name`: all FHIR access of its launches goes through it."""
    clients: dict[str, BackendServicesClient] = current_app.extensions.setdefault("koppeltaal_backends", {})
    client = clients.get(name)
    if client is None:
        domain = _koppeltaal_domain_named(name)
        client = clients.setdefault(
            name, BackendServicesClient(domain.backend_registration(), discovery=smart_client().discovery)
        )
    return client


def browser_session_id() -> str:
    """The opaque id of this browser's server-side session (created and persisted on first use)."""
    if "since" not in session:
        session["since"] = 1  # any value: makes the session non-empty, so it is stored and its cookie set
    if not isinstance(session, ServerSideSession):
        raise RuntimeError("the app must use plugin.session_store's server-side sessions")
    return session.sid


def renew_browser_session() -> str:
    """Give this browser's session a new id and move its launches with it; returns the new id."""
    if not isinstance(session, ServerSideSession):
        raise RuntimeError("the app must use plugin.session_store's server-side sessions")
    old = session.regenerate()
    smart_client().store.move_session(old, session.sid)
    return session.sid


@dataclass(frozen=True)
class ActiveLaunch:
    """What a view needs from the launch; available as `g.launch` inside `@launch_required` views."""

    context_id: str
    ehr_name: str
    iss: str
    fhir_base_url: str
    patient_id: str | None
    encounter_id: str | None
    fhir_user: str | None
    fhir_user_reference: str | None
    granted_scopes: tuple[str, ...]
    can_read: bool
    can_write: bool
    read_only_reason: str | None  # translated, for display
    need_patient_banner: bool
    smart_style_url: str | None
    intent: str | None
    fhir_context: tuple[dict[str, Any], ...]
    launch_kind: str
    _session_id: str
    resource: str | None = None  # Koppeltaal: the Task launched
    definition: str | None = None  # Koppeltaal: its ActivityDefinition

    @classmethod
    def from_context(cls, context: LaunchContext) -> ActiveLaunch:
        """Build from a stored LaunchContext."""
        perms = context.permissions
        granted = context.granted_scopes
        if context.uses_backend_services:
            # Koppeltaal: the launch's own token (NOOP) gives no data access; the domain's Backend Services
            # scopes do, and the app keeps to the launch's patient as if they were patient/ (or user/) scopes.
            compartment = "patient" if context.patient else "user"
            backend = _koppeltaal_domain_named(context.ehr_name).backend_scopes
            granted = (
                *context.granted_scopes,
                *(f"{compartment}/{s.removeprefix('system/')}" for s in backend),
            )
            perms = app_permissions(ScopeGrant.parse(granted), context=compartment)
        return cls(
            context_id=context.context_id,
            ehr_name=context.ehr_name,
            iss=context.iss,
            fhir_base_url=context.fhir_base_url,
            patient_id=context.patient,
            encounter_id=context.encounter,
            fhir_user=context.fhir_user,
            fhir_user_reference=context.fhir_user_reference,
            granted_scopes=granted,
            can_read=perms.can_read,
            can_write=perms.can_write,
            read_only_reason=read_only_reason_text(perms.read_only_reason, perms.missing_write),
            need_patient_banner=context.need_patient_banner,
            smart_style_url=context.smart_style_url,
            intent=context.intent,
            fhir_context=context.fhir_context,
            launch_kind=context.launch_kind,
            _session_id=context.session_id,
            resource=context.resource,
            definition=context.definition,
        )

    @property
    def user_practitioner(self) -> str | None:
        """For a user launching as a PractitionerRole: the Practitioner the launch names in its fhirContext (the
        role's practitioner), else None. The app does not read the role to find out."""
        if not (self.fhir_user_reference or "").startswith("PractitionerRole/"):
            return None
        for item in self.fhir_context:
            ref = item.get("reference")
            if isinstance(ref, str) and literal(ref).startswith("Practitioner/"):
                return literal(ref)
        return None

    def access_token(self) -> str:
        """A current access token for FHIR (refreshed first when it is about to expire). In a Koppeltaal launch
        it is a Backend Services token of the domain: the launch's own access token (NOOP) is never used."""
        context = smart_client().get_launch(self.context_id, self._session_id)
        if context.uses_backend_services:
            return koppeltaal_backend(context.ehr_name).token().access_token
        return context.access_token

    def renew_access_token(self) -> str:
        """A new access token after the FHIR server answered 401: in a Koppeltaal launch a new Backend Services
        token (the cached one is dropped), otherwise a refresh of the launch's token (RefreshError when it
        cannot be refreshed)."""
        client = smart_client()
        context = client.get_launch(self.context_id, self._session_id, refresh=False)
        if context.uses_backend_services:
            backend = koppeltaal_backend(context.ehr_name)
            backend.invalidate()
            return backend.token().access_token
        return client.refresh(context).access_token


def launch_required(view: Callable[P, R]) -> Callable[P, R]:
    """Load the launch for the `context_id` URL segment into `g.launch`.

    Another browser session's (or an unknown) context gives the 403 page; an ended launch or a
    failed refresh gives the "start again from the EHR" page (both via the app's error handlers).
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        context_id = str(kwargs.get("context_id", ""))
        context = smart_client().get_launch(context_id, browser_session_id())
        g.launch = ActiveLaunch.from_context(context)
        return view(*args, **kwargs)

    return wrapper
