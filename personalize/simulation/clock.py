"""A clock the simulation moves by hand.

>>> clock = SimClock(start=1_795_000_000.0)
>>> app = create_app({"PERSONALIZE_CLOCK": clock})
>>> clock.advance(60)            # a minute passes for the engine, instantly

Everything in personalize that reads the time takes a clock argument, so a
simulated week runs in seconds and tests never sleep.
"""

from __future__ import annotations


class SimClock:
    """Epoch seconds that only move forward, when told to.

    :param start: the epoch time the simulation starts at.
    """

    def __init__(self, start: float) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        """The current simulated epoch time."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backward)."""
        if seconds < 0:
            raise ValueError(f"time only moves forward: expected seconds >= 0, got {seconds!r}")
        self.now += seconds

    def advance_to(self, when: float) -> None:
        """Move time forward to ``when``; a time already past changes nothing."""
        self.now = max(self.now, float(when))

    def __repr__(self) -> str:
        return f"SimClock(now={self.now!r})"
