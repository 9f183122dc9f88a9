"""FHIR errors as exceptions that render to an OperationOutcome with the right HTTP status."""

from __future__ import annotations

from typing import Any

# HTTP status -> OperationOutcome.issue.code used when the raiser does not pick one.
_DEFAULT_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    415: "not-supported",
    422: "processable",
    500: "exception",
    502: "transient",
    504: "timeout",
}


class FhirError(Exception):
    """An error that the endpoint answers with `status` and an OperationOutcome."""

    def __init__(self, status: int, diagnostics: str, code: str | None = None, expression: str | None = None):
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code or _DEFAULT_CODES.get(status, "processing")
        self.expression = expression

    def outcome(self) -> dict[str, Any]:
        """The OperationOutcome describing this error."""
        return operation_outcome("error", self.code, self.diagnostics, self.expression)


def operation_outcome(severity: str, code: str, text: str, expression: str | None = None) -> dict[str, Any]:
    """One-issue OperationOutcome."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "details": {"text": text}, "diagnostics": text}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def not_found(resource_type: str, resource_id: str) -> FhirError:
    """404 for a resource that does not exist."""
    return FhirError(404, f"{resource_type}/{resource_id} not found")


def invalid(text: str, expression: str | None = None) -> FhirError:
    """400 for a malformed request or resource."""
    return FhirError(400, text, "invalid", expression)
