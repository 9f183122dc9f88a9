"""The group area with the real app and a real FHIR store: context view, start, lifecycle, timeline."""

from __future__ import annotations

import re
from pathlib import Path

from fhir_mappings.codes import CS_ARTIFACT, Artifact
from tests.support.ui import READ_SCOPES, launched


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def test_context_view_shows_the_group_at_a_glance(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        page = env.get("/")
        assert page.status_code == 200, text(page)
        html = text(page)
        assert "Overzicht" in html and "Team Sanne" in html
        assert "Sanne Bakker" in html  # the patient banner (need_patient_banner)
        for heading in (
            "Aandacht nodig",
            "Leden",
            "Volgende bijeenkomst",
            "Doelen",
            "Open afspraken",
            "Laatste verslag",
        ):
            assert heading in html, heading
        assert 'aria-current="page"' in html


def test_forming_group_lists_nominees_that_need_an_interview(tmp_path: Path) -> None:
    with launched(tmp_path, patient="mohammed-el-amrani", user="Practitioner/bram-jansen") as env:
        html = text(env.get("/"))
        assert "kennismakingsgesprek" in html or "gesprek" in html


def test_a_patient_without_a_group_can_start_one(tmp_path: Path) -> None:
    with launched(tmp_path, patient="daan-mulder") as env:
        page = env.get("/")
        assert "Resourcegroep starten" in text(page)
        empty = env.post("/start", {"name": "   "})
        assert empty.status_code == 422 and "Vul dit veld in" in text(empty)
        done = env.post("/start", {"name": "Daans team"})
        assert done.status_code == 303
        after = env.get("/")
        assert "Daans team" in text(after) and "De groep is gestart" in text(after)
        teams = [t for t in env.resources("CareTeam") if t["subject"]["reference"] == "Patient/daan-mulder"]
        assert len(teams) == 1 and teams[0]["name"] == "Daans team"
        roles = {p["member"]["reference"]: p["role"][0]["coding"][0]["code"] for p in teams[0]["participant"]}
        assert roles == {"Patient/daan-mulder": "regisseur", "Practitioner/anna-de-vries": "regieondersteuner"}
        plans = [p for p in env.resources("CarePlan") if p["subject"]["reference"] == "Patient/daan-mulder"]
        assert plans and plans[0]["category"][0]["coding"][0] == {
            "system": CS_ARTIFACT,
            "code": Artifact.PLAN.value,
            "display": plans[0]["category"][0]["coding"][0].get("display"),
        }
        provenances = [
            p
            for p in env.resources("Provenance")
            if any(t["reference"].startswith(f"CareTeam/{teams[0]['id']}") for t in p["target"])
        ]
        assert provenances and provenances[0]["agent"][0]["who"]["reference"] == "Practitioner/anna-de-vries"


def test_ending_asks_to_confirm_and_deletes_nothing(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        before = len(env.resources("Goal"))
        unconfirmed = env.post("/status", {"action": "end"})
        assert unconfirmed.status_code == 422 and "Vink het vakje aan" in text(unconfirmed)
        done = env.post("/status", {"action": "end", "confirm": "y"})
        assert done.status_code == 303
        html = text(env.get("/"))
        assert "beëindigd" in html and "Groep heropenen" in html
        assert len(env.resources("Goal")) == before
        assert env.post("/status", {"action": "reopen"}).status_code == 303
        assert "actief" in text(env.get("/"))


def test_timeline_lists_what_happened(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        html = text(env.get("/tijdlijn"))
        assert "Tijdlijn" in html
        assert len(re.findall(r"<li class=\"event-", html)) >= 5


def test_read_only_launch_shows_why_and_refuses_writes(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", scopes=READ_SCOPES) as env:
        html = text(env.get("/"))
        assert "Alleen bekijken" in html
        assert "Groep beëindigen" not in html
        refused = env.post("/status", {"action": "pause"})
        assert refused.status_code == 403


def test_every_post_needs_the_csrf_token(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        for rule in env.app.url_map.iter_rules():
            if "POST" not in (rule.methods or set()) or "<context_id>" not in rule.rule:
                continue
            path = re.sub(
                r"<(?:[^:>]+:)?([^>]+)>", lambda m: env.context_id if m.group(1) == "context_id" else "x", rule.rule
            )
            response = env.client.post(path, data={"action": "pause"})
            assert response.status_code == 400, f"{rule.rule} accepted a POST without a CSRF token"


def test_english_is_available(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        html = text(env.get("/?lang=en"))
        assert "Overview" in html and "Needs attention" in html and 'lang="en"' in html


def test_a_launch_without_a_patient_shows_the_caseload(tmp_path: Path) -> None:
    user_scopes = (
        "launch",
        "openid",
        "fhirUser",
        "user/CareTeam.rs",
        "user/CarePlan.rs",
        "user/Patient.rs",
        "user/Appointment.rs",
        "user/Task.rs",
    )
    with launched(tmp_path, patient=None, user="Practitioner/anna-de-vries", scopes=user_scopes) as env:
        first = env.get("/")
        assert first.status_code == 303 and first.headers["Location"].endswith("/caseload")
        assert env.get("/leden").status_code in (303, 404)  # no group pages without a patient
        html = text(env.get("/caseload"))
        assert "Mijn resourcegroepen" in html
        assert "Sanne Bakker" in html  # Anna takes part in Sanne's group
        assert "Eva Visser" not in html  # ended groups are hidden by default
        assert "Eva Visser" in text(env.get("/caseload?ended=1"))
    with launched(tmp_path, patient=None, user="Patient/sanne-bakker", scopes=user_scopes) as env:
        refused = env.get("/caseload")
        assert refused.status_code == 403 and "zorgverleners" in text(refused)
