"""Session stores: single-use pending authorizations, contexts, browser sessions, expiry, threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smart_launch import LaunchContext, MemorySessionStore, PendingAuthorization, SessionStore, SQLiteSessionStore


@pytest.fixture(params=["memory", "sqlite"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    if request.param == "memory":
        yield MemorySessionStore()
    else:
        store = SQLiteSessionStore(tmp_path / "sessions.sqlite3")
        yield store
        store.close()


def pending(state: str = "s1", expires_at: float = 2e9) -> PendingAuthorization:
    return PendingAuthorization(
        state=state,
        session_id="sid",
        ehr_name="epd",
        iss="https://e/fhir",
        code_verifier="v" * 50,
        nonce="n",
        redirect_uri="https://app/callback",
        requested_scopes=("launch", "openid"),
        launch_kind="ehr",
        created_at=1.0,
        expires_at=expires_at,
    )


def context(context_id: str = "c1", ends_at: float = 2e9) -> LaunchContext:
    return LaunchContext(
        context_id=context_id,
        session_id="sid",
        ehr_name="epd",
        iss="https://e/fhir",
        client_id="app",
        launch_kind="ehr",
        access_token="at",
        token_type="Bearer",
        expires_at=100.0,
        granted_scopes=("patient/Goal.rs",),
        created_at=1.0,
        ends_at=ends_at,
        refresh_token="rt",
        patient="p1",
        fhir_context=({"reference": "CarePlan/1"},),
        fhir_user="Practitioner/pr1",
    )


def test_pending_is_single_use(any_store: SessionStore) -> None:
    any_store.save_pending(pending())
    assert any_store.take_pending("s1") == pending()
    assert any_store.take_pending("s1") is None


def test_pending_is_taken_only_by_the_session_that_started_it(any_store: SessionStore) -> None:
    any_store.save_pending(pending())
    assert any_store.take_pending("s1", "another-browser") is None
    assert any_store.has_pending("s1")  # still there for its own browser
    assert any_store.take_pending("s1", "sid") == pending()
    assert not any_store.has_pending("s1") and any_store.take_pending("s1", "sid") is None


def test_context_round_trip(any_store: SessionStore) -> None:
    any_store.save_context(context())
    assert any_store.get_context("c1") == context()
    any_store.delete_context("c1")
    assert any_store.get_context("c1") is None


def test_browser_session_round_trip(any_store: SessionStore) -> None:
    any_store.save_session("sid", {"lang": "en", "n": 1}, time.time() + 60)
    assert any_store.load_session("sid") == {"lang": "en", "n": 1}
    any_store.save_session("old", {"x": 1}, time.time() - 1)
    assert any_store.load_session("old") is None
    any_store.delete_session("sid")
    assert any_store.load_session("sid") is None


def test_purge_expired(any_store: SessionStore) -> None:
    any_store.save_pending(pending("old", expires_at=10.0))
    any_store.save_pending(pending("new", expires_at=1000.0))
    any_store.save_context(context("c-old", ends_at=10.0))
    any_store.save_context(context("c-new", ends_at=1000.0))
    assert any_store.purge_expired(now=500.0) == 2
    assert any_store.take_pending("old") is None and any_store.take_pending("new") is not None
    assert any_store.get_context("c-old") is None and any_store.get_context("c-new") is not None


def test_concurrent_take_pending_wins_once(any_store: SessionStore) -> None:
    any_store.save_pending(pending("race"))
    winners: list[PendingAuthorization] = []
    barrier = threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        got = any_store.take_pending("race")
        if got is not None:
            winners.append(got)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_sqlite_store_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    first = SQLiteSessionStore(path)
    first.save_context(context())
    first.close()
    second = SQLiteSessionStore(path)
    assert second.get_context("c1") == context()
    second.close()
