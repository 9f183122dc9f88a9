"""Fixtures for the SMART client tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import responses
from smart_fakes import CLIENT_ID, ISS, REDIRECT, Clock, FakeEhr

from smart_launch import EhrRegistration, EhrRegistry, MemorySessionStore, SmartClient


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
def registration() -> EhrRegistration:
    return EhrRegistration(name="epd", iss=ISS + "/", client_id=CLIENT_ID)


@pytest.fixture
def store() -> MemorySessionStore:
    return MemorySessionStore()


@pytest.fixture
def client(registration: EhrRegistration, store: MemorySessionStore, clock: Clock) -> SmartClient:
    return SmartClient(
        EhrRegistry([registration]),
        store,
        redirect_uri=REDIRECT,
        http=requests.Session(),
        clock=clock,
    )
