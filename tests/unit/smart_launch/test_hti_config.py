"""`[[koppeltaal]]` tables in the app configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plugin.config import config_from_mapping
from smart_launch import ConfigurationError


def _mapping(**domain: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "name": "ggz domein",
        "iss": "https://kt.example.nl/fhir/",
        "client_id": "module-1",
        "private_key_file": "keys/kt.pem",
        "launcher_jwks": {"portal-1": "https://portal.example.nl/jwks.json"},
    }
    table.update(domain)
    return {
        "app": {"public_base_url": "https://app.example.nl", "secret_key": "s" * 40},
        "koppeltaal": [{k: v for k, v in table.items() if v is not None}],
    }


def test_a_domain_is_read_with_defaults(tmp_path: Path) -> None:
    config = config_from_mapping(_mapping(), env={}, base_dir=tmp_path)
    (domain,) = config.koppeltaal
    assert domain.iss == "https://kt.example.nl/fhir"
    assert domain.device == "Device/module-1"
    assert domain.private_key_file == str(tmp_path / "keys/kt.pem")
    assert domain.backend_scopes == ("system/*.cruds",)
    # Its OIDC registration joins the EPDs (discovery, callback): private_key_jwt with the same key.
    (reg,) = config.ehrs
    assert (reg.name, reg.iss, reg.client_auth, reg.private_key_file) == (
        "ggz domein",
        domain.iss,
        "private_key_jwt",
        domain.private_key_file,
    )


def test_environment_overrides_client_id_and_key(tmp_path: Path) -> None:
    env = {
        "RESOURCEGROEP_KOPPELTAAL_GGZ_DOMEIN_CLIENT_ID": "from-env",
        "RESOURCEGROEP_KOPPELTAAL_GGZ_DOMEIN_PRIVATE_KEY_FILE": "/run/secrets/kt.pem",
    }
    (domain,) = config_from_mapping(_mapping(device="Device/d9"), env=env, base_dir=tmp_path).koppeltaal
    assert (domain.client_id, domain.private_key_file, domain.device) == (
        "from-env",
        "/run/secrets/kt.pem",
        "Device/d9",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"launcher_jwks": None},  # whose keys sign HTI tokens must be known
        {"launcher_jwks": {"p": "not a url"}},
        {"iss": "ftp://kt.example.nl"},
        {"private_key_file": None},
        {"backend_scopes": ["patient/*.rs"]},
        {"alg": "HS256"},
        {"hti_check": "trust"},
        {"hti_check": "introspection", "introspection_endpoint": "not a url"},
    ],
)
def test_unusable_domains_are_refused(change: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        config_from_mapping(_mapping(**change), env={}, base_dir=tmp_path)


def test_a_domain_may_require_introspection(tmp_path: Path) -> None:
    (domain,) = config_from_mapping(
        _mapping(launcher_jwks=None, hti_check="introspection"), env={}, base_dir=tmp_path
    ).koppeltaal
    assert (domain.hti_check, domain.introspection_endpoint) == ("introspection", None)  # from discovery then
    (domain,) = config_from_mapping(
        _mapping(hti_check="introspection", introspection_endpoint="https://auth.kt.example.nl/introspect"),
        env={},
        base_dir=tmp_path,
    ).koppeltaal
    assert domain.introspection_endpoint == "https://auth.kt.example.nl/introspect"
    assert config_from_mapping(_mapping(), env={}, base_dir=tmp_path).koppeltaal[0].hti_check == "jwks"
