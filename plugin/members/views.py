"""The members area: who is in the group, nominating people, the introductory interviews, joining and leaving.

Every change is one POST that runs one method of the domain aggregate (`ResourceGroup`) through
`run_action`: the domain enforces the rules, the repository writes one transaction with a Provenance.
Nothing is ever removed: people who left, declined or were withdrawn stay in the history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_babel import gettext

from fhir_mappings.codes import INTERVIEW_SECTIONS, GroupStatus, MemberRole, NominationState
from fhir_mappings.model import Member, NominationInterview, ResourceGroup, Supporter, new_uid
from plugin.group.service import GroupPage, current_service, group_page, now, person_name, today
from plugin.launch.context import launch_required
from plugin.members import people
from plugin.members.forms import (
    MAX_SEARCH,
    PRACTITIONER_REF,
    CoreForm,
    DecisionForm,
    HandOverForm,
    LeaveForm,
    NominateAgainForm,
    PersonForm,
    PlanInterviewForm,
    PractitionerForm,
    ProfessionalForm,
    RecordInterviewForm,
)
from plugin.sync.errors import SyncError
from plugin.web.actions import ActionOutcome, Problem, run_action, user_message
from plugin.web.forms import BaseForm
from plugin.web.labels import label

bp = Blueprint("members", __name__, template_folder="templates")
F = TypeVar("F", bound=BaseForm)

MIN_SEARCH = 2


# ---------------------------------------------------------------------- reading


@dataclass
class Search:
    """A name search for practitioners on the clinic's FHIR server."""

    text: str = ""
    results: list[tuple[str, str]] = field(default_factory=list)  # (reference, name)
    message: str | None = None

    @property
    def done(self) -> bool:
        return bool(self.text) and self.message is None


def search_practitioners(text: str) -> Search:
    """Search by name; a too short or too long text or a failing server gives a message instead of results."""
    text = " ".join(text.split())
    if not text:
        return Search()
    if len(text) > MAX_SEARCH:
        return Search(
            text[:MAX_SEARCH], message=gettext("This is too long: at most %(max)d characters.", max=MAX_SEARCH)
        )
    if len(text) < MIN_SEARCH:
        return Search(text, message=gettext("Type at least %(min)d letters of the name.", min=MIN_SEARCH))
    try:
        return Search(text, current_service().search_practitioners(text))
    except SyncError as exc:
        return Search(text, message=user_message(exc))


def practitioner_name(reference: str) -> str | None:
    """The practitioner's name as the server has it; None when the server does not know them (404/410)."""
    try:
        resource = current_service().client.read("Practitioner", reference.partition("/")[2]).json()
    except SyncError as exc:
        if exc.status in (404, 410):
            return None
        raise
    return person_name(resource) or reference


@dataclass
class Person:
    """One participation as a page shows it."""

    member: Member
    supporter: Supporter | None
    interview: NominationInterview | None

    @property
    def relationship(self) -> str:
        """Who this is for the patient: family, friend, a profession; or a practitioner of the clinic."""
        if self.supporter is None and self.member.who.startswith(("Practitioner/", "PractitionerRole/")):
            return str(gettext("practitioner of this clinic"))
        return people.describe(self.supporter)

    @property
    def professional(self) -> bool:
        return people.is_professional(self.supporter)

    @property
    def is_patient(self) -> bool:
        return MemberRole.REGISSEUR in self.member.roles

    @property
    def is_regieondersteuner(self) -> bool:
        return MemberRole.REGIEONDERSTEUNER in self.member.roles

    @property
    def next_step(self) -> str:
        """What has to happen next for a nominee, in plain words."""
        state = self.member.nomination
        if state is NominationState.GENOMINEERD:
            return str(gettext("Plan the introductory interview."))
        if state is NominationState.GESPREK_GEPLAND:
            return str(gettext("Hold the interview, then write down what was said."))
        if state is NominationState.GESPREK_GEVOERD:
            return str(gettext("Decide together whether this person becomes a member."))
        return ""

    @property
    def left_as(self) -> str:
        """How the participation ended, for the history."""
        if self.member.nomination in (NominationState.AFGEZIEN, NominationState.TERUGGETROKKEN):
            return label(self.member.nomination)
        return str(gettext("left the group"))


