"""The group services (start, rename, lifecycle, take over, who sees the overview) as every role, in memory."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from fhir_mappings.codes import GroupStatus, MemberRole
from fhir_mappings.errors import DomainError
from fhir_mappings.model import ResourceGroup, Supporter
from fhir_mappings.rights import NotAllowed, Role, actor_in
from plugin.services.group import (
    Lifecycle,
    StartOffer,
    change_lifecycle,
    rename_group,
    require_overview,
    start_group,
    start_offer,
    take_over,
)
from plugin.services.uow import MemoryUnitOfWork, SaveState
from sandbox.demo_data import demo_groups

TODAY = date(2026, 3, 2)
PATIENT = "Patient/sanne-bakker"
RO = "Practitioner/anna-de-vries"
COLLEAGUE = "Practitioner/bram-jansen"  # a care professional of the clinic, not in Sanne's team
LOTTE = "Practitioner/lotte-smit"  # a plain member
MOTHER = "RelatedPerson/ans-bakker"  # a member, known to the group by her supporter uid
NOMINEE = "RelatedPerson/tom-jansen"  # nominated by the test, no interview yet
STRANGER = "RelatedPerson/someone-else"  # in nobody's group

USERS = {
    Role.REGISSEUR: PATIENT,
    Role.REGIEONDERSTEUNER: RO,
    Role.MEMBER: LOTTE,
    Role.NOMINEE: NOMINEE,
    Role.CARE_PROFESSIONAL: COLLEAGUE,
    Role.NONE: STRANGER,
}


def sanne_group() -> ResourceGroup:
    """Sanne's demo group, with one nominee added."""
    group = next(d.group for d in demo_groups(TODAY) if d.patient_id == "sanne-bakker")
    tom = Supporter("supporter-tom", "Tom Jansen", "FRND", "http://terminology.hl7.org/CodeSystem/v3-RoleCode")
    group.nominate(tom.uid, tom.name, TODAY, tom)
    return group


def without_regieondersteuner(group: ResourceGroup) -> ResourceGroup:
    """The group after Anna left the clinic (her membership ended without a hand-over)."""
    anna = next(m for m in group.members if m.who == RO)
    anna.end = TODAY
    return group


def uow_as(user: str, group: ResourceGroup | None) -> MemoryUnitOfWork:
    who_map = {NOMINEE: "supporter-tom"}
    if group is not None:
        mother = next(s for s in group.supporters if s.name == "Ans Bakker")
        who_map[MOTHER] = mother.uid
    return MemoryUnitOfWork(user=user, patient=PATIENT, stored=group, who_map=who_map)


def key() -> str:
    return str(uuid.uuid4())


def test_the_users_have_the_roles_the_tests_name() -> None:
    group = sanne_group()
    for role, user in USERS.items():
        uow = uow_as(user, group)
        assert actor_in(group, uow.who()).role is role, user
    assert actor_in(group, uow_as(MOTHER, group).who()).role is Role.MEMBER


# ------------------------------------------------------------------ rename


@pytest.mark.parametrize("role", [Role.REGISSEUR, Role.REGIEONDERSTEUNER, Role.CARE_PROFESSIONAL])
def test_rename_is_allowed_for_the_patient_and_care_professionals(role: Role) -> None:
    uow = uow_as(USERS[role], sanne_group())
    done = rename_group(uow, key(), name="Sannes steungroep")
    assert done.state is SaveState.SAVED
    assert uow.stored is not None and uow.stored.name == "Sannes steungroep"
    assert [c.activity.text for c in uow.commits] == ["Naam van de groep gewijzigd"]
    assert uow.commits[0].user == USERS[role]


@pytest.mark.parametrize("user", [LOTTE, MOTHER, NOMINEE, STRANGER])
def test_rename_is_refused_for_members_nominees_and_strangers(user: str) -> None:
    uow = uow_as(user, sanne_group())
    with pytest.raises(NotAllowed) as refused:
        rename_group(uow, key(), name="Overgenomen")
    assert "Dit mag alleen" in refused.value.user_message
    assert uow.commits == []
    assert uow.stored is not None and uow.stored.name == "Team Sanne"


def test_an_empty_name_is_a_domain_error_and_saves_nothing() -> None:
    uow = uow_as(RO, sanne_group())
    with pytest.raises(DomainError):
        rename_group(uow, key(), name="   ")
    assert uow.commits == []


# ------------------------------------------------------------------ lifecycle


