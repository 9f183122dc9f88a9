"""Flask blueprint of the sandbox authorization server: discovery, authorize, token, JWKS, style."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlparse

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from flask import Blueprint, Response, jsonify, render_template, request, session
from flask.typing import ResponseReturnValue

from sandbox.access import Person
from sandbox.auth.i18n import Translator, current_language, other_language_url
from sandbox.auth.scopes import has_patient_scopes, split_scope
from sandbox.auth.server import SandboxAuthServer
from sandbox.auth.store import LaunchContext, Subject
from sandbox.auth.texts import TEXTS

# Session key of the person logged in to the sandbox (EPD login, portal, or this server's login page):
# one sign-on for the whole sandbox, as a real EPD and its portal share their identity provider.
SSO_SESSION_KEY = "sandbox_sso_user"
BROWSER_SESSION_KEY = "sandbox_browser"  # a random id of this browser's sandbox session (launch binding)


def browser_binding() -> str:
    """A random id of this browser's sandbox session, made on first use: what an EHR launch is bound to."""
    value = session.get(BROWSER_SESSION_KEY)
    if not isinstance(value, str) or not value:
        value = secrets.token_urlsafe(16)
        session[BROWSER_SESSION_KEY] = value
    return value


AUTO_LOGIN_HINT = "sandbox_auto"
# Form fields of the login and patient pages; they never reach the app.
USER_FIELD = "sandbox_user"
PATIENT_FIELD = "sandbox_patient"
_PAGE_FIELDS = frozenset({USER_FIELD, PATIENT_FIELD, "lang"})


class _NeedsPage(Exception):
    """A human has to choose something first; carries the rendered page."""

    def __init__(self, response: Response | str) -> None:
        super().__init__("page needed")
        self.response = response


def create_auth_blueprint(
    server: SandboxAuthServer, *, name: str = "sandbox_auth", url_prefix: str | None = None
) -> Blueprint:
    """Blueprint with the auth endpoints; by default mounted at the path of the configured issuer."""
    if url_prefix is None:
        url_prefix = urlparse(server.config.issuer_url).path or None
    bp = Blueprint(
        name,
        __name__,
        url_prefix=url_prefix,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )

    @bp.context_processor
    def _texts() -> dict[str, Any]:
        language = current_language()
        return {
            "t": Translator(TEXTS, language),
            "lang": language,
            "other_language_url": other_language_url(language),
            "static_endpoint": f"{bp.name}.static",
        }

    @bp.get("/.well-known/smart-configuration")
    def smart_configuration() -> Response:
        return server.smart_configuration_response()

    @bp.get("/jwks.json")
    def jwks() -> Response:
        response = jsonify(server.key.jwks())
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @bp.get("/smart-style.json")
    def smart_style() -> Response:
        response = jsonify(server.style())
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @bp.post("/introspect")
    def introspect() -> Response:
        body, status = server.introspect(request.form)
        response = jsonify(body)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response

    @bp.post("/token")
    def token() -> Response:
        response: Response = server.oauth.create_token_response()
        return response

    @bp.route("/authorize", methods=["GET", "POST"])
    def authorize() -> ResponseReturnValue:
        try:
            grant = server.oauth.get_consent_grant(end_user=_quick_user(server))
        except OAuth2Error as error:
            return _error_response(server, error)
        launch: LaunchContext | None = grant.request.smart_launch
        try:
            person = _choose_user(server, launch, grant)
            subject = _choose_context(server, launch, person, grant)
        except _NeedsPage as page:
            return page.response
        except OAuth2Error as error:
            error.state = request.values.get("state")
            return _error_response(server, error)
        response: Response = server.oauth.create_authorization_response(grant=grant, grant_user=subject)
        return response

    return bp


def _person(server: SandboxAuthServer, reference: str | None) -> Person | None:
    """The Directory entry for "Type/id", if it exists and may log in."""
    if not reference or "/" not in reference:
        return None
    resource_type, _, id_ = reference.partition("/")
    if resource_type not in ("Practitioner", "Patient", "RelatedPerson"):
        return None
    return server.directory.get(resource_type, id_)


def _auto_choice(server: SandboxAuthServer) -> tuple[str | None, str | None] | None:
    """(user reference, patient id) to use without pages, or None when a human must choose.

    `login_hint=sandbox_auto[:Type/id[:patientId]]` asks for it per request; `auto_login` always.
    """
    hint = request.values.get("login_hint", "")
    hinted = server.config.allow_auto_login_hint and hint.split(":", 1)[0] == AUTO_LOGIN_HINT
    if not (hinted or server.config.auto_login):
        return None
    parts = hint.split(":") if hinted else []
    user = parts[1] if len(parts) > 1 and parts[1] else server.config.default_user
    patient = parts[2] if len(parts) > 2 and parts[2] else server.config.default_patient
    if user is None:
        practitioners = server.directory.practitioners()
        user = f"Practitioner/{practitioners[0].id}" if practitioners else None
    if patient is None:
        patients = server.directory.patients()
        patient = patients[0].id if patients else None
    return user, patient


def _prompts() -> list[str]:
    return request.values.get("prompt", "").split()


def _quick_user(server: SandboxAuthServer) -> Person | None:
    """Who is known before any page (for OIDC `prompt` handling); validated again later."""
    launch_value = request.values.get("launch")
    if launch_value:
        context = server.resolve_launch(launch_value)
        # A Koppeltaal launch names its user in the HTI token; who logs in is still asked (see _choose_user).
        if context is not None and context.user and not context.koppeltaal:
            return _person(server, context.user)
    chosen = _person(server, request.values.get(USER_FIELD))
    if chosen is not None:
        return chosen
    auto = _auto_choice(server)
    if auto is not None:
        return _person(server, auto[0])
    if "login" not in _prompts():
        return _person(server, session.get(SSO_SESSION_KEY))
    return None


