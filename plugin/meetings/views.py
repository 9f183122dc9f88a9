"""The meetings area: the list, planning a meeting (with a place and theme), and one meeting's page.

On a meeting's page: roles, invitations with a calendar file, answers and what happened (held,
cancelled, no-show). Each form is one POST and one service call; the agenda and the report are
linked when the notes area is present. Every page shows the forms of what the actor may do only:
a member sees the meeting and answers their own invitation; the planning, the roles, everyone's
answers and the status stay with the care professionals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import Blueprint, abort, current_app, g, render_template, request, url_for
from flask_babel import gettext
from flask_wtf import FlaskForm

from fhir_mappings.codes import MeetingRole, MeetingStatus, MeetingTheme, ParticipationStatus
from fhir_mappings.errors import DomainError
from fhir_mappings.model import Meeting, ResourceGroup
from fhir_mappings.rights import Action
from plugin.group.service import GroupPage, current_service, group_page, now, today
from plugin.launch.context import launch_required
from plugin.meetings.forms import (
    LATER,
    NEW_PLACE,
    ROLES,
    InvitationForm,
    OwnResponseForm,
    PlanMeetingForm,
    RescheduleMeetingForm,
    RolesForm,
    StatusForm,
    response_key,
    responses_form,
)
from plugin.meetings.ics import calendar_filename, meeting_calendar
from plugin.meetings.invitation import invitation_text
from plugin.services import meetings as services
from plugin.services.uow import Done, UnitOfWork
from plugin.web.actions import Problem, can_change, read_only_problem, run_service

bp = Blueprint(
    "meetings", __name__, template_folder="templates", static_folder="static", static_url_path="/static/meetings"
)

Call = Callable[[UnitOfWork, str], Done[Any]]


def _group(page: GroupPage) -> ResourceGroup:
    group = page.group
    if group is None:  # pragma: no cover - group_page never returns without a group
        abort(404)
    return group


def _meeting(group: ResourceGroup, meeting_uid: str) -> Meeting:
    try:
        return group.meeting(meeting_uid)
    except DomainError:
        abort(404)


def _offers(page: GroupPage, action: Action) -> bool:
    """Whether the page offers the form for `action`: the actor may do it and the group can change now."""
    return page.group is not None and can_change(page.group) and page.may(action)


def _names(group: ResourceGroup) -> dict[str, str]:
    """Display name per person reference (a later participation wins: it has the newest name)."""
    return {m.who: m.display for m in group.members}


# ---------------------------------------------------------------------- the list

# Earlier meetings the list shows at first, the latest first: five years of a meeting every three months. A group
# that has met more often gets a link to all of them (`?alle=1`), so a long-running group's page stays short.
EARLIER_SHOWN = 20
ALL_EARLIER = "alle"


@bp.get("/c/<context_id>/bijeenkomsten")
@launch_required
def index(context_id: str) -> Any:
    """Planned meetings (the next one first) and the meetings that were held, cancelled or did not happen (the
    latest `EARLIER_SHOWN`, or with `?alle=1` all of them)."""
    page = group_page(Action.VIEW_MEETINGS)
    group = _group(page)
    moment = now()
    planned = sorted((m for m in group.meetings if m.is_planned), key=lambda m: (m.end < moment, m.start))
    past = sorted((m for m in group.meetings if not m.is_planned), key=lambda m: m.start, reverse=True)
    every = request.args.get(ALL_EARLIER) == "1"
    all_earlier: dict[str, Any] = {ALL_EARLIER: "1"}
    return render_template(
        "meetings/index.html",
        page=page,
        group=group,
        planned=planned,
        past=past if every else past[:EARLIER_SHOWN],
        past_count=len(past),
        all_earlier_url=url_for("meetings.index", **all_earlier),
        moment=moment,
        places={p.uid: p for p in group.places},
        names=_names(group),
        can_plan=_offers(page, Action.PLAN_MEETING) and group.may_plan,
        due=group.meeting_due(moment) and page.may(Action.PLAN_MEETING) and group.may_plan,
    )


# ---------------------------------------------------------------------- planning


@bp.route("/c/<context_id>/bijeenkomsten/nieuw", methods=["GET", "POST"])
@launch_required
def plan(context_id: str) -> Any:
    """Plan a meeting: when (proposed from the last held one), how long, where, and an optional theme."""
    page = group_page(Action.PLAN_MEETING)
    group = _group(page)
    form = PlanMeetingForm(group.places)
    problem: Problem | None = None
    status = 200
    if request.method == "GET":
        start, end = group.propose_next_meeting_time(now())
        form.start.data = start
        form.minutes.data = int((end - start).total_seconds() // 60)
        last = group.last_held_meeting() or (group.meetings[-1] if group.meetings else None)
        form.place.data = (
            last.place_uid if last is not None and last.place_uid else (NEW_PLACE if not group.places else LATER)
        )
    elif not g.launch.can_write:
        problem, status = read_only_problem(), 403
    elif form.validate_on_submit():
        begins = cast(datetime, form.start.data)  # validated: required and parsed
        chosen = form.place.data or LATER
        values: dict[str, Any] = {
            "start": begins,
            "end": begins + timedelta(minutes=form.minutes.data or 0),
            "place_uid": chosen if chosen not in (NEW_PLACE, LATER) else None,
            "new_place": (
                services.NewPlace(form.new_place_name.data or "", form.new_place_address.data or "")
                if chosen == NEW_PLACE
                else None
            ),
            "theme": MeetingTheme(form.theme.data) if form.theme.data else None,
            "theme_text": form.theme_text.data or "",
        }
        outcome = run_service(lambda uow, key: services.plan_meeting(uow, key, now=now(), **values), form=form)
        if outcome.saved is not None:
            # A save that waits in the outbox is not in the record yet: its page would not be found.
            waiting = outcome.saved.waiting or outcome.uid is None
            target = url_for("meetings.index") if waiting else url_for("meetings.detail", meeting_uid=outcome.uid)
            return outcome.redirect(target)
        problem, status = outcome.problem, outcome.status
    else:
        status = 422
    return render_template("meetings/plan.html", page=page, group=group, form=form, problem=problem), status


@bp.route("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/verplaatsen", methods=["GET", "POST"])
@launch_required
def reschedule(context_id: str, meeting_uid: str) -> Any:
    """Move a planned meeting: date, time, place, theme; agenda, roles and invitees stay."""
    page = group_page(Action.RESCHEDULE_MEETING)
    group = _group(page)
    meeting = _meeting(group, meeting_uid)
    if not meeting.is_planned:
        abort(404)
    form = RescheduleMeetingForm(group.places)
    form.start.current = meeting.start  # keeping the stored (even a past) time is not asked about again
    problem: Problem | None = None
    status = 200
    if request.method == "GET":
        form.start.data = meeting.start
        form.minutes.data = meeting.minutes
        form.place.data = meeting.place_uid or LATER
        form.theme.data = meeting.theme.value if meeting.theme is not None else ""
        form.theme_text.data = meeting.theme_text
    elif not g.launch.can_write:
        problem, status = read_only_problem(), 403
    elif form.validate_on_submit():
        begins = cast(datetime, form.start.data)  # validated: required and parsed
        chosen = form.place.data or LATER
        minutes = form.minutes.data or 0
        values: dict[str, Any] = {
            "start": begins,
            "end": begins + timedelta(minutes=minutes),
            "place_uid": chosen if chosen not in (NEW_PLACE, LATER) else None,
            "new_place": (
                services.NewPlace(form.new_place_name.data or "", form.new_place_address.data or "")
                if chosen == NEW_PLACE
                else None
            ),
            "theme": MeetingTheme(form.theme.data) if form.theme.data else None,
            "theme_text": form.theme_text.data or "",
            "now": now(),
        }
        moved = begins != meeting.start or minutes != meeting.minutes
        saved = (
            gettext("The meeting was moved. Everyone is asked again whether they can come.")
            if moved
            else gettext("The meeting was changed.")
        )
        outcome = run_service(
            lambda uow, key: services.reschedule_meeting(uow, key, meeting_uid=meeting.uid, **values),
            form=form,
            saved_message=saved,
        )
        if outcome.done:
            return outcome.redirect(url_for("meetings.detail", meeting_uid=meeting.uid))
        problem, status = outcome.problem, outcome.status
    else:
        status = 422
    return render_template(
        "meetings/reschedule.html", page=page, group=group, meeting=meeting, form=form, problem=problem
    ), status


# ---------------------------------------------------------------------- one meeting


@dataclass
class DetailForms:
    """The forms on a meeting's page; the one that was posted replaces its empty twin."""

    roles: RolesForm
    invitation: InvitationForm
    responses: FlaskForm
    status: StatusForm
    own: OwnResponseForm
    failed: str = ""
    problem: Problem | None = None


