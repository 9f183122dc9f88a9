"""The `mapping` key on `[[ehr]]` and `[[koppeltaal]]`: which profiles the app's data meets there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plugin.config import config_from_mapping
from smart_launch import ConfigurationError

APP = {"public_base_url": "https://app.example.nl", "secret_key": "s" * 40}
EHR = {"name": "epd", "iss": "https://epd.example.nl/fhir", "client_id": "rg"}
DOMAIN = {
    "name": "kt",
    "iss": "https://kt.example.nl/fhir",
    "client_id": "module-1",
    "private_key_file": "keys/kt.pem",
    "domain_jwks_url": "https://kt.example.nl/jwks.json",
}


def _config(tmp_path: Path, ehr: dict[str, Any] | None = None, domain: dict[str, Any] | None = None) -> Any:
    data = {"app": APP, "ehr": [{**EHR, **(ehr or {})}], "koppeltaal": [{**DOMAIN, **(domain or {})}]}
    return config_from_mapping(data, env={}, base_dir=tmp_path)


def _modes(config: Any) -> dict[str, str]:
    return {reg.name: reg.mapping for reg in config.ehrs}


def test_an_ehr_maps_to_nl_core_and_a_koppeltaal_domain_to_kt2_by_default(tmp_path: Path) -> None:
    assert _modes(_config(tmp_path)) == {"epd": "nl-core", "kt": "kt2"}


def test_the_mapping_can_be_chosen_per_ehr_and_per_domain(tmp_path: Path) -> None:
    assert _modes(_config(tmp_path, ehr={"mapping": "kt2"}, domain={"mapping": "nl-core"})) == {
        "epd": "kt2",
        "kt": "nl-core",
    }


@pytest.mark.parametrize("where", ["ehr", "domain"])
def test_an_unknown_mapping_is_refused(tmp_path: Path, where: str) -> None:
    with pytest.raises(ConfigurationError, match="mapping"):
        _config(tmp_path, **{where: {"mapping": "zib2017"}})
