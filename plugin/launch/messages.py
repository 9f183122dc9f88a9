"""User-facing texts for launch problems and read-only reasons (msgids English, translated by Babel)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext, lazy_gettext
from markupsafe import Markup

from smart_launch import (
    AuthorizationDeniedError,
    ConfigurationError,
    DiscoveryError,
    HtiTokenError,
    IdTokenError,
    LaunchExpiredError,
    LaunchNotFoundError,
    ReadOnlyReason,
    RefreshError,
    SmartLaunchError,
    StateError,
    TokenEndpointError,
    UnknownIssuerError,
)

RESTART_HINT = lazy_gettext("Start the app again from the EHR (the electronic patient record).")
KOPPELTAAL_HINT = lazy_gettext("Start the app again from the portal or the EHR you came from.")


def _hti_problem(error: HtiTokenError) -> ProblemPage:
    """The page for a refused Koppeltaal launch (the HTI token); nothing was read from the FHIR server."""
    hint = str(KOPPELTAAL_HINT)
    if error.reason in ("expired", "replayed"):
        return ProblemPage(
            400,
            gettext("This start link can no longer be used"),
            gettext(
                "The link that started the app has expired or was already used. For your safety it works "
                "only once and only for a few minutes."
            ),
            hint,
            code=error.reason,
        )
    if error.reason == "not_posted":
        return ProblemPage(
            400,
            gettext("The app was not started in the right way"),
            gettext("In this Koppeltaal domain the app can only be started from a task in the portal or the EHR."),
            hint,
            code=error.reason,
        )
    if error.reason == "inactive":
        return ProblemPage(
            403,
            gettext("This start link is not valid"),
            gettext(
                "The Koppeltaal domain did not confirm the link that started the app: it is not valid, has "
                "expired or was already used. For your safety the app stopped and read nothing."
            ),
            hint,
            code=error.reason,
        )
    if error.reason == "user_mismatch":
        return ProblemPage(
            403,
            gettext("The login does not match the start"),
            gettext(
                "The person who logged in is not the person the app was started for. For your safety the app "
                "stopped and read nothing."
            ),
            hint,
            code=error.reason,
        )
    if error.reason == "task_mismatch":
        return ProblemPage(
            403,
            gettext("The task of this start was not found"),
            gettext(
                "The app was started from a task that does not exist or that belongs to someone else. For your "
                "safety the app stopped."
            ),
            hint,
            code=error.reason,
        )
    if error.reason in ("introspection_unavailable", "task_unavailable"):
        return ProblemPage(
            502,
            gettext("The start of the app cannot be checked right now"),
            gettext("The app could not ask the Koppeltaal domain to check the start. Try again in a few minutes."),
            hint,
            code=error.reason,
        )
    if error.reason == "keys_unavailable":
        return ProblemPage(
            502,
            gettext("The start of the app cannot be checked right now"),
            gettext("The app could not get the keys of the application that started it. Try again in a few minutes."),
            hint,
            code=error.reason,
        )
    return ProblemPage(
        403,
        gettext("The start of the app was refused"),
        gettext(
            "The app could not verify where the start came from, or the start was not meant for this app. "
            "For your safety the app stopped. If this keeps happening, ask your application manager to check "
            "the Koppeltaal settings."
        ),
        hint,
        code=error.reason,
    )


@dataclass(frozen=True)
class ProblemPage:
    """What an error page shows."""

    status: int
    title: str
    message: str
    hint: str
    detail: str | None = None  # shown escaped, e.g. the EHR's error_description
    code: str | None = None


def _token_error_text(code: str | None) -> str:
    """What a refusal of the token endpoint means, and who can do something about it (RFC 6749 5.2)."""
    if code == "invalid_client":
        return gettext(
            "The EHR does not accept the registration of this app. Trying again will not help: ask your "
            "application manager to check how the app is registered in the EHR (client id, key or secret)."
        )
    if code == "invalid_grant":
        return gettext(
            "The EHR did not accept the login code: it was already used, has expired, or belongs to another "
            "launch. Start the app again from the EHR. If this keeps happening, ask your application manager "
            "to check the redirect address of the app in the EHR."
        )
    if code in ("invalid_scope", "unauthorized_client"):
        return gettext(
            "The EHR does not allow what the app asks for. Trying again will not help: ask your application "
            "manager to check which permissions (scopes) the app is given in the EHR."
        )
    return gettext("The EHR did not complete the login of the app. Try again in a few minutes.")


def problem_for(error: SmartLaunchError) -> ProblemPage:
    """The page to show for a SMART launch error."""
    hint = str(RESTART_HINT)
    if isinstance(error, HtiTokenError):
        return _hti_problem(error)
    if isinstance(error, UnknownIssuerError):
        if error.malformed:
            return ProblemPage(
                400,
                gettext("Unknown EHR address"),
                gettext("The app was started with an EHR address that is missing or not valid."),
                hint,
            )
        return ProblemPage(
            400,
            gettext("This EHR is not registered"),
            gettext(
                "The app was started from an EHR it does not know. For your safety it did not contact "
                "that EHR. Ask your application manager to register this EHR."
            ),
            hint,
        )
    if isinstance(error, DiscoveryError):
        return ProblemPage(
            502,
            gettext("The EHR cannot be reached"),
            gettext("The app could not get the login settings of the EHR. Try again in a few minutes."),
            hint,
        )
    if isinstance(error, StateError):
        return ProblemPage(
            400,
            gettext("This login cannot be checked"),
            gettext(
                "The login link is missing, was already used, or belongs to another browser window. "
                "For your safety the app stopped."
            ),
            hint,
            code=error.reason,
        )
    if isinstance(error, AuthorizationDeniedError):
        return ProblemPage(
            403,
            gettext("The EHR did not give access"),
            gettext("The EHR refused to give this app access. This is the message of the EHR:"),
            hint,
            detail=error.description or error.error,
            code=error.error,
        )
    if isinstance(error, TokenEndpointError):
        return ProblemPage(
            502,
            gettext("The login could not be completed"),
            _token_error_text(error.error),
            hint,
            code=error.error,
        )
    if isinstance(error, IdTokenError):
        return ProblemPage(
            502,
            gettext("Your identity could not be verified"),
            gettext("The EHR sent login details that the app could not verify. For your safety the app stopped."),
            hint,
        )
    if isinstance(error, LaunchExpiredError | RefreshError):
        return ProblemPage(
            401,
            gettext("Your session has ended"),
            gettext("The connection with the EHR has expired."),
            hint,
        )
    if isinstance(error, LaunchNotFoundError):
        return ProblemPage(
            403,
            gettext("No access to this page"),
            gettext("This page belongs to another session or has expired."),
            hint,
        )
    if isinstance(error, ConfigurationError):
        return ProblemPage(
            500,
            gettext("The app is not set up correctly"),
            gettext("Ask your application manager to check the configuration of the app."),
            hint,
        )
    return ProblemPage(500, gettext("Something went wrong"), gettext("The app could not start."), hint)


def read_only_reason_text(reason: ReadOnlyReason | None, missing: tuple[str, ...] = ()) -> str | None:
    """Plain-language explanation of why the app is read-only (None when it may write)."""
    if reason is None:
        return None
    if reason is ReadOnlyReason.NO_READ_SCOPES:
        return str(gettext("The EHR did not give this app permission to read the resource group."))
    if reason is ReadOnlyReason.NO_WRITE_SCOPES:
        return str(
            gettext("The EHR gave this app permission to read only. You can view everything, but not change it.")
        )
    if reason is ReadOnlyReason.PARTIAL_WRITE_SCOPES:
        return str(
            gettext(
                "The EHR did not give permission to change everything (missing: %(types)s). To prevent "
                "half-saved changes, you can only view.",
                types=", ".join(missing),
            )
        )
    return str(
        gettext(
            "The EHR did not allow the app to record who made a change. Changes are only saved with that "
            "record, so you can only view."
        )
    )


def escape_detail(detail: str | None) -> Markup | None:
    """Escape text from outside (the EHR's error_description) for display."""
    return None if detail is None else Markup.escape(detail[:500])
