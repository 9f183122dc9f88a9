"""The group area: the context view (home after launch), starting a group, lifecycle, take-over, timeline, styling.

Views only read the form, call one service (`plugin.services.group`) and render; what a page offers follows the
actor's rights (`page.may(...)`), and the services refuse anyway.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from typing import Any

import requests
from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from fhir_mappings.audit import VIEW_CASELOAD
from fhir_mappings.codes import GoalTerm, MeetingTheme, MemberRole, WishKind
from fhir_mappings.errors import MappingError
from fhir_mappings.model import Goal, ProgressScore, ResourceGroup
from fhir_mappings.refs import is_professional_ref
from fhir_mappings.rights import Action, Role, may_take_over, require
from plugin.audit.web import current_trail, request_audit
from plugin.goals.views import sparkline_for
from plugin.group.access_log import SHOWN, access_lines
from plugin.group.forms import (
    LIFECYCLE_ACTIONS,
    LifecycleForm,
    MeetingWishForm,
    PauseOrEndForm,
    RenameForm,
    StartGroupForm,
    TakeOverForm,
)
from plugin.group.overview import (
    TIMELINE_KINDS,
    WORKING_GOALS,
    TimelineCursor,
    TimelinePage,
    attention_for,
    day_asked,
    first_name,
    glance,
    listed_agreements,
    name_of,
    patient_input,
    scores_by_goal,
    soonest_agreements,
    timeline,
    timeline_counted_place,
    timeline_cursor_page,
    timeline_newer_page,
    timeline_page,
    timeline_page_within,
    timeline_scores_needed,
    timeline_window_page,
    waiting_for_patient,
)
from plugin.group.service import (
    EVERY_SCORE,
    GroupPage,
    caseload_client,
    current_service,
    group_page,
    now,
    older_scores,
    overview_scores,
    today,
)
from plugin.i18n import gettext
from plugin.launch.context import launch_required
from plugin.meetings.forms import OwnResponseForm
from plugin.services import goals as goal_services
from plugin.services import group as group_services
from plugin.services import outbox as outbox_services
from plugin.services import record as record_services
from plugin.services import wishes as wish_services
from plugin.services.group import Lifecycle
from plugin.sync.caseload import load_caseload, patient_page_url
from plugin.sync.errors import SyncError
from plugin.sync.outbox import Outbox
from plugin.sync.repository import ScoresPage
from plugin.web.actions import Problem, can_change, run_service, user_message
from plugin.web.context import area_icon, status_badge
from plugin.web.forms import SHOWN_ONLY, BaseForm
from plugin.web.labels import label
from smart_launch.ttl_cache import TtlCache

log = logging.getLogger(__name__)
bp = Blueprint("group", __name__)

# Area pages shown in the group's navigation, in order: (endpoint, label msgid, what one must be allowed to see).
# Missing endpoints are skipped, and so are pages the actor may not see.
AREAS: tuple[tuple[str, str, Action], ...] = (
    ("group.overview", "Overview", Action.VIEW_OVERVIEW),
    ("members.index", "Members", Action.VIEW_MEMBERS),
    ("goals.index", "Goals", Action.VIEW_GOALS),
    ("agreements.index", "Agreements", Action.VIEW_OWN_AGREEMENTS),
    ("meetings.index", "Meetings", Action.VIEW_MEETINGS),
    ("group.history", "Timeline", Action.VIEW_TIMELINE),
)


@bp.app_context_processor
def group_navigation() -> dict[str, Any]:
    view_functions = current_app.view_functions  # the app's own dict: asked by every link of a page

    def nav_items(page: GroupPage | None = None) -> list[tuple[str, str, bool]]:
        """(url, label, current) for each area page that exists in this app and that the page's actor may see."""
        items = []
        current = request.endpoint or ""
        if current.startswith("notes."):  # agenda and report belong to a meeting
            current = "meetings." + current.split(".", 1)[1]
        for endpoint, msgid, see in AREAS:
            if endpoint not in view_functions or (page is not None and not page.may(see)):
                continue
            area = endpoint.split(".")[0]
            is_current = current == endpoint or (area != "group" and current.startswith(area + "."))
            items.append((url_for(endpoint), gettext(msgid), is_current))
        return items

    def to_patient(page: GroupPage | None = None) -> bool:
        """Whether the page speaks to the patient (addressed as "je", about "your group")."""
        return page is not None and page.actor.role is Role.REGISSEUR

    return {
        "nav_items": nav_items,
        "has_endpoint": view_functions.__contains__,
        "to_patient": to_patient,
    }


