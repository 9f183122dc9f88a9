"""The goals area: the patient's goals with their steps, notes and progress scores (chart over time)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache, partial
from typing import Any

from babel import Locale
from babel.dates import format_date as babel_format_date
from flask import Blueprint, abort, render_template, request, url_for
from markupsafe import Markup

from fhir_mappings.codes import GoalLifecycle, GoalTerm, LifeArea, MeetingStatus
from fhir_mappings.model import CLINIC_ZONE, Goal, ProgressScore, ResourceGroup
from fhir_mappings.refs import FHIR_ID
from fhir_mappings.rights import Action
from plugin.goals.chart import ChartPoint, progress_chart, short_dutch_date, sparkline
from plugin.goals.forms import EditGoalForm, GoalForm, NoteForm, ScoreForm
from plugin.group.service import EVERY_SCORE, GroupPage, current_service, group_page, now, today
from plugin.i18n import DEFAULT_LOCALE, gettext, ngettext, request_locale
from plugin.launch.context import launch_required
from plugin.services import goals as services
from plugin.web.actions import Problem, can_change, run_service
from plugin.web.format import long_date
from plugin.web.forms import SHOWN_ONLY

bp = Blueprint("goals", __name__, template_folder="templates", static_folder="static", static_url_path="/static/goals")

OPTION_LENGTH = 80  # a goal's text in a select option is cut to this many characters
# `?alle=<the Goal's server id>` on a goal page: every score of the goal, not only those of the newest scores, read
# beside them (the id says which Goal to search; the page checks it is this goal's). `?alle=1` (and an id that is
# not this goal's): the whole group.
ALL_SCORES = "alle"
_SERVER_ID = re.compile(FHIR_ID)


# ---------------------------------------------------------------------- what the pages show


@dataclass
class GoalTree:
    """The goals as the patient thinks of them: long-term goals with their steps, and loose short-term goals."""

    long_term: list[Goal]
    steps: dict[str, list[Goal]]
    loose: list[Goal]


def goal_tree(group: ResourceGroup) -> GoalTree:
    """Long-term goals (in plan order) with their short-term steps under them; short-term goals without one."""
    steps: dict[str, list[Goal]] = {}
    for goal in group.goals:
        if goal.parent_uid is not None:
            steps.setdefault(goal.parent_uid, []).append(goal)
    long_term = [goal for goal in group.goals if goal.term is GoalTerm.LANG]
    loose = [goal for goal in group.goals if goal.term is GoalTerm.KORT and goal.parent_uid is None]
    return GoalTree(long_term, steps, loose)


def latest_scores(group: ResourceGroup) -> dict[str, ProgressScore]:
    """The newest progress score per goal uid (of the scores the group holds: on a load of the newest scores, a
    goal without one since `ResourceGroup.scores_since` has none here)."""
    latest: dict[str, ProgressScore] = {}
    for score in sorted(group.held_scores(), key=lambda p: p.when):
        latest[score.goal_uid] = score
    return latest


def shorten(text: str, limit: int = OPTION_LENGTH) -> str:
    """A long text cut to `limit` characters with an ellipsis (for select options and headings)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def parent_choices(group: ResourceGroup, exclude: str | None = None) -> list[tuple[str, str]]:
    """The long-term goals a short-term goal can be a step towards: (uid, text)."""
    return [
        (goal.uid, shorten(goal.text)) for goal in group.goals if goal.term is GoalTerm.LANG and goal.uid != exclude
    ]


def meeting_choices(group: ResourceGroup) -> list[tuple[str, str]]:
    """Held meetings, newest first: (uid, date and theme)."""
    held = sorted(
        (m for m in group.meetings if m.status is MeetingStatus.FULFILLED), key=lambda m: m.start, reverse=True
    )
    out = []
    for meeting in held:
        text = long_date(meeting.start)
        if meeting.theme_text:
            text = f"{text} ({shorten(meeting.theme_text, 40)})"
        out.append((meeting.uid, text))
    return out


def names_of(group: ResourceGroup) -> Callable[[str | None], str]:
    """A function giving a person's display name: a member's as the group has it, else read once from the record."""
    known = {m.who: m.display for m in group.members}

    def name(reference: str | None) -> str:
        if not reference:
            return ""
        if reference in known:
            return known[reference]
        return current_service().display_name(reference)

    return name


