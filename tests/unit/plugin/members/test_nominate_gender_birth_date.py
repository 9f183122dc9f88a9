"""Nominating someone kept as a RelatedPerson asks gender and date of birth (a Koppeltaal domain requires both;
"unknown" and an empty date are allowed)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fhir_mappings.codes import PROFILE_KT2_CARE_TEAM, PROFILE_KT2_RELATED_PERSON
from tests.support.ui import LaunchedApp, launched

MOHAMMED = {"patient": "mohammed-el-amrani", "user": "Practitioner/bram-jansen"}


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def person(env: LaunchedApp, name: str) -> dict[str, Any]:
    (found,) = [r for r in env.resources("RelatedPerson") if r["name"][0].get("text") == name]
    return found


def test_the_nomination_forms_ask_gender_and_date_of_birth_in_dutch(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        page = text(env.get("/leden/nomineren"))
        for field in ('name="gender"', 'name="birth_date"', 'name="pro_gender"', 'name="pro_birth_date"'):
            assert field in page, field
        assert "Geslacht" in page and "Geboortedatum (niet verplicht)" in page
        assert '<option selected value="unknown">Onbekend</option>' in page


def test_a_circle_nominee_keeps_the_gender_and_date_of_birth_given(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        form = {"name": "Fatima El Amrani", "relationship": "MTH", "gender": "female", "birth_date": "14-05-1961"}
        assert env.post("/leden/nomineren/naaste", form).status_code == 303
        fatima = person(env, "Fatima El Amrani")
        assert (fatima["gender"], fatima["birthDate"]) == ("female", "1961-05-14")


def test_an_outside_professional_keeps_the_gender_given(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        form = {"pro_name": "Dr. P. de Wit", "profession": "62247001", "pro_gender": "male"}
        assert env.post("/leden/nomineren/hulpverlener", form).status_code == 303
        assert person(env, "Dr. P. de Wit")["gender"] == "male"


def test_unknown_gender_and_no_date_of_birth_are_accepted(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        form = {"name": "Tom", "relationship": "FRND", "gender": "unknown", "birth_date": ""}
        assert env.post("/leden/nomineren/naaste", form).status_code == 303
        tom = person(env, "Tom")
        assert tom["gender"] == "unknown" and "birthDate" not in tom


def test_a_date_of_birth_in_the_future_is_refused(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        later = (date.today() + timedelta(days=400)).isoformat()
        wrong = env.post("/leden/nomineren/naaste", {"name": "Tom", "relationship": "FRND", "birth_date": later})
        assert wrong.status_code == 422
        assert "Een geboortedatum kan niet in de toekomst liggen." in text(wrong)


def test_a_gender_outside_the_list_is_refused(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        wrong = env.post("/leden/nomineren/naaste", {"name": "Tom", "relationship": "FRND", "gender": "x"})
        assert wrong.status_code == 422


def test_a_launch_at_a_kt2_ehr_saves_in_kt2_mode_and_reads_the_group_back(tmp_path: Path) -> None:
    with launched(tmp_path, mapping="kt2", **MOHAMMED) as env:
        form = {"name": "Fatima El Amrani", "relationship": "MTH", "gender": "female", "birth_date": ""}
        assert env.post("/leden/nomineren/naaste", form).status_code == 303
        (team,) = [t for t in env.resources("CareTeam") if t["subject"]["reference"] == "Patient/mohammed-el-amrani"]
        assert team["meta"]["profile"] == [PROFILE_KT2_CARE_TEAM]
        assert "category" not in team
        assert person(env, "Fatima El Amrani")["meta"]["profile"] == [PROFILE_KT2_RELATED_PERSON]
        page = text(env.get("/leden"))
        assert "Fatima El Amrani" in page and "Mohammed El Amrani" in page


def test_a_date_of_birth_that_cannot_be_read_gets_an_example_in_the_past(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        wrong = env.post("/leden/nomineren/naaste", {"name": "Tom", "relationship": "FRND", "birth_date": "mei 1961"})
        assert wrong.status_code == 422
        assert "Vul een datum in, bijvoorbeeld 21-03-1990." in text(wrong) and 'value="mei 1961"' in text(wrong)
