"""Who is acting, and what each role may see and do: the one rights table of the product (pure).

An actor is the person the launch names (`fhirUser`); what they are *in this group* decides their
role. Exactly one role applies, checked in this order:

- **regisseur**: the group's patient;
- **regieondersteuner**: the active member holding that role;
- **member**: an active member whose interview is behind them (family, friends, professionals);
- **nominee**: nominated, not (yet) a member;
- **care professional**: a Practitioner of the clinic who is not in the team (a colleague standing
  in, a team lead). The launch must say the person is a Practitioner (or PractitionerRole);
- **none**: anybody else. They see nothing and do nothing.

`RIGHTS` maps every action to the roles that may do it; `docs/roles.md` shows the same table (a test
keeps the two equal). Some rights are about the actor's own things only (a member marks *their own*
agreement done, answers *their own* invitation): `require` takes the owner for those.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fhir_mappings.codes import InterviewVisibility, MemberRole
from fhir_mappings.copying import copy_group
from fhir_mappings.errors import DomainError
from fhir_mappings.model import NominationInterview, ResourceGroup


class Role(StrEnum):
    REGISSEUR = "regisseur"
    REGIEONDERSTEUNER = "regieondersteuner"
    MEMBER = "member"
    NOMINEE = "nominee"
    CARE_PROFESSIONAL = "care-professional"
    NONE = "none"


class Action(StrEnum):
    """Everything a user can see or do in a group. `view_*` are pages; the rest are saves."""

    # seeing
    VIEW_OVERVIEW = "view_overview"
    VIEW_MEMBERS = "view_members"
    VIEW_MEMBER_DETAILS = "view_member_details"  # contact details, interview state, history
    VIEW_SHARED_INTERVIEW = "view_shared_interview"
    VIEW_CONFIDENTIAL_INTERVIEW = "view_confidential_interview"
    VIEW_GOALS = "view_goals"
    VIEW_ALL_AGREEMENTS = "view_all_agreements"
    VIEW_OWN_AGREEMENTS = "view_own_agreements"
    VIEW_MEETINGS = "view_meetings"
    VIEW_AGENDA = "view_agenda"
    VIEW_REPORT = "view_report"
    VIEW_TIMELINE = "view_timeline"
    VIEW_WISHES = "view_wishes"  # the patient's wishes and requests (pause, end)
    VIEW_ACCESS_LOG = "view_access_log"  # who looked at the group and when (NEN 7513: the patient's right too)
    # the group
    START_GROUP = "start_group"
    RENAME_GROUP = "rename_group"
    CHANGE_STATUS = "change_status"  # pause, resume, end, reopen, continue after treatment
    # members
    NOMINATE = "nominate"
    WITHDRAW_NOMINATION = "withdraw_nomination"
    PLAN_INTERVIEW = "plan_interview"
    RECORD_INTERVIEW = "record_interview"
    DECIDE_NOMINATION = "decide_nomination"  # member after the interview, or declined
    SET_CORE = "set_core"
    END_MEMBERSHIP = "end_membership"
    HAND_OVER = "hand_over"
    TAKE_OVER = "take_over"
    # goals
    ADD_GOAL = "add_goal"
    EDIT_GOAL = "edit_goal"
    ADD_GOAL_NOTE = "add_goal_note"
    SCORE_PROGRESS = "score_progress"
    # agreements
    ADD_AGREEMENT = "add_agreement"
    EDIT_AGREEMENT = "edit_agreement"
    MARK_OWN_AGREEMENT_DONE = "mark_own_agreement_done"
    # meetings
    PLAN_MEETING = "plan_meeting"
    SET_MEETING_STATUS = "set_meeting_status"
    RESCHEDULE_MEETING = "reschedule_meeting"
    ASSIGN_MEETING_ROLES = "assign_meeting_roles"
    SEND_INVITATION = "send_invitation"
    RECORD_ANY_RESPONSE = "record_any_response"
    RESPOND_TO_INVITATION = "respond_to_invitation"  # one's own answer
    SET_AGENDA = "set_agenda"
    PROPOSE_AGENDA_ITEM = "propose_agenda_item"
    WRITE_REPORT = "write_report"
    # the patient's own input
    GIVE_MEETING_WISH = "give_meeting_wish"  # place, chair, theme for the next meeting
    ASK_PAUSE_OR_END = "ask_pause_or_end"
    TAKE_UP_INPUT = "take_up_input"  # take up (or set aside) what the patient proposed or asked
    # the outbox
    RETRY_WAITING = "retry_waiting"
    RETRY_FAILED = "retry_failed"  # a save the EHR refused: back to waiting, and send it again
    DISCARD_FAILED = "discard_failed"  # a save the EHR refused: let it lapse (kept, never sent)
    # the record: what the app cannot read
    CANCEL_UNREADABLE = "cancel_unreadable"  # cancel a meeting/interview appointment the app cannot read


R, RO, M, N, CP = Role.REGISSEUR, Role.REGIEONDERSTEUNER, Role.MEMBER, Role.NOMINEE, Role.CARE_PROFESSIONAL
_PROFESSIONALS = frozenset({RO, CP})
_IN_GROUP = frozenset({R, RO, M, CP})

RIGHTS: dict[Action, frozenset[Role]] = {
    Action.VIEW_OVERVIEW: _IN_GROUP,
    Action.VIEW_MEMBERS: _IN_GROUP,
    Action.VIEW_MEMBER_DETAILS: frozenset({R, RO, CP}),
    Action.VIEW_SHARED_INTERVIEW: frozenset({R, RO, CP}),
    Action.VIEW_CONFIDENTIAL_INTERVIEW: _PROFESSIONALS,
    Action.VIEW_GOALS: frozenset({R, RO, CP}),
    Action.VIEW_ALL_AGREEMENTS: frozenset({R, RO, CP}),
    Action.VIEW_OWN_AGREEMENTS: _IN_GROUP,
    Action.VIEW_MEETINGS: _IN_GROUP,
    Action.VIEW_AGENDA: _IN_GROUP,
    Action.VIEW_REPORT: _IN_GROUP,
    Action.VIEW_TIMELINE: frozenset({R, RO, CP}),
    Action.VIEW_WISHES: frozenset({R, RO, CP}),
    Action.VIEW_ACCESS_LOG: frozenset({R, RO, CP}),
    Action.START_GROUP: frozenset({RO, CP}),
    Action.RENAME_GROUP: frozenset({R, RO, CP}),
    Action.CHANGE_STATUS: _PROFESSIONALS,
    Action.NOMINATE: frozenset({R, RO, CP}),
    Action.WITHDRAW_NOMINATION: frozenset({R, RO, CP}),
    Action.PLAN_INTERVIEW: _PROFESSIONALS,
    Action.RECORD_INTERVIEW: _PROFESSIONALS,
    Action.DECIDE_NOMINATION: _PROFESSIONALS,
    Action.SET_CORE: _PROFESSIONALS,
    Action.END_MEMBERSHIP: _PROFESSIONALS,
    Action.HAND_OVER: frozenset({RO}),
    Action.TAKE_OVER: frozenset({CP}),
    Action.ADD_GOAL: frozenset({R, RO, CP}),
    Action.EDIT_GOAL: frozenset({R, RO, CP}),
    Action.ADD_GOAL_NOTE: frozenset({R, RO, CP}),
    Action.SCORE_PROGRESS: frozenset({R, RO, CP}),
    Action.ADD_AGREEMENT: _PROFESSIONALS,
    Action.EDIT_AGREEMENT: _PROFESSIONALS,
    Action.MARK_OWN_AGREEMENT_DONE: frozenset({R, M}),
    Action.PLAN_MEETING: _PROFESSIONALS,
    Action.SET_MEETING_STATUS: _PROFESSIONALS,
    Action.RESCHEDULE_MEETING: _PROFESSIONALS,  # move a planned meeting; invitees get an updated invitation
    Action.ASSIGN_MEETING_ROLES: _PROFESSIONALS,
    Action.SEND_INVITATION: _PROFESSIONALS,
    Action.RECORD_ANY_RESPONSE: _PROFESSIONALS,
    Action.RESPOND_TO_INVITATION: frozenset({R, M}),
    Action.SET_AGENDA: _PROFESSIONALS,
    Action.PROPOSE_AGENDA_ITEM: frozenset({R}),
    Action.WRITE_REPORT: _PROFESSIONALS,
    Action.GIVE_MEETING_WISH: frozenset({R}),
    Action.ASK_PAUSE_OR_END: frozenset({R}),
    Action.TAKE_UP_INPUT: _PROFESSIONALS,
    Action.RETRY_WAITING: _IN_GROUP,
    # Care professionals of the patient see the saves the EHR refused (their content may be anyone's) and
    # decide: try again, or let it lapse. Both are recorded on the entry and in the log.
    Action.RETRY_FAILED: _PROFESSIONALS,
    Action.DISCARD_FAILED: _PROFESSIONALS,
    # Care professionals: they see the notice about what the app cannot read and may free the record.
    Action.CANCEL_UNREADABLE: _PROFESSIONALS,
}

# Who may do it, in words, for the refusal message ("Dit mag alleen ...").
_ROLE_NL = {
    R: "de patiënt (regisseur)",
    RO: "de regieondersteuner",
    M: "een lid van de groep",
    N: "een genomineerde",
    CP: "een andere behandelaar van de instelling",
    Role.NONE: "niemand",
}
_ROLE_ORDER = (R, RO, CP, M, N)

PROFESSIONAL_TYPES = ("Practitioner/", "PractitionerRole/")


class NotAllowed(DomainError):
    """The actor's role may not do this; nothing is written (shown as 403 with who may)."""


