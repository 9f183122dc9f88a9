"""The members area: who is in the group, nominating people, the introductory interviews, joining and leaving.

Every change is one POST that reads its form and calls one service of `plugin.services.members` through
`run_service`: the service checks who may, the domain enforces the rules, the repository writes one
transaction with a Provenance. Pages show the group as the actor may see it (`page.group`, redacted) and
offer only what the actor may do. Nothing is ever removed: people who left, declined or were withdrawn stay
in the history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

from flask import Blueprint, abort, render_template, request, url_for

from fhir_mappings.codes import INTERVIEW_SECTIONS, InterviewVisibility, MemberRole, NominationState
from fhir_mappings.model import Member, NominationInterview, ResourceGroup, Supporter
from fhir_mappings.profiles import MappingMode
from fhir_mappings.refs import is_professional_ref
from fhir_mappings.rights import Action, Role, may_see_interview
from plugin.group.service import GroupPage, current_service, group_page, now, person_name, today
from plugin.i18n import gettext
from plugin.launch.context import launch_required
from plugin.members import people
from plugin.members.forms import (
    MAX_SEARCH,
    PRACTITIONER_REF,
    VISIBILITY_WORDS,
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
    WithdrawForm,
)
from plugin.services import members as services
from plugin.services.uow import Done, UnitOfWork
from plugin.sync.errors import SyncError
from plugin.web.actions import ActionOutcome, Problem, can_change, run_service, user_message
from plugin.web.forms import BaseForm
from plugin.web.labels import label

bp = Blueprint("members", __name__, template_folder="templates")
F = TypeVar("F", bound=BaseForm)
Call = Callable[[UnitOfWork, str], Done[Any]]

MIN_SEARCH = 2


# ---------------------------------------------------------------------- reading


@dataclass
class Search:
    """A name search for practitioners on the clinic's FHIR server."""

    text: str = ""
    results: list[tuple[str, str]] = field(default_factory=list)  # (reference, name)
    message: str | None = None
    # Nominating: each practitioner's PractitionerRoles in the EHR, (reference, what the role is); one to choose.
    roles: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return bool(self.text) and self.message is None


def search_practitioners(text: str, *, with_roles: bool = False) -> Search:
    """Search by name; a too short or too long text or a failing server gives a message instead of results.
    `with_roles`: also their PractitionerRoles (nominating adds a professional by their role where the EHR
    has one), in the same request."""
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
        if with_roles:
            found, roles = current_service().search_practitioners_with_roles(text)
            return Search(text, found, roles=roles)
        return Search(text, current_service().search_practitioners(text))
    except SyncError as exc:
        return Search(text, message=user_message(exc))


def roles_offered() -> bool:
    """Whether nominating offers the practitioners' PractitionerRoles: in the nl-core mapping (nl-core-CareTeam
    prefers them); KT2CareTeam has no PractitionerRole member, so KT2 mode nominates the Practitioner."""
    return current_service().repository.mapping is MappingMode.NL_CORE


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
        if self.supporter is None and is_professional_ref(self.member.who):
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


def _page(see: Action) -> tuple[GroupPage, ResourceGroup]:
    """The page with its group as the actor may see it, for an actor who may `see` (or do) this (else 403)."""
    page = group_page(see)
    if page.group is None:  # pragma: no cover - group_page() never returns a page without a group
        abort(404)
    return page, page.group


