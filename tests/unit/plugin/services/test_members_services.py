"""The members services (nominate, interviews, decisions, core, leaving, hand-over) as every role, in memory."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fhir_mappings.codes import CS_V3_ROLE_CODE, InterviewVisibility, MemberRole, NominationState, Section
from fhir_mappings.errors import DomainError
from fhir_mappings.model import Member, ResourceGroup, Supporter
from fhir_mappings.rights import NotAllowed, Role, actor_in
from plugin.services import members as services
from plugin.services.uow import Done, MemoryUnitOfWork, SaveState
from sandbox.demo_data import demo_groups

AMS = ZoneInfo("Europe/Amsterdam")
TODAY = date(2026, 3, 2)
HELD = datetime(2026, 3, 2, 14, 0, tzinfo=AMS)  # on the day of the nomination (never before it)
PATIENT = "Patient/sanne-bakker"
RO = "Practitioner/anna-de-vries"
COLLEAGUE = "Practitioner/bram-jansen"  # a care professional of the clinic, not in Sanne's team
LOTTE = "Practitioner/lotte-smit"  # a plain member
MOTHER = "RelatedPerson/ans-bakker"  # a member, known to the group by her supporter uid
NOMINEE = "RelatedPerson/tom-jansen"  # nominated by the test, no interview yet
STRANGER = "RelatedPerson/someone-else"  # in nobody's group
NEW_PRACTITIONER = "Practitioner/new-one"

USERS = {
    Role.REGISSEUR: PATIENT,
    Role.REGIEONDERSTEUNER: RO,
    Role.MEMBER: LOTTE,
    Role.NOMINEE: NOMINEE,
    Role.CARE_PROFESSIONAL: COLLEAGUE,
    Role.NONE: STRANGER,
}
FRIEND = services.Relationship("FRND", CS_V3_ROLE_CODE, "vriend")


def supporter(uid: str, name: str) -> Supporter:
    return Supporter(uid, name, "FRND", CS_V3_ROLE_CODE)


def sanne_group() -> ResourceGroup:
    """Sanne's demo group with Tom nominated, Eva after her interview, and Piet who declined earlier."""
    group = next(d.group for d in demo_groups(TODAY) if d.patient_id == "sanne-bakker")
    group.nominate("supporter-tom", "Tom Jansen", TODAY, supporter("supporter-tom", "Tom Jansen"))
    eva = group.nominate("supporter-eva", "Eva de Wit", TODAY, supporter("supporter-eva", "Eva de Wit"))
    group.record_interview(eva.uid, HELD, {Section.INZET: "Elke maand."}, visibility=InterviewVisibility.SHARED)
    piet = group.nominate("supporter-piet", "Piet Kok", TODAY, supporter("supporter-piet", "Piet Kok"))
    group.decline(piet.uid, TODAY)
    return group


def uow_as(user: str, group: ResourceGroup) -> MemoryUnitOfWork:
    mother = next(s for s in group.supporters if s.name == "Ans Bakker")
    who_map = {NOMINEE: "supporter-tom", MOTHER: mother.uid}
    return MemoryUnitOfWork(user=user, patient=PATIENT, stored=group, who_map=who_map)


def key() -> str:
    return str(uuid.uuid4())


def uid_of(group: ResourceGroup, display: str, *, active: bool = True) -> str:
    """The uid of the (active, or ended) participation of the person shown as `display`."""
    return next(m.uid for m in group.members if m.display == display and m.active is active)


def member_named(group: ResourceGroup | None, display: str) -> Member:
    assert group is not None
    return [m for m in group.members if m.display == display][-1]


def test_the_users_have_the_roles_the_tests_name() -> None:
    group = sanne_group()
    for role, user in USERS.items():
        assert actor_in(group, uow_as(user, group).who()).role is role, user
    assert actor_in(group, uow_as(MOTHER, group).who()).role is Role.MEMBER


# ------------------------------------------------------------------ every action as every role


@dataclass(frozen=True)
class Case:
    """One user action: how to call it on a group, who may, the Provenance text, and what it changes."""

    name: str
    call: Callable[[MemoryUnitOfWork, str, ResourceGroup], Done[Any]]
    allowed: frozenset[Role]
    activity: str
    check: Callable[[ResourceGroup], bool]


