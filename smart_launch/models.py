"""What the client keeps server-side: pending authorizations and completed launch contexts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from smart_launch.scopes import AppPermissions, ScopeGrant, app_permissions

LaunchKind = Literal["ehr", "standalone", "koppeltaal"]  # koppeltaal: an HTI launch (smart_launch.hti)


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser to start authorizing, and the state that identifies it."""

    url: str
    state: str


@dataclass(frozen=True)
class PendingAuthorization:
    """An authorization request waiting for its callback; looked up (once) by `state`."""

    state: str
    session_id: str
    ehr_name: str
    iss: str
    code_verifier: str
    nonce: str
    redirect_uri: str
    requested_scopes: tuple[str, ...]
    launch_kind: LaunchKind
    created_at: float
    expires_at: float
    # Koppeltaal: the verified HTI token's context (sub, patient, resource, definition, intent); the token
    # response must not contradict it.
    expected_context: dict[str, str] | None = None

    def to_json(self) -> str:
        """Serialize for a store."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> PendingAuthorization:
        """Deserialize from a store."""
        data = json.loads(raw)
        data["requested_scopes"] = tuple(data["requested_scopes"])
        return cls(**data)


@dataclass(frozen=True)
class LaunchContext:
    """One completed launch: tokens and context. Lives only server-side, keyed by `context_id`."""

    context_id: str
    session_id: str  # the browser session that completed the launch; nobody else may use it
    ehr_name: str
    iss: str
    client_id: str
    launch_kind: LaunchKind
    access_token: str
    token_type: str
    expires_at: float | None  # epoch seconds; None when the server did not say
    granted_scopes: tuple[str, ...]
    created_at: float
    ends_at: float  # hard end of the launch, however often it is refreshed
    refresh_token: str | None = None
    patient: str | None = None
    encounter: str | None = None
    fhir_context: tuple[dict[str, Any], ...] = ()
    need_patient_banner: bool = True
    smart_style_url: str | None = None
    intent: str | None = None
    tenant: str | None = None
    fhir_user: str | None = None
    id_token_subject: str | None = None
    refreshed_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Koppeltaal (launch_kind "koppeltaal"): the Task and ActivityDefinition launched, and the launching user
    # (`sub` of the token response). The access token is `NOOP` there: data access is by Backend Services.
    resource: str | None = None
    definition: str | None = None
    launch_subject: str | None = None

    @property
    def uses_backend_services(self) -> bool:
        """True when FHIR data may only be read and written with a Backend Services token (Koppeltaal)."""
        return self.launch_kind == "koppeltaal"

    @property
    def fhir_base_url(self) -> str:
        """The FHIR base URL to send requests to (the iss)."""
        return self.iss

    @property
    def grant(self) -> ScopeGrant:
        """The granted scopes, parsed."""
        return ScopeGrant.parse(self.granted_scopes)

    @property
    def permissions(self) -> AppPermissions:
        """What the app may do in this launch (patient context; user context for a launch without patient)."""
        return app_permissions(self.grant, context="patient" if self.patient else "user")

    @property
    def fhir_user_reference(self) -> str | None:
        """fhirUser as a relative reference (`Practitioner/123`) when it points into this FHIR base."""
        if self.fhir_user is None:
            return None
        prefix = self.iss.rstrip("/") + "/"
        ref = self.fhir_user[len(prefix) :] if self.fhir_user.startswith(prefix) else self.fhir_user
        parts = ref.split("/")
        if len(parts) >= 2 and "://" not in ref:
            return f"{parts[-2]}/{parts[-1]}"
        return ref

    def expires_within(self, now: float, margin: float) -> bool:
        """True when the access token expires within `margin` seconds from `now`."""
        return self.expires_at is not None and self.expires_at - now <= margin

    def to_json(self) -> str:
        """Serialize for a store."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> LaunchContext:
        """Deserialize from a store."""
        data = json.loads(raw)
        data["granted_scopes"] = tuple(data["granted_scopes"])
        data["fhir_context"] = tuple(data["fhir_context"])
        return cls(**data)
