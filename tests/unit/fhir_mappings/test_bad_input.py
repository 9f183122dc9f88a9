"""Bad input gives a clear error: a Dutch message for the user and an English one for the log."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest

from fhir_mappings.errors import CompartmentError, DomainError, MappingError, ResourcegroepError
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.to_fhir import group_to_fhir
from tests.unit.fhir_mappings.factory import AMS, PATIENT, full_group


def resources() -> list[dict[str, Any]]:
    return [w.resource for w in group_to_fhir(full_group())]


def first(res: list[dict[str, Any]], rtype: str) -> dict[str, Any]:
    return next(r for r in res if r["resourceType"] == rtype)


def test_unknown_status_is_an_error_not_a_drop() -> None:
    for rtype, key in [
        ("Goal", "lifecycleStatus"),
        ("Task", "status"),
        ("Appointment", "status"),
        ("CareTeam", "status"),
    ]:
        res = resources()
        first(res, rtype)[key] = "bogus"
        with pytest.raises(MappingError) as err:
            group_from_fhir(res, PATIENT)
        assert "bogus" in err.value.log_message or "bogus" in str(err.value)
        assert err.value.user_message and "bogus" not in err.value.user_message


def test_unknown_product_code_is_an_error() -> None:
    res = resources()
    goal = first(res, "Goal")
    for concept in goal["category"]:
        for coding in concept["coding"]:
            if coding["system"].endswith("/life-area"):
                coding["code"] = "maan"
    with pytest.raises(MappingError, match="maan"):
        group_from_fhir(res, PATIENT)


def test_missing_required_elements() -> None:
    res = resources()
    del first(res, "Goal")["description"]
    with pytest.raises(MappingError, match="description"):
        group_from_fhir(res, PATIENT)
    res = resources()
    del first(res, "CareTeam")["status"]
    with pytest.raises(MappingError, match="status"):
        group_from_fhir(res, PATIENT)
    res = resources()
    del first(res, "Appointment")["start"]
    with pytest.raises(MappingError, match="start"):
        group_from_fhir(res, PATIENT)
    res = [r for r in resources() if r["resourceType"] != "CareTeam"]
    with pytest.raises(MappingError, match="CareTeam"):
        group_from_fhir(res, PATIENT)


def test_no_group_for_patient() -> None:
    with pytest.raises(MappingError) as err:
        group_from_fhir([], PATIENT)
    assert "nog geen resourcegroep" in err.value.user_message


def test_cross_patient_reference_on_read_is_refused() -> None:
    res = resources()
    first(res, "Goal")["subject"] = {"reference": "Patient/p2"}
    with pytest.raises(CompartmentError) as err:
        group_from_fhir(res, PATIENT)
    assert "andere patiënt" in err.value.user_message
    res = resources()
    res.append({"resourceType": "Patient", "id": "p2"})
    with pytest.raises(CompartmentError):
        group_from_fhir(res, PATIENT)
    # an absolute URL to another patient is the same patient reference
    res = resources()
    first(res, "Task")["owner"] = {"reference": "https://other.example/fhir/Patient/p2/_history/3"}
    with pytest.raises(CompartmentError):
        group_from_fhir(res, PATIENT)


def test_related_person_of_another_patient_is_refused() -> None:
    res = resources()
    first(res, "RelatedPerson")["patient"] = {"reference": "Patient/p1"}
    group_from_fhir(res, PATIENT)  # sanity: same patient is fine
    res2 = copy.deepcopy(res)
    rp = first(res2, "RelatedPerson")
    rp["patient"] = {"reference": "Patient/p2"}
    with pytest.raises(CompartmentError):
        group_from_fhir(res2, PATIENT)


def test_cross_patient_reference_on_write_is_refused() -> None:
    g = full_group()
    g.goals[0].notes[0].author = "Patient/p2"
    with pytest.raises(CompartmentError):
        group_to_fhir(g)
    g = full_group()
    g.agreements[0].owner = "RelatedPerson/not-ours"
    with pytest.raises(CompartmentError, match="not a RelatedPerson"):
        group_to_fhir(g)


def test_short_term_goal_pointing_to_short_term_goal_is_refused_on_read() -> None:
    g = full_group()
    short = next(x for x in g.goals if x.parent_uid)
    other_short = next(x for x in g.goals if x.term.value == "kort" and x is not short)
    res = [w.resource for w in group_to_fhir(g)]
    # make the other short-term goal carry the milestone link instead of the long-term one
    long_res = next(r for r in res if r["resourceType"] == "Goal" and r.get("extension"))
    milestone = long_res.pop("extension")
    other = next(r for r in res if r["resourceType"] == "Goal" and r["identifier"][0]["value"] == other_short.uid)
    other["extension"] = milestone
    with pytest.raises(ResourcegroepError) as err:
        group_from_fhir(res, PATIENT)
    assert "lange termijn" in err.value.user_message


def test_goal_with_two_long_term_parents_is_refused() -> None:
    g = full_group()
    res = [w.resource for w in group_to_fhir(g)]
    longs = [
        r
        for r in res
        if r["resourceType"] == "Goal" and any(c["code"] == "lang" for cc in r["category"] for c in cc["coding"])
    ]
    longs[1]["extension"] = copy.deepcopy(longs[0]["extension"])
    with pytest.raises(MappingError, match="milestone of both"):
        group_from_fhir(res, PATIENT)


def test_domain_errors_have_both_languages() -> None:
    g = full_group()
    with pytest.raises(DomainError) as err:
        g.score_progress(g.goals[0].uid, 12, datetime(2026, 1, 1, tzinfo=AMS))
    assert err.value.user_message.startswith("Geef een cijfer")
    assert str(err.value) == err.value.log_message


def test_unreadable_dates_are_clear_errors() -> None:
    res = resources()
    first(res, "Goal")["startDate"] = "gisteren"
    with pytest.raises(MappingError, match="gisteren"):
        group_from_fhir(res, PATIENT)


@pytest.mark.parametrize(
    "typed",
    ["Sanne\x00", "\x1b[31mrood\x1b[0m", "a\x07b", "tekst\x7f"],
    ids=["nul", "terminal-escape", "bell", "delete"],
)
def test_control_characters_are_refused_with_a_dutch_message(typed: str) -> None:
    from fhir_mappings.model import check_text

    with pytest.raises(DomainError) as err:
        check_text(typed, "de naam", "name")
    assert "stuurteken" in err.value.user_message and "control character" in err.value.log_message


@pytest.mark.parametrize("typed", ["\u200b", "\u200b\u200c\u2060", " \ufeff ", "\u00a0\u200d"])
def test_a_text_of_invisible_characters_only_counts_as_empty(typed: str) -> None:
    from fhir_mappings.model import check_text

    with pytest.raises(DomainError) as err:
        check_text(typed, "de naam", "name")
    assert err.value.user_message == "Vul de naam in."
    assert check_text(typed, "de toelichting", "note", required=False) == ""


def test_ordinary_text_is_kept_as_typed() -> None:
    from fhir_mappings.model import check_text

    typed = "Eerste regel\n\tTweede regel met één emoji 🙂 en een zero\u200bwidth space midden in"
    assert check_text(f"  {typed}  ", "de tekst", "text") == typed
    group = full_group()
    with pytest.raises(DomainError):
        group.rename("\u200b\u200b")