PATIENT_AND_PROFESSIONALS = frozenset({Role.REGISSEUR, Role.REGIEONDERSTEUNER, Role.CARE_PROFESSIONAL})
PROFESSIONALS = frozenset({Role.REGIEONDERSTEUNER, Role.CARE_PROFESSIONAL})

CASES = [
    Case(
        "nominate from the circle",
        lambda uow, k, g: services.nominate_relation(
            uow, k, name="Mila Vos", relationship=FRIEND, contact=services.Contact("06-11112222"), today=TODAY
        ),
        PATIENT_AND_PROFESSIONALS,
        "Naaste genomineerd voor de resourcegroep",
        lambda g: member_named(g, "Mila Vos").nomination is NominationState.GENOMINEERD,
    ),
    Case(
        "nominate a practitioner",
        lambda uow, k, g: services.nominate_practitioner(
            uow, k, reference=NEW_PRACTITIONER, display="Nieuwe Behandelaar", today=TODAY
        ),
        PATIENT_AND_PROFESSIONALS,
        "Behandelaar genomineerd voor de resourcegroep",
        lambda g: member_named(g, "Nieuwe Behandelaar").who == NEW_PRACTITIONER,
    ),
    Case(
        "nominate an outside professional",
        lambda uow, k, g: services.nominate_outside_professional(
            uow,
            k,
            name="Dr. P. de Wit",
            occupation=services.Relationship("62247001", "http://snomed.info/sct", "huisarts"),
            contact=services.Contact(email="wit@example.nl"),
            today=TODAY,
        ),
        PATIENT_AND_PROFESSIONALS,
        "Hulpverlener van buiten de instelling genomineerd voor de resourcegroep",
        lambda g: member_named(g, "Dr. P. de Wit").active,
    ),
    Case(
        "nominate again",
        lambda uow, k, g: services.renominate(uow, k, member_uid=uid_of(g, "Piet Kok", active=False), today=TODAY),
        PATIENT_AND_PROFESSIONALS,
        "Opnieuw genomineerd voor de resourcegroep",
        lambda g: member_named(g, "Piet Kok").active,
    ),
    Case(
        "plan the interview",
        lambda uow, k, g: services.plan_interview(uow, k, member_uid=uid_of(g, "Tom Jansen"), start=HELD),
        PROFESSIONALS,
        "Kennismakingsgesprek gepland",
        lambda g: member_named(g, "Tom Jansen").nomination is NominationState.GESPREK_GEPLAND,
    ),
    Case(
        "record the interview",
        lambda uow, k, g: services.record_interview(
            uow,
            k,
            member_uid=uid_of(g, "Tom Jansen"),
            held_at=HELD,
            sections={Section.BIJDRAGE: "Samen koken."},
            visibility=InterviewVisibility.PROFESSIONALS,
        ),
        PROFESSIONALS,
        "Kennismakingsgesprek vastgelegd",
        lambda g: member_named(g, "Tom Jansen").nomination is NominationState.GESPREK_GEVOERD,
    ),
    Case(
        "admit after the interview",
        lambda uow, k, g: services.decide_nomination(
            uow, k, member_uid=uid_of(g, "Eva de Wit"), outcome=NominationState.LID, today=TODAY
        ),
        PROFESSIONALS,
        "Genomineerde is lid geworden van de resourcegroep",
        lambda g: member_named(g, "Eva de Wit").is_member and member_named(g, "Eva de Wit").joined == TODAY,
    ),
    Case(
        "declined",
        lambda uow, k, g: services.decide_nomination(
            uow, k, member_uid=uid_of(g, "Tom Jansen"), outcome=NominationState.AFGEZIEN, today=TODAY
        ),
        PROFESSIONALS,
        "Genomineerde heeft afgezien van de resourcegroep",
        lambda g: member_named(g, "Tom Jansen").nomination is NominationState.AFGEZIEN,
    ),
    Case(
        "withdraw the nomination",
        lambda uow, k, g: services.withdraw_nomination(uow, k, member_uid=uid_of(g, "Tom Jansen"), today=TODAY),
        PATIENT_AND_PROFESSIONALS,
        "Nominatie voor de resourcegroep teruggetrokken",
        lambda g: member_named(g, "Tom Jansen").nomination is NominationState.TERUGGETROKKEN,
    ),
    Case(
        "withdraw through the decision",
        lambda uow, k, g: services.decide_nomination(
            uow, k, member_uid=uid_of(g, "Tom Jansen"), outcome=NominationState.TERUGGETROKKEN, today=TODAY
        ),
        PATIENT_AND_PROFESSIONALS,
        "Nominatie voor de resourcegroep teruggetrokken",
        lambda g: member_named(g, "Tom Jansen").end == TODAY,
    ),
    Case(
        "make core member",
        lambda uow, k, g: services.set_core(uow, k, member_uid=uid_of(g, "Karim Haddou"), core=True),
        PROFESSIONALS,
        "Kernlid gemaakt",
        lambda g: member_named(g, "Karim Haddou").core,
    ),
    Case(
        "no longer core member",
        lambda uow, k, g: services.set_core(uow, k, member_uid=uid_of(g, "Ans Bakker"), core=False),
        PROFESSIONALS,
        "Niet langer kernlid",
        lambda g: not member_named(g, "Ans Bakker").core,
    ),
    Case(
        "end a membership",
        lambda uow, k, g: services.end_membership(uow, k, member_uid=uid_of(g, "Karim Haddou"), today=TODAY),
        PROFESSIONALS,
        "Lid heeft de resourcegroep verlaten",
        lambda g: member_named(g, "Karim Haddou").end == TODAY,
    ),
    Case(
        "hand over",
        lambda uow, k, g: services.hand_over(uow, k, to=NEW_PRACTITIONER, display="Nieuwe Behandelaar", today=TODAY),
        frozenset({Role.REGIEONDERSTEUNER}),
        "Regieondersteuner overgedragen",
        lambda g: (ro := g.regieondersteuner()) is not None and ro.who == NEW_PRACTITIONER,
    ),
]
ALLOWED = [(case, role) for case in CASES for role in Role if role in case.allowed]
REFUSED = [(case, role) for case in CASES for role in Role if role not in case.allowed]


