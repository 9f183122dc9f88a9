"""Flask blueprint of the sandbox EPD: practitioner login, patient list, patient page with the app in an
iframe (EHR launch), and a patient portal (standalone launch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from sandbox.access import Directory, Person
from sandbox.auth.i18n import Translator, current_language, other_language_url
from sandbox.auth.koppeltaal import PortalKey, task_id
from sandbox.auth.views import SSO_SESSION_KEY, browser_binding
from sandbox.epd.texts import TEXTS

PRACTITIONER_SESSION_KEY = "sandbox_epd_practitioner"
PORTAL_SESSION_KEY = "sandbox_portal_patient"  # who signed in at the portal: "Patient/<id>" or "RelatedPerson/<id>"
# Who may sign in at the portal: a patient, or a related person (family, a friend) of a patient.
PORTAL_TYPES = ("Patient", "RelatedPerson")


# Text keys of the two sign-in pages that share `pick_person.html`.
_PRACTITIONER_LOGIN = {
    "title": "login_title",
    "intro": "login_intro",
    "invalid": "choose_practitioner",
    "legend": "practitioners",
    "empty": "no_practitioners",
}


class LaunchIssuer(Protocol):
    """Creates EHR launch values (the sandbox auth server does)."""

    def create_launch(
        self,
        *,
        patient: str | None,
        user: str | None,
        encounter: str | None = None,
        intent: str | None = None,
        need_patient_banner: bool = False,
        fhir_context: tuple[str, ...] = (),
        browser: str | None = None,
    ) -> str: ...


@dataclass(frozen=True)
class EpdConfig:
    """Where the app lives and how the EPD introduces itself."""

    app_launch_url: str  # the app's EHR launch URL, e.g. http://127.0.0.1:8500/launch
    fhir_base_url: str  # sent as `iss`
    app_name: str = "Resourcegroep"
    app_standalone_url: str | None = None  # the app's start page for the portal; defaults to app_launch_url
    epd_name: str = "Sandbox-EPD"
    # Koppeltaal mode: the app opens through a signed HTI token posted to its launch URL (not a GET launch),
    # addressed to the app's Device.
    koppeltaal_device: str | None = None


def add_query(url: str, **params: str) -> str:
    """`url` with extra query parameters (keeps the ones it has)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def ehr_launch_url(config: EpdConfig, launch: str) -> str:
    """The iframe address of an EHR launch: `{app_launch_url}?iss={fhir_base}&launch={launch}`."""
    return add_query(config.app_launch_url, iss=config.fhir_base_url.rstrip("/"), launch=launch)


def standalone_url(config: EpdConfig) -> str:
    """The iframe address of the portal's standalone launch: the app's start page with `iss` as a hint."""
    return add_query(config.app_standalone_url or config.app_launch_url, iss=config.fhir_base_url.rstrip("/"))


