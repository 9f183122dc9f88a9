"""The notes area: a meeting's agenda (prepared before it) and report (written after it), and print views of both.

Routes, all under /c/<context_id>/bijeenkomsten/<meeting_uid>/:

- `notes.agenda`        agenda                 GET the agenda and its form; POST save, move a line, add a line
- `notes.agenda_print`  agenda/afdrukken       GET a clean page to print for the patient
- `notes.report`        verslag                GET the report form; POST save (scores, agreements, report), add a line
- `notes.report_print`  verslag/afdrukken      GET a clean page to print for the patient

Moving a line and adding a line are form submissions too (no JavaScript needed): the page comes back with
everything typed still in it, and nothing is saved until the user chooses Save. Saving is one action, so
one transaction: the agenda, or the report with its scores and new agreements.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from fhir_mappings.model import AgendaItem, Meeting, Report, ResourceGroup
from plugin.group.service import GroupPage, group_page, now, today
from plugin.launch.context import launch_required
from plugin.notes.forms import (
    KIND_AGREEMENT,
    KIND_FREE,
    KIND_GOAL,
    MAX_AGENDA_LINES,
    MAX_AGREEMENT_LINES,
    AgendaForm,
    AgendaLineForm,
    AgreementLineForm,
    ReportForm,
    ScoreLineForm,
    field_problems,
)
from plugin.notes.present import MeetingNotes
from plugin.web.actions import Problem, can_change, read_only_problem, run_action

bp = Blueprint("notes", __name__, template_folder="templates", static_folder="static", static_url_path="/static/notes")

# `path`: a meeting another system wrote has the uid "Appointment/<id>", with a slash in it.
MEETING = "/c/<context_id>/bijeenkomsten/<path:meeting_uid>"
_MOVE = re.compile(r"(up|down)-(\d{1,4})")
_LINE_KEY = re.compile(r"lines-(\d{1,6})-(.+)")


def _notes(page: GroupPage, meeting_uid: str) -> MeetingNotes:
    """The meeting of this launch's group, or 404."""
    group = page.group
    if group is None:
        abort(404)
    meeting = next((m for m in group.meetings if m.uid == meeting_uid), None)
    if meeting is None:
        abort(404)
    return MeetingNotes(group, meeting)


# ------------------------------------------------------------------------------------------------ agenda


@bp.route(f"{MEETING}/agenda", methods=["GET", "POST"])
@launch_required
def agenda(context_id: str, meeting_uid: str) -> Any:
    """The agenda of a meeting: goals and agreements to talk about plus items in own words, in order."""
    page = group_page()
    notes = _notes(page, meeting_uid)
    problem: Problem | None = None
    status = 200
    notice = ""
    if request.method == "GET":
        form = AgendaForm(data={"lines": notes.agenda_rows(), "ready": notes.agenda_ready})
    else:
        action = request.form.get("action", "save")
        form = AgendaForm()
        if not g.launch.can_write:
            problem, status = read_only_problem(), 403
        elif (move := _MOVE.fullmatch(action)) is not None:
            form = AgendaForm(formdata=_moved(request.form, move.group(1), int(move.group(2))))
            notice = gettext("The item was moved. Nothing is saved yet: choose 'Save agenda' when you are done.")
        elif action == "add":
            if len(form.lines) >= MAX_AGENDA_LINES:
                form.form_errors.append(gettext("The agenda cannot have more lines."))
                status = 422
            else:
                form.lines.append_entry({"kind": KIND_FREE, "ref": "", "include": False, "text": ""})
                notice = gettext("A line was added. Nothing is saved yet: choose 'Save agenda' when you are done.")
        elif form.validate_on_submit():
            ready = bool(form.ready.data)
            lines = [entry.form for entry in form.lines]
            outcome = run_action(
                page,
                lambda grp: grp.set_agenda(notes.meeting.uid, _agenda_items(grp, lines), ready=ready),
                "Agenda van de bijeenkomst klaargezet" if ready else "Agenda van de bijeenkomst bijgewerkt",
                form=form,
            )
            if outcome.done:
                return outcome.redirect(url_for("notes.agenda", meeting_uid=notes.meeting.uid))
            problem, status = outcome.problem, outcome.status
        else:
            status = 422
    form.label_lines(notes.describe)
    return render_template(
        "notes/agenda.html",
        page=page,
        group=notes.group,
        notes=notes,
        form=form,
        problem=problem,
        problems=field_problems(form),
        notice=notice,
        show_form=can_change(notes.group) or (request.method == "POST" and bool(g.launch.can_write)),
    ), status


