"""RedisSessionStore: the same rules as the SQLite store, shared by two app instances (two clients)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import redis

from plugin.stores.redis_backend import RedisSessionStore, connect
from smart_launch import LaunchContext, PendingAuthorization


def pending(state: str = "s1", sid: str = "sid", expires_in: float = 600) -> PendingAuthorization:
    return PendingAuthorization(
        state=state,
        session_id=sid,
        ehr_name="epd",
        iss="https://e/fhir",
        code_verifier="v" * 50,
        nonce="n",
        redirect_uri="https://app/callback",
        requested_scopes=("launch", "openid"),
        launch_kind="ehr",
        created_at=1.0,
        expires_at=time.time() + expires_in,
    )


def context(context_id: str = "c1", sid: str = "sid", ends_in: float = 3600) -> LaunchContext:
    return LaunchContext(
        context_id=context_id,
        session_id=sid,
        ehr_name="epd",
        iss="https://e/fhir",
        client_id="app",
        launch_kind="ehr",
        access_token="at",
        token_type="Bearer",
        expires_at=100.0,
        granted_scopes=("patient/Goal.rs",),
        created_at=1.0,
        ends_at=time.time() + ends_in,
        refresh_token="rt",
        patient="p1",
        fhir_context=({"reference": "CarePlan/1"},),
        fhir_user="Practitioner/pr1",
    )


def two_instances(redis_url: str, prefix: str) -> tuple[RedisSessionStore, RedisSessionStore]:
    return RedisSessionStore(connect(redis_url), prefix=prefix), RedisSessionStore(connect(redis_url), prefix=prefix)


def test_a_pending_authorization_saved_by_one_instance_is_taken_once_by_the_other(redis_url: str, prefix: str) -> None:
    a, b = two_instances(redis_url, prefix)
    saved = pending()
    a.save_pending(saved)
    assert b.has_pending("s1")
    assert b.take_pending("s1", "another-browser") is None  # a stranger presenting the state takes nothing
    assert a.has_pending("s1")
    assert b.take_pending("s1", "sid") == saved
    assert not a.has_pending("s1")
    assert a.take_pending("s1", "sid") is None and a.take_pending("s1") is None


def test_concurrent_takes_from_two_instances_win_once(redis_url: str, prefix: str) -> None:
    stores = [RedisSessionStore(connect(redis_url), prefix=prefix) for _ in range(8)]
    stores[0].save_pending(pending())
    wins: list[PendingAuthorization] = []
    barrier = threading.Barrier(len(stores))

    def take(store: RedisSessionStore) -> None:
        barrier.wait()
        got = store.take_pending("s1", "sid")
        if got is not None:
            wins.append(got)

    threads = [threading.Thread(target=take, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_everything_carries_its_own_expiry(rclient: redis.Redis, prefix: str) -> None:
    store = RedisSessionStore(rclient, prefix=prefix)
    store.save_pending(pending(expires_in=300))
    store.save_context(context(ends_in=7200))
    store.save_session("b1", {"x": 1}, time.time() + 1800)
    assert 290_000 < rclient.pttl(f"{prefix}pending:s1") <= 300_000
    assert 7_190_000 < rclient.pttl(f"{prefix}context:c1") <= 7_200_000
    assert 1_790_000 < rclient.pttl(f"{prefix}session:b1") <= 1_800_000
    # The session's index sets live as long as their longest-lived member.
    assert rclient.pttl(f"{prefix}session-contexts:sid") > 7_190_000
    assert rclient.pttl(f"{prefix}session-pending:sid") > 290_000
    assert store.purge_expired() == 0  # nothing to sweep


def test_an_expired_browser_session_is_gone(rclient: redis.Redis, prefix: str) -> None:
    store = RedisSessionStore(rclient, prefix=prefix)
    store.save_session("b1", {"x": 1}, time.time() - 5)  # already past its end: Redis drops it at once
    store.save_session("b2", {"x": 2}, time.time() + 0.2)
    assert store.load_session("b1") is None
    deadline = time.monotonic() + 10
    while store.load_session("b2") is not None:
        assert time.monotonic() < deadline, "Redis did not expire the session"
        time.sleep(0.05)


def test_context_and_session_round_trip_across_instances(redis_url: str, prefix: str) -> None:
    a, b = two_instances(redis_url, prefix)
    ctx = context()
    a.save_context(ctx)
    assert b.get_context("c1") == ctx
    refreshed = replace(ctx, access_token="at2")
    b.save_context(refreshed)
    assert a.get_context("c1") == refreshed
    a.delete_context("c1")
    assert b.get_context("c1") is None
    a.save_session("b1", {"_created": 1.0, "k": ["v"]}, time.time() + 60)
    assert b.load_session("b1") == {"_created": 1.0, "k": ["v"]}
    b.delete_session("b1")
    assert a.load_session("b1") is None


def test_move_session_takes_contexts_and_pending_along(redis_url: str, prefix: str) -> None:
    a, b = two_instances(redis_url, prefix)
    a.save_pending(pending("s1", "old"))
    a.save_context(context("c1", "old"))
    a.save_context(context("c2", "other"))
    b.move_session("old", "old")  # no change: nothing lost
    assert a.get_context("c1").session_id == "old"  # type: ignore[union-attr]
    b.move_session("old", "new")
    moved = a.get_context("c1")
    assert moved is not None and moved.session_id == "new"
    assert a.get_context("c2").session_id == "other"  # type: ignore[union-attr]
    assert a.take_pending("s1", "old") is None  # the old id is worth nothing now
    taken = b.take_pending("s1", "new")
    assert taken is not None and taken.session_id == "new"
    # Ending the new session takes the moved context with it; the old id has nothing left to end.
    a.save_pending(pending("s2", "new"))
    b.end_session("new")
    assert a.get_context("c1") is None and not a.has_pending("s2")
    assert a.get_context("c2") is not None


def test_end_session_forgets_only_that_sessions_state(rclient: redis.Redis, prefix: str) -> None:
    store = RedisSessionStore(rclient, prefix=prefix)
    store.save_session("sid", {"a": 1}, time.time() + 60)
    store.save_session("sid2", {"a": 2}, time.time() + 60)
    store.save_context(context("c1", "sid"))
    store.save_context(context("c2", "sid2"))
    store.save_pending(pending("s1", "sid"))
    store.save_pending(pending("s2", "sid2"))
    store.end_session("sid")
    assert store.load_session("sid") is None and store.get_context("c1") is None and not store.has_pending("s1")
    assert store.load_session("sid2") == {"a": 2}
    assert store.get_context("c2") is not None and store.has_pending("s2")
    assert rclient.keys(f"{prefix}session-*:sid") == []


def test_moving_a_session_to_its_own_id_keeps_what_ending_it_must_remove(rclient: redis.Redis, prefix: str) -> None:
    store = RedisSessionStore(rclient, prefix=prefix)
    store.save_context(context("c1", "sid"))
    store.move_session("sid", "sid")
    store.end_session("sid")
    assert store.get_context("c1") is None
