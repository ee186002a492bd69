"""Exploration bounds: every live variant keeps a floor share; none exceeds a cap.

::

    bounds = ExplorationBounds(settings.exploration)   # floor: 0.02, cap: 0.9
    bounds.bounds()                                    # (0.02, 0.9)
    bounds.before(context, outcome, candidates)        # candidates.floor, candidates.cap

The policy applies the bounds when it turns scores into probabilities; this
guardrail only decides them per request. It runs last, after every guardrail
that may forbid exploration (consent, bots, holdout, ``sensitive``): when
exploration is off the floor is 0 and the cap 1, so the policy exploits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import ConfigError
from ._tally import Tally
from .base import Candidates, Guardrail

if TYPE_CHECKING:
    from ..context import Context
    from ..rules.model import RuleOutcome


class ExplorationSettings(Protocol):
    """The ``guardrails.exploration`` settings this guardrail reads."""

    @property
    def floor(self) -> float: ...
    @property
    def cap(self) -> float: ...


class ExplorationBounds(Guardrail):
    """Hand the policy its floor and cap, or none when exploration is forbidden.

    :param settings: ``settings.exploration``: ``0 <= floor < cap <= 1``.
    :raises ConfigError: the bounds are out of order or out of [0, 1].
    """

    name = "exploration"

    def __init__(self, settings: ExplorationSettings) -> None:
        if not 0.0 <= settings.floor < settings.cap <= 1.0:
            raise ConfigError("guardrails.exploration",
                              f"expected 0 <= floor < cap <= 1, got floor={settings.floor!r} "
                              f"and cap={settings.cap!r}")
        self.floor = float(settings.floor)
        self.cap = float(settings.cap)
        self._tally = Tally()

    def bounds(self) -> tuple[float, float]:
        """``(floor, cap)``: the least and most share any one eligible variant may get."""
        return self.floor, self.cap

    def before(self, context: Context, outcome: RuleOutcome, candidates: Candidates) -> None:
        """Set ``candidates.floor`` and ``candidates.cap`` for the policy.

        :param context: unused.
        :param outcome: unused.
        :param candidates: the working set; its ``explore`` flag is final by now.
        """
        if candidates.forced is not None:
            return
        if candidates.explore:
            candidates.floor, candidates.cap = self.floor, self.cap
            self._tally.add("bounded")
        else:
            candidates.floor, candidates.cap = 0.0, 1.0
            self._tally.add("exploit_only")

    def report(self) -> dict[str, Any]:
        """The bounds, and how many decisions had them or had exploration off."""
        counts = self._tally.snapshot()
        return {"enabled": True, "floor": self.floor, "cap": self.cap,
                "bounded": counts.get("bounded", 0),
                "exploit_only": counts.get("exploit_only", 0)}
