"""A faster `wtforms.widgets.html_params`: the same attributes, the same text, a few times cheaper.

WTForms writes every attribute of every input, option and label through `html_params`, which formats each one
with `Markup.format` (a new escaping formatter per attribute). A form page writes a few hundred attributes (a select
of goals, eleven score radios): on the goal page that was about a third of the rendering. `fast_html_params`
builds the same string with plain escaping; `install()` puts it where WTForms' widgets and labels look it up.
"""

from __future__ import annotations

from typing import Any

import wtforms.widgets
import wtforms.widgets.core
from markupsafe import Markup, escape

ORIGINAL_HTML_PARAMS = wtforms.widgets.core.html_params
# Argument name -> attribute name, escaped (a form uses a few dozen; at most this many are kept).
_NAMES: dict[str, str] = {}
_NAMES_SIZE = 1024


def _attribute_name(key: str) -> str:
    """WTForms' `clean_key`: `class_` -> `class`, `data_x_y` -> `data-x-y`, `aria_x` -> `aria-x`."""
    key = key.rstrip("_")
    if key.startswith(("data_", "aria_")):
        key = key.replace("_", "-")
    return key


def fast_html_params(**kwargs: Any) -> Markup:
    """What `wtforms.widgets.core.html_params` returns for the same arguments: sorted by argument name, `x_=`
    without the underscore, `data_`/`aria_` with hyphens, True as a bare attribute, False left out, values
    escaped (a double quote too)."""
    params = []
    for key, value in sorted(kwargs.items()):
        name = _NAMES.get(key)
        if name is None:
            name = str(escape(_attribute_name(key)))
            if len(_NAMES) < _NAMES_SIZE:
                _NAMES[key] = name
        if value is True:
            params.append(name)
        elif value is not False:
            params.append(f'{name}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))  # noqa: S704 - every name and value is escaped above


# What `Select._dispatch_render_option` answered per select class and its `render_option` (WTForms works it out
# from the method's signature on every select it renders; a class's method does not change).
_DISPATCH: dict[tuple[type, Any], Any] = {}
_ORIGINAL_DISPATCH: Any = vars(wtforms.widgets.core.Select).get("_dispatch_render_option")  # a classmethod


# WTForms' own `Select.render_option` (the function under the classmethod), and what writes the same options faster.
_WTFORMS_RENDER_OPTION: Any = getattr(vars(wtforms.widgets.core.Select).get("render_option"), "__func__", None)


def plain_option(choice: Any) -> Markup:
    """What WTForms' `Select.render_option(choice)` writes, a few times cheaper: `<option value="...">label</option>`
    (`selected` before `value`, as `html_params` sorts them), the label the value when it has none. An option
    with attributes of its own (`render_kw`) is written by WTForms."""
    if choice.render_kw:
        return _WTFORMS_RENDER_OPTION(wtforms.widgets.core.Select, choice)  # type: ignore[no-any-return]
    value = choice.value
    if isinstance(value, bool):
        value = str(value)
    written = str(escape(value)).replace(chr(34), "&quot;")
    label = escape(choice.label or choice.value)
    if choice.selected:
        return Markup(f'<option selected value="{written}">{label}</option>')  # noqa: S704 - escaped above
    return Markup(f'<option value="{written}">{label}</option>')  # noqa: S704 - escaped above


def _remembered_dispatch(cls: type) -> Any:
    """`Select._dispatch_render_option`, asked once per class and `render_option` (an old-style override is then
    warned about once, not on every render); a select that writes its options with WTForms' own `render_option`
    gets `plain_option`, which writes the same."""
    key = (cls, cls.render_option)  # type: ignore[attr-defined]
    found = _DISPATCH.get(key)
    if found is None:
        found = _ORIGINAL_DISPATCH.__func__(cls)
        if _WTFORMS_RENDER_OPTION is not None and getattr(found, "__func__", None) is _WTFORMS_RENDER_OPTION:
            found = plain_option
        _DISPATCH[key] = found
    return found


def install() -> None:
    """Make WTForms' widgets and labels use `fast_html_params` (module functions and the `Input`/`Button`
    static methods that copied the original), and selects ask once how to call their `render_option`."""
    if isinstance(_ORIGINAL_DISPATCH, classmethod) and _ORIGINAL_DISPATCH.__func__ is not _remembered_dispatch:
        wtforms.widgets.core.Select._dispatch_render_option = classmethod(_remembered_dispatch)  # type: ignore[attr-defined]
    wtforms.widgets.core.html_params = fast_html_params
    wtforms.widgets.html_params = fast_html_params
    for widget in vars(wtforms.widgets.core).values():
        if isinstance(widget, type) and vars(widget).get("html_params") is not None:
            widget.html_params = staticmethod(fast_html_params)  # type: ignore[attr-defined]