@pytest.mark.parametrize(("case", "role"), ALLOWED, ids=[f"{c.name}-{r}" for c, r in ALLOWED])
def test_allowed_roles_do_the_action(case: Case, role: Role) -> None:
    group = sanne_group()
    uow = uow_as(USERS[role], group)
    done = case.call(uow, key(), group)
    assert done.state is SaveState.SAVED
    assert uow.stored is not None and case.check(uow.stored)
    assert [c.activity.text for c in uow.commits] == [case.activity]
    assert uow.commits[0].user == USERS[role]


@pytest.mark.parametrize(("case", "role"), REFUSED, ids=[f"{c.name}-{r}" for c, r in REFUSED])
def test_every_other_role_is_refused_and_nothing_is_written(case: Case, role: Role) -> None:
    group = sanne_group()
    before = copy.deepcopy(group)
    uow = uow_as(USERS[role], group)
    with pytest.raises(NotAllowed) as refused:
        case.call(uow, key(), group)
    assert refused.value.user_message.startswith("Dit mag alleen ")
    assert uow.commits == []
    assert uow.stored == before


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_member_who_is_a_relative_is_refused_too(case: Case) -> None:
    group = sanne_group()
    uow = uow_as(MOTHER, group)
    with pytest.raises(NotAllowed):
        case.call(uow, key(), group)
    assert uow.commits == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_double_submit_saves_once(case: Case) -> None:
    group = sanne_group()
    uow = uow_as(RO, group)
    same = key()
    first = case.call(uow, same, group)
    again = case.call(uow, same, group)
    assert first.state is SaveState.SAVED and again.state is SaveState.REPEATED
    assert again.uid == first.uid
    assert len(uow.commits) == 1


# ------------------------------------------------------------------ nominating


def test_a_nominee_from_the_circle_is_kept_with_contact_details_and_relationship() -> None:
    uow = uow_as(PATIENT, sanne_group())
    done = services.nominate_relation(
        uow,
        key(),
        name="  Mila Vos ",
        relationship=services.Relationship("O", "http://terminology.hl7.org/CodeSystem/v2-0131", " buurvrouw "),
        contact=services.Contact(" 06-11112222 ", "mila@example.nl"),
        today=TODAY,
    )
    assert done.value is not None and done.uid == done.value.uid
    group = uow.stored
    assert group is not None
    mila = group.supporter(done.value.who)
    assert mila is not None
    assert (mila.name, mila.relationship, mila.relationship_text) == ("Mila Vos", "O", "buurvrouw")
    assert (mila.phone, mila.email) == ("06-11112222", "mila@example.nl")
    assert done.value.roles == {MemberRole.LID} and done.value.start == TODAY


