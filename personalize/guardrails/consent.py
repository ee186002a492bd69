"""Consent: without permission to track, nothing is learned and nothing is tried.

::

    consent = ConsentGuard()
    consent.before(context, outcome, candidates)   # context.consent.tracking is False
    candidates.forced, candidates.learn            # ("hero_default", False)

Do-Not-Track, Global Privacy Control or a declined (or, on opt-in sites,
missing) consent cookie all arrive as ``context.consent.tracking == False``.
Such a request gets rules-only content: the variant a rule pins, or the
default. The bandit does not run, because choosing by a model fitted on other
people's behaviour is still personalization the visitor said no to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._tally import Tally
from .base import Candidates, Guardrail

if TYPE_CHECKING:
    from ..context import Context
    from ..rules.model import RuleOutcome


class ConsentGuard(Guardrail):
    """Rules-only content, no learning and no exploration without tracking consent.

    It has no settings: respecting a visitor's choice is not optional.
    """

    name = "consent"

    def __init__(self) -> None:
        self._tally = Tally()

    def before(self, context: Context, outcome: RuleOutcome, candidates: Candidates) -> None:
        """Force the rule's pin or the default when the visitor has not consented.

        :param context: the request; only ``context.consent`` is read.
        :param outcome: what the rules said; its ``pinned`` variant is kept.
        :param candidates: the working set, edited in place.
        """
        if context.consent.tracking:
            return
        candidates.learn = False
        candidates.explore = False
        pinned = outcome.pinned
        if pinned is not None and pinned in candidates.eligible:
            candidates.force(pinned, self.name, context.consent.explanation, source="rule")
        else:
            candidates.force(candidates.slot.default, self.name, context.consent.explanation,
                             source="default")
        self._tally.add("rules_only")
        self._tally.add(f"reason:{context.consent.reason}")

    def report(self) -> dict[str, Any]:
        """How many slot decisions were rules-only, in total and by consent reason."""
        counts = self._tally.snapshot()
        return {
            "enabled": True,
            "rules_only": counts.get("rules_only", 0),
            "by_reason": {k.split(":", 1)[1]: v for k, v in counts.items()
                          if k.startswith("reason:")},
        }
