"""The notes area: a meeting's agenda (prepared before it) and report (written after it), and print views of both.

Routes, all under /c/<context_id>/bijeenkomsten/<meeting_uid>/:

- `notes.agenda`        agenda                 GET the agenda and its form; POST save, move a line, add a line
- `notes.propose`       agenda/punt            POST the patient adds an item in own words to the agenda
- `notes.agenda_print`  agenda/afdrukken       GET a clean page to print for the patient
- `notes.report`        verslag                GET the report form; POST save (scores, new agreements, open agreements
                                               marked done or dropped, the report), add a line
- `notes.report_print`  verslag/afdrukken      GET a clean page to print for the patient

Moving a line and adding a line are form submissions too (no JavaScript needed): the page comes back with
everything typed still in it, and nothing is saved until the user chooses Save. Saving is one action, so
one transaction: the agenda, or the report with its scores, new agreements and the agreements it closes.

Everyone in the group sees the agenda and the report (and prints them); the forms are only on the page of
who may use them: the agenda form and the report form for care professionals, the small "add an agenda
item" form for the patient. A POST by anyone else gets the 403 page before the form is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Blueprint, abort, current_app, g, render_template, request, url_for
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from fhir_mappings.model import AgendaItem
from fhir_mappings.rights import Action
from plugin.group.service import EVERY_SCORE, GroupPage, group_page, now, today
from plugin.launch.context import launch_required
from plugin.notes.forms import (
    KIND_AGREEMENT,
    KIND_FREE,
    KIND_GOAL,
    MAX_AGENDA_LINES,
    MAX_AGREEMENT_LINES,
    AgendaForm,
    AgendaLineForm,
    AgendaProposalForm,
    AgreementLineForm,
    ReportForm,
    ScoreLineForm,
    field_problems,
)
from plugin.notes.present import MeetingNotes
from plugin.services import meetings as services
from plugin.web.actions import Problem, can_change, read_only_problem, run_service, saved_in_the_record

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


class _OlderMeetings:
    """Meetings whose scores a load of the newest scores did not hold (they started before its first day), per EHR
    and meeting, with the meeting's day, in this process: their report pages read the newest scores and every score
    of that day at once the next time (one request, and the read cache keeps it for the next view), instead of the
    newest scores first (two requests). A hint only: the page checks the load holds the meeting's scores (a planned
    meeting may move; a held one does not). Bounded: the oldest go first."""

    LIMIT = 2000

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], date] = {}

    def get(self, key: tuple[str, str]) -> date | None:
        return self._known.get(key)

    def add(self, key: tuple[str, str], day: date) -> None:
        self._known[key] = day
        while len(self._known) > self.LIMIT:
            try:
                del self._known[next(iter(self._known))]
            except (StopIteration, KeyError, RuntimeError):  # another thread took it first
                break


_older_meetings = _OlderMeetings()


def _meeting_page(see: Action, meeting_uid: str, *, with_report_only: bool = False) -> tuple[GroupPage, MeetingNotes]:
    """The page and meeting for a page that shows the scores given at the meeting (its report; `with_report_only`:
    when it has one): from the newest scores when they hold every one of them (`ResourceGroup.holds_scores_at`);
    for an older meeting, held or still planned, from the newest scores and every score of its day, read before
    anything is shown or saved (a second request), or at once for a meeting known to be older (`_OlderMeetings`);
    when the server does not answer the day's search, from every score."""
    known = (g.launch.iss, meeting_uid)
    day = _older_meetings.get(known)
    if day is None:
        page = group_page(see)
        notes = _notes(page, meeting_uid)
        if notes.group.holds_scores_at(meeting_uid) or (with_report_only and notes.meeting.report is None):
            return page, notes
        day = notes.group.scores_day(meeting_uid)
        del page, notes  # not held while the next load is read
    tried: set[date] = set()
    while day not in tried:
        tried.add(day)
        _older_meetings.add(known, day)
        page = group_page(see, every_score_on=day)
        notes = _notes(page, meeting_uid)
        if notes.group.holds_scores_at(meeting_uid):
            return page, notes
        day = notes.group.scores_day(meeting_uid)  # the same day: its search refused; another: the meeting moved
        del page, notes
    page = group_page(see, newest_scores=EVERY_SCORE)
    return page, _notes(page, meeting_uid)


