"""SMART App Launch 2.2 client: discovery, authorization with PKCE, tokens, id_token, refresh, backend services.

Pure protocol: knows nothing of Flask or of the domain. The app wires it up (see `plugin.launch`).
"""

from smart_launch.backend import BackendServicesClient, BackendToken
from smart_launch.client import LAUNCH_TTL, PENDING_TTL, REFRESH_MARGIN, SmartClient
from smart_launch.discovery import OAUTH_URIS_EXTENSION, Discovery, SmartConfiguration
from smart_launch.errors import (
    AuthorizationDeniedError,
    ConfigurationError,
    DiscoveryError,
    IdTokenError,
    LaunchExpiredError,
    LaunchNotFoundError,
    RefreshError,
    SmartLaunchError,
    StateError,
    TokenEndpointError,
    UnknownIssuerError,
)
from smart_launch.hti import HTI_SCOPES, HtiLaunch, HtiTokenError, HtiVerifier, KoppeltaalDomain
from smart_launch.id_token import ServerJwks, validate_id_token
from smart_launch.keys import SigningKey, client_assertion, public_jwks
from smart_launch.models import AuthorizationRequest, LaunchContext, LaunchKind, PendingAuthorization
from smart_launch.registration import (
    BackendRegistration,
    ClientAuth,
    EhrRegistration,
    EhrRegistry,
    SigningAlg,
    normalize_iss,
)
from smart_launch.scopes import (
    AppPermissions,
    ReadOnlyReason,
    ScopeGrant,
    app_permissions,
    build_scopes,
    default_resource_scopes,
)
from smart_launch.store import MemorySessionStore, SessionStore, SQLiteSessionStore

__all__ = [
    "HTI_SCOPES",
    "LAUNCH_TTL",
    "OAUTH_URIS_EXTENSION",
    "PENDING_TTL",
    "REFRESH_MARGIN",
    "AppPermissions",
    "AuthorizationDeniedError",
    "AuthorizationRequest",
    "BackendRegistration",
    "BackendServicesClient",
    "BackendToken",
    "ClientAuth",
    "ConfigurationError",
    "Discovery",
    "DiscoveryError",
    "EhrRegistration",
    "EhrRegistry",
    "HtiLaunch",
    "HtiTokenError",
    "HtiVerifier",
    "IdTokenError",
    "KoppeltaalDomain",
    "LaunchContext",
    "LaunchExpiredError",
    "LaunchKind",
    "LaunchNotFoundError",
    "MemorySessionStore",
    "PendingAuthorization",
    "ReadOnlyReason",
    "RefreshError",
    "SQLiteSessionStore",
    "ScopeGrant",
    "ServerJwks",
    "SessionStore",
    "SigningAlg",
    "SigningKey",
    "SmartClient",
    "SmartConfiguration",
    "SmartLaunchError",
    "StateError",
    "TokenEndpointError",
    "UnknownIssuerError",
    "app_permissions",
    "build_scopes",
    "client_assertion",
    "default_resource_scopes",
    "normalize_iss",
    "public_jwks",
    "validate_id_token",
]