def _response_rows(group: ResourceGroup, meeting: Meeting) -> list[tuple[str, str, ParticipationStatus]]:
    """Everyone who can answer: the meeting's participants who are members, then full members not yet listed."""
    names = _names(group)
    rows = [(p.who, names[p.who], p.response) for p in meeting.participants if p.who in names]
    listed = {who for who, _, _ in rows}
    rows += [
        (m.who, m.display, ParticipationStatus.NEEDS_ACTION)
        for m in group.members
        if m.is_member and m.who not in listed
    ]
    return rows


def _people(group: ResourceGroup) -> list[tuple[str, str]]:
    """Who can hold a role in a meeting: the members (a nominee first has the interview and joins)."""
    seen: dict[str, str] = {}
    for m in group.members:
        if not m.is_member:
            continue
        seen.setdefault(m.who, m.display)
    return list(seen.items())


def _holders(meeting: Meeting) -> dict[MeetingRole, str | None]:
    return {role: next((p.who for p in meeting.participants if role in p.roles), None) for role in ROLES}


def _sender(group: ResourceGroup) -> str:
    user = current_service().repository.user
    return next((m.display for m in group.members if m.who == user), "")


def _forms(group: ResourceGroup, meeting: Meeting, posted: str = "") -> DetailForms:
    """Fresh forms, except the posted one, which reads the request (so the user's input is kept)."""

    def data(name: str) -> dict[str, Any]:
        return {} if name == posted else {"formdata": None}

    invitation = InvitationForm(**data("invitation"))
    if posted != "invitation":
        invitation.message.data = invitation_text(group, meeting, _sender(group))
    holders = _holders(meeting)
    roles_form = RolesForm(_people(group), holders, **data("roles"))
    if posted != "roles":
        for role, holder in holders.items():
            roles_form[role.value].data = holder or ""
    return DetailForms(
        roles=roles_form,
        invitation=invitation,
        responses=responses_form(_response_rows(group, meeting), **data("responses")),
        status=StatusForm(meeting.markable_next(today()), **data("status")),
        own=OwnResponseForm(**data("own")),
    )


