"""The group area: the context view (home after launch), starting a group, lifecycle, timeline, styling."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import requests
from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext

from fhir_mappings.codes import GroupStatus
from fhir_mappings.errors import ResourcegroepError
from fhir_mappings.model import ResourceGroup
from plugin.group.forms import LifecycleForm, RenameForm, StartGroupForm
from plugin.group.overview import attention, timeline
from plugin.group.service import GroupPage, caseload_client, current_service, now, today
from plugin.launch.context import launch_required
from plugin.sync.caseload import load_caseload
from plugin.sync.errors import SyncError
from plugin.web.actions import Problem, announce, read_only_problem, run_action, user_message
from smart_launch.ttl_cache import TtlCache

log = logging.getLogger(__name__)
bp = Blueprint("group", __name__)

# Area pages shown in the group's navigation, in order: (endpoint, label msgid). Missing ones are skipped.
AREAS: tuple[tuple[str, str], ...] = (
    ("group.overview", "Overview"),
    ("members.index", "Members"),
    ("goals.index", "Goals"),
    ("agreements.index", "Agreements"),
    ("meetings.index", "Meetings"),
    ("group.history", "Timeline"),
)


@bp.app_context_processor
def group_navigation() -> dict[str, Any]:
    def nav_items() -> list[tuple[str, str, bool]]:
        """(url, label, current) for each area page that exists in this app."""
        items = []
        current = request.endpoint or ""
        if current.startswith("notes."):  # agenda and report belong to a meeting
            current = "meetings." + current.split(".", 1)[1]
        for endpoint, label in AREAS:
            if endpoint in current_app.view_functions:
                area = endpoint.split(".")[0]
                is_current = current == endpoint or (area != "group" and current.startswith(area + "."))
                items.append((url_for(endpoint), gettext(label), is_current))
        return items

    return {"nav_items": nav_items, "has_endpoint": lambda e: e in current_app.view_functions}


def _no_group_yet(page: GroupPage) -> Response | None:
    if page.group is None:
        return current_app.make_response(render_template("group/start.html", page=page, form=StartGroupForm()))
    return None


@bp.get("/c/<context_id>/")
@launch_required
def overview(context_id: str) -> Any:
    """The context view: the group at a glance and what needs attention (the caseload without a patient)."""
    if g.launch.patient_id is None:
        return redirect(url_for("group.caseload"), code=303)
    page = current_service().page(request.args.get("plan"))
    if (start := _no_group_yet(page)) is not None:
        return start
    group: ResourceGroup = page.group  # type: ignore[assignment]
    moment = now()
    last = group.last_held_meeting()
    return render_template(
        "group/overview.html",
        page=page,
        group=group,
        attention=attention(group, moment),
        next_meeting=group.next_meeting(moment),
        last_report=last.report if last is not None else None,
        last_meeting=last,
        overdue={a.uid for a in group.overdue_agreements(moment.date())},
        rename_form=RenameForm(name=group.name),
        lifecycle_form=LifecycleForm(),
    )


@bp.post("/c/<context_id>/start")
@launch_required
def start(context_id: str) -> Any:
    """Start the group: the name the patient chose; the launching clinician becomes regieondersteuner."""
    service = current_service()
    page = service.page()
    form = StartGroupForm()
    problem: Problem | None = None
    status = 200
    if page.group is not None and page.group.status is not GroupStatus.ENDED:
        problem, status = Problem(gettext("This patient already has a resource group.")), 409
    elif not g.launch.can_write:
        problem, status = read_only_problem(), 403
    elif form.validate_on_submit():
        try:
            saved = service.start_group(form.name.data or "")
        except (ResourcegroepError, SyncError) as exc:
            problem, status = Problem(user_message(exc)), 422
        else:
            announce(saved, gettext("The group has started."))
            return redirect(url_for("group.overview"), code=303)
    else:
        status = 422
    return render_template("group/start.html", page=page, form=form, problem=problem), status


_LIFECYCLE = {
    "pause": (GroupStatus.ON_HOLD, "Group paused"),
    "resume": (GroupStatus.ACTIVE, "Group resumed"),
    "end": (GroupStatus.ENDED, "Group ended"),
    "reopen": (GroupStatus.ACTIVE, "Group reopened"),
}


@bp.route("/c/<context_id>/status", methods=["GET", "POST"])
@launch_required
def lifecycle(context_id: str) -> Any:
    """Pause, resume, end, reopen, or continue after treatment; ending asks to confirm first."""
    page = current_service().page()
    if page.group is None:
        abort(404)
    form = LifecycleForm()
    chosen = request.values.get("action", "")
    if chosen not in ("pause", "resume", "end", "reopen", "after_treatment"):
        abort(404)
    problem: Problem | None = None
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        if chosen == "end" and not form.confirm.data:
            form.confirm.errors = [gettext("Tick the box to confirm that the group ends.")]
            status = 422
        else:
            if chosen == "after_treatment":
                outcome = run_action(
                    page,
                    lambda grp: grp.continue_after_treatment(today()),
                    "Groep gaat door na de behandeling",
                    form=form,
                )
            else:
                new_status, activity = _LIFECYCLE[chosen]
                outcome = run_action(page, lambda grp: grp.change_status(new_status, today()), activity, form=form)
            if outcome.done:
                return outcome.redirect(url_for("group.overview"))
            problem, status = outcome.problem, outcome.status
    elif request.method == "POST":
        status = 422
    return render_template(
        "group/lifecycle.html", page=page, group=page.group, form=form, action=chosen, problem=problem
    ), status


@bp.post("/c/<context_id>/naam")
@launch_required
def rename(context_id: str) -> Any:
    """Change the group's name."""
    page = current_service().page()
    if page.group is None:
        abort(404)
    form = RenameForm()
    problem: Problem | None = None
    status = 422
    if form.validate_on_submit():
        name = form.name.data or ""
        outcome = run_action(page, lambda grp: grp.rename(name), "Naam van de groep gewijzigd", form=form)
        if outcome.done:
            return outcome.redirect(url_for("group.overview"))
        problem, status = outcome.problem, outcome.status
    return render_template("group/rename.html", page=page, group=page.group, form=form, problem=problem), status


