"""Errors raised by the domain and the mapping: a Dutch message for the user, English for the log."""

from __future__ import annotations


class ResourcegroepError(Exception):
    """Base error: `user_message` (Dutch, plain language) is shown; `log_message` (English) is logged."""

    def __init__(self, user_message: str, log_message: str) -> None:
        super().__init__(log_message)
        self.user_message = user_message
        self.log_message = log_message


class DomainError(ResourcegroepError):
    """A rule of the resource group method was broken (e.g. an illegal state transition)."""


class MappingError(ResourcegroepError):
    """FHIR data that the product cannot read or must not write (unknown code, missing element, ...)."""


class CompartmentError(MappingError):
    """A reference points outside the launch patient's compartment."""
