"""Choosing Redis by configuration: [redis] url or RESOURCEGROEP_REDIS_URL; the app then keeps its state there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plugin.app import create_app
from plugin.config import config_from_mapping
from plugin.services.submissions import SqliteSubmissionLog
from plugin.stores import outbox_from_config, redacted, stores_from_config
from plugin.stores.redis_backend import RedisCapabilityStore, RedisOutbox, RedisSessionStore, RedisSubmissionLog
from plugin.sync.capabilities import SqliteCapabilityStore
from plugin.sync.outbox import SqliteOutbox
from smart_launch import ConfigurationError, SQLiteSessionStore
from tests.support.servers import free_port


def mapping(**redis: Any) -> dict[str, Any]:
    app = {
        "public_base_url": "http://127.0.0.1:5000",
        "secret_key": "s" * 40,
        "session_cookie_secure": False,
        "session_cookie_samesite": "Lax",
    }
    return {"app": app, "redis": redis} if redis else {"app": app}


def test_the_redis_table_and_its_environment_override(tmp_path: Path) -> None:
    assert config_from_mapping(mapping(), env={}, base_dir=tmp_path).redis_url is None
    config = config_from_mapping(mapping(url="redis://10.0.0.5:6379/2", key_prefix="rg1:"), env={}, base_dir=tmp_path)
    assert (config.redis_url, config.redis_prefix) == ("redis://10.0.0.5:6379/2", "rg1:")
    env = {"RESOURCEGROEP_REDIS_URL": "rediss://app:pw@redis.internal:6380/0"}
    assert config_from_mapping(mapping(), env=env, base_dir=tmp_path).redis_url == env["RESOURCEGROEP_REDIS_URL"]
    with pytest.raises(ConfigurationError, match="redis://, rediss://"):
        config_from_mapping(mapping(url="http://redis:6379"), env={}, base_dir=tmp_path)


def test_without_redis_the_embedded_sqlite_stores_stay_the_default(tmp_path: Path) -> None:
    data = mapping()
    data["app"]["session_db"] = "var/sessions.sqlite3"
    stores = stores_from_config(config_from_mapping(data, env={}, base_dir=tmp_path))
    assert stores.kind == "sqlite"
    assert isinstance(stores.session_store, SQLiteSessionStore) and isinstance(stores.outbox, SqliteOutbox)
    assert isinstance(stores.submissions, SqliteSubmissionLog)
    assert isinstance(stores.capabilities.store, SqliteCapabilityStore)


def test_with_redis_the_app_keeps_sessions_launches_outbox_and_caches_there(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    config = config_from_mapping(mapping(url=redis_url, key_prefix=prefix), env={}, base_dir=tmp_path)
    app = create_app(config)
    assert isinstance(app.extensions["session_store"], RedisSessionStore)
    settings = app.extensions["resourcegroep"]
    assert isinstance(settings["outbox"], RedisOutbox)
    assert isinstance(settings["submissions"], RedisSubmissionLog)
    assert isinstance(settings["capabilities"].store, RedisCapabilityStore)
    assert isinstance(outbox_from_config(config), RedisOutbox)  # what the worker uses
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.json == {
        "status": "ready",
        "checks": {"config": "ok", "session_store": "ok", "outbox": "ok"},
    }
    assert list(tmp_path.rglob("*.sqlite3")) == []  # no SQLite store beside the configuration


def test_an_unreachable_redis_stops_the_start_without_showing_its_password(tmp_path: Path) -> None:
    url = f"redis://app:sup3rsecret@127.0.0.1:{free_port()}/0"  # nothing listens there
    config = config_from_mapping(mapping(url=url), env={}, base_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="cannot be reached") as raised:
        create_app(config)
    assert "sup3rsecret" not in str(raised.value) and "redis://app:***@127.0.0.1" in str(raised.value)
    assert redacted("rediss://:pw@h:1/0") == "rediss://:***@h:1/0" and redacted("redis://h/0") == "redis://h/0"
