"""Files that hold secrets (sessions with tokens, keys, the outbox): created readable by the owner only."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600


def create_private(path: str | os.PathLike[str]) -> Path:
    """Make sure `path` exists with mode 0600 (made that way, never widened afterwards); its folder is created.

    An existing file with wider rights is narrowed to 0600. SQLite gives its -wal and -shm files the rights of the
    database file, so a database opened after this call stays private as a whole."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_CREAT | os.O_WRONLY, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
    finally:
        os.close(fd)
    return target


def write_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path`, a file readable by the owner only from its first byte."""
    target = create_private(path)
    with target.open("wb") as handle:
        handle.write(data)
