"""Fixtures for the store tests: a fake clock, a real Redis, and every backend.

``backend`` is the contract suite's parametrized fixture: a new backend is one
more parameter here, and every contract test runs against it. The ``buffered-*``
backends wrap a store in :class:`~personalize.store.BufferedStore`, which must
keep the contract while its inner store answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from personalize.store import BufferedStore, Store, make_store


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class Backend:
    """One backend under test, with what the contract needs around it.

    :param twin: opens another store on the same backing data (the same file,
        the same Redis); for memory, whose backing is the instance, the store itself.
    :param advance: lets ``seconds`` pass for the store: the fake clock moves,
        and for Redis, whose claims expire on the server's clock, time really passes.
    """

    name: str
    store: Store
    clock: FakeClock
    twin: Callable[[], Store]
    advance: Callable[[float], None]
    opened: list[Store] = field(default_factory=list)


def _open_backend(name: str, clock: FakeClock, request: pytest.FixtureRequest) -> Backend:
    if name == "buffered-memory":
        store = BufferedStore(make_store("memory://", clock=clock))
        return Backend(name, store, clock, lambda: store, clock.advance)
    if name == "memory":
        store = make_store("memory://", clock=clock)
        return Backend(name, store, clock, lambda: store, clock.advance)
    if name == "sqlite":
        tmp_path: Path = request.getfixturevalue("tmp_path")
        url = f"sqlite:///{tmp_path / 'store.db'}"  # tmp_path is absolute: four slashes
        opened: list[Store] = []

        def twin() -> Store:
            opened.append(make_store(url, clock=clock))
            return opened[-1]

        backend = Backend(name, make_store(url, clock=clock), clock, twin, clock.advance, opened)
        return backend
    url = request.getfixturevalue("redis_url")
    opened = []
    buffered = name == "buffered-redis"  # what make_store gives for redis:// by default

    def redis_twin() -> Store:
        opened.append(make_store(url, buffered=buffered, clock=clock))
        return opened[-1]

    def advance(seconds: float) -> None:
        clock.advance(seconds)
        time.sleep(seconds)

    store = make_store(url, buffered=buffered, clock=clock)
    return Backend(name, store, clock, redis_twin, advance, opened)


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("redis", id="redis", marks=pytest.mark.integration),
        pytest.param("buffered-memory", id="buffered-memory"),
        pytest.param("buffered-redis", id="buffered-redis", marks=pytest.mark.integration),
    ]
)
def backend(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Backend]:
    found = _open_backend(request.param, clock, request)
    try:
        yield found
    finally:
        for store in [found.store, *found.opened]:
            store.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.store
