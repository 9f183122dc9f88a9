"""Files holding tokens, keys, saves or submissions are readable by their owner only (issue 13), whatever the umask."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin.services.submissions import SqliteSubmissionLog
from plugin.sync.outbox import SqliteOutbox
from smart_launch.files import create_private, write_private
from smart_launch.store import SQLiteSessionStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The loosest umask a server may run with: nothing is masked away."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


def test_create_private_makes_0600_and_narrows_an_existing_wide_file(tmp_path: Path) -> None:
    fresh = create_private(tmp_path / "deeper" / "new.sqlite3")
    assert mode(fresh) == 0o600
    wide = tmp_path / "wide.sqlite3"
    wide.write_bytes(b"x")
    wide.chmod(0o644)
    create_private(wide)
    assert mode(wide) == 0o600 and wide.read_bytes() == b"x"  # narrowed, not emptied


def test_write_private_writes_the_bytes_into_a_0600_file(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "app.pem"
    write_private(key, b"-----BEGIN PRIVATE KEY-----\n")
    assert mode(key) == 0o600 and key.read_bytes().startswith(b"-----BEGIN")


def test_the_session_store_outbox_and_submission_log_are_private_with_their_journals(tmp_path: Path) -> None:
    sessions = SQLiteSessionStore(tmp_path / "sessions.sqlite3")
    sessions.save_session("sid", {"token": "secret"}, time.time() + 60)
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
    log = SqliteSubmissionLog(tmp_path / "submissions.sqlite3")
    try:
        files = sorted(p for p in tmp_path.iterdir() if p.is_file())
        assert {p.name for p in files} >= {"sessions.sqlite3", "outbox.sqlite3", "submissions.sqlite3"}
        assert any(p.name.endswith("-wal") for p in files)  # the journals exist, and are checked too
        assert {p.name: oct(mode(p)) for p in files} == {p.name: oct(0o600) for p in files}
    finally:
        sessions.close()
        del outbox, log