def person(group: ResourceGroup, member: Member) -> Person:
    return Person(member, group.supporter(member.who), group.interview_for(member.uid))


def _page() -> tuple[GroupPage, ResourceGroup]:
    """The page with its group (without a group yet, `group_page` sends the browser to the start page)."""
    page = group_page()
    assert page.group is not None  # noqa: S101 - group_page() never returns a page without a group
    return page, page.group


def _loaded_or_404() -> tuple[GroupPage, ResourceGroup]:
    page = current_service().page()
    if page.group is None:
        abort(404)
    return page, page.group


def _member_or_404(group: ResourceGroup, member_uid: str) -> Member:
    found = next((m for m in group.members if m.uid == member_uid), None)
    if found is None:
        abort(404)
    return found


def _names(group: ResourceGroup, references: list[str | None]) -> dict[str, str]:
    """Display names for references (members by their display; others as the record has them)."""
    out: dict[str, str] = {}
    known = {m.who: m.display for m in group.members}
    for ref in references:
        if ref and ref not in out:
            out[ref] = known.get(ref) or current_service().display_name(ref)
    return out


# ---------------------------------------------------------------------- overview


@bp.get("/c/<context_id>/leden")
@launch_required
def index(context_id: str) -> Any:
    """Members, nominees and everyone who was ever in the group."""
    page, group = _page()
    everyone = [person(group, m) for m in group.members]
    return render_template(
        "members/index.html",
        page=page,
        group=group,
        members=[p for p in everyone if p.member.is_member],
        nominees=[p for p in everyone if p.member.active and not p.member.is_member],
        history=sorted(
            (p for p in everyone if not p.member.active),
            key=lambda p: p.member.end or p.member.start or today(),
            reverse=True,
        ),
        open_group=group.status is not GroupStatus.ENDED,
    )


# ---------------------------------------------------------------------- nominating


def _render_nominate(
    page: GroupPage,
    group: ResourceGroup,
    *,
    person_form: PersonForm | None = None,
    practitioner_form: PractitionerForm | None = None,
    professional_form: ProfessionalForm | None = None,
    search: Search | None = None,
    failed: str | None = None,
    problem: Problem | None = None,
    status: int = 200,
) -> tuple[str, int]:
    search = search if search is not None else search_practitioners(request.args.get("zoek", ""))
    in_group = {m.who for m in group.members if m.active}
    return render_template(
        "members/nominate.html",
        page=page,
        group=group,
        person_form=person_form or PersonForm(formdata=None),
        practitioner_form=practitioner_form or PractitionerForm(formdata=None),
        professional_form=professional_form or ProfessionalForm(formdata=None),
        search=search,
        in_group=in_group,
        failed=failed,
        problem=problem,
    ), status


@bp.get("/c/<context_id>/leden/nomineren")
@launch_required
def nominate(context_id: str) -> Any:
    """The three ways to nominate someone; `?zoek=` searches the clinic's practitioners."""
    return _render_nominate(*_page())


def _nominate_supporter(
    page: GroupPage,
    form: BaseForm,
    chosen: people.Relationship,
    *,
    name: str | None,
    phone: str | None,
    email: str | None,
    own_words: str | None,
    activity: str,
) -> ActionOutcome:
    """Nominate someone kept as a new RelatedPerson (from the patient's circle, or a professional from outside)."""
    uid = new_uid()
    supporter = Supporter(
        uid,
        (name or "").strip(),
        chosen.code,
        chosen.system,
        phone=(phone or "").strip(),
        email=(email or "").strip(),
        relationship_text=people.stored_text(chosen, own_words or ""),
    )
    return run_action(page, lambda grp: grp.nominate(uid, supporter.name, today(), supporter), activity, form=form)


