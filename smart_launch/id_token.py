"""id_token validation: signature against the server's JWKS, then iss, aud, exp, nonce."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OctKey, OKPKey, RSAKey

from smart_launch.discovery import DEFAULT_TIMEOUT
from smart_launch.errors import IdTokenError
from smart_launch.ttl_cache import TtlCache

# Asymmetric algorithms only: never "none", never HMAC (a shared secret proves nothing about the issuer).
ID_TOKEN_ALGORITHMS: tuple[str, ...] = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384")
CLOCK_LEEWAY = 60  # seconds of clock skew tolerated on exp/iat/nbf


class ServerJwks:
    """Fetches and caches authorization-server JWKS documents, refetching once on an unknown kid."""

    def __init__(
        self,
        http: requests.Session | None = None,
        *,
        ttl: float = 3600.0,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http or requests.Session()
        self._timeout = timeout
        self._clock = clock
        self._cache: TtlCache[str, KeySet] = TtlCache(ttl)

    def get(self, jwks_uri: str, *, force: bool = False) -> KeySet:
        """The key set at `jwks_uri` (cached for the TTL unless `force`)."""
        now = self._clock()
        cached = self._cache.get(jwks_uri, now)
        if cached is not None and not force:
            return cached
        try:
            resp = self._http.get(jwks_uri, headers={"Accept": "application/json"}, timeout=self._timeout)
        except requests.RequestException as exc:
            raise IdTokenError(f"cannot fetch JWKS from {jwks_uri}: {type(exc).__name__}") from exc
        if resp.status_code != 200:
            raise IdTokenError(f"JWKS at {jwks_uri} answered {resp.status_code}")
        try:
            doc = resp.json()
            keys = KeySet.import_key_set({"keys": [k for k in doc["keys"] if k.get("kty") in ("RSA", "EC")]})
        except (ValueError, KeyError, TypeError, AttributeError, JoseError) as exc:
            raise IdTokenError(f"JWKS at {jwks_uri} is not a usable key set") from exc
        self._cache.put(jwks_uri, keys, now)
        return keys


def _pick_key(keys: KeySet, header: dict[str, Any]) -> RSAKey | ECKey:
    kid = header.get("kid")
    alg = str(header.get("alg"))
    kty = "RSA" if alg.startswith(("RS", "PS")) else "EC"
    candidates = [k for k in keys.keys if k.key_type == kty and (kid is None or k.kid == kid)]
    if len(candidates) != 1:
        raise IdTokenError("no unique server key matches the id_token header")
    key = candidates[0]
    if isinstance(key, OctKey | OKPKey):  # excluded at import; keeps the type narrow
        raise IdTokenError("id_token key has an unsupported type")
    return key


def validate_id_token(
    id_token: str,
    *,
    jwks: ServerJwks,
    jwks_uri: str | None,
    issuer: str,
    client_id: str,
    nonce: str,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Verify an id_token and return its claims; raises IdTokenError on any problem."""
    if not jwks_uri:
        raise IdTokenError("the server publishes no jwks_uri, so its id_token cannot be verified")
    try:
        header = dict(jws.extract_compact(id_token.encode("ascii")).headers())
    except (JoseError, ValueError, UnicodeError) as exc:
        raise IdTokenError("id_token is not a compact JWS") from exc
    alg = header.get("alg")
    if alg not in ID_TOKEN_ALGORITHMS:
        raise IdTokenError(f"id_token alg {alg!r} is not accepted")

    keys = jwks.get(jwks_uri)
    if header.get("kid") is not None and all(k.kid != header["kid"] for k in keys.keys):
        keys = jwks.get(jwks_uri, force=True)  # the server may have rotated its keys
    try:
        token = jwt.decode(id_token, _pick_key(keys, header), algorithms=[str(alg)])
    except (JoseError, ValueError) as exc:
        raise IdTokenError(f"id_token signature is invalid ({type(exc).__name__})") from exc

    claims: dict[str, Any] = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=lambda: int(clock()),
        leeway=CLOCK_LEEWAY,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise IdTokenError(f"id_token claims rejected: {exc.description or exc.error}") from exc
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
        raise IdTokenError("id_token has several audiences but azp is not this client")
    return claims
