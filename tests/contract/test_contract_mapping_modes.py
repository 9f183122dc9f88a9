"""The KT2 mapping mode on both servers: a Koppeltaal domain's group is saved and found again."""

from __future__ import annotations

import copy
from pathlib import Path

from fhir_mappings.codes import PROFILE_KT2_CARE_TEAM
from fhir_mappings.profiles import MappingMode
from fhir_mappings.query import group_team_params
from plugin.sync.capabilities import CapabilityCache
from tests.contract.conftest import Fhir
from tests.contract.test_contract_repository import TODAY, caps, full_story, new_patient, proxy, repo_for, started
from tests.support.proxy import FaultProxy

__all__ = ["caps", "proxy"]  # fixtures shared with the repository contract


def test_a_kt2_mode_group_is_saved_and_loads_back(
    fhir: Fhir, proxy: FaultProxy, caps: CapabilityCache, tmp_path: Path
) -> None:
    """A Koppeltaal domain's group (KT2 mode: no team category, the patient only as subject, a KT2Task per
    agreement) is found again by the load and reads back as saved."""
    repo = repo_for(fhir, proxy, caps, new_patient(fhir), tmp_path)
    repo.mapping = MappingMode.KT2
    loaded = started(repo)
    story = [*full_story(), ("afspraak zonder eigenaar", lambda g: g.add_agreement("Iemand belt", TODAY, None))]
    for activity, action in story:
        saved = repo.save(loaded, action, activity)
        assert saved.saved, activity
        loaded = repo.load()
    task = fhir.get(f"Task?patient={repo.patient}&_count=50").json()["entry"]
    assert all("owner" in e["resource"] and "basedOn" not in e["resource"] for e in task)
    assert loaded.group is not None
    team = fhir.get(f"CareTeam?subject={repo.patient}").json()["entry"][0]["resource"]
    assert "category" not in team
    assert team["meta"]["profile"] == [PROFILE_KT2_CARE_TEAM]
    assert repo.patient not in [p["member"]["reference"] for p in team["participant"]]
    expected, got = copy.deepcopy(saved.group), copy.deepcopy(loaded.group)
    if fhir.name == "medplum":  # as above: Medplum knows the place by reference and name only
        got.places, expected.places = [], []
    assert got == expected


def test_a_search_by_the_product_identifier_system_finds_teams_of_both_modes(
    fhir: Fhir, proxy: FaultProxy, caps: CapabilityCache, tmp_path: Path
) -> None:
    """The worker and the caseload find every group team, KT2 mode included, by `identifier=<system>|`; a team
    that is not the product's (no identifier of its system) is not found. (Narrowed per patient here: the shared
    servers hold thousands of teams from other tests.)"""
    params = "&".join(f"{k}={v}" for k, v in group_team_params())
    for mode in (MappingMode.NL_CORE, MappingMode.KT2):
        repo = repo_for(fhir, proxy, caps, new_patient(fhir), tmp_path / mode.value)
        repo.mapping = mode
        started(repo)
        fhir.create({"resourceType": "CareTeam", "status": "active", "subject": {"reference": repo.patient}})
        both = fhir.search(f"CareTeam?subject={repo.patient}")
        ours = fhir.search(f"CareTeam?{params}&subject={repo.patient}")
        assert len(both.get("entry", [])) == 2, mode
        [team] = [e["resource"] for e in ours.get("entry", [])]
        assert team["subject"]["reference"] == repo.patient and team.get("identifier"), mode
