"""Templates let go of what they showed when the request ends.

Jinja's template context lives in reference cycles (a macro's closure holds the context that holds the macro; a
`with context` import's module holds a copy of the page's variables), so after a page it is freed only by a full
collection of the garbage collector, and that is rare in a worker holding many long-lived objects. Until then the
page's variables stay alive with it: the page's group (a huge group's read, ~40 MB) and the request's `g`. A worker
could hold the previous page's group beside the next one's, whatever the read cache lets go.

`ReleasingTemplate` notes every context it makes for a page's own variables (a render, an include, a `with
context` import) on the request's app context; when that ends, each one's variables are dropped. Contexts made
without variables (the cached module of a plain import, shared between requests) are not noted and never touched,
and neither is anything rendered outside an app context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from flask import Flask, g, has_app_context
from jinja2.runtime import Context

_NOTED = "rg_template_contexts"


class ReleasingTemplate(jinja2.Template):
    """A template whose contexts for a page's variables are dropped when the request's app context ends."""

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> Context:
        context = super().new_context(vars, shared, locals)
        if vars and has_app_context():
            noted: list[Context] | None = g.get(_NOTED)
            if noted is None:
                noted = []
                setattr(g, _NOTED, noted)
            noted.append(context)
        return context


def release_template_contexts(_error: BaseException | None = None) -> None:
    """Drop the variables of every context this app context's templates made for a page (rebinding, not clearing:
    a shared context's dicts belong to its caller)."""
    for context in g.pop(_NOTED, ()):
        context.parent = {}
        context.vars = {}
        context.blocks = {}


def init_templating(app: Flask) -> None:
    """Use `ReleasingTemplate` for the app's templates (before any is loaded)."""
    app.jinja_env.template_class = ReleasingTemplate
    app.teardown_appcontext(release_template_contexts)
