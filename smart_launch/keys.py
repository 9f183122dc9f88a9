"""The app's signing keys (for private_key_jwt and Backend Services) and their public JWKS."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from smart_launch.errors import ConfigurationError
from smart_launch.registration import SigningAlg

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 240  # seconds; SMART allows at most 5 minutes


@dataclass(frozen=True)
class SigningKey:
    """One private key with the algorithm it signs with and its key id (RFC 7638 thumbprint)."""

    alg: SigningAlg
    key: RSAKey | ECKey
    kid: str

    @classmethod
    def from_pem(cls, pem: bytes, alg: SigningAlg) -> SigningKey:
        """Load a PEM private key and check that it fits `alg` (RSA >= 2048 bits or EC P-384)."""
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError("private key is not an unencrypted PEM private key") from exc
        key: RSAKey | ECKey
        if alg == "RS384":
            if not isinstance(private, rsa.RSAPrivateKey) or private.key_size < 2048:
                raise ConfigurationError("RS384 needs an RSA private key of at least 2048 bits")
            key = RSAKey.import_key(private)
        elif alg == "ES384":
            if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp384r1":
                raise ConfigurationError("ES384 needs an EC private key on curve P-384")
            key = ECKey.import_key(private)
        else:
            raise ConfigurationError(f"unsupported signing alg {alg!r}")
        return cls(alg=alg, key=key, kid=key.thumbprint())

    @classmethod
    def from_file(cls, path: str | Path, alg: SigningAlg) -> SigningKey:
        """Load the key from a PEM file named in configuration."""
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read private key file {path}: {exc.strerror}") from exc
        return cls.from_pem(pem, alg)

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK with kid, alg and use."""
        jwk: dict[str, Any] = dict(self.key.as_dict(private=False))
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig", "key_ops": ["verify"]})
        return jwk

    def sign(self, claims: dict[str, Any]) -> str:
        """Sign `claims` as a compact JWT with this key."""
        header = {"alg": self.alg, "kid": self.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self.key, algorithms=[self.alg])


def client_assertion(
    key: SigningKey,
    *,
    client_id: str,
    token_endpoint: str,
    clock: Callable[[], float] = time.time,
    lifetime: int = ASSERTION_LIFETIME,
) -> str:
    """A private_key_jwt client assertion: iss = sub = client_id, aud = token endpoint, unique jti."""
    if not 0 < lifetime <= 300:
        raise ConfigurationError("a client assertion may live at most 5 minutes")
    now = int(clock())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(24),
    }
    return key.sign(claims)


def public_jwks(keys: Iterable[SigningKey]) -> dict[str, Any]:
    """A JWKS document with the public half of every key (each kid once)."""
    seen: dict[str, dict[str, Any]] = {}
    for key in keys:
        seen.setdefault(key.kid, key.public_jwk())
    return {"keys": list(seen.values())}