def _start_page(page: GroupPage, form: StartGroupForm, problem: Problem | None = None, status: int = 200) -> Any:
    """The start page: the form for a care professional, a word of explanation for the patient."""
    offer = group_services.start_offer(current_service().uow())
    return render_template("group/start.html", page=page, form=form, offer=offer.value, problem=problem), status


def _plan_arg(newest_scores: int | None = None, scores_page: ScoresPage | None = None) -> str | None:
    """`?plan=` when it names a plan of this patient that can be read (else the 404 page: never a 500); read as the
    page will read it (`newest_scores`, `scores_page`), so the check costs no load of its own."""
    plan_id = request.args.get("plan")
    if plan_id is None:
        return None
    try:
        current_service().page(plan_id, newest_scores=newest_scores, scores_page=scores_page)
    except MappingError:
        plans = current_service().page().loaded.plans
        if plan_id in {f"CarePlan/{p.get('id')}" for p in plans} | {str(p.get("id")) for p in plans}:
            raise  # a plan of the patient that does not read: the error page says so
        abort(404)
    return plan_id


@dataclass(frozen=True)
class GoalTree:
    """The overview's goal list: long-term goals with their steps under them, then short-term goals of their own."""

    long_goals: list[Goal]
    steps: dict[str, list[Goal]]  # a goal's uid: the goals whose parent it is, in the group's order
    loose: list[Goal]


def goal_tree(goals: Sequence[Goal]) -> GoalTree:
    """The goals as the overview lists them, each sorted out once (not a scan of every goal per long-term goal)."""
    steps: dict[str, list[Goal]] = {}
    for goal in goals:
        if goal.parent_uid:
            steps.setdefault(goal.parent_uid, []).append(goal)
    return GoalTree(
        long_goals=[goal for goal in goals if goal.term is GoalTerm.LANG],
        steps=steps,
        loose=[goal for goal in goals if goal.term is GoalTerm.KORT and not goal.parent_uid],
    )


def overview_goal_line(
    goal: Goal,
    *,
    sparklines: Mapping[str, Markup | None],
    last_scores: Mapping[str, ProgressScore],
    links: bool,
) -> Markup:
    """A goal's line in the overview's goal list (template: `goal_line(goal)`): its life area, its text (a link to
    its page when the app has goal pages: `links`), "(short term)" for a short-term goal of its own, its sparkline
    with the latest score, its status. Written in Python: the markup the template's macro wrote (a macro call per
    goal cost several times more), blank space included."""
    text = escape(goal.text)
    if links:
        text = Markup(f'<a href="{escape(url_for("goals.goal", goal_uid=goal.uid))}">{text}</a>')  # noqa: S704
    term = ""
    if goal.term is GoalTerm.KORT and not goal.parent_uid:
        term = f' <span class="muted">({escape(label(goal.term))})</span>'
    spark = sparklines.get(goal.uid)
    shown = ""
    if spark:
        score = Markup(gettext("%(score)d out of 10")) % {"score": last_scores[goal.uid].score}  # noqa: S704
        shown = f'<span class="spark">{escape(spark)}<span class="spark-score">{score}</span></span>'
    return Markup(  # noqa: S704 - every value is escaped above or is markup made here
        '<div class="goal-row">\n'
        f'  <span class="goal-text">{area_icon(goal.life_area)}<span>{text}{term}</span></span>\n'
        '  <span class="goal-meta">\n'
        "    \n"
        f"    {shown}\n"
        f"    {status_badge(goal.lifecycle.value, label(goal.lifecycle))}\n"
        "  </span>\n"
        "</div>"
    )