def _can(page: GroupPage, group: ResourceGroup, action: Action) -> bool:
    """Whether the page offers the form for `action`: the actor may do it and the group can change now."""
    return can_change(group) and page.may(action)


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
    """Members, nominees and everyone who was ever in the group (members see only who is in it now)."""
    page, group = _page(Action.VIEW_MEMBERS)
    everyone = [person(group, m) for m in group.members]
    return render_template(
        "members/index.html",
        page=page,
        group=group,
        details=page.may(Action.VIEW_MEMBER_DETAILS),
        members=[p for p in everyone if p.member.is_member],
        nominees=[p for p in everyone if p.member.active and not p.member.is_member],
        history=sorted(
            (p for p in everyone if not p.member.active),
            key=lambda p: p.member.end or p.member.start or today(),
            reverse=True,
        ),
        can_nominate=_can(page, group, Action.NOMINATE),
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
    search = (
        search if search is not None else search_practitioners(request.args.get("zoek", ""), with_roles=roles_offered())
    )
    # Already in: by the reference they were added with, or by the practitioner behind their role.
    in_group = {m.who for m in group.members if m.active} | {
        m.practitioner for m in group.members if m.active and m.practitioner
    }
    person_form = person_form or PersonForm(formdata=None)
    professional_form = professional_form or ProfessionalForm(formdata=None)
    if page.actor.role is Role.REGISSEUR:  # the patient nominates: the form speaks to them
        person_form.relationship.label.text = gettext("Who is this for you?")
        person_form.relationship_text.label.text = gettext("In your own words (you may leave this empty)")
        professional_form.profession_text.label.text = gettext(
            "Profession and organisation in your own words (you may leave this empty)"
        )
        person_form.reason.label.text = professional_form.pro_reason.label.text = gettext(
            "Why do you want this person in your group? (you may leave this empty)"
        )
        # (The field's own messages speak of "the patient"; a form's errors are its own, its validators shared.)
        if person_form.relationship.errors:
            person_form.relationship.errors = [gettext("Choose who this is for you.")]
        if person_form.relationship_text.errors:
            person_form.relationship_text.errors = [gettext("Say in a few words who this is for you.")]
    return render_template(
        "members/nominate.html",
        page=page,
        group=group,
        person_form=person_form,
        practitioner_form=practitioner_form or PractitionerForm(formdata=None),
        professional_form=professional_form,
        search=search,
        in_group=in_group,
        failed=failed,
        problem=problem,
    ), status


@bp.get("/c/<context_id>/leden/nomineren")
@launch_required
def nominate(context_id: str) -> Any:
    """The three ways to nominate someone; `?zoek=` searches the clinic's practitioners."""
    return _render_nominate(*_page(Action.NOMINATE))


def _relationship(options: tuple[people.Relationship, ...], key: str, own_words: str | None) -> services.Relationship:
    """The coded relationship (or occupation) chosen in a form, with the words the record keeps for it."""
    chosen = people.find(options, key)
    return services.Relationship(chosen.code, chosen.system, people.stored_text(chosen, own_words or ""))


def _after_nominating(outcome: ActionOutcome) -> Any:
    return outcome.redirect(url_for("members.index"))


@bp.post("/c/<context_id>/leden/nomineren/naaste")
@launch_required
def nominate_person(context_id: str) -> Any:
    """(a) Nominate someone from the patient's own circle (a new RelatedPerson)."""
    page, group = _page(Action.NOMINATE)
    form = PersonForm()
    problem: Problem | None = None
    status = 422
    if form.validate_on_submit():
        name = form.name.data or ""
        relationship = _relationship(people.PERSONAL, form.relationship.data or "", form.relationship_text.data)
        contact = services.Contact(
            form.phone.data or "", form.email.data or "", form.gender.data or "unknown", form.birth_date.data
        )
        reason = form.reason.data or ""
        outcome = run_service(
            lambda uow, key: services.nominate_relation(
                uow, key, name=name, relationship=relationship, contact=contact, today=today(), reason=reason
            ),
            form=form,
        )
        if outcome.done:
            return _after_nominating(outcome)
        problem, status = outcome.problem, outcome.status
    return _render_nominate(page, group, person_form=form, failed="person", problem=problem, status=status)


@bp.post("/c/<context_id>/leden/nomineren/behandelaar")
@launch_required
def nominate_practitioner(context_id: str) -> Any:
    """(b) Nominate a practitioner of the clinic, picked from the search results."""
    page, group = _page(Action.NOMINATE)
    form = PractitionerForm()
    problem: Problem | None = None
    status = 422
    search = search_practitioners(form.search.data or "", with_roles=roles_offered())
    if not form.validate_on_submit() or (
        (form.practitioner.data or "").startswith("PractitionerRole/") and not roles_offered()
    ):
        form.form_errors.append(gettext("Search for the practitioner and choose them from the list."))
    else:
        reference = form.practitioner.data or ""
        behind: str | None = None
        try:
            if reference.startswith("PractitionerRole/"):  # one request: the role with its practitioner
                found = current_service().practitioner_role(reference)
                behind, name = found if found is not None else (None, None)
            else:
                name = practitioner_name(reference)
        except SyncError as exc:
            problem, status = Problem(user_message(exc)), 502
        else:
            if name is None:
                form.form_errors.append(gettext("This practitioner was not found in the EHR."))
            else:
                display = name
                outcome = run_service(
                    lambda uow, key: services.nominate_practitioner(
                        uow, key, reference=reference, display=display, today=today(), practitioner=behind
                    ),
                    form=form,
                )
                if outcome.done:
                    return _after_nominating(outcome)
                problem, status = outcome.problem, outcome.status
    return _render_nominate(
        page, group, practitioner_form=form, search=search, failed="practitioner", problem=problem, status=status
    )


@bp.post("/c/<context_id>/leden/nomineren/hulpverlener")
@launch_required
def nominate_professional(context_id: str) -> Any:
    """(c) Nominate a professional from outside the clinic, kept as a RelatedPerson with their occupation."""
    page, group = _page(Action.NOMINATE)
    form = ProfessionalForm()
    problem: Problem | None = None
    status = 422
    if form.validate_on_submit():
        name = form.pro_name.data or ""
        occupation = _relationship(people.PROFESSIONS, form.profession.data or "", form.profession_text.data)
        contact = services.Contact(
            form.pro_phone.data or "",
            form.pro_email.data or "",
            form.pro_gender.data or "unknown",
            form.pro_birth_date.data,
        )
        reason = form.pro_reason.data or ""
        outcome = run_service(
            lambda uow, key: services.nominate_outside_professional(
                uow, key, name=name, occupation=occupation, contact=contact, today=today(), reason=reason
            ),
            form=form,
        )
        if outcome.done:
            return _after_nominating(outcome)
        problem, status = outcome.problem, outcome.status
    return _render_nominate(page, group, professional_form=form, failed="professional", problem=problem, status=status)


# ---------------------------------------------------------------------- one person


class MemberForms:
    """The forms of the member page, each made when the page first shows it (a page shows two or three of the
    seven; making a form costs more than showing it). The one that failed is set in and keeps what was typed."""

    def __init__(self, found: Person) -> None:
        self._found = found

    @cached_property
    def plan(self) -> PlanInterviewForm:
        interview = self._found.interview
        return PlanInterviewForm(formdata=None, planned_start=interview.planned_start if interview else None)

    @cached_property
    def record(self) -> RecordInterviewForm:
        interview = self._found.interview
        planned = interview.planned_start if interview is not None else None
        # The planned time is a good guess for when it was held, once that time has come.
        held_at = planned if planned is not None and planned <= now() else None
        record = RecordInterviewForm(formdata=None, held_at=held_at)
        if interview is not None and interview.held_at is None and interview.sections:
            for section, text in interview.sections.items():
                if section.value in record:
                    record[section.value].data = text
        if interview is not None and interview.visibility is not None:
            record.visibility.data = interview.visibility.value  # the choice made before stays chosen
        return record

    @cached_property
    def decision(self) -> DecisionForm:
        return DecisionForm(formdata=None)

    @cached_property
    def withdraw(self) -> WithdrawForm:
        return WithdrawForm(formdata=None)

    @cached_property
    def core(self) -> CoreForm:
        return CoreForm(formdata=None, core="off" if self._found.member.core else "on")

    @cached_property
    def leave(self) -> LeaveForm:
        return LeaveForm(formdata=None)

    @cached_property
    def again(self) -> NominateAgainForm:
        return NominateAgainForm(formdata=None)


def _fresh_forms(found: Person) -> MemberForms:
    return MemberForms(found)


def _record_visibility(interview: NominationInterview | None, to_patient: bool = False) -> str:
    """Who may read the interview's record, in words (a record without a stated visibility: professionals only);
    `to_patient`: said to the patient ("you")."""
    if interview is None or interview.held_at is None:
        return ""
    if interview.visibility is None:
        return gettext("only the care professionals (nobody chose when it was written down)")
    if to_patient:
        if interview.visibility is InterviewVisibility.SHARED:
            return gettext("you and the care professionals")
        return gettext("only the care professionals, not you")
    return str(VISIBILITY_WORDS[interview.visibility])


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
        record_visible=interview is not None and may_see_interview(page.actor, interview),
        record_visibility=_record_visibility(interview, page.actor.role is Role.REGISSEUR),
        names=_names(group, [interviewer]),
        interview_sections=INTERVIEW_SECTIONS,
        forms=forms,
        failed=failed,
        problem=problem,
        can_change=can_change(group),
        rejoin_blocked=any(m.who == member.who and m.active for m in group.members),
    ), status


