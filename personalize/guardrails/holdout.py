"""Holdout: a sticky share of visitors always sees the defaults, so lift is measured.

::

    holdout = Holdout(settings.holdout)              # share: 0.05, salt: "2024-spring"
    holdout.in_holdout("3f2a…")                      # the same answer on every request
    holdout_lift(treated_rewards, holdout_rewards)   # (lift, low, high)

Membership is a seeded hash of the visitor id — ``sha256(f"{salt}:{visitor_id}")``
read as a number in [0, 1) — never ``random()``, so a visitor stays in (or out
of) the holdout on every request and every worker. Changing the salt draws a
new holdout. Holdout decisions are logged as usual (source ``holdout``) but kept
out of the bandit's statistics; comparing their rewards with everyone else's
measures what personalization adds.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import ConfigError
from ._tally import Tally
from .base import Candidates, Guardrail
from .stats import holdout_lift

if TYPE_CHECKING:
    from ..context import Context
    from ..rules.model import RuleOutcome, Slot

__all__ = ["Holdout", "HoldoutSettings", "bucket", "holdout_lift"]

TEXT = ("Shown the standard version: you are in a small group of visitors who always see "
        "it, so we can measure whether personalization really helps.")


class HoldoutSettings(Protocol):
    """The ``guardrails.holdout`` settings this guardrail reads."""

    @property
    def share(self) -> float: ...
    @property
    def salt(self) -> str: ...


#: visitors whose bucket is kept (see :func:`bucket`)
BUCKETS_KEPT = 4096


@lru_cache(maxsize=BUCKETS_KEPT)
def bucket(salt: str, visitor_id: str) -> float:
    """A visitor's stable position in [0, 1) for this salt.

    Every slot of every page asks, and a SHA-256 costs microseconds when its
    code has gone cold between requests, so the last :data:`BUCKETS_KEPT`
    visitors' positions are kept: a returning visitor's is looked up.
    """
    digest = hashlib.sha256(f"{salt}:{visitor_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class Holdout(Guardrail):
    """Force the default for the visitors whose bucket falls below ``share``.

    :param settings: ``settings.holdout``: ``share`` between 0 and 0.5, and a ``salt``.
    :raises ConfigError: ``share`` is outside [0, 0.5].
    """

    name = "holdout"

    def __init__(self, settings: HoldoutSettings) -> None:
        if not 0.0 <= settings.share <= 0.5:
            raise ConfigError("guardrails.holdout.share",
                              f"expected a share between 0 and 0.5, got {settings.share!r}")
        self.share = float(settings.share)
        self.salt = str(settings.salt)
        self._tally = Tally()

    def applies_to(self, slot: Slot) -> bool:
        """False with a share of 0: nobody is held out."""
        return self.share > 0

    def in_holdout(self, visitor_id: str | None) -> bool:
        """True when this visitor belongs to the holdout (never without a visitor id)."""
        return visitor_id is not None and bucket(self.salt, visitor_id) < self.share

    def before(self, context: Context, outcome: RuleOutcome, candidates: Candidates) -> None:
        """Force the default, with source ``holdout``, for a holdout visitor.

        :param context: the request; only ``context.visitor_id`` is read.
        :param outcome: unused; the holdout sees defaults whatever the rules say.
        :param candidates: the working set, edited in place.
        """
        if candidates.forced is not None or not self.in_holdout(context.visitor_id):
            return
        candidates.learn = False
        candidates.explore = False
        candidates.force(candidates.slot.default, self.name, TEXT, source="holdout")
        self._tally.add("held_out")

    def report(self) -> dict[str, Any]:
        """The configured share and salt, and how many slot decisions were held out."""
        return {"enabled": self.share > 0, "share": self.share, "salt": self.salt,
                "held_out": self._tally.snapshot().get("held_out", 0)}