@dataclass(frozen=True)
class Actor:
    """The person acting and their role in this group."""

    who: str  # as the group refers to them: "Patient/x", "Practitioner/y", or a supporter's uid
    role: Role

    def may(self, action: Action) -> bool:
        """Whether this role may do `action` at all (own-thing rules are checked by `require`)."""
        return self.role in RIGHTS[action]

    @property
    def is_professional(self) -> bool:
        return self.role in _PROFESSIONALS


def member_ref(group: ResourceGroup | None, who: str, practitioner: str | None = None) -> str:
    """The reference by which `group` lists the professional `who` (else `who` itself).

    A professional may be listed as their Practitioner or as one of their PractitionerRoles. A user launching as
    "Practitioner/x" is the member listed as "PractitionerRole/y" whose role's practitioner (kept with the member,
    `Member.practitioner`) is x. A user launching as "PractitionerRole/y" is the member listed as
    "Practitioner/x" (or as another role of x) only when the launch tells that y's practitioner is x
    (`practitioner`); a role nobody vouches for stays a stranger.
    """
    if group is None or not who.startswith(PROFESSIONAL_TYPES):
        return who
    members = sorted(group.members, key=lambda m: not m.active)  # an active participation first
    if any(m.who == who for m in members):
        return who
    person = who if who.startswith("Practitioner/") else practitioner
    if not person or not person.startswith("Practitioner/"):
        return who
    for m in members:
        if m.who == person or (m.who.startswith("PractitionerRole/") and m.practitioner == person):
            return m.who
    return who


