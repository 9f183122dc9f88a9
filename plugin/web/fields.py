"""The `field`, `radios`, `checkbox` and `submit` macros of `_forms.html`, written in Python: the same markup,
a few times cheaper.

A form page shows a dozen fields and a scale of eleven score radios; as Jinja macros each field cost a macro call,
a nested `describedby` macro call and a few dozen attribute lookups and escapes (on the goal page the form macros
were about a third of the rendering). These functions write the same elements, attributes and texts (escaped as
Jinja's autoescape escapes them: `markupsafe.escape`); only the blank space between elements differs (`checkbox` and
`submit` write that too as their macros did).
`_forms.html` hands them out under the macros' names, so templates import them as before.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms.fields.core import Flags
from wtforms.meta import DefaultMeta
from wtforms.widgets.core import RadioInput

from plugin.i18n import template_text
from plugin.web.widgets import fast_html_params


def describedby(f: Any, hint: Any) -> str:
    """The ids the field's `aria-describedby` names: its hint, its error message (either may be absent)."""
    if hint or f.description:
        return f"{f.id}-hint {f.id}-error" if f.errors else f"{f.id}-hint"
    return f"{f.id}-error" if f.errors else ""


def _hint_and_errors(f: Any, hint: Any, errors: Any) -> str:
    """The hint paragraph and the error paragraph of a field (each only when there is one)."""
    parts = []
    shown = hint or f.description
    if shown:
        parts.append(f'<p class="hint" id="{escape(f.id)}-hint">{escape(shown)}</p>\n  ')
    if errors:
        said = "".join(f"{escape(e)} " for e in errors)
        parts.append(f'<p class="error-message" id="{escape(f.id)}-error">{said}</p>\n  ')
    return "".join(parts)


def _radio_input(option: Any) -> Markup:
    """`option()`: the radio input of one choice, written here when WTForms would write it the plain way (its
    own radio widget, the default rendering, no extra attributes); any other option is rendered by WTForms. A
    scale of eleven radios cost a fifth of the goal page's rendering through WTForms (a `dir()` of the flags and
    the render hooks per radio)."""
    flags = option.flags
    if (
        type(option.widget) is not RadioInput
        or option.render_kw
        or type(option.meta).render_field is not DefaultMeta.render_field
        or type(flags) is not Flags
        or getattr(option, "_datalist", None) is not None
    ):
        return option()  # type: ignore[no-any-return]
    attributes: dict[str, Any] = {"id": option.id, "type": "radio", "value": option._value()}
    if option.checked:
        attributes["checked"] = True
    set_flags = vars(flags)
    for name in RadioInput.validation_attrs:
        if name in set_flags:
            value = set_flags[name]
            attributes[name] = value() if callable(value) else value
    return Markup(f"<input {fast_html_params(name=option.name, **attributes)}>")  # noqa: S704 - escaped there


def field(f: Any, hint: Any = None, class_: Any = "") -> Markup:
    """A field with its label, "(required)", hint and errors; the input names them (`aria-describedby`) and says
    it is invalid when it has errors."""
    errors = f.errors
    required = ""
    if f.flags.required:
        word = template_text("required")  # outside the f-string: the catalog's extraction finds it here
        required = f' <span class="required">({word})</span>'
    extra: dict[str, Any] = {}
    if errors:
        extra["aria-invalid"] = "true"
    described = describedby(f, hint)
    if described:
        extra["aria-describedby"] = described
    return Markup(  # noqa: S704 - every value is escaped above or is WTForms' own markup
        f'<div class="field{" field-error" if errors else ""} {escape(class_)}">\n'
        f"  {f.label()}{required}\n"
        f"  {_hint_and_errors(f, hint, errors)}{f(**extra)}\n"
        "</div>"
    )


def checkbox(f: Any, hint: Any = None) -> Markup:
    """A checkbox before its label, then the hint and the errors (the box names them: `aria-describedby`)."""
    errors = f.errors
    described = describedby(f, hint)
    box = f(**{"aria-describedby": described}) if described else f()
    shown = hint or f.description
    hint_part = f'<p class="hint" id="{escape(f.id)}-hint">{escape(shown)}</p>' if shown else ""
    error_part = ""
    if errors:
        said = "".join(f"{escape(e)} " for e in errors)
        error_part = f'<p class="error-message" id="{escape(f.id)}-error">{said}</p>'
    return Markup(  # noqa: S704 - every value is escaped above or is WTForms' own markup
        f'<div class="field field-check{" field-error" if errors else ""}">\n'
        "  \n"
        f"  {box} {f.label()}\n"
        f"  {hint_part}\n"
        f"  {error_part}\n"
        "</div>"
    )


def submit(label: Any, class_: Any = "button") -> Markup:
    """A form's submit button with `label` (`class_`: its classes)."""
    return Markup(f'<button type="submit" class="{escape(class_)}">{escape(label)}</button>')  # noqa: S704 - escaped


def radios(f: Any, hint: Any = None) -> Markup:
    """A radio group: a fieldset with the label as its legend, hint and errors, one radio with its label per
    choice."""
    errors = f.errors
    described = describedby(f, hint)
    named = f' aria-describedby="{escape(described)}"' if described else ""
    options = "".join(f'<div class="radio">{_radio_input(option)} {option.label()}</div>' for option in f)
    return Markup(  # noqa: S704 - every value is escaped above or is WTForms' own markup
        f'<fieldset class="field radios{" field-error" if errors else ""}"{named}>\n'
        f"  <legend>{escape(f.label.text)}</legend>\n"
        f"  {_hint_and_errors(f, hint, errors)}{options}\n"
        "</fieldset>"
    )
