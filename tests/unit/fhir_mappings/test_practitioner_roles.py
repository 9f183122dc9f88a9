"""A professional listed by a PractitionerRole: kept with the role's practitioner, and recognised either way."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fhir_mappings.codes import EXT_ROLE_PRACTITIONER, InterviewVisibility, Section
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.model import ResourceGroup
from fhir_mappings.rights import Action, NotAllowed, Role, actor_in, member_ref, require, role_in
from fhir_mappings.to_fhir import group_to_fhir
from tests.unit.fhir_mappings.factory import AMS, PATIENT, TODAY, full_group

ROLE = "PractitionerRole/lotte-ips"
LOTTE = "Practitioner/lotte"


def with_role_member() -> ResourceGroup:
    """The full group with Lotte nominated by her role, interviewed and admitted (a member)."""
    g = full_group()
    m = g.nominate(ROLE, "Lotte Smit", TODAY, practitioner=LOTTE)
    g.record_interview(
        m.uid,
        datetime(2026, 3, 13, 9, 0, tzinfo=AMS),
        {Section.BIJDRAGE: "Werk."},
        visibility=InterviewVisibility.SHARED,
    )
    g.admit(m.uid, TODAY + timedelta(days=12))
    return g


def test_the_role_s_practitioner_is_written_and_read_back() -> None:
    g = with_role_member()
    team = next(w.resource for w in group_to_fhir(g) if w.resource["resourceType"] == "CareTeam")
    part = next(p for p in team["participant"] if p["member"]["reference"] == ROLE)
    assert {"url": EXT_ROLE_PRACTITIONER, "valueReference": {"reference": LOTTE}} in part["extension"]
    back, _ = group_from_fhir([w.resource for w in group_to_fhir(g)], PATIENT)
    member = next(m for m in back.members if m.who == ROLE)
    assert member.practitioner == LOTTE


def test_a_practitioner_member_carries_no_role_practitioner() -> None:
    g = full_group()
    g.nominate("Practitioner/x", "X", TODAY, practitioner="Practitioner/y")  # ignored: not a role
    assert all(m.practitioner is None for m in g.members)


def test_a_user_launching_as_the_practitioner_is_the_member_listed_by_their_role() -> None:
    g = with_role_member()
    assert role_in(g, LOTTE) is Role.MEMBER
    actor = actor_in(g, LOTTE)
    assert actor.who == ROLE  # own-thing rights compare with the reference the group lists
    require(actor, Action.MARK_OWN_AGREEMENT_DONE, owner=ROLE)


def test_a_user_launching_as_the_role_is_the_member_listed_as_the_practitioner_when_the_launch_says_so() -> None:
    g = full_group()  # "Practitioner/pr2" is a nominee there
    assert role_in(g, "PractitionerRole/pr2-role", "Practitioner/pr2") is Role.NOMINEE
    assert actor_in(g, "PractitionerRole/pr2-role", "Practitioner/pr2").who == "Practitioner/pr2"
    # Without the launch's word, the role is a colleague, not the nominee.
    assert role_in(g, "PractitionerRole/pr2-role") is Role.CARE_PROFESSIONAL


def test_another_role_of_the_same_practitioner_is_the_same_member_when_the_launch_says_so() -> None:
    g = with_role_member()
    assert member_ref(g, "PractitionerRole/lotte-fact", LOTTE) == ROLE
    assert role_in(g, "PractitionerRole/lotte-fact", LOTTE) is Role.MEMBER


def test_a_stranger_role_is_refused_a_member_s_own_thing() -> None:
    g = with_role_member()
    stranger = actor_in(g, "PractitionerRole/stranger", "Practitioner/someone-else")
    assert stranger.role is Role.CARE_PROFESSIONAL and stranger.who == "PractitionerRole/stranger"
    with pytest.raises(NotAllowed):
        require(stranger, Action.MARK_OWN_AGREEMENT_DONE, owner=ROLE)
    # A role claiming a practitioner that is not a Practitioner reference is not trusted either.
    assert role_in(g, "PractitionerRole/stranger", ROLE) is Role.CARE_PROFESSIONAL


def test_a_role_member_s_practitioner_is_taken_from_the_role_when_the_extension_is_missing() -> None:
    g = with_role_member()
    written = [w.resource for w in group_to_fhir(g)]
    team = next(r for r in written if r["resourceType"] == "CareTeam")
    for part in team["participant"]:
        part["extension"] = [e for e in part.get("extension") or [] if e["url"] != EXT_ROLE_PRACTITIONER]
    role = {"resourceType": "PractitionerRole", "id": "lotte-ips", "practitioner": {"reference": LOTTE}}
    back, _ = group_from_fhir([*written, role], PATIENT)
    assert next(m for m in back.members if m.who == ROLE).practitioner == LOTTE
