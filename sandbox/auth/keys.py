"""The sandbox authorization server's own signing key (RS256 for id_tokens) and its public JWKS."""

from __future__ import annotations

from typing import Any

from joserfc.jwk import RSAKey

ID_TOKEN_ALGORITHM = "RS256"


class ServerKey:
    """One RSA key pair: signs id_tokens, published at the JWKS endpoint."""

    def __init__(self, pem: str | None = None) -> None:
        if pem:
            self.private_key = RSAKey.import_key(pem, {"use": "sig", "alg": ID_TOKEN_ALGORITHM})
            self.private_key.ensure_kid()
        else:
            self.private_key = RSAKey.generate_key(
                2048, {"use": "sig", "alg": ID_TOKEN_ALGORITHM}, private=True, auto_kid=True
            )

    @property
    def kid(self) -> str:
        """The key id put in the JWS header."""
        return str(self.private_key.kid)

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document."""
        public = self.private_key.as_dict(private=False)
        public.setdefault("use", "sig")
        public.setdefault("alg", ID_TOKEN_ALGORITHM)
        return {"keys": [public]}
