"""End of journey: no upsell at the last touch (checkout done, cancellation).

::

    end = EndOfJourney(settings.end_of_journey)      # blocked_tags: [upsell, promo]
    end.before(context, outcome, candidates)         # a rule set stage: end
    # "'Gold plan' was left out: you have finished what you came to do."

The end of an experience is what people remember; a thank-you page that tries
to sell again spoils it. When a rule marks the request as the end of a journey
(``outcome.stage == "end"``), variants with a blocked tag are removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ._tally import Tally
from ._words import titles, was
from .base import Candidates, Guardrail, PerSlot, tagged

if TYPE_CHECKING:
    from ..context import Context
    from ..rules.model import RuleOutcome, Slot


class EndOfJourneySettings(Protocol):
    """The ``guardrails.end_of_journey`` settings this guardrail reads."""

    @property
    def blocked_tags(self) -> Iterable[str]: ...


class EndOfJourney(Guardrail):
    """Remove variants with blocked tags at the end of a journey.

    :param settings: ``settings.end_of_journey``; ``blocked_tags`` lists the
        tags (``upsell``, ``promo``…) that do not belong at the last touch.
    """

    name = "end_of_journey"

    def __init__(self, settings: EndOfJourneySettings) -> None:
        self.blocked_tags = frozenset(settings.blocked_tags)
        self._tally = Tally()
        self._blocked = PerSlot(lambda slot: tagged(slot, self.blocked_tags))

    def applies_to(self, slot: Slot) -> bool:
        """True when some variant of the slot carries a blocked tag."""
        return bool(self._blocked(slot))

    def before(self, context: Context, outcome: RuleOutcome, candidates: Candidates) -> None:
        """Remove blocked variants when the rules say the journey has ended.

        :param context: unused.
        :param outcome: what the rules said; only ``stage`` is read.
        :param candidates: the working set, edited in place.
        """
        if outcome.stage != "end" or candidates.settled:
            return
        slot = candidates.slot
        marked = self._blocked(slot)
        blocked = [v for v in candidates.eligible if v in marked]
        if blocked:
            candidates.remove(blocked, self.name,
                              f"{titles(slot, blocked)} {was(blocked)} left out: you have "
                              f"finished what you came to do, so no more offers now.")
            self._tally.add("removed", len(blocked))
            self._tally.add("requests")

    def report(self) -> dict[str, Any]:
        """The blocked tags, and how many variants and slot decisions were trimmed."""
        counts = self._tally.snapshot()
        return {"enabled": bool(self.blocked_tags), "blocked_tags": sorted(self.blocked_tags),
                "removed": counts.get("removed", 0), "decisions": counts.get("requests", 0)}
