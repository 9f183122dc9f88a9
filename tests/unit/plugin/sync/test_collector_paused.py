"""The cyclic garbage collector rests while a load's answer is parsed and read into the domain, and runs again
afterwards: counted over threads, and never switched on when it was off before."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from plugin.sync import repository
from plugin.sync.repository import collector_paused
from tests.unit.fhir_mappings.factory import full_group
from tests.unit.plugin.sync.test_requests_per_view import PATIENT_RESOURCE, batch_answer
from tests.unit.plugin.sync.test_sync_repository import BASE, make_repo, served


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_rests_inside_and_runs_again_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # a load inside a load (the same thread)
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_it_runs_again_only_after_the_last_of_several_threads() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with collector_paused():
            second_in.set()
            first_out.wait(5)
            seen.append(gc.isenabled())  # the first thread is done; this one still reads

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == [False] and gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_it_runs_again_after_a_read_that_failed() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("unreadable")
    assert gc.isenabled()


def test_a_load_reads_its_answer_with_the_collector_resting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    group = full_group()
    _, answer = batch_answer(served(group), PATIENT_RESOURCE)
    during: list[bool] = []
    real = repository.group_from_fhir

    def spy(*args: Any, **kwargs: Any) -> Any:
        during.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(repository, "group_from_fhir", spy)
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, BASE, callback=answer)
        loaded = make_repo(tmp_path, batch=True).load()
    assert loaded.group == group and during == [False] and gc.isenabled()