def _offers(page: GroupPage, action: Action) -> bool:
    """Whether the page offers the form for `action`: the actor may do it and the group can change now."""
    return page.group is not None and can_change(page.group) and page.may(action)


# ------------------------------------------------------------------------------------------------ agenda


@bp.route(f"{MEETING}/agenda", methods=["GET", "POST"])
@launch_required
def agenda(context_id: str, meeting_uid: str) -> Any:
    """The agenda of a meeting: goals and agreements to talk about plus items in own words, in order."""
    page = group_page(Action.VIEW_AGENDA if request.method == "GET" else Action.SET_AGENDA)
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
            items = _agenda_items([entry.form for entry in form.lines])
            ready = bool(form.ready.data)
            outcome = run_service(
                lambda uow, key: services.set_agenda(uow, key, meeting_uid=notes.meeting.uid, items=items, ready=ready),
                form=form,
            )
            if outcome.done:
                return outcome.redirect(url_for("notes.agenda", meeting_uid=notes.meeting.uid))
            problem, status = outcome.problem, outcome.status
        else:
            status = 422
    form.label_lines(notes.describe)
    return _render_agenda(page, notes, form, problem, status, notice=notice)


def _render_agenda(
    page: GroupPage,
    notes: MeetingNotes,
    form: AgendaForm,
    problem: Problem | None,
    status: int,
    *,
    notice: str = "",
    proposal: AgendaProposalForm | None = None,
) -> Any:
    posted = request.method == "POST" and bool(g.launch.can_write)
    proposing = proposal is not None
    return render_template(
        "notes/agenda.html",
        page=page,
        group=notes.group,
        notes=notes,
        form=form,
        problem=None if proposing else problem,
        problems=field_problems(form),
        notice=notice,
        show_form=page.may(Action.SET_AGENDA) and ((can_change(notes.group) and notes.meeting.is_planned) or posted),
        proposal=proposal or AgendaProposalForm(formdata=None),
        proposal_problem=problem if proposing else None,
        show_proposal=_offers(page, Action.PROPOSE_AGENDA_ITEM) and (notes.agenda_open or proposing),
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


def _agenda_items(lines: list[AgendaLineForm]) -> list[AgendaItem]:
    """The ticked goals and agreements and the filled-in own items, in the order of the form."""
    items: list[AgendaItem] = []
    for line in lines:
        kind, ref = line.kind.data, (line.ref.data or "").strip()
        if kind == KIND_FREE:
            if (line.text.data or "").strip():
                items.append(AgendaItem(line.text.data or ""))
        elif line.include.data and kind == KIND_GOAL:
            items.append(AgendaItem(goal_uid=ref))
        elif line.include.data and kind == KIND_AGREEMENT:
            items.append(AgendaItem(agreement_uid=ref))
    return items


@bp.post(f"{MEETING}/agenda/punt")
@launch_required
def propose(context_id: str, meeting_uid: str) -> Any:
    """The patient adds an item in their own words to the agenda while it is being prepared."""
    page = group_page(Action.PROPOSE_AGENDA_ITEM)
    notes = _notes(page, meeting_uid)
    proposal = AgendaProposalForm()
    problem: Problem | None = None
    status = 422
    if not g.launch.can_write:
        problem, status = read_only_problem(), 403
    elif proposal.validate_on_submit():
        text = proposal.text.data or ""
        outcome = run_service(
            lambda uow, key: services.propose_agenda_item(uow, key, meeting_uid=notes.meeting.uid, text=text),
            form=proposal,
            saved_message=saved_in_the_record(gettext("Your item is on the agenda.")),
        )
        if outcome.done:
            return outcome.redirect(url_for("notes.agenda", meeting_uid=notes.meeting.uid))
        problem, status = outcome.problem, outcome.status
    form = AgendaForm(formdata=None, data={"lines": notes.agenda_rows(), "ready": notes.agenda_ready})
    form.label_lines(notes.describe)
    return _render_agenda(page, notes, form, problem, status, proposal=proposal)


@bp.get(f"{MEETING}/agenda/afdrukken")
@launch_required
def agenda_print(context_id: str, meeting_uid: str) -> Any:
    """The agenda on one clean page, for the patient to take home, with each goal's scores given before the meeting
    (of the newest: the page says from which day; `ResourceGroup.scores_before`)."""
    page = group_page(Action.VIEW_AGENDA)
    notes = _notes(page, meeting_uid)
    return render_template("notes/agenda_print.html", page=page, group=notes.group, notes=notes)


# ------------------------------------------------------------------------------------------------ report


@bp.route(f"{MEETING}/verslag", methods=["GET", "POST"])
@launch_required
def report(context_id: str, meeting_uid: str) -> Any:
    """The report of a meeting: who came, scores per goal, what was discussed and decided, new agreements."""
    # The form shows the scores given at the meeting, and its save corrects them: the newest scores when they hold
    # them all (a meeting held since their first day), else every score.
    see = Action.VIEW_REPORT if request.method == "GET" else Action.WRITE_REPORT
    page, notes = _meeting_page(see, meeting_uid)
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
        elif form.validate_on_submit():
            values = _report_values(form)
            outcome = run_service(
                lambda uow, key: services.write_report(
                    uow, key, meeting_uid=notes.meeting.uid, written=now(), today=today(), **values
                ),
                form=form,
            )
            if outcome.done:
                return outcome.redirect(url_for("notes.report", meeting_uid=notes.meeting.uid))
            problem, status = outcome.problem, outcome.status
        else:
            status = 422
    writer = page.may(Action.WRITE_REPORT)
    return render_template(
        "notes/report.html",
        page=page,
        group=notes.group,
        notes=notes,
        form=form,
        problem=problem,
        problems=field_problems(form, _line_context(notes)),
        notice=notice,
        show_form=writer
        and (
            (can_change(notes.group) and notes.meeting.may_get_report(today()))
            or (request.method == "POST" and bool(g.launch.can_write))
        ),
        # Who writes reports is told why there is no form yet: the meeting's day has not come.
        before_its_day=writer and notes.report_possible and not notes.meeting.day_has_come(today()),
    ), status


def _line_context(notes: MeetingNotes) -> Callable[[str, int, Any], str]:
    def context(list_name: str, position: int, line: Any) -> str:
        if isinstance(line, ScoreLineForm):
            return notes.goal_text(line.goal.data or "") or gettext("Goal %(number)d", number=position)
        if isinstance(line, AgreementLineForm):
            return gettext("New agreement %(number)d", number=position)
        return ""

    return context


def _report_values(form: ReportForm) -> dict[str, Any]:
    """The report form as plain values for the service."""
    scores: list[ScoreLineForm] = [entry.form for entry in form.scores]
    agreements: list[AgreementLineForm] = [entry.form for entry in form.agreements if entry.form.filled]
    return {
        "sections": form.sections(),
        "attended": list(form.attended.data or []),
        "goals": [
            services.GoalAtMeeting(
                line.goal.data or "",
                int(line.score.data) if line.score.data else None,
                line.note.data or "",
                bool(line.discussed.data),
            )
            for line in scores
        ],
        "new_agreements": [
            services.NewAgreement(
                line.description.data or "", line.owner.data or None, line.goal.data or None, line.due.data
            )
            for line in agreements
        ],
        "closing": form.closing(),
    }


@bp.get(f"{MEETING}/verslag/afdrukken")
@launch_required
def report_print(context_id: str, meeting_uid: str) -> Any:
    """The report on clean pages, for the patient to take home, with each goal's scores up to and including the
    meeting's (of the newest, or its day's for a meeting older than them: the page says from which day;
    `ResourceGroup.scores_before`). The scores given at the meeting are all in the report (`_meeting_page`)."""
    page, notes = _meeting_page(Action.VIEW_REPORT, meeting_uid, with_report_only=True)
    return render_template(
        "notes/report_print.html",
        page=page,
        group=notes.group,
        notes=notes,
        clinic_name=current_app.config["RESOURCEGROEP"].clinic_name,
        printed=now(),
    )
