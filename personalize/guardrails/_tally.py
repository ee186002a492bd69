"""A thread-safe counter for what a guardrail did, shown by ``report()``."""

from __future__ import annotations

import threading


class Tally:
    """Named counts that many request threads may bump at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the count called ``name``.

        It runs on the request path, several times a decision: a plain dict
        and an explicit acquire cost half of ``with`` and a ``Counter``.
        """
        counts = self._counts
        self._lock.acquire()
        try:
            counts[name] = counts.get(name, 0) + amount
        finally:
            self._lock.release()

    def snapshot(self) -> dict[str, int]:
        """A copy of every count, for a report."""
        with self._lock:
            return dict(self._counts)
