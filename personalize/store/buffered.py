"""Keep writes while a network store is down, and deliver them when it answers.

::

    from personalize.store import BufferedStore, RedisStore

    store = BufferedStore(RedisStore("redis://cache.internal:6379/0"), max_buffered=100_000)

:func:`~personalize.store.make_store` wraps ``redis://`` stores this way by
default. What it changes, precisely:

* **Writes that only add** — :meth:`~BufferedStore.append` (log records) and
  :meth:`~BufferedStore.add_stats` (statistics deltas) — do not fail when the
  inner store raises :class:`~personalize.exceptions.StoreError`: they are kept,
  in order, in a buffer in this process's memory, and delivered in that order
  when the inner store answers again. Delivery is tried on the next write after
  ``retry_interval`` seconds (no request waits on a dead server more than once
  per interval) and on :meth:`~BufferedStore.flush`. Once anything is buffered,
  later writes queue behind it, so the inner store sees every write in order.
* **Claims** (one-shot keys that refuse replayed events) fall back to this
  process while the inner store is down, and are asserted on the inner store
  when it answers, so a claim won during an outage still refuses replays
  afterwards. Two processes cannot see each other's local claims: during an
  outage the same event sent to two processes is accepted by both. Such a
  duplicate is found when the claims are delivered and counted in
  ``counts["claim_conflicts"]`` (which also counts a claim that reached the
  store just before the connection broke, so it is an upper bound).
  ``local_claims=False`` lets claims fail instead (an event endpoint then
  answers 503 while the store is down).
* **Everything else passes through**: reads, profiles, state, ``forget`` and
  ``purge`` raise :class:`~personalize.exceptions.StoreError` as before, so the
  request path serves defaults. Profiles are not buffered: a profile written
  during an outage would overwrite a newer one written by another process
  after it.
* **Bounded.** At most ``max_buffered`` records, deltas and claims are kept;
  past that the oldest are dropped, counted in ``counts["dropped"]`` and logged
  once per outage. Items buffered before the process dies (SIGKILL, the OOM
  killer) are lost; a clean exit delivers them if the inner store answers.
* **At least once.** A write whose answer was lost (a timeout after the server
  had run it) is delivered again, so a record can be logged twice and a delta
  counted twice; writes refused because the server was down (the usual case:
  connection refused) are delivered exactly once.
* **Fork.** Create the store after the fork (gunicorn without ``--preload``):
  a buffer inherited by two processes would be delivered twice.

Counters (``counts``): ``buffered`` items kept because the inner store failed
or earlier items were still waiting, ``delivered`` of those that reached it,
``dropped`` past the bound or lost at :meth:`~BufferedStore.close`, ``refused``
by the inner store when delivered (a statistics shape conflict), and
``claim_conflicts``.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..exceptions import ConfigError, StoreError
from .base import Record, Stats, Store, check_delta, check_records

log = logging.getLogger("personalize.store")

#: most consecutive records sent in one ``append`` when delivering
DELIVERY_BATCH = 500
#: most seconds one request spends delivering before it returns to its own work
DELIVERY_BUDGET = 0.05


class _Records(NamedTuple):
    records: list[Record]


class _Delta(NamedTuple):
    key: str
    arrays: Stats


class _Claim(NamedTuple):
    key: str
    expires: float  # on the buffer's clock


_Item = _Records | _Delta | _Claim


class BufferedStore(Store):
    """A store that keeps appends, deltas and claims while its inner store is down.

    :param inner: the store to wrap, usually a :class:`~personalize.store.RedisStore`.
    :param max_buffered: most records, deltas and claims kept; the oldest are
        dropped beyond it (about 1 KB each for records: 100 000 is ~100 MB).
    :param retry_interval: seconds between delivery attempts while the inner
        store fails; writes in between are buffered without asking it.
    :param local_claims: decide claims in this process while the inner store is
        down (see the module docs); ``False`` lets them raise ``StoreError``.
    :param clock: monotonic seconds, for retries and local claim expiry; tests
        pass a fake one.
    """

    def __init__(
        self,
        inner: Store,
        *,
        max_buffered: int = 100_000,
        retry_interval: float = 1.0,
        local_claims: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_buffered < 1:
            raise ConfigError(
                "max_buffered", f"expected a positive number, got {max_buffered!r}"
            )
        if not retry_interval >= 0:
            raise ConfigError(
                "retry_interval", f"expected seconds >= 0, got {retry_interval!r}"
            )
        self.inner = inner
        self.max_buffered = max_buffered
        self.retry_interval = retry_interval
        self.local_claims = local_claims
        self.clock = clock
        self.counts: Counter[str] = Counter(
            buffered=0, delivered=0, dropped=0, refused=0, claim_conflicts=0
        )
        self._lock = threading.Lock()
        self._delivering = threading.Lock()
        self._buffer: deque[_Item] = deque()
        self._in_flight = 0  # items at the head of the buffer being delivered
        self._size = 0  # records + deltas + claims in the buffer
        self._claims: dict[str, float] = {}  # local claims → expiry
        self._next_try = 0.0
        self._dropping = False
        self._closed = False
        self._atexit = functools.partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._atexit)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    @property
    def pending(self) -> int:
        """Records, deltas and claims waiting for the inner store."""
        with self._lock:
            return self._size

    # -- the buffered writes ----------------------------------------------
    def append(self, records: Sequence[Record]) -> None:
        check_records(records)
        if records:
            self._write(_Records([dict(r) for r in records]))

    def add_stats(self, key: str, delta: Mapping[str, np.ndarray]) -> None:
        arrays = check_delta(delta)
        if arrays:
            self._write(_Delta(key, arrays))

    def claim(self, key: str, ttl_seconds: float) -> bool:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds: expected a positive number, got {ttl_seconds!r}")
        if not self.local_claims:
            self._check_open()
            return self.inner.claim(key, ttl_seconds)
        if self._deliver_first():
            try:
                return self.inner.claim(key, ttl_seconds)
            except StoreError as err:
                self._went_down(err)
        now = self.clock()
        with self._lock:
            expires = self._claims.get(key)
            if expires is not None and expires > now:
                return False
            self._claims[key] = now + ttl_seconds
            self._keep(_Claim(key, now + ttl_seconds))
        return True

    def _write(self, item: _Records | _Delta) -> None:
        if self._deliver_first():
            try:
                self._send(item)
                return
            except StoreError as err:
                self._went_down(err)
        with self._lock:
            self._keep(item)

    def _deliver_first(self) -> bool:
        """Deliver what is due; true when the caller may write to the inner store directly."""
        self._check_open()
        with self._lock:
            if not self._buffer:
                return True
            if self.clock() < self._next_try:
                return False
        self._deliver(budget=DELIVERY_BUDGET)
        with self._lock:
            return not self._buffer

    def _keep(self, item: _Item) -> None:
        """Buffer ``item`` behind the others, dropping the oldest past the bound; lock held.

        Items being delivered are not dropped: they are about to reach the inner store.
        """
        self._buffer.append(item)
        self._size += _size(item)
        self.counts["buffered"] += _size(item)
        excess = self._size - self.max_buffered
        if excess <= 0:
            return
        while excess > 0 and len(self._buffer) > self._in_flight:
            oldest = self._buffer[self._in_flight]
            if isinstance(oldest, _Records) and len(oldest.records) > excess:
                self._buffer[self._in_flight] = _Records(oldest.records[excess:])
                dropped = excess
            else:
                del self._buffer[self._in_flight]
                dropped = _size(oldest)
                if isinstance(oldest, _Claim):
                    self._forget_claim(oldest)
            self._size -= dropped
            self.counts["dropped"] += dropped
            excess -= dropped
        if not self._dropping:
            self._dropping = True
            log.warning("%r: more than %d writes buffered; dropping the oldest until the "
                        "store answers again", self, self.max_buffered)

    def _went_down(self, err: StoreError) -> None:
        with self._lock:
            first = not self._buffer
            self._next_try = self.clock() + self.retry_interval
        if first:
            log.warning("%r: the store failed (%s); buffering appends, statistics and claims "
                        "(at most %d) until it answers", self, err, self.max_buffered)

    # -- delivery ---------------------------------------------------------
    def _deliver(self, *, budget: float | None) -> None:
        """Send buffered items in order until done, failed, or ``budget`` seconds are spent.

        One thread delivers at a time; others keep buffering behind it.
        """
        if not self._delivering.acquire(blocking=budget is None):
            return
        try:
            deadline = None if budget is None else time.monotonic() + budget
            delivered = 0
            while True:  # at least one batch per call, however small the budget
                with self._lock:
                    if not self._buffer:
                        break
                    batch = self._head()
                    self._in_flight = len(batch)
                try:
                    refused = self._send_batch(batch)
                except StoreError as err:
                    with self._lock:
                        self._in_flight = 0
                        self._next_try = self.clock() + self.retry_interval
                    log.warning("%r: delivering %d buffered writes failed (%s); retry in %.1fs",
                                self, self.pending, err, self.retry_interval)
                    return
                except BaseException:
                    with self._lock:
                        self._in_flight = 0
                    raise
                with self._lock:
                    # the batch is still the head: only items not in flight are dropped
                    self._in_flight = 0
                    for _ in batch:
                        item = self._buffer.popleft()
                        self._size -= _size(item)
                        delivered += _size(item)
                        if isinstance(item, _Claim):
                            self._forget_claim(item)
                    self.counts["delivered"] += sum(_size(i) for i in batch) - refused
                    self.counts["refused"] += refused
                    if not self._buffer:
                        self._dropping = False
                if deadline is not None and time.monotonic() >= deadline:
                    break
            if delivered:
                log.info("%r: delivered %d buffered writes; %d still buffered",
                         self, delivered, self.pending)
        finally:
            self._delivering.release()

    def _head(self) -> list[_Item]:
        """The next items to send: consecutive records up to a batch, or one other item."""
        first = self._buffer[0]
        if not isinstance(first, _Records):
            return [first]
        batch: list[_Item] = []
        count = 0
        for item in self._buffer:
            if not isinstance(item, _Records) or (batch and count + len(item.records)
                                                  > DELIVERY_BATCH):
                break
            batch.append(item)
            count += len(item.records)
        return batch

    def _send_batch(self, batch: list[_Item]) -> int:
        """Send ``batch`` to the inner store; how many deltas it refused for their shape."""
        first = batch[0]
        if isinstance(first, _Records):
            self.inner.append([r for item in batch if isinstance(item, _Records)
                               for r in item.records])
            return 0
        if isinstance(first, _Claim):
            left = first.expires - self.clock()
            if left > 0 and not self.inner.claim(first.key, left):
                self.counts["claim_conflicts"] += 1
                log.warning("%r: claim %r was already taken when delivered: another "
                            "process accepted the same event while the store was down, or "
                            "the claim reached the store just before the connection broke",
                            self, first.key)
            return 0
        try:
            self.inner.add_stats(first.key, first.arrays)
        except ValueError as err:  # a shape another process stored meanwhile
            log.error("%r: the store refused a buffered statistics delta: %s", self, err)
            return 1
        return 0

    def _send(self, item: _Records | _Delta) -> None:
        if isinstance(item, _Records):
            self.inner.append(item.records)
        else:
            self.inner.add_stats(item.key, item.arrays)

    def _forget_claim(self, item: _Claim) -> None:
        if self._claims.get(item.key) == item.expires:
            del self._claims[item.key]

    # -- passed through ---------------------------------------------------
    def get_profile(self, visitor_id: str) -> dict[str, Any] | None:
        self._check_open()
        return self.inner.get_profile(visitor_id)

    def put_profile(self, visitor_id: str, profile: Mapping[str, Any]) -> None:
        self._check_open()
        self.inner.put_profile(visitor_id, profile)

    def read_log(
        self,
        *,
        since: float = 0.0,
        types: Collection[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        self._check_open()
        return self.inner.read_log(since=since, types=types, limit=limit)

    def tail(self, cursor: str | None, *, limit: int = 10_000,
             types: Collection[str] | None = None) -> tuple[list[dict[str, Any]], str]:
        self._check_open()
        return self.inner.tail(cursor, limit=limit, types=types)

    def get_stats(self, key: str) -> Stats:
        self._check_open()
        return self.inner.get_stats(key)

    def get_state(self, key: str) -> dict[str, Any] | None:
        self._check_open()
        return self.inner.get_state(key)

    def set_state(self, key: str, value: Mapping[str, Any] | None) -> None:
        self._check_open()
        self.inner.set_state(key, value)

    def list_state(self, prefix: str) -> dict[str, dict[str, Any]]:
        self._check_open()
        return self.inner.list_state(prefix)

    def forget(self, visitor_id: str) -> int:
        """Erase the visitor's profile and records, those still buffered included."""
        self._check_open()
        with self._lock:
            kept: deque[_Item] = deque()
            removed = 0
            for index, item in enumerate(self._buffer):
                if isinstance(item, _Records) and index >= self._in_flight:
                    others = [r for r in item.records if r.get("visitor") != visitor_id]
                    removed += len(item.records) - len(others)
                    if others:
                        kept.append(_Records(others))
                else:
                    kept.append(item)
            self._buffer = kept
            self._size -= removed
        return removed + self.inner.forget(visitor_id)

    def purge(self, older_than: float) -> int:
        self._check_open()
        return self.inner.purge(older_than)

    # -- lifecycle --------------------------------------------------------
    def ping(self) -> bool:
        """True when the inner store answers and this one is open; never raises."""
        return not self._closed and self.inner.ping()

    def flush(self) -> None:
        """Deliver everything buffered, then flush the inner store.

        :raises StoreError: the inner store still fails; the message gives how
            many writes are kept for the next attempt.
        """
        self._check_open()
        self._deliver(budget=None)
        left = self.pending
        if left:
            raise StoreError(f"{self!r}: {left} buffered writes could not be delivered yet; "
                             "they are kept and retried")
        self.inner.flush()

    def close(self) -> None:
        """Deliver what is buffered if the inner store answers, then close it.

        Calling it again does nothing.

        :raises StoreError: writes could not be delivered; they are lost and
            counted in ``counts["dropped"]``.
        """
        with self._lock:
            if self._closed:
                return
        atexit.unregister(self._atexit)
        self._deliver(budget=None)
        with self._lock:
            self._closed = True
            lost, self._size = self._size, 0
            self._buffer.clear()
            self.counts["dropped"] += lost
        try:
            self.inner.close()
        finally:
            if lost:
                log.error("%r: closed with %d buffered writes not delivered", self, lost)
                raise StoreError(f"{self!r}: closed with {lost} buffered writes not delivered; "
                                 "they are lost")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed; create a new one to keep using it")


def _size(item: _Item) -> int:
    return len(item.records) if isinstance(item, _Records) else 1


def _close_at_exit(ref: weakref.ref[BufferedStore]) -> None:
    store = ref()
    if store is not None:
        try:
            store.close()
        except StoreError as err:
            log.error("%s", err)
