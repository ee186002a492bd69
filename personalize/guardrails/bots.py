"""Bots: crawlers and scripts get the default and never count in statistics.

::

    bots = Bots(settings.bots)                       # settings.bots.enabled
    bots.before(context, outcome, candidates)        # context.device.type == "bot"
    candidates.forced, candidates.learn              # ("hero_default", False)

A crawler's clicks are not a person's preferences, and a search engine should
index what every visitor sees by default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ._tally import Tally
from .base import Candidates, Guardrail

if TYPE_CHECKING:
    from ..context import Context
    from ..rules.model import RuleOutcome, Slot

TEXT = "Shown the standard version because this visitor looks like an automated program."


class BotSettings(Protocol):
    """The ``guardrails.bots`` settings this guardrail reads."""

    @property
    def enabled(self) -> bool: ...


class Bots(Guardrail):
    """Default content and no learning for requests classified as bots.

    :param settings: ``settings.bots``; ``enabled: false`` lets bots through
        (useful when checking personalization with a headless browser).
    """

    name = "bots"

    def __init__(self, settings: BotSettings) -> None:
        self.enabled = bool(settings.enabled)
        self._tally = Tally()

    def applies_to(self, slot: Slot) -> bool:
        """False when switched off."""
        return self.enabled

    def before(self, context: Context, outcome: RuleOutcome, candidates: Candidates) -> None:
        """Force the default for a bot.

        :param context: the request; only ``context.device.type`` is read.
        :param outcome: unused; a bot gets the default whatever the rules say.
        :param candidates: the working set, edited in place.
        """
        if not self.enabled or context.device.type != "bot":
            return
        candidates.learn = False
        candidates.explore = False
        candidates.force(candidates.slot.default, self.name, TEXT, source="default")
        self._tally.add("bots")

    def report(self) -> dict[str, Any]:
        """Whether it is on, and how many slot decisions went to bots."""
        return {"enabled": self.enabled, "bots": self._tally.snapshot().get("bots", 0)}