@pytest.mark.parametrize("role", [Role.REGIEONDERSTEUNER, Role.CARE_PROFESSIONAL])
def test_care_professionals_record_every_lifecycle_step(role: Role) -> None:
    uow = uow_as(USERS[role], sanne_group())
    steps = [
        (Lifecycle.PAUSE, GroupStatus.ON_HOLD, "Groep gepauzeerd"),
        (Lifecycle.RESUME, GroupStatus.ACTIVE, "Groep hervat"),
        (Lifecycle.AFTER_TREATMENT, GroupStatus.ACTIVE, "Groep gaat door na de behandeling"),
        (Lifecycle.END, GroupStatus.ENDED, "Groep beëindigd"),
        (Lifecycle.REOPEN, GroupStatus.ACTIVE, "Groep heropend"),
    ]
    for step, status, text in steps:
        done = change_lifecycle(uow, key(), step=step, today=TODAY)
        assert done.state is SaveState.SAVED, step
        assert uow.stored is not None and uow.stored.status is status, step
        assert uow.commits[-1].activity.text == text
    assert uow.stored is not None and uow.stored.after_treatment_since == TODAY
    assert len(uow.commits) == len(steps)


def test_each_status_change_is_kept_with_its_day_and_who_made_it() -> None:
    uow = uow_as(RO, sanne_group())
    before = len(sanne_group().status_changes)
    for n, step in enumerate((Lifecycle.PAUSE, Lifecycle.RESUME, Lifecycle.END, Lifecycle.REOPEN)):
        change_lifecycle(uow, key(), step=step, today=date(2026, 3, 10 + n))
    assert uow.stored is not None
    kept = [(c.old, c.new, c.day, c.by) for c in uow.stored.status_changes[before:]]
    assert kept == [
        (GroupStatus.ACTIVE, GroupStatus.ON_HOLD, date(2026, 3, 10), RO),
        (GroupStatus.ON_HOLD, GroupStatus.ACTIVE, date(2026, 3, 11), RO),
        (GroupStatus.ACTIVE, GroupStatus.ENDED, date(2026, 3, 12), RO),
        (GroupStatus.ENDED, GroupStatus.ACTIVE, date(2026, 3, 13), RO),
    ]


@pytest.mark.parametrize("user", [PATIENT, LOTTE, MOTHER, NOMINEE, STRANGER])
@pytest.mark.parametrize("step", list(Lifecycle))
def test_lifecycle_is_refused_for_everybody_else(user: str, step: Lifecycle) -> None:
    group = sanne_group()
    if step is Lifecycle.REOPEN:
        group.change_status(GroupStatus.ENDED, TODAY)
    elif step is Lifecycle.RESUME:
        group.change_status(GroupStatus.ON_HOLD, TODAY)
    before = group.status
    uow = uow_as(user, group)
    with pytest.raises(NotAllowed) as refused:
        change_lifecycle(uow, key(), step=step, today=TODAY)
    assert refused.value.user_message == (
        "Dit mag alleen de regieondersteuner of een andere behandelaar van de instelling."
    )
    assert uow.commits == []
    assert uow.stored is not None and uow.stored.status is before


def test_a_double_submit_of_a_lifecycle_step_saves_once() -> None:
    uow = uow_as(RO, sanne_group())
    same = key()
    first = change_lifecycle(uow, same, step=Lifecycle.PAUSE, today=TODAY)
    again = change_lifecycle(uow, same, step=Lifecycle.PAUSE, today=TODAY)
    assert first.state is SaveState.SAVED and again.state is SaveState.REPEATED
    assert len(uow.commits) == 1


# ------------------------------------------------------------------ start


def test_a_care_professional_starts_the_group_and_becomes_regieondersteuner() -> None:
    uow = uow_as(COLLEAGUE, None)
    done = start_group(
        uow, key(), name="Sannes team", patient_display="Sanne Bakker", user_display="Bram Jansen", today=TODAY
    )
    assert done.state is SaveState.SAVED
    group = uow.stored
    assert group is not None and group.name == "Sannes team" and group.patient == PATIENT
    ro = group.regieondersteuner()
    assert ro is not None and ro.who == COLLEAGUE
    assert [c.activity.text for c in uow.commits] == ["Resourcegroep gestart"]


@pytest.mark.parametrize("user", [PATIENT, MOTHER, STRANGER])
def test_only_care_professionals_start_a_group(user: str) -> None:
    uow = uow_as(user, None)
    with pytest.raises(NotAllowed):
        start_group(uow, key(), name="Mijn groep", patient_display="Sanne", user_display="Iemand", today=TODAY)
    assert uow.commits == [] and uow.stored is None


def test_a_second_open_group_is_refused_even_for_a_care_professional() -> None:
    uow = uow_as(COLLEAGUE, sanne_group())
    with pytest.raises(DomainError) as refused:
        start_group(uow, key(), name="Nog een", patient_display="Sanne", user_display="Bram", today=TODAY)
    assert refused.value.user_message == "Deze patiënt heeft al een resourcegroep."
    assert uow.commits == []


