"""Launch routes: start page, EHR launch, Koppeltaal launch, standalone launch, redirect URI, JWKS, launch summary."""

from __future__ import annotations

import re

import requests
from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from fhir_mappings.audit import VIEW_LAUNCH, VIEW_LAUNCH_TASK
from fhir_mappings.refs import FHIR_ID
from plugin.audit.web import request_audit
from plugin.launch.context import (
    browser_session_id,
    hti_verifier,
    koppeltaal_backend,
    koppeltaal_domain,
    koppeltaal_domains,
    launch_required,
    renew_browser_session,
    smart_client,
)
from plugin.launch.fhir_read import read_launch_task, read_person, task_patient
from plugin.web.forms import BaseForm
from smart_launch import (
    BackendServicesClient,
    HtiTokenError,
    LaunchContext,
    SigningKey,
    UnknownIssuerError,
    public_jwks,
)

TASK_REFERENCE = re.compile(rf"Task/{FHIR_ID}")

bp = Blueprint("launch", __name__)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.record_once
def _exempt_koppeltaal_launch(state: BlueprintSetupState) -> None:
    # A Koppeltaal launch is a cross-site form POST from the portal: no CSRF token can be in it; the signed,
    # single-use HTI token addressed to this app is the proof instead.
    state.app.extensions["csrf"].exempt(koppeltaal_launch)


def _koppeltaal_names() -> set[str]:
    return {d.name for d in koppeltaal_domains()}


@bp.get("/")
def start() -> str:
    """Start page for a standalone (patient portal) launch: one button per registered EHR (not Koppeltaal's)."""
    names = _koppeltaal_names()
    return render_template("launch/start.html", ehrs=[e for e in smart_client().registry if e.name not in names])


@bp.get("/launch")
def ehr_launch() -> Response:
    """EHR launch: check `iss` against the allow-list, then send the browser to authorize."""
    iss = request.args.get("iss")
    if iss and koppeltaal_domain(iss) is not None:
        raise HtiTokenError("not_posted", "a Koppeltaal launch is a POST with an HTI token")
    auth = smart_client().begin_ehr_launch(iss, request.args.get("launch"), browser_session_id())
    return _no_store(redirect(auth.url, code=302))


@bp.post("/launch")
def koppeltaal_launch() -> Response:
    """Koppeltaal 2.0 launch (KOP-KT-007): `iss` = the domain's FHIR base, `launch` = the HTI token. The token is
    verified (signature, aud, exp, jti once) before anything else; then the OIDC flow with `launch openid
    fhirUser` and PKCE starts."""
    domain = koppeltaal_domain(request.form.get("iss"))
    if domain is None:
        raise UnknownIssuerError(request.form.get("iss"), malformed=False)
    token = request.form.get("launch", "")
    hti = hti_verifier(domain).verify(token)
    client = smart_client()
    auth = client.begin_hti_launch(client.registry.by_name(domain.name), token, hti, browser_session_id())
    return _no_store(redirect(auth.url, code=303))


@bp.get("/standalone/<ehr_name>")
def standalone_launch(ehr_name: str) -> Response:
    """Standalone launch at a registered EHR (the EHR asks which patient)."""
    if ehr_name in _koppeltaal_names():
        raise HtiTokenError("not_posted", "a Koppeltaal domain has no standalone launch")
    auth = smart_client().begin_standalone_launch(ehr_name, browser_session_id())
    return _no_store(redirect(auth.url, code=302))


@bp.get("/callback")
def callback() -> Response:
    """The redirect URI: check state, exchange the code, then open the launch in its own context."""
    context = smart_client().complete_authorization(request.args.to_dict(flat=True), browser_session_id())
    if context.uses_backend_services:
        _check_launch_task(context)
    # A new session id at every successful login (no session fixation): what this browser started moves with it.
    renew_browser_session()
    home = current_app.config["HOME_ENDPOINT"]
    return _no_store(redirect(url_for(home, context_id=context.context_id), code=303))


def _check_launch_task(context: LaunchContext) -> None:
    """A Koppeltaal launch is about a Task (the HTI `resource`): read it with the domain's Backend Services token
    and keep to its patient. A missing Task, or one for another patient, ends the launch before it is used.

    The read leaves an access record, for the launching user, like every other: of the Task's patient (another
    patient's Task included: the read happened), else of the launch's patient (a missing Task: the attempt)."""
    backend = koppeltaal_backend(context.ehr_name)
    audit = request_audit()
    audit.on_behalf_of(context.fhir_user_reference, context.ehr_name)
    audit.acting(VIEW_LAUNCH_TASK)

    def token(renew: bool) -> str:
        if renew:
            backend.invalidate()
        return backend.token().access_token

    try:
        reference = context.resource
        if reference is None or not TASK_REFERENCE.fullmatch(reference):
            raise HtiTokenError("task_mismatch", "the launch names no Task")
        if context.patient is not None:
            audit.about(f"Patient/{context.patient}")
        try:
            task = read_launch_task(context.fhir_base_url, reference, token)
        except requests.RequestException as exc:
            raise HtiTokenError("task_unavailable", f"the Task could not be read: {type(exc).__name__}") from exc
        if task is None:
            raise HtiTokenError("task_mismatch", f"{reference} does not exist")
        owner = task_patient(task) or context.patient
        if owner is not None:
            audit.reading(f"Patient/{owner}", [reference])
        if context.patient is not None and task_patient(task) != context.patient:
            raise HtiTokenError("task_mismatch", f"{reference} is not for the launch's patient")
    except Exception:
        smart_client().end_launch(context.context_id)
        raise


@bp.post("/uitloggen")
def logout() -> tuple[str, int]:
    """End the app session: every launch of this browser (its tokens included) is forgotten on the server."""
    if not BaseForm().validate_on_submit():
        return render_template("launch/logged_out.html", done=False), 400
    smart_client().store.end_session(browser_session_id())
    session.clear()  # the session interface deletes the cookie
    return render_template("launch/logged_out.html", done=True), 200


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    """The app's public keys (private_key_jwt and Backend Services)."""
    keys: list[SigningKey] = smart_client().signing_keys()
    backend: BackendServicesClient | None = current_app.extensions.get("backend_client")
    if backend is not None:
        keys.append(backend.signing_key)
    response = jsonify(public_jwks(keys))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/c/<context_id>/verbinding")
@launch_required
def home(context_id: str) -> str:
    """Summary of the launch: patient, user, what the app may do (linked from every group page)."""
    launch = g.launch
    if launch.patient_id:
        request_audit().acting(VIEW_LAUNCH)
        request_audit().reading(f"Patient/{launch.patient_id}", [f"Patient/{launch.patient_id}"])
    token = launch.access_token()
    patient = read_person(launch.fhir_base_url, f"Patient/{launch.patient_id}", token) if launch.patient_id else None
    user = read_person(launch.fhir_base_url, launch.fhir_user_reference, token) if launch.fhir_user_reference else None
    minutes = current_app.config["RESOURCEGROEP"].session_idle_timeout // 60
    return render_template("launch/home.html", launch=launch, patient=patient, user=user, session_idle_minutes=minutes)
