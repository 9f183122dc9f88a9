"""No version banner: the `Server` header names the product only, never a server or Python version.

Werkzeug (the demo and the tests' live servers) says ``Werkzeug/3.x Python/3.11.x`` and gunicorn says
``gunicorn`` by default; both say ``resourcegroep`` with these.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.serving import WSGIRequestHandler

SERVER_NAME = "resourcegroep"
_CONTEXT = re.compile(r"^/c/[^/]+")


def loggable_path(target: str) -> str:
    """A request target fit for the access log: no query string (codes, state, launch values, iss) and no
    launch context id."""
    return _CONTEXT.sub("/c/…", target.split("?", 1)[0].split("#", 1)[0])


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler with the product name as the `Server` header, and an access log line
    without query strings or context ids."""

    def version_string(self) -> str:
        return SERVER_NAME

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        self.log("info", '"%s %s" %s', self.command, loggable_path(self.path), getattr(code, "value", code))


def hide_gunicorn_banner() -> None:
    """Make gunicorn's `Server` header the product name (call before the workers serve)."""
    import gunicorn.http.wsgi  # type: ignore[import-untyped]

    gunicorn.http.wsgi.SERVER = SERVER_NAME
