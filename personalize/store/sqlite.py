"""The embedded default store: one SQLite file in WAL mode.

::

    from personalize.store import SQLiteStore

    store = SQLiteStore("var/personalize.db")
    store.put_profile("v1", {"visits": 3})   # queued; returns at once
    store.get_profile("v1")                  # {'visits': 3}, read from the queue
    store.close()                            # commits what is queued, joins the writer

A request never waits on the disk: ``put_profile``, ``append`` and
``add_stats`` put the write on an in-memory queue and return, and one writer
thread commits the queue in batches, one transaction per batch, in order.
Reads run on a connection per thread, which WAL lets run beside the writer.

Durability, precisely:

* **Read your writes.** This store reads back its own profiles and statistics at
  once (pending writes are overlaid on what is committed). Log records, and
  writes made by other processes, are visible once committed, normally within
  milliseconds; :meth:`SQLiteStore.flush` waits for that.
* **Committed** means it survives the process crashing. With WAL and
  ``synchronous=NORMAL`` an operating-system crash or power loss can roll back
  the last few transactions, never corrupt the file.
* **Queued, not committed** lives in this process's memory: a process killed
  with SIGKILL (or the OOM killer) loses it — in normal operation the few
  milliseconds of one batch, more while the file is unwritable.
* **Clean shutdown loses nothing acknowledged.** :meth:`SQLiteStore.close`
  (also run at interpreter exit) commits everything queued; if it cannot within
  ``flush_timeout`` it raises :class:`~personalize.exceptions.StoreError`
  saying how many writes were lost.
* **While the file is unwritable** (locked by another process past the busy
  timeout, read-only, disk full) writes are still acknowledged and queued, and
  the failed batch is retried with backoff (up to ``retry_max`` seconds apart),
  each failure logged on ``personalize.store`` and counted in
  ``errors["write"]``; it is delivered when the condition clears. Past
  ``max_pending`` queued writes the oldest are dropped, counted in
  ``errors["dropped"]`` and logged.
* A statistics delta whose shape conflicts with one another process committed
  meanwhile is refused at commit, logged and counted in ``errors["shape"]``
  (within one process the conflict raises ``ValueError`` at once).
* ``set_state``, ``claim``, ``forget`` and ``purge`` are synchronous: committed
  when they return. ``forget`` and ``purge`` first flush, so they also erase
  what was queued before them.

Read failures (locked, unreadable, not a database) raise
:class:`~personalize.exceptions.StoreError`. The queued writes raise it only
when the store is closed or its writer thread has died, and ``add_stats`` when
it must read a new array's stored shape and cannot.

The ``writers`` table records, per store instance, the last queued write
committed with statistics; ``get_stats`` uses it to count a pending delta
exactly once even while the writer is between commit and clean-up.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import ConfigError, StoreError
from .base import (
    Record,
    Shape,
    Stats,
    Store,
    array_from_bytes,
    check_delta,
    check_records,
    dumps_mapping,
    loads,
)
from .sqlite_writer import Log, Put, Writer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    visitor_id TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS profiles_updated ON profiles (updated);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, type TEXT NOT NULL,
    visitor TEXT, decision TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS log_ts ON log (ts);
CREATE INDEX IF NOT EXISTS log_visitor ON log (visitor);
CREATE TABLE IF NOT EXISTS stats (
    key TEXT NOT NULL, name TEXT NOT NULL, shape TEXT NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (key, name));
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires REAL NOT NULL);
-- the last queued write each store instance committed together with its
-- statistics, so a reader can tell which pending deltas are already in `stats`
CREATE TABLE IF NOT EXISTS writers (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, updated REAL);
"""
_PAGE = 1000


