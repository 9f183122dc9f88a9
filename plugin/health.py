"""Liveness and readiness for load balancers and orchestrators: no login, no session, no secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Flask, current_app, jsonify
from werkzeug.wrappers import Response

from plugin.config import AppConfig

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

READY_PROBE = "readyz-probe"


def _config(app: Flask) -> None:
    if not isinstance(app.config.get("RESOURCEGROEP"), AppConfig):
        raise RuntimeError("no configuration loaded")


def _session_store(app: Flask) -> None:
    app.extensions["session_store"].has_pending(READY_PROBE)  # a read: raises when the store cannot be reached


def _outbox(app: Flask) -> None:
    app.extensions["resourcegroep"]["outbox"].get(-1)  # a read of an id that never exists


CHECKS: dict[str, Callable[[Flask], None]] = {
    "config": _config,
    "session_store": _session_store,
    "outbox": _outbox,
}


def _plain(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain", headers={"Cache-Control": "no-store"})


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and answers."""
    return _plain("ok", 200)


@bp.get("/readyz")
def readyz() -> Response:
    """200 when the configuration is loaded and the session store and outbox can be read; else 503 naming the
    check that failed (the reason goes to the log, not to the caller: it may hold paths)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check(app)
            checks[name] = "ok"
        except Exception as exc:
            log.warning("readiness check %s failed: %s", name, type(exc).__name__)
            checks[name] = "failed"
    ready = all(v == "ok" for v in checks.values())
    response = jsonify(status="ready" if ready else "not ready", checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
