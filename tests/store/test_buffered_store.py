"""BufferedStore: what it keeps while the inner store is down, and what it delivers after.

The contract suite runs it over memory and Redis while they answer (see
``conftest.py``); these tests switch the inner store off and on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from personalize.exceptions import ConfigError, StoreError
from personalize.store import (
    BufferedStore,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    Store,
    make_store,
)
from personalize.store import buffered as buffered_module
from personalize.store.base import Record, Stats
from tests.support.servers import RedisServer


class Monotonic:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SwitchableStore(Store):
    """A memory store that raises StoreError on every call while ``down``; counts calls."""

    def __init__(self) -> None:
        self.backing = MemoryStore()
        self.down = False
        self.calls = 0
        self._closed = False

    def _gate(self) -> MemoryStore:
        self.calls += 1
        if self.down:
            raise StoreError("connection refused (test)")
        return self.backing

    def get_profile(self, visitor_id: str) -> dict[str, Any] | None:
        return self._gate().get_profile(visitor_id)

    def put_profile(self, visitor_id: str, profile: Mapping[str, Any]) -> None:
        self._gate().put_profile(visitor_id, profile)

    def append(self, records: Sequence[Record]) -> None:
        self._gate().append(records)

    def read_log(self, *, since: float = 0.0, types: Collection[str] | None = None,
                 limit: int | None = None) -> Iterator[dict[str, Any]]:
        return self._gate().read_log(since=since, types=types, limit=limit)

    def tail(self, cursor: str | None, *, limit: int = 10_000,
             types: Collection[str] | None = None) -> tuple[list[dict[str, Any]], str]:
        return self._gate().tail(cursor, limit=limit, types=types)

    def add_stats(self, key: str, delta: Mapping[str, np.ndarray]) -> None:
        self._gate().add_stats(key, delta)

    def get_stats(self, key: str) -> Stats:
        return self._gate().get_stats(key)

    def get_state(self, key: str) -> dict[str, Any] | None:
        return self._gate().get_state(key)

    def set_state(self, key: str, value: Mapping[str, Any] | None) -> None:
        self._gate().set_state(key, value)

    def list_state(self, prefix: str) -> dict[str, dict[str, Any]]:
        return self._gate().list_state(prefix)

    def claim(self, key: str, ttl_seconds: float) -> bool:
        return self._gate().claim(key, ttl_seconds)

    def forget(self, visitor_id: str) -> int:
        return self._gate().forget(visitor_id)

    def purge(self, older_than: float) -> int:
        return self._gate().purge(older_than)

    def close(self) -> None:
        self._closed = True  # the backing stays readable for the test's assertions


def rec(n: int, visitor: str = "v1") -> dict[str, Any]:
    return {"ts": 1000.0 + n, "type": "click", "visitor": visitor, "n": n}


def logged(store: Store) -> list[int]:
    return [r["n"] for r in store.read_log()]


@pytest.fixture
def inner() -> SwitchableStore:
    return SwitchableStore()


@pytest.fixture
def mono() -> Monotonic:
    return Monotonic()


@pytest.fixture
def buffered(inner: SwitchableStore, mono: Monotonic) -> Iterator[BufferedStore]:
    store = BufferedStore(inner, max_buffered=10, retry_interval=1.0, clock=mono)
    yield store
    inner.down = False
    store.close()


# -- buffering and delivery ----------------------------------------------------


def test_appends_while_down_are_delivered_in_order_after_the_retry_interval(
    buffered: BufferedStore, inner: SwitchableStore, mono: Monotonic
) -> None:
    buffered.append([rec(0)])
    inner.down = True
    buffered.append([rec(1), rec(2)])
    buffered.append([rec(3)])
    inner.down = False
    buffered.append([rec(4)])  # before the retry interval: queued behind, not sent
    assert logged(inner.backing) == [0]
    mono.advance(1.0)
    buffered.append([rec(5)])
    assert logged(inner.backing) == [0, 1, 2, 3, 4, 5]
    assert buffered.counts["buffered"] == 4
    assert buffered.counts["delivered"] == 4
    assert buffered.counts["dropped"] == 0
    assert buffered.pending == 0


def test_a_request_delivers_a_bounded_share_of_a_long_backlog(
    buffered: BufferedStore, inner: SwitchableStore, mono: Monotonic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(buffered_module, "DELIVERY_BUDGET", 0.0)  # one batch per call
    monkeypatch.setattr(buffered_module, "DELIVERY_BATCH", 2)
    inner.down = True
    for n in range(6):
        buffered.append([rec(n)])
    inner.down = False
    mono.advance(1.0)
    pending = []
    for n in range(6, 9):
        buffered.append([rec(n)])
        pending.append(buffered.pending)
    assert pending == [5, 4, 3]  # two delivered, one more queued, per request
    buffered.flush()
    assert logged(inner.backing) == list(range(9))


def test_a_dead_store_is_asked_once_per_retry_interval(
    buffered: BufferedStore, inner: SwitchableStore, mono: Monotonic
) -> None:
    inner.down = True
    for n in range(5):
        buffered.append([rec(n)])
    assert inner.calls == 1
    mono.advance(1.0)
    for n in range(5, 8):
        buffered.append([rec(n)])
    assert inner.calls == 2
    assert buffered.pending == 8


@pytest.mark.parametrize(
    ("writes", "kept", "dropped"),
    [
        pytest.param([[0], [1], [2]], [0, 1, 2], 0, id="under-the-bound"),
        pytest.param([[n] for n in range(13)], list(range(3, 13)), 3, id="one-by-one"),
        pytest.param([list(range(8)), list(range(8, 12))], list(range(2, 12)), 2,
                     id="part-of-a-batch"),
        pytest.param([list(range(15))], list(range(5, 15)), 5, id="one-big-batch"),
    ],
)
def test_the_buffer_is_bounded_and_drops_the_oldest(
    buffered: BufferedStore, inner: SwitchableStore, mono: Monotonic,
    writes: list[list[int]], kept: list[int], dropped: int,
) -> None:
    inner.down = True
    for batch in writes:
        buffered.append([rec(n) for n in batch])
    assert buffered.pending == len(kept)
    assert buffered.counts["dropped"] == dropped
    inner.down = False
    buffered.flush()
    assert logged(inner.backing) == kept
    assert buffered.counts["delivered"] == len(kept)
    assert buffered.counts["buffered"] == len(kept) + dropped


def test_the_bound_is_logged_once_per_outage(
    buffered: BufferedStore, inner: SwitchableStore, caplog: pytest.LogCaptureFixture
) -> None:
    inner.down = True
    with caplog.at_level(logging.WARNING, logger="personalize.store"):
        buffered.append([rec(n) for n in range(30)])
        buffered.append([rec(30)])
    assert sum("dropping the oldest" in m for m in caplog.messages) == 1
    assert sum("buffering appends" in m for m in caplog.messages) == 1


def test_statistics_deltas_are_kept_and_added_once(
    buffered: BufferedStore, inner: SwitchableStore
) -> None:
    buffered.add_stats("model:hero:a", {"n": np.array(1.0), "b": np.ones(2)})
    inner.down = True
    buffered.add_stats("model:hero:a", {"n": np.array(2.0), "b": np.ones(2)})
    buffered.append([rec(1)])
    buffered.add_stats("model:hero:b", {"n": np.array(5.0)})
    inner.down = False
    buffered.flush()
    totals = inner.backing.get_stats("model:hero:a")
    assert float(totals["n"]) == 3.0
    assert totals["b"].tolist() == [2.0, 2.0]
    assert float(inner.backing.get_stats("model:hero:b")["n"]) == 5.0
    assert buffered.counts["delivered"] == 3


def test_a_buffered_delta_the_inner_store_refuses_is_counted_and_skipped(
    buffered: BufferedStore, inner: SwitchableStore
) -> None:
    inner.down = True
    buffered.add_stats("k", {"x": np.ones(3)})
    buffered.append([rec(1)])
    inner.down = False
    inner.backing.add_stats("k", {"x": np.ones(2)})  # another process stored another shape
    buffered.flush()
    assert buffered.counts["refused"] == 1
    assert buffered.counts["delivered"] == 1
    assert logged(inner.backing) == [1]
    assert inner.backing.get_stats("k")["x"].tolist() == [1.0, 1.0]


def test_bad_input_is_refused_at_once_even_while_down(
    buffered: BufferedStore, inner: SwitchableStore
) -> None:
    inner.down = True
    with pytest.raises(ValueError, match="'ts'"):
        buffered.append([{"type": "click"}])
    with pytest.raises(ValueError, match="array name"):
        buffered.add_stats("k", {"": np.ones(1)})
    assert buffered.pending == 0


# -- what passes through ----------------------------------------------------------

PASSED_THROUGH: list[Any] = [
    pytest.param(lambda s: s.get_profile("v"), id="get_profile"),
    pytest.param(lambda s: s.put_profile("v", {}), id="put_profile"),
    pytest.param(lambda s: list(s.read_log()), id="read_log"),
    pytest.param(lambda s: s.get_stats("k"), id="get_stats"),
    pytest.param(lambda s: s.get_state("k"), id="get_state"),
    pytest.param(lambda s: s.set_state("k", {}), id="set_state"),
    pytest.param(lambda s: s.list_state(""), id="list_state"),
    pytest.param(lambda s: s.forget("v"), id="forget"),
    pytest.param(lambda s: s.purge(0), id="purge"),
]


@pytest.mark.parametrize("operation", PASSED_THROUGH)
def test_everything_but_appends_deltas_and_claims_raises_while_down(
    buffered: BufferedStore, inner: SwitchableStore, operation: Callable[[Store], object]
) -> None:
    inner.down = True
    with pytest.raises(StoreError, match="connection refused"):
        operation(buffered)
    assert buffered.ping() is False


def test_forget_erases_buffered_records_too(
    buffered: BufferedStore, inner: SwitchableStore, mono: Monotonic
) -> None:
    inner.down = True
    buffered.append([rec(1, "v1"), rec(2, "v2"), rec(3, "v1")])
    inner.down = False
    inner.backing.append([rec(0, "v1")])
    assert buffered.forget("v1") == 3
    buffered.flush()
    assert logged(inner.backing) == [2]


# -- flush and close ------------------------------------------------------------------


def test_flush_delivers_at_once_and_raises_while_down(
    buffered: BufferedStore, inner: SwitchableStore
) -> None:
    inner.down = True
    buffered.append([rec(1), rec(2)])
    with pytest.raises(StoreError, match="2 buffered writes could not be delivered"):
        buffered.flush()
    inner.down = False
    buffered.flush()  # no waiting for the retry interval
    assert logged(inner.backing) == [1, 2]


def test_close_delivers_what_it_can(buffered: BufferedStore, inner: SwitchableStore) -> None:
    inner.down = True
    buffered.append([rec(1)])
    inner.down = False
    buffered.close()
    assert inner.closed
    assert logged(inner.backing) == [1]
    assert buffered.counts["dropped"] == 0


def test_close_while_down_says_how_many_writes_were_lost(
    buffered: BufferedStore, inner: SwitchableStore
) -> None:
    inner.down = True
    buffered.append([rec(1), rec(2), rec(3)])
    with pytest.raises(StoreError, match="closed with 3 buffered writes not delivered"):
        buffered.close()
    assert buffered.counts["dropped"] == 3
    buffered.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        buffered.append([rec(4)])


# -- claims ------------------------------------------------------------------------------


def test_claims_are_local_while_down_and_asserted_on_the_store_after(
    buffered: BufferedStore, inner: SwitchableStore, mono: Monotonic
) -> None:
    inner.down = True
    assert buffered.claim("evt:click:d1", 60) is True
    assert buffered.claim("evt:click:d1", 60) is False  # a replay during the outage
    inner.down = False
    buffered.flush()
    assert inner.backing.claim("evt:click:d1", 60) is False  # delivered to the store
    assert buffered.claim("evt:click:d1", 60) is False  # and refused by it from now on
    assert buffered.counts["claim_conflicts"] == 0


def test_a_local_claim_expires_with_its_ttl(
    buffered: BufferedStore, inner: SwitchableStore, mono: Monotonic
) -> None:
    inner.down = True
    assert buffered.claim("c", 0.5) is True
    mono.advance(0.6)
    assert buffered.claim("c", 0.5) is True


def test_a_claim_won_twice_during_an_outage_is_counted_as_a_conflict(
    buffered: BufferedStore, inner: SwitchableStore
) -> None:
    assert inner.backing.claim("evt:click:d1", 60) is True  # won before the outage
    inner.down = True
    assert buffered.claim("evt:click:d1", 60) is True  # cannot know: accepted again
    inner.down = False
    buffered.flush()
    assert buffered.counts["claim_conflicts"] == 1


def test_without_local_claims_a_claim_raises_while_down(inner: SwitchableStore) -> None:
    store = BufferedStore(inner, local_claims=False)
    inner.down = True
    with pytest.raises(StoreError):
        store.claim("c", 1)
    inner.down = False
    store.close()


# -- threads ------------------------------------------------------------------------------


def test_threads_appending_through_an_outage_lose_nothing_and_keep_their_order(
    inner: SwitchableStore,
) -> None:
    store = BufferedStore(inner, max_buffered=100_000, retry_interval=0.0)
    start = threading.Barrier(4)

    def write(worker: int) -> None:
        start.wait()
        for n in range(500):
            if worker == 0 and n == 100:
                inner.down = True
            if worker == 0 and n == 300:
                inner.down = False
            store.append([{"ts": 1.0, "type": "t", "w": worker, "n": n}])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    inner.down = False
    store.flush()
    records = list(inner.backing.read_log())
    assert len(records) == 2000
    for worker in range(4):
        assert [r["n"] for r in records if r["w"] == worker] == list(range(500))
    assert store.counts["delivered"] == store.counts["buffered"] > 0
    store.close()


# -- make_store ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "options", "outer", "inner_cls"),
    [
        pytest.param("redis://127.0.0.1:1/0", {}, BufferedStore, RedisStore, id="redis-default"),
        pytest.param("redis", {}, BufferedStore, RedisStore, id="redis-name"),
        pytest.param("redis://127.0.0.1:1/0", {"buffered": False}, RedisStore, None,
                     id="redis-unbuffered"),
        pytest.param("memory://", {}, MemoryStore, None, id="memory-default"),
        pytest.param("memory://", {"buffered": True}, BufferedStore, MemoryStore,
                     id="memory-buffered"),
        pytest.param("sqlite:///x.db", {}, SQLiteStore, None, id="sqlite-default"),
    ],
)
def test_make_store_buffers_network_stores(
    setting: str, options: dict[str, Any], outer: type[Store], inner_cls: type[Store] | None,
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    store = make_store(setting, **options)  # Redis connects lazily: no server needed
    try:
        assert type(store) is outer
        if inner_cls is not None:
            assert isinstance(store, BufferedStore)
            assert type(store.inner) is inner_cls
    finally:
        store.close()


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"max_buffered": 0}, "max_buffered", id="bound-zero"),
        pytest.param({"retry_interval": -1.0}, "retry_interval", id="negative-interval"),
        pytest.param({"retry_interval": float("nan")}, "retry_interval", id="nan-interval"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        BufferedStore(MemoryStore(), **options)


# -- over a real Redis that crashes -------------------------------------------------------


@pytest.mark.integration
def test_a_redis_crash_and_restart_loses_no_buffered_write() -> None:
    with RedisServer() as server:
        store = make_store(server.url, prefix="b:")
        assert isinstance(store, BufferedStore)
        store.append([rec(0)])
        store.add_stats("model:hero:a", {"n": np.array(1.0)})
        server.kill()
        for n in range(1, 51):
            store.append([rec(n)])
            store.add_stats("model:hero:a", {"n": np.array(1.0)})
        assert store.claim("evt:click:d1", 60) is True
        assert store.pending == 101
        with pytest.raises(StoreError):
            store.get_stats("model:hero:a")
        server.restart()  # empty: only what is delivered from now on is there
        store.flush()
        assert logged(store) == list(range(1, 51))
        assert float(store.get_stats("model:hero:a")["n"]) == 50.0
        assert store.claim("evt:click:d1", 60) is False
        assert store.counts["delivered"] == 101
        store.close()
