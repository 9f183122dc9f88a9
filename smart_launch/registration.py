"""Registered EHRs (the iss allow-list) and how the app authenticates to each."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from smart_launch.errors import ConfigurationError, UnknownIssuerError

ClientAuth = Literal["public", "client_secret_basic", "private_key_jwt"]
SigningAlg = Literal["RS384", "ES384"]

CLIENT_AUTH_METHODS: tuple[ClientAuth, ...] = ("public", "client_secret_basic", "private_key_jwt")
SIGNING_ALGS: tuple[SigningAlg, ...] = ("RS384", "ES384")
# How the app maps its data to FHIR at this EHR (fhir_mappings.profiles.MappingMode): the Dutch nl-core
# profiles, or the Koppeltaal 2.0 (KT2) profiles.
MAPPING_MODES: tuple[str, ...] = ("nl-core", "kt2")

_MAX_ISS_LENGTH = 2048
_FORBIDDEN_CHARS = re.compile(r"[\s\x00-\x1f\x7f<>\"'`\\]")


@dataclass(frozen=True)
class EhrRegistration:
    """One EHR the app is registered with: its FHIR base (iss) and our client credentials there."""

    name: str
    iss: str
    client_id: str
    client_auth: ClientAuth = "public"
    client_secret: str | None = None
    private_key_file: str | None = None
    alg: SigningAlg = "RS384"
    # Replaces the default resource scopes; identity and launch scopes are always added.
    scopes: tuple[str, ...] | None = None
    caseload_user_scopes: bool = False
    title: str | None = None  # shown on the start page; defaults to name
    mapping: str = "nl-core"  # one of MAPPING_MODES

    def __post_init__(self) -> None:
        if not self.name or not self.client_id:
            raise ConfigurationError("an EHR registration needs a name and a client_id")
        if self.mapping not in MAPPING_MODES:
            raise ConfigurationError(f"EHR {self.name!r}: mapping must be one of {MAPPING_MODES}")
        if self.client_auth not in CLIENT_AUTH_METHODS:
            raise ConfigurationError(f"EHR {self.name!r}: unknown client_auth {self.client_auth!r}")
        if self.client_auth == "client_secret_basic" and not self.client_secret:
            raise ConfigurationError(f"EHR {self.name!r}: client_secret_basic needs client_secret")
        if self.client_auth == "private_key_jwt":
            if not self.private_key_file:
                raise ConfigurationError(f"EHR {self.name!r}: private_key_jwt needs private_key_file")
            if self.alg not in SIGNING_ALGS:
                raise ConfigurationError(f"EHR {self.name!r}: alg must be one of {SIGNING_ALGS}")
        normalized = normalize_iss(self.iss)
        if normalized is None:
            raise ConfigurationError(f"EHR {self.name!r}: iss {self.iss!r} is not an http(s) URL")
        object.__setattr__(self, "iss", normalized)

    @property
    def display_name(self) -> str:
        """Name to show to users."""
        return self.title or self.name


@dataclass(frozen=True)
class BackendRegistration:
    """A SMART Backend Services client (client_credentials with a signed JWT assertion)."""

    iss: str
    client_id: str
    private_key_file: str
    alg: SigningAlg = "RS384"
    scopes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        normalized = normalize_iss(self.iss)
        if normalized is None:
            raise ConfigurationError(f"backend iss {self.iss!r} is not an http(s) URL")
        if self.alg not in SIGNING_ALGS:
            raise ConfigurationError(f"backend alg must be one of {SIGNING_ALGS}")
        bad = [s for s in self.scopes if not s.startswith("system/")]
        if bad:
            raise ConfigurationError(f"backend scopes must be system/ scopes, not {bad}")
        object.__setattr__(self, "iss", normalized)


def normalize_iss(iss: object) -> str | None:
    """Return the canonical form of an iss (no trailing slash), or None when it is malformed."""
    if not isinstance(iss, str) or not iss or len(iss) > _MAX_ISS_LENGTH:
        return None
    if _FORBIDDEN_CHARS.search(iss):
        return None
    try:
        parts = urlsplit(iss)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.query or parts.fragment or parts.username or parts.password or "@" in parts.netloc:
        return None
    del port
    return iss.rstrip("/")


class EhrRegistry:
    """The iss allow-list: only registered EHRs can start a launch."""

    def __init__(self, registrations: Iterable[EhrRegistration]) -> None:
        self._by_iss: dict[str, EhrRegistration] = {}
        self._by_name: dict[str, EhrRegistration] = {}
        for reg in registrations:
            if reg.iss in self._by_iss:
                raise ConfigurationError(f"iss {reg.iss!r} is registered twice")
            if reg.name in self._by_name:
                raise ConfigurationError(f"EHR name {reg.name!r} is used twice")
            self._by_iss[reg.iss] = reg
            self._by_name[reg.name] = reg

    def __iter__(self) -> Iterator[EhrRegistration]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def by_iss(self, iss: str | None) -> EhrRegistration:
        """The registration for `iss`; raises UnknownIssuerError (before any I/O) otherwise."""
        normalized = normalize_iss(iss)
        if normalized is None:
            raise UnknownIssuerError(iss, malformed=True)
        reg = self._by_iss.get(normalized)
        if reg is None:
            raise UnknownIssuerError(iss, malformed=False)
        return reg

    def by_name(self, name: str) -> EhrRegistration:
        """The registration called `name`; raises UnknownIssuerError otherwise."""
        reg = self._by_name.get(name)
        if reg is None:
            raise UnknownIssuerError(None, malformed=False)
        return reg
