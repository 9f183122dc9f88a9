"""The agreements services on the in-memory unit of work: make, change, and mark one's own agreement done."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from fhir_mappings.codes import AgreementStatus, GroupStatus
from fhir_mappings.errors import DomainError
from fhir_mappings.model import Agreement, ResourceGroup
from fhir_mappings.rights import NotAllowed
from plugin.services import agreements
from plugin.services.uow import Done, MemoryUnitOfWork, SaveState
from tests.unit.fhir_mappings.factory import CLINICIAN, PATIENT, TODAY, full_group

COLLEAGUE = "Practitioner/colleague"  # a care professional of the clinic, not in the team
STRANGER = "RelatedPerson/stranger"


def member_who(group: ResourceGroup, display: str) -> str:
    return next(m.who for m in group.members if m.display == display)


def the_group() -> ResourceGroup:
    """The full group plus open agreements of the patient, of the regieondersteuner, and of nobody yet.

    The full group already has "Sportschool uitzoeken" (Karim, open) and "Samen de aanvraag invullen" (Ans, done).
    """
    group = full_group()
    group.add_agreement("Zelf de woningcorporatie bellen", TODAY, PATIENT)
    group.add_agreement("Verslag rondsturen", TODAY, CLINICIAN)
    group.add_agreement("Iemand zoekt een sportmaatje", TODAY, None)
    return group


def uow_as(user: str, group: ResourceGroup | None = None) -> MemoryUnitOfWork:
    return MemoryUnitOfWork(user=user, patient=PATIENT, stored=group if group is not None else the_group())


def agreement_named(group: ResourceGroup | None, description: str) -> Agreement:
    assert group is not None
    return next(a for a in group.agreements if a.description == description)


def people(group: ResourceGroup) -> dict[str, str]:
    return {
        "patient": PATIENT,
        "regieondersteuner": CLINICIAN,
        "colleague": COLLEAGUE,
        "member": member_who(group, "Ans de Vries"),
        "nominee": "Practitioner/pr2",
        "stranger": STRANGER,
    }


def _add(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    group = uow.stored
    assert group is not None
    karim = member_who(group, "Karim")
    return agreements.add_agreement(
        uow, key, description="Samen hardlopen", today=TODAY, owner=karim, due=date(2026, 7, 1)
    )


def _edit(uow: MemoryUnitOfWork, key: str) -> Done[Any]:
    gym = agreement_named(uow.stored, "Sportschool uitzoeken")
    return agreements.edit_agreement(
        uow,
        key,
        uid=gym.uid,
        description="Sportschool uitzoeken in Breda",
        owner=gym.owner,
        goal_uid=gym.goal_uid,
        due=date(2026, 8, 1),
        status=AgreementStatus.IN_PROGRESS,
    )


ACTIONS: dict[str, tuple[Callable[[MemoryUnitOfWork, str], Done[Any]], str]] = {
    "add_agreement": (_add, "Afspraak gemaakt"),
    "edit_agreement": (_edit, "Afspraak gewijzigd"),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("who", ["regieondersteuner", "colleague"])
def test_care_professionals_make_and_change_agreements(action: str, who: str) -> None:
    group = the_group()
    uow = uow_as(people(group)[who], group)
    call, activity = ACTIONS[action]
    done = call(uow, "key-1")
    assert done.state is SaveState.SAVED and done.uid is not None
    assert [c.activity.text for c in uow.commits] == [activity]
    if action == "add_agreement":
        made = agreement_named(uow.stored, "Samen hardlopen")
        assert (made.owner, made.due, made.status, made.created) == (
            member_who(group, "Karim"),
            date(2026, 7, 1),
            AgreementStatus.REQUESTED,
            TODAY,
        )
    else:
        changed = agreement_named(uow.stored, "Sportschool uitzoeken in Breda")
        assert (changed.due, changed.status) == (date(2026, 8, 1), AgreementStatus.IN_PROGRESS)


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("who", ["patient", "member", "nominee", "stranger"])
def test_nobody_else_makes_or_changes_agreements(action: str, who: str) -> None:
    group = the_group()
    uow = uow_as(people(group)[who], group)
    before = copy.deepcopy(uow.stored)
    call, _ = ACTIONS[action]
    with pytest.raises(NotAllowed) as refused:
        call(uow, "key-1")
    assert refused.value.user_message.startswith("Dit mag alleen de regieondersteuner")
    assert uow.commits == []
    assert uow.stored == before


def test_a_member_marks_their_own_agreement_done() -> None:
    group = the_group()
    karim = member_who(group, "Karim")
    # A RelatedPerson launches as "RelatedPerson/<id>"; the group knows them by their supporter uid.
    uow = MemoryUnitOfWork(
        user="RelatedPerson/karim-1", patient=PATIENT, stored=group, who_map={"RelatedPerson/karim-1": karim}
    )
    gym = agreement_named(group, "Sportschool uitzoeken")
    assert gym.is_open
    done = agreements.mark_agreement_done(uow, "k", uid=gym.uid)
    assert done.state is SaveState.SAVED and done.uid == gym.uid
    assert agreement_named(uow.stored, "Sportschool uitzoeken").status is AgreementStatus.COMPLETED
    assert [(c.activity.text, c.user) for c in uow.commits] == [("Afspraak klaar gemeld", "RelatedPerson/karim-1")]


def test_the_patient_marks_their_own_agreement_done() -> None:
    uow = uow_as(PATIENT)
    call = agreement_named(uow.stored, "Zelf de woningcorporatie bellen")
    assert agreements.mark_agreement_done(uow, "k", uid=call.uid).state is SaveState.SAVED
    assert agreement_named(uow.stored, "Zelf de woningcorporatie bellen").status is AgreementStatus.COMPLETED


@pytest.mark.parametrize(
    ("who", "description"),
    [
        ("member", "Sportschool uitzoeken"),  # Ans marks Karim's agreement
        ("patient", "Sportschool uitzoeken"),  # the patient marks Karim's agreement
        ("member", "Zelf de woningcorporatie bellen"),  # Ans marks the patient's agreement
        ("member", "Iemand zoekt een sportmaatje"),  # nobody's agreement is nobody's own
    ],
)
def test_nobody_marks_someone_elses_agreement_done(who: str, description: str) -> None:
    group = the_group()
    uow = uow_as(people(group)[who], group)
    before = copy.deepcopy(uow.stored)
    with pytest.raises(NotAllowed) as refused:
        agreements.mark_agreement_done(uow, "k", uid=agreement_named(group, description).uid)
    assert refused.value.user_message == "Dit mag je alleen voor jezelf doen."
    assert uow.commits == []
    assert uow.stored == before


@pytest.mark.parametrize("who", ["regieondersteuner", "colleague", "nominee", "stranger"])
def test_other_roles_do_not_mark_done_even_their_own(who: str) -> None:
    """Care professionals change an agreement's status with the edit form; nominees and strangers do nothing."""
    group = the_group()
    if who == "nominee":
        group.add_agreement("Kennismaken met Sanne", TODAY, "Practitioner/pr2")  # a nominee may be asked to do it
    own = {"regieondersteuner": "Verslag rondsturen", "nominee": "Kennismaken met Sanne"}
    uow = uow_as(people(group)[who], group)
    uid = agreement_named(group, own.get(who, "Sportschool uitzoeken")).uid
    with pytest.raises(NotAllowed) as refused:
        agreements.mark_agreement_done(uow, "k", uid=uid)
    assert refused.value.user_message == "Dit mag alleen de patiënt (regisseur) of een lid van de groep."
    assert uow.commits == []