def _page_needed(grant: Any, template: str, **context: Any) -> _NeedsPage:
    if "none" in _prompts():
        return _NeedsPage(
            _error_response_for(
                OAuth2Error(
                    "The user has to choose on a page, but prompt=none was asked.",
                    error="interaction_required",
                    redirect_uri=grant.redirect_uri,
                    state=request.values.get("state"),
                ),
                grant.server,
            )
        )
    hidden = [(k, v) for k, v in request.values.items(multi=True) if k not in _PAGE_FIELDS]
    client = grant.request.client.client_id
    return _NeedsPage(render_template(template, hidden=hidden, client=client, **context))


def _choose_user(server: SandboxAuthServer, launch: LaunchContext | None, grant: Any) -> Person:
    """The user of this authorization: the launch's, a picked one, the automatic one, or the SSO one."""
    if launch is not None and launch.browser is not None and launch.browser != session.get(BROWSER_SESSION_KEY):
        raise OAuth2Error(
            "The launch was made in another browser session: open the app again from the EPD.",
            error="access_denied",
            redirect_uri=grant.redirect_uri,
            state=request.values.get("state"),
        )
    if launch is not None and launch.koppeltaal:
        # KOP-KT-007: the HTI token's `sub` is not trusted on its own. The user authenticates here (the sandbox's
        # single sign-on, or the login page) and must be the person the HTI token names.
        person = _authenticated_user(server, grant, koppeltaal=True)
        if launch.user is None or f"{person.resource_type}/{person.id}" != launch.user:
            page = render_template(
                "sandbox_auth/user_mismatch.html", user=person, expected=launch.user or "", client=_client_id(grant)
            )
            raise _NeedsPage(Response(page, status=403, mimetype="text/html"))
        return person
    if launch is not None and launch.user:
        named = _person(server, launch.user)
        if named is None:
            raise InvalidRequestError("The launch refers to an unknown user.", redirect_uri=grant.redirect_uri)
        return named
    return _authenticated_user(server, grant)


def _client_id(grant: Any) -> str:
    client_id: str = grant.request.client.client_id
    return client_id


def _authenticated_user(server: SandboxAuthServer, grant: Any, *, koppeltaal: bool = False) -> Person:
    """Who logs in: chosen on the login page, automatic (tests, demos), or already signed in (single sign-on).
    In a Koppeltaal launch the signed-in person comes before the automatic one."""
    if koppeltaal and not request.values.get(USER_FIELD) and "login" not in _prompts():
        signed_in = _person(server, session.get(SSO_SESSION_KEY))
        if signed_in is not None:
            return signed_in
    submitted = request.values.get(USER_FIELD)
    if submitted:
        person = _person(server, submitted)
        if person is not None:
            session[SSO_SESSION_KEY] = submitted
            return person
    else:
        auto = _auto_choice(server)
        if auto is not None:
            person = _person(server, auto[0])
            if person is None:
                raise InvalidRequestError("The automatic sandbox user does not exist.", redirect_uri=grant.redirect_uri)
            return person
        if "login" not in _prompts():
            person = _person(server, session.get(SSO_SESSION_KEY))
            if person is not None:
                return person
    raise _page_needed(
        grant,
        "sandbox_auth/login.html",
        practitioners=server.directory.practitioners(),
        patients=server.directory.patients(),
        related_people=server.directory.related_people(),
        invalid=bool(submitted),
    )


def _choose_context(server: SandboxAuthServer, launch: LaunchContext | None, person: Person, grant: Any) -> Subject:
    """The launch context: from the EHR launch, or (standalone) the patient the user is or picks."""
    if launch is not None:
        return Subject(
            person=person,
            patient=launch.patient,
            encounter=launch.encounter,
            intent=launch.intent,
            need_patient_banner=launch.need_patient_banner,
            fhir_context=launch.fhir_context,
            koppeltaal=launch.koppeltaal,
        )
    scopes = split_scope(grant.request.scope)
    if person.resource_type in ("Patient", "RelatedPerson"):
        # A patient opens their own record; a related person (family, a friend) the record of their patient,
        # with the same patient/ scopes: the app decides what they may see and do there.
        wants_patient = "launch/patient" in scopes or has_patient_scopes(scopes)
        own = person.id if person.resource_type == "Patient" else person.patient
        return Subject(person=person, patient=own if wants_patient else None)
    if "launch/patient" not in scopes:
        return Subject(person=person)
    submitted = request.values.get(PATIENT_FIELD)
    if not submitted:
        auto = _auto_choice(server)
        submitted = auto[1] if auto is not None else None
    patient = server.directory.get("Patient", submitted) if submitted else None
    if patient is not None:
        return Subject(person=person, patient=patient.id)
    raise _page_needed(
        grant,
        "sandbox_auth/pick_patient.html",
        user=person,
        user_reference=f"{person.resource_type}/{person.id}",
        patients=server.directory.patients(),
        invalid=bool(submitted),
    )


def _error_response_for(error: OAuth2Error, oauth: Any) -> Response:
    response: Response = oauth.handle_error_response(None, error)
    return response


def _error_response(server: SandboxAuthServer, error: OAuth2Error) -> Response | tuple[str, int]:
    """Send the error to a trusted redirect_uri, else show it on a page (never redirect to the unknown)."""
    if error.redirect_uri:
        return _error_response_for(error, server.oauth)
    page = render_template("sandbox_auth/error.html", error=error.error, description=error.description or "")
    return page, 400