def chart_for(goal: Goal, scores: list[ProgressScore]) -> Markup | None:
    """The goal's progress chart (inline SVG) of its `scores` (oldest first), or None without scores."""
    if not scores:
        return None
    days = [score.when.astimezone(CLINIC_ZONE).date() for score in scores]
    points = tuple(ChartPoint(day, score.score) for day, score in zip(days, scores, strict=True))
    description = ngettext(
        "%(num)d score, on %(first)s. The score was %(last_score)d out of 10.",
        "%(num)d scores, from %(first)s to %(last)s. The latest score is %(last_score)d out of 10, "
        "the first was %(first_score)d.",
        len(points),
        first=long_date(days[0]),
        last=long_date(days[-1]),
        first_score=points[0].score,
        last_score=points[-1].score,
    )
    title = gettext("Progress on the goal: %(goal)s", goal=shorten(goal.text))
    if all(type(point.score) is int for point in points):  # the key then says exactly what is printed
        return _chart(points, goal.uid, title, description, request_locale())
    return _make_chart(points, goal.uid, title, description, request_locale())


def _english_day(day: date, locale: Locale | None) -> str:
    """A chart's date outside Dutch: what `flask_babel.format_date(day, "d MMM y")` gives in `locale`."""
    return str(babel_format_date(day, "d MMM y", locale=locale))


def _make_chart(
    points: tuple[ChartPoint, ...], chart_id: str, title: str, description: str, locale: Locale | None
) -> Markup:
    """The chart of `chart_for`, its dates written as the language writes them (Dutch: 07-04-2026)."""
    label: Callable[[date], str] = short_dutch_date
    if str(locale or DEFAULT_LOCALE) != "nl":
        label = partial(_english_day, locale=locale)
    svg = progress_chart(points, chart_id=chart_id, title=title, description=description, date_label=label)
    return Markup(svg)  # noqa: S704 - progress_chart escapes every text it writes (tested)


# A goal page shows its chart on every view, unchanged until a score is added; a chart is a few KB.
_CHARTS_KEPT = 256
_chart = lru_cache(maxsize=_CHARTS_KEPT, typed=True)(_make_chart)  # typed: a Markup text escapes differently


def sparkline_for(goal: Goal, progress: list[ProgressScore]) -> Markup | None:
    """The goal's small progress line for an overview (inline SVG) from its scores oldest first
    (`ResourceGroup.progress_for`), or None without scores."""
    scores = [p.score for p in progress]
    if not scores:
        return None
    title = ngettext(
        "Progress on %(goal)s: %(num)d score, %(last)d out of 10.",
        "Progress on %(goal)s: %(num)d scores, the latest %(last)d out of 10.",
        len(scores),
        goal=shorten(goal.text),
        last=scores[-1],
    )
    return Markup(sparkline(scores, chart_id=goal.uid, title=title))  # noqa: S704 - sparkline escapes its text


@bp.app_template_global("goal_sparkline")
def goal_sparkline(group: ResourceGroup, goal: Goal, scores: list[ProgressScore] | None = None) -> Markup | None:
    """`sparkline_for` the goal from `scores` (a print's: `ResourceGroup.scores_before`), else from the scores the
    group holds, oldest first, for any template (goal list; on a load of the newest scores, those since
    `ResourceGroup.scores_since`: the page says so)."""
    return sparkline_for(goal, group.held_scores_for(goal.uid) if scores is None else scores)


def _goal_or_404(group: ResourceGroup, uid: str) -> Goal:
    found = next((goal for goal in group.goals if goal.uid == uid), None)
    if found is None:
        abort(404)
    return found


def _goal_values(form: GoalForm) -> dict[str, Any]:
    """The domain arguments from a validated goal form."""
    area = form.life_area.data or ""
    return {
        "text": form.text.data or "",
        "term": GoalTerm(form.term.data),
        "life_area": LifeArea(area) if area else None,
        "due": form.due.data,
        "parent_uid": form.parent_uid.data or None,
    }


# ---------------------------------------------------------------------- pages


def _can(page: GroupPage, action: Action) -> bool:
    """Whether the page offers the form for `action`: the actor may do it and the group can change now."""
    return page.group is not None and can_change(page.group) and page.may(action)


@bp.get("/c/<context_id>/doelen")
@launch_required
def index(context_id: str) -> Any:
    """All goals: long-term ones with their steps, loose short-term ones; status, notes and latest score."""
    page = group_page(Action.VIEW_GOALS)  # the newest scores (the default): the list says from which day
    group: ResourceGroup = page.group  # type: ignore[assignment]  # group_page never returns without one
    return render_template(
        "goals/index.html",
        page=page,
        group=group,
        tree=goal_tree(group),
        latest=latest_scores(group),
        name_of=names_of(group),
        can_add=_can(page, Action.ADD_GOAL),
    )