def _moved(formdata: MultiDict[str, str], direction: str, position: int) -> MultiDict[str, str]:
    """The submitted form with line `position` swapped with its neighbour (every typed value kept)."""
    indices = sorted({int(m.group(1)) for key in formdata if (m := _LINE_KEY.fullmatch(key))})
    other = position - 1 if direction == "up" else position + 1
    if not (0 <= position < len(indices) and 0 <= other < len(indices)):
        return formdata
    swap = {indices[position]: indices[other], indices[other]: indices[position]}
    out: MultiDict[str, str] = MultiDict()
    for key, value in formdata.items(multi=True):
        m = _LINE_KEY.fullmatch(key)
        if m is not None and int(m.group(1)) in swap:
            key = f"lines-{swap[int(m.group(1))]}-{m.group(2)}"
        out.add(key, value)
    return out


def _agenda_items(group: ResourceGroup, lines: list[AgendaLineForm]) -> list[AgendaItem]:
    """The ticked goals and agreements and the filled-in own items, in the order of the form."""
    items: list[AgendaItem] = []
    for line in lines:
        kind, ref = line.kind.data, (line.ref.data or "").strip()
        if kind == KIND_FREE:
            if (line.text.data or "").strip():
                items.append(AgendaItem(line.text.data or ""))
        elif line.include.data and kind == KIND_GOAL:
            # The goal's words travel along as the reference's display, for readers of the record.
            goal = next((x for x in group.goals if x.uid == ref), None)
            items.append(AgendaItem(goal.text if goal else "", goal_uid=ref))
        elif line.include.data and kind == KIND_AGREEMENT:
            agreement = next((x for x in group.agreements if x.uid == ref), None)
            items.append(AgendaItem(agreement.description if agreement else "", agreement_uid=ref))
    return items


@bp.get(f"{MEETING}/agenda/afdrukken")
@launch_required
def agenda_print(context_id: str, meeting_uid: str) -> Any:
    """The agenda on one clean page, for the patient to take home."""
    page = group_page()
    notes = _notes(page, meeting_uid)
    return render_template("notes/agenda_print.html", page=page, group=notes.group, notes=notes)


# ------------------------------------------------------------------------------------------------ report


@bp.route(f"{MEETING}/verslag", methods=["GET", "POST"])
@launch_required
def report(context_id: str, meeting_uid: str) -> Any:
    """The report of a meeting: who came, scores per goal, what was discussed and decided, new agreements."""
    page = group_page()
    notes = _notes(page, meeting_uid)
    problem: Problem | None = None
    status = 200
    notice = ""
    if request.method == "GET":
        form = ReportForm(data=notes.report_data())
        form.fill_choices(notes.attendance_choices(), notes.owner_choices(), notes.goal_choices())
    else:
        form = ReportForm()
        form.fill_choices(notes.attendance_choices(), notes.owner_choices(), notes.goal_choices())
        action = request.form.get("action", "save")
        if not g.launch.can_write:
            problem, status = read_only_problem(), 403
        elif action == "add":
            if len(form.agreements) >= MAX_AGREEMENT_LINES:
                form.form_errors.append(gettext("The report cannot have more new agreements at once."))
                status = 422
            else:
                form.agreements.append_entry()
                form.fill_choices(notes.attendance_choices(), notes.owner_choices(), notes.goal_choices())
                notice = gettext("A line was added. Nothing is saved yet: choose 'Save report' when you are done.")
        elif _report_valid(form, notes):
            editing = notes.meeting.report is not None
            outcome = run_action(
                page,
                _report_action(notes.meeting.uid, form),
                "Verslag van de bijeenkomst aangepast" if editing else "Verslag van de bijeenkomst geschreven",
                form=form,
            )
            if outcome.done:
                return outcome.redirect(url_for("notes.report", meeting_uid=notes.meeting.uid))
            problem, status = outcome.problem, outcome.status
        else:
            status = 422
    return render_template(
        "notes/report.html",
        page=page,
        group=notes.group,
        notes=notes,
        form=form,
        problem=problem,
        problems=field_problems(form, _line_context(notes)),
        notice=notice,
        show_form=(can_change(notes.group) and notes.report_possible)
        or (request.method == "POST" and bool(g.launch.can_write)),
    ), status


