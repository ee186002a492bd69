"""The write-behind queue of :class:`~personalize.store.sqlite.SQLiteStore`.

Acknowledged writes wait here, in order, until one thread commits them in
batches. While they wait they are an *overlay*: the store reads its own pending
profiles and statistics deltas from here, so a request reads its own writes
without waiting for the disk. The durability this gives is described in
:mod:`personalize.store.sqlite`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from ..exceptions import StoreError
from .base import (
    Record,
    Shape,
    Stats,
    array_from_bytes,
    array_to_bytes,
    check_shapes,
    dumps,
    dumps_mapping,
    loads,
)

log = logging.getLogger("personalize.store")

_RETRY_MIN = 0.05
#: rows per INSERT statement: 5 columns x 100 stays far below SQLite's 32,766 variables
_ROWS_PER_STATEMENT = 100
#: the columns of a :class:`Log`'s parameters, in their order
_LOG_COLUMNS = ("ts", "type", "visitor", "decision", "data")


class Put(NamedTuple):
    """Replace a profile; the fields are its ``profiles`` row, in column order."""

    visitor_id: str
    text: str
    updated: float


class Log(NamedTuple):
    """Append the records of one ``append`` call.

    ``params`` are the ``INSERT``'s parameters, :data:`_LOG_COLUMNS` per record
    in order, ready for the writer to pass on: one queued write per call, and
    no per-record object for the request to build or the writer to take apart.
    """

    params: list[Any]

    @classmethod
    def of(cls, records: Iterable[Record]) -> Log:
        """The write of checked records (see :func:`~.base.check_records`)."""
        params: list[Any] = []
        for record in records:
            decision = record.get("decision")  # indexed when it is a decision id
            params += (float(record["ts"]), record["type"], record.get("visitor"),
                       decision if isinstance(decision, str) else None, dumps_mapping(record))
        return cls(params)


class Add(NamedTuple):
    """Add a statistics delta."""

    key: str
    arrays: Stats


Item = Put | Log | Add


class Writer:
    """Queue writes and commit them from one thread, retrying while the file refuses.

    A write is one :class:`Put`, :class:`Log` (every record of one ``append``)
    or :class:`Add`; ``batch_size`` and ``max_pending`` count them.

    :param path: the database, named in messages.
    :param connect: opens the writer's own connection.
    :param writer_id: names this queue in the ``writers`` table, which records
        with each batch of deltas the last queue number it committed.
    :param clock: returns the time in epoch seconds.
    :param batch_size: most writes committed in one transaction.
    :param max_pending: most writes kept; past it the oldest are dropped.
    :param retry_max: longest pause between retries of a failed batch.
    :param linger: seconds the writer waits after the first queued write for
        more to join the batch: one transaction instead of one per request, and
        far fewer hand-offs of the GIL to this thread while requests run.
        :meth:`flush` and :meth:`close` cut the wait short.
    """

    def __init__(
        self,
        path: str,
        connect: Callable[[], sqlite3.Connection],
        *,
        writer_id: str,
        clock: Callable[[], float],
        batch_size: int,
        max_pending: int,
        retry_max: float,
        linger: float = 0.05,
    ) -> None:
        self.path = path
        self._linger = linger
        self._hurry = threading.Event()
        self.id = writer_id
        self.errors: Counter[str] = Counter()
        self._connect = connect
        self._clock = clock
        self._batch_size = batch_size
        self._max_pending = max_pending
        self._retry_max = retry_max
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)
        self._progress = threading.Condition(self._lock)
        self._abandon = threading.Event()
        # Writes are numbered 1, 2, ... in queue order; only the oldest leave the
        # queue, so its numbers are the contiguous run ending at ``_seq``.
        self._queue: deque[Item] = deque()
        self._seq = 0
        self._profiles: dict[str, tuple[int, str]] = {}  # newest pending put per visitor
        self._deltas: dict[str, list[tuple[int, Stats]]] = {}
        self._shapes: dict[str, dict[str, Shape]] = {}
        self._closed = self._stopping = self._dropping = False
        self._last_error: BaseException | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"personalize-sqlite-writer-{writer_id[:6]}", daemon=True
        )
        self._thread.start()

    # -- the overlay ------------------------------------------------------
    def pending_profile(self, visitor_id: str) -> str | None:
        """The newest queued profile of the visitor, as JSON."""
        with self._lock:
            entry = self._profiles.get(visitor_id)
        return None if entry is None else entry[1]

    def pending_deltas(self, key: str) -> list[tuple[int, Stats]]:
        """Queued deltas of ``key`` with their queue numbers, which may just have been committed."""
        with self._lock:
            return list(self._deltas.get(key, ()))

    def known_shapes(self, key: str) -> dict[str, Shape]:
        """Shapes of ``key`` this queue has seen stored or queued."""
        with self._lock:
            return dict(self._shapes.get(key, {}))

    # -- queueing ---------------------------------------------------------
    def submit(self, item: Put | Log) -> None:
        """Queue a write.

        :raises StoreError: the queue is closed or its thread has stopped.
        """
        with self._lock:
            self._submit(item)

    def submit_delta(self, key: str, arrays: Stats, stored: dict[str, Shape]) -> None:
        """Queue a delta after checking it against the shapes stored and queued.

        :param stored: shapes read from the database for names not yet known.
        :raises ValueError: a shape differs from the stored or queued one.
        """
        with self._lock:
            shapes = self._shapes.setdefault(key, {})
            for name, shape in stored.items():
                shapes.setdefault(name, shape)
            check_shapes(key, shapes, arrays)
            self._submit(Add(key, arrays))
            for name, array in arrays.items():
                shapes.setdefault(name, array.shape)

    def _submit(self, item: Item) -> None:
        if self._closed:
            raise StoreError("the store is closed; create a new one to keep using it")
        if self._error is not None:
            raise StoreError(f"SQLite {self.path}: the writer stopped: {self._error!r}")
        queue = self._queue
        self._seq += 1
        if isinstance(item, Put):
            self._profiles[item.visitor_id] = (self._seq, item.text)
        elif isinstance(item, Add):
            self._deltas.setdefault(item.key, []).append((self._seq, item.arrays))
        queue.append(item)
        if len(queue) == 1:
            # The thread waits for work only on an empty queue, so only the
            # first write wakes it; notify() costs a microsecond even when no
            # one waits, and most writes join a queue that is lingering.
            self._has_work.notify()
        if len(queue) > self._max_pending:
            oldest = self._oldest()
            self._unpend([queue.popleft()], oldest)
            self.errors["dropped"] += 1
            if not self._dropping:
                self._dropping = True
                log.warning(
                    "SQLite %s: more than %d writes queued (last error: %s); dropping the "
                    "oldest until the database takes writes again",
                    self.path, self._max_pending, self._last_error,
                )

    def _oldest(self) -> int:
        """The number of the oldest queued write (``_seq + 1`` when none is)."""
        return self._seq - len(self._queue) + 1

    def _unpend(self, items: Iterable[Item], upto: int) -> None:
        """Remove the overlay entries of ``items`` (committed or dropped) numbered up to ``upto``.

        Only puts and deltas have entries; a newer write to the same visitor or
        key (queued after ``upto``) keeps its own. Called with the lock held.
        """
        profiles, deltas = self._profiles, self._deltas
        for item in items:
            if isinstance(item, Put):
                entry = profiles.get(item.visitor_id)
                if entry is not None and entry[0] <= upto:
                    del profiles[item.visitor_id]
            elif isinstance(item, Add) and item.key in deltas:
                left = [entry for entry in deltas[item.key] if entry[0] > upto]
                if left:
                    deltas[item.key] = left
                else:
                    del deltas[item.key]

    # -- waiting and stopping ---------------------------------------------
    def flush(self, timeout: float) -> None:
        """Block until everything queued before the call is committed.

        :raises StoreError: still queued after ``timeout`` seconds, or the
            thread has stopped; the message gives the count and the last error.
        """
        deadline = time.monotonic() + timeout
        self._hurry.set()
        with self._lock:
            target = self._seq
            while self._queue and self._oldest() <= target:
                if self._error is not None or not self._thread.is_alive():
                    raise StoreError(
                        f"SQLite {self.path}: {len(self._queue)} writes queued but the writer "
                        f"stopped: {self._error!r}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreError(
                        f"SQLite {self.path}: {len(self._queue)} writes still queued after "
                        f"{timeout}s; last error: {self._last_error}"
                    )
                self._progress.wait(remaining)

    def close(self, timeout: float) -> None:
        """Refuse new writes, commit the queued ones and stop the thread.

        :raises StoreError: writes were still queued after ``timeout``; they
            are dropped and counted in ``errors["lost"]``.
        """
        with self._lock:
            self._closed = True
        try:
            self.flush(timeout)
        except StoreError:
            self._abandon.set()
            raise
        finally:
            with self._lock:
                self._stopping = True
                self._has_work.notify_all()
            self._thread.join()
            with self._lock:
                lost = len(self._queue)
                self._queue.clear()
            if lost:
                self.errors["lost"] += lost
                log.error("SQLite %s: closed with %d writes not committed", self.path, lost)

    # -- the thread -------------------------------------------------------
    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        failures = 0
        try:
            while True:
                with self._lock:
                    while not self._queue and not self._stopping:
                        self._has_work.wait()
                    if self._abandon.is_set() or not self._queue:
                        return
                    lingering = not self._stopping and len(self._queue) < self._batch_size
                if lingering and self._linger > 0:
                    self._hurry.wait(self._linger)
                self._hurry.clear()
                with self._lock:
                    batch = _Batch.of(itertools.islice(self._queue, self._batch_size),
                                      self._oldest())
                try:
                    if conn is None:
                        conn = self._connect()
                    refused = self._commit(conn, batch)
                except sqlite3.DatabaseError as err:
                    failures += 1
                    delay = min(self._retry_max, _RETRY_MIN * 2 ** (failures - 1))
                    with self._lock:
                        self.errors["write"] += 1
                        self._last_error = err
                    log.warning(
                        "SQLite %s: committing %d queued writes failed (%s); retry %d in %.2fs",
                        self.path, batch.size, err, failures, delay,
                    )
                    self._abandon.wait(delay)
                    continue
                failures = 0
                for message in refused:
                    log.error("SQLite %s: refused a statistics delta: %s", self.path, message)
                with self._lock:
                    self.errors["shape"] += len(refused)
                    # writes dropped meanwhile (past max_pending) have left already
                    for _ in range(batch.last - self._oldest() + 1):
                        self._queue.popleft()
                    self._unpend(itertools.chain(batch.puts, batch.adds), batch.last)
                    self._dropping = False
                    self._progress.notify_all()
                del batch  # free the committed writes now, while their memory is still cached
        except BaseException as err:
            log.exception("SQLite %s: the writer thread stopped", self.path)
            with self._lock:
                self._error = err
        finally:
            if conn is not None:
                conn.close()
            with self._lock:
                self._progress.notify_all()

    def _commit(self, conn: sqlite3.Connection, batch: _Batch) -> list[str]:
        """Write ``batch`` in one transaction; messages of deltas refused for their shape."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            _insert_rows(conn, "INSERT OR REPLACE INTO profiles (visitor_id, data, updated)",
                         len(Put._fields), list(itertools.chain.from_iterable(batch.puts)))
            _insert_rows(conn, f"INSERT INTO log ({', '.join(_LOG_COLUMNS)})", len(_LOG_COLUMNS),
                         batch.log_params)
            refused = _merge(conn, batch.adds)
            if batch.adds:
                conn.execute(
                    "INSERT OR REPLACE INTO writers (id, seq, updated) VALUES (?, ?, ?)",
                    (self.id, batch.last, self._clock()),
                )
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.DatabaseError):
                conn.execute("ROLLBACK")
            raise
        return refused


