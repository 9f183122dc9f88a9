"""Typed errors of the FHIR sync layer: a Dutch message for the user, English diagnostics for the log.

Every error carries:
- ``user_message``: plain Dutch (B1) for the screen; ``user_message_en`` for an English UI;
- ``diagnostics``: English detail for the log (never tokens, never clinical free text we wrote);
- ``status``: the HTTP status when the error came from the server, else ``None``;
- ``issues``: the OperationOutcome ``issue`` list as sent by the server (may be empty).

``OutageError`` is the family the outbox reacts to (server unreachable, 5xx, timeouts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

JsonDict = dict[str, Any]

# Dutch nouns for the resource types this product touches, used in "Geen toegang" messages.
_TYPE_NOUNS_NL: Mapping[str, str] = {
    "Appointment": "bijeenkomsten",
    "CarePlan": "het resourcegroepplan",
    "CareTeam": "de resourcegroep",
    "Communication": "agenda's, verslagen en berichten",
    "Goal": "doelen",
    "Location": "locaties",
    "Observation": "voortgang op doelen",
    "Patient": "patiëntgegevens",
    "Practitioner": "gegevens van zorgverleners",
    "PractitionerRole": "gegevens van zorgverleners",
    "Provenance": "de gegevens over wie wat heeft gewijzigd",
    "RelatedPerson": "naasten en steunpersonen",
    "Task": "afspraken",
}
_TYPE_NOUNS_EN: Mapping[str, str] = {
    "Appointment": "meetings",
    "CarePlan": "the resource group plan",
    "CareTeam": "the resource group",
    "Communication": "agendas, reports and messages",
    "Goal": "goals",
    "Location": "locations",
    "Observation": "progress on goals",
    "Patient": "patient details",
    "Practitioner": "practitioner details",
    "PractitionerRole": "practitioner details",
    "Provenance": "the record of who changed what",
    "RelatedPerson": "family and supporters",
    "Task": "agreements",
}
# SMART v2 scope letters per interaction and the Dutch/English verb for each.
_INTERACTION_SCOPE: Mapping[str, tuple[str, str, str]] = {
    "read": ("r", "inzien", "view"),
    "vread": ("r", "inzien", "view"),
    "search": ("s", "zoeken", "search"),
    "create": ("c", "aanmaken", "create"),
    "update": ("u", "wijzigen", "change"),
    "patch": ("u", "wijzigen", "change"),
    "delete": ("d", "verwijderen", "delete"),
}


class SyncError(Exception):
    """Base of every error raised by the sync layer."""

    default_user_message = "Er ging iets mis bij het werken met het EPD. Probeer het later opnieuw."
    default_user_message_en = "Something went wrong while talking to the EHR. Please try again later."

    def __init__(
        self,
        diagnostics: str,
        *,
        status: int | None = None,
        issues: Sequence[JsonDict] = (),
        user_message: str | None = None,
        user_message_en: str | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.status = status
        self.issues: list[JsonDict] = [dict(i) for i in issues]
        self.user_message = user_message or self.default_user_message
        self.user_message_en = user_message_en or self.default_user_message_en

    def __str__(self) -> str:
        prefix = f"HTTP {self.status}: " if self.status is not None else ""
        return f"{prefix}{self.diagnostics}"


class NotFound(SyncError):
    """The resource does not exist on the server (404)."""

    default_user_message = "We kunnen deze gegevens niet vinden in het EPD."
    default_user_message_en = "We cannot find this information in the EHR."


class Gone(SyncError):
    """The resource was deleted on the server (410)."""

    default_user_message = "Deze gegevens zijn verwijderd uit het EPD."
    default_user_message_en = "This information was removed from the EHR."


class BadRequest(SyncError):
    """The server refused the request as malformed (400)."""

    default_user_message = (
        "Het EPD heeft de gegevens niet aangenomen. Kijk of alles goed is ingevuld en probeer het opnieuw."
    )
    default_user_message_en = "The EHR did not accept the data. Please check what you entered and try again."


class Invalid(BadRequest):
    """The server refused the content as not valid FHIR or against its business rules (422, or 400 with issues)."""

    default_user_message = "Het EPD keurt de gegevens af: iets is niet compleet of niet juist."
    default_user_message_en = "The EHR rejected the data: something is incomplete or not correct."


class Unauthorized(SyncError):
    """The token was refused even after one refresh: the user must launch the app again from the EHR."""

    default_user_message = "De sessie is verlopen. Open de resourcegroep opnieuw vanuit het EPD of het portaal."
    default_user_message_en = (
        "Your session has expired. Please open the resource group again from the EHR or the portal."
    )


class Forbidden(SyncError):
    """The token lacks the permission for this request (403); ``permission`` names the missing SMART scope."""

    def __init__(
        self,
        diagnostics: str,
        *,
        permission: str,
        resource_type: str | None = None,
        interaction: str | None = None,
        status: int | None = 403,
        issues: Sequence[JsonDict] = (),
    ) -> None:
        self.permission = permission
        self.resource_type = resource_type
        self.interaction = interaction
        nl, en = _forbidden_messages(permission, resource_type, interaction)
        super().__init__(diagnostics, status=status, issues=issues, user_message=nl, user_message_en=en)


def _forbidden_messages(permission: str, resource_type: str | None, interaction: str | None) -> tuple[str, str]:
    scope = _INTERACTION_SCOPE.get(interaction or "")
    if resource_type and scope:
        noun_nl = _TYPE_NOUNS_NL.get(resource_type, resource_type)
        noun_en = _TYPE_NOUNS_EN.get(resource_type, resource_type)
        nl = (
            f"Geen toegang: de app mag {noun_nl} niet {scope[1]}. "
            f"Hiervoor is het recht '{permission}' nodig. Vraag dit aan de beheerder van het EPD."
        )
        en = (
            f"No access: the app may not {scope[2]} {noun_en}. "
            f"This needs the permission '{permission}'. Ask the EHR administrator for it."
        )
        return nl, en
    return (
        f"Geen toegang: hiervoor is het recht '{permission}' nodig. Vraag dit aan de beheerder van het EPD.",
        f"No access: this needs the permission '{permission}'. Ask the EHR administrator for it.",
    )


def required_permission(resource_type: str | None, interaction: str | None, context: str = "patient") -> str:
    """The SMART v2 scope a request needs, e.g. ``patient/Goal.u``; ``patient/*.cruds`` when unknown."""
    letters = _INTERACTION_SCOPE.get(interaction or "")
    return f"{context}/{resource_type or '*'}.{letters[0] if letters else 'cruds'}"


class PreconditionFailed(SyncError):
    """A version check failed: 412 (If-Match) or 409 (older servers). Re-read and re-apply, or show a Conflict."""

    default_user_message = "Iemand anders heeft deze gegevens net gewijzigd. Probeer het opnieuw."
    default_user_message_en = "Someone else has just changed this information. Please try again."


class Conflict(SyncError):
    """A real conflict: two edits of the same element. Carries both versions so the UI can show them."""

    default_user_message = (
        "Iemand anders heeft dit net ook gewijzigd. Kies welke tekst bewaard blijft. "
        "De ingevulde tekst is niet verloren."
    )
    default_user_message_en = (
        "Someone else has just changed this as well. Choose which text to keep. Your text is not lost."
    )

    def __init__(
        self,
        diagnostics: str,
        *,
        mine: JsonDict,
        theirs: JsonDict,
        element: str | None = None,
        status: int | None = None,
        issues: Sequence[JsonDict] = (),
    ) -> None:
        super().__init__(diagnostics, status=status, issues=issues)
        self.mine = mine
        self.theirs = theirs
        self.element = element


class OutageError(SyncError):
    """The server could not be reached or did not answer properly: the change may go to the outbox.

    ``bundle`` is set by the save functions to the transaction Bundle that could not be delivered.
    """

    bundle: JsonDict | None = None


class ServerUnavailable(OutageError):
    """Connection refused/dropped, or 429/5xx that did not clear within the retry budget."""

    default_user_message = "Het EPD is nu niet bereikbaar. We proberen het later opnieuw."
    default_user_message_en = "The EHR cannot be reached right now. We will try again later."

    def __init__(
        self,
        diagnostics: str,
        *,
        status: int | None = None,
        issues: Sequence[JsonDict] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(diagnostics, status=status, issues=issues)
        self.retry_after = retry_after


class Timeout(OutageError):
    """The server did not answer in time. For a write the outcome is unknown: replay must be idempotent."""

    default_user_message = "Het EPD reageert niet op tijd. We proberen het later opnieuw."
    default_user_message_en = "The EHR is not responding in time. We will try again later."


class CompartmentViolation(SyncError):
    """A reference points outside the launch patient's compartment and was refused."""

    default_user_message = "Deze gegevens horen niet bij deze patiënt. Ze worden niet getoond en niet opgeslagen."
    default_user_message_en = "This information does not belong to this patient. It is not shown and not saved."


class NextLinkRefused(SyncError):
    """A paging ``next`` link pointed to another scheme, host, port or outside the FHIR base."""

    default_user_message = "Het EPD stuurde een link die we niet vertrouwen. We hebben die niet gevolgd."
    default_user_message_en = "The EHR sent a link we do not trust. We did not follow it."


def outcome_issues(body: object) -> list[JsonDict]:
    """The ``issue`` list of an OperationOutcome body, or an empty list for anything else."""
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        issues = body.get("issue")
        if isinstance(issues, list):
            return [i for i in issues if isinstance(i, dict)]
    return []


def describe_issues(issues: Sequence[JsonDict], limit: int = 300) -> str:
    """English one-line summary of OperationOutcome issues for the log (severity/code/expression/text)."""
    parts: list[str] = []
    for issue in issues:
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or ""
        where = ",".join(issue.get("expression") or issue.get("location") or [])
        parts.append(
            f"{issue.get('severity', '?')}/{issue.get('code', '?')}"
            + (f" at {where}" if where else "")
            + (f": {text}" if text else "")
        )
    summary = "; ".join(parts)
    return summary if len(summary) <= limit else summary[: limit - 1] + "…"