def _render_detail(page: GroupPage, meeting: Meeting, forms: DetailForms, status: int = 200) -> Any:
    group = _group(page)
    rows = _response_rows(group, meeting)
    me = page.actor.who
    mine = next((current for who, _, current in rows if who == me), None)
    offers = {
        "roles": _offers(page, Action.ASSIGN_MEETING_ROLES),
        "invitation": _offers(page, Action.SEND_INVITATION) and (meeting.is_planned or forms.failed == "invitation"),
        "responses": _offers(page, Action.RECORD_ANY_RESPONSE) and (meeting.is_planned or forms.failed == "responses"),
        "own": _offers(page, Action.RESPOND_TO_INVITATION)
        and mine is not None
        and (meeting.is_planned or forms.failed == "own"),
        "status": _offers(page, Action.SET_MEETING_STATUS),
        "reschedule": _offers(page, Action.RESCHEDULE_MEETING) and meeting.is_planned,
    }
    return render_template(
        "meetings/detail.html",
        page=page,
        group=group,
        meeting=meeting,
        forms=forms,
        place=next((p for p in group.places if p.uid == meeting.place_uid), None),
        names=_names(group),
        holders=_holders(meeting),
        roles=ROLES,
        rows=rows,
        mine=mine,
        response_key=response_key,
        offers=offers,
        problem_on_top=forms.problem is not None and not offers.get(forms.failed, False),
        planned=meeting.is_planned,
        before_its_day=meeting.is_planned and not meeting.day_has_come(today()),
    ), status


@bp.get("/c/<context_id>/bijeenkomsten/<path:meeting_uid>")
@launch_required
def detail(context_id: str, meeting_uid: str) -> Any:
    """One meeting: details, roles, invitations, answers, status, and links to the agenda and report."""
    page = group_page(Action.VIEW_MEETINGS)
    meeting = _meeting(_group(page), meeting_uid)
    return _render_detail(page, meeting, _forms(_group(page), meeting))