def _line_context(notes: MeetingNotes) -> Callable[[str, int, Any], str]:
    def context(list_name: str, position: int, line: Any) -> str:
        if isinstance(line, ScoreLineForm):
            return notes.goal_text(line.goal.data or "") or gettext("Goal %(number)d", number=position)
        if isinstance(line, AgreementLineForm):
            return gettext("New agreement %(number)d", number=position)
        return ""

    return context


def _report_valid(form: ReportForm, notes: MeetingNotes) -> bool:
    """Every field checked (all errors shown at once, not only the first kind)."""
    valid = form.validate_on_submit()
    kept = _scores_kept(form, notes)
    return valid and kept


def _scores_kept(form: ReportForm, notes: MeetingNotes) -> bool:
    """A score already saved for this meeting can be changed but not emptied (nothing is ever deleted)."""
    saved = {s.goal_uid for s in notes.scores()}
    ok = True
    for entry in form.scores:
        line: ScoreLineForm = entry.form
        if line.goal.data in saved and not line.score.data:
            line.score.errors = [*line.score.errors, gettext("A saved score cannot be removed; change it instead.")]
            ok = False
    return ok


def _report_action(meeting_uid: str, form: ReportForm) -> Callable[[ResourceGroup], Report]:
    """The whole report as one action: new agreements, scores, then the report itself (which marks it held)."""
    written = now()
    day = today()
    sections = form.sections()
    attended = list(form.attended.data or [])
    agreements = [entry.form for entry in form.agreements if entry.form.filled]
    scores = [entry.form for entry in form.scores]

    def write(group: ResourceGroup) -> Report:
        meeting = group.meeting(meeting_uid)
        new_uids = [
            group.add_agreement(
                line.description.data or "",
                day,
                owner=line.owner.data or None,
                goal_uid=line.goal.data or None,
                due=line.due.data,
            ).uid
            for line in agreements
        ]
        discussed: list[str] = []
        for line in scores:
            goal_uid = line.goal.data or ""
            if line.score.data:
                _record_score(group, meeting, goal_uid, int(line.score.data), line.note.data or "")
            if (line.score.data or line.discussed.data) and goal_uid not in discussed:
                discussed.append(goal_uid)
        earlier = meeting.report.new_agreements if meeting.report is not None else []
        return group.write_report(
            meeting_uid,
            sections=sections,
            attended=attended,
            goals_discussed=discussed,
            new_agreements=[*earlier, *new_uids],
            written=written,
        )

    return write


def _record_score(group: ResourceGroup, meeting: Meeting, goal_uid: str, score: int, note: str) -> None:
    """A goal's score at this meeting (the domain keeps one per goal per meeting: a second one corrects it)."""
    group.score_progress(goal_uid, score, meeting.start, meeting.uid, note)


@bp.get(f"{MEETING}/verslag/afdrukken")
@launch_required
def report_print(context_id: str, meeting_uid: str) -> Any:
    """The report on clean pages, for the patient to take home."""
    page = group_page()
    notes = _notes(page, meeting_uid)
    return render_template("notes/report_print.html", page=page, group=notes.group, notes=notes)
