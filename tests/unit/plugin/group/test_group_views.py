"""The group area with the real app and a real FHIR store: context view, start, lifecycle, timeline."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from fhir_mappings.codes import CS_ARTIFACT, Artifact
from fhir_mappings.rights import RIGHTS, Action, Role
from tests.support.ui import READ_SCOPES, LaunchedApp, launched


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


def test_forming_group_shows_what_the_interviews_need(tmp_path: Path) -> None:
    with launched(tmp_path, patient="mohammed-el-amrani", user="Practitioner/bram-jansen") as env:
        html = text(env.get("/"))
        attention = html.split('<ul class="attention-list">', 1)[1].split("</ul>", 1)[0]
        # Youssef's interview was held: the regieondersteuner decides; the others' interviews are still to come.
        assert "Youssef El Amrani heeft het kennismakingsgesprek gehad: besluit of deze persoon lid wordt." in attention
        assert "Henk de Boer" not in attention and "Rachid" not in attention
        members = html.split('id="members-h"', 1)[1].split("</section>", 1)[0]
        for nominee in ("Henk de Boer", "Rachid", "Lotte Smit"):
            assert re.search(rf"<strong>{nominee}</strong>.*?gesprek gepland", members, re.S), nominee


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
        assert refused.status_code == 403 and "behandelaars" in text(refused)


# ---------------------------------------------------------------------- who is acting


def snapshot(env: LaunchedApp) -> dict[str, list[tuple[str, str]]]:
    """Every resource in the store with its version, to check that a refused POST wrote nothing."""
    types = ("CareTeam", "CarePlan", "Goal", "Task", "Appointment", "Communication", "Provenance", "RelatedPerson")
    return {t: sorted((r["id"], r["meta"]["versionId"]) for r in env.resources(t)) for t in types}


def related_person(env: LaunchedApp, name: str) -> str:
    found = [r for r in env.resources("RelatedPerson") if r["name"][0].get("text") == name]
    assert len(found) == 1, name
    return f"RelatedPerson/{found[0]['id']}"


def sanne_team(env: LaunchedApp) -> dict[str, Any]:
    return next(t for t in env.resources("CareTeam") if t["subject"]["reference"] == "Patient/sanne-bakker")


def lifecycle_links(html: str) -> list[str]:
    return [t for t in ("Groep pauzeren", "Groep beëindigen", "Doorgaan na de behandeling") if t in html]


def test_the_patient_sees_the_overview_without_what_only_care_professionals_do(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Patient/sanne-bakker") as env:
        page = env.get("/")
        assert page.status_code == 200, text(page)
        html = text(page)
        assert "Team Sanne" in html and "Je volgende bijeenkomst" in html and "Laatste verslag" in html
        assert "Aandacht nodig" not in html  # for care professionals only
        assert lifecycle_links(html) == []
        # The rename link shows exactly when the rights table lets the patient rename the group.
        assert (f'href="/c/{env.context_id}/naam"' in html) is (Role.REGISSEUR in RIGHTS[Action.RENAME_GROUP])
        assert f'href="/c/{env.context_id}/status' not in html
        before = snapshot(env)
        refused = env.post("/status", {"action": "pause"})
        assert refused.status_code == 403
        assert "Dit mag alleen de regieondersteuner of een andere behandelaar van de instelling." in text(refused)
        assert env.get("/status?action=end").status_code == 403
        assert snapshot(env) == before
        assert sanne_team(env)["status"] == "active"


def test_a_member_sees_the_meeting_the_members_their_own_agreements_and_the_report(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Practitioner/lotte-smit") as env:
        page = env.get("/")
        assert page.status_code == 200, text(page)
        html = text(page)
        assert "Volgende bijeenkomst" in html
        members = html.split('id="members-h"', 1)[1].split("</section>", 1)[0]
        for name in ("Sanne Bakker", "Anna de Vries", "Ans Bakker", "Karim Haddou", "Lotte Smit"):
            assert f"<strong>{name}</strong>" in members, name
        assert "regieondersteuner" in members
        assert "Je open afspraken" in html and "Cv bijwerken" in html  # Lotte's own agreement
        assert "Sportschool uitzoeken" not in html  # Karim's
        assert "De huurtoeslag is rond." in html  # the latest report
        assert "Aandacht nodig" not in html
        assert 'id="goals-h"' not in html
        assert lifecycle_links(html) == [] and "Naam opslaan" not in html
        for secret in ("06-12345678", "ans.bakker@example.nl", "06-87654321", "zware tijd", "Samen sporten"):
            assert secret not in html, secret  # no contact details, nothing of interview records
        assert "Tijdlijn" not in html
        assert env.get("/tijdlijn").status_code == 403
        before = snapshot(env)
        assert env.post("/naam", {"name": "Team Lotte"}).status_code == 403
        assert env.post("/status", {"action": "end", "confirm": "y"}).status_code == 403
        assert snapshot(env) == before


def test_a_related_person_member_sees_their_own_agreement(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Patient/sanne-bakker") as env:
        env.act_as(related_person(env, "Karim Haddou"))
        html = text(env.get("/"))
        assert "Je open afspraken" in html and "Sportschool uitzoeken" in html
        assert "Cv bijwerken" not in html and "06-12345678" not in html and "Aandacht nodig" not in html


def test_a_related_person_of_another_group_is_refused(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        env.act_as(related_person(env, "Youssef El Amrani"))  # Mohammed's brother
        page = env.get("/")
        assert page.status_code == 403
        assert "Je hoort niet bij deze resourcegroep." in text(page)
        assert "Team Sanne" not in text(page)
        before = snapshot(env)
        assert env.post("/naam", {"name": "Team Youssef"}).status_code == 403
        assert env.post("/status", {"action": "pause"}).status_code == 403
        assert snapshot(env) == before


def test_a_nominee_sees_the_group_only_after_the_interview(tmp_path: Path) -> None:
    with launched(tmp_path, patient="mohammed-el-amrani", user="Practitioner/lotte-smit") as env:
        page = env.get("/")
        assert page.status_code == 403
        html = text(page)
        assert "U bent genomineerd voor deze resourcegroep. Als u na het kennismakingsgesprek lid wordt" in html
        assert "Team Mohammed" not in html and "Youssef" not in html


def test_a_care_professional_of_another_group_may_do_what_the_rights_say(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Practitioner/bram-jansen") as env:
        html = text(env.get("/"))
        assert "Aandacht nodig" in html and "Groep pauzeren" in html and "Naam opslaan" in html
        assert "Groep overnemen" not in html  # Anna is still the regieondersteuner
        assert env.get("/overnemen").status_code == 403
        assert env.post("/status", {"action": "pause"}).status_code == 303
        assert sanne_team(env)["status"] == "suspended"


def test_the_patient_without_a_group_is_told_who_starts_it(tmp_path: Path) -> None:
    with launched(tmp_path, patient="daan-mulder", user="Patient/daan-mulder") as env:
        page = env.get("/")
        assert page.status_code == 200
        html = text(page)
        assert "Je hebt nog geen resourcegroep. Je behandelaar start de groep, samen met jou." in html
        assert 'name="name"' not in html and "Groep starten" not in html
        refused = env.post("/start", {"name": "Daans team"})
        assert refused.status_code == 403
        assert not [t for t in env.resources("CareTeam") if t["subject"]["reference"] == "Patient/daan-mulder"]


def test_a_double_submit_renames_once(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        provenances = len(env.resources("Provenance"))
        key = "same-form-0001"
        assert env.post("/naam", {"name": "Sannes steungroep", "submission_key": key}).status_code == 303
        again = env.post("/naam", {"name": "Sannes steungroep", "submission_key": key})
        assert again.status_code == 303
        assert "Dit was al opgeslagen. Er is niets dubbel opgeslagen." in text(env.get("/"))
        assert len(env.resources("Provenance")) == provenances + 1
        assert sanne_team(env)["name"] == "Sannes steungroep"


# ---------------------------------------------------------------------- take over


def end_annas_membership(env: LaunchedApp) -> None:
    """Anna left the clinic: her participation ends in the record, without a hand-over."""
    team = sanne_team(env)
    for participant in team["participant"]:
        if participant["member"]["reference"] == "Practitioner/anna-de-vries":
            participant.setdefault("period", {})["end"] = date.today().isoformat()
    env.store.update("CareTeam", team["id"], team)


def test_a_colleague_takes_over_a_group_without_regieondersteuner(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Practitioner/bram-jansen") as env:
        end_annas_membership(env)
        html = text(env.get("/"))
        assert "Deze groep heeft geen regieondersteuner." in html
        assert f'href="/c/{env.context_id}/overnemen"' in html
        form = env.get("/overnemen")
        assert form.status_code == 200 and "Waarom neemt u de groep over?" in text(form)
        empty = env.post("/overnemen", {"reason": "  "})
        assert empty.status_code == 422 and "Vul dit veld in" in text(empty)
        reason = "Anna werkt niet meer bij de instelling; ik neem de groep over tot er een vaste opvolger is."
        done = env.post("/overnemen", {"reason": reason})
        assert done.status_code == 303, text(done)
        roles = {
            p["member"]["reference"]: p["role"][0]["coding"][0]["code"]
            for p in sanne_team(env)["participant"]
            if "end" not in p.get("period", {})
        }
        assert roles["Practitioner/bram-jansen"] == "regieondersteuner"
        taken = [p for p in env.resources("Provenance") if p.get("reason") and p["reason"][0].get("text") == reason]
        assert len(taken) == 1
        assert taken[0]["agent"][0]["who"]["reference"] == "Practitioner/bram-jansen"
        after = text(env.get("/"))
        assert "U bent nu de regieondersteuner van deze groep." in after
        assert "Deze groep heeft geen regieondersteuner." not in after
        before = snapshot(env)
        assert env.post("/overnemen", {"reason": "Nog een keer."}).status_code == 403  # now he is regieondersteuner
        assert snapshot(env) == before


def test_only_a_colleague_may_take_over(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Patient/sanne-bakker") as env:
        end_annas_membership(env)
        html = text(env.get("/"))
        assert "Groep overnemen" not in html
        before = snapshot(env)
        refused = env.post("/overnemen", {"reason": "Ik kies zelf."})
        assert refused.status_code == 403
        assert "Dit mag alleen een andere behandelaar van de instelling." in text(refused)
        assert snapshot(env) == before
