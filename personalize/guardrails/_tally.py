"""A thread-safe counter for what a guardrail did, shown by ``report()``."""

from __future__ import annotations

import threading
from collections import Counter


class Tally:
    """Named counts that many request threads may bump at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the count called ``name``."""
        with self._lock:
            self._counts[name] += amount

    def snapshot(self) -> dict[str, int]:
        """A copy of every count, for a report."""
        with self._lock:
            return dict(self._counts)