@bp.get("/c/<context_id>/leden/<member_uid>")
@launch_required
def member(context_id: str, member_uid: str) -> Any:
    """One person in the group: details, the introductory interview, and what can be done next."""
    page, group = _page(Action.VIEW_MEMBER_DETAILS)
    return _render_member(page, group, _member_or_404(group, member_uid))


def _member_action(
    member_uid: str,
    action: Action,
    failed: str,
    form: F,
    call: Callable[[Member], Call],
    *,
    check: Callable[[F], bool] | None = None,
    then: Callable[[ActionOutcome], str] | None = None,
) -> Any:
    """For an actor who may do `action`: validate `form`, run the service `call(member)` gives and redirect to
    the member page (or `then(outcome)`), or show why not."""
    page, group = _page(action)
    target = _member_or_404(group, member_uid)
    problem: Problem | None = None
    status = 422
    if form.validate_on_submit() and (check is None or check(form)):
        outcome = run_service(call(target), form=form)
        if outcome.done:
            return outcome.redirect(then(outcome) if then else url_for("members.member", member_uid=member_uid))
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
        Action.PLAN_INTERVIEW,
        "plan",
        form,
        lambda m: (
            lambda uow, key: services.plan_interview(
                uow, key, member_uid=m.uid, start=_validated(form.planned_start.data), now=now()
            )
        ),
    )


