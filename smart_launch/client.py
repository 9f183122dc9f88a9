"""The SMART App Launch 2.2 client: EHR and standalone launch, callback, refresh.

Flow: `begin_*_launch` stores a PendingAuthorization (bound to the browser session) and returns
the authorize URL; `complete_authorization` handles the redirect, exchanges the code, validates the
id_token and stores a LaunchContext; `get_launch` loads it for its session and refreshes it in time.
"""

from __future__ import annotations

import secrets
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from smart_launch.discovery import DEFAULT_TIMEOUT, Discovery, SmartConfiguration
from smart_launch.errors import (
    AuthorizationDeniedError,
    ConfigurationError,
    IdTokenError,
    LaunchExpiredError,
    LaunchNotFoundError,
    RefreshError,
    SmartLaunchError,
    StateError,
)
from smart_launch.hti import HTI_SCOPES, HtiLaunch, HtiTokenError
from smart_launch.id_token import ServerJwks, validate_id_token
from smart_launch.keys import SigningKey
from smart_launch.models import AuthorizationRequest, LaunchContext, LaunchKind, PendingAuthorization
from smart_launch.pkce import code_verifier, random_nonce, random_state, s256_challenge
from smart_launch.registration import EhrRegistration, EhrRegistry
from smart_launch.scopes import ScopeGrant, build_scopes, default_resource_scopes
from smart_launch.store import SessionStore
from smart_launch.tokens import ClientCredentials, TokenResponse, patient_id, request_token

PENDING_TTL = 600.0  # seconds a user has to log in / approve at the EHR
LAUNCH_TTL = 12 * 3600.0  # hard end of a launch (one working day)
REFRESH_MARGIN = 60.0  # refresh when the access token has less than this left
_LOCK_STRIPES = 64


def _check_koppeltaal_context(token: TokenResponse, expected: Mapping[str, str]) -> None:
    """The token response's launch context must be the verified HTI token's (where both say something)."""
    given = {"sub": token.sub, "resource": token.resource, "patient": token.patient}
    for name, want in expected.items():
        have = given.get(name)
        if name == "patient":
            want = patient_id(want) or want
        if have is not None and have != want:
            raise HtiTokenError("context_mismatch", f"the token response's {name} differs from the HTI token")


def _relative_user(fhir_user: str | None, fhir_base: str) -> str | None:
    """`Type/id` of an id_token's fhirUser, which may be absolute (`{fhir base}/Practitioner/1`) or relative."""
    if not fhir_user:
        return None
    if fhir_user.startswith(fhir_base.rstrip("/") + "/"):
        fhir_user = fhir_user[len(fhir_base.rstrip("/")) + 1 :]
    elif "://" in fhir_user:
        fhir_user = "/".join(fhir_user.rstrip("/").split("/")[-2:])
    return fhir_user


def _check_koppeltaal_user(fhir_user: str | None, fhir_base: str, expected: Mapping[str, str]) -> None:
    """The person who logged in (the id_token's fhirUser) must be the HTI token's `sub`: the launch's user is
    taken from the authentication, never from the HTI token alone."""
    want = expected.get("sub")
    if want is None or _relative_user(fhir_user, fhir_base) != want:
        raise HtiTokenError("user_mismatch", "the id_token's fhirUser is not the HTI token's sub")


def _add_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


