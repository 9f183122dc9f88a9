"""What every page template can use: labels for codes, the patient banner name."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from plugin.group.service import current_service
from plugin.web.labels import choices, group_status_label, label, yes_no


def patient_banner_name() -> str:
    """The launch patient's name for the banner (read once per request)."""
    launch = g.get("launch")
    if launch is None or launch.patient_id is None:
        return ""
    return current_service().display_name(f"Patient/{launch.patient_id}")


def init_page_context(app: Flask) -> None:
    """Register the template helpers."""

    @app.context_processor
    def page_helpers() -> dict[str, Any]:
        return {
            "label": label,
            "choices": choices,
            "group_status_label": group_status_label,
            "yes_no": yes_no,
            "patient_banner_name": patient_banner_name,
        }
