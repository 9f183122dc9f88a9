"""The Flask app factory."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from flask import Flask, current_app, g, render_template, request, url_for
from flask.globals import _cv_request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from fhir_mappings.rights import NotAllowed
from plugin.appglobals import app_globals
from plugin.audit.web import init_audit
from plugin.config import AppConfig, load_config
from plugin.group.service import again_with_every_score
from plugin.group.views import bp as group_bp
from plugin.health import bp as health_bp
from plugin.i18n import TRANSLATIONS_DIR, init_i18n
from plugin.launch import bp as launch_bp
from plugin.launch.messages import RESTART_HINT, escape_detail, problem_for
from plugin.logs import init_request_logging
from plugin.session_store import ServerSideSessionInterface
from plugin.stores import open_sqlite_outbox as open_outbox  # noqa: F401  (kept importable from here)
from plugin.stores import stores_from_config
from plugin.sync.caseload import PractitionerRoles
from plugin.sync.errors import OutageError, SyncError, Unauthorized
from plugin.sync.readcache import ReadCache
from plugin.web.actions import user_message
from plugin.web.context import init_page_context
from plugin.web.format import init_format
from plugin.web.templating import init_templating
from smart_launch import (
    BackendServicesClient,
    ConfigurationError,
    Discovery,
    EhrRegistry,
    SessionStore,
    SmartClient,
    SmartLaunchError,
)

log = logging.getLogger(__name__)
csrf = CSRFProtect()

# The areas of a group: one package each, with `views.bp` (the blueprint), its templates and translations.
AREA_PACKAGES: tuple[str, ...] = (
    "plugin.members",
    "plugin.goals",
    "plugin.agreements",
    "plugin.meetings",
    "plugin.notes",
)


def area_packages() -> list[str]:
    """The area packages present in this build."""
    return [
        name
        for name in AREA_PACKAGES
        if importlib.util.find_spec(name) is not None and importlib.util.find_spec(f"{name}.views") is not None
    ]


def translation_directories() -> str:
    """The app's catalog plus each area's own (Flask-Babel merges them)."""
    dirs = [TRANSLATIONS_DIR]
    for name in area_packages():
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            folder = Path(spec.origin).parent / "translations"
            if folder.is_dir():
                dirs.append(folder)
    return ";".join(str(d) for d in dirs)


def content_security_policy(frame_ancestors: tuple[str, ...]) -> str:
    """The CSP: own resources only, no inline script, framing only by the configured EHRs."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            f"frame-ancestors {' '.join(frame_ancestors) or chr(39) + 'none' + chr(39)}",
        ]
    )


def _render_problem(status: int, title: str, message: str, hint: str, **extra: Any) -> tuple[str, int]:
    back = _way_back() if status in _WAY_BACK else ""  # not after an outage or an ended session: it would fail again
    page = render_template("errors/error.html", title=title, message=message, hint=hint, back=back, **extra)
    return page, status


_WAY_BACK = frozenset({403, 404, 413})  # refusals whose group page still works


def _way_back() -> str:
    """The group's start page when the problem came up inside a launch (and not on that page itself), else ""."""
    launch, home = g.get("launch"), current_app.config["HOME_ENDPOINT"]
    if launch is None or request.endpoint == home:
        return ""
    return url_for(home, context_id=launch.context_id)


def _data_folder(config: AppConfig) -> Path:
    """Where the app keeps its local files (the outbox's folder); a temporary one when none is configured."""
    if config.outbox_db:
        return Path(config.outbox_db).parent
    return Path(tempfile.mkdtemp(prefix="resourcegroep-"))


