"""Structured logs: one JSON object per line, with the request id of the request being handled.

The request id comes from an incoming ``X-Request-ID`` when that is a sane token (else a new one is made) and is
echoed in the response header. Access lines carry method, path (never the query string), status and duration.
Messages are scrubbed of OAuth values (``code``, ``state``, ``launch``, tokens) before they are written.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, request
from werkzeug.wrappers import Response

REQUEST_ID_HEADER = "X-Request-ID"
ACCESS_LOGGER = "resourcegroep.access"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Query/form style values and bearer tokens that must never reach a log line.
_SECRET_PARAMS = re.compile(
    r"(?i)\b(code|state|launch|access_token|refresh_token|id_token|client_secret|client_assertion|"
    r"code_verifier|assertion|password)=([^&\s\"']+)"
)
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with OAuth parameter values, bearer tokens and JWTs replaced by ``[redacted]``."""
    text = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def request_id_from(header: str | None) -> str:
    """The incoming id when it is a sane token, else a new random one."""
    if header and _SANE_ID.fullmatch(header):
        return header
    return secrets.token_hex(16)


def current_request_id() -> str | None:
    """The id of the request this thread handles (None outside a request)."""
    return _request_id.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and any access fields."""

    ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "remote_addr")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        for name in self.ACCESS_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines for the development server, scrubbed like the JSON ones."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        rid = getattr(record, "request_id", None) or current_request_id()
        return f"{line} [request_id={rid}]" if rid else line


def make_formatter(fmt: str) -> logging.Formatter:
    """The formatter for ``json`` or ``text``."""
    if fmt == "json":
        return JsonFormatter()
    if fmt == "text":
        return TextFormatter()
    raise ValueError(f"log format must be json or text, not {fmt!r}")


def configure_logging(fmt: str = "json", level: int | str = logging.INFO) -> None:
    """Send the root logger to stderr in `fmt` (``json`` or ``text``), replacing its handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # werkzeug's own access lines carry the query string (the launch and callback values): ours replace them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


class RedactFilter(logging.Filter):
    """Scrubs a record's message in place (for loggers whose lines we do not format: the development server's
    request lines carry the query string of /launch and /callback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def init_request_logging(app: Flask) -> None:
    """Give every request an id (echoed as ``X-Request-ID``) and write one access line per request."""
    access = logging.getLogger(ACCESS_LOGGER)
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactFilter) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(RedactFilter())

    @app.before_request
    def start_request() -> None:
        rid = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.request_id = rid
        g.request_started = time.perf_counter()
        g.request_id_token = _request_id.set(rid)

    @app.after_request
    def finish_request(response: Response) -> Response:
        rid = g.get("request_id")
        if rid is None:  # a failure before start_request ran
            rid = request_id_from(None)
        response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("request_started")
        duration = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        access.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": rid,
                "method": request.method,
                "path": request.path,  # never the query string: /launch and /callback carry secrets there
                "status": response.status_code,
                "duration_ms": duration,
            },
        )
        return response

    @app.teardown_request
    def forget_request(_: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            _request_id.reset(token)
