"""RedisSubmissionLog: a form submitted twice, to two app instances, is saved once."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from plugin.services.submissions import Recorded, StillRunning
from plugin.stores import redis_backend
from plugin.stores.redis_backend import RedisSubmissionLog, connect

OWNER = "Practitioner/anna|Patient/sanne"


def test_the_second_submit_on_another_instance_gets_the_first_result(redis_url: str, prefix: str) -> None:
    a = RedisSubmissionLog(connect(redis_url), prefix=prefix)
    b = RedisSubmissionLog(connect(redis_url), prefix=prefix)
    assert a.claim(OWNER, "key-1") is None  # a saves
    assert b.done(OWNER, "key-1") is None  # still running
    a.finish(OWNER, "key-1", Recorded("saved", "uid-1"))
    assert b.claim(OWNER, "key-1") == Recorded("saved", "uid-1")
    assert b.done(OWNER, "key-1") == Recorded("saved", "uid-1")
    assert b.claim("Practitioner/other|Patient/sanne", "key-1") is None  # keys are per owner


def test_a_submit_while_the_first_is_saving_waits_for_its_result(redis_url: str, prefix: str) -> None:
    a = RedisSubmissionLog(connect(redis_url), prefix=prefix)
    b = RedisSubmissionLog(connect(redis_url), prefix=prefix, wait_seconds=20)
    assert a.claim(OWNER, "key-2") is None
    got: list[Recorded | None] = []
    waiter = threading.Thread(target=lambda: got.append(b.claim(OWNER, "key-2")))
    waiter.start()
    time.sleep(0.2)
    assert got == []  # still waiting
    a.finish(OWNER, "key-2", Recorded("waiting", None))
    waiter.join(timeout=20)
    assert got == [Recorded("waiting", None)]


def test_a_released_key_can_be_claimed_again_but_a_finished_one_is_kept(rclient: redis.Redis, prefix: str) -> None:
    log = RedisSubmissionLog(rclient, prefix=prefix)
    assert log.claim(OWNER, "key-3") is None
    log.release(OWNER, "key-3")  # the save did not happen: the user corrects the form and sends it again
    assert log.claim(OWNER, "key-3") is None
    log.finish(OWNER, "key-3", Recorded("saved", "u"))
    log.release(OWNER, "key-3")
    assert log.done(OWNER, "key-3") == Recorded("saved", "u")
    [key] = rclient.keys(f"{prefix}submission:*")
    assert 0 < rclient.ttl(key) <= 24 * 3600  # kept a day, like the SQLite log


def test_a_claim_that_stays_running_times_out_then_a_dead_claim_is_taken_over(
    rclient: redis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = RedisSubmissionLog(rclient, prefix=prefix, wait_seconds=0.2)
    assert log.claim(OWNER, "key-4") is None
    with pytest.raises(StillRunning):
        log.claim(OWNER, "key-4")
    monkeypatch.setattr(redis_backend, "STALE_SECONDS", 0.0)  # the first claimer died long ago
    time.sleep(0.01)
    assert log.claim(OWNER, "key-4") is None
