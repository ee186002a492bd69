"""Ramp-up: a new variant reaches only a share of visitors until the monitor can judge it.

::

    ramp = RampUp(settings.experience_monitor.ramp_up)   # share: 0.2, exposures: 300
    ramp.is_new(exposures=120)                            # True: still ramping up
    ramp.reaches("3f2a…", "promo", "promo-bundle")        # the same answer on every request

A staged rollout, as experimentation tools offer it: until the experience
monitor has counted ``exposures`` exposures of a variant, only the ``share`` of
visitors whose sticky bucket falls below the share may be shown it; everyone
else keeps the default and the variants already judged. The bucket is a seeded
hash of visitor, slot and variant — never ``random()`` — so a visitor stays in
(or out of) a variant's ramp-up on every request and worker, each variant draws
its own visitors, and the policy's propensities stay exact (the eligible set is
a function of the request).

Two things follow. Fewer people meet a variant nobody has judged yet. And
meanwhile the default keeps most of the traffic, which is what the harm test
compares a variant against: with the default's rate known more precisely, a
harmful newcomer is caught after fewer of its own exposures (about half as
many when the default has several times its traffic).

The price is time: a variant needs ``exposures / share`` or more visitors
before everyone may see it, and the bandit learns about it that much later.
Off by default (``share: 1``); :class:`~.experience.ExperienceMonitor` applies
it, to bandit slots only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ..buckets import position
from ..exceptions import ConfigError
from ._words import titles

if TYPE_CHECKING:
    from ..rules.model import Slot

__all__ = ["RampUp", "RampUpSettings"]


class RampUpSettings(Protocol):
    """The ``guardrails.experience_monitor.ramp_up`` settings."""

    @property
    def share(self) -> float: ...
    @property
    def exposures(self) -> int: ...


class RampUp:
    """Which variants are new, and which visitors a new variant may reach.

    :param settings: ``share`` in (0, 1] (1: no ramp-up) and ``exposures`` >= 0
        (0: no variant is new).
    :raises ConfigError: ``share`` or ``exposures`` out of range.
    """

    def __init__(self, settings: RampUpSettings) -> None:
        if not 0.0 < settings.share <= 1.0:
            raise ConfigError("guardrails.experience_monitor.ramp_up.share",
                              f"expected a share above 0 and at most 1, got {settings.share!r}")
        if settings.exposures < 0:
            raise ConfigError("guardrails.experience_monitor.ramp_up.exposures",
                              f"expected 0 or more exposures, got {settings.exposures!r}")
        self.share = float(settings.share)
        self.exposures = int(settings.exposures)

    @property
    def active(self) -> bool:
        """False when the settings turn ramp-up off."""
        return self.share < 1.0 and self.exposures > 0

    def is_new(self, exposures: float) -> bool:
        """True while a variant with this many counted exposures is still ramping up."""
        return self.active and exposures < self.exposures

    def reaches(self, visitor_id: str | None, slot: str, variant: str) -> bool:
        """True when this visitor is among the ``share`` a new variant may be shown to.

        :param visitor_id: the visitor's id; a visitor without one is never reached.
        """
        if visitor_id is None:
            return False
        return position("ramp_up", slot, variant, visitor_id) < self.share

    def text(self, slot: Slot, variants: Sequence[str]) -> str:
        """Why new variants were held back, for the decision's reasons."""
        one = len(variants) == 1
        return (f"{titles(slot, variants)} {'is' if one else 'are'} new and shown to only "
                f"{self.share:.0%} of visitors at first, until enough people have seen "
                f"{'it' if one else 'them'} to tell whether {'it puts' if one else 'they put'} "
                f"anyone off.")

    def report(self) -> dict[str, float | int]:
        """The settings, for the monitor's report."""
        return {"share": self.share, "exposures": self.exposures}