@bp.get("/c/<context_id>/")
@launch_required
def overview(context_id: str) -> Any:
    """The context view: the group at a glance and, for care professionals, what needs attention."""
    if g.launch.patient_id is None:
        return redirect(url_for("group.caseload"), code=303)
    page = current_service().page(_plan_arg())  # the newest scores (the default)
    if page.group is None:
        return _start_page(page, StartGroupForm())
    group_services.require_overview(page.actor)
    group: ResourceGroup = page.group
    actor = page.actor
    if actor.role is Role.REGISSEUR:
        return _patient_home(page, group)
    if actor.role is Role.MEMBER:
        return _member_home(page, group)
    moment = now()
    last = group.last_held_meeting()
    changeable = can_change(group)
    agreements = listed_agreements(group, actor)
    scores = scores_by_goal(group)
    sparklines = {goal.uid: sparkline_for(goal, scores[goal.uid]) for goal in group.goals}
    last_scores = {uid: found[-1] for uid, found in scores.items() if found}
    return render_template(
        "group/overview.html",
        glance=glance(group, moment, agreements),
        sparklines=sparklines,
        goal_tree=goal_tree(group.goals),
        goal_line=partial(
            overview_goal_line,
            sparklines=sparklines,
            last_scores=last_scores,
            links="goals.goal" in current_app.view_functions,
        ),
        current_members=[m for m in group.members if m.active and m.is_member],
        nominees=[m for m in group.members if m.active and not m.is_member],
        last_scores=last_scores,
        patient_input=patient_input(group, moment) if actor.may(Action.VIEW_WISHES) else None,
        patient_name=first_name(name_of(group, group.patient)),
        may_take_up=page.may(Action.TAKE_UP_INPUT) and changeable,
        page=page,
        group=group,
        attention=attention_for(group, actor, moment),
        next_meeting=group.next_meeting(moment),
        last_report=last.report if last is not None else None,
        last_meeting=last,
        agreements=soonest_agreements(agreements),
        agreements_count=len(agreements),
        overdue={a.uid for a in group.overdue_agreements(moment.date())},
        name_of=partial(name_of, group),
        take_over=page.loaded.group is not None and may_take_over(page.loaded.group, actor),
        may_lifecycle=page.may(Action.CHANGE_STATUS) and bool(g.launch.can_write),
        rename_form=(
            RenameForm(name=group.name, meta=SHOWN_ONLY) if changeable and page.may(Action.RENAME_GROUP) else None
        ),
    )


def _patient_home(page: GroupPage, group: ResourceGroup) -> Any:
    """The patient's own home: their group, addressed to them, and what waits for them before the next meeting."""
    moment = now()
    last = group.last_held_meeting()
    goals = [goal for goal in group.goals if goal.lifecycle in WORKING_GOALS]
    progress = scores_by_goal(group)
    agreements = listed_agreements(group, page.actor)
    return render_template(
        "group/home.html",
        page=page,
        group=group,
        waiting=waiting_for_patient(group, moment),
        next_meeting=group.next_meeting(moment),
        last_report=last.report if last is not None else None,
        last_meeting=last,
        goals=goals,
        progress=progress,
        sparklines={goal.uid: sparkline_for(goal, progress[goal.uid]) for goal in goals},
        agreements=soonest_agreements(agreements),
        agreements_count=len(agreements),
        overdue={a.uid for a in group.overdue_agreements(moment.date())},
        wishes=[w for w in group.wishes if w.is_open],
        name_of=partial(name_of, group),
        changeable=can_change(group) and bool(g.launch.can_write),
    )


def _member_home(page: GroupPage, group: ResourceGroup) -> Any:
    """A member's home: the next meeting and their answer to it, their own agreements, the last report."""
    moment = now()
    me = page.actor.who
    upcoming = group.next_meeting(moment)
    mine = next((p for p in upcoming.participants if p.who == me), None) if upcoming is not None else None
    last = group.last_held_meeting()
    agreements = [a for a in group.agreements if a.is_open and a.owner == me]
    return render_template(
        "group/member_home.html",
        page=page,
        group=group,
        me=next((m for m in group.members if m.who == me and m.active), None),
        patient_name=first_name(name_of(group, group.patient)),
        next_meeting=upcoming,
        my_answer=mine.response if mine is not None else None,
        answer_form=OwnResponseForm(formdata=None),
        last_meeting=last,
        last_report=last.report if last is not None else None,
        agreements=soonest_agreements(agreements),
        agreements_count=len(agreements),
        overdue={a.uid for a in group.overdue_agreements(moment.date())},
        name_of=partial(name_of, group),
        changeable=can_change(group) and bool(g.launch.can_write),
    )


