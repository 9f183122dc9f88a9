"""The agreements area: who does what, by when, for which goal; open, done and cancelled; overdue ones stand out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_babel import gettext

from fhir_mappings.codes import AgreementStatus, MemberRole
from fhir_mappings.model import Agreement, ResourceGroup
from plugin.agreements.forms import AgreementForm, EditAgreementForm
from plugin.group.service import GroupPage, group_page, today
from plugin.launch.context import launch_required
from plugin.web.actions import Problem, can_change, read_only_problem, run_action
from plugin.web.labels import label

bp = Blueprint(
    "agreements", __name__, template_folder="templates", static_folder="static", static_url_path="/static/agreements"
)

OPTION_LENGTH = 80  # a goal's text in a select option is cut to this many characters
OPEN_STATES = (AgreementStatus.REQUESTED, AgreementStatus.ACCEPTED, AgreementStatus.IN_PROGRESS)


@dataclass
class AgreementLists:
    """The agreements as the page groups them; `overdue` holds the uids of open ones past their date."""

    open: list[Agreement]
    done: list[Agreement]
    cancelled: list[Agreement]
    overdue: set[str]


def _sort_key(agreement: Agreement) -> tuple[bool, date, str]:
    # By date, soonest first; agreements without a date after those with one.
    return (agreement.due is None, agreement.due or date.max, agreement.description.casefold())


def agreement_lists(group: ResourceGroup, on: date) -> AgreementLists:
    """Open (soonest first), done and cancelled agreements, and which open ones are overdue on `on`."""
    ordered = sorted(group.agreements, key=_sort_key)
    return AgreementLists(
        open=[a for a in ordered if a.status in OPEN_STATES],
        done=[a for a in ordered if a.status is AgreementStatus.COMPLETED],
        cancelled=[a for a in ordered if a.status is AgreementStatus.CANCELLED],
        overdue={a.uid for a in group.overdue_agreements(on)},
    )


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


def goal_choices(group: ResourceGroup) -> list[tuple[str, str]]:
    """Every goal of the group: (uid, text and term)."""
    return [(goal.uid, f"{shorten(goal.text)} ({label(goal.term)})") for goal in group.goals]


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


@bp.get("/c/<context_id>/afspraken")
@launch_required
def index(context_id: str) -> Any:
    """All agreements: open ones first (overdue marked), then done, then cancelled."""
    page = group_page()
    group = page.group
    return render_template(
        "agreements/index.html",
        page=page,
        group=group,
        lists=agreement_lists(group, today()),
        goals={goal.uid: goal for goal in group.goals},
        display_of=display_of,
        editable=can_change(group),
    )


@bp.route("/c/<context_id>/afspraken/nieuw", methods=["GET", "POST"])
@launch_required
def new(context_id: str) -> Any:
    """Make a new agreement; `?doel=<uid>` preselects the goal."""
    page = group_page()
    group = page.group
    form = AgreementForm()
    form.fill_choices(owner_choices(group), goal_choices(group))
    problem: Problem | None = None
    status = 200
    if request.method == "GET":
        wanted = request.args.get("doel", "")
        if any(goal.uid == wanted for goal in group.goals):
            form.goal_uid.data = wanted
    elif not g.launch.can_write:
        problem, status = read_only_problem(), 403
    elif form.validate_on_submit():
        values = _values(form)
        outcome = run_action(
            page, lambda grp: grp.add_agreement(today=today(), **values), "Afspraak gemaakt", form=form
        )
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
        editable=can_change(group),
    ), status


def _render_edit(
    page: GroupPage, agreement: Agreement, form: EditAgreementForm, problem: Problem | None, status: int
) -> Any:
    group: ResourceGroup = page.group  # type: ignore[assignment]
    overdue = agreement.uid in {a.uid for a in group.overdue_agreements(today())}
    return render_template(
        "agreements/form.html",
        page=page,
        group=group,
        form=form,
        problem=problem,
        agreement=agreement,
        overdue=overdue,
        editable=can_change(group),
    ), status


@bp.route("/c/<context_id>/afspraken/<path:agreement_uid>", methods=["GET", "POST"])
@launch_required
def edit(context_id: str, agreement_uid: str) -> Any:
    """Change an agreement: what, who, by when, for which goal, and its status."""
    page = group_page()
    group = page.group
    agreement = next((a for a in group.agreements if a.uid == agreement_uid), None)
    if agreement is None:
        abort(404)
    if request.method == "GET":
        form = EditAgreementForm(
            formdata=None,
            data={
                "description": agreement.description,
                "owner": agreement.owner or "",
                "due": agreement.due,
                "goal_uid": agreement.goal_uid or "",
                "status": agreement.status.value,
            },
        )
    else:
        form = EditAgreementForm()
    form.fill_choices(owner_choices(group, agreement.owner), goal_choices(group))
    form.fill_status()
    if request.method == "GET":
        return _render_edit(page, agreement, form, None, 200)
    if not g.launch.can_write:
        problem, status = read_only_problem(), 403
        return _render_edit(page, agreement, form, problem, status)
    if not form.validate_on_submit():
        return _render_edit(page, agreement, form, None, 422)
    values = _values(form)
    new_status = AgreementStatus(form.status.data)
    outcome = run_action(
        page,
        lambda grp: grp.edit_agreement(agreement.uid, status=new_status, **values),
        "Afspraak gewijzigd",
        form=form,
    )
    if outcome.done:
        return outcome.redirect(url_for("agreements.index"))
    return _render_edit(page, agreement, form, outcome.problem, outcome.status)
