"""SQLite specifics: the file's settings, the write-behind queue, failures and shutdown."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from personalize.exceptions import ConfigError, StoreError
from personalize.store import SQLiteStore, make_store
from personalize.store.base import array_to_bytes


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "pz.db"


@pytest.fixture
def store(path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(path, timeout=0.1, flush_timeout=5, retry_max=0.1)
    yield store
    store.close()


@contextlib.contextmanager
def write_locked(path: Path) -> Iterator[sqlite3.Connection]:
    """Hold the database's write lock, as a busy process would."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        if conn.in_transaction:
            conn.execute("COMMIT")
    finally:
        conn.close()


def raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_file_is_wal_with_synchronous_normal_and_the_documented_tables(
    store: SQLiteStore, path: Path
) -> None:
    assert raw(path, "PRAGMA journal_mode") == [("wal",)]
    assert store._reader().execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    names = {name for (name,) in raw(path, "SELECT name FROM sqlite_master")}
    assert {"profiles", "log", "stats", "state", "claims", "log_ts", "log_visitor"} <= names


def test_log_columns_index_the_record(store: SQLiteStore, path: Path) -> None:
    store.append([{"ts": 5, "type": "decision", "visitor": "v1", "decision": "d-1", "x": 1}])
    store.append([{"ts": 6.5, "type": "click", "decision": {"not": "an id"}}])
    store.flush()
    assert raw(path, "SELECT ts, type, visitor, decision, data FROM log ORDER BY id") == [
        (5.0, "decision", "v1", "d-1",
         '{"ts":5,"type":"decision","visitor":"v1","decision":"d-1","x":1}'),
        (6.5, "click", None, None, '{"ts":6.5,"type":"click","decision":{"not":"an id"}}'),
    ]


def test_stats_are_stored_as_float64_bytes_with_shape(store: SQLiteStore, path: Path) -> None:
    store.add_stats("hero", {"A": np.eye(2)})
    store.flush()
    assert raw(path, "SELECT key, name, shape, value FROM stats") == [
        ("hero", "A", "[2,2]", np.eye(2).astype("<f8").tobytes())
    ]


