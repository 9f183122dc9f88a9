"""What every page template can use: labels for codes, the patient banner name."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from flask import Flask, g, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from plugin.group.service import current_service
from plugin.services.submissions import SUBMISSION_KEY
from plugin.web.forms import example_date
from plugin.web.labels import choices, group_status_label, label, yes_no


def patient_banner_name() -> str:
    """The launch patient's name for the banner (read once per request)."""
    launch = g.get("launch")
    if launch is None or launch.patient_id is None:
        return ""
    return current_service().display_name(f"Patient/{launch.patient_id}")


def submission_key() -> str:
    """The one-time key of a form: fresh on a page, the same one when a refused form is shown again."""
    sent = request.form.get(SUBMISSION_KEY, "") if request.method == "POST" else ""
    if sent and len(sent) <= 64 and all(c.isalnum() or c == "-" for c in sent):
        return sent
    return str(uuid.uuid4())


def form_keys() -> Markup:
    """The hidden fields every POST form carries: the CSRF token and the one-time submission key."""
    return Markup(  # noqa: S704 - both values are escaped
        f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}">'
        f'<input type="hidden" name="{SUBMISSION_KEY}" value="{escape(submission_key())}">'
    )


def icon_src(name: str) -> str:
    """The address of the icon `static/icons/<name>.svg`: `url_for` once per request (a long page shows a few
    hundred icons, and every `url_for` runs the app's URL defaults), the icon's name appended."""
    base = g.get("icon_base")
    if base is None:
        base = g.icon_base = url_for("static", filename="icons/")
    return f"{base}{quote(name)}.svg"


def init_page_context(app: Flask) -> None:
    """Register the template helpers."""
    app.jinja_env.globals["example_date"] = example_date  # a global: macros imported without context use it too
    app.jinja_env.globals["icon_src"] = icon_src

    @app.context_processor
    def page_helpers() -> dict[str, Any]:
        return {
            "label": label,
            "choices": choices,
            "group_status_label": group_status_label,
            "yes_no": yes_no,
            "patient_banner_name": patient_banner_name,
            "form_keys": form_keys,
        }
