"""The meetings area: the list, planning a meeting (with a place and theme), and one meeting's page.

On a meeting's page: roles, invitations with a calendar file, responses and what happened (held,
cancelled, no-show). Each form is one POST and one saved action; the agenda and the report are
linked when the notes area is present.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_wtf import FlaskForm

from fhir_mappings.codes import MeetingRole, MeetingStatus, MeetingTheme, ParticipationStatus
from fhir_mappings.errors import DomainError
from fhir_mappings.model import Meeting, ResourceGroup
from plugin.group.service import GroupPage, current_service, now
from plugin.launch.context import launch_required
from plugin.meetings.forms import (
    LATER,
    NEW_PLACE,
    ROLES,
    InvitationForm,
    PlanMeetingForm,
    RolesForm,
    StatusForm,
    response_key,
    responses_form,
)
from plugin.meetings.ics import calendar_filename, meeting_calendar
from plugin.meetings.invitation import invitation_text
from plugin.web.actions import Problem, can_change, read_only_problem, run_action

bp = Blueprint(
    "meetings", __name__, template_folder="templates", static_folder="static", static_url_path="/static/meetings"
)

PLANNED = (MeetingStatus.PROPOSED, MeetingStatus.BOOKED)
# What a user may mark next, per status (the domain checks it again and explains a refusal).
_MARKABLE_NEXT: dict[MeetingStatus, list[MeetingStatus]] = {
    MeetingStatus.PROPOSED: [MeetingStatus.FULFILLED, MeetingStatus.CANCELLED],
    MeetingStatus.BOOKED: [MeetingStatus.FULFILLED, MeetingStatus.CANCELLED, MeetingStatus.NOSHOW],
}


def _page() -> GroupPage:
    page = current_service().page()
    if page.group is None:
        abort(404)
    return page


def _meeting(group: ResourceGroup, meeting_uid: str) -> Meeting:
    try:
        return group.meeting(meeting_uid)
    except DomainError:
        abort(404)


def _names(group: ResourceGroup) -> dict[str, str]:
    """Display name per person reference (a later participation wins: it has the newest name)."""
    return {m.who: m.display for m in group.members}


# ---------------------------------------------------------------------- the list


@bp.get("/c/<context_id>/bijeenkomsten")
@launch_required
def index(context_id: str) -> Any:
    """Planned meetings (the next one first) and the meetings that were held, cancelled or did not happen."""
    page = current_service().page()
    if page.group is None:
        return redirect(url_for("group.overview"), code=303)
    group = page.group
    moment = now()
    planned = sorted((m for m in group.meetings if m.status in PLANNED), key=lambda m: (m.end < moment, m.start))
    past = sorted((m for m in group.meetings if m.status not in PLANNED), key=lambda m: m.start, reverse=True)
    return render_template(
        "meetings/index.html",
        page=page,
        group=group,
        planned=planned,
        past=past,
        moment=moment,
        places={p.uid: p for p in group.places},
        names=_names(group),
        can_change=can_change(group),
        due=group.meeting_due(moment),
    )


# ---------------------------------------------------------------------- planning


@bp.route("/c/<context_id>/bijeenkomsten/nieuw", methods=["GET", "POST"])
@launch_required
def plan(context_id: str) -> Any:
    """Plan a meeting: when (proposed from the last held one), how long, where, and an optional theme."""
    page = _page()
    group: ResourceGroup = page.group  # type: ignore[assignment]
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
        ends = begins + timedelta(minutes=form.minutes.data or 0)
        chosen = form.place.data or LATER
        name, address = form.new_place_name.data or "", form.new_place_address.data or ""
        theme = MeetingTheme(form.theme.data) if form.theme.data else None
        theme_text = form.theme_text.data or ""

        def plan_it(grp: ResourceGroup) -> Meeting:
            place_uid = None
            if chosen == NEW_PLACE:
                place_uid = grp.add_place(name, address).uid
            elif chosen != LATER:
                place_uid = chosen
            return grp.plan_meeting(begins, ends, place_uid, theme, theme_text)

        activity = "Bijeenkomst gepland met een nieuwe plek" if chosen == NEW_PLACE else "Bijeenkomst gepland"
        outcome = run_action(page, plan_it, activity, form=form)
        if outcome.done:
            # A save that waits in the outbox is not in the record yet: its page would not be found.
            target = (
                url_for("meetings.detail", meeting_uid=outcome.value.uid)
                if outcome.saved.saved  # type: ignore[union-attr]
                else url_for("meetings.index")
            )
            return outcome.redirect(target)
        problem, status = outcome.problem, outcome.status
    else:
        status = 422
    return render_template("meetings/plan.html", page=page, group=group, form=form, problem=problem), status


# ---------------------------------------------------------------------- one meeting


@dataclass
class DetailForms:
    """The forms on a meeting's page; the one that was posted replaces its empty twin."""

    roles: RolesForm
    invitation: InvitationForm
    responses: FlaskForm
    status: StatusForm
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
    seen: dict[str, str] = {}
    for m in group.active_members():
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
        status=StatusForm(_MARKABLE_NEXT.get(meeting.status, []), **data("status")),
    )


def _render_detail(page: GroupPage, meeting: Meeting, forms: DetailForms, status: int = 200) -> Any:
    group: ResourceGroup = page.group  # type: ignore[assignment]
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
        rows=_response_rows(group, meeting),
        response_key=response_key,
        can_change=can_change(group),
        planned=meeting.status in PLANNED,
    ), status


