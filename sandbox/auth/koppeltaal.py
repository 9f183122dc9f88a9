"""Koppeltaal mode of the sandbox: a portal that signs HTI 2.0 tokens, and what the domain's authorization
service does with them (KOP-KT-007).

- The portal (an EPD or patient portal in the domain) signs an HTI token per launch with its own key and
  publishes that key's JWKS: `iss` = the portal's client id, `aud` = the module's Device (`Device/<client_id>`),
  `sub` = the user, `patient`, `resource` (a Task), `definition` (its ActivityDefinition), `intent`, `jti`, and
  `exp` a few minutes ahead.
- The authorization service accepts that token as the `launch` of the OIDC flow (it knows the portal's key, as
  Koppeltaal's domain administration does), logs the user in as its `sub`, and answers the token request with
  `NOOP` as the access token and the HTI context (`sub`, `patient` as `Patient/<id>`, `resource`, `definition`,
  `intent`) beside it; the FHIR endpoint never accepts `NOOP`. Data access is by Backend Services only.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from fhir_mappings.codes import EXT_KT2_INSTANTIATES, PROFILE_KT2_TASK

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NOOP = "NOOP"  # the access token of a Koppeltaal launch: grants nothing
PORTAL_CLIENT_ID = "sandbox-portal"
HTI_ALGORITHM = "RS256"
HTI_LIFETIME = 240  # seconds (Koppeltaal: at most five minutes)
DEFINITION = "ActivityDefinition/resourcegroep"
TASK_IDENTIFIER_SYSTEM = "urn:sandbox:koppeltaal:task"  # the portal's own identifiers of the Tasks it assigns


def task_id(patient_id: str) -> str:
    """The logical id of the Task with which the portal assigned the app to `patient_id`."""
    return f"resourcegroep-{patient_id}"


def launch_task(patient_id: str, *, status: str = "ready") -> dict[str, Any]:
    """The Task (shaped after KT2Task) that assigns the app to a patient: the HTI token's `resource`. KT2Task
    wants an identifier, `for` the patient, an `owner`, priority routine, and the ActivityDefinition it
    instantiates (an extension); it forbids basedOn, focus, note, restriction, input and output."""
    patient = {"reference": f"Patient/{patient_id}", "type": "Patient"}
    return {
        "resourceType": "Task",
        "id": task_id(patient_id),
        "meta": {"profile": [PROFILE_KT2_TASK]},
        "extension": [
            {"url": EXT_KT2_INSTANTIATES, "valueReference": {"reference": DEFINITION, "type": "ActivityDefinition"}}
        ],
        "identifier": [{"system": TASK_IDENTIFIER_SYSTEM, "value": task_id(patient_id)}],
        "status": status,
        "intent": "order",
        "priority": "routine",
        "for": patient,
        "owner": dict(patient),
    }


def launch_tasks_bundle(patient_ids: list[str]) -> dict[str, Any]:
    """A transaction Bundle that puts one launch Task per patient under its fixed id."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": launch_task(pid), "request": {"method": "PUT", "url": f"Task/{task_id(pid)}"}}
            for pid in patient_ids
        ],
    }


class PortalKey:
    """The sandbox portal's HTI signing key, its JWKS, and the domain's check of its tokens."""

    def __init__(self, *, client_id: str = PORTAL_CLIENT_ID, clock: Callable[[], float] = time.time) -> None:
        self.client_id = client_id
        self._clock = clock
        self._key = RSAKey.generate_key(2048, {"use": "sig", "alg": HTI_ALGORITHM}, private=True, auto_kid=True)

    def jwks(self) -> dict[str, Any]:
        """The portal's public JWKS document."""
        return {"keys": [self._key.as_dict(private=False)]}

    def sign(
        self,
        *,
        audience: str,
        subject: str,
        patient: str | None,
        task: str,
        definition: str = DEFINITION,
        intent: str | None = "plan",
        lifetime: int = HTI_LIFETIME,
    ) -> str:
        """A fresh HTI token for one launch."""
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.client_id,
            "aud": audience,
            "sub": subject,
            "resource": task,
            "definition": definition,
            "iat": now,
            "exp": now + lifetime,
            "jti": secrets.token_urlsafe(16),
        }
        if patient:
            claims["patient"] = patient
        if intent:
            claims["intent"] = intent
        header = {"alg": HTI_ALGORITHM, "kid": str(self._key.kid), "typ": "JWT"}
        return jwt.encode(header, claims, self._key, algorithms=[HTI_ALGORITHM])

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired HTI token of this portal, or None."""
        if token.count(".") != 2:
            return None
        try:
            decoded = jwt.decode(token, self._key, algorithms=[HTI_ALGORITHM])
        except (JoseError, ValueError):
            return None
        claims: dict[str, Any] = dict(decoded.claims)
        exp = claims.get("exp")
        if claims.get("iss") != self.client_id or not isinstance(exp, int) or exp <= self._clock():
            return None
        if not isinstance(claims.get("sub"), str):
            return None
        return claims
