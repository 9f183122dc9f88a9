"""Finding your way as a care professional: the link to the caseload, rows that link to the patient's record."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from fhir_mappings.codes import IDENTIFIER_SYSTEM
from plugin.config import config_from_mapping
from plugin.sync.caseload import patient_page_url
from smart_launch import ConfigurationError
from tests.support.ui import launched

USER_SCOPES = (
    "launch",
    "openid",
    "fhirUser",
    "user/CareTeam.rs",
    "user/CarePlan.rs",
    "user/Patient.rs",
    "user/Appointment.rs",
    "user/Task.rs",
)


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def test_care_professionals_find_their_caseload_from_the_group_pages(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Practitioner/anna-de-vries") as env:
        for page in ("/", "/tijdlijn"):
            html = text(env.get(page))
            assert re.search(r'<a href="[^"]*/caseload">Mijn resourcegroepen</a>', html), page
    with launched(tmp_path / "p", patient="sanne-bakker", user="Patient/sanne-bakker") as env:
        assert "/caseload" not in text(env.get("/"))


def test_rows_link_to_the_ehr_where_it_can_launch_and_say_so_where_not(tmp_path: Path) -> None:
    with launched(tmp_path, patient=None, user="Practitioner/anna-de-vries", scopes=USER_SCOPES) as env:
        html = text(env.get("/caseload"))
        assert "Mijn resourcegroepen</a>" not in html  # no link to the page you are on
        assert "Open het dossier van deze patiënt in het EPD" in html
        assert 'target="_top"' not in html
        config = env.app.config["RESOURCEGROEP"]
        env.app.config["RESOURCEGROEP"] = replace(config, ehr_patient_url="https://epd.test/patients/{patient_id}/app")
        html = text(env.get("/caseload"))
        assert '<a href="https://epd.test/patients/sanne-bakker/app" target="_top">' in html
        # Rows that need attention come first, and a sentence says how many (not a heading over every row).
        rows = re.findall(r"<tr( class=\"needs-attention\")?>\s*<th scope=\"row\">", html)
        assert rows and rows == sorted(rows, reverse=True)
        needing = sum(1 for r in rows if r)
        said = "1 groep heeft aandacht nodig." if needing == 1 else f"{needing} groepen hebben aandacht nodig."
        assert (said if needing else "Geen groep heeft nu aandacht nodig.") in html, html
        assert "<h2>Aandacht nodig" not in html


def test_patient_page_url_and_its_configuration(tmp_path: Path) -> None:
    assert patient_page_url(None, "Patient/p1") is None
    assert patient_page_url("https://epd.test/p/{patient_id}", "Patient/a b") == "https://epd.test/p/a%20b"
    assert patient_page_url("https://epd.test/p/{patient_id}", "Practitioner/x") is None
    base = {"public_base_url": "https://app.test", "secret_key": "x" * 40}
    config = config_from_mapping({"app": base}, env={}, base_dir=tmp_path)
    assert config.ehr_patient_url is None and config.clinic_name == "GGZ-instelling"
    config = config_from_mapping(
        {"app": {**base, "ehr_patient_url": "https://epd.test/p/{patient_id}"}},
        env={"RESOURCEGROEP_CLINIC_NAME": "GGZ De Linde"},
        base_dir=tmp_path,
    )
    assert config.ehr_patient_url == "https://epd.test/p/{patient_id}" and config.clinic_name == "GGZ De Linde"
    for wrong in ({"ehr_patient_url": "https://epd.test/p/"}, {"ehr_patient_url": "javascript:{patient_id}"}):
        with pytest.raises(ConfigurationError):
            config_from_mapping({"app": {**base, **wrong}}, env={}, base_dir=tmp_path)
    with pytest.raises(ConfigurationError):
        config_from_mapping({"app": {**base, "clinic_name": " "}}, env={}, base_dir=tmp_path)


def test_a_group_that_lists_the_user_by_one_of_their_roles_is_in_their_caseload(tmp_path: Path) -> None:
    """Bram opens the app as Practitioner; a team lists him by his FACT PractitionerRole only (as the member
    picker lets a regieondersteuner choose). The caseload finds that group too."""
    scopes = (*USER_SCOPES, "user/PractitionerRole.rs")
    with launched(tmp_path, patient=None, user="Practitioner/bram-jansen", scopes=scopes) as env:
        teams = requests.get(f"{env.fhir_base}/CareTeam", params={"identifier": f"{IDENTIFIER_SYSTEM}|"}, timeout=10)
        listing = [e["resource"] for e in teams.json()["entry"] if e["resource"]["resourceType"] == "CareTeam"]
        without = [t for t in listing if "bram-jansen" not in json.dumps(t["participant"])]
        assert without, "a demo group without Bram"
        chosen = without[0]
        name = chosen["name"]
        assert name not in text(env.get("/caseload"))
        chosen["participant"].append({"member": {"reference": "PractitionerRole/bram-jansen-fact"}})
        put = requests.put(f"{env.fhir_base}/CareTeam/{chosen['id']}", json=chosen, timeout=10)
        assert put.status_code == 200, put.text
        assert name in text(env.get("/caseload"))


def test_a_nominee_to_decide_on_needs_attention_and_interviews_to_come_are_said_apart(tmp_path: Path) -> None:
    """Bram's forming group (the demo): Youssef had his interview (decide), three interviews are still to come."""
    with launched(tmp_path, patient=None, user="Practitioner/bram-jansen", scopes=USER_SCOPES) as env:
        html = text(env.get("/caseload"))
        row = next(r for r in re.findall(r"<tr[^>]*>.*?</tr>", html, re.S) if "Mohammed" in r)
        assert 'class="needs-attention"' in row
        attention = re.findall(r"<li>([^<]*)</li>", row)
        assert attention == ["Kennismakingsgesprek met Youssef El Amrani: gesprek gevoerd"], row
        to_come = re.findall(r'<li class="muted">Kennismakingsgesprek met ([^<]*) op ([^<]*)</li>', row)
        assert [name for name, _ in to_come] == ["Henk de Boer", "Rachid", "Lotte Smit"], row
        assert ">niets<" not in row
