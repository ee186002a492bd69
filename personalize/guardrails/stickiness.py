"""Stickiness: a visitor keeps a slot's variant, so pages stay consistent.

::

    sticky = Stickiness(settings.stickiness)         # scope: visit | visitor | none
    sticky.before(context, outcome, candidates)
    # "Kept 'Big sale' so the page stays consistent during your visit."

The variant last shown in the slot (``context.history.last_shown``, or earlier
on this same request) is forced again if it is still eligible. Scope ``visit``
keeps it while the visit lasts, ``visitor`` for as long as the profile
remembers it, ``none`` never. It runs after every guardrail that removes
variants, so a variant that is now capped, paused or unfit is not kept.

A kept variant is reported with source ``guardrail`` and ``learn`` false: the
bandit already learned from the first exposure, and a repeat is not a fresh,
independent choice — counting it would credit one choice many times, with a
propensity (1.0) that the policy never had.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import ConfigError
from ._tally import Tally
from ._words import title
from .base import Candidates, Guardrail, PerSlot

if TYPE_CHECKING:
    from ..context import Context
    from ..rules.model import RuleOutcome, Slot

SCOPES = ("visit", "visitor", "none")
_SCOPE_PHRASES = {"visit": "during your visit", "visitor": "from one visit to the next"}


class StickinessSettings(Protocol):
    """The ``guardrails.stickiness`` settings this guardrail reads."""

    @property
    def scope(self) -> str: ...


class Stickiness(Guardrail):
    """Force the variant the visitor last saw in this slot, while it is still allowed.

    :param settings: ``settings.stickiness``; ``scope`` is ``visit``, ``visitor`` or ``none``.
    :raises ConfigError: an unknown scope.
    """

    name = "stickiness"

    def __init__(self, settings: StickinessSettings) -> None:
        if settings.scope not in SCOPES:
            raise ConfigError("guardrails.stickiness.scope",
                              f"expected one of {', '.join(SCOPES)}, got {settings.scope!r}")
        self.scope = settings.scope
        self._tally = Tally()
        self._texts = PerSlot(self._texts_of)

    def applies_to(self, slot: Slot) -> bool:
        """False with scope ``none``: nothing is kept anywhere."""
        return self.scope != "none"

    def previous(self, context: Context, candidates: Candidates) -> str | None:
        """The variant to keep for this slot within the scope, if any."""
        slot = candidates.slot.name
        for exposure in reversed(candidates.shown_this_request):
            if exposure.slot == slot:
                return exposure.variant
        last = context.history.last_shown.get(slot)
        if last is None:
            return None
        variant, at = last
        if self.scope == "visit":
            started = context.history.visit_started
            if started is None or at < started:
                return None
        return variant

    def before(self, context: Context, outcome: RuleOutcome, candidates: Candidates) -> None:
        """Keep the previous variant, with ``learn`` off.

        :param context: the request; its history's ``last_shown`` is read.
        :param outcome: unused; the rules' verdict is already in ``candidates.eligible``.
        :param candidates: the working set, edited in place.
        """
        if self.scope == "none" or candidates.forced is not None:
            return
        variant = self.previous(context, candidates)
        if variant is None or variant not in candidates.eligible:
            return
        candidates.force(variant, self.name, self._texts(candidates.slot)[variant])
        candidates.learn = False
        self._tally.add("kept")

    def report(self) -> dict[str, Any]:
        """The scope, and how many slot decisions repeated the previous variant."""
        return {"enabled": self.scope != "none", "scope": self.scope,
                "kept": self._tally.snapshot().get("kept", 0)}

    def _texts_of(self, slot: Slot) -> dict[str, str]:
        """The reason for keeping each variant of the slot, made once."""
        return {v: f"Kept {title(slot, v)} so the page stays consistent "
                   f"{_SCOPE_PHRASES[self.scope]}." for v in slot.variants}