@bp.post("/c/<context_id>/start")
@launch_required
def start(context_id: str) -> Any:
    """Start the group: the name the patient chose; the launching care professional becomes regieondersteuner."""
    service = current_service()
    page = service.page()
    require(page.actor, Action.START_GROUP)
    form = StartGroupForm()
    if not form.validate_on_submit():
        return _start_page(page, form, status=422)
    name = form.name.data or ""
    outcome = run_service(
        lambda uow, key: group_services.start_group(
            uow,
            key,
            name=name,
            patient_display=service.display_name(uow.patient),
            user_display=service.display_name(uow.user),
            today=today(),
        ),
        form=form,
        saved_message=gettext("The group has started."),
    )
    if outcome.done:
        return outcome.redirect(url_for("group.overview"))
    return _start_page(page, form, outcome.problem, outcome.status)


@bp.route("/c/<context_id>/status", methods=["GET", "POST"])
@launch_required
def lifecycle(context_id: str) -> Any:
    """Pause, resume, end, reopen, or continue after treatment; ending asks to confirm first."""
    page = group_page(Action.CHANGE_STATUS)
    chosen = request.values.get("action", "")
    if chosen not in LIFECYCLE_ACTIONS:
        abort(404)
    form = LifecycleForm()
    problem: Problem | None = None
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            step = Lifecycle(chosen)
            outcome = run_service(
                lambda uow, key: group_services.change_lifecycle(uow, key, step=step, today=today()), form=form
            )
            if outcome.done:
                return outcome.redirect(url_for("group.overview"))
            problem, status = outcome.problem, outcome.status
    to_cancel = group_services.cancelled_by(page.group, Lifecycle(chosen))
    interviews_off = group_services.interviews_cancelled_by(page.group, Lifecycle(chosen))
    return render_template(
        "group/lifecycle.html",
        page=page,
        group=page.group,
        form=form,
        action=chosen,
        problem=problem,
        to_cancel=to_cancel,
        interviews_off=interviews_off,
        member_name={m.uid: m.display for m in page.group.members} if page.group is not None else {},
    ), status


@bp.route("/c/<context_id>/naam", methods=["GET", "POST"])
@launch_required
def rename(context_id: str) -> Any:
    """Change the group's name (GET: the form with the name as it is)."""
    page = group_page(Action.RENAME_GROUP)
    if request.method == "GET":
        form = RenameForm(name=page.group.name if page.group is not None else "")
        return render_template("group/rename.html", page=page, group=page.group, form=form, problem=None)
    form = RenameForm()
    problem: Problem | None = None
    status = 422
    if form.validate_on_submit():
        name = form.name.data or ""
        outcome = run_service(lambda uow, key: group_services.rename_group(uow, key, name=name), form=form)
        if outcome.done:
            return outcome.redirect(url_for("group.overview"))
        problem, status = outcome.problem, outcome.status
    return render_template("group/rename.html", page=page, group=page.group, form=form, problem=problem), status


@bp.post("/c/<context_id>/onleesbaar/afzeggen")
@launch_required
def cancel_unreadable(context_id: str) -> Any:
    """Cancel a meeting or interview appointment the app cannot read (its status only; the rest stays as it is)."""
    group_page(Action.CANCEL_UNREADABLE)
    form = BaseForm()
    if form.validate_on_submit():
        resource = request.form.get("resource", "")
        outcome = run_service(
            lambda uow, key: record_services.cancel_unreadable(uow, key, resource=resource),
            form=form,
            saved_message=gettext("The appointment is cancelled."),
        )
        if outcome.problem is not None:
            flash(outcome.problem.message, "error")
    else:
        flash(gettext("This form was not sent completely. Reload the page and try again."), "error")
    return redirect(url_for("group.overview"), code=303)


@bp.route("/c/<context_id>/overnemen", methods=["GET", "POST"])
@launch_required
def take_over(context_id: str) -> Any:
    """A colleague takes over a group that has no regieondersteuner any more, with a reason (kept in the Provenance)."""
    page = group_page(Action.TAKE_OVER)
    full = page.loaded.group
    if full is None:  # group_page() never returns a page without a group; this only narrows the type
        abort(404)
    group_services.require_take_over(full, page.actor)
    form = TakeOverForm()
    problem: Problem | None = None
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            service = current_service()
            reason = form.reason.data or ""
            outcome = run_service(
                lambda uow, key: group_services.take_over(
                    uow, key, reason=reason, display=service.display_name(uow.user), today=today()
                ),
                form=form,
                saved_message=gettext("You are now the recovery coordinator of this group."),
            )
            if outcome.done:
                return outcome.redirect(url_for("group.overview"))
            problem, status = outcome.problem, outcome.status
    return render_template("group/take_over.html", page=page, group=page.group, form=form, problem=problem), status


