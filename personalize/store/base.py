"""The one small interface every store backend implements.

A store keeps four kinds of data, each with the access pattern it needs:

* **profiles** — one JSON-able dict per visitor id (the visitor's history);
* **the log** — an append-only sequence of decision, exposure and event records,
  read back for offline evaluation, reports and the dashboard;
* **statistics** — named groups of float arrays that only ever grow by addition
  (a bandit's ``A += x xᵀ``, ``b += r x``), so deltas from many workers merge
  without coordination;
* **state** — small JSON documents (a paused variant, a rule-set version) and
  one-shot claims (an event accepted once per decision).

Any backend failure surfaces as :class:`~personalize.exceptions.StoreError`; the
request path treats that as "serve defaults", never as a 500.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import orjson

Record = Mapping[str, Any]
Stats = dict[str, np.ndarray]
Shape = tuple[int, ...]


class Store(ABC):
    """Base class of the memory, SQLite and Redis backends."""

    #: set by :meth:`close`; a closed store refuses every operation
    _closed: bool = False

    @property
    def closed(self) -> bool:
        """True once the store was closed."""
        return self._closed

    # -- profiles ---------------------------------------------------------
    @abstractmethod
    def get_profile(self, visitor_id: str) -> dict[str, Any] | None:
        """The visitor's profile, or ``None`` when there is none."""

    @abstractmethod
    def put_profile(self, visitor_id: str, profile: Mapping[str, Any]) -> None:
        """Replace the visitor's profile; visible to the next ``get_profile``."""

    # -- the log ----------------------------------------------------------
    @abstractmethod
    def append(self, records: Sequence[Record]) -> None:
        """Append records; each has at least ``ts`` (epoch seconds) and ``type``.

        Records naming a visitor carry it under ``visitor``, so they can be
        forgotten. Appending may be buffered; :meth:`flush` makes it durable.
        """

    @abstractmethod
    def read_log(
        self,
        *,
        since: float = 0.0,
        types: Collection[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Records with ``ts >= since`` in append order, optionally by type."""

    @abstractmethod
    def tail(self, cursor: str | None, *, limit: int = 10_000,
             types: Collection[str] | None = None) -> tuple[list[dict[str, Any]], str]:
        """Records appended after ``cursor``, in append order, and the cursor to pass next.

        ``None`` starts at the current end of the log. With ``types``, other
        records are skipped (before they are decoded) and the cursor moves past
        them; at most ``limit`` records are looked at per call. Unlike :meth:`read_log`,
        which selects by time, a tail sees a record that arrived late (delivered
        after an outage with an old ``ts``) and never returns a record twice:
        it is how every worker follows the shared log.
        """

    # -- statistics -------------------------------------------------------
    @abstractmethod
    def add_stats(self, key: str, delta: Mapping[str, np.ndarray]) -> None:
        """Add ``delta`` element-wise into the arrays stored under ``key``.

        An array not yet stored counts as zeros of the delta's shape; a shape
        that differs from the stored one raises ``ValueError``.
        """

    @abstractmethod
    def get_stats(self, key: str) -> Stats:
        """The arrays under ``key`` (an empty dict when nothing was added)."""

    # -- state and claims -------------------------------------------------
    @abstractmethod
    def get_state(self, key: str) -> dict[str, Any] | None:
        """A small JSON document, or ``None``."""

    @abstractmethod
    def set_state(self, key: str, value: Mapping[str, Any] | None) -> None:
        """Store a small JSON document; ``None`` deletes it."""

    @abstractmethod
    def list_state(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Every state document whose key starts with ``prefix``."""

    @abstractmethod
    def claim(self, key: str, ttl_seconds: float) -> bool:
        """Atomically claim ``key``: true the first time, false while it lives."""

    # -- privacy ----------------------------------------------------------
    @abstractmethod
    def forget(self, visitor_id: str) -> int:
        """Erase the visitor's profile and log records; the number removed."""

    @abstractmethod
    def purge(self, older_than: float) -> int:
        """Erase profiles last written and records logged before ``older_than``."""

    # -- lifecycle --------------------------------------------------------
    def ping(self) -> bool:
        """True when the backend answers; never raises."""
        try:
            self.get_state("personalize:ping")
        except Exception:  # noqa: BLE001 - a health probe reports, it does not raise
            return False
        return True

    def flush(self) -> None:  # noqa: B027 - a hook: unbuffered backends have nothing to do
        """Make everything appended so far durable."""

    def close(self) -> None:
        """Flush and release connections and threads."""
        self.flush()


# -- helpers shared by the backends -----------------------------------------
# Every backend stores the same bytes for the same data, and refuses the same
# bad input with the same message, so these live next to the interface.


def dumps(value: Any) -> str:
    """Compact JSON, the one serialisation every backend stores.

    orjson is about ten times faster than the standard library here, and
    every page view serialises its exposures and the visitor's profile.
    Keys that are not strings (``{1: ...}``) are written as strings, but
    orjson's option for that slows every dict by about 40%, string keys too,
    and the request path has only string keys: it is used when a key needs it.
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: a key that is not a str, or a bad value
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def dumps_mapping(value: Mapping[str, Any]) -> str:
    """:func:`dumps` of a record, profile or state document given as any mapping.

    A plain dict is written as it is: copying each of a page's records into
    a new dict only to serialise it was a tenth of what appending them cost.
    """
    return dumps(value if type(value) is dict else dict(value))


def loads(text: str | bytes) -> Any:
    """Parse what :func:`dumps` wrote."""
    return orjson.loads(text)


def check_records(records: Sequence[Record]) -> None:
    """Refuse records a backend could not index, before anything is written.

    :param records: records about to be appended.
    :raises ValueError: a record lacks a numeric ``ts`` or a string ``type``,
        or names a ``visitor`` that is not a non-empty string.
    """
    for index, record in enumerate(records):
        ts = record.get("ts")
        # ``type(ts) is float`` first: it is what every record the engine builds
        # carries, and it settles the check without the two isinstance calls
        if type(ts) is not float and (isinstance(ts, bool) or not isinstance(ts, (int, float))):
            raise ValueError(
                f"record {index}: expected 'ts' as epoch seconds (a number), got {ts!r}"
            )
        if not isinstance(record.get("type"), str):
            raise ValueError(
                f"record {index}: expected 'type' as a string, got {record.get('type')!r}"
            )
        visitor = record.get("visitor")
        if visitor is not None and (not isinstance(visitor, str) or not visitor):
            raise ValueError(
                f"record {index}: expected 'visitor' as a non-empty string id, got {visitor!r}"
            )


def check_delta(delta: Mapping[str, Any]) -> Stats:
    """``delta`` as float64 arrays (copies), so a caller's later edits cannot leak in.

    :param delta: array name → array-like of numbers.
    :raises ValueError: a name is empty or a value is not numeric.
    """
    arrays: Stats = {}
    for name, value in delta.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"expected a non-empty string as array name, got {name!r}")
        arrays[name] = np.array(value, dtype=np.float64)
    return arrays


def check_shapes(key: str, stored: Mapping[str, Shape], delta: Stats) -> None:
    """Refuse a delta whose arrays do not match the shapes already stored.

    :param key: the statistics key, named in the message.
    :param stored: array name → shape currently stored under ``key``.
    :param delta: the arrays about to be added.
    :raises ValueError: some array's shape differs from the stored one.
    """
    for name, array in delta.items():
        shape = stored.get(name)
        if shape is not None and tuple(shape) != array.shape:
            raise ValueError(
                f"stats {key!r}[{name!r}]: stored shape is {tuple(shape)}, delta has "
                f"{array.shape}; a statistic keeps its shape for life, so use a new key"
            )


def array_to_bytes(array: np.ndarray) -> bytes:
    """Little-endian float64 bytes, identical on every platform."""
    return np.ascontiguousarray(array, dtype="<f8").tobytes()


def array_from_bytes(data: bytes, shape: Sequence[int]) -> np.ndarray:
    """A writable float64 array from :func:`array_to_bytes` output."""
    return np.frombuffer(data, dtype="<f8").astype(np.float64).reshape(tuple(shape))
