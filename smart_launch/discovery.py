"""SMART configuration discovery, with the CapabilityStatement fallback and a per-iss cache."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from smart_launch.errors import DiscoveryError
from smart_launch.ttl_cache import TtlCache

OAUTH_URIS_EXTENSION = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 15.0)  # (connect, read) seconds
DEFAULT_DISCOVERY_TTL = 3600.0


@dataclass(frozen=True)
class SmartConfiguration:
    """What an authorization server advertises (the fields this client uses)."""

    iss: str
    authorization_endpoint: str
    token_endpoint: str
    issuer: str | None = None
    jwks_uri: str | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)
    scopes_supported: tuple[str, ...] = ()
    code_challenge_methods_supported: tuple[str, ...] = ()
    token_endpoint_auth_methods_supported: tuple[str, ...] = ()
    grant_types_supported: tuple[str, ...] = ()
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None
    source: str = "smart-configuration"  # or "capability-statement"

    @property
    def supports_v2_scopes(self) -> bool:
        """True when the server advertises SMART v2 scope syntax (`permission-v2`)."""
        return "permission-v2" in self.capabilities

    @property
    def id_token_issuer(self) -> str:
        """The `iss` an id_token from this server must carry."""
        return self.issuer or self.iss


def _str_tuple(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_smart_configuration(iss: str, doc: Mapping[str, Any]) -> SmartConfiguration:
    """Build a SmartConfiguration from a `.well-known/smart-configuration` document."""
    auth = _opt_str(doc.get("authorization_endpoint"))
    token = _opt_str(doc.get("token_endpoint"))
    if auth is None or token is None:
        raise DiscoveryError(f"smart-configuration of {iss} lacks authorization or token endpoint")
    return SmartConfiguration(
        iss=iss,
        authorization_endpoint=auth,
        token_endpoint=token,
        issuer=_opt_str(doc.get("issuer")),
        jwks_uri=_opt_str(doc.get("jwks_uri")),
        capabilities=frozenset(_str_tuple(doc.get("capabilities"))),
        scopes_supported=_str_tuple(doc.get("scopes_supported")),
        code_challenge_methods_supported=_str_tuple(doc.get("code_challenge_methods_supported")),
        token_endpoint_auth_methods_supported=_str_tuple(doc.get("token_endpoint_auth_methods_supported")),
        grant_types_supported=_str_tuple(doc.get("grant_types_supported")),
        revocation_endpoint=_opt_str(doc.get("revocation_endpoint")),
        introspection_endpoint=_opt_str(doc.get("introspection_endpoint")),
    )


def parse_capability_statement(iss: str, doc: Mapping[str, Any]) -> SmartConfiguration:
    """Build a SmartConfiguration from the oauth-uris extension of a CapabilityStatement (older servers)."""
    if doc.get("resourceType") != "CapabilityStatement":
        raise DiscoveryError(f"{iss}/metadata is not a CapabilityStatement")
    uris: dict[str, str] = {}
    rests = doc.get("rest")
    for rest in rests if isinstance(rests, list) else []:
        security = rest.get("security") if isinstance(rest, dict) else None
        extensions = security.get("extension") if isinstance(security, dict) else None
        for ext in extensions if isinstance(extensions, list) else []:
            if not isinstance(ext, dict) or ext.get("url") != OAUTH_URIS_EXTENSION:
                continue
            inner = ext.get("extension")
            for sub in inner if isinstance(inner, list) else []:
                if isinstance(sub, dict) and isinstance(sub.get("url"), str):
                    value = _opt_str(sub.get("valueUri")) or _opt_str(sub.get("valueUrl"))
                    if value:
                        uris[sub["url"]] = value
    if "authorize" not in uris or "token" not in uris:
        raise DiscoveryError(f"CapabilityStatement of {iss} has no SMART oauth-uris")
    return SmartConfiguration(
        iss=iss,
        authorization_endpoint=uris["authorize"],
        token_endpoint=uris["token"],
        revocation_endpoint=uris.get("revoke"),
        introspection_endpoint=uris.get("introspect"),
        source="capability-statement",
    )


class Discovery:
    """Fetches and caches the SMART configuration per iss.

    Only call this with an iss that passed the allow-list: it makes outgoing requests.
    """

    def __init__(
        self,
        http: requests.Session | None = None,
        *,
        ttl: float = DEFAULT_DISCOVERY_TTL,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http or requests.Session()
        self._timeout = timeout
        self._clock = clock
        self._cache: TtlCache[str, SmartConfiguration] = TtlCache(ttl)

    def get(self, iss: str) -> SmartConfiguration:
        """The configuration of `iss`, from cache while younger than the TTL."""
        now = self._clock()
        cached = self._cache.get(iss, now)
        if cached is not None:
            return cached
        config = self._fetch(iss)
        self._cache.put(iss, config, now)
        return config

    def invalidate(self, iss: str) -> None:
        """Forget the cached configuration of `iss`."""
        self._cache.pop(iss)

    def _fetch(self, iss: str) -> SmartConfiguration:
        first_problem: str
        try:
            doc = self._get_json(f"{iss}/.well-known/smart-configuration", "application/json")
            return parse_smart_configuration(iss, doc)
        except DiscoveryError as exc:
            first_problem = str(exc)
        try:
            cap = self._get_json(f"{iss}/metadata", "application/fhir+json")
            return parse_capability_statement(iss, cap)
        except DiscoveryError as exc:
            raise DiscoveryError(f"discovery failed for {iss}: {first_problem}; {exc}") from exc

    def _get_json(self, url: str, accept: str) -> Mapping[str, Any]:
        try:
            resp = self._http.get(url, headers={"Accept": accept}, timeout=self._timeout)
        except requests.RequestException as exc:
            raise DiscoveryError(f"GET {url} failed: {type(exc).__name__}") from exc
        if resp.status_code != 200:
            raise DiscoveryError(f"GET {url} answered {resp.status_code}")
        try:
            doc = resp.json()
        except ValueError as exc:
            raise DiscoveryError(f"GET {url} did not return JSON") from exc
        if not isinstance(doc, dict):
            raise DiscoveryError(f"GET {url} did not return a JSON object")
        return doc