@bp.get("/c/<context_id>/tijdlijn")
@launch_required
def history(context_id: str) -> Any:
    """The timeline: what happened when (nothing is ever deleted; every score is an event).

    Its pages come from the newest scores (the total is then not known): the newest ones from every page's load,
    an older one from as many of the newest scores as it needs (`timeline_scores_needed`); a page that still
    reaches back before them reads every score. One very far back by its number, and the last page, find their
    day by counting the older scores (`_timeline_counted`), and read a page of the scores up to it beside the
    newest, as an older link's page does (every score on a server that does not count). A page past the newest
    scores that its older link led to (`?vanaf=`: where it starts) reads a page of the scores up to its first day
    beside the newest instead (`timeline_cursor_page`), and one its newer link led to (`?tot=`: where it ends) a
    page of those from its last day on (`timeline_newer_page`): one request and bounded memory, however far back.
    A day asked for (`?datum=`, the form) is such a place too: the events up to and including that day; the pages
    from there have no number (the total is not known), and a page their load does not hold is read from every
    score."""
    soort, asked = request.args.get("soort", ""), request.args.get("pagina")
    kind = TIMELINE_KINDS.get(soort)
    scored = kind in (None, "goals")  # the other kinds have no scores
    window = overview_scores() if scored else None
    places = [(TimelineCursor.parse(request.args.get(param)), param == "tot") for param in ("vanaf", "tot")]
    asked_day = request.args.get("datum", "").strip()
    on = day_asked(asked_day) if asked_day else None
    day = TimelineCursor.up_to(on) if on is not None else None
    if asked_day:
        places, asked = [(day, False)], None
    if asked is None or (window is not None and not timeline_page_within(asked, window)):
        for cursor, later in places:
            found = _timeline_from(cursor, later, window, kind, asked) if cursor is not None else None
            if found is not None:
                return _timeline_shown(*found, soort, asked_day, on)
    # The loads to try, fewest scores first (None: the page's own load; EVERY_SCORE is always enough).
    tries: list[int | None] = [None]
    if window is not None:
        need = timeline_scores_needed(asked)
        counted = _timeline_counted(window, kind, asked) if need is None else None
        if counted is not None:
            return _timeline_shown(*counted, soort, asked_day, on)
        tries = [] if need is None or not timeline_page_within(asked, window) else [None]
        tries += [need] if need is not None and need > window else []
        tries.append(EVERY_SCORE)
    return _timeline_shown(*_timeline_try(tries, kind, asked, scored), soort, asked_day, on)


def _timeline_shown(
    page: GroupPage,
    group: ResourceGroup,
    shown: TimelinePage,
    soort: str,
    asked_day: str = "",
    on: date | None = None,
) -> tuple[str, int]:
    """The timeline's page; `asked_day`: the text of the day asked for (`?datum=`), `on` that day when it read
    (else the page says so, 422)."""
    problem = None
    if asked_day and on is None:
        problem = Problem(gettext("That date could not be read. Choose a day, for example 14-03-2025."))
    return render_template(
        "group/timeline.html",
        page=page,
        group=group,
        events=shown.events,
        shown=shown,
        soort=soort if soort in TIMELINE_KINDS else "",
        earlier=page.loaded.plans[1:],
        asked_day=on.isoformat() if on is not None else asked_day,
        asked_date=on,
        oldest=TimelineCursor.oldest().text,
        problem=problem,
    ), 422 if problem is not None else 200


def _every_day(first: date, last: date) -> bool:
    return True