def test_writes_return_at_once_and_read_back_while_the_file_is_locked(
    store: SQLiteStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store.add_stats("hero", {"b": np.ones(2)})
    store.flush()
    with write_locked(path):
        started = time.monotonic()
        store.put_profile("v1", {"visits": 1})
        store.append([{"ts": 1, "type": "exposure", "visitor": "v1"}])
        store.add_stats("hero", {"b": np.ones(2)})
        assert time.monotonic() - started < 0.05
        assert store.get_profile("v1") == {"visits": 1}
        np.testing.assert_array_equal(store.get_stats("hero")["b"], [2.0, 2.0])
        other = SQLiteStore(path)
        try:
            assert other.get_profile("v1") is None
            np.testing.assert_array_equal(other.get_stats("hero")["b"], [1.0, 1.0])
            with pytest.raises(StoreError, match=r"3 writes still queued.*locked"):
                store.flush(timeout=0.3)
        finally:
            other.close()
    assert store.errors["write"] >= 1
    assert any(
        r.name == "personalize.store" and "retry" in r.getMessage() for r in caplog.records
    )
    store.flush()
    other = SQLiteStore(path)
    try:
        assert other.get_profile("v1") == {"visits": 1}
        np.testing.assert_array_equal(other.get_stats("hero")["b"], [2.0, 2.0])
        assert list(other.read_log()) == [{"ts": 1, "type": "exposure", "visitor": "v1"}]
    finally:
        other.close()


def test_past_max_pending_the_oldest_writes_are_dropped_and_counted(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(path, timeout=0.05, max_pending=3, retry_max=0.05)
    try:
        with write_locked(path):
            for i in range(5):
                store.put_profile(f"v{i}", {"i": i})
            assert store.errors["dropped"] == 2
            assert [store.get_profile(f"v{i}") for i in range(5)] == [
                None, None, {"i": 2}, {"i": 3}, {"i": 4}
            ]
        store.flush()
    finally:
        store.close()
    warnings = [r for r in caplog.records if "dropping the oldest" in r.getMessage()]
    assert len(warnings) == 1
    assert [vid for (vid,) in raw(path, "SELECT visitor_id FROM profiles ORDER BY 1")] == [
        "v2", "v3", "v4"
    ]


def test_a_delta_another_process_made_incompatible_is_refused_at_commit(
    store: SQLiteStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with write_locked(path) as conn:
        store.add_stats("hero", {"A": np.ones(2)})  # nothing stored yet: accepted
        store.put_profile("v1", {"kept": True})
        conn.execute(
            "INSERT INTO stats VALUES ('hero', 'A', '[3]', ?)", (array_to_bytes(np.ones(3)),)
        )
    store.flush()
    assert store.errors["shape"] == 1
    assert any("refused a statistics delta" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(store.get_stats("hero")["A"], np.ones(3))
    assert store.get_profile("v1") == {"kept": True}


def test_a_delta_committed_but_still_in_the_overlay_counts_once(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed, release = threading.Event(), threading.Event()
    commit = store._writer._commit

    def commit_then_pause(conn: sqlite3.Connection, batch: Any) -> list[str]:
        refused = commit(conn, batch)
        committed.set()
        release.wait(5)  # the writer has not yet removed the batch from the overlay
        return refused

    monkeypatch.setattr(store._writer, "_commit", commit_then_pause)
    store.add_stats("hero", {"n": np.ones(1)})
    assert committed.wait(5)
    assert store._writer.pending_deltas("hero")  # still overlaid ...
    np.testing.assert_array_equal(store.get_stats("hero")["n"], [1.0])  # ... yet counted once
    release.set()
    store.flush()
    np.testing.assert_array_equal(store.get_stats("hero")["n"], [1.0])


def test_stats_read_during_commits_never_go_backwards(store: SQLiteStore) -> None:
    adds, started = 400, [0]

    def add() -> None:
        for _ in range(adds):
            started[0] += 1
            store.add_stats("hero", {"n": np.ones(1)})

    writer = threading.Thread(target=add)
    writer.start()
    seen = []
    while writer.is_alive():
        got = store.get_stats("hero")
        seen.append((float(got["n"][0]) if got else 0.0, started[0]))
    writer.join()
    assert all(value <= bound for value, bound in seen), "a delta was counted twice"
    values = [value for value, _ in seen]
    assert values == sorted(values), "a delta went missing between queue and table"
    assert store.get_stats("hero")["n"][0] == adds


def test_close_commits_everything_queued(path: Path) -> None:
    store = SQLiteStore(path)
    store.append([{"ts": i, "type": "exposure", "n": i} for i in range(3000)])
    store.put_profile("v1", {"visits": 9})
    store.add_stats("hero", {"b": np.ones(2)})
    store.close()
    reopened = SQLiteStore(path)
    try:
        assert [r["n"] for r in reopened.read_log()] == list(range(3000))
        assert reopened.get_profile("v1") == {"visits": 9}
        np.testing.assert_array_equal(reopened.get_stats("hero")["b"], [1.0, 1.0])
    finally:
        reopened.close()


def test_interpreter_exit_without_close_still_commits(path: Path) -> None:
    script = textwrap.dedent(
        f"""
        from personalize.store import SQLiteStore
        store = SQLiteStore({str(path)!r})
        store.append([{{"ts": i, "type": "exposure"}} for i in range(500)])
        store.put_profile("v1", {{"visits": 1}})
        """
    )
    subprocess.run([sys.executable, "-W", "error", "-c", script], check=True, timeout=60)
    assert raw(path, "SELECT count(*) FROM log") == [(500,)]
    assert raw(path, "SELECT data FROM profiles") == [('{"visits":1}',)]


def test_an_append_is_one_queued_write_whatever_its_records(path: Path) -> None:
    store = SQLiteStore(path, timeout=0.05, max_pending=2, retry_max=0.05)
    try:
        with write_locked(path):
            store.append([{"ts": i, "type": "exposure", "n": i} for i in range(3)])
            store.put_profile("v1", {})
            assert store.errors["dropped"] == 0
            store.put_profile("v2", {})
            assert store.errors["dropped"] == 1  # the three records, together
        store.flush()
    finally:
        store.close()
    assert raw(path, "SELECT count(*) FROM log") == [(0,)]
    assert raw(path, "SELECT visitor_id FROM profiles ORDER BY 1") == [("v1",), ("v2",)]


def test_close_that_cannot_commit_raises_and_counts_the_loss(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(path, timeout=0.05, flush_timeout=0.3, retry_max=0.05)
    with write_locked(path):
        store.put_profile("v1", {})
        store.put_profile("v2", {})
        with pytest.raises(StoreError, match="2 writes still queued"):
            store.close()
    store.close()
    assert store.errors["lost"] == 2
    assert any("closed with 2 writes not committed" in r.getMessage() for r in caplog.records)
    assert raw(path, "SELECT count(*) FROM profiles") == [(0,)]


def test_reads_raise_store_error_when_the_file_is_locked_exclusively(path: Path) -> None:
    store = SQLiteStore(path, timeout=0.05)
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("INSERT INTO state VALUES ('k', '{}')")
            conn.execute("COMMIT")  # exclusive mode keeps the lock after commit
            with pytest.raises(StoreError, match="locked"):
                store.get_state("k")
        finally:
            conn.close()
        assert store.get_state("k") == {}
    finally:
        store.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the pages you are looking for" * 100)
    with pytest.raises(StoreError, match="not a database"):
        SQLiteStore(path)


def test_connections_of_finished_threads_are_closed(store: SQLiteStore) -> None:
    def read() -> None:
        store.get_profile("v1")

    for _ in range(5):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    # Each new thread's connection sweeps those of threads already finished.
    assert len(store._readers) <= 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("sqlite:///var/pz.db", "var/pz.db", id="relative"),
        pytest.param("sqlite:///pz.db", "pz.db", id="relative-bare"),
        pytest.param("sqlite:////ABS/pz.db", "/ABS/pz.db", id="absolute"),
    ],
)
def test_sqlite_urls_follow_sqlalchemy(
    url: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url, expected = url.replace("/ABS", str(tmp_path)), expected.replace("/ABS", str(tmp_path))
    store = make_store(url)
    try:
        assert isinstance(store, SQLiteStore)
        assert store.path == expected
        assert (tmp_path / expected).exists()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        pytest.param({"path": ":memory:"}, "path", id="memory-path"),
        pytest.param({"path": ""}, "path", id="empty-path"),
        pytest.param({"path": "x.db", "max_pending": 0}, "max_pending", id="max-pending"),
        pytest.param({"path": "x.db", "batch_size": 0}, "batch_size", id="batch-size"),
    ],
)
def test_bad_options_are_refused(
    kwargs: dict[str, object], key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        SQLiteStore(**kwargs)  # type: ignore[arg-type]
    assert info.value.key == key
    assert not (tmp_path / "x.db").exists()


def test_logging_goes_to_the_personalize_store_logger(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="personalize.store")
    store = SQLiteStore(path, timeout=0.05, retry_max=0.05)
    try:
        with write_locked(path):
            store.put_profile("v1", {})
            deadline = time.monotonic() + 5
            while not store.errors["write"] and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        store.close()
    assert {r.name for r in caplog.records} == {"personalize.store"}