@bp.post("/c/<context_id>/leden/nomineren/naaste")
@launch_required
def nominate_person(context_id: str) -> Any:
    """(a) Nominate someone from the patient's own circle (a new RelatedPerson)."""
    page, group = _loaded_or_404()
    form = PersonForm()
    problem: Problem | None = None
    status = 422
    if form.validate_on_submit():
        outcome = _nominate_supporter(
            page,
            form,
            people.find(people.PERSONAL, form.relationship.data or ""),
            name=form.name.data,
            phone=form.phone.data,
            email=form.email.data,
            own_words=form.relationship_text.data,
            activity="Naaste genomineerd voor de resourcegroep",
        )
        if outcome.done:
            return outcome.redirect(url_for("members.index"))
        problem, status = outcome.problem, outcome.status
    return _render_nominate(page, group, person_form=form, failed="person", problem=problem, status=status)


@bp.post("/c/<context_id>/leden/nomineren/behandelaar")
@launch_required
def nominate_practitioner(context_id: str) -> Any:
    """(b) Nominate a practitioner of the clinic, picked from the search results."""
    page, group = _loaded_or_404()
    form = PractitionerForm()
    problem: Problem | None = None
    status = 422
    search = search_practitioners(form.search.data or "")
    if not form.validate_on_submit():
        form.form_errors.append(gettext("Search for the practitioner and choose them from the list."))
    else:
        reference = form.practitioner.data or ""
        try:
            name = practitioner_name(reference)
        except SyncError as exc:
            problem, status = Problem(user_message(exc)), 502
        else:
            if name is None:
                form.form_errors.append(gettext("This practitioner was not found in the EHR."))
            else:
                outcome = run_action(
                    page,
                    lambda grp: grp.nominate(reference, name, today()),
                    "Behandelaar genomineerd voor de resourcegroep",
                    form=form,
                )
                if outcome.done:
                    return outcome.redirect(url_for("members.index"))
                problem, status = outcome.problem, outcome.status
    return _render_nominate(
        page, group, practitioner_form=form, search=search, failed="practitioner", problem=problem, status=status
    )


@bp.post("/c/<context_id>/leden/nomineren/hulpverlener")
@launch_required
def nominate_professional(context_id: str) -> Any:
    """(c) Nominate a professional from outside the clinic, kept as a RelatedPerson with their occupation."""
    page, group = _loaded_or_404()
    form = ProfessionalForm()
    problem: Problem | None = None
    status = 422
    if form.validate_on_submit():
        outcome = _nominate_supporter(
            page,
            form,
            people.find(people.PROFESSIONS, form.profession.data or ""),
            name=form.pro_name.data,
            phone=form.pro_phone.data,
            email=form.pro_email.data,
            own_words=form.profession_text.data,
            activity="Hulpverlener van buiten de instelling genomineerd voor de resourcegroep",
        )
        if outcome.done:
            return outcome.redirect(url_for("members.index"))
        problem, status = outcome.problem, outcome.status
    return _render_nominate(page, group, professional_form=form, failed="professional", problem=problem, status=status)


# ---------------------------------------------------------------------- one person


@dataclass
class MemberForms:
    """The forms of the member page (the one that failed keeps what was typed)."""

    plan: PlanInterviewForm
    record: RecordInterviewForm
    decision: DecisionForm
    core: CoreForm
    leave: LeaveForm
    again: NominateAgainForm


def _fresh_forms(found: Person) -> MemberForms:
    interview = found.interview
    planned = interview.planned_start if interview is not None else None
    # The planned time is a good guess for when it was held, once that time has come.
    record = RecordInterviewForm(formdata=None, held_at=planned if planned is not None and planned <= now() else None)
    if interview is not None and interview.held_at is None and interview.sections:
        for section, text in interview.sections.items():
            if section.value in record:
                record[section.value].data = text
    return MemberForms(
        plan=PlanInterviewForm(formdata=None, planned_start=planned),
        record=record,
        decision=DecisionForm(formdata=None),
        core=CoreForm(formdata=None, core="off" if found.member.core else "on"),
        leave=LeaveForm(formdata=None),
        again=NominateAgainForm(formdata=None),
    )