def _timeline_from(
    cursor: TimelineCursor, later: bool, window: int | None, kind: str | None, asked: str | None
) -> tuple[GroupPage, ResourceGroup, TimelinePage] | None:
    """Page `asked` of the timeline from where `cursor` says it starts (or, `later`, where it ends), read with the
    newest scores and a page of those beside the cursor's day (`timeline_cursor_page`, `timeline_newer_page`); a
    kind without scores (`window` None) from the page's own load. None when that does not give the page: a page
    with a number is then found by it; one without, from every score (None only for a place that does not fit)."""
    paged = timeline_newer_page if later else timeline_cursor_page
    if window is None:  # none of these events is a score: the page's own load holds them all
        page = group_page(Action.VIEW_TIMELINE, _plan_arg())
        group: ResourceGroup = page.group  # type: ignore[assignment]  # group_page() always has a group
        shown = paged(timeline(group, kind), cursor, asked, _every_day)
        return None if shown is None else (page, group, shown)
    beside = ScoresPage(cursor.day, later)
    page = group_page(Action.VIEW_TIMELINE, _plan_arg(window, beside), newest_scores=window, scores_page=beside)
    group = page.group  # type: ignore[assignment]
    shown = paged(timeline(group, kind, every_read=True), cursor, asked, group.holds_every_score_from)
    if shown is not None:
        return page, group, shown
    if asked is not None:
        log.info("timeline page %s beside %s: not within the scores read; reading it by its number", asked, cursor.text)
        return None
    log.info("timeline beside %s: not within the scores read; reading every score", cursor.text)
    del page, group  # (not held while every score is read)
    whole = group_page(Action.VIEW_TIMELINE, _plan_arg(EVERY_SCORE), newest_scores=EVERY_SCORE)
    everything: ResourceGroup = whole.group  # type: ignore[assignment]
    shown = paged(timeline(everything, kind), cursor, asked, _every_day)
    return None if shown is None else (whole, everything, shown)


def _timeline_counted(
    window: int, kind: str | None, asked: str | None
) -> tuple[GroupPage, ResourceGroup, TimelinePage] | None:
    """Page `asked` far back by its number (a bookmark or a typed address; the last page for one past the end),
    where the page's own load of the newest scores does not hold it: its place is found by counting the older
    scores (`older_scores`, `timeline_counted_place`: a handful of requests that read no score), and the page is
    then read as its older link's page is, with its number and the total. None when the server does not count or
    the page is not held that way (it is then read from every score)."""
    page = group_page(Action.VIEW_TIMELINE, _plan_arg(window), newest_scores=window)
    group: ResourceGroup = page.group  # type: ignore[assignment]  # group_page() always has a group
    events = timeline(group, kind)
    since = group.scores_since
    if since is None:  # every score is among the newest
        return page, group, timeline_page(events, asked)
    older = older_scores(page, since)
    count = None
    if older is not None:
        count = timeline_counted_place(events, since, asked, older.total, older.oldest, older.counted)
    if count is None:
        log.info("timeline page %s: the older scores could not be counted; reading every score", asked)
        return None
    number = str(count.number)
    shown = timeline_window_page(events, number, since)
    if shown is None and count.place is not None:
        del page, group, events  # (not held while the page beside its day is read)
        found = _timeline_from(count.place, False, window, kind, number)
        if found is None:
            return None
        page, group, shown = found
    if shown is None:
        return None
    return page, group, replace(shown, pages=count.pages, total=count.total)


def _timeline_try(
    tries: list[int | None], kind: str | None, asked: str | None, scored: bool
) -> tuple[GroupPage, ResourceGroup, TimelinePage]:
    """The first of the timeline's loads `tries` that gives page `asked` (see `history`)."""
    for newest in tries:
        page = group_page(Action.VIEW_TIMELINE, _plan_arg(newest), newest_scores=newest)
        group: ResourceGroup = page.group  # type: ignore[assignment]  # group_page() always has a group
        events = timeline(group, kind)
        since = group.scores_since if scored else None
        shown = timeline_window_page(events, asked, since) if since is not None else timeline_page(events, asked)
        if shown is not None:
            return page, group, shown
        del page, group, events  # not held while the next try reads more scores
    raise AssertionError("every score (the last try) always gives the page")


@bp.get("/c/<context_id>/inzage")
@launch_required
def access_log(context_id: str) -> Any:
    """Who looked at the group and when (NEN 7513): for the patient and their care professionals."""
    page = group_page(Action.VIEW_ACCESS_LOG)
    lines = access_lines(current_service(), page, current_trail())
    return render_template("group/access_log.html", page=page, group=page.group, lines=lines, shown_at_most=SHOWN)


