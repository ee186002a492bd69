"""Fixtures for the privacy tests: a real Redis, and stores to inspect afterwards."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import redis

from tests.badinput.demo_kit import Demo, make_demo
from tests.support.servers import RedisServer


@pytest.fixture(scope="session")
def privacy_redis() -> Iterator[RedisServer]:
    """One Redis for the privacy tests, on a free loopback port."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(privacy_redis: RedisServer) -> str:
    """The Redis URL, its database emptied for this test."""
    client = redis.Redis.from_url(privacy_redis.url)
    try:
        client.flushdb()
    finally:
        client.close()
    return privacy_redis.url


@pytest.fixture
def demo_memory() -> Iterator[Demo]:
    """The demo shop on a memory store."""
    found = make_demo()
    try:
        yield found
    finally:
        found.engine.store.close()
