"""What every page template can use: labels for codes, the patient banner name."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import Enum
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from flask import Flask, g, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from fhir_mappings.codes import MemberRole
from fhir_mappings.refs import is_professional_ref
from plugin.appglobals import app_globals
from plugin.group.service import current_service
from plugin.services.submissions import SUBMISSION_KEY
from plugin.web import fields, widgets
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


def _icon_base() -> str:
    """The address of `static/icons/`, made by `url_for` once per request (a long page shows a few hundred icons,
    and every `url_for` runs the app's URL defaults). Kept on `g`, read from the app context itself (not through
    the `g` proxy: it is asked once per icon)."""
    known = app_globals()
    if known is None:
        return url_for("static", filename="icons/")
    base: str | None = known.get("icon_base")
    if base is None:
        base = known["icon_base"] = url_for("static", filename="icons/")
    return base


def icon_src(name: str) -> str:
    """The address of the icon `static/icons/<name>.svg`."""
    return f"{_icon_base()}{_quoted_name(name)}.svg"


@lru_cache(maxsize=512)
def _quoted_name(name: str) -> str:
    """An icon's name as it goes into its address (the app has a few dozen icons)."""
    return quote(name)


# The icon of a group status or a goal's lifecycle, by the code's value (templates: `status_icon`, `status_badge`).
STATUS_ICONS: dict[str, str] = {
    "active": "status-ok",
    "completed": "status-ok",
    "forming": "status-forming",
    "proposed": "status-forming",
    "planned": "status-planned",
    "accepted": "status-planned",
    "on-hold": "status-paused",
    "ended": "status-ended",
    "cancelled": "status-ended",
    "rejected": "status-ended",
    "entered-in-error": "status-ended",
}


def icon(name: str, size: object = 20) -> Markup:
    """A decorative icon from static/icons/, next to a word that says the same (alt="", aria-hidden). Python, not
    a macro: a page shows dozens, and a macro call costs several times more."""
    base = _icon_base()
    try:
        return _icon_tag(base, name, size)
    except TypeError:  # a size that cannot be a key (any object prints): made each time
        return _icon_markup(base, name, size)


def _icon_markup(base: str, name: str, size: object) -> Markup:
    return Markup(  # noqa: S704 - both values are escaped
        f'<img class="icon" src="{escape(f"{base}{_quoted_name(name)}.svg")}" alt="" aria-hidden="true"'
        f' width="{escape(size)}" height="{escape(size)}">'
    )


@lru_cache(maxsize=1024, typed=True)  # typed: a size of 1 and of True write differently
def _icon_tag(base: str, name: str, size: object) -> Markup:
    """`_icon_markup`, made once per address, icon and size (the app has a few dozen icons in two or three sizes;
    the markup is immutable)."""
    return _icon_markup(base, name, size)


def area_icon(area: Enum | None) -> Markup:
    """The icon of a goal's life area (`area-anders` without one)."""
    return icon(f"area-{area.value if area else 'anders'}")


def role_icon(roles: Iterable[Enum]) -> Markup:
    """The icon of a member's most important role."""
    held = set(roles)
    return icon(
        "role-regisseur"
        if MemberRole.REGISSEUR in held
        else "role-regieondersteuner"
        if MemberRole.REGIEONDERSTEUNER in held
        else "role-lid"
    )


def status_icon(value: str) -> Markup:
    """The icon for a group status or a goal's lifecycle (the value of the code)."""
    return icon(STATUS_ICONS.get(value, "status-planned"), 16)


def status_badge(value: str, text: object) -> Markup:
    """A status badge: the icon, then the word; `value` picks the colour family (see app.css, "Status badges")."""
    return Markup(  # noqa: S704 - the values are escaped, the icon is markup
        f'<span class="badge status-{escape(value)}">{status_icon(value)}{escape(text)}</span>'
    )


def init_page_context(app: Flask) -> None:
    """Register the template helpers (and WTForms' faster attribute writer, `plugin.web.widgets`)."""
    widgets.install()
    app.jinja_env.globals["example_date"] = example_date  # a global: macros imported without context use it too
    app.jinja_env.globals["icon_src"] = icon_src
    app.jinja_env.globals["is_professional_ref"] = is_professional_ref
    app.jinja_env.globals.update(  # _forms.html hands these out as field, radios, describedby, checkbox and submit
        form_field=fields.field,
        form_radios=fields.radios,
        form_describedby=fields.describedby,
        form_checkbox=fields.checkbox,
        form_submit=fields.submit,
    )
    icons = {
        "icon": icon,
        "area_icon": area_icon,
        "role_icon": role_icon,
        "status_icon": status_icon,
        "status_badge": status_badge,
    }
    # _icons.html hands these out under the same names; they are globals under those names too, so the pages the
    # app shows most use them without `{% from "_icons.html" import ... %}` (an import costs a lookup of every
    # global on each render).
    app.jinja_env.globals.update({f"{name}_tag": made for name, made in icons.items()})
    app.jinja_env.globals.update(icons)

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