def _post(meeting_uid: str, name: str, action: Action, call: Callable[[Any, ResourceGroup, Meeting], Call]) -> Any:
    """Validate the posted form `name`, call its service (one save), and redirect or show the page again.

    Who may not do `action` gets the 403 page before anything is read from the form.
    """
    page = group_page(action)
    group = _group(page)
    meeting = _meeting(group, meeting_uid)
    forms = _forms(group, meeting, posted=name)
    form: FlaskForm = getattr(forms, name)
    forms.failed = name
    if not g.launch.can_write:
        forms.problem = read_only_problem()
        return _render_detail(page, meeting, forms, 403)
    if not form.validate_on_submit():
        return _render_detail(page, meeting, forms, 422)
    outcome = run_service(call(form, group, meeting), form=form)
    if outcome.done:
        return outcome.redirect(url_for("meetings.detail", meeting_uid=meeting.uid) + f"#{name}")
    forms.problem = outcome.problem
    return _render_detail(page, meeting, forms, outcome.status)


@bp.post("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/rollen")
@launch_required
def roles(context_id: str, meeting_uid: str) -> Any:
    """Agree who chairs, who takes the minutes and who keeps the time."""

    def call(form: RolesForm, group: ResourceGroup, meeting: Meeting) -> Call:
        holders = {role: form[role.value].data for role in ROLES if form[role.value].data}
        return lambda uow, key: services.assign_roles(uow, key, meeting_uid=meeting.uid, holders=holders)

    return _post(meeting_uid, "roles", Action.ASSIGN_MEETING_ROLES, call)


@bp.post("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/uitnodiging")
@launch_required
def invite(context_id: str, meeting_uid: str) -> Any:
    """Send an invitation with the meeting for the calendar to every member (a planned meeting becomes booked)."""

    def call(form: InvitationForm, group: ResourceGroup, meeting: Meeting) -> Call:
        message, sent = form.message.data or "", now()
        return lambda uow, key: services.send_invitation(uow, key, meeting_uid=meeting.uid, message=message, sent=sent)

    return _post(meeting_uid, "invitation", Action.SEND_INVITATION, call)


@bp.post("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/reacties")
@launch_required
def responses(context_id: str, meeting_uid: str) -> Any:
    """Write down who comes, who cannot come and who may come (a care professional, for everyone)."""

    def call(form: FlaskForm, group: ResourceGroup, meeting: Meeting) -> Call:
        rows = _response_rows(group, meeting)
        answers = {who: ParticipationStatus(form[response_key(who)].data) for who, _, _ in rows}
        return lambda uow, key: services.record_responses(uow, key, meeting_uid=meeting.uid, answers=answers)

    return _post(meeting_uid, "responses", Action.RECORD_ANY_RESPONSE, call)


@bp.post("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/mijn-reactie")
@launch_required
def respond(context_id: str, meeting_uid: str) -> Any:
    """The patient or a member answers their own invitation: coming, maybe, or not."""

    def call(form: OwnResponseForm, group: ResourceGroup, meeting: Meeting) -> Call:
        answer = ParticipationStatus(form.answer.data)
        return lambda uow, key: services.respond_to_invitation(uow, key, meeting_uid=meeting.uid, answer=answer)

    return _post(meeting_uid, "own", Action.RESPOND_TO_INVITATION, call)


@bp.post("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/status")
@launch_required
def mark(context_id: str, meeting_uid: str) -> Any:
    """Mark the meeting held, cancelled or as not having taken place."""

    def call(form: StatusForm, group: ResourceGroup, meeting: Meeting) -> Call:
        chosen, moment = MeetingStatus(form.status.data), now()
        return lambda uow, key: services.set_meeting_status(
            uow, key, meeting_uid=meeting.uid, status=chosen, now=moment
        )

    return _post(meeting_uid, "status", Action.SET_MEETING_STATUS, call)


@bp.get("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/bijeenkomst.ics")
@launch_required
def ics(context_id: str, meeting_uid: str) -> Any:
    """The meeting as a calendar file to download (iCalendar), for everyone who may see the meetings."""
    page = group_page(Action.VIEW_MEETINGS)
    group = _group(page)
    meeting = _meeting(group, meeting_uid)
    body = meeting_calendar(group, meeting, stamp=now())
    response = current_app.response_class(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{calendar_filename(meeting)}"'
    return response