@bp.get("/c/<context_id>/bijeenkomsten/<path:meeting_uid>")
@launch_required
def detail(context_id: str, meeting_uid: str) -> Any:
    """One meeting: details, roles, invitations, responses, status, and links to the agenda and report."""
    page = _page()
    meeting = _meeting(page.group, meeting_uid)  # type: ignore[arg-type]
    return _render_detail(page, meeting, _forms(page.group, meeting))  # type: ignore[arg-type]


def _post(meeting_uid: str, name: str, act: Any, activity: str) -> Any:
    """Validate the posted form `name`, run its action (one save), and redirect or show the page again."""
    page = _page()
    group: ResourceGroup = page.group  # type: ignore[assignment]
    meeting = _meeting(group, meeting_uid)
    forms = _forms(group, meeting, posted=name)
    form: FlaskForm = getattr(forms, name)
    forms.failed = name
    if not g.launch.can_write:
        forms.problem = read_only_problem()
        return _render_detail(page, meeting, forms, 403)
    if not form.validate_on_submit():
        return _render_detail(page, meeting, forms, 422)
    action, refusal = act(form, group, meeting)
    if refusal:
        form.form_errors.append(refusal)
        return _render_detail(page, meeting, forms, 422)
    outcome = run_action(page, action, activity, form=form)
    if outcome.done:
        return outcome.redirect(url_for("meetings.detail", meeting_uid=meeting.uid) + f"#{name}")
    forms.problem = outcome.problem
    return _render_detail(page, meeting, forms, outcome.status)


@bp.post("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/rollen")
@launch_required
def roles(context_id: str, meeting_uid: str) -> Any:
    """Agree who chairs, who takes the minutes and who keeps the time."""

    def act(form: RolesForm, group: ResourceGroup, meeting: Meeting) -> tuple[Any, str]:
        chosen = [(role, form[role.value].data) for role in ROLES if form[role.value].data]

        def assign(grp: ResourceGroup) -> None:
            for role, who in chosen:
                grp.assign_role(meeting.uid, who, role)

        return assign, ""

    return _post(meeting_uid, "roles", act, "Rollen voor de bijeenkomst afgesproken")


@bp.post("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/uitnodiging")
@launch_required
def invite(context_id: str, meeting_uid: str) -> Any:
    """Send an invitation with the meeting for the calendar to every member (a planned meeting becomes booked)."""

    def act(form: InvitationForm, group: ResourceGroup, meeting: Meeting) -> tuple[Any, str]:
        if meeting.status not in PLANNED:
            return None, gettext("This meeting is no longer planned, so you cannot invite anyone to it.")
        message = form.message.data or ""
        sent = now()

        def send(grp: ResourceGroup) -> Any:
            target = grp.meeting(meeting.uid)
            # The calendar shows the meeting as booked: sending the invitation books it.
            calendar = meeting_calendar(grp, target, stamp=sent, description=message, status=MeetingStatus.BOOKED)
            return grp.add_invitation(meeting.uid, message, sent=sent, calendar=calendar)

        return send, ""

    return _post(meeting_uid, "invitation", act, "Uitnodiging voor de bijeenkomst verstuurd")


@bp.post("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/reacties")
@launch_required
def responses(context_id: str, meeting_uid: str) -> Any:
    """Write down who comes, who cannot come and who may come."""

    def act(form: FlaskForm, group: ResourceGroup, meeting: Meeting) -> tuple[Any, str]:
        answers = []
        for who, _, current in _response_rows(group, meeting):
            chosen = ParticipationStatus(form[response_key(who)].data)
            if chosen is not current:
                answers.append((who, chosen))

        def record(grp: ResourceGroup) -> None:
            for who, answer in answers:
                grp.record_response(meeting.uid, who, answer)

        return record, ""

    return _post(meeting_uid, "responses", act, "Reacties op de uitnodiging genoteerd")


_STATUS_ACTIVITY = {
    MeetingStatus.FULFILLED: "Bijeenkomst gehouden",
    MeetingStatus.CANCELLED: "Bijeenkomst afgezegd",
    MeetingStatus.NOSHOW: "Bijeenkomst niet doorgegaan",
}


@bp.post("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/status")
@launch_required
def mark(context_id: str, meeting_uid: str) -> Any:
    """Mark the meeting held, cancelled or as not having taken place."""
    chosen = request.form.get("status", "")
    new = MeetingStatus(chosen) if chosen in _STATUS_ACTIVITY else None

    def act(form: StatusForm, group: ResourceGroup, meeting: Meeting) -> tuple[Any, str]:
        target = MeetingStatus(form.status.data)

        def change(grp: ResourceGroup) -> None:
            grp.set_meeting_status(meeting.uid, target)

        return change, ""

    activity = _STATUS_ACTIVITY[new] if new is not None else "Status van de bijeenkomst gewijzigd"
    return _post(meeting_uid, "status", act, activity)


@bp.get("/c/<context_id>/bijeenkomsten/<path:meeting_uid>/bijeenkomst.ics")
@launch_required
def ics(context_id: str, meeting_uid: str) -> Any:
    """The meeting as a calendar file to download (iCalendar)."""
    page = _page()
    meeting = _meeting(page.group, meeting_uid)  # type: ignore[arg-type]
    body = meeting_calendar(page.group, meeting, stamp=now())  # type: ignore[arg-type]
    response = current_app.response_class(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{calendar_filename(meeting)}"'
    return response
