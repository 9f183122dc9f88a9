"""Registered clients as Authlib sees them (ClientMixin), built from `ClientConfig`."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

import requests
from authlib.oauth2.rfc6749 import ClientMixin
from joserfc.jwk import KeySet

from sandbox.auth.config import ClientConfig
from sandbox.auth.scopes import join_scope, narrow_scopes, split_scope

# A client's jwks_uri is fetched again after this many seconds, so key rotation is picked up.
_JWKS_CACHE_SECONDS = 300.0


class SandboxClient(ClientMixin):  # type: ignore[misc]
    """One registered client: redirect URIs, authentication method, keys and scope limits."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.client_id = config.client_id
        self._jwks_lock = threading.Lock()
        self._jwks_cache: tuple[KeySet, float] | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # SMART apps always send redirect_uri; without one the request is refused on a page.
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The granted scope: the request narrowed by the registration and the optional grant_only cap."""
        granted = narrow_scopes(split_scope(scope), self.config.scopes)
        if self.config.grant_only is not None:
            granted = narrow_scopes(granted, self.config.grant_only)
        if not granted:
            return None
        return join_scope(granted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.config.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        expected = self.config.secret
        return expected is not None and secrets.compare_digest(expected.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method == self.config.auth_method
        return True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.config.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.config.grant_types

    def public_keys(self) -> KeySet:
        """The client's public keys for private_key_jwt: registered JWKS, or fetched from jwks_uri."""
        if self.config.jwks is not None:
            return KeySet.import_key_set(dict(self.config.jwks))  # type: ignore[arg-type]
        uri = self.config.jwks_uri
        if uri is None:
            raise LookupError(f"client {self.client_id} has no keys")
        with self._jwks_lock:
            if self._jwks_cache is not None and self._jwks_cache[1] > time.monotonic():
                return self._jwks_cache[0]
        response = requests.get(uri, timeout=5, headers={"Accept": "application/json"})
        response.raise_for_status()
        document: Any = response.json()
        keys = KeySet.import_key_set(document)
        with self._jwks_lock:
            self._jwks_cache = (keys, time.monotonic() + _JWKS_CACHE_SECONDS)
        return keys
