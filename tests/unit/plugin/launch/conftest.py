"""Fixtures: an app wired to a fake EHR, with a settable clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses
from flask import Flask
from launch_fakes import Clock, FakeEhr, make_app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def ehr(rsps: responses.RequestsMock, clock: Clock) -> FakeEhr:
    return FakeEhr(rsps, clock)


@pytest.fixture
def app(clock: Clock) -> Flask:
    return make_app(clock)