def _render_member(
    page: GroupPage,
    group: ResourceGroup,
    member: Member,
    *,
    failed: str | None = None,
    form: Any = None,
    problem: Problem | None = None,
    status: int = 200,
) -> tuple[str, int]:
    found = person(group, member)
    forms = _fresh_forms(found)
    if failed is not None and form is not None:
        setattr(forms, failed, form)
    interview = found.interview
    held = interview is not None and interview.held_at is not None
    interviewer = interview.interviewer if interview is not None else None
    return render_template(
        "members/member.html",
        page=page,
        group=group,
        person=found,
        member=member,
        interview=interview,
        held=held,
        names=_names(group, [interviewer]),
        interview_sections=INTERVIEW_SECTIONS,
        forms=forms,
        failed=failed,
        problem=problem,
        can_change=g.launch.can_write and group.status is not GroupStatus.ENDED,
        rejoin_blocked=any(m.who == member.who and m.active for m in group.members),
    ), status


@bp.get("/c/<context_id>/leden/<member_uid>")
@launch_required
def member(context_id: str, member_uid: str) -> Any:
    """One person in the group: details, the introductory interview, and what can be done next."""
    page, group = _page()
    return _render_member(page, group, _member_or_404(group, member_uid))


def _member_action(
    member_uid: str,
    failed: str,
    form: F,
    action: Callable[[ResourceGroup, Member], object],
    activity: str,
    *,
    check: Callable[[F], bool] | None = None,
) -> Any:
    """Validate `form`, run `action(group, member)` and redirect to the member page, or show why not (422)."""
    page, group = _loaded_or_404()
    target = _member_or_404(group, member_uid)
    problem: Problem | None = None
    status = 422
    if form.validate_on_submit() and (check is None or check(form)):
        outcome = run_action(page, lambda grp: action(grp, target), activity, form=form)
        if outcome.done:
            return outcome.redirect(url_for("members.member", member_uid=member_uid))
        problem, status = outcome.problem, outcome.status
    return _render_member(page, group, target, failed=failed, form=form, problem=problem, status=status)


def _validated(moment: datetime | None) -> datetime:
    """A required date-time of a form that passed validation (so never None)."""
    if moment is None:
        raise ValueError("a validated form lost its required date and time")
    return moment


@bp.post("/c/<context_id>/leden/<member_uid>/gesprek-plannen")
@launch_required
def plan_interview(context_id: str, member_uid: str) -> Any:
    """Plan (or move) the introductory interview."""
    form = PlanInterviewForm()
    return _member_action(
        member_uid,
        "plan",
        form,
        lambda grp, m: grp.plan_interview(m.uid, _validated(form.planned_start.data)),
        "Kennismakingsgesprek gepland",
    )


@bp.post("/c/<context_id>/leden/<member_uid>/gesprek-vastleggen")
@launch_required
def record_interview(context_id: str, member_uid: str) -> Any:
    """Write down the introductory interview that was held (the four topics)."""
    form = RecordInterviewForm()
    return _member_action(
        member_uid,
        "record",
        form,
        lambda grp, m: grp.record_interview(m.uid, _validated(form.held_at.data), form.sections()),
        "Kennismakingsgesprek vastgelegd",
    )


_DECISION_ACTIVITY = {
    NominationState.LID.value: "Genomineerde is lid geworden van de resourcegroep",
    NominationState.AFGEZIEN.value: "Genomineerde heeft afgezien van de resourcegroep",
    NominationState.TERUGGETROKKEN.value: "Nominatie voor de resourcegroep teruggetrokken",
}


def _decide(group: ResourceGroup, target: Member, outcome: str) -> None:
    if outcome == NominationState.LID.value:
        group.admit(target.uid, today())
    else:
        group.decline(target.uid, today(), withdrawn=outcome == NominationState.TERUGGETROKKEN.value)


@bp.post("/c/<context_id>/leden/<member_uid>/besluit")
@launch_required
def decide(context_id: str, member_uid: str) -> Any:
    """The nominee becomes a member, declines, or the nomination is withdrawn."""
    form = DecisionForm()
    outcome = form.outcome.data or ""
    return _member_action(
        member_uid,
        "decision",
        form,
        lambda grp, m: _decide(grp, m, outcome),
        _DECISION_ACTIVITY.get(outcome, "Besluit over nominatie"),
    )


