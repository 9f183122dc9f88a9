"""`resourcegroep worker --config` with a [redis] table replays the outbox the app instances share in Redis."""

from __future__ import annotations

from pathlib import Path

from plugin.stores.redis_backend import RedisOutbox
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.worker import _from_config, _parser


def write_config(tmp_path: Path, extra: str) -> Path:
    config = tmp_path / "app.toml"
    config.write_text(
        '[app]\npublic_base_url = "https://rg.example"\nsecret_key = "' + "k" * 40 + '"\n'
        f'session_db = "{tmp_path / "sessions.sqlite3"}"\n' + extra
    )
    return config


def test_the_worker_takes_the_shared_outbox_from_redis(tmp_path: Path, redis_url: str, prefix: str) -> None:
    config = write_config(tmp_path, f'[redis]\nurl = "{redis_url}"\nkey_prefix = "{prefix}"\n')
    args = _parser().parse_args(["--config", str(config), "--once"])
    assert _from_config(args) is None
    assert isinstance(args.stores.outbox, RedisOutbox)


def test_without_redis_or_with_a_file_the_worker_keeps_sqlite(tmp_path: Path, redis_url: str) -> None:
    plain = _parser().parse_args(["--config", str(write_config(tmp_path, "")), "--once"])
    assert _from_config(plain) is None and getattr(plain, "stores", None) is None
    assert plain.outbox == str(tmp_path / "outbox.sqlite3")
    explicit = tmp_path / "elsewhere.sqlite3"
    SqliteOutbox(str(explicit))
    with_file = _parser().parse_args(
        [
            "--config",
            str(write_config(tmp_path, f'[redis]\nurl = "{redis_url}"\n')),
            "--outbox",
            str(explicit),
            "--once",
        ]
    )
    assert _from_config(with_file) is None and getattr(with_file, "stores", None) is None
