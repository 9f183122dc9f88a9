"""Configuration loading (TOML + environment) and the committed translations."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.config import AppConfig, load_config
from smart_launch import ConfigurationError

TOML = """
[app]
public_base_url = "https://resourcegroep.example.org/"
secret_key = "0123456789abcdef0123456789abcdef-long"
frame_ancestors = ["https://epd.example.org"]
session_db = "var/sessions.sqlite3"

[[ehr]]
name = "demo-epd"
title = "Demo EPD"
iss = "https://epd.example.org/fhir"
client_id = "resourcegroep"
client_auth = "client_secret_basic"
client_secret = "from-file"
caseload_user_scopes = true

[[ehr]]
name = "other"
iss = "https://other.example.org/fhir"
client_id = "rg"
client_auth = "private_key_jwt"
private_key_file = "keys/other.pem"
alg = "ES384"
scopes = ["patient/Goal.rs"]

[backend]
iss = "https://epd.example.org/fhir"
client_id = "rg-jobs"
private_key_file = "keys/backend.pem"
scopes = ["system/CareTeam.rs"]
"""


def write(tmp_path: Path, text: str = TOML) -> Path:
    path = tmp_path / "resourcegroep.toml"
    path.write_text(text)
    return path


def test_load_toml(tmp_path: Path) -> None:
    config = load_config(env={"RESOURCEGROEP_CONFIG": str(write(tmp_path))})
    assert config.public_base_url == "https://resourcegroep.example.org"
    assert config.redirect_uri == "https://resourcegroep.example.org/callback"
    assert config.jwks_url == "https://resourcegroep.example.org/.well-known/jwks.json"
    assert config.launch_url == "https://resourcegroep.example.org/launch"
    assert config.frame_ancestors == ("https://epd.example.org",)
    assert config.session_db == str(tmp_path / "var/sessions.sqlite3")
    demo, other = config.ehrs
    assert (demo.name, demo.client_auth, demo.client_secret, demo.caseload_user_scopes) == (
        "demo-epd",
        "client_secret_basic",
        "from-file",
        True,
    )
    assert other.private_key_file == str(tmp_path / "keys/other.pem") and other.alg == "ES384"
    assert other.scopes == ("patient/Goal.rs",)
    assert config.backend is not None and config.backend.scopes == ("system/CareTeam.rs",)
    assert config.session_cookie_secure and config.session_cookie_samesite == "None"


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "RESOURCEGROEP_CONFIG": str(write(tmp_path)),
        "RESOURCEGROEP_PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        "RESOURCEGROEP_SECRET_KEY": "k" * 40,
        "RESOURCEGROEP_SESSION_COOKIE_SECURE": "false",
        "RESOURCEGROEP_SESSION_COOKIE_SAMESITE": "Lax",
        "RESOURCEGROEP_FRAME_ANCESTORS": "'self' https://a.example.org",
        "RESOURCEGROEP_EHR_DEMO_EPD_CLIENT_SECRET": "from-env",
        "RESOURCEGROEP_EHR_DEMO_EPD_CLIENT_ID": "id-from-env",
        "RESOURCEGROEP_EHR_OTHER_PRIVATE_KEY_FILE": "/run/secrets/other.pem",
    }
    config = load_config(env=env)
    assert config.public_base_url == "http://127.0.0.1:8000"
    assert config.secret_key == "k" * 40
    assert not config.session_cookie_secure and config.session_cookie_samesite == "Lax"
    assert config.frame_ancestors == ("'self'", "https://a.example.org")
    assert config.ehrs[0].client_secret == "from-env" and config.ehrs[0].client_id == "id-from-env"
    assert config.ehrs[1].private_key_file == "/run/secrets/other.pem"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('secret_key = "0123456789abcdef0123456789abcdef-long"', 'secret_key = "short"'),
        ('client_auth = "client_secret_basic"', 'client_auth = "magic"'),
        ('alg = "ES384"', 'alg = "HS256"'),
        ('public_base_url = "https://resourcegroep.example.org/"', 'public_base_url = "nope"'),
        ('frame_ancestors = ["https://epd.example.org"]', 'frame_ancestors = ["* ; script-src *"]'),
    ],
)
def test_bad_configuration_is_refused(tmp_path: Path, old: str, new: str) -> None:
    assert old in TOML
    with pytest.raises(ConfigurationError):
        load_config(write(tmp_path, TOML.replace(old, new)), env={})


def test_missing_config_path_is_explained() -> None:
    with pytest.raises(ConfigurationError, match="RESOURCEGROEP_CONFIG"):
        load_config(env={})


def test_samesite_none_needs_secure() -> None:
    with pytest.raises(ConfigurationError):
        AppConfig(public_base_url="http://x", secret_key="k" * 40, session_cookie_secure=False)


# The catalogs themselves are checked in tests/unit/plugin/test_translations.py (every catalog, every text).
