"""The two mapping modes (fhir_mappings/profiles.py): nl-core profile claims by default, KT2 profiles for a
Koppeltaal domain. One rule per test; the round trips show both modes read back what they wrote."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhir_mappings.codes import (
    CS_ARTIFACT,
    CS_COD472,
    CS_SNOMED,
    EXT_AGREEMENT_GOAL,
    EXT_DATA_ABSENT_REASON,
    EXT_DUE_DATE,
    EXT_MEMBER_PERIOD,
    EXT_NOTE,
    EXT_PATIENT_PARTICIPATION,
    PROFILE_KT2_CARE_TEAM,
    PROFILE_KT2_RELATED_PERSON,
    PROFILE_KT2_TASK,
    PROFILE_NL_CORE_CARE_TEAM,
    PROFILE_NL_CORE_CONTACT_PERSON,
    PROFILE_NL_CORE_TREATMENT_OBJECTIVE,
)
from fhir_mappings.fhirjson import Json
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.model import Note, ResourceGroup
from fhir_mappings.profiles import MappingMode
from fhir_mappings.query import group_searches_by_patient
from fhir_mappings.to_fhir import group_to_fhir
from tests.unit.fhir_mappings.factory import AMS, CLINICIAN, PATIENT, TODAY, full_group

NL_CORE = MappingMode.NL_CORE
KT2 = MappingMode.KT2


def demo_like_group() -> ResourceGroup:
    """The full group, with what the nomination form now asks and what KT2 mode moves elsewhere: a supporter
    with gender and birth date, a goal with three notes, an agreement with notes and one without owner."""
    g = full_group()
    ans = next(s for s in g.supporters if s.name == "Ans de Vries")
    ans.gender, ans.birth_date = "female", date(1961, 5, 14)
    karim = next(s for s in g.supporters if s.name == "Karim")
    karim.gender = "unknown"
    goal = g.goals[0]
    for day in (21, 22):
        g.add_goal_note(goal.uid, f"Notitie {day} maart.", datetime(2026, 3, day, 10, 0, tzinfo=AMS), CLINICIAN)
    assert len(goal.notes) == 3
    g.agreements[0].notes.append(Note(datetime(2026, 3, 30, 9, 0, tzinfo=AMS), "Formulier gevonden.", CLINICIAN))
    g.add_agreement("Iemand belt de woningcorporatie", TODAY, None, goal.uid, TODAY + timedelta(days=20))
    return g


def written(group: ResourceGroup, mode: MappingMode) -> list[Json]:
    return [w.resource for w in group_to_fhir(group, mode=mode)]


def one(resources: list[Json], rtype: str) -> Json:
    return next(r for r in resources if r["resourceType"] == rtype)


def every(resources: list[Json], rtype: str) -> list[Json]:
    return [r for r in resources if r["resourceType"] == rtype]


def profiles(resource: Json) -> list[str]:
    return list((resource.get("meta") or {}).get("profile") or [])


def read_back(resources: list[Json]) -> ResourceGroup:
    return group_from_fhir(resources, PATIENT)[0]


def kt2_team() -> Json:
    return one(written(demo_like_group(), KT2), "CareTeam")


# --------------------------------------------------------------------------- nl-core (the default)


def test_the_default_mode_is_nl_core() -> None:
    g = demo_like_group()
    assert [w.resource for w in group_to_fhir(g)] == written(g, NL_CORE)


def test_nl_core_care_team_claims_nl_core_care_team() -> None:
    assert profiles(one(written(demo_like_group(), NL_CORE), "CareTeam")) == [PROFILE_NL_CORE_CARE_TEAM]


def test_nl_core_related_person_claims_nl_core_contact_person() -> None:
    for person in every(written(demo_like_group(), NL_CORE), "RelatedPerson"):
        assert profiles(person) == [PROFILE_NL_CORE_CONTACT_PERSON]


def test_every_goal_claims_nl_core_treatment_objective_in_both_modes() -> None:
    for mode in MappingMode:
        for goal in every(written(demo_like_group(), mode), "Goal"):
            assert profiles(goal) == [PROFILE_NL_CORE_TREATMENT_OBJECTIVE]


def test_a_profile_another_system_claimed_stays_next_to_ours() -> None:
    g = demo_like_group()
    team = one(written(g, NL_CORE), "CareTeam")
    theirs = "http://example.org/fhir/StructureDefinition/their-team"
    g.source = {**team, "id": "t1", "meta": {"profile": [theirs], "versionId": "3"}}
    again = one(written(g, NL_CORE), "CareTeam")
    assert profiles(again) == [theirs, PROFILE_NL_CORE_CARE_TEAM]


def test_switching_mode_replaces_the_other_modes_claim() -> None:
    g = demo_like_group()
    g.source = {**one(written(g, KT2), "CareTeam"), "id": "t1"}
    assert profiles(one(written(g, NL_CORE), "CareTeam")) == [PROFILE_NL_CORE_CARE_TEAM]


def test_a_goal_has_at_most_one_note_the_newest() -> None:
    goal = every(written(demo_like_group(), NL_CORE), "Goal")[0]
    assert [n["text"] for n in goal["note"]] == ["Notitie 22 maart."]


def test_a_goals_earlier_notes_are_kept_in_order_in_our_note_extension() -> None:
    goal = every(written(demo_like_group(), NL_CORE), "Goal")[0]
    earlier = [e["valueAnnotation"]["text"] for e in goal["extension"] if e["url"] == EXT_NOTE]
    assert earlier == ["Kijkt naar woningen in Breda.", "Notitie 21 maart."]


def test_old_data_with_several_goal_notes_still_reads_every_note() -> None:
    resources = written(demo_like_group(), NL_CORE)
    goal = every(resources, "Goal")[0]
    old = [e["valueAnnotation"] for e in goal["extension"] if e["url"] == EXT_NOTE] + goal["note"]
    goal["extension"] = [e for e in goal["extension"] if e["url"] != EXT_NOTE]
    goal["note"] = old
    back = read_back(resources)
    assert [n.text for n in back.goals[0].notes] == [
        "Kijkt naar woningen in Breda.",
        "Notitie 21 maart.",
        "Notitie 22 maart.",
    ]


def test_a_professional_given_as_practitioner_role_is_kept_and_read_back() -> None:
    g = demo_like_group()
    g.nominate("PractitionerRole/role7", "Mirjam (POH-GGZ)", TODAY)
    resources = written(g, NL_CORE)
    team = one(resources, "CareTeam")
    assert "PractitionerRole/role7" in [p["member"]["reference"] for p in team["participant"]]
    back = read_back(resources)
    assert any(m.who == "PractitionerRole/role7" for m in back.members)


def test_nl_core_keeps_the_patient_as_participant_and_the_category() -> None:
    team = one(written(demo_like_group(), NL_CORE), "CareTeam")
    assert PATIENT in [p["member"]["reference"] for p in team["participant"]]
    assert any(c.get("system") == CS_ARTIFACT for cc in team["category"] for c in cc["coding"])


def test_a_supporters_gender_and_birth_date_are_written_when_known() -> None:
    ans = next(r for r in every(written(demo_like_group(), NL_CORE), "RelatedPerson") if "ans" in str(r))
    assert (ans["gender"], ans["birthDate"]) == ("female", "1961-05-14")


# --------------------------------------------------------------------------- KT2


def test_kt2_care_team_claims_kt2_care_team() -> None:
    assert profiles(kt2_team()) == [PROFILE_KT2_CARE_TEAM]


def test_kt2_care_team_has_no_category() -> None:
    assert "category" not in kt2_team()


def test_kt2_care_team_has_the_patient_only_as_subject() -> None:
    team = kt2_team()
    assert team["subject"]["reference"] == PATIENT
    assert PATIENT not in [p["member"]["reference"] for p in team["participant"]]


def test_kt2_keeps_the_patients_participation_in_our_extension() -> None:
    team = kt2_team()
    assert [e["url"] for e in team["extension"]].count(EXT_PATIENT_PARTICIPATION) == 1


def test_kt2_participants_have_no_period() -> None:
    assert not [p for p in kt2_team()["participant"] if "period" in p]


def test_kt2_keeps_members_dates_in_our_member_period_extension() -> None:
    starts = [
        e["valuePeriod"].get("start")
        for p in kt2_team()["participant"]
        for e in p.get("extension") or []
        if e["url"] == EXT_MEMBER_PERIOD
    ]
    assert TODAY.isoformat() in starts


def _snomed_roles(participant: Json) -> list[str]:
    return [c["code"] for cc in participant.get("role") or [] for c in cc["coding"] if c["system"] == CS_SNOMED]


def test_kt2_gives_a_supporter_the_koppeltaal_informal_carer_role() -> None:
    team = kt2_team()
    supporters = [p for p in team["participant"] if p["member"]["reference"].startswith("urn:uuid:")]
    assert supporters and all(_snomed_roles(p) == ["407542009"] for p in supporters)


def test_kt2_gives_the_regieondersteuner_the_care_team_coordinator_role() -> None:
    team = kt2_team()
    coordinator = next(p for p in team["participant"] if p["member"]["reference"] == CLINICIAN)
    assert _snomed_roles(coordinator) == ["768821004"]


def test_kt2_gives_another_professional_only_our_roles() -> None:
    coach = next(p for p in kt2_team()["participant"] if p["member"]["reference"] == "Practitioner/pr2")
    assert _snomed_roles(coach) == []


def test_kt2_related_person_claims_kt2_related_person() -> None:
    for person in every(written(demo_like_group(), KT2), "RelatedPerson"):
        assert profiles(person) == [PROFILE_KT2_RELATED_PERSON]


def test_kt2_related_person_always_has_gender_and_birth_date() -> None:
    g = demo_like_group()
    for s in g.supporters:
        s.gender, s.birth_date = "", None
    for person in every(written(g, KT2), "RelatedPerson"):
        assert person["gender"] == "unknown"
        assert person["_birthDate"]["extension"] == [{"url": EXT_DATA_ABSENT_REASON, "valueCode": "unknown"}]


def test_kt2_task_claims_kt2_task() -> None:
    for task in every(written(demo_like_group(), KT2), "Task"):
        assert profiles(task) == [PROFILE_KT2_TASK]


def test_kt2_task_has_none_of_the_elements_kt2_task_forbids() -> None:
    for task in every(written(demo_like_group(), KT2), "Task"):
        assert not {"basedOn", "focus", "restriction", "note", "input", "output"} & task.keys()


def test_kt2_task_always_has_an_owner_the_team_when_nobody_owns_it() -> None:
    g = demo_like_group()
    tasks = every(written(g, KT2), "Task")
    ownerless = next(t for t in tasks if t["description"] == "Iemand belt de woningcorporatie")
    assert all("owner" in t for t in tasks)
    assert ownerless["owner"]["reference"] == f"urn:uuid:{g.uid}"


def test_kt2_task_priority_is_routine() -> None:
    assert {t["priority"] for t in every(written(demo_like_group(), KT2), "Task")} == {"routine"}


def test_kt2_task_keeps_goal_due_date_and_notes_in_our_extensions() -> None:
    task = next(t for t in every(written(demo_like_group(), KT2), "Task") if "note" not in t and "extension" in t)
    urls = [e["url"] for e in task["extension"]]
    assert {EXT_AGREEMENT_GOAL, EXT_DUE_DATE, EXT_NOTE} <= set(urls)


def test_the_per_patient_team_search_does_not_need_a_category() -> None:
    care_team = next(params for rtype, params in group_searches_by_patient("p1") if rtype == "CareTeam")
    assert [name for name, _ in care_team] == ["subject", "_count"]


# --------------------------------------------------------------------------- both modes: read what was written


@pytest.mark.parametrize("mode", list(MappingMode))
def test_a_demo_like_group_round_trips_in_each_mode(mode: MappingMode) -> None:
    g = demo_like_group()
    assert read_back(written(g, mode)) == g


@pytest.mark.parametrize("mode", list(MappingMode))
def test_rewriting_what_was_read_changes_nothing_in_each_mode(mode: MappingMode) -> None:
    first = group_to_fhir(demo_like_group(), mode=mode)
    back, index = group_from_fhir([w.resource for w in first], PATIENT)
    assert [w.resource for w in group_to_fhir(back, index, mode=mode)] == [w.resource for w in first]


def test_a_group_written_in_nl_core_and_then_in_kt2_reads_back_the_same() -> None:
    g = demo_like_group()
    back, index = group_from_fhir(written(g, NL_CORE), PATIENT)
    again = [w.resource for w in group_to_fhir(back, index, mode=KT2)]
    assert PATIENT not in [p["member"]["reference"] for p in one(again, "CareTeam")["participant"]]
    assert read_back(again) == g


def _relationship_codes(person: Json) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for cc in person["relationship"] for c in cc["coding"]]


def test_kt2_adds_the_zib_role_to_a_relationship_outside_the_zib_value_sets() -> None:
    karim = next(r for r in every(written(demo_like_group(), KT2), "RelatedPerson") if "Karim" in str(r))
    assert _relationship_codes(karim) == [
        ("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "FRND"),
        (CS_COD472, "20"),
    ]


def test_kt2_leaves_a_zib_family_relationship_as_it_is() -> None:
    ans = next(r for r in every(written(demo_like_group(), KT2), "RelatedPerson") if "Ans" in str(r))
    assert _relationship_codes(ans) == [("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "MTH")]


def test_nl_core_writes_no_zib_role_next_to_a_friend() -> None:
    karim = next(r for r in every(written(demo_like_group(), NL_CORE), "RelatedPerson") if "Karim" in str(r))
    assert [code for _, code in _relationship_codes(karim)] == ["FRND"]


@pytest.mark.parametrize("mode", list(MappingMode))
def test_every_resource_each_mode_writes_is_valid_fhir(mode: MappingMode) -> None:
    g = demo_like_group()
    g.supporters[0].birth_date = None  # a birth date absent for a reason (KT2) is valid JSON too
    for resource in written(g, mode):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_a_group_written_in_kt2_and_then_in_nl_core_reads_back_the_same() -> None:
    g = demo_like_group()
    back, index = group_from_fhir(written(g, KT2), PATIENT)
    again = [w.resource for w in group_to_fhir(back, index, mode=NL_CORE)]
    assert not [t for t in every(again, "Task") if any(e["url"] == EXT_NOTE for e in t.get("extension") or [])]
    assert read_back(again) == g