@bp.post("/c/<context_id>/leden/<member_uid>/gesprek-vastleggen")
@launch_required
def record_interview(context_id: str, member_uid: str) -> Any:
    """Write down the introductory interview that was held (the four topics) and who may read it."""
    form = RecordInterviewForm()
    return _member_action(
        member_uid,
        Action.RECORD_INTERVIEW,
        "record",
        form,
        lambda m: (
            lambda uow, key: services.record_interview(
                uow,
                key,
                member_uid=m.uid,
                held_at=_validated(form.held_at.data),
                sections=form.sections(),
                visibility=form.chosen_visibility(),
            )
        ),
    )


@bp.post("/c/<context_id>/leden/<member_uid>/besluit")
@launch_required
def decide(context_id: str, member_uid: str) -> Any:
    """The nominee becomes a member, declines, or the nomination is withdrawn (care professionals)."""
    form = DecisionForm()
    return _member_action(
        member_uid,
        Action.DECIDE_NOMINATION,
        "decision",
        form,
        lambda m: (
            lambda uow, key: services.decide_nomination(
                uow, key, member_uid=m.uid, outcome=NominationState(form.outcome.data), today=today()
            )
        ),
    )


@bp.post("/c/<context_id>/leden/<member_uid>/terugtrekken")
@launch_required
def withdraw(context_id: str, member_uid: str) -> Any:
    """The patient withdraws a nomination (it stays in the history)."""
    form = WithdrawForm()
    return _member_action(
        member_uid,
        Action.WITHDRAW_NOMINATION,
        "withdraw",
        form,
        lambda m: lambda uow, key: services.withdraw_nomination(uow, key, member_uid=m.uid, today=today()),
    )


@bp.post("/c/<context_id>/leden/<member_uid>/kernlid")
@launch_required
def set_core(context_id: str, member_uid: str) -> Any:
    """Make someone a core member, or no longer."""
    form = CoreForm()
    return _member_action(
        member_uid,
        Action.SET_CORE,
        "core",
        form,
        lambda m: lambda uow, key: services.set_core(uow, key, member_uid=m.uid, core=form.core.data == "on"),
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
        Action.END_MEMBERSHIP,
        "leave",
        form,
        lambda m: lambda uow, key: services.end_membership(uow, key, member_uid=m.uid, today=today()),
        check=_confirmed_leave,
    )


def _new_participation(outcome: ActionOutcome) -> str:
    """The page of the participation a nomination made (a repeated submit knows its uid too)."""
    return url_for("members.member", member_uid=outcome.uid) if outcome.uid else url_for("members.index")


@bp.post("/c/<context_id>/leden/<member_uid>/opnieuw-nomineren")
@launch_required
def nominate_again(context_id: str, member_uid: str) -> Any:
    """Someone who left, declined or was withdrawn is nominated again (a new participation)."""
    form = NominateAgainForm()
    return _member_action(
        member_uid,
        Action.NOMINATE,
        "again",
        form,
        lambda m: lambda uow, key: services.renominate(uow, key, member_uid=m.uid, today=today()),
        then=_new_participation,
    )


# ---------------------------------------------------------------------- handing over


@bp.route("/c/<context_id>/leden/<member_uid>/overdragen", methods=["GET", "POST"])
@launch_required
def hand_over(context_id: str, member_uid: str) -> Any:
    """The regieondersteuner hands the role to another practitioner: search, choose (`?kies=`), confirm.

    Only the current regieondersteuner may open this page or post it (anyone else: 403, nothing written).
    """
    page, group = _page(Action.HAND_OVER)
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
        else:
            reference, name = chosen_ref, chosen_name
            outcome = run_service(
                lambda uow, key: services.hand_over(uow, key, to=reference, display=name, today=today()), form=form
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