def create_epd_blueprint(
    config: EpdConfig,
    directory: Directory,
    launches: LaunchIssuer,
    *,
    name: str = "sandbox_epd",
    url_prefix: str = "/epd",
    portal_key: PortalKey | None = None,
) -> Blueprint:
    """Blueprint with the EPD pages (mounted at `url_prefix`)."""
    bp = Blueprint(
        name,
        __name__,
        url_prefix=url_prefix,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )

    def practitioner() -> Person | None:
        id_ = session.get(PRACTITIONER_SESSION_KEY)
        return directory.get("Practitioner", id_) if id_ else None

    def person_at(reference: str) -> Person | None:
        """The portal user a form value or the session names: "Type/id", or a bare patient id."""
        resource_type, _, id_ = reference.rpartition("/")
        resource_type = resource_type or "Patient"
        if resource_type not in PORTAL_TYPES or not id_:
            return None
        return directory.get(resource_type, id_)

    def portal_user() -> Person | None:
        reference = session.get(PORTAL_SESSION_KEY)
        return person_at(reference) if isinstance(reference, str) else None

    def portal_page(me: Person, app_url: str | None) -> str:
        # A related person opens the record of their patient; the page names whose group it is.
        patient = directory.get("Patient", me.patient) if me.patient else None
        return render_template("sandbox_epd/portal.html", me=me, patient=patient or me, app_url=app_url)

    def not_found(t_key: str) -> tuple[str, int]:
        return render_template("sandbox_epd/not_found.html", message_key=t_key), 404

    @bp.context_processor
    def _page_context() -> dict[str, Any]:
        language = current_language()
        return {
            "t": Translator(TEXTS, language),
            "lang": language,
            "other_language_url": other_language_url(language),
            "epd": config,
            "bp": bp.name,
            "current_practitioner": practitioner(),
        }

    @bp.get("/")
    def home() -> ResponseReturnValue:
        target = "patients" if practitioner() else "login"
        return redirect(url_for(f"{bp.name}.{target}"))

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> ResponseReturnValue:
        invalid = False
        if request.method == "POST":
            chosen = directory.get("Practitioner", request.form.get("practitioner", ""))
            if chosen is not None:
                session[PRACTITIONER_SESSION_KEY] = chosen.id
                session[SSO_SESSION_KEY] = f"Practitioner/{chosen.id}"
                return redirect(url_for(f"{bp.name}.patients"))
            invalid = True
        return render_template(
            "sandbox_epd/pick_person.html",
            people=directory.practitioners(),
            invalid=invalid,
            field="practitioner",
            endpoint="login",
            texts=_PRACTITIONER_LOGIN,
        )

    @bp.post("/logout")
    def logout() -> ResponseReturnValue:
        for key in (PRACTITIONER_SESSION_KEY, PORTAL_SESSION_KEY, SSO_SESSION_KEY):
            session.pop(key, None)
        return redirect(url_for(f"{bp.name}.login"))

    @bp.get("/patients")
    def patients() -> ResponseReturnValue:
        if practitioner() is None:
            return redirect(url_for(f"{bp.name}.login"))
        return render_template("sandbox_epd/patients.html", patients=directory.patients())

    @bp.get("/patients/<patient_id>")
    def patient(patient_id: str) -> ResponseReturnValue:
        if practitioner() is None:
            return redirect(url_for(f"{bp.name}.login"))
        person = directory.get("Patient", patient_id)
        if person is None:
            return not_found("patient_not_found")
        return render_template("sandbox_epd/patient.html", patient=person, app_url=None)

    @bp.get("/patients/<patient_id>/app")
    def patient_app(patient_id: str) -> ResponseReturnValue:
        user = practitioner()
        if user is None:
            return redirect(url_for(f"{bp.name}.login"))
        person = directory.get("Patient", patient_id)
        if person is None:
            return not_found("patient_not_found")
        if portal_key is not None:  # Koppeltaal: the iframe opens the portal's HTI launch form
            kt_url = url_for(f"{bp.name}.koppeltaal_start", patient_id=person.id)
            return render_template("sandbox_epd/patient.html", patient=person, app_url=kt_url)
        # A fresh launch per opening, as an EPD does: short-lived and bound to this patient and user.
        launch = launches.create_launch(
            patient=person.id,
            user=f"Practitioner/{user.id}",
            encounter=request.args.get("encounter") or None,
            need_patient_banner=False,  # this page shows the banner around the iframe
            browser=browser_binding(),  # only this browser can use it
        )
        return render_template("sandbox_epd/patient.html", patient=person, app_url=ehr_launch_url(config, launch))

    @bp.route("/portal", methods=["GET", "POST"])
    def portal() -> ResponseReturnValue:
        invalid = False
        if request.method == "POST":
            chosen = person_at(request.form.get("person") or request.form.get("patient") or "")
            if chosen is not None:
                reference = f"{chosen.resource_type}/{chosen.id}"
                session[PORTAL_SESSION_KEY] = reference
                session[SSO_SESSION_KEY] = reference
                return redirect(url_for(f"{bp.name}.portal_home"))
            invalid = True
        related = directory.related_people()
        patients = {p.id: p for p in directory.patients()}
        return render_template(
            "sandbox_epd/portal_login.html",
            patients=list(patients.values()),
            related=[(person, patients.get(person.patient or "")) for person in related],
            invalid=invalid,
        )

    @bp.get("/portal/me")
    def portal_home() -> ResponseReturnValue:
        me = portal_user()
        if me is None:
            return redirect(url_for(f"{bp.name}.portal"))
        return portal_page(me, None)

    @bp.get("/portal/me/app")
    def portal_app() -> ResponseReturnValue:
        me = portal_user()
        if me is None:
            return redirect(url_for(f"{bp.name}.portal"))
        # Signing in at the portal is the sandbox's single sign-on: the authorize step knows this person (a
        # patient, or a related person whose token then carries their patient).
        session[SSO_SESSION_KEY] = f"{me.resource_type}/{me.id}"
        if portal_key is not None:
            own = me.id if me.resource_type == "Patient" else me.patient
            return portal_page(me, url_for(f"{bp.name}.koppeltaal_start", patient_id=own or ""))
        return portal_page(me, standalone_url(config))

    if portal_key is not None:
        register_koppeltaal_pages(bp, config, directory, portal_key, practitioner, portal_user)

    return bp


def register_koppeltaal_pages(
    bp: Blueprint,
    config: EpdConfig,
    directory: Directory,
    portal_key: PortalKey,
    practitioner: Any,
    portal_user: Any,
) -> None:
    """The Koppeltaal portal: its JWKS, and a page that posts a fresh HTI token to the app (inside the iframe)."""
    device = config.koppeltaal_device or "Device/unknown"

    @bp.get("/koppeltaal/jwks.json")
    def koppeltaal_jwks() -> ResponseReturnValue:
        return jsonify(portal_key.jwks())

    @bp.get("/koppeltaal/start/<patient_id>")
    def koppeltaal_start(patient_id: str) -> ResponseReturnValue:
        user = practitioner()
        me = portal_user()
        if user is not None:
            subject = f"Practitioner/{user.id}"
        elif me is not None and patient_id in (me.id, me.patient):
            subject = f"{me.resource_type}/{me.id}"
        else:
            return redirect(url_for(f"{bp.name}.login"))
        patient = directory.get("Patient", patient_id)
        if patient is None:
            return render_template("sandbox_epd/not_found.html", message_key="patient_not_found"), 404
        token = portal_key.sign(
            audience=device,
            subject=subject,
            patient=f"Patient/{patient.id}",
            task=f"Task/{task_id(patient.id)}",
        )
        response = render_template(
            "sandbox_epd/koppeltaal_launch.html",
            action=config.app_launch_url,
            launch=token,
            iss=config.fhir_base_url.rstrip("/"),
        )
        return response, 200, {"Cache-Control": "no-store"}
