"""Configuration of the sandbox authorization server and its registered clients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.auth.scopes import CONTEXT_SCOPES

AUTH_METHODS = ("none", "client_secret_basic", "private_key_jwt")
ASSERTION_ALGORITHMS = ("RS384", "ES384")

DEFAULT_APP_SCOPES: tuple[str, ...] = (*CONTEXT_SCOPES, "patient/*.cruds", "user/*.cruds")
DEFAULT_BACKEND_SCOPES: tuple[str, ...] = ("system/*.cruds",)


class ConfigError(ValueError):
    """The sandbox authorization configuration is not usable."""


@dataclass(frozen=True)
class ClientConfig:
    """One registered client (app) of the sandbox."""

    client_id: str
    auth_method: str = "none"  # "none" | "client_secret_basic" | "private_key_jwt"
    secret: str | None = None
    jwks: Mapping[str, Any] | None = None
    jwks_uri: str | None = None
    redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()  # what the client may ask for (literal scopes or patterns)
    grant_only: tuple[str, ...] | None = None  # optional extra cap on what is granted (degradation tests)
    grant_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ConfigError("client_id is required")
        if self.auth_method not in AUTH_METHODS:
            raise ConfigError(f"{self.client_id}: auth_method must be one of {', '.join(AUTH_METHODS)}")
        if self.auth_method == "client_secret_basic" and not self.secret:
            raise ConfigError(f"{self.client_id}: client_secret_basic needs a secret")
        if self.auth_method == "private_key_jwt" and not (self.jwks or self.jwks_uri):
            raise ConfigError(f"{self.client_id}: private_key_jwt needs jwks or jwks_uri")
        if "authorization_code" in self.grant_types and not self.redirect_uris:
            raise ConfigError(f"{self.client_id}: authorization_code needs at least one redirect_uri")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClientConfig:
        """Build a client from its config mapping (see module docs of `sandbox.auth`)."""
        auth_method = str(data.get("auth_method", "none"))
        redirect_uris = tuple(str(u) for u in data.get("redirect_uris", ()))
        grant_types = tuple(str(g) for g in data.get("grant_types", ()))
        if not grant_types:
            grant_types = ("authorization_code", "refresh_token") if redirect_uris else ()
            if auth_method == "private_key_jwt":
                grant_types = (*grant_types, "client_credentials")
        scopes = tuple(str(s) for s in data.get("scopes", ()))
        if not scopes:
            scopes = DEFAULT_APP_SCOPES if redirect_uris else ()
            if "client_credentials" in grant_types:
                scopes = (*scopes, *DEFAULT_BACKEND_SCOPES)
        grant_only = data.get("grant_only")
        return cls(
            client_id=str(data.get("client_id", "")),
            auth_method=auth_method,
            secret=data.get("secret"),
            jwks=data.get("jwks"),
            jwks_uri=data.get("jwks_uri"),
            redirect_uris=redirect_uris,
            scopes=scopes,
            grant_only=None if grant_only is None else tuple(str(s) for s in grant_only),
            grant_types=grant_types,
        )


@dataclass(frozen=True)
class AuthServerConfig:
    """Settings of the sandbox authorization server."""

    issuer: str  # base URL of the auth blueprint, e.g. http://127.0.0.1:8400/auth
    fhir_base_url: str  # the only accepted `aud`, e.g. http://127.0.0.1:8400/fhir
    clients: tuple[ClientConfig, ...] = ()
    access_token_lifetime: int = 3600
    backend_token_lifetime: int = 300
    refresh_token_lifetime: int = 86400
    id_token_lifetime: int = 3600
    code_lifetime: int = 60
    launch_lifetime: int = 300
    auto_login: bool = False  # skip the login and picker pages, use defaults (tests, scripted demos)
    allow_auto_login_hint: bool = True  # honour login_hint=sandbox_auto[:Type/id[:patient]]
    default_user: str | None = None  # "Practitioner/pr1": who logs in automatically
    default_patient: str | None = None  # "p1": the patient a practitioner picks automatically
    signing_key_pem: str | None = None  # RSA private key (PEM); a fresh key is generated when absent
    style: Mapping[str, Any] = field(default_factory=dict)  # extra values for the smart_style_url JSON
    # Koppeltaal mode: `launch` may be an HTI token of the sandbox portal; such a launch gets NOOP as access token.
    koppeltaal: bool = False

    def __post_init__(self) -> None:
        if not self.issuer.startswith(("http://", "https://")):
            raise ConfigError("issuer must be an absolute http(s) URL")
        if not self.fhir_base_url.startswith(("http://", "https://")):
            raise ConfigError("fhir_base_url must be an absolute http(s) URL")
        ids = [c.client_id for c in self.clients]
        if len(ids) != len(set(ids)):
            raise ConfigError("client_id values must be unique")
        if self.code_lifetime <= 0 or self.access_token_lifetime <= 0:
            raise ConfigError("lifetimes must be positive")

    @property
    def issuer_url(self) -> str:
        """The issuer without a trailing slash."""
        return self.issuer.rstrip("/")

    @property
    def fhir_base(self) -> str:
        """The FHIR base URL without a trailing slash."""
        return self.fhir_base_url.rstrip("/")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuthServerConfig:
        """Build the server config from a mapping (TOML/JSON shaped); unknown keys are refused."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = dict(data)
        clients: Sequence[Any] = values.pop("clients", ())
        values["clients"] = tuple(c if isinstance(c, ClientConfig) else ClientConfig.from_dict(c) for c in clients)
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(str(exc)) from exc