def test_someone_already_in_the_group_is_not_nominated_twice() -> None:
    uow = uow_as(RO, sanne_group())
    with pytest.raises(DomainError) as refused:
        services.nominate_practitioner(uow, key(), reference=LOTTE, display="Lotte Smit", today=TODAY)
    assert refused.value.user_message == "Deze persoon staat al in de groep."
    assert uow.commits == []


def test_nominating_again_makes_a_new_participation_and_keeps_the_old_one() -> None:
    group = sanne_group()
    uow = uow_as(PATIENT, group)
    done = services.renominate(uow, key(), member_uid=uid_of(group, "Piet Kok", active=False), today=TODAY)
    assert uow.stored is not None
    piet = [m for m in uow.stored.members if m.display == "Piet Kok"]
    assert [m.nomination for m in piet] == [NominationState.AFGEZIEN, NominationState.GENOMINEERD]
    assert done.uid == piet[1].uid and piet[0].who == piet[1].who


# ------------------------------------------------------------------ interviews


def test_a_new_interview_record_needs_a_visibility() -> None:
    group = sanne_group()
    uow = uow_as(RO, group)
    with pytest.raises(DomainError) as refused:
        services.record_interview(
            uow,
            key(),
            member_uid=uid_of(group, "Tom Jansen"),
            held_at=HELD,
            sections={Section.INZET: "Elke week."},
            visibility=None,  # type: ignore[arg-type]  # what a careless caller might send
        )
    assert "Kies wie het verslag" in refused.value.user_message
    assert uow.commits == []


@pytest.mark.parametrize("visibility", list(InterviewVisibility))
def test_the_record_keeps_the_chosen_visibility_and_can_be_relabelled(visibility: InterviewVisibility) -> None:
    group = sanne_group()
    uow = uow_as(COLLEAGUE, group)
    tom = uid_of(group, "Tom Jansen")
    done = services.record_interview(
        uow, key(), member_uid=tom, held_at=HELD, sections={Section.INZET: "Elke week."}, visibility=visibility
    )
    assert done.value is not None and done.value.visibility is visibility
    other = next(v for v in InterviewVisibility if v is not visibility)
    services.record_interview(
        uow, key(), member_uid=tom, held_at=HELD, sections={Section.INZET: "Elke twee weken."}, visibility=other
    )
    assert uow.stored is not None
    record = uow.stored.interview_for(tom)
    assert record is not None and record.visibility is other and record.sections == {Section.INZET: "Elke twee weken."}
    assert len(uow.commits) == 2


def test_a_nominee_becomes_a_member_only_after_the_interview() -> None:
    group = sanne_group()
    uow = uow_as(RO, group)
    with pytest.raises(DomainError) as refused:
        services.decide_nomination(
            uow, key(), member_uid=uid_of(group, "Tom Jansen"), outcome=NominationState.LID, today=TODAY
        )
    assert refused.value.user_message == "Tom Jansen kan pas lid worden na het kennismakingsgesprek."
    assert uow.commits == []


@pytest.mark.parametrize("outcome", [NominationState.GENOMINEERD, NominationState.GESPREK_GEPLAND])
def test_a_decision_is_one_of_member_declined_withdrawn(outcome: NominationState) -> None:
    group = sanne_group()
    uow = uow_as(RO, group)
    with pytest.raises(DomainError) as refused:
        services.decide_nomination(uow, key(), member_uid=uid_of(group, "Eva de Wit"), outcome=outcome, today=TODAY)
    assert refused.value.user_message == "Kies wat er gebeurt."
    assert uow.commits == []


def test_the_patient_cannot_withdraw_someone_who_is_a_member_already() -> None:
    group = sanne_group()
    uow = uow_as(PATIENT, group)
    with pytest.raises(DomainError):
        services.withdraw_nomination(uow, key(), member_uid=uid_of(group, "Karim Haddou"), today=TODAY)
    assert uow.commits == []