def role_in(group: ResourceGroup | None, who: str | None, practitioner: str | None = None) -> Role:
    """The one role `who` has in `group` (see the module docstring for the order); `practitioner`: see
    `member_ref`."""
    if not who:
        return Role.NONE
    who = member_ref(group, who, practitioner)
    professional = who.startswith(PROFESSIONAL_TYPES)
    if group is None:
        return Role.CARE_PROFESSIONAL if professional else Role.NONE
    if who == group.patient:
        return Role.REGISSEUR
    mine = [m for m in group.members if m.who == who and m.active]
    if any(MemberRole.REGIEONDERSTEUNER in m.roles for m in mine):
        return Role.REGIEONDERSTEUNER
    if any(m.is_member for m in mine):
        return Role.MEMBER
    if mine:
        return Role.NOMINEE
    return Role.CARE_PROFESSIONAL if professional else Role.NONE


def actor_in(group: ResourceGroup | None, who: str | None, practitioner: str | None = None) -> Actor:
    """The actor `who` in `group`, known by the reference the group lists them with (see `member_ref`)."""
    if not who:
        return Actor("", Role.NONE)
    return Actor(member_ref(group, who, practitioner), role_in(group, who, practitioner))


def who_may(action: Action) -> str:
    """The roles that may do `action`, in Dutch words ("de regieondersteuner of ...")."""
    names = [_ROLE_NL[r] for r in _ROLE_ORDER if r in RIGHTS[action]]
    if not names:
        return _ROLE_NL[Role.NONE]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " of " + names[-1]