def test_after_an_ended_group_the_patient_may_still_not_start_one() -> None:
    ended = sanne_group()
    ended.change_status(GroupStatus.ENDED, TODAY)
    refused = uow_as(PATIENT, ended)
    with pytest.raises(NotAllowed):
        start_group(refused, key(), name="Opnieuw", patient_display="Sanne", user_display="Sanne", today=TODAY)
    assert refused.commits == []
    allowed = uow_as(RO, ended)
    start_group(allowed, key(), name="Opnieuw", patient_display="Sanne", user_display="Anna", today=TODAY)
    assert allowed.stored is not None and allowed.stored.name == "Opnieuw"


def test_the_start_page_offers_the_form_to_care_professionals_and_a_word_to_the_patient() -> None:
    assert start_offer(uow_as(COLLEAGUE, None)) is StartOffer.FORM
    assert start_offer(uow_as(PATIENT, None)) is StartOffer.WAIT
    with pytest.raises(NotAllowed) as refused:
        start_offer(uow_as(STRANGER, None))
    assert refused.value.user_message.startswith("Je hoort niet bij deze resourcegroep.")


# ------------------------------------------------------------------ who sees the overview


def test_the_overview_refuses_nominees_until_the_interview_and_strangers() -> None:
    group = sanne_group()
    for role in (Role.REGISSEUR, Role.REGIEONDERSTEUNER, Role.MEMBER, Role.CARE_PROFESSIONAL):
        require_overview(actor_in(group, uow_as(USERS[role], group).who()))
    with pytest.raises(NotAllowed) as nominee:
        require_overview(actor_in(group, "supporter-tom"))
    assert "Als je na het kennismakingsgesprek lid wordt, kun je de groep zien." in nominee.value.user_message
    with pytest.raises(NotAllowed) as stranger:
        require_overview(actor_in(group, STRANGER))
    assert "Je hoort niet bij deze resourcegroep" in stranger.value.user_message
    # A care professional who is nominated (or does not belong) is addressed as "u".
    nominated = sanne_group()
    colleague = nominated.nominate("Practitioner/nieuw", "Nieuwe Collega", TODAY)
    with pytest.raises(NotAllowed) as professional:
        require_overview(actor_in(nominated, colleague.who))
    assert professional.value.user_message == (
        "U bent genomineerd voor deze resourcegroep. Als u na het kennismakingsgesprek lid wordt, kunt u de groep zien."
    )


# ------------------------------------------------------------------ take over


def test_a_colleague_takes_over_a_group_without_regieondersteuner_with_a_reason() -> None:
    uow = uow_as(COLLEAGUE, without_regieondersteuner(sanne_group()))
    done = take_over(uow, key(), reason="Anna werkt niet meer bij de instelling.", display="Bram Jansen", today=TODAY)
    assert done.state is SaveState.SAVED
    group = uow.stored
    assert group is not None
    ro = group.regieondersteuner()
    assert ro is not None and ro.who == COLLEAGUE and ro.display == "Bram Jansen"
    assert MemberRole.REGIEONDERSTEUNER in ro.roles and ro.core
    assert len(uow.commits) == 1
    assert uow.commits[0].activity.text == "Regieondersteuning overgenomen"
    assert uow.commits[0].activity.reason == "Anna werkt niet meer bij de instelling."


def test_take_over_is_refused_while_the_group_has_a_regieondersteuner() -> None:
    uow = uow_as(COLLEAGUE, sanne_group())
    with pytest.raises(NotAllowed) as refused:
        take_over(uow, key(), reason="Ik wil de groep.", display="Bram Jansen", today=TODAY)
    assert refused.value.user_message.startswith("De groep heeft een regieondersteuner.")
    assert uow.commits == []
    assert uow.stored is not None and uow.stored.regieondersteuner() is not None
    assert uow.stored.regieondersteuner().who == RO  # type: ignore[union-attr]


@pytest.mark.parametrize("user", [PATIENT, LOTTE, MOTHER, NOMINEE, STRANGER])
def test_take_over_is_refused_for_everybody_but_a_colleague(user: str) -> None:
    uow = uow_as(user, without_regieondersteuner(sanne_group()))
    with pytest.raises(NotAllowed):
        take_over(uow, key(), reason="Er is niemand meer.", display="Iemand", today=TODAY)
    assert uow.commits == []
    assert uow.stored is not None and uow.stored.regieondersteuner() is None


def test_take_over_needs_a_reason() -> None:
    uow = uow_as(COLLEAGUE, without_regieondersteuner(sanne_group()))
    with pytest.raises(DomainError) as missing:
        take_over(uow, key(), reason="  ", display="Bram Jansen", today=TODAY)
    assert not isinstance(missing.value, NotAllowed)
    assert uow.commits == []


def test_the_regieondersteuner_taking_over_again_is_refused_by_the_rights_not_the_form() -> None:
    uow = uow_as(RO, sanne_group())
    with pytest.raises(NotAllowed) as refused:
        take_over(uow, key(), reason="Ik ben het zelf.", display="Anna de Vries", today=TODAY)
    assert refused.value.user_message == "Dit mag alleen een andere behandelaar van de instelling."
    assert uow.commits == []
