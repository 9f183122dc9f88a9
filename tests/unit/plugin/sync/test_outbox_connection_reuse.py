"""The SQLite outbox keeps one connection per thread: a page view asks it once (waiting and refused saves in
one query) without opening the file; another thread has its own connection and sees what this one committed at
once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from plugin.sync.outbox import SqliteOutbox
from tests.support.ui import launched

PATIENT = "Patient/p1"


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    opened: list[int] = []
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    return opened


def test_a_page_worth_of_outbox_reads_opens_no_new_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
    outbox.pending_for(PATIENT)  # this thread's connection
    opened = _counting(monkeypatch)
    for _ in range(5):
        assert outbox.pending_for(PATIENT) == []
        assert outbox.failed_for(PATIENT) == []
    assert opened == []


def test_each_thread_has_its_own_connection_and_sees_the_others_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
    assert outbox.pending_for(PATIENT) == []
    seen: list[int] = []

    def other() -> None:
        outbox.enqueue(user="u", patient=PATIENT, idempotency_key="k1", bundle={"resourceType": "Bundle"})

    opened = _counting(monkeypatch)
    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    seen.extend(e.id for e in outbox.pending_for(PATIENT))
    assert len(opened) == 1 and opened[0] != threading.get_ident()  # the other thread opened its own
    assert len(seen) == 1  # and this thread's kept connection reads its commit


def test_a_failed_write_leaves_the_kept_connection_usable(tmp_path: Path) -> None:
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
    with pytest.raises(RuntimeError), outbox._connect(write=True) as conn:
        conn.execute("UPDATE outbox SET state = 'x'")
        raise RuntimeError("boom")
    assert not outbox._connection().in_transaction
    outbox.enqueue(user="u", patient=PATIENT, idempotency_key="k2", bundle={"resourceType": "Bundle"})
    assert [e.idempotency_key for e in outbox.pending_for(PATIENT)] == ["k2"]


@pytest.mark.parametrize("path", ["/", "/doelen", "/leden"])
def test_a_page_view_reads_the_outbox_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        assert env.get(path).status_code == 200
        queries: list[str] = []
        real = SqliteOutbox._connect

        def connect(self: SqliteOutbox, **kwargs: Any) -> Any:
            queries.append("outbox")
            return real(self, **kwargs)

        monkeypatch.setattr(SqliteOutbox, "_connect", connect)
        assert env.get(path).status_code == 200
        assert queries == ["outbox"]
