"""[audit] configuration: defaults, the TOML table, environment overrides, refusals, and the local log's place."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from plugin.app import create_app
from plugin.audit.trail import AuditTrail
from plugin.config import AuditSettings, config_from_mapping
from smart_launch import ConfigurationError

APP = {"public_base_url": "https://rg.example", "secret_key": "k" * 40}


def test_defaults_send_to_the_fhir_server_when_it_takes_them_and_keep_a_local_log_beside_the_outbox(
    tmp_path: Path,
) -> None:
    config = config_from_mapping({"app": {**APP, "outbox_db": "data/outbox.sqlite3"}}, env={}, base_dir=tmp_path)
    assert config.audit == AuditSettings()
    assert (config.audit.sink, config.audit.flush_interval, config.audit.batch_size) == ("auto", 2.0, 50)
    app = create_app(config)
    trail: AuditTrail = app.extensions["audit"]
    assert trail.log.path == tmp_path / "data" / "audit" / "audit.jsonl"
    assert stat.S_IMODE(trail.log.path.stat().st_mode) == 0o600  # created, private, at start
    trail.close()


def test_the_table_and_the_environment_set_every_key(tmp_path: Path) -> None:
    table = {"sink": "file", "log_file": "logs/a.jsonl", "max_bytes": 4096, "backups": 3, "batch_size": 7}
    config = config_from_mapping({"app": APP, "audit": table}, env={}, base_dir=tmp_path)
    assert config.audit == AuditSettings("file", str(tmp_path / "logs" / "a.jsonl"), 4096, 3, 2.0, 7)
    env = {"RESOURCEGROEP_AUDIT_SINK": "auto", "RESOURCEGROEP_AUDIT_FLUSH_INTERVAL": "0.5"}
    overridden = config_from_mapping({"app": APP, "audit": table}, env=env, base_dir=tmp_path)
    assert (overridden.audit.sink, overridden.audit.flush_interval) == ("auto", 0.5)


@pytest.mark.parametrize(
    "table",
    [{"sink": "syslog"}, {"max_bytes": 10}, {"backups": 0}, {"batch_size": "many"}, {"flush_interval": 0}],
)
def test_a_bad_audit_table_stops_the_start_with_a_clear_message(table: dict[str, object], tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"\[audit\]"):
        config_from_mapping({"app": APP, "audit": table}, env={}, base_dir=tmp_path)


def test_an_unwritable_audit_log_stops_the_start(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "audit.jsonl").mkdir()  # a folder where the file should be: cannot be opened for appending
    config = config_from_mapping(
        {"app": {**APP, "outbox_db": str(tmp_path / "o.sqlite3")}, "audit": {"log_file": str(locked / "audit.jsonl")}},
        env={},
        base_dir=tmp_path,
    )
    with pytest.raises(ConfigurationError, match="audit log cannot be written"):
        create_app(config)