class SQLiteStore(Store):
    """Everything in one SQLite file, written behind the request by one thread.

    :param path: the database file; it and its directory are created if missing.
    :param clock: returns the time in epoch seconds; tests pass a fake one.
    :param timeout: seconds a statement waits for another connection's lock.
    :param flush_timeout: seconds :meth:`flush` and :meth:`close` wait before
        raising :class:`~personalize.exceptions.StoreError`.
    :param batch_size: most queued writes committed in one transaction; a
        write is one ``put_profile``, ``append`` (all its records) or ``add_stats``.
    :param max_pending: most writes kept queued while the file is unwritable.
    :param retry_max: longest pause between retries of a failed batch.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = 5.0,
        flush_timeout: float = 30.0,
        batch_size: int = 1000,
        max_pending: int = 100_000,
        retry_max: float = 2.0,
    ) -> None:
        self.path = os.fspath(path)
        if self.path in ("", ":memory:") or self.path.startswith("file:"):
            raise ConfigError(
                "path", f"expected a file path, got {self.path!r}; use memory:// for no file"
            )
        for name, value in (("batch_size", batch_size), ("max_pending", max_pending)):
            if value < 1:
                raise ConfigError(name, f"expected a positive number, got {value!r}")
        self.clock = clock
        self._timeout = timeout
        self._flush_timeout = flush_timeout
        self._lock = threading.Lock()
        self._closed = False
        self._local = threading.local()
        self._readers: list[tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = []
        self._create()
        self._writer = Writer(
            self.path,
            self._connect,
            writer_id=uuid.uuid4().hex,
            clock=clock,
            batch_size=batch_size,
            max_pending=max_pending,
            retry_max=retry_max,
        )
        self._atexit = functools.partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._atexit)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    @property
    def errors(self) -> Counter[str]:
        """Failures of the writer: ``write`` (failed batch attempts), ``dropped``
        (oldest writes dropped past ``max_pending``), ``shape`` (deltas refused
        at commit), ``lost`` (queued writes given up at :meth:`close`)."""
        return self._writer.errors

    # -- connections ------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _create(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(directory, exist_ok=True)
            conn = self._connect()
        except (OSError, sqlite3.DatabaseError) as err:
            raise StoreError(f"SQLite {self.path}: cannot open: {err}") from err
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(
                    f"SQLite {self.path}: expected WAL journal mode, the file system gave "
                    f"{mode!r}; put the database on a local disk"
                )
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise StoreError(f"SQLite {self.path}: cannot set up: {err}") from err
        finally:
            conn.close()

    def _reader(self) -> sqlite3.Connection:
        """This thread's connection; those of finished threads are closed here."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._errors():
            conn = self._connect()
        with self._lock:
            if self._closed:
                conn.close()
                raise StoreError("the store is closed; create a new one to keep using it")
            live = []
            for ref, other in self._readers:
                thread = ref()
                if thread is None or not thread.is_alive():
                    other.close()
                else:
                    live.append((ref, other))
            self._readers = [*live, (weakref.ref(threading.current_thread()), conn)]
        self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as err:
            raise StoreError(f"SQLite {self.path}: {err}") from err

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self._check_open()
        with self._errors():
            return self._reader().execute(sql, params).fetchall()

    @contextlib.contextmanager
    def _transaction(self, begin: str = "BEGIN") -> Iterator[sqlite3.Connection]:
        self._check_open()
        conn = self._reader()
        with self._errors():
            conn.execute(begin)
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(sqlite3.DatabaseError):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed; create a new one to keep using it")

    # -- profiles ---------------------------------------------------------
    def get_profile(self, visitor_id: str) -> dict[str, Any] | None:
        self._check_open()
        pending = self._writer.pending_profile(visitor_id)
        if pending is not None:
            return dict(loads(pending))
        rows = self._query("SELECT data FROM profiles WHERE visitor_id = ?", (visitor_id,))
        return dict(loads(rows[0][0])) if rows else None

    def put_profile(self, visitor_id: str, profile: Mapping[str, Any]) -> None:
        self._writer.submit(Put(visitor_id, dumps_mapping(profile), self.clock()))

    # -- the log ----------------------------------------------------------
    def append(self, records: Sequence[Record]) -> None:
        check_records(records)
        self._writer.submit(Log.of(records))

    def read_log(
        self,
        *,
        since: float = 0.0,
        types: Collection[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        self._check_open()
        return self._read_log(since, None if types is None else sorted(set(types)), limit)

    def _read_log(
        self, since: float, types: list[str] | None, limit: int | None
    ) -> Iterator[dict[str, Any]]:
        where = "id > ? AND ts >= ?"
        if types is not None:
            where += f" AND type IN ({','.join('?' * len(types))})"
        sql = f"SELECT id, data FROM log WHERE {where} ORDER BY id LIMIT ?"
        last, left = 0, limit
        while left is None or left > 0:
            page = min(_PAGE, _PAGE if left is None else left)
            rows = self._query(sql, (last, since, *(types or ()), page))
            for _id, text in rows:
                yield dict(loads(text))
            if len(rows) < page:
                return
            last = rows[-1][0]
            left = None if left is None else left - len(rows)

    def tail(self, cursor: str | None, *, limit: int = 10_000,
             types: Collection[str] | None = None) -> tuple[list[dict[str, Any]], str]:
        self._check_open()
        if cursor is None:
            rows = self._query("SELECT COALESCE(MAX(id), 0) FROM log", ())
            return [], str(rows[0][0])
        rows = self._query("SELECT id, type, data FROM log WHERE id > ? ORDER BY id LIMIT ?",
                           (int(cursor), limit))
        records = [dict(loads(text)) for _id, kind, text in rows
                   if types is None or kind in types]
        return records, str(rows[-1][0]) if rows else cursor

    # -- statistics -------------------------------------------------------
    def add_stats(self, key: str, delta: Mapping[str, np.ndarray]) -> None:
        arrays = check_delta(delta)
        known = self._writer.known_shapes(key)
        # A shape, once stored, never changes: the database is asked only about new names.
        stored = self._stored_shapes(key) if any(n not in known for n in arrays) else {}
        self._writer.submit_delta(key, arrays, stored)

    def _stored_shapes(self, key: str) -> dict[str, Shape]:
        rows = self._query("SELECT name, shape FROM stats WHERE key = ?", (key,))
        return {name: tuple(loads(shape)) for name, shape in rows}

    def get_stats(self, key: str) -> Stats:
        pending = self._writer.pending_deltas(key)
        # Pending first, then one statement (one snapshot) reads `stats` and how
        # far this instance's writer got: a delta is counted once, whichever
        # side of a commit this read falls on. With no row the key has no
        # committed delta, so every pending one counts.
        rows = self._query(
            "SELECT name, shape, value, (SELECT seq FROM writers WHERE id = ?) FROM stats "
            "WHERE key = ?", (self._writer.id, key),
        )
        applied = (rows[0][3] or 0) if rows else 0
        stats = {name: array_from_bytes(value, loads(shape)) for name, shape, value, _ in rows}
        for seq, arrays in pending:
            if seq > applied:
                for name, array in arrays.items():
                    stats[name] = stats[name] + array if name in stats else array.copy()
        return stats

    # -- state and claims -------------------------------------------------
    def get_state(self, key: str) -> dict[str, Any] | None:
        rows = self._query("SELECT value FROM state WHERE key = ?", (key,))
        return dict(loads(rows[0][0])) if rows else None

    def set_state(self, key: str, value: Mapping[str, Any] | None) -> None:
        if value is None:
            self._query("DELETE FROM state WHERE key = ?", (key,))
        else:
            self._query("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                        (key, dumps_mapping(value)))

    def list_state(self, prefix: str) -> dict[str, dict[str, Any]]:
        rows = self._query(
            "SELECT key, value FROM state WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
        )
        return {key: dict(loads(text)) for key, text in rows}

    def claim(self, key: str, ttl_seconds: float) -> bool:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds: expected a positive number, got {ttl_seconds!r}")
        now = self.clock()
        self._check_open()
        with self._errors():
            cursor = self._reader().execute(
                "INSERT INTO claims (key, expires) VALUES (?, ?) ON CONFLICT (key) "
                "DO UPDATE SET expires = excluded.expires WHERE claims.expires <= ?",
                (key, now + ttl_seconds, now),
            )
        return cursor.rowcount == 1

    # -- privacy ----------------------------------------------------------
    def forget(self, visitor_id: str) -> int:
        self.flush()
        with self._transaction("BEGIN IMMEDIATE") as conn:
            removed: int = conn.execute(
                "DELETE FROM profiles WHERE visitor_id = ?", (visitor_id,)
            ).rowcount
            removed += conn.execute("DELETE FROM log WHERE visitor = ?", (visitor_id,)).rowcount
        return removed

    def purge(self, older_than: float) -> int:
        self.flush()
        now = self.clock()
        with self._transaction("BEGIN IMMEDIATE") as conn:
            removed: int = conn.execute(
                "DELETE FROM profiles WHERE updated < ?", (older_than,)
            ).rowcount
            removed += conn.execute("DELETE FROM log WHERE ts < ?", (older_than,)).rowcount
            conn.execute("DELETE FROM claims WHERE expires <= ?", (now,))
            conn.execute(
                "DELETE FROM writers WHERE updated < ? AND id != ?", (older_than, self._writer.id)
            )
        return removed

    # -- lifecycle --------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Block until every write queued before the call is committed.

        :param timeout: seconds to wait; ``flush_timeout`` when ``None``.
        :raises StoreError: the writes are still queued when the time is up,
            or the writer thread has stopped.
        """
        self._writer.flush(self._flush_timeout if timeout is None else timeout)

    def close(self) -> None:
        """Commit what is queued, stop the writer and close every connection.

        Calling it again does nothing.

        :raises StoreError: queued writes could not be committed within
            ``flush_timeout``; they are lost, counted in ``errors["lost"]``.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self._atexit)
        try:
            self._writer.close(self._flush_timeout)
        finally:
            with self._lock:
                readers, self._readers = self._readers, []
            for _ref, conn in readers:
                conn.close()


def _close_at_exit(ref: weakref.ref[SQLiteStore]) -> None:
    store = ref()
    if store is not None:
        store.close()
