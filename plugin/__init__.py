"""Resourcegroep: the SMART on FHIR app. ``flask --app plugin run`` finds the factory below."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from plugin.config import AppConfig


def create_app(config: AppConfig | None = None) -> Flask:
    """Build the app (imported lazily so that importing a submodule does not build or load the whole app)."""
    from plugin.app import create_app as build

    return build(config)