class SmartClient:
    """SMART App Launch client for all registered EHRs. Thread-safe; one per app."""

    def __init__(
        self,
        registry: EhrRegistry,
        store: SessionStore,
        *,
        redirect_uri: str,
        http: requests.Session | None = None,
        discovery: Discovery | None = None,
        server_jwks: ServerJwks | None = None,
        signing_keys: Mapping[str, SigningKey] | None = None,
        clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        pending_ttl: float = PENDING_TTL,
        launch_ttl: float = LAUNCH_TTL,
        refresh_margin: float = REFRESH_MARGIN,
    ) -> None:
        self.registry = registry
        self.store = store
        self.redirect_uri = redirect_uri
        self._http = http or requests.Session()
        self._clock = clock
        self._timeout = timeout
        self.discovery = discovery or Discovery(self._http, timeout=timeout, clock=clock)
        self._jwks = server_jwks or ServerJwks(self._http, timeout=timeout, clock=clock)
        self._pending_ttl = pending_ttl
        self._launch_ttl = launch_ttl
        self._refresh_margin = refresh_margin
        self._keys: dict[str, SigningKey] = dict(signing_keys or {})
        for reg in registry:
            if reg.client_auth == "private_key_jwt" and reg.name not in self._keys:
                if reg.private_key_file is None:
                    raise ConfigurationError(f"EHR {reg.name!r} needs private_key_file")
                self._keys[reg.name] = SigningKey.from_file(reg.private_key_file, reg.alg)
        # Striped locks: refreshes of one launch never overlap (a rotated refresh token works once).
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    # -- keys ---------------------------------------------------------------------------------

    def signing_keys(self) -> list[SigningKey]:
        """The private keys in use (their public halves go into the app's JWKS)."""
        return list(self._keys.values())

    def credentials(self, reg: EhrRegistration) -> ClientCredentials:
        """How this client authenticates at `reg`'s token endpoint."""
        return ClientCredentials(
            client_id=reg.client_id,
            method=reg.client_auth,
            client_secret=reg.client_secret,
            signing_key=self._keys.get(reg.name),
        )

    # -- starting a launch --------------------------------------------------------------------

    def begin_ehr_launch(self, iss: str | None, launch: str | None, session_id: str) -> AuthorizationRequest:
        """Start an EHR launch. Checks `iss` against the allow-list before any request.

        Without a `launch` parameter this becomes a standalone launch at that EHR.
        """
        reg = self.registry.by_iss(iss)
        if not launch:
            return self._begin(reg, session_id, kind="standalone", launch=None)
        return self._begin(reg, session_id, kind="ehr", launch=launch)

    def begin_hti_launch(
        self, reg: EhrRegistration, hti_token: str, hti: HtiLaunch, session_id: str
    ) -> AuthorizationRequest:
        """Start the OIDC flow of a Koppeltaal launch whose HTI token `hti_token` was verified (`hti`): scope
        exactly `launch openid fhirUser`, the token as `launch`, PKCE S256 (KOP-KT-007)."""
        expected = {
            "sub": hti.subject,
            **{k: v for k, v in (("resource", hti.resource), ("patient", hti.patient)) if v is not None},
        }
        return self._begin(reg, session_id, kind="koppeltaal", launch=hti_token, expected=expected)

    def begin_standalone_launch(self, ehr_name: str, session_id: str) -> AuthorizationRequest:
        """Start a standalone (patient portal) launch at the EHR registered as `ehr_name`."""
        return self._begin(self.registry.by_name(ehr_name), session_id, kind="standalone", launch=None)

    def scopes_for(self, reg: EhrRegistration, config: SmartConfiguration, *, standalone: bool) -> list[str]:
        """The scopes to request from `reg` (v1 syntax when the server lacks `permission-v2`)."""
        resource = (
            list(reg.scopes)
            if reg.scopes is not None
            else default_resource_scopes(caseload=reg.caseload_user_scopes and not standalone)
        )
        return build_scopes(resource, standalone=standalone, v2=config.supports_v2_scopes)

    def _begin(
        self,
        reg: EhrRegistration,
        session_id: str,
        *,
        kind: LaunchKind,
        launch: str | None,
        expected: dict[str, str] | None = None,
    ) -> AuthorizationRequest:
        if not session_id:
            raise ConfigurationError("a launch needs a browser session id")
        config = self.discovery.get(reg.iss)
        if kind == "koppeltaal":
            scopes = list(HTI_SCOPES)
        else:
            scopes = self.scopes_for(reg, config, standalone=kind == "standalone")
        verifier = code_verifier()
        now = self._clock()
        pending = PendingAuthorization(
            state=random_state(),
            session_id=session_id,
            ehr_name=reg.name,
            iss=reg.iss,
            code_verifier=verifier,
            nonce=random_nonce(),
            redirect_uri=self.redirect_uri,
            requested_scopes=tuple(scopes),
            launch_kind=kind,
            created_at=now,
            expires_at=now + self._pending_ttl,
            expected_context=expected,
        )
        params = {
            "response_type": "code",
            "client_id": reg.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(scopes),
            "state": pending.state,
            "aud": reg.iss,
            "code_challenge": s256_challenge(verifier),
            "code_challenge_method": "S256",
            "nonce": pending.nonce,
        }
        if launch is not None:
            params["launch"] = launch
        self.store.save_pending(pending)
        return AuthorizationRequest(url=_add_query(config.authorization_endpoint, params), state=pending.state)

    # -- the callback -------------------------------------------------------------------------

    def complete_authorization(self, params: Mapping[str, str], session_id: str) -> LaunchContext:
        """Handle the redirect to the redirect URI and return the stored LaunchContext.

        Raises StateError, LaunchExpiredError, AuthorizationDeniedError, TokenEndpointError, IdTokenError.
        """
        state = params.get("state")
        if not state:
            raise StateError("missing")
        # Single use, and only by the browser session that started it: a stranger's callback with this state
        # takes nothing (the victim's own callback still works); from here on it is gone, whatever happens.
        pending = self.store.take_pending(state, session_id)
        if pending is None:
            raise StateError("session_mismatch" if self.store.has_pending(state) else "unknown")
        now = self._clock()
        if pending.expires_at <= now:
            raise LaunchExpiredError("the authorization took too long")
        if params.get("error"):
            raise AuthorizationDeniedError(params["error"], params.get("error_description"))
        code = params.get("code")
        if not code:
            raise AuthorizationDeniedError("invalid_request", "no authorization code")

        reg = self.registry.by_name(pending.ehr_name)
        config = self.discovery.get(reg.iss)
        token = request_token(
            self._http,
            config.token_endpoint,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": pending.redirect_uri,
                "code_verifier": pending.code_verifier,
            },
            self.credentials(reg),
            timeout=self._timeout,
            clock=self._clock,
        )
        granted = token.scope.split() if token.scope is not None else list(pending.requested_scopes)
        fhir_user: str | None = None
        subject: str | None = None
        if token.id_token is not None:
            claims = validate_id_token(
                token.id_token,
                jwks=self._jwks,
                jwks_uri=config.jwks_uri,
                issuer=config.id_token_issuer,
                client_id=reg.client_id,
                nonce=pending.nonce,
                clock=self._clock,
            )
            raw_user = claims.get("fhirUser") or claims.get("profile")
            fhir_user = raw_user if isinstance(raw_user, str) else None
            subject = str(claims["sub"])
        elif ScopeGrant.parse(granted).has("openid"):
            raise IdTokenError("openid was granted but the token response has no id_token")

        patient = token.patient
        expires_at = None if token.expires_in is None else self._clock() + token.expires_in
        if pending.launch_kind == "koppeltaal":
            _check_koppeltaal_context(token, pending.expected_context or {})
            _check_koppeltaal_user(fhir_user, reg.iss, pending.expected_context or {})
            if patient is None and token.sub is not None and token.sub.startswith("Patient/"):
                patient = patient_id(token.sub)  # the patient launched the module themselves
            fhir_user = fhir_user or token.sub
            expires_at = None  # the access token is NOOP: never used, so never refreshed (Koppeltaal has none)

        now = self._clock()
        context = LaunchContext(
            context_id=secrets.token_urlsafe(16),
            session_id=session_id,
            ehr_name=reg.name,
            iss=reg.iss,
            client_id=reg.client_id,
            launch_kind=pending.launch_kind,
            access_token=token.access_token,
            token_type=token.token_type,
            expires_at=expires_at,
            granted_scopes=tuple(granted),
            created_at=now,
            ends_at=now + self._launch_ttl,
            refresh_token=token.refresh_token,
            patient=patient,
            encounter=token.encounter,
            fhir_context=token.fhir_context,
            need_patient_banner=True if token.need_patient_banner is None else token.need_patient_banner,
            smart_style_url=token.smart_style_url,
            intent=token.intent,
            tenant=token.tenant,
            fhir_user=fhir_user,
            id_token_subject=subject,
            resource=token.resource,
            definition=token.definition,
            launch_subject=token.sub,
        )
        self.store.save_context(context)
        return context

    # -- using a launch -----------------------------------------------------------------------

    def _lock_for(self, context_id: str) -> threading.Lock:
        return self._locks[zlib.crc32(context_id.encode()) % _LOCK_STRIPES]

    def get_launch(self, context_id: str, session_id: str, *, refresh: bool = True) -> LaunchContext:
        """The launch context `context_id` of this browser session, refreshed when near expiry.

        Raises LaunchNotFoundError (unknown, or another session's), LaunchExpiredError, RefreshError.
        """
        context = self.store.get_context(context_id)
        if context is None or not secrets.compare_digest(context.session_id, session_id):
            raise LaunchNotFoundError("no such launch for this session")
        now = self._clock()
        if context.ends_at <= now:
            self.store.delete_context(context_id)
            raise LaunchExpiredError("the launch has ended")
        if refresh and context.expires_within(now, self._refresh_margin):
            return self.ensure_fresh(context)
        return context

    def ensure_fresh(self, context: LaunchContext) -> LaunchContext:
        """Refresh `context` if its access token is (nearly) expired; raises LaunchExpiredError or RefreshError."""
        with self._lock_for(context.context_id):
            # Another request may have refreshed it while we waited for the lock.
            current = self.store.get_context(context.context_id) or context
            now = self._clock()
            if not current.expires_within(now, self._refresh_margin):
                return current
            if current.refresh_token is None:
                if current.expires_at is not None and current.expires_at <= now:
                    raise LaunchExpiredError("access token expired and there is no refresh token")
                return current
            return self._refresh_locked(current)

    def refresh(self, context: LaunchContext) -> LaunchContext:
        """Refresh now, whatever the expiry; the new refresh token (rotation) replaces the old one."""
        with self._lock_for(context.context_id):
            current = self.store.get_context(context.context_id) or context
            if current.refresh_token is None:
                raise RefreshError("this launch has no refresh token")
            return self._refresh_locked(current)

    def _refresh_locked(self, context: LaunchContext) -> LaunchContext:
        if context.refresh_token is None:
            raise RefreshError("this launch has no refresh token")
        reg = self.registry.by_name(context.ehr_name)
        try:
            config = self.discovery.get(reg.iss)
            token: TokenResponse = request_token(
                self._http,
                config.token_endpoint,
                {"grant_type": "refresh_token", "refresh_token": context.refresh_token},
                self.credentials(reg),
                timeout=self._timeout,
                clock=self._clock,
            )
        except SmartLaunchError as exc:
            # A refresh token that failed once is not retried: the user launches again.
            self.store.delete_context(context.context_id)
            raise RefreshError(f"refresh failed: {exc}") from exc
        now = self._clock()
        refreshed = replace(
            context,
            access_token=token.access_token,
            expires_at=None if token.expires_in is None else now + token.expires_in,
            refresh_token=token.refresh_token or context.refresh_token,
            granted_scopes=tuple(token.scope.split()) if token.scope is not None else context.granted_scopes,
            refreshed_at=now,
        )
        self.store.save_context(refreshed)
        return refreshed

    def end_launch(self, context_id: str) -> None:
        """Forget a launch (its tokens go with it)."""
        self.store.delete_context(context_id)
