"""A real redis-server for the Redis store tests (started once for this folder, on a free port)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from plugin.stores.redis_backend import connect
from tests.support.redis_server import redis_server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def rclient(redis_url: str) -> Iterator[redis.Redis]:
    client = connect(redis_url)
    yield client
    client.close()


@pytest.fixture
def prefix() -> str:
    """Each test its own key space in the one server."""
    return f"t-{uuid.uuid4().hex[:12]}:"