@bp.get("/c/<context_id>/caseload")
@launch_required
def caseload(context_id: str) -> Any:
    """The clinician's caseload: every group they take part in, by any of their PractitionerRoles too, and what
    needs attention (2 round trips; 3 when the user's roles are not known to this process yet)."""
    user = g.launch.fhir_user_reference
    if user is None or not is_professional_ref(user):
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
    audit = request_audit()
    audit.acting(VIEW_CASELOAD)
    try:
        found = load_caseload(
            client,
            user,
            person=g.launch.user_practitioner,
            roles=settings["practitioner_roles"],
            include_ended=request.args.get("ended") == "1",
            now=now(),
            capabilities=settings["capabilities"].get(client),
        )
    except SyncError as exc:
        log.warning("caseload for %s failed: %s", user, exc.diagnostics)
        return render_template("group/caseload.html", caseload=None, problem=Problem(user_message(exc))), 502
    for row in found.rows:
        role = Role.REGIEONDERSTEUNER if MemberRole.REGIEONDERSTEUNER in row.roles else Role.MEMBER
        audit.listing(row.patient, role.value, [r for r in (row.team, row.plan) if r])
    return render_template(
        "group/caseload.html",
        caseload=found,
        problem=None,
        show_ended=request.args.get("ended") == "1",
        patient_page=partial(patient_page_url, current_app.config["RESOURCEGROEP"].ehr_patient_url),
    )


@bp.post("/c/<context_id>/opnieuw-opslaan")
@launch_required
def retry_waiting(context_id: str) -> Any:
    """Try the saves that wait for the EHR again, now (also on the start page: a start may be waiting)."""
    service = current_service()
    require(service.page().actor, Action.RETRY_WAITING)
    try:
        done = service.repository.replay_waiting()
    except SyncError as exc:  # any failure here only means: still waiting
        log.warning("manual outbox replay failed: %s", exc)
        done = False
    if done and service.repository.waiting():
        # Only the user's own saves go with their token; another author's wait for that author or the worker.
        flash(
            gettext(
                "Your changes are saved in the EHR now. Changes of others still wait: the person who made them "
                "or the app in the background sends them."
            ),
            "waiting",
        )
    elif done:
        flash(gettext("Everything is saved in the EHR now."), "saved")
    else:
        flash(gettext("The EHR still cannot be reached. Your changes are kept and wait to be saved."), "waiting")
    return redirect(url_for("group.overview"), code=303)


@bp.get("/c/<context_id>/wachtrij")
@launch_required
def outbox(context_id: str) -> Any:
    """The patient's saves the EHR refused (with "try again" and "let lapse"), those waiting, and those let lapse."""
    page = group_page(Action.RETRY_FAILED)
    store: Outbox = current_app.extensions["resourcegroep"]["outbox"]
    return render_template(
        "group/outbox.html",
        page=page,
        discarded=store.discarded_for(current_service().repository.patient),
        activity_of=outbox_services.activity_of,
        name_of_user=current_service().display_name,
    )


def _outbox_action(see: Action, call: Any, saved_message: str) -> Any:
    """Run a retry or a let-lapse on a refused save (one service call), then back to the outbox page."""
    group_page(see)
    form = BaseForm()
    if not g.launch.can_write:
        flash(gettext("You may only view this group, not change it."), "error")
    elif form.validate_on_submit():
        outcome = run_service(call, form=form, saved_message=saved_message)
        if outcome.problem is not None:
            flash(outcome.problem.message, "error")
    else:
        flash(gettext("This form was not sent completely. Reload the page and try again."), "error")
    return redirect(url_for("group.outbox"), code=303)


