"""Typed errors of the SMART client.

Messages are English (for logs); the app maps each type to a translated page.
Nothing in an error message is secret: no tokens, codes or assertions.
"""

from __future__ import annotations


class SmartLaunchError(Exception):
    """Base class of every error raised by `smart_launch`."""


class ConfigurationError(SmartLaunchError):
    """The client registration or a key file is unusable."""


class UnknownIssuerError(SmartLaunchError):
    """The `iss` is malformed or not registered; no request was made to it."""

    def __init__(self, iss: str | None, *, malformed: bool) -> None:
        self.iss = iss
        self.malformed = malformed
        what = "malformed" if malformed else "not registered"
        super().__init__(f"iss {iss!r} is {what}")


class DiscoveryError(SmartLaunchError):
    """Neither the SMART configuration nor the CapabilityStatement gave usable endpoints."""


class StateError(SmartLaunchError):
    """The `state` of a callback is missing, unknown, already used or from another browser session."""

    def __init__(self, reason: str) -> None:
        self.reason = reason  # "missing" | "unknown" | "session_mismatch"
        super().__init__(f"state rejected: {reason}")


class AuthorizationDeniedError(SmartLaunchError):
    """The authorization server sent `error` to the redirect URI instead of a code."""

    def __init__(self, error: str, description: str | None) -> None:
        self.error = error
        self.description = description
        super().__init__(f"authorization error {error!r}: {description or ''}")


class TokenEndpointError(SmartLaunchError):
    """The token endpoint failed, was unreachable or answered with something unusable."""

    def __init__(self, message: str, *, status: int | None = None, error: str | None = None) -> None:
        self.status = status
        self.error = error
        super().__init__(message)


class IdTokenError(SmartLaunchError):
    """The id_token is missing, unsigned, badly signed, or its claims do not match."""


class RefreshError(SmartLaunchError):
    """Refreshing the access token failed: the user has to launch again from the EHR."""


class LaunchExpiredError(SmartLaunchError):
    """The launch (or pending authorization) is over: the user has to launch again."""


class LaunchNotFoundError(SmartLaunchError):
    """No launch context with this id exists for this browser session."""