@bp.get("/c/<context_id>/tijdlijn")
@launch_required
def history(context_id: str) -> Any:
    """The timeline: what happened when (nothing is ever deleted)."""
    page = current_service().page(request.args.get("plan"))
    if page.group is None:
        return render_template("group/start.html", page=page, form=StartGroupForm())
    return render_template(
        "group/timeline.html", page=page, group=page.group, events=timeline(page.group), earlier=page.loaded.plans[1:]
    )


@bp.get("/c/<context_id>/caseload")
@launch_required
def caseload(context_id: str) -> Any:
    """The clinician's caseload: every group they take part in, and what needs attention (2 round trips)."""
    user = g.launch.fhir_user_reference
    if user is None or not user.startswith(("Practitioner/", "PractitionerRole/")):
        return render_template(
            "group/caseload.html",
            caseload=None,
            problem=Problem(
                gettext(
                    "The caseload is for care professionals. Open the app from a patient's record to see their group."
                )
            ),
        ), 403
    settings = current_app.extensions["resourcegroep"]
    client = caseload_client()
    try:
        found = load_caseload(
            client,
            user,
            include_ended=request.args.get("ended") == "1",
            now=now(),
            capabilities=settings["capabilities"].get(client),
        )
    except SyncError as exc:
        log.warning("caseload for %s failed: %s", user, exc.diagnostics)
        return render_template("group/caseload.html", caseload=None, problem=Problem(user_message(exc))), 502
    return render_template(
        "group/caseload.html", caseload=found, problem=None, show_ended=request.args.get("ended") == "1"
    )


@bp.post("/c/<context_id>/opnieuw-opslaan")
@launch_required
def retry_waiting(context_id: str) -> Any:
    """Try the saves that wait for the EHR again, now."""
    service = current_service()
    try:
        done = service.repository.replay_waiting()
    except SyncError as exc:  # any failure here only means: still waiting
        log.warning("manual outbox replay failed: %s", exc)
        done = False
    if done:
        flash(gettext("Everything is saved in the EHR now."), "saved")
    else:
        flash(gettext("The EHR still cannot be reached. Your changes are kept and wait to be saved."), "waiting")
    return redirect(url_for("group.overview"), code=303)


# ---------------------------------------------------------------------- styling hints from the EHR

_STYLE_CACHE: TtlCache[str, dict[str, str]] = TtlCache(3600.0)
_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}|rgba?\(\s*[\d.\s,%]+\)")
_STYLE_VARS = {
    "color_background": "--bg",
    "color_highlight": "--accent",
    "color_text": "--text",
    "color_border": "--line",
    "color_modal_backdrop": None,
}


def smart_style(url: str | None) -> dict[str, str]:
    """CSS variables from the EHR's smart_style_url JSON: only well-formed colours are taken (no CSS injection)."""
    if not url or not url.startswith(("https://", "http://")):
        return {}
    cached = _STYLE_CACHE.get(url, time.monotonic())
    if cached is not None:
        return cached
    styles: dict[str, str] = {}
    try:
        body = requests.get(url, timeout=(2, 3)).json()
    except (requests.RequestException, ValueError) as exc:
        log.info("smart_style_url %s not usable: %s", url, exc)
        body = {}
    if isinstance(body, dict):
        for key, var in _STYLE_VARS.items():
            value = body.get(key)
            if var and isinstance(value, str) and _COLOR.fullmatch(value.strip()):
                styles[var] = value.strip()
    _STYLE_CACHE.put(url, styles, time.monotonic())
    return styles


@bp.get("/c/<context_id>/ehr-style.css")
@launch_required
def ehr_style(context_id: str) -> Response:
    """The EHR's colours as CSS variables, so the app blends into the EHR (CSP allows only own stylesheets)."""
    styles = smart_style(g.launch.smart_style_url)
    css = ":root {" + "".join(f" {k}: {v};" for k, v in styles.items()) + " }\n" if styles else ""
    response = current_app.response_class(css, mimetype="text/css")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
