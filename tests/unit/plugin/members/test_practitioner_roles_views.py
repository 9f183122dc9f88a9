"""Nominating a professional by their PractitionerRole, and a user recognised through one (sandbox EHR)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fhir_mappings.codes import EXT_ROLE_PRACTITIONER
from plugin.session_store import SessionStore
from tests.support.ui import LaunchedApp, launched

MOHAMMED = {"patient": "mohammed-el-amrani", "user": "Practitioner/bram-jansen"}


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def team(env: LaunchedApp, patient: str) -> dict[str, Any]:
    teams = [t for t in env.resources("CareTeam") if t["subject"]["reference"] == f"Patient/{patient}"]
    assert len(teams) == 1
    return teams[0]


def launch_as_role(env: LaunchedApp, role: str, practitioner: str | None) -> None:
    """The launch's user is `role`; the launch names the role's practitioner in its fhirContext (or not)."""
    env.act_as(role)
    sessions: SessionStore = env.app.extensions["session_store"]
    context = sessions.get_context(env.context_id)
    assert context is not None
    told = ({"reference": practitioner},) if practitioner else ()
    sessions.save_context(dataclasses.replace(context, fhir_context=told))


def test_a_professional_is_nominated_by_their_role_and_recognised_as_the_practitioner(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        found = text(env.get("/leden/nomineren?zoek=Anna"))
        assert 'value="PractitionerRole/anna-de-vries-ggz"' in found
        assert 'value="Practitioner/anna-de-vries"' not in found  # she has a role: the role is offered

        done = env.post(
            "/leden/nomineren/behandelaar", {"practitioner": "PractitionerRole/anna-de-vries-ggz", "search": "Anna"}
        )
        assert done.status_code == 303, text(done)
        anna = [
            p for p in team(env, "mohammed-el-amrani")["participant"] if p["member"].get("display") == "Anna de Vries"
        ]
        assert len(anna) == 1 and anna[0]["member"]["reference"] == "PractitionerRole/anna-de-vries-ggz"
        assert {"url": EXT_ROLE_PRACTITIONER, "valueReference": {"reference": "Practitioner/anna-de-vries"}} in anna[0][
            "extension"
        ]
        assert "staat al in de groep" in text(env.get("/leden/nomineren?zoek=Anna"))
        unknown = env.post("/leden/nomineren/behandelaar", {"practitioner": "PractitionerRole/nobody"})
        assert unknown.status_code == 422 and "Deze behandelaar staat niet in het EPD." in text(unknown)

        # Anna launching as her Practitioner is the nominee listed by her role, not a colleague of the clinic.
        env.act_as("Practitioner/anna-de-vries")
        as_nominee = env.get("/leden")
        env.act_as("Practitioner/anna-de-vries-colleague")
        as_colleague = env.get("/leden")
        assert as_colleague.status_code == 200
        assert as_nominee.status_code == 403 and "kennismakingsgesprek lid wordt" in text(as_nominee)


def test_bram_jansen_s_two_roles_are_offered_to_choose_from(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Practitioner/anna-de-vries") as env:
        found = text(env.get("/leden/nomineren?zoek=Bram"))
        assert "meer dan één rol" in found
        assert 'value="PractitionerRole/bram-jansen-ggz"' in found
        assert 'value="PractitionerRole/bram-jansen-fact"' in found
        assert "Bram Jansen nomineren als GGZ Demo FACT Breda · FACT · Casemanager" in found


def test_a_user_launching_as_a_role_is_the_member_listed_as_its_practitioner(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Practitioner/lotte-smit") as env:
        cv = next(t for t in env.resources("Task") if t.get("description") == "Cv bijwerken")
        launch_as_role(env, "PractitionerRole/lotte-smit-ips", "Practitioner/lotte-smit")
        page = text(env.get("/afspraken"))
        assert "<h1>Mijn afspraken</h1>" in page and "Cv bijwerken" in page

        # A role whose practitioner is not in the group, or a role the launch does not vouch for: a stranger.
        launch_as_role(env, "PractitionerRole/bram-jansen-ggz", "Practitioner/bram-jansen")
        refused = env.post(f"/afspraken/{cv['identifier'][0]['value']}/klaar")
        assert refused.status_code == 403, text(refused)
        launch_as_role(env, "PractitionerRole/lotte-smit-ips", None)
        assert env.post(f"/afspraken/{cv['identifier'][0]['value']}/klaar").status_code == 403

        launch_as_role(env, "PractitionerRole/lotte-smit-ips", "Practitioner/lotte-smit")
        done = env.post(f"/afspraken/{cv['identifier'][0]['value']}/klaar")
        assert done.status_code == 303, text(done)
        task = next(t for t in env.resources("Task") if t["id"] == cv["id"])
        assert task["status"] == "completed"
