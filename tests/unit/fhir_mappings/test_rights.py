"""Roles, the rights table, and what each role may see (pure)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from fhir_mappings.codes import CS_V3_CONFIDENTIALITY, InterviewVisibility, Section
from fhir_mappings.errors import DomainError
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.model import ResourceGroup
from fhir_mappings.rights import (
    RIGHTS,
    Action,
    Actor,
    NotAllowed,
    Role,
    actor_in,
    may_see_interview,
    may_take_over,
    require,
    role_in,
    visible_to,
    who_may,
)
from fhir_mappings.to_fhir import group_to_fhir
from tests.unit.fhir_mappings.factory import AMS, CLINICIAN, PATIENT, TODAY, full_group

ROLES_DOC = Path(__file__).resolve().parents[3] / "docs" / "roles.md"


def people(g: ResourceGroup) -> dict[str, str]:
    mother = next(m for m in g.members if m.display == "Ans de Vries")
    coach = next(m for m in g.members if m.who == "Practitioner/pr2")
    return {"mother": mother.who, "coach": coach.who}


def test_each_person_has_one_role() -> None:
    g = full_group()
    p = people(g)
    assert role_in(g, PATIENT) is Role.REGISSEUR
    assert role_in(g, CLINICIAN) is Role.REGIEONDERSTEUNER
    assert role_in(g, p["mother"]) is Role.MEMBER
    assert role_in(g, p["coach"]) is Role.NOMINEE  # interview planned, not held
    assert role_in(g, "Practitioner/colleague") is Role.CARE_PROFESSIONAL
    assert role_in(g, "PractitionerRole/colleague-role") is Role.CARE_PROFESSIONAL
    assert role_in(g, "RelatedPerson/stranger") is Role.NONE
    assert role_in(g, "Patient/someone-else") is Role.NONE
    assert role_in(g, None) is Role.NONE
    assert role_in(None, "Practitioner/x") is Role.CARE_PROFESSIONAL  # may start a group
    assert role_in(None, PATIENT) is Role.NONE


def test_a_member_who_left_is_nobody_and_a_practitioner_who_left_is_a_colleague() -> None:
    g = full_group()
    p = people(g)
    mother = next(m for m in g.members if m.who == p["mother"])
    g.leave(mother.uid, TODAY)
    assert role_in(g, p["mother"]) is Role.NONE
    g.decline(next(m for m in g.members if m.who == p["coach"]).uid, TODAY, withdrawn=True)
    assert role_in(g, p["coach"]) is Role.CARE_PROFESSIONAL


def test_handing_over_moves_the_role() -> None:
    g = full_group()
    g.hand_over("Practitioner/new", "Nieuwe Behandelaar", TODAY)
    assert role_in(g, "Practitioner/new") is Role.REGIEONDERSTEUNER
    assert role_in(g, CLINICIAN) is Role.CARE_PROFESSIONAL  # left the team, still a colleague of the clinic


def test_every_action_has_a_row_and_nobody_else_has_rights() -> None:
    assert set(RIGHTS) == set(Action)
    for action, roles in RIGHTS.items():
        assert Role.NONE not in roles, action
        assert Role.NOMINEE not in roles, action  # a nominee sees the group only after joining
    assert not any(Actor("x", Role.NONE).may(action) for action in Action)


@pytest.mark.parametrize(
    ("action", "may", "may_not"),
    [
        (Action.CHANGE_STATUS, {Role.REGIEONDERSTEUNER, Role.CARE_PROFESSIONAL}, {Role.REGISSEUR, Role.MEMBER}),
        (Action.WRITE_REPORT, {Role.REGIEONDERSTEUNER, Role.CARE_PROFESSIONAL}, {Role.REGISSEUR, Role.MEMBER}),
        (Action.RECORD_INTERVIEW, {Role.REGIEONDERSTEUNER}, {Role.REGISSEUR, Role.MEMBER}),
        (Action.HAND_OVER, {Role.REGIEONDERSTEUNER}, {Role.REGISSEUR, Role.MEMBER, Role.CARE_PROFESSIONAL}),
        (Action.ADD_GOAL, {Role.REGISSEUR, Role.REGIEONDERSTEUNER}, {Role.MEMBER}),
        (Action.SCORE_PROGRESS, {Role.REGISSEUR}, {Role.MEMBER}),
        (Action.NOMINATE, {Role.REGISSEUR}, {Role.MEMBER}),
        (Action.WITHDRAW_NOMINATION, {Role.REGISSEUR}, {Role.MEMBER}),
        (Action.PROPOSE_AGENDA_ITEM, {Role.REGISSEUR}, {Role.MEMBER}),
        (Action.RESPOND_TO_INVITATION, {Role.REGISSEUR, Role.MEMBER}, set()),
        (Action.MARK_OWN_AGREEMENT_DONE, {Role.MEMBER}, set()),
        (Action.VIEW_REPORT, {Role.MEMBER, Role.REGISSEUR}, {Role.NOMINEE}),
        (Action.VIEW_CONFIDENTIAL_INTERVIEW, {Role.CARE_PROFESSIONAL}, {Role.REGISSEUR, Role.MEMBER}),
    ],
)
def test_principles_of_the_issue(action: Action, may: set[Role], may_not: set[Role]) -> None:
    for role in may:
        require(Actor("x", role), action, owner="x")
    for role in may_not:
        with pytest.raises(NotAllowed):
            require(Actor("x", role), action)


def test_refusal_names_who_may_in_dutch() -> None:
    with pytest.raises(NotAllowed) as refused:
        require(Actor("Patient/p1", Role.REGISSEUR), Action.WRITE_REPORT)
    assert refused.value.user_message == (
        "Dit mag alleen de regieondersteuner of een andere behandelaar van de instelling."
    )
    assert isinstance(refused.value, DomainError)
    assert who_may(Action.HAND_OVER) == "de regieondersteuner"


def test_own_things_only() -> None:
    member = Actor("mother", Role.MEMBER)
    require(member, Action.MARK_OWN_AGREEMENT_DONE, owner="mother")
    with pytest.raises(NotAllowed) as refused:
        require(member, Action.MARK_OWN_AGREEMENT_DONE, owner="friend")
    assert refused.value.user_message == "Dit mag je alleen voor jezelf doen."
    with pytest.raises(NotAllowed):
        require(member, Action.RESPOND_TO_INVITATION, owner="Patient/p1")


def test_take_over_only_without_a_regieondersteuner() -> None:
    g = full_group()
    colleague = actor_in(g, "Practitioner/colleague")
    assert not may_take_over(g, colleague)
    ro = next(m for m in g.members if m.who == CLINICIAN)
    ro.end = TODAY  # left the team (e.g. written by another system)
    assert may_take_over(g, colleague)
    assert not may_take_over(g, actor_in(g, PATIENT))
    member = g.take_over("Practitioner/colleague", "Collega", TODAY)
    g.check_invariants()
    assert role_in(g, "Practitioner/colleague") is Role.REGIEONDERSTEUNER
    assert member.core
    with pytest.raises(DomainError) as refused:
        g.take_over("Practitioner/other", "Ander", TODAY)
    assert "heeft een regieondersteuner" in refused.value.user_message


def test_interview_records_by_visibility() -> None:
    g = full_group()
    mother_interview = g.interviews[0]
    assert mother_interview.visibility is InterviewVisibility.SHARED
    patient, member = actor_in(g, PATIENT), actor_in(g, people(g)["mother"])
    colleague = actor_in(g, "Practitioner/colleague")
    assert may_see_interview(patient, mother_interview)
    assert not may_see_interview(member, mother_interview)
    mother_interview.visibility = InterviewVisibility.PROFESSIONALS
    assert not may_see_interview(patient, mother_interview)
    assert may_see_interview(colleague, mother_interview)
    mother_interview.visibility = None  # not stated: professionals only
    assert not may_see_interview(patient, mother_interview)


def test_redacted_group_for_the_patient_keeps_shared_records_only() -> None:
    g = full_group()
    g.interviews[0].visibility = InterviewVisibility.PROFESSIONALS
    seen = visible_to(g, actor_in(g, PATIENT))
    assert seen.interviews[0].sections == {}
    assert seen.interviews[1].sections == {Section.BIJDRAGE: "Samen sporten."}
    assert g.interviews[0].sections  # the group itself is untouched
    assert visible_to(g, actor_in(g, CLINICIAN)) is g


def test_redacted_group_for_a_member() -> None:
    g = full_group()
    mother = people(g)["mother"]
    friend = next(m.who for m in g.members if m.display == "Karim")
    seen = visible_to(g, actor_in(g, mother))
    assert seen.interviews == []
    assert all(m.is_member for m in seen.members)
    assert "Practitioner/pr2" not in {m.who for m in seen.members}  # a nominee is not listed
    assert all(not s.phone and not s.email for s in seen.supporters)
    assert {a.owner for a in seen.agreements} <= {mother, friend}
    # Goals named on an agenda or in a report are shared with the group; the others are not.
    assert {goal.text for goal in seen.goals} == {"Zelfstandig wonen", "Huurtoeslag aanvragen"}
    assert all(not goal.notes for goal in seen.goals)
    assert all(p.meeting_uid is not None for p in seen.progress)


def test_visibility_is_stored_as_a_confidentiality_label_and_read_back() -> None:
    g = full_group()
    g.interviews[0].visibility = InterviewVisibility.PROFESSIONALS
    written = group_to_fhir(g)
    records = [
        w.resource
        for w in written
        if w.resource["resourceType"] == "Communication" and w.uid in {iv.uid for iv in g.interviews[:2]}
    ]
    labels = [[s["code"] for s in r["meta"]["security"] if s["system"] == CS_V3_CONFIDENTIALITY] for r in records]
    assert sorted(labels) == [["N"], ["R"]]
    resources = []
    for i, w in enumerate(written):
        res = dict(w.resource)
        res.setdefault("id", f"id{i}")
        resources.append(res)
    back, _ = group_from_fhir(resources, PATIENT)
    assert [iv.visibility for iv in back.interviews][:2] == [
        InterviewVisibility.PROFESSIONALS,
        InterviewVisibility.SHARED,
    ]


def test_a_new_record_needs_a_visibility_a_correction_keeps_it() -> None:
    g = full_group()
    coach = next(m for m in g.members if m.who == "Practitioner/pr2")
    with pytest.raises(DomainError) as refused:
        g.record_interview(coach.uid, datetime(2026, 3, 12, 9, 30, tzinfo=AMS), {Section.INZET: "x"})
    assert "wie het verslag" in refused.value.user_message
    mother = g.interviews[0]
    fixed = g.record_interview(mother.member_uid, mother.held_at or datetime.now(AMS), {Section.INZET: "Vaker"})
    assert fixed.visibility is InterviewVisibility.SHARED


def test_roles_doc_shows_the_rights_table() -> None:
    """docs/roles.md has one row per action with a mark per role, equal to RIGHTS."""
    lines = ROLES_DOC.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("| action |"))
    header = lines[at]
    columns = [c.strip() for c in header.strip("|").split("|")][1:]
    roles = [Role(c) for c in columns]
    found: dict[str, set[Role]] = {}
    for line in lines[at:]:
        match = re.match(r"^\| `([a-z_]+)` \|", line)
        if match:
            cells = [c.strip() for c in line.strip("|").split("|")][1:]
            found[match.group(1)] = {role for role, cell in zip(roles, cells, strict=True) if cell == "✓"}
    assert found == {a.value: set(r) for a, r in RIGHTS.items()}
