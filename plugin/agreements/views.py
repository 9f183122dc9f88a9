"""The agreements area: who does what, by when, for which goal; open, done and cancelled; overdue ones stand out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext

from fhir_mappings.codes import AgreementStatus, MemberRole
from fhir_mappings.model import Agreement, ResourceGroup
from fhir_mappings.rights import Action
from plugin.agreements.forms import AgreementForm, DoneForm, EditAgreementForm
from plugin.group.service import GroupPage, group_page, now, today
from plugin.launch.context import launch_required
from plugin.services import agreements as services
from plugin.web.actions import Problem, can_change, run_service, saved_in_the_record
from plugin.web.labels import label

bp = Blueprint(
    "agreements", __name__, template_folder="templates", static_folder="static", static_url_path="/static/agreements"
)

OPTION_LENGTH = 80  # a goal's text in a select option is cut to this many characters


@dataclass
class AgreementLists:
    """The agreements as the page groups them; `overdue` holds the uids of open ones past their date."""

    open: list[Agreement]
    done: list[Agreement]
    cancelled: list[Agreement]
    overdue: set[str]


# Done and cancelled agreements the list shows at first, the latest first; more get a link to all (`?alle=1`), so
# a long-running group's page stays short. Open ones are always all shown: they are what the group works on.
ENDED_SHOWN = 20
ALL_ENDED = "alle"


def _sort_key(agreement: Agreement) -> tuple[bool, date, str]:
    # By date, soonest first; agreements without a date after those with one.
    return (agreement.due is None, agreement.due or date.max, agreement.description.casefold())


def _dated(agreement: Agreement) -> tuple[bool, date]:
    # Its date, else the day it was made; those with neither before all others (sorted in reverse: last).
    when = agreement.due or agreement.created
    return (when is not None, when or date.min)


def agreement_lists(agreements: list[Agreement], on: date) -> AgreementLists:
    """Open (soonest first), done and cancelled agreements (the latest first), and which open ones are overdue on
    `on`."""
    ordered = sorted(agreements, key=_sort_key)
    ended = sorted(ordered, key=_dated, reverse=True)  # the latest first (stable: equal dates keep the order above)
    return AgreementLists(
        open=[a for a in ordered if a.is_open],
        done=[a for a in ended if a.status is AgreementStatus.COMPLETED],
        cancelled=[a for a in ended if a.status is AgreementStatus.CANCELLED],
        overdue={a.uid for a in ordered if a.is_overdue(on)},
    )


def listed(page: GroupPage) -> list[Agreement]:
    """The agreements this page lists: all of them for who may see all, else only the actor's own.

    (The redacted group of a member also holds agreements a meeting named; those belong on the agenda and the
    report, not on the member's own list.)
    """
    group: ResourceGroup = page.group  # type: ignore[assignment]
    if page.may(Action.VIEW_ALL_AGREEMENTS):
        return list(group.agreements)
    return [a for a in group.agreements if a.owner == page.actor.who]


def _can(page: GroupPage, action: Action) -> bool:
    """Whether the page offers the form for `action`: the actor may do it and the group can change now."""
    return page.group is not None and can_change(page.group) and page.may(action)


def shorten(text: str, limit: int = OPTION_LENGTH) -> str:
    """A long text on one line, cut to `limit` characters with an ellipsis (for select options)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def owner_choices(group: ResourceGroup, current: str | None = None) -> list[tuple[str, str]]:
    """Active members by name (the patient and the regieondersteuner with their role); a departed owner stays."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for member in group.active_members():
        if member.who in seen:
            continue
        seen.add(member.who)
        role = next((r for r in (MemberRole.REGISSEUR, MemberRole.REGIEONDERSTEUNER) if r in member.roles), None)
        out.append((member.who, f"{member.display}, {label(role)}" if role else member.display))
    if current and current not in seen:
        out.append((current, gettext("%(name)s (no longer in the group)", name=display_of(group, current))))
    return out


def goal_choices(group: ResourceGroup, current: str | None = None) -> list[tuple[str, str]]:
    """The goals still being worked on, and the agreement's own goal when it has since been reached or stopped:
    (uid, text and term)."""
    out = []
    for goal in group.goals:
        if goal.is_open:
            out.append((goal.uid, f"{shorten(goal.text)} ({label(goal.term)})"))
        elif goal.uid == current:
            out.append((goal.uid, f"{shorten(goal.text)} ({label(goal.lifecycle)})"))
    return out


def display_of(group: ResourceGroup, who: str | None) -> str:
    """A member's name as the group has it (the active participation first), else the reference."""
    if not who:
        return ""
    members = sorted((m for m in group.members if m.who == who), key=lambda m: not m.active)
    return members[0].display if members else who


def _values(form: AgreementForm) -> dict[str, Any]:
    """The domain arguments from a validated agreement form."""
    return {
        "description": form.description.data or "",
        "owner": form.owner.data or None,
        "goal_uid": form.goal_uid.data or None,
        "due": form.due.data,
    }


def _render_index(page: GroupPage, problem: Problem | None = None, status: int = 200) -> Any:
    group: ResourceGroup = page.group  # type: ignore[assignment]  # group_page never returns without one
    lists = agreement_lists(listed(page), today())
    every: dict[str, Any] = {ALL_ENDED: "1"}
    return render_template(
        "agreements/index.html",
        page=page,
        group=group,
        lists=lists,
        shown=None if request.args.get(ALL_ENDED) == "1" else ENDED_SHOWN,  # (None: all of them)
        all_ended_url=url_for("agreements.index", **every),
        goals={goal.uid: goal for goal in group.goals},
        display_of=display_of,
        all_agreements=page.may(Action.VIEW_ALL_AGREEMENTS),
        can_add=_can(page, Action.ADD_AGREEMENT),
        can_edit=_can(page, Action.EDIT_AGREEMENT),
        can_mark=_can(page, Action.MARK_OWN_AGREEMENT_DONE),
        me=page.actor.who,
        problem=problem,
    ), status


@bp.get("/c/<context_id>/afspraken")
@launch_required
def index(context_id: str) -> Any:
    """The agreements (a member: their own): open ones first (overdue marked), then done, then cancelled."""
    return _render_index(group_page(Action.VIEW_OWN_AGREEMENTS))


@bp.post("/c/<context_id>/afspraken/<path:agreement_uid>/klaar")
@launch_required
def mark_done(context_id: str, agreement_uid: str) -> Any:
    """The patient or a member says their own agreement is done, with a short note if they like.

    A note that cannot be saved (too long) comes back on the agreement's page with what was typed.
    """
    page = group_page(Action.VIEW_OWN_AGREEMENTS)
    agreement = next((a for a in listed(page) if a.uid == agreement_uid), None)
    form = DoneForm()
    valid = form.validate_on_submit()
    if not valid and agreement is not None:
        return _render_edit(page, agreement, _edit_form(agreement), None, 422, done_form=form)
    # Someone else's agreement is refused by the service (403), whatever was typed; it checks the note too.
    note = form.note.data or ""
    outcome = run_service(
        lambda uow, key: services.mark_agreement_done(uow, key, uid=agreement_uid, note=note, now=now()),
        form=form,
        saved_message=saved_in_the_record(gettext("Well done: the agreement is marked as done.")),
    )
    if outcome.done:
        return outcome.redirect(url_for("agreements.index"))
    if agreement is not None and form.note.data:
        return _render_edit(
            page, agreement, _edit_form(agreement), None, outcome.status, done_form=form, done_problem=outcome.problem
        )
    return _render_index(page, outcome.problem, outcome.status)


@bp.route("/c/<context_id>/afspraken/nieuw", methods=["GET", "POST"])
@launch_required
def new(context_id: str) -> Any:
    """Make a new agreement; `?doel=<uid>` preselects the goal (only for who may make one: others get the 403 page)."""
    page = group_page(Action.ADD_AGREEMENT)
    group: ResourceGroup = page.group  # type: ignore[assignment]
    form = AgreementForm()
    form.fill_choices(owner_choices(group), goal_choices(group))
    problem: Problem | None = None
    status = 200
    if request.method == "GET":
        wanted = request.args.get("doel", "")
        if any(goal.uid == wanted and goal.is_open for goal in group.goals):
            form.goal_uid.data = wanted
    elif form.validate_on_submit():
        values = _values(form)
        outcome = run_service(lambda uow, key: services.add_agreement(uow, key, today=today(), **values), form=form)
        if outcome.done:
            return outcome.redirect(url_for("agreements.index"))
        problem, status = outcome.problem, outcome.status
    else:
        status = 422
    return render_template(
        "agreements/form.html",
        page=page,
        group=group,
        form=form,
        problem=problem,
        agreement=None,
        editable=_can(page, Action.ADD_AGREEMENT),
        changeable=can_change(group),
        can_mark=False,
    ), status


def _edit_form(agreement: Agreement) -> EditAgreementForm:
    """The change form filled with the agreement as it is (shown to who may change it)."""
    return EditAgreementForm(
        formdata=None,
        data={
            "description": agreement.description,
            "owner": agreement.owner or "",
            "due": agreement.due,
            "goal_uid": agreement.goal_uid or "",
            "status": agreement.status.value,
        },
    )


def _render_edit(
    page: GroupPage,
    agreement: Agreement,
    form: EditAgreementForm,
    problem: Problem | None,
    status: int,
    *,
    done_form: DoneForm | None = None,
    done_problem: Problem | None = None,
) -> Any:
    group: ResourceGroup = page.group  # type: ignore[assignment]
    form.fill_choices(owner_choices(group, agreement.owner), goal_choices(group, agreement.goal_uid))
    form.fill_status()
    can_mark = _can(page, Action.MARK_OWN_AGREEMENT_DONE) and agreement.owner == page.actor.who
    return render_template(
        "agreements/form.html",
        page=page,
        group=page.group,
        form=form,
        problem=problem,
        agreement=agreement,
        display_of=display_of,
        overdue=agreement.is_overdue(today()),
        editable=_can(page, Action.EDIT_AGREEMENT),
        changeable=can_change(page.group),  # type: ignore[arg-type]
        can_mark=can_mark,
        done_form=done_form or (DoneForm(formdata=None) if can_mark else None),
        done_problem=done_problem,
    ), status


@bp.route("/c/<context_id>/afspraken/<path:agreement_uid>", methods=["GET", "POST"])
@launch_required
def edit(context_id: str, agreement_uid: str) -> Any:
    """One agreement; care professionals change it here: what, who, by when, for which goal, and its status."""
    page = group_page(Action.VIEW_OWN_AGREEMENTS)
    group: ResourceGroup = page.group  # type: ignore[assignment]
    agreement = next((a for a in listed(page) if a.uid == agreement_uid), None)
    if agreement is None:
        abort(404)
    if request.method == "GET":
        form = _edit_form(agreement)
    else:
        form = EditAgreementForm()
        form.due.current = agreement.due  # keeping a due date that has passed since is not asked again
        form.fill_choices(owner_choices(group, agreement.owner), goal_choices(group, agreement.goal_uid))
        form.fill_status()
    if request.method == "GET":
        return _render_edit(page, agreement, form, None, 200)
    if not form.validate_on_submit():
        return _render_edit(page, agreement, form, None, 422)
    values = _values(form)
    new_status = AgreementStatus(form.status.data)
    outcome = run_service(
        lambda uow, key: services.edit_agreement(uow, key, uid=agreement.uid, status=new_status, **values),
        form=form,
    )
    if outcome.done:
        return outcome.redirect(url_for("agreements.index"))
    return _render_edit(page, agreement, form, outcome.problem, outcome.status)