# ------------------------------------------------------------------ leaving


def test_the_patient_and_the_last_regieondersteuner_do_not_leave() -> None:
    group = sanne_group()
    uow = uow_as(RO, group)
    with pytest.raises(DomainError) as patient:
        services.end_membership(uow, key(), member_uid=uid_of(group, "Sanne Bakker"), today=TODAY)
    assert patient.value.user_message == "De patiënt is de regisseur en blijft altijd lid."
    with pytest.raises(DomainError) as refused:
        services.end_membership(uow, key(), member_uid=uid_of(group, "Anna de Vries"), today=TODAY)
    assert "Kies eerst een nieuwe regieondersteuner" in refused.value.user_message
    assert uow.commits == []


# ------------------------------------------------------------------ handing over


def test_the_regieondersteuner_hands_over_and_her_membership_ends() -> None:
    group = sanne_group()
    uow = uow_as(RO, group)
    done = services.hand_over(uow, key(), to=COLLEAGUE, display="Bram Jansen", today=TODAY)
    assert done.value is not None and done.value.who == COLLEAGUE
    assert uow.stored is not None
    anna = member_named(uow.stored, "Anna de Vries")
    assert anna.end == TODAY and not anna.active
    assert actor_in(uow.stored, RO).role is Role.CARE_PROFESSIONAL
    # Anna is no regieondersteuner any more: a second hand-over by her is refused
    with pytest.raises(NotAllowed):
        services.hand_over(uow, key(), to=NEW_PRACTITIONER, display="Nieuwe Behandelaar", today=TODAY)
    assert len(uow.commits) == 1


@pytest.mark.parametrize("to", [LOTTE, COLLEAGUE, PATIENT])
def test_lotte_a_plain_member_cannot_hand_the_role_to_anyone(to: str) -> None:
    group = sanne_group()
    uow = uow_as(LOTTE, group)
    with pytest.raises(NotAllowed) as refused:
        services.hand_over(uow, key(), to=to, display="Wie dan ook", today=TODAY)
    assert refused.value.user_message == "Dit mag alleen de regieondersteuner."
    assert uow.commits == []
    assert uow.stored is not None
    ro = uow.stored.regieondersteuner()
    assert ro is not None and ro.who == RO and member_named(uow.stored, "Anna de Vries").active


def test_a_double_submit_of_the_hand_over_is_recognised_as_saved() -> None:
    """After her own hand-over Anna is no regieondersteuner: her second submit is a repeat, not a refusal."""
    uow = uow_as(RO, sanne_group())
    same = key()
    services.hand_over(uow, same, to=COLLEAGUE, display="Bram Jansen", today=TODAY)
    again = services.hand_over(uow, same, to=COLLEAGUE, display="Bram Jansen", today=TODAY)
    assert again.state is SaveState.REPEATED and len(uow.commits) == 1


def test_the_hand_over_counts_who_is_regieondersteuner_when_it_is_saved() -> None:
    """Anna loads the page while she is regieondersteuner; a hand-over saved meanwhile makes hers a refusal."""
    loaded = sanne_group()
    meanwhile = copy.deepcopy(loaded)
    meanwhile.hand_over(COLLEAGUE, "Bram Jansen", TODAY)

    @dataclass
    class StaleLoad(MemoryUnitOfWork):
        seen: ResourceGroup | None = None

        def group(self) -> ResourceGroup | None:
            return copy.deepcopy(self.seen)

    uow = StaleLoad(user=RO, patient=PATIENT, stored=meanwhile, seen=loaded)
    with pytest.raises(NotAllowed):
        services.hand_over(uow, key(), to=NEW_PRACTITIONER, display="Nieuwe Behandelaar", today=TODAY)
    assert uow.commits == [] and uow.stored == meanwhile


def test_a_hand_over_to_someone_who_is_not_a_practitioner_is_a_domain_error() -> None:
    uow = uow_as(RO, sanne_group())
    with pytest.raises(DomainError) as refused:
        services.hand_over(uow, key(), to="supporter-tom", display="Tom Jansen", today=TODAY)
    assert refused.value.user_message == "Alleen een behandelaar kan regieondersteuner zijn."
    assert uow.commits == []
