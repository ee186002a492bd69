"""The annoyance budget: at most N promotions per visit, across all slots.

::

    budget = AnnoyanceBudget(settings.annoyance_budget)   # tags: [promo, upsell], max_per_visit: 3
    budget.before(context, outcome, candidates)
    # "'Big sale' was skipped: you have already seen 3 promotions during this visit."

Frequency caps stop one variant from nagging; the budget stops the page as a
whole from nagging. Every exposure this visit (from the profile, plus those
already decided for other slots on this request) whose variant carries one of
the budget's tags counts; once the budget is spent, tagged variants are removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import ConfigError
from ._tally import Tally
from ._words import titles, was
from .base import Candidates, Guardrail, PerSlot, tagged
from .frequency import count_recent

if TYPE_CHECKING:
    from ..context import Context
    from ..rules.model import RuleOutcome, Slot


class AnnoyanceSettings(Protocol):
    """The ``guardrails.annoyance_budget`` settings this guardrail reads."""

    @property
    def tags(self) -> Iterable[str]: ...
    @property
    def max_per_visit(self) -> int | None: ...


class AnnoyanceBudget(Guardrail):
    """Remove promotional variants once a visit has seen its budget of them.

    :param settings: ``settings.annoyance_budget``; no tags or ``max_per_visit:
        null`` turns it off.
    :raises ConfigError: ``max_per_visit`` is below 1.
    """

    name = "annoyance_budget"

    def __init__(self, settings: AnnoyanceSettings) -> None:
        self.tags = frozenset(settings.tags)
        self.max_per_visit = settings.max_per_visit
        if self.max_per_visit is not None and self.max_per_visit < 1:
            raise ConfigError("guardrails.annoyance_budget.max_per_visit",
                              f"expected at least 1 (or null for no budget), "
                              f"got {self.max_per_visit!r}")
        self._tally = Tally()
        self._tagged = PerSlot(lambda slot: tagged(slot, self.tags))

    @property
    def enabled(self) -> bool:
        """True when there is a budget to keep."""
        return bool(self.tags) and self.max_per_visit is not None

    def applies_to(self, slot: Slot) -> bool:
        """True when there is a budget and some variant of the slot counts against it."""
        return self.enabled and bool(self._tagged(slot))

    def before(self, context: Context, outcome: RuleOutcome, candidates: Candidates) -> None:
        """Remove tagged variants when this visit's budget is spent.

        :param context: the request; its history's exposures this visit are counted.
        :param outcome: unused.
        :param candidates: the working set, edited in place.
        """
        if not self.enabled or candidates.settled or self.max_per_visit is None:
            return
        slot = candidates.slot
        promotions = self._tagged(slot)
        if promotions.isdisjoint(candidates.eligible):
            return
        offered = [v for v in candidates.eligible if v in promotions]
        spent = count_recent(context, candidates, "visit", 0.0, tags=self.tags)
        if spent >= self.max_per_visit:
            noun = "promotion" if spent == 1 else "promotions"
            candidates.remove(offered, self.name,
                              f"{titles(slot, offered)} {was(offered)} skipped: you have already "
                              f"seen {spent} {noun} during this visit.")
            self._tally.add("removed", len(offered))
            self._tally.add("requests")

    def report(self) -> dict[str, Any]:
        """The budget, and how many variants and slot decisions it trimmed."""
        counts = self._tally.snapshot()
        return {"enabled": self.enabled, "tags": sorted(self.tags),
                "max_per_visit": self.max_per_visit, "removed": counts.get("removed", 0),
                "decisions": counts.get("requests", 0)}
