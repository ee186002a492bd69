"""A store in this process's memory: for tests, demos and single-process development.

::

    from personalize.store import MemoryStore

    store = MemoryStore(max_log=100_000)   # keep only the newest 100k records

Nothing survives the process. Every operation takes one lock, so the store is
safe to share between threads. Profiles and records are kept as JSON text, so
what comes back is exactly what the SQLite and Redis backends would return (and
never an object the caller still holds).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import ConfigError, StoreError
from .base import (
    Record,
    Stats,
    Store,
    check_delta,
    check_records,
    check_shapes,
    dumps_mapping,
    loads,
)


class MemoryStore(Store):
    """Profiles, log, statistics and state in dictionaries behind one lock.

    :param max_log: keep at most this many log records, dropping the oldest;
        ``None`` keeps everything.
    :param clock: returns the time in epoch seconds; tests pass a fake one.
    """

    def __init__(
        self, *, max_log: int | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        if max_log is not None and max_log < 1:
            raise ConfigError("max_log", f"expected a positive number or None, got {max_log!r}")
        self.clock = clock
        self._lock = threading.Lock()
        self._closed = False
        self._profiles: dict[str, tuple[str, float]] = {}
        self._log: deque[tuple[float, str, str | None, str]] = deque(maxlen=max_log)
        self._appended = 0  # records ever appended: the tail's cursor
        self._stats: dict[str, Stats] = {}
        self._state: dict[str, str] = {}
        self._claims: dict[str, float] = {}

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed; create a new one to keep using it")

    # -- profiles ---------------------------------------------------------
    def get_profile(self, visitor_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._check_open()
            entry = self._profiles.get(visitor_id)
        return None if entry is None else dict(loads(entry[0]))

    def put_profile(self, visitor_id: str, profile: Mapping[str, Any]) -> None:
        text = dumps_mapping(profile)
        with self._lock:
            self._check_open()
            self._profiles[visitor_id] = (text, self.clock())

    # -- the log ----------------------------------------------------------
    def append(self, records: Sequence[Record]) -> None:
        check_records(records)
        rows = [(float(r["ts"]), r["type"], r.get("visitor"), dumps_mapping(r)) for r in records]
        with self._lock:
            self._check_open()
            self._log.extend(rows)
            self._appended += len(rows)

    def tail(self, cursor: str | None, *, limit: int = 10_000,
             types: Collection[str] | None = None) -> tuple[list[dict[str, Any]], str]:
        with self._lock:
            self._check_open()
            start = self._appended if cursor is None else int(cursor)
            # records dropped by max_log are skipped, as they are gone
            start = max(start, self._appended - len(self._log))
            count = min(self._appended - start, limit)
            first = len(self._log) - (self._appended - start)
            rows = [self._log[first + i] for i in range(count)]
        return ([dict(loads(text)) for _ts, kind, _v, text in rows
                 if types is None or kind in types], str(start + count))

    def read_log(
        self,
        *,
        since: float = 0.0,
        types: Collection[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        with self._lock:
            self._check_open()
            rows = list(self._log)
        wanted = None if types is None else frozenset(types)
        return _select(rows, since, wanted, limit)

    # -- statistics -------------------------------------------------------
    def add_stats(self, key: str, delta: Mapping[str, np.ndarray]) -> None:
        arrays = check_delta(delta)
        with self._lock:
            self._check_open()
            current = self._stats.setdefault(key, {})
            check_shapes(key, {name: a.shape for name, a in current.items()}, arrays)
            for name, array in arrays.items():
                if name in current:
                    current[name] += array
                else:
                    current[name] = array

    def get_stats(self, key: str) -> Stats:
        with self._lock:
            self._check_open()
            return {name: a.copy() for name, a in self._stats.get(key, {}).items()}

    # -- state and claims -------------------------------------------------
    def get_state(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            self._check_open()
            text = self._state.get(key)
        return None if text is None else dict(loads(text))

    def set_state(self, key: str, value: Mapping[str, Any] | None) -> None:
        text = None if value is None else dumps_mapping(value)
        with self._lock:
            self._check_open()
            if text is None:
                self._state.pop(key, None)
            else:
                self._state[key] = text

    def list_state(self, prefix: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            self._check_open()
            found = {k: v for k, v in self._state.items() if k.startswith(prefix)}
        return {k: dict(loads(v)) for k, v in found.items()}

    def claim(self, key: str, ttl_seconds: float) -> bool:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds: expected a positive number, got {ttl_seconds!r}")
        now = self.clock()
        with self._lock:
            self._check_open()
            if self._claims.get(key, now) > now:
                return False
            self._claims[key] = now + ttl_seconds
            return True

    # -- privacy ----------------------------------------------------------
    def forget(self, visitor_id: str) -> int:
        with self._lock:
            self._check_open()
            removed = 1 if self._profiles.pop(visitor_id, None) is not None else 0
            kept = [row for row in self._log if row[2] != visitor_id]
            removed += len(self._log) - len(kept)
            self._log = deque(kept, maxlen=self._log.maxlen)
        return removed

    def purge(self, older_than: float) -> int:
        now = self.clock()
        with self._lock:
            self._check_open()
            old = [vid for vid, (_, updated) in self._profiles.items() if updated < older_than]
            for vid in old:
                del self._profiles[vid]
            kept = [row for row in self._log if row[0] >= older_than]
            removed = len(old) + len(self._log) - len(kept)
            self._log = deque(kept, maxlen=self._log.maxlen)
            # Expired claims are dead weight; purge is the housekeeping pass.
            self._claims = {k: exp for k, exp in self._claims.items() if exp > now}
        return removed

    # -- lifecycle --------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._closed = True


def _select(
    rows: list[tuple[float, str, str | None, str]],
    since: float,
    types: frozenset[str] | None,
    limit: int | None,
) -> Iterator[dict[str, Any]]:
    if limit is not None and limit <= 0:
        return
    count = 0
    for ts, kind, _visitor, text in rows:
        if ts >= since and (types is None or kind in types):
            yield dict(loads(text))
            count += 1
            if count == limit:
                return