def _entry_id() -> int:
    raw = request.form.get("entry", "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:  # "²" is a digit to isdigit, no number to int
        abort(404)
    return int(raw)


@bp.post("/c/<context_id>/wachtrij/opnieuw")
@launch_required
def retry_failed(context_id: str) -> Any:
    """Opnieuw proberen: a refused save back to waiting, and sent now when it is the user's own."""
    store: Outbox = current_app.extensions["resourcegroep"]["outbox"]
    entry_id = _entry_id()
    return _outbox_action(
        Action.RETRY_FAILED,
        lambda uow, key: outbox_services.retry_failed(
            uow, key, store, entry_id, send_own=current_service().repository.replay_waiting
        ),
        gettext("The change is saved in the EHR now."),
    )


@bp.post("/c/<context_id>/wachtrij/laten-vervallen")
@launch_required
def discard_failed(context_id: str) -> Any:
    """Laten vervallen: a refused save is kept but never sent."""
    store: Outbox = current_app.extensions["resourcegroep"]["outbox"]
    entry_id = _entry_id()
    return _outbox_action(
        Action.DISCARD_FAILED,
        lambda uow, key: outbox_services.discard_failed(uow, key, store, entry_id),
        gettext("The change is let lapse. It is kept, but not sent to the EHR."),
    )


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


def _chair_choices(group: ResourceGroup) -> list[tuple[str, str]]:
    """The members who can chair a meeting: everyone who is a member now, the patient too."""
    return [(m.who, m.display) for m in group.members if m.is_member]


@bp.route("/c/<context_id>/wens", methods=["GET", "POST"])
@launch_required
def meeting_wish(context_id: str) -> Any:
    """The patient says what they wish for the next meeting: the place, who chairs, a theme, in own words."""
    page = group_page(Action.GIVE_MEETING_WISH)
    group: ResourceGroup = page.group  # type: ignore[assignment]  # group_page() always has a group
    form = MeetingWishForm()
    form.fill_choices(_chair_choices(group))
    problem: Problem | None = None
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            theme = MeetingTheme(form.theme.data) if form.theme.data else None
            place, chair, text = form.place.data or "", form.chair.data or None, form.text.data or ""
            outcome = run_service(
                lambda uow, key: wish_services.give_meeting_wish(
                    uow, key, now=now(), place=place, chair=chair, theme=theme, text=text
                ),
                form=form,
                saved_message=gettext("Thank you. Your recovery coordinator will read your wishes."),
            )
            if outcome.done:
                return outcome.redirect(url_for("group.overview"))
            problem, status = outcome.problem, outcome.status
    return render_template(
        "group/wish.html", page=page, group=group, form=form, problem=problem, next_meeting=group.next_meeting(now())
    ), status


@bp.route("/c/<context_id>/pauze-of-stoppen", methods=["GET", "POST"])
@launch_required
def pause_or_end(context_id: str) -> Any:
    """The patient asks for a pause of the group, or to stop it, and says why."""
    page = group_page(Action.ASK_PAUSE_OR_END)
    form = PauseOrEndForm()
    if page.group is not None:
        form.offer(page.group.pause_or_end_kinds())
    problem: Problem | None = None
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            kind, reason = WishKind(form.kind.data), form.reason.data or ""
            outcome = run_service(
                lambda uow, key: wish_services.ask_pause_or_end(uow, key, kind=kind, text=reason, now=now()),
                form=form,
                saved_message=gettext(
                    "Your question has been sent. Your recovery coordinator will talk it over with you."
                ),
            )
            if outcome.done:
                return outcome.redirect(url_for("group.overview"))
            problem, status = outcome.problem, outcome.status
    return render_template("group/pause_or_end.html", page=page, group=page.group, form=form, problem=problem), status


def _take_up(call: Any, saved: str) -> Any:
    """Run a one-button take-up from the context view; a problem is shown there (nothing typed can be lost)."""
    form = BaseForm()
    if form.validate_on_submit():
        outcome = run_service(call, form=form, saved_message=saved)
        if outcome.problem is not None:
            flash(outcome.problem.message, "error")
    else:
        flash(gettext("This form was not sent completely. Reload the page and try again."), "error")
    return redirect(url_for("group.overview") + "#input-h", code=303)


@bp.post("/c/<context_id>/inbreng/<path:wish_uid>/overnemen")
@launch_required
def take_up_wish(context_id: str, wish_uid: str) -> Any:
    """Take up the patient's wish: applied to the meeting, or the group paused or ended, in one step."""
    group_page(Action.TAKE_UP_INPUT)
    return _take_up(
        lambda uow, key: wish_services.take_up_wish(uow, key, uid=wish_uid, today=today(), now=now()),
        gettext("Taken up."),
    )


@bp.post("/c/<context_id>/inbreng/<path:wish_uid>/gelezen")
@launch_required
def set_aside_wish(context_id: str, wish_uid: str) -> Any:
    """The patient's wish was read and is not taken up (for example: talked through together)."""
    group_page(Action.TAKE_UP_INPUT)
    return _take_up(
        lambda uow, key: wish_services.set_aside_wish(uow, key, uid=wish_uid),
        gettext("Marked as read. Nothing was changed."),
    )


@bp.post("/c/<context_id>/doelvoorstel/<path:goal_uid>/overnemen")
@launch_required
def take_up_goal(context_id: str, goal_uid: str) -> Any:
    """Take up a goal the patient proposed: it becomes an active goal of the group."""
    group_page(Action.TAKE_UP_INPUT)
    return _take_up(
        lambda uow, key: goal_services.take_up_goal(uow, key, uid=goal_uid), gettext("The goal is taken up.")
    )