class _Batch(NamedTuple):
    """Queued writes taken for one transaction, split by kind."""

    last: int  # queue number of the newest write in it
    size: int
    puts: list[Put]
    log_params: list[Any]  # of every Log in it, joined
    adds: list[Add]

    @classmethod
    def of(cls, items: Iterable[Item], first: int) -> _Batch:
        """Split queued writes (at least one), numbered from ``first``, by kind in one pass."""
        puts: list[Put] = []
        log_params: list[Any] = []
        adds: list[Add] = []
        size = 0
        for item in items:
            size += 1
            if isinstance(item, Log):  # the common case first
                log_params += item.params
            elif isinstance(item, Put):
                puts.append(item)
            else:
                adds.append(item)
        return cls(first + size - 1, size, puts, log_params, adds)


def _insert_rows(conn: sqlite3.Connection, head: str, width: int, params: list[Any]) -> None:
    """Insert rows of ``width`` columns, given as their ``params`` in order, in chunks.

    ``executemany`` steps once per row, and every step hands the GIL to the
    request threads and takes it back: a batch of a few hundred rows made
    requests wait milliseconds for it. One multi-row statement per chunk is
    one step.
    """
    row = "(" + ",".join("?" * width) + ")"
    step = width * _ROWS_PER_STATEMENT
    for start in range(0, len(params), step):
        chunk = params[start:start + step]
        conn.execute(f"{head} VALUES {','.join([row] * (len(chunk) // width))}", chunk)


def _merge(conn: sqlite3.Connection, adds: list[Add]) -> list[str]:
    """Add the deltas into ``stats``; a delta whose shape conflicts is skipped, its message kept."""
    refused = []
    for key in dict.fromkeys(item.key for item in adds):
        rows = conn.execute("SELECT name, shape, value FROM stats WHERE key = ?", (key,))
        current = {name: array_from_bytes(v, loads(shape)) for name, shape, v in rows}
        changed: set[str] = set()
        for item in (i for i in adds if i.key == key):
            try:
                check_shapes(key, {n: a.shape for n, a in current.items()}, item.arrays)
            except ValueError as err:
                refused.append(str(err))
                continue
            for name, array in item.arrays.items():
                current[name] = current[name] + array if name in current else array
                changed.add(name)
        conn.executemany(
            "INSERT OR REPLACE INTO stats (key, name, shape, value) VALUES (?, ?, ?, ?)",
            [
                (key, n, dumps(list(current[n].shape)), array_to_bytes(current[n]))
                for n in sorted(changed)
            ],
        )
    return refused
