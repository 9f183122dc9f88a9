"""Server-side state of the sandbox authorization server: launches, codes, tokens (in memory, thread-safe)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.access import AccessGrant, Person
from sandbox.auth.scopes import split_scope

Clock = Callable[[], float]

# How long a used authorization code is remembered, so its replay can revoke what it issued.
_USED_CODE_MEMORY = 600.0


@dataclass(frozen=True)
class LaunchContext:
    """What an EHR launch value stands for: who launches, for which patient, in which encounter."""

    patient: str | None  # logical id, e.g. "p1"
    user: str | None  # reference of the logged-in user, e.g. "Practitioner/pr1"
    encounter: str | None = None
    intent: str | None = None
    need_patient_banner: bool = False
    fhir_context: tuple[str, ...] = ()  # extra references for the token's fhirContext
    # The browser session that made the launch (the EPD page's); authorizing it from another browser is refused,
    # as a real EPD binds a launch to the session that created it. None: made through the API (tests).
    browser: str | None = None
    # Koppeltaal: the HTI token's context (sub, patient, resource, definition, intent) for the token response.
    koppeltaal: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Subject:
    """The authorizing user plus the context of this one authorization (Authlib's "user")."""

    person: Person
    patient: str | None = None
    encounter: str | None = None
    intent: str | None = None
    need_patient_banner: bool = True
    fhir_context: tuple[str, ...] = ()
    koppeltaal: tuple[tuple[str, str], ...] = ()  # a Koppeltaal launch: answered with NOOP and this context

    @property
    def reference(self) -> str:
        """The user as a relative FHIR reference, e.g. "Practitioner/pr1"."""
        return f"{self.person.resource_type}/{self.person.id}"


@dataclass
class AuthorizationCode:
    """An issued authorization code (implements Authlib's OIDC AuthorizationCodeMixin)."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    subject: Subject
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    auth_time: int
    expires_at: float
    used: bool = False

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return None


@dataclass
class TokenRecord:
    """An issued access token and, optionally, its refresh token (Authlib's TokenMixin)."""

    access_token: str
    client_id: str
    scope: str
    subject: Subject | None
    issued_at: float
    expires_at: float
    refresh_token: str | None = None
    refresh_expires_at: float = 0.0
    code: str | None = None  # the authorization code it came from, to revoke on code replay
    revoked: bool = False
    refresh_revoked: bool = False
    grant_type: str = ""

    def check_client(self, client: object) -> bool:
        return getattr(client, "client_id", None) == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - self.issued_at)

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> Subject | None:
        return self.subject


class LaunchStore:
    """Opaque, short-lived EHR launch values created by the EPD pages."""

    def __init__(self, lifetime: int = 300, clock: Clock = time.time) -> None:
        self._lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._launches: dict[str, tuple[LaunchContext, float]] = {}

    def create(self, context: LaunchContext) -> str:
        """Store `context` and return the launch value to put in the app's launch URL."""
        value = secrets.token_urlsafe(24)
        now = self._clock()
        with self._lock:
            self._launches = {k: v for k, v in self._launches.items() if v[1] > now}
            self._launches[value] = (context, now + self._lifetime)
        return value

    def resolve(self, value: str) -> LaunchContext | None:
        """The context of a live launch value, or None when unknown or expired."""
        with self._lock:
            found = self._launches.get(value)
        if found is None or found[1] <= self._clock():
            return None
        return found[0]


class AuthStore:
    """Authorization codes, tokens, used assertion ids and nonces, behind one lock."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, AuthorizationCode] = {}
        self._access: dict[str, TokenRecord] = {}
        self._refresh: dict[str, TokenRecord] = {}
        self._jti: dict[str, float] = {}

    # --- authorization codes -------------------------------------------------------------
    def save_code(self, code: AuthorizationCode) -> None:
        """Remember a freshly issued code."""
        now = self.clock()
        with self._lock:
            self._codes = {k: c for k, c in self._codes.items() if c.expires_at + _USED_CODE_MEMORY > now}
            self._codes[code.code] = code

    def claim_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """Take a code for one token request; a second claim fails and revokes what the first issued.

        Claiming marks the code used before the rest of the request is checked, so two racing
        requests can never both succeed and a failed attempt burns the code.
        """
        with self._lock:
            found = self._codes.get(code)
            if found is None or found.client_id != client_id:
                return None
            if found.used:
                for record in self._access.values():
                    if record.code == code:
                        record.revoked = True
                        record.refresh_revoked = True
                return None
            found.used = True
        if found.expires_at <= self.clock():
            return None
        return found

    def nonce_used(self, client_id: str, nonce: str) -> bool:
        """Whether a remembered code of this client already carried `nonce`."""
        with self._lock:
            return any(c.client_id == client_id and c.nonce == nonce for c in self._codes.values())

    # --- tokens --------------------------------------------------------------------------
    def save_token(self, record: TokenRecord) -> None:
        """Store an issued token; drops long-dead tokens on the way."""
        now = self.clock()
        with self._lock:
            self._access = {k: r for k, r in self._access.items() if max(r.expires_at, r.refresh_expires_at) > now}
            self._refresh = {k: r for k, r in self._refresh.items() if r.access_token in self._access}
            self._access[record.access_token] = record
            if record.refresh_token:
                self._refresh[record.refresh_token] = record

    def find_refresh(self, refresh_token: str) -> TokenRecord | None:
        """The token record of a live, unrevoked refresh token."""
        with self._lock:
            record = self._refresh.get(refresh_token)
            if record is None or record.refresh_revoked:
                return None
        if record.refresh_expires_at <= self.clock():
            return None
        return record

    def revoke_refresh(self, record: TokenRecord) -> None:
        """Stop a refresh token from working again (rotation)."""
        with self._lock:
            record.refresh_revoked = True

    def find_access(self, access_token: str) -> TokenRecord | None:
        """The record of a live, unrevoked access token."""
        with self._lock:
            record = self._access.get(access_token)
            if record is None or record.revoked:
                return None
        if record.expires_at <= self.clock():
            return None
        return record

    def verify(self, access_token: str) -> AccessGrant | None:
        """TokenVerifier: what a bearer token may do, or None when it is unknown, expired or revoked."""
        record = self.find_access(access_token)
        if record is None:
            return None
        subject = record.subject
        extra: dict[str, str] = {"grant_type": record.grant_type}
        if subject is not None and subject.encounter:
            extra["encounter"] = subject.encounter
        return AccessGrant(
            client_id=record.client_id,
            scopes=frozenset(split_scope(record.scope)),
            patient=subject.patient if subject else None,
            fhir_user=subject.reference if subject else None,
            expires_at=record.expires_at,
            extra=extra,
        )

    # --- client assertions ---------------------------------------------------------------
    def remember_jti(self, key: str, expires_at: float) -> bool:
        """Record an assertion id; False when it was seen before (replay)."""
        now = self.clock()
        with self._lock:
            self._jti = {k: exp for k, exp in self._jti.items() if exp > now}
            if key in self._jti:
                return False
            self._jti[key] = max(expires_at, now + 60)
            return True