@bp.post("/c/<context_id>/leden/<member_uid>/kernlid")
@launch_required
def set_core(context_id: str, member_uid: str) -> Any:
    """Make someone a core member, or no longer."""
    form = CoreForm()
    core = form.core.data == "on"
    return _member_action(
        member_uid,
        "core",
        form,
        lambda grp, m: grp.set_core(m.uid, core),
        "Kernlid gemaakt" if core else "Niet langer kernlid",
    )


def _confirmed_leave(form: LeaveForm) -> bool:
    if not form.confirm_leave.data:
        form.confirm_leave.errors = [gettext("Tick the box to confirm that this person leaves the group.")]
        return False
    return True


@bp.post("/c/<context_id>/leden/<member_uid>/verlaten")
@launch_required
def leave(context_id: str, member_uid: str) -> Any:
    """A member leaves the group: the membership ends today and stays in the history."""
    form = LeaveForm()
    return _member_action(
        member_uid,
        "leave",
        form,
        lambda grp, m: grp.leave(m.uid, today()),
        "Lid heeft de resourcegroep verlaten",
        check=_confirmed_leave,
    )


@bp.post("/c/<context_id>/leden/<member_uid>/opnieuw-nomineren")
@launch_required
def nominate_again(context_id: str, member_uid: str) -> Any:
    """Someone who left, declined or was withdrawn is nominated again (a new participation)."""
    form = NominateAgainForm()
    page, group = _loaded_or_404()
    target = _member_or_404(group, member_uid)
    problem: Problem | None = None
    status = 422
    if form.validate_on_submit():
        outcome = run_action(
            page,
            lambda grp: grp.nominate(target.who, target.display, today()),
            "Opnieuw genomineerd voor de resourcegroep",
            form=form,
        )
        if outcome.done:
            return outcome.redirect(url_for("members.member", member_uid=outcome.value.uid))
        problem, status = outcome.problem, outcome.status
    return _render_member(page, group, target, failed="again", form=form, problem=problem, status=status)


# ---------------------------------------------------------------------- handing over


@bp.route("/c/<context_id>/leden/<member_uid>/overdragen", methods=["GET", "POST"])
@launch_required
def hand_over(context_id: str, member_uid: str) -> Any:
    """Hand the direction supporter role to another practitioner: search, choose (`?kies=`), confirm."""
    page, group = _loaded_or_404()
    current = _member_or_404(group, member_uid)
    if MemberRole.REGIEONDERSTEUNER not in current.roles or not current.active:
        abort(404)
    form = HandOverForm()
    problem: Problem | None = None
    status = 200
    search = search_practitioners(request.values.get("zoek", ""))
    posted = request.method == "POST"
    chosen_ref = (request.form.get("practitioner") if posted else request.args.get("kies")) or ""
    chosen_name: str | None = None
    if chosen_ref and PRACTITIONER_REF.fullmatch(chosen_ref):
        try:
            chosen_name = practitioner_name(chosen_ref)
        except SyncError as exc:
            problem, status = Problem(user_message(exc)), 502
    if not posted and chosen_ref and chosen_name is None and problem is None:
        abort(404)  # a link to someone the server does not know (or not a practitioner reference at all)
    if posted and problem is None:
        status = 422
        if not form.validate_on_submit():
            form.form_errors.append(gettext("Search for the practitioner and choose them from the list."))
        elif chosen_name is None:
            form.form_errors.append(gettext("This practitioner was not found in the EHR."))
        elif not form.confirm_hand_over.data:
            form.confirm_hand_over.errors = [gettext("Tick the box to confirm the hand-over.")]
        elif chosen_ref == current.who:
            form.form_errors.append(gettext("This practitioner is already the direction supporter."))
        else:
            reference, name = chosen_ref, chosen_name
            outcome = run_action(
                page, lambda grp: grp.hand_over(reference, name, today()), "Regieondersteuner overgedragen", form=form
            )
            if outcome.done:
                return outcome.redirect(url_for("members.index"))
            problem, status = outcome.problem, outcome.status
    if not posted and chosen_name is not None:
        form = HandOverForm(formdata=None, practitioner=chosen_ref)
    return render_template(
        "members/hand_over.html",
        page=page,
        group=group,
        current=current,
        form=form,
        search=search,
        chosen_ref=chosen_ref,
        chosen_name=chosen_name,
        problem=problem,
    ), status
