"""SMART Backend Services: client_credentials with a signed JWT assertion and `system/` scopes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests

from smart_launch.discovery import DEFAULT_TIMEOUT, Discovery
from smart_launch.errors import ConfigurationError
from smart_launch.keys import SigningKey
from smart_launch.registration import BackendRegistration
from smart_launch.tokens import ClientCredentials, request_token


@dataclass(frozen=True)
class BackendToken:
    """An access token for server-to-server work."""

    access_token: str
    expires_at: float | None
    scopes: tuple[str, ...]


class BackendServicesClient:
    """Gets (and reuses until shortly before expiry) a Backend Services access token."""

    def __init__(
        self,
        registration: BackendRegistration,
        *,
        http: requests.Session | None = None,
        discovery: Discovery | None = None,
        signing_key: SigningKey | None = None,
        clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        refresh_margin: float = 60.0,
    ) -> None:
        self.registration = registration
        self._http = http or requests.Session()
        self._clock = clock
        self._timeout = timeout
        self._margin = refresh_margin
        self.discovery = discovery or Discovery(self._http, timeout=timeout, clock=clock)
        self.signing_key = signing_key or SigningKey.from_file(registration.private_key_file, registration.alg)
        self._cached: dict[tuple[str, ...], BackendToken] = {}
        self._lock = threading.Lock()

    def token(self, scopes: Sequence[str] | None = None) -> BackendToken:
        """A valid access token for `scopes` (default: the configured ones); raises TokenEndpointError."""
        wanted = tuple(scopes) if scopes is not None else self.registration.scopes
        if not wanted:
            raise ConfigurationError("Backend Services needs at least one system/ scope")
        bad = [s for s in wanted if not s.startswith("system/")]
        if bad:
            raise ConfigurationError(f"Backend Services asks only system/ scopes, not {bad}")
        with self._lock:
            cached = self._cached.get(wanted)
            now = self._clock()
            if cached is not None and (cached.expires_at is None or cached.expires_at - now > self._margin):
                return cached
            config = self.discovery.get(self.registration.iss)
            response = request_token(
                self._http,
                config.token_endpoint,
                {"grant_type": "client_credentials", "scope": " ".join(wanted)},
                ClientCredentials(
                    client_id=self.registration.client_id,
                    method="private_key_jwt",
                    signing_key=self.signing_key,
                ),
                timeout=self._timeout,
                clock=self._clock,
            )
            now = self._clock()
            token = BackendToken(
                access_token=response.access_token,
                expires_at=None if response.expires_in is None else now + response.expires_in,
                scopes=tuple(response.scope.split()) if response.scope is not None else wanted,
            )
            self._cached[wanted] = token
            return token

    def invalidate(self) -> None:
        """Drop cached tokens (e.g. after the FHIR server answered 401)."""
        with self._lock:
            self._cached.clear()
