"""The contract every store backend passes: memory, SQLite and Redis alike.

Each test takes the parametrized ``backend`` fixture (see ``conftest.py``), so
adding a backend there runs all of these against it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from personalize.exceptions import ConfigError, StoreError
from personalize.store import MemoryStore, SQLiteStore, Store, make_store

if TYPE_CHECKING:
    from tests.store.conftest import Backend


def rec(
    ts: float, type_: str = "exposure", visitor: str | None = None, **extra: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {"ts": ts, "type": type_, **extra}
    if visitor is not None:
        record["visitor"] = visitor
    return record


# -- profiles -----------------------------------------------------------------


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param({}, id="empty"),
        pytest.param({"visits": 3, "last": 1_000_000.5, "returning": True}, id="scalars"),
        pytest.param({"pages": ["/", "/help"], "slots": {"hero": {"v": "calm"}}}, id="nested"),
        pytest.param({"city": "Jyväskylä", "note": "tilannetaju ✓", "none": None}, id="unicode"),
    ],
)
def test_profile_round_trips(store: Store, profile: dict[str, Any]) -> None:
    assert store.get_profile("v1") is None
    store.put_profile("v1", profile)
    assert store.get_profile("v1") == profile
    assert store.get_profile("v2") is None


def test_keys_that_are_not_strings_are_stored_as_strings(store: Store) -> None:
    store.put_profile("v1", {"counts": {1: "a", 2.5: "b"}})
    store.append([rec(1.0, counts={3: "c"})])
    store.set_state("s", {"by_hour": {23: 1}})
    store.flush()
    assert store.get_profile("v1") == {"counts": {"1": "a", "2.5": "b"}}
    assert list(store.read_log()) == [rec(1.0, counts={"3": "c"})]
    assert store.get_state("s") == {"by_hour": {"23": 1}}


def test_records_and_profiles_may_be_any_mapping(store: Store) -> None:
    store.put_profile("v1", MappingProxyType({"visits": 2}))
    store.append([MappingProxyType(rec(1.0, "click", "v1", n=1)), rec(2.0, n=2)])
    store.flush()
    assert store.get_profile("v1") == {"visits": 2}
    assert list(store.read_log()) == [rec(1.0, "click", "v1", n=1), rec(2.0, n=2)]


def test_put_profile_replaces_rather_than_merges(store: Store) -> None:
    store.put_profile("v1", {"a": 1, "b": 2})
    store.put_profile("v1", {"c": 3})
    assert store.get_profile("v1") == {"c": 3}


def test_profile_is_a_copy_both_ways(store: Store) -> None:
    mine = {"pages": ["/"]}
    store.put_profile("v1", mine)
    mine["pages"].append("/later")
    got = store.get_profile("v1")
    assert got == {"pages": ["/"]}
    assert got is not None
    got["pages"].append("/mutated")
    assert store.get_profile("v1") == {"pages": ["/"]}


def test_profile_reaches_another_instance_after_flush(backend: Backend) -> None:
    backend.store.put_profile("v1", {"visits": 1})
    backend.store.put_profile("v1", {"visits": 2})
    backend.store.flush()
    assert backend.twin().get_profile("v1") == {"visits": 2}


# -- the log --------------------------------------------------------------------


def test_read_log_keeps_append_order_not_ts_order(store: Store) -> None:
    store.append([rec(30, n=1), rec(10, n=2)])
    store.append([rec(20, n=3)])
    store.append([])
    store.flush()
    assert [r["n"] for r in store.read_log()] == [1, 2, 3]


def test_records_round_trip_exactly(store: Store) -> None:
    record = rec(
        1_000_000.25, "decision", "v1", decision="d-1", slot="hero", reasons=["rule: mobile"],
        propensity=0.25, context={"device": "phone", "hour": 23},
    )
    store.append([record])
    store.flush()
    assert list(store.read_log()) == [record]


LOG = [
    rec(100, "decision", "v1", n=0),
    rec(200, "exposure", "v1", n=1),
    rec(150, "click", "v2", n=2),
    rec(300, "exposure", None, n=3),
    rec(250, "decision", "v2", n=4),
]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, [0, 1, 2, 3, 4], id="everything"),
        pytest.param({"since": 200}, [1, 3, 4], id="since-inclusive"),
        pytest.param({"since": 301}, [], id="since-after-all"),
        pytest.param({"types": {"exposure"}}, [1, 3], id="one-type"),
        pytest.param({"types": ["decision", "click"]}, [0, 2, 4], id="two-types"),
        pytest.param({"types": []}, [], id="no-types"),
        pytest.param({"types": ["refund"]}, [], id="unknown-type"),
        pytest.param({"limit": 2}, [0, 1], id="limit"),
        pytest.param({"limit": 0}, [], id="limit-zero"),
        pytest.param({"limit": 99}, [0, 1, 2, 3, 4], id="limit-above-count"),
        pytest.param({"since": 150, "types": {"decision"}, "limit": 1}, [4], id="combined"),
    ],
)
def test_read_log_filters(store: Store, kwargs: dict[str, Any], expected: list[int]) -> None:
    store.append(LOG)
    store.flush()
    assert [r["n"] for r in store.read_log(**kwargs)] == expected


def test_read_log_pages_through_many_records(store: Store) -> None:
    store.append([rec(1000 + i, "exposure" if i % 3 else "click", n=i) for i in range(2500)])
    store.flush()
    assert [r["n"] for r in store.read_log()] == list(range(2500))
    clicks = [r["n"] for r in store.read_log(types={"click"}, limit=900)]
    assert clicks == list(range(0, 2500, 3))  # 834 of them, fewer than the limit
    assert [r["n"] for r in store.read_log(since=3400, limit=3)] == [2400, 2401, 2402]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"type": "exposure"}, id="no-ts"),
        pytest.param({"ts": "2024-01-01", "type": "exposure"}, id="ts-string"),
        pytest.param({"ts": True, "type": "exposure"}, id="ts-bool"),
        pytest.param({"ts": 1.0}, id="no-type"),
        pytest.param({"ts": 1.0, "type": 7}, id="type-number"),
        pytest.param({"ts": 1.0, "type": "x", "visitor": 42}, id="visitor-number"),
        pytest.param({"ts": 1.0, "type": "x", "visitor": ""}, id="visitor-empty"),
    ],
)
def test_append_refuses_a_bad_record_and_writes_none_of_the_batch(
    store: Store, bad: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="record 1"):
        store.append([rec(1.0), bad, rec(2.0)])
    store.flush()
    assert list(store.read_log()) == []


def test_flush_makes_appends_visible_to_another_instance(backend: Backend) -> None:
    backend.store.append([rec(i, visitor=f"v{i % 7}", n=i) for i in range(300)])
    backend.store.flush()
    assert [r["n"] for r in backend.twin().read_log()] == list(range(300))


def test_tail_starts_at_the_end_and_follows_in_append_order(backend: Backend) -> None:
    store = backend.store
    store.append([rec(i, n=i) for i in range(3)])
    store.flush()
    records, cursor = store.tail(None)
    assert records == []
    store.append([rec(10 - i, n=100 + i) for i in range(5)])  # late, out-of-order ts
    store.flush()
    records, cursor = backend.twin().tail(cursor)
    assert [r["n"] for r in records] == [100, 101, 102, 103, 104]
    assert store.tail(cursor) == ([], cursor)


def test_tail_pages_by_limit_and_never_repeats(store: Store) -> None:
    _, cursor = store.tail(None)
    store.append([rec(i, n=i) for i in range(25)])
    store.flush()
    seen: list[int] = []
    for _ in range(10):
        records, cursor = store.tail(cursor, limit=10)
        seen += [r["n"] for r in records]
    assert seen == list(range(25))


# -- statistics -----------------------------------------------------------------


def test_add_stats_adds_element_wise(store: Store) -> None:
    assert store.get_stats("hero") == {}
    store.add_stats("hero", {"A": np.eye(2), "b": np.array([1.0, 2.0])})
    store.add_stats("hero", {"A": np.ones((2, 2)), "b": np.array([0.5, 0.5])})
    store.add_stats("hero", {"n": np.array(3.0)})
    got = store.get_stats("hero")
    np.testing.assert_array_equal(got["A"], [[2.0, 1.0], [1.0, 2.0]])
    np.testing.assert_array_equal(got["b"], [1.5, 2.5])
    np.testing.assert_array_equal(got["n"], 3.0)
    assert got["n"].shape == ()
    assert {name: a.dtype for name, a in got.items()} == {n: np.float64 for n in ("A", "b", "n")}
    assert store.get_stats("promo") == {}


def test_add_stats_keeps_float64_precision(store: Store) -> None:
    store.add_stats("k", {"x": np.array([0.1, 1e-300, 1e300])})
    store.add_stats("k", {"x": np.array([0.2, 1e-300, -1e300])})
    expected = np.add([0.1, 1e-300, 1e300], [0.2, 1e-300, -1e300])  # 0.30000000000000004, ...
    np.testing.assert_array_equal(store.get_stats("k")["x"], expected)


def test_stats_are_copies_both_ways(store: Store) -> None:
    delta = np.zeros(3)
    store.add_stats("k", {"x": delta})
    delta += 5
    got = store.get_stats("k")
    got["x"] += 7
    np.testing.assert_array_equal(store.get_stats("k")["x"], np.zeros(3))


@pytest.mark.parametrize(
    "delta",
    [
        pytest.param({"A": np.zeros((3, 3))}, id="bigger"),
        pytest.param({"A": np.zeros(4)}, id="flattened"),
        pytest.param({"b": np.ones(2), "A": np.zeros((2, 3))}, id="one-of-two"),
    ],
)
def test_add_stats_refuses_another_shape_and_changes_nothing(
    backend: Backend, delta: dict[str, np.ndarray]
) -> None:
    store = backend.store
    store.add_stats("k", {"A": np.ones((2, 2)), "b": np.ones(2)})
    store.flush()
    with pytest.raises(ValueError, match=r"'A'.*\(2, 2\)"):
        store.add_stats("k", delta)
    # Also when the stored shape was written by another instance.
    with pytest.raises(ValueError, match=r"'A'.*\(2, 2\)"):
        backend.twin().add_stats("k", delta)
    store.flush()
    got = store.get_stats("k")
    np.testing.assert_array_equal(got["A"], np.ones((2, 2)))
    np.testing.assert_array_equal(got["b"], np.ones(2))


def test_concurrent_adds_from_two_instances_lose_nothing(backend: Backend) -> None:
    stores = [backend.store, backend.twin()]
    threads, per_thread = 4, 50

    def work(store: Store, index: int) -> None:
        for _ in range(per_thread):
            store.add_stats("hero", {"A": np.ones((3, 3)), "n": np.array([1.0, float(index)])})

    workers = [
        threading.Thread(target=work, args=(stores[i % 2], i)) for i in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    for store in stores:
        store.flush()
    expected_index_sum = per_thread * sum(range(threads))
    for store in stores:
        got = store.get_stats("hero")
        np.testing.assert_array_equal(got["A"], np.full((3, 3), threads * per_thread))
        np.testing.assert_array_equal(got["n"], [threads * per_thread, expected_index_sum])


# -- state and claims -------------------------------------------------------------


def test_state_set_get_replace_delete(store: Store) -> None:
    assert store.get_state("paused:hero") is None
    store.set_state("paused:hero", {"variant": "b", "why": "complaints"})
    assert store.get_state("paused:hero") == {"variant": "b", "why": "complaints"}
    store.set_state("paused:hero", {"variant": "c"})
    assert store.get_state("paused:hero") == {"variant": "c"}
    store.set_state("paused:hero", None)
    assert store.get_state("paused:hero") is None
    store.set_state("never-set", None)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        pytest.param("paused:", ["paused:hero", "paused:promo"], id="plain"),
        pytest.param("", ["a*b", "a_c", "a%d", "paused:hero", "paused:promo", "rules"], id="all"),
        pytest.param("a*", ["a*b"], id="glob-star-is-literal"),
        pytest.param("a_", ["a_c"], id="like-underscore-is-literal"),
        pytest.param("a%", ["a%d"], id="like-percent-is-literal"),
        pytest.param("nothing", [], id="no-match"),
    ],
)
def test_list_state_by_prefix(store: Store, prefix: str, expected: list[str]) -> None:
    for key in ["paused:hero", "paused:promo", "rules", "a*b", "a_c", "a%d"]:
        store.set_state(key, {"key": key})
    assert store.list_state(prefix) == {key: {"key": key} for key in expected}


def test_claim_once_until_ttl_passes(backend: Backend) -> None:
    store = backend.store
    assert store.claim("event:d-1", 0.2) is True
    assert store.claim("event:d-1", 0.2) is False
    assert store.claim("event:d-2", 0.2) is True
    backend.advance(0.1)
    assert store.claim("event:d-1", 0.2) is False
    backend.advance(0.2)
    assert store.claim("event:d-1", 0.2) is True
    assert store.claim("event:d-1", 0.2) is False


@pytest.mark.parametrize("ttl", [pytest.param(0, id="zero"), pytest.param(-1.0, id="negative")])
def test_claim_refuses_a_ttl_that_is_not_positive(store: Store, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        store.claim("k", ttl)


def test_claim_is_won_exactly_once_across_threads_and_instances(backend: Backend) -> None:
    stores = [backend.store, backend.twin()]
    barrier = threading.Barrier(8)
    wins: list[bool] = []
    lock = threading.Lock()

    def contend(store: Store) -> None:
        barrier.wait()
        won = store.claim("event:d-9", 60)
        with lock:
            wins.append(won)

    workers = [threading.Thread(target=contend, args=(stores[i % 2],)) for i in range(8)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


# -- privacy ----------------------------------------------------------------------


def test_forget_erases_profile_and_records_and_counts_them(backend: Backend) -> None:
    store = backend.store
    store.put_profile("v1", {"visits": 1})
    store.put_profile("v2", {"visits": 2})
    store.append([rec(1, visitor="v1", n=0), rec(2, visitor="v2", n=1), rec(3, n=2)])
    store.flush()
    store.append([rec(4, visitor="v1", n=3), rec(5, visitor="v1", n=4)])  # maybe still queued
    assert store.forget("v1") == 4
    assert store.get_profile("v1") is None
    assert store.get_profile("v2") == {"visits": 2}
    store.flush()
    assert [r["n"] for r in store.read_log()] == [1, 2]
    assert [r["n"] for r in backend.twin().read_log()] == [1, 2]
    assert store.forget("v1") == 0
    assert store.forget("never-seen") == 0


def test_forget_counts_records_without_a_profile(store: Store) -> None:
    store.append([rec(1, visitor="v1"), rec(2, visitor="v1")])
    assert store.forget("v1") == 2


def test_purge_erases_old_profiles_and_records(backend: Backend) -> None:
    store, clock = backend.store, backend.clock
    store.put_profile("old", {"n": 1})
    clock.advance(100)
    store.put_profile("new", {"n": 2})
    store.append([rec(clock.now - 150, n=0), rec(clock.now - 50, visitor="new", n=1)])
    store.append([rec(clock.now - 100, n=2), rec(clock.now + 10, n=3)])
    # Strictly older: the old profile (written at now - 100) and the records at
    # now - 150 and now - 100; the record at exactly the threshold stays.
    assert store.purge(clock.now - 50) == 3
    assert store.get_profile("old") is None
    assert store.get_profile("new") == {"n": 2}
    store.flush()
    assert [r["n"] for r in store.read_log()] == [1, 3]
    assert store.purge(clock.now - 50) == 0
    assert store.purge(clock.now + 1) == 2  # the new profile and the record at now - 50
    assert store.get_profile("new") is None
    assert [r["n"] for r in store.read_log()] == [3]


# -- lifecycle ----------------------------------------------------------------------

AFTER_CLOSE: list[Any] = [
    pytest.param(lambda s: s.get_profile("v"), id="get_profile"),
    pytest.param(lambda s: s.put_profile("v", {}), id="put_profile"),
    pytest.param(lambda s: s.append([rec(1)]), id="append"),
    pytest.param(lambda s: list(s.read_log()), id="read_log"),
    pytest.param(lambda s: s.add_stats("k", {"x": np.ones(1)}), id="add_stats"),
    pytest.param(lambda s: s.get_stats("k"), id="get_stats"),
    pytest.param(lambda s: s.get_state("k"), id="get_state"),
    pytest.param(lambda s: s.set_state("k", {}), id="set_state"),
    pytest.param(lambda s: s.list_state(""), id="list_state"),
    pytest.param(lambda s: s.claim("k", 1), id="claim"),
    pytest.param(lambda s: s.forget("v"), id="forget"),
    pytest.param(lambda s: s.purge(0), id="purge"),
]


@pytest.mark.parametrize("operation", AFTER_CLOSE)
def test_a_closed_store_refuses_with_store_error(
    store: Store, operation: Callable[[Store], object]
) -> None:
    assert store.ping() is True
    store.close()
    store.close()  # idempotent
    assert store.ping() is False
    with pytest.raises(StoreError, match="closed"):
        operation(store)


# -- choosing a backend ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "cls"),
    [
        pytest.param("memory://", MemoryStore, id="memory-url"),
        pytest.param("memory", MemoryStore, id="memory-name"),
        pytest.param("personalize.store.memory:MemoryStore", MemoryStore, id="dotted-path"),
        pytest.param("sqlite:///var/x.db", SQLiteStore, id="sqlite-relative"),
    ],
)
def test_make_store_builds_the_named_backend(
    setting: str, cls: type[Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = make_store(setting)
    try:
        assert type(store) is cls
    finally:
        store.close()


@pytest.mark.parametrize(
    ("setting", "options", "message"),
    [
        pytest.param("memcached://h:1", {}, "expected memory://", id="unknown-scheme"),
        pytest.param("mongo", {}, "expected memory://", id="unknown-name"),
        pytest.param("memory://x", {}, "takes no path", id="memory-with-path"),
        pytest.param("sqlite://", {}, "expected sqlite:///", id="sqlite-no-path"),
        pytest.param("sqlite:///", {}, "expected sqlite:///", id="sqlite-empty-path"),
        pytest.param("sqlite://host/x.db", {}, "expected sqlite:///", id="sqlite-host"),
        pytest.param("no.such.module:Store", {}, "cannot import", id="dotted-missing-module"),
        pytest.param("personalize.store:Nope", {}, "has no 'Nope'", id="dotted-missing-class"),
        pytest.param("personalize.store:make_store", {}, "Store subclass", id="dotted-not-store"),
        pytest.param("memory://", {"colour": "red"}, "colour", id="unknown-option"),
        pytest.param("memory://", {"max_log": 0}, "max_log", id="bad-option-value"),
    ],
)
def test_make_store_refuses_what_it_cannot_build(
    setting: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_store(setting, **options)


def test_memory_log_can_be_bounded() -> None:
    store = make_store("memory://", max_log=3)
    store.append([rec(i, n=i) for i in range(5)])
    assert [r["n"] for r in store.read_log()] == [2, 3, 4]
