"""The demo's PractitionerRoles, and the demo groups in KT2 shape when the sandbox runs in Koppeltaal mode."""

from __future__ import annotations

from datetime import date

from fhir_mappings.codes import PROFILE_KT2_CARE_TEAM, PROFILE_NL_CORE_CARE_TEAM
from sandbox.app import SandboxSettings, create_sandbox
from sandbox.demo_data import PRACTITIONER_ROLES, PRACTITIONERS

TODAY = date(2026, 3, 2)


def _care_teams(koppeltaal: bool) -> list[dict[str, object]]:
    sandbox = create_sandbox(
        SandboxSettings(base_url="http://127.0.0.1:8400", app_base_url="http://127.0.0.1:8401", koppeltaal=koppeltaal)
    )
    try:
        sandbox.seed_demo_data(TODAY)
        assert sandbox.store is not None
        return list(sandbox.store.search("CareTeam", [("_count", "100")]).matches)
    finally:
        assert sandbox.store is not None
        sandbox.store.close()


def test_every_demo_professional_has_a_role_and_one_has_two() -> None:
    behind = [r["practitioner"]["reference"] for r in PRACTITIONER_ROLES]
    assert {f"Practitioner/{p['id']}" for p in PRACTITIONERS} == set(behind)
    assert any(behind.count(b) == 2 for b in behind)


def test_koppeltaal_mode_seeds_the_groups_in_kt2_shape() -> None:
    kt2 = _care_teams(koppeltaal=True)
    assert len(kt2) == 3
    assert all(PROFILE_KT2_CARE_TEAM in t["meta"]["profile"] and "category" not in t for t in kt2)
    assert all(
        not str(p["member"]["reference"]).startswith("Patient/") for t in kt2 for p in t["participant"]
    )  # the patient only as subject
    plain = _care_teams(koppeltaal=False)
    assert all(PROFILE_NL_CORE_CARE_TEAM in t["meta"]["profile"] and "category" in t for t in plain)
