"""PKCE (RFC 7636) with S256, and the random values of an authorization request."""

from __future__ import annotations

import base64
import hashlib
import secrets


def code_verifier() -> str:
    """A fresh code verifier: 64 random bytes, base64url (86 characters, inside RFC 7636's 43..128)."""
    return secrets.token_urlsafe(64)


def s256_challenge(verifier: str) -> str:
    """The S256 code challenge for `verifier`: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def random_state() -> str:
    """An unguessable state value with 256 random bits."""
    return secrets.token_urlsafe(32)


def random_nonce() -> str:
    """An unguessable OpenID Connect nonce with 256 random bits."""
    return secrets.token_urlsafe(32)