@bp.route("/c/<context_id>/doelen/nieuw", methods=["GET", "POST"])
@launch_required
def new(context_id: str) -> Any:
    """Add a goal; `?stap_van=<uid>` starts a short-term step towards that long-term goal."""
    page = group_page(Action.ADD_GOAL)
    group: ResourceGroup = page.group  # type: ignore[assignment]
    parents = parent_choices(group)
    form = GoalForm()
    form.fill_choices(parents)
    problem: Problem | None = None
    status = 200
    if request.method == "GET":
        step_of = request.args.get("stap_van", "")
        if step_of and step_of in {uid for uid, _ in parents}:
            form.term.data, form.parent_uid.data = GoalTerm.KORT.value, step_of
    elif form.validate_on_submit():
        values = _goal_values(form)
        outcome = run_service(lambda uow, key: services.add_goal(uow, key, today=today(), **values), form=form)
        if outcome.done:
            return outcome.redirect(url_for("goals.index"))
        problem, status = outcome.problem, outcome.status
    else:
        status = 422
    return render_template(
        "goals/new.html", page=page, group=group, form=form, problem=problem, can_add=_can(page, Action.ADD_GOAL)
    ), status


def _render_goal(
    page: GroupPage,
    goal: Goal,
    *,
    edit_form: EditGoalForm | None = None,
    note_form: NoteForm | None = None,
    score_form: ScoreForm | None = None,
    problem: Problem | None = None,
    failed: str = "",
    status: int = 200,
) -> Any:
    """The goal page; the form that was sent keeps what the user typed, the others start fresh. A form the page
    does not offer this user is not made (the template shows each only when it is offered or was sent)."""
    group: ResourceGroup = page.group  # type: ignore[assignment]
    can_edit = _can(page, Action.EDIT_GOAL)
    can_note = _can(page, Action.ADD_GOAL_NOTE)
    can_score = _can(page, Action.SCORE_PROGRESS)
    # Forms made only to be shown carry no CSRF field of their own: the page writes the token into every form
    # (`form_keys`), and a POST is checked by the app's CSRFProtect and by the form the POST view makes.
    if edit_form is None and can_edit:
        edit_form = EditGoalForm(
            formdata=None,
            meta=SHOWN_ONLY,
            data={
                "text": goal.text,
                "term": goal.term.value,
                "life_area": goal.life_area.value if goal.life_area else "",
                "due": goal.due,
                "parent_uid": goal.parent_uid or "",
                "status": goal.lifecycle.value,
            },
        )
        edit_form.fill_choices(parent_choices(group, exclude=goal.uid))
        edit_form.fill_status(goal.lifecycle)
    if note_form is None and can_note:
        note_form = NoteForm(formdata=None, meta=SHOWN_ONLY)
    if score_form is None and can_score:
        score_form = ScoreForm(formdata=None, meta=SHOWN_ONLY)
        score_form.fill_choices(meeting_choices(group))
    parent = next((other for other in group.goals if other.uid == goal.parent_uid), None)
    scores = group.held_scores_for(goal.uid)  # on a load of the newest scores: those, and the page says so
    # The link to all of them names the Goal's server id, so that page reads only this goal's older scores.
    every_score: dict[str, Any] = {ALL_SCORES: _server_id(page, goal.uid) or "1"}
    return render_template(
        "goals/goal.html",
        page=page,
        group=group,
        goal=goal,
        parent=parent,
        steps=[other for other in group.goals if other.parent_uid == goal.uid],
        scores=scores,
        meetings={m.uid: m for m in group.meetings},
        chart=chart_for(goal, scores),
        scores_from=None if group.holds_every_score_of(goal.uid) else group.scores_since,
        all_scores_url=url_for("goals.goal", goal_uid=goal.uid, _anchor="progress-h", **every_score),
        agreements=[a for a in group.agreements if a.goal_uid == goal.uid],
        name_of=names_of(group),
        edit_form=edit_form,
        note_form=note_form,
        score_form=score_form,
        problem=problem,
        failed=failed,
        can_edit=can_edit,
        can_note=can_note,
        can_score=can_score,
        heading=shorten(goal.text, 120),
    ), status


