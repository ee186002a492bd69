"""Frequency caps: the same variant, or anything with a tag, at most N times per period.

::

    caps = FrequencyCaps(settings.frequency_caps, clock=time.time)
    # - {variant: big_sale, max: 3, per: day}
    # - {tag: upsell, max: 5, per: week}
    caps.before(context, outcome, candidates)
    # "'Big sale' was skipped: you saw it 3 times today."

Counts come from the visitor's recent exposures (``context.history.exposures``)
plus the exposures already decided for other slots on this same request
(``candidates.shown_this_request``). ``visit`` counts since the visit began;
``day`` and ``week`` are the rolling 24 hours and 7 days before now. A variant
cap counts that variant id in every slot, since a marketer who reuses an id
reuses the content. The profile keeps only its newest exposures
(:data:`~personalize.context.history.MAX_EXPOSURES`), so a cap above that many
per period cannot be enforced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import ConfigError
from ._tally import Tally
from ._words import PERIOD_PHRASES, times, titles, was
from .base import Candidates, Guardrail

if TYPE_CHECKING:
    from ..context import Context
    from ..context.history import Exposure
    from ..rules.model import RuleOutcome

PERIOD_SECONDS: dict[str, float] = {"day": 86400.0, "week": 7 * 86400.0}


class CapSettings(Protocol):
    """One item of ``guardrails.frequency_caps``: exactly one of variant and tag."""

    @property
    def variant(self) -> str | None: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def max(self) -> int: ...
    @property
    def per(self) -> str: ...


def recent_exposures(context: Context, candidates: Candidates, per: str,
                     now: float) -> list[Exposure]:
    """The visitor's exposures in the period ``per`` (``visit``, ``day``, ``week``).

    Includes the exposures decided earlier on this same request.
    """
    history = context.history
    if per == "visit":
        since = history.visit_started
        earlier = [] if since is None else history.exposures_since(since)
    else:
        earlier = history.exposures_since(now - PERIOD_SECONDS[per])
    return [*earlier, *candidates.shown_this_request]


class FrequencyCaps(Guardrail):
    """Remove variants the visitor has seen as often as a cap allows.

    :param caps: ``settings.frequency_caps``, a sequence of cap items.
    :param clock: returns epoch seconds (the end of the ``day``/``week`` window).
    :raises ConfigError: a cap names neither or both of variant and tag, has an
        unknown period, or a maximum below 1.
    """

    name = "frequency_caps"

    def __init__(self, caps: Iterable[CapSettings], *,
                 clock: Callable[[], float] = time.time) -> None:
        self.caps: Sequence[CapSettings] = tuple(caps)
        for index, cap in enumerate(self.caps):
            where = f"guardrails.frequency_caps[{index}]"
            if (cap.variant is None) == (cap.tag is None):
                raise ConfigError(where, "expected exactly one of 'variant' and 'tag', got "
                                         f"variant={cap.variant!r} and tag={cap.tag!r}")
            if cap.per not in ("visit", *PERIOD_SECONDS):
                raise ConfigError(where, f"expected per: visit, day or week, got {cap.per!r}")
            if cap.max < 1:
                raise ConfigError(where, f"expected max of at least 1, got {cap.max!r}")
        self.clock = clock
        self._tally = Tally()

    def before(self, context: Context, outcome: RuleOutcome, candidates: Candidates) -> None:
        """Remove every eligible variant whose cap is reached, one reason per cap.

        :param context: the request; its history's exposures are counted.
        :param outcome: unused.
        :param candidates: the working set, edited in place.
        """
        if not self.caps or candidates.settled:
            return
        now = self.clock()
        slot = candidates.slot
        for cap in self.caps:
            # which eligible variants the cap concerns, before counting anything:
            # most caps name another slot's variants and cost nothing here
            if cap.variant is not None:
                hits = [cap.variant]
            else:
                hits = [v for v in candidates.eligible if cap.tag in _tags(candidates, v)]
            hits = [v for v in hits if v in candidates.eligible and v != slot.default]
            if not hits:
                continue
            shown = recent_exposures(context, candidates, cap.per, now)
            if cap.variant is not None:
                count = sum(1 for e in shown if e.variant == cap.variant)
            else:
                count = sum(1 for e in shown if cap.tag in e.tags)
            if count < cap.max:
                continue
            period = PERIOD_PHRASES[cap.per]
            if cap.variant is not None:
                text = f"{titles(slot, hits)} was skipped: you saw it {times(count)} {period}."
            else:
                text = (f"{titles(slot, hits)} {was(hits)} skipped: you already saw "
                        f"'{cap.tag}' content {times(count)} {period}.")
            candidates.remove(hits, self.name, text)
            self._tally.add("removed", len(hits))
            self._tally.add(f"cap:{cap.variant or '#' + str(cap.tag)}/{cap.per}")

    def report(self) -> dict[str, Any]:
        """The caps, and how often each removed something."""
        counts = self._tally.snapshot()
        return {
            "enabled": bool(self.caps),
            "caps": [{"variant": c.variant, "tag": c.tag, "max": c.max, "per": c.per}
                     for c in self.caps],
            "removed": counts.get("removed", 0),
            "by_cap": {k[4:]: v for k, v in counts.items() if k.startswith("cap:")},
        }


def _tags(candidates: Candidates, variant_id: str) -> frozenset[str]:
    variant = candidates.slot.variants.get(variant_id)
    return frozenset() if variant is None else variant.tags