def create_app(config: AppConfig | None = None) -> Flask:
    """Build the app from `config` (default: the TOML file named by RESOURCEGROEP_CONFIG)."""
    config = config or load_config()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_NAME="rg_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=config.session_cookie_secure,
        SESSION_COOKIE_SAMESITE=config.session_cookie_samesite,
        # Partitioned (CHIPS) keeps the cookie working inside the EHR's iframe where third-party cookies are blocked.
        SESSION_COOKIE_PARTITIONED=config.session_cookie_secure and config.session_cookie_samesite == "None",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=config.session_lifetime),
        WTF_CSRF_TIME_LIMIT=config.session_lifetime,
        WTF_CSRF_SSL_STRICT=False,  # inside an iframe the Referer is the EHR's; the token is what counts
        HOME_ENDPOINT="group.overview",
        BABEL_TRANSLATION_DIRECTORIES=translation_directories(),
        RESOURCEGROEP=config,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )

    stores = stores_from_config(config)  # SQLite files by default, Redis with [redis] url (several instances)
    store: SessionStore = stores.session_store
    http = requests.Session()
    app.extensions["session_store"] = store
    app.extensions["smart_client"] = SmartClient(
        EhrRegistry(config.ehrs),
        store,
        redirect_uri=config.redirect_uri,
        http=http,
        discovery=Discovery(http, ttl=config.discovery_ttl),
    )
    if config.backend is not None:
        app.extensions["backend_client"] = BackendServicesClient(config.backend, http=http)
    app.session_interface = ServerSideSessionInterface(
        store, idle=config.session_idle_timeout, absolute=config.session_lifetime
    )
    app.extensions["resourcegroep"] = {
        "outbox": stores.outbox,
        "submissions": stores.submissions,
        "capabilities": stores.capabilities,
        "client_options": {},
        # Per process, in memory only: groups already read into the domain (plugin/sync/readcache.py).
        "read_cache": ReadCache(config.read_cache_resources, config.read_cache_ttl),
        # How many of the newest scores the overview and the goal list read (None: every score).
        "overview_scores": config.overview_scores or None,
        # Pages that show every score read them page by page (bounded memory, a request per 1,000 scores).
        "every_score_in_pages": config.every_score_in_pages,
        # Per process: each practitioner's PractitionerRoles, for the caseload (plugin/sync/caseload.py).
        "practitioner_roles": PractitionerRoles(),
    }

    try:
        init_audit(app, config, _data_folder(config), app.extensions["resourcegroep"]["client_options"])
    except OSError as exc:
        raise ConfigurationError(
            f"the audit log cannot be written: {exc}. Set [audit] log_file (or RESOURCEGROEP_AUDIT_LOG_FILE) "
            "to a writable file."
        ) from exc
    init_templating(app)  # before any template is loaded
    init_request_logging(app)
    csrf.init_app(app)
    init_i18n(app)
    init_format(app)
    init_page_context(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(launch_bp)
    app.register_blueprint(group_bp)
    for name in area_packages():
        app.register_blueprint(importlib.import_module(f"{name}.views").bp)
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static":  # a page reads the newest scores; one that reads them as all of them runs again
            app.view_functions[endpoint] = again_with_every_score(view)
    _register_error_handlers(app)
    _register_security_headers(app, config)

    # Per endpoint, whether its rules take a context id: asked of the URL map once per endpoint, not on every
    # url_for (a page builds a few dozen links). Rules are all added before the first request.
    expects_context: dict[str, bool] = {}

    @app.url_defaults
    def fill_context_id(endpoint: str, values: dict[str, Any]) -> None:
        # Inside a launch, url_for() fills in the current context id so links stay in the same tab's launch.
        if "context_id" in values:
            return
        known = app_globals()  # every url_for of a page asks
        launch = None if known is None else known.get("launch")
        if launch is None:
            return
        expects = expects_context.get(endpoint)
        if expects is None:
            expects = expects_context[endpoint] = app.url_map.is_endpoint_expecting(endpoint, "context_id")
        if expects:
            values["context_id"] = launch.context_id

    _cache_built_urls(app)
    return app


# At most this many built addresses are kept per app (a launch's pages link a few hundred); then it starts over.
_BUILT_URLS_SIZE = 8192


def _cache_built_urls(app: Flask) -> None:
    """Make `url_for` (Python's and the templates') remember the addresses it built, across requests.

    Within a request, an internal address (no `_external`, `_scheme`, `_method`, `_anchor`, an endpoint not relative
    to the blueprint) is what the URL map builds from the endpoint and the values after the URL defaults (the launch's
    context id), given the request's script root, host, subdomain and scheme: the key holds all of these, each value
    with its type (`1` and `True` write differently). Rules are all added before the first request. Anything else,
    an unhashable value, or a build that fails goes to Flask's own `url_for`, unchanged.
    """
    built: dict[tuple[Any, ...], str] = {}
    flask_url_for = app.url_for

    def url_for(endpoint: str, /, **values: Any) -> str:
        context = _cv_request.get(None)  # what Flask's own url_for asks
        # flask.url_for passes _anchor, _method, _scheme and _external on, None when not given.
        if context is None or endpoint[:1] == "." or any(v is not None for n, v in values.items() if n[:1] == "_"):
            return flask_url_for(endpoint, **values)
        adapter = context.url_adapter
        if adapter is None:
            return flask_url_for(endpoint, **values)
        filled = {name: value for name, value in values.items() if name[:1] != "_"}
        app.inject_url_defaults(endpoint, filled)
        try:
            key = (
                endpoint,
                adapter.script_name,
                adapter.server_name,
                adapter.subdomain,
                adapter.url_scheme,
                adapter.websocket,
                *sorted((name, type(value), value) for name, value in filled.items()),
            )
            found = built.get(key)
        except TypeError:  # an unhashable value (a list of query values) or values that cannot be sorted
            return flask_url_for(endpoint, **values)
        if found is None:
            found = flask_url_for(endpoint, **values)
            if len(built) >= _BUILT_URLS_SIZE:
                built.clear()
            built[key] = found
        return found

    app.url_for = url_for  # type: ignore[method-assign,assignment]  # flask.url_for calls current_app.url_for
    app.jinja_env.globals["url_for"] = url_for


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(SmartLaunchError)
    def smart_error(error: SmartLaunchError) -> tuple[str, int]:
        problem = problem_for(error)
        log.warning("launch problem %s: %s", type(error).__name__, error)
        return _render_problem(
            problem.status,
            problem.title,
            problem.message,
            problem.hint,
            detail=escape_detail(problem.detail),
            code=problem.code,
        )

    @app.errorhandler(NotAllowed)
    def not_allowed(error: NotAllowed) -> tuple[str, int]:
        log.info("refused: %s", error.log_message)
        return _render_problem(403, gettext("This is not for your role"), user_message(error), "")

    @app.errorhandler(SyncError)
    def ehr_problem(error: SyncError) -> tuple[str, int]:
        # A page could not load the group (an outage, a refused read): say so in the user's words, never a 500.
        log.warning("a page could not be served: %s %s", type(error).__name__, error)
        if isinstance(error, Unauthorized):
            return _render_problem(401, gettext("Your session has ended"), user_message(error), str(RESTART_HINT))
        if isinstance(error, OutageError):
            return _render_problem(
                503,
                gettext("The EHR cannot be reached right now"),
                user_message(error),
                gettext("Wait a moment and reload the page. Nothing was changed."),
            )
        return _render_problem(502, gettext("The EHR answered with an error"), user_message(error), str(RESTART_HINT))

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return _render_problem(
            400,
            gettext("The form has expired"),
            gettext("The form could not be checked. Go back, reload the page and try again."),
            str(RESTART_HINT),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
        status = error.code or 500
        if status == 404:
            return _render_problem(404, gettext("Page not found"), gettext("This page does not exist."), "")
        if status == 413:
            return _render_problem(
                413,
                gettext("Too much to send at once"),
                gettext("What was sent is larger than 1 MB. Make the text shorter and send it again."),
                "",
            )
        if status == 403:
            return _render_problem(
                403, gettext("No access to this page"), gettext("You may not open this page."), str(RESTART_HINT)
            )
        if status >= 500:
            return _render_problem(
                status,
                gettext("Something went wrong"),
                gettext("The app could not handle your request."),
                str(RESTART_HINT),
            )
        return _render_problem(
            status, gettext("The request could not be handled"), gettext("The app could not handle your request."), ""
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        log.exception("unexpected error", exc_info=error)
        return _render_problem(
            500, gettext("Something went wrong"), gettext("The app could not handle your request."), str(RESTART_HINT)
        )


# HSTS for a year when the app is served over https (not includeSubDomains: the clinic's other hosts are not ours).
HSTS = "max-age=31536000"


def _register_security_headers(app: Flask, config: AppConfig) -> None:
    csp = content_security_policy(config.frame_ancestors)
    https = config.public_base_url.lower().startswith("https://")

    @app.after_request
    def security_headers(response: Response) -> Response:
        if https:
            response.headers["Strict-Transport-Security"] = HSTS
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")  # pages show patient data
        return response