def test_marking_done_again_changes_nothing_and_a_cancelled_agreement_cannot_be_done() -> None:
    group = the_group()
    ans = member_who(group, "Ans de Vries")
    done_already = agreement_named(group, "Samen de aanvraag invullen")
    assert done_already.owner == ans and done_already.status is AgreementStatus.COMPLETED
    uow = uow_as(ans, group)
    assert agreements.mark_agreement_done(uow, "k1", uid=done_already.uid).state is SaveState.UNCHANGED
    assert uow.commits == []

    cancelled = agreement_named(group, "Sportschool uitzoeken")
    cancelled.status = AgreementStatus.CANCELLED
    karim = uow_as(member_who(group, "Karim"), group)
    with pytest.raises(DomainError) as refused:
        agreements.mark_agreement_done(karim, "k2", uid=cancelled.uid)
    assert refused.value.user_message.startswith("Deze afspraak gaat niet meer door.")
    assert karim.commits == []


def test_a_repeated_mark_done_is_recognised() -> None:
    group = the_group()
    uow = uow_as(member_who(group, "Karim"), group)
    gym = agreement_named(group, "Sportschool uitzoeken")
    first = agreements.mark_agreement_done(uow, "same", uid=gym.uid)
    again = agreements.mark_agreement_done(uow, "same", uid=gym.uid)
    assert (first.state, again.state, again.uid) == (SaveState.SAVED, SaveState.REPEATED, gym.uid)
    assert len(uow.commits) == 1


def test_an_agreement_needs_a_member_as_owner_and_a_goal_of_the_group() -> None:
    uow = uow_as(CLINICIAN)
    with pytest.raises(DomainError) as stranger:
        agreements.add_agreement(uow, "k1", description="Boodschappen", today=TODAY, owner=STRANGER)
    assert stranger.value.user_message == "Kies iemand die lid is van de groep."
    with pytest.raises(DomainError) as no_goal:
        agreements.add_agreement(uow, "k2", description="Boodschappen", today=TODAY, goal_uid="geen-doel")
    assert no_goal.value.user_message == "Dit doel hoort niet bij deze groep."
    with pytest.raises(DomainError) as unknown:
        agreements.mark_agreement_done(uow_as(PATIENT), "k3", uid="geen-afspraak")
    assert unknown.value.user_message == "Deze afspraak hoort niet bij deze groep."
    assert uow.commits == []


def test_nothing_changes_in_an_ended_group() -> None:
    group = the_group()
    group.change_status(GroupStatus.ENDED, TODAY)
    calls = [
        uow_as(CLINICIAN, group),
        uow_as(CLINICIAN, group),
        uow_as(PATIENT, group),
    ]
    own = agreement_named(group, "Zelf de woningcorporatie bellen").uid
    runs: list[Callable[[], object]] = [
        lambda: _add(calls[0], "k"),
        lambda: _edit(calls[1], "k"),
        lambda: agreements.mark_agreement_done(calls[2], "k", uid=own),
    ]
    for run in runs:
        with pytest.raises(DomainError) as refused:
            run()
        assert refused.value.user_message.startswith("De groep is beëindigd")
    assert all(uow.commits == [] for uow in calls)
