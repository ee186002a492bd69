"""Fixtures shared across the test suite: a real Redis, and the demo shop."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import redis

from tests.badinput.demo_kit import Demo, make_demo
from tests.support.servers import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session, on a free loopback port."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make test installs it)")
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server.url


@pytest.fixture
def demo() -> Iterator[Demo]:
    """The demo shop on a memory store, its clock stopped at the present."""
    found = make_demo()
    try:
        yield found
    finally:
        found.engine.store.close()
