"""The current app context's `g`, read without the `g` proxy: for what a page asks for hundreds of times."""

from __future__ import annotations

from typing import Any

from flask.globals import _cv_app


def app_globals() -> dict[str, Any] | None:
    """The attributes of the current app context's `g` (None outside an app context), as a dict to read and set.

    Every access through the `g` proxy costs several lookups; a page asks for the request's catalog (each text),
    the launch (each link) and the icons' address (each icon) a few hundred times. Flask's private context
    variable is read here only, as Flask's own `g` proxy reads it."""
    context = _cv_app.get(None)
    return None if context is None else vars(context.g)