def require(actor: Actor, action: Action, *, owner: str | None = None) -> None:
    """Raise `NotAllowed` unless the actor's role may do `action` (on their own thing when `owner` is given).

    `owner` is the `who` a thing belongs to: for the own-thing rights (a member's agreement, a member's
    answer to an invitation) the actor must be that owner.
    """
    if not actor.may(action):
        raise NotAllowed(
            f"Dit mag alleen {who_may(action)}.",
            f"{actor.role} {actor.who!r} may not {action}",
        )
    if owner is not None and action in _OWN_ONLY and owner != actor.who:
        raise NotAllowed(
            "Dit mag je alleen voor jezelf doen.",
            f"{actor.role} {actor.who!r} may not {action} for {owner!r}",
        )


_OWN_ONLY = frozenset({Action.MARK_OWN_AGREEMENT_DONE, Action.RESPOND_TO_INVITATION, Action.VIEW_OWN_AGREEMENTS})


def may_see_interview(actor: Actor, interview: NominationInterview) -> bool:
    """Whether the actor may read this interview record (its sections)."""
    if interview.visibility is InterviewVisibility.SHARED:
        return actor.may(Action.VIEW_SHARED_INTERVIEW)
    return actor.may(Action.VIEW_CONFIDENTIAL_INTERVIEW)


def may_take_over(group: ResourceGroup, actor: Actor) -> bool:
    """A colleague may take over the group only when it has no active regieondersteuner any more."""
    return actor.may(Action.TAKE_OVER) and group.regieondersteuner() is None


def visible_to(group: ResourceGroup, actor: Actor) -> ResourceGroup:
    """The group as `actor` may see it: a copy without what their role may not read.

    Care professionals see everything (the group itself is returned). Others get a copy where interview
    records they may not read have no sections, and - for members - only current members without their
    contact details, no interviews, and of goals and agreements only their own and those that an agenda
    or a report of the group names. Pages render this copy, so a template cannot leak what the role may
    not see; saves never start from it. The copy (`copy_group`) shares with the group what cannot change in place
    (the resources as read, the scores): nothing here changes those, it replaces what it redacts.
    """
    if actor.may(Action.VIEW_CONFIDENTIAL_INTERVIEW) and actor.may(Action.VIEW_ALL_AGREEMENTS):
        return group
    out = copy_group(group)
    for interview in out.interviews:
        if not may_see_interview(actor, interview):
            interview.sections = {}
    if not actor.may(Action.VIEW_WISHES):
        out.wishes = []
    if not actor.may(Action.VIEW_MEMBER_DETAILS):
        out.members = [m for m in out.members if m.is_member]
        out.interviews = []
        for supporter in out.supporters:
            supporter.phone = supporter.email = supporter.relationship_text = ""
    named_goals, named_agreements = _named_in_meetings(out)
    if not actor.may(Action.VIEW_GOALS):
        out.goals = [g for g in out.goals if g.uid in named_goals]
        for goal in out.goals:
            goal.notes = []
            if goal.parent_uid not in named_goals:
                goal.parent_uid = None
        out.keep_scores(lambda p: p.goal_uid in named_goals and p.meeting_uid is not None)
    if not actor.may(Action.VIEW_ALL_AGREEMENTS):
        out.agreements = [a for a in out.agreements if a.owner == actor.who or a.uid in named_agreements]
    kept_goals = {g.uid for g in out.goals}
    for agreement in out.agreements:
        if agreement.goal_uid not in kept_goals:
            agreement.goal_uid = None
    return out


def _named_in_meetings(group: ResourceGroup) -> tuple[set[str], set[str]]:
    """Goal and agreement uids that an agenda or a report names (those are shared with the whole group)."""
    goals: set[str] = set()
    agreements: set[str] = set()
    for meeting in group.meetings:
        if meeting.agenda is not None:
            goals.update(i.goal_uid for i in meeting.agenda.items if i.goal_uid)
            agreements.update(i.agreement_uid for i in meeting.agenda.items if i.agreement_uid)
        if meeting.report is not None:
            goals.update(meeting.report.goals_discussed)
            agreements.update(meeting.report.new_agreements)
    return goals, agreements