@bp.route("/c/<context_id>/doelen/<path:goal_uid>", methods=["GET", "POST"])
@launch_required
def goal(context_id: str, goal_uid: str) -> Any:
    """One goal: its progress chart, notes and steps; POST changes the goal (text, term, area, date, status).

    The chart shows the scores of the newest `overview_scores` of the patient (all of them for most groups), and
    says from which day; `?alle=<Goal id>` shows every score of the goal (read beside the newest scores, in the
    same request). Any other `?alle=` (an older link: `1`, another goal's id) reads the goal's server id from the
    newest scores, then every score of the goal beside them: a second request (`_goal_page`)."""
    asked = request.args.get(ALL_SCORES) if request.method == "GET" else None
    page, group, current = _goal_page(goal_uid, asked)
    if request.method == "GET":
        return _render_goal(page, current)
    form = EditGoalForm()
    form.due.current = current.due  # keeping a due date that has passed since is not asked again
    form.fill_choices(parent_choices(group, exclude=current.uid))
    form.fill_status(current.lifecycle)
    if not form.validate_on_submit():
        return _render_goal(page, current, edit_form=form, failed="edit", status=422)
    values = _goal_values(form)
    chosen = GoalLifecycle(form.status.data)
    outcome = run_service(
        lambda uow, key: services.edit_goal(uow, key, uid=current.uid, status=chosen, today=today(), **values),
        form=form,
    )
    if outcome.done:
        return outcome.redirect(url_for("goals.goal", goal_uid=current.uid))
    return _render_goal(page, current, edit_form=form, problem=outcome.problem, failed="edit", status=outcome.status)


def _goal_page(goal_uid: str, asked: str | None) -> tuple[GroupPage, ResourceGroup, Goal]:
    """The page of a goal, its group and the goal: from the newest scores; with `asked` (`?alle=`), every score of
    the goal too. By the Goal's id that `asked` names, read beside the newest scores; when that load does not hold
    them (an older link: `1`, another goal's id; an EHR that refused the search), by the goal's own server id, read
    from that first load (a second request); else the whole group."""
    goal_id = asked if asked and asked != "1" and _SERVER_ID.fullmatch(asked) else None
    page, group, current = _goal_load(goal_uid, every_score_of=goal_id)
    if not asked or group.holds_every_score_of(current.uid):
        return page, group, current
    own = _server_id(page, current.uid)
    del page, group, current  # not held while the next load is read
    if own is not None and own != goal_id:
        page, group, current = _goal_load(goal_uid, every_score_of=own)
        if group.holds_every_score_of(current.uid):
            return page, group, current
        del page, group, current
    return _goal_load(goal_uid, newest_scores=EVERY_SCORE)


def _server_id(page: GroupPage, goal_uid: str) -> str | None:
    """The server id of the goal's Goal, as the page's load read it (None: not a Goal of the server's)."""
    ref = page.loaded.index.ref(goal_uid)
    return ref.split("/", 1)[1] if ref.startswith("Goal/") else None


def _goal_load(
    goal_uid: str, *, newest_scores: int | None = None, every_score_of: str | None = None
) -> tuple[GroupPage, ResourceGroup, Goal]:
    page = group_page(Action.VIEW_GOALS, newest_scores=newest_scores, every_score_of=every_score_of)
    group: ResourceGroup = page.group  # type: ignore[assignment]  # group_page() always has a group
    return page, group, _goal_or_404(group, goal_uid)


@bp.post("/c/<context_id>/doelen/<path:goal_uid>/notitie")
@launch_required
def add_note(context_id: str, goal_uid: str) -> Any:
    """Add a dated note to a goal (the acting user is its author)."""
    page = group_page(Action.VIEW_GOALS)
    current = _goal_or_404(page.group, goal_uid)  # type: ignore[arg-type]
    form = NoteForm()
    if not form.validate_on_submit():
        return _render_goal(page, current, note_form=form, failed="note", status=422)
    text = form.note.data or ""
    outcome = run_service(
        lambda uow, key: services.add_goal_note(uow, key, uid=current.uid, text=text, now=now()), form=form
    )
    if outcome.done:
        return outcome.redirect(url_for("goals.goal", goal_uid=current.uid) + "#notes-h")
    return _render_goal(page, current, note_form=form, problem=outcome.problem, failed="note", status=outcome.status)


@bp.post("/c/<context_id>/doelen/<path:goal_uid>/voortgang")
@launch_required
def score(context_id: str, goal_uid: str) -> Any:
    """Record a 0-10 progress score, optionally for a held meeting (then it counts at that meeting's time)."""
    page = group_page(Action.VIEW_GOALS)
    group: ResourceGroup = page.group  # type: ignore[assignment]
    current = _goal_or_404(group, goal_uid)
    form = ScoreForm()
    form.fill_choices(meeting_choices(group))
    if not form.validate_on_submit():
        return _render_goal(page, current, score_form=form, failed="score", status=422)
    meeting_uid = form.meeting_uid.data or None
    value, note = int(form.score.data or 0), form.score_note.data or ""
    outcome = run_service(
        lambda uow, key: services.score_progress(
            uow, key, uid=current.uid, score=value, now=now(), meeting_uid=meeting_uid, note=note
        ),
        form=form,
    )
    if outcome.done:
        return outcome.redirect(url_for("goals.goal", goal_uid=current.uid) + "#progress-h")
    return _render_goal(page, current, score_form=form, problem=outcome.problem, failed="score", status=outcome.status)
