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
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..context.history import count_of
from ..exceptions import ConfigError
from ._tally import Tally
from ._words import PERIOD_PHRASES, times, titles, was
from .base import Candidates, Guardrail, PerSlot, tagged

if TYPE_CHECKING:
    from ..context import Context
    from ..rules.model import RuleOutcome, Slot

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


def count_recent(context: Context, candidates: Candidates, per: str, now: float, *,
                 variant: str | None = None, tags: frozenset[str] | None = None) -> int:
    """How many of the visitor's exposures in ``per`` showed ``variant`` (or any of ``tags``).

    Exposures decided earlier on this same request count too, whatever the period.

    :param per: ``visit``, ``day`` or ``week`` (the rolling period before ``now``).
    :param now: epoch seconds; unused for ``visit``.
    :param variant: count the exposures of this variant id, in any slot...
    :param tags: ...or, when given, those of variants carrying any of these tags.
    """
    history = context.history
    since = history.visit_started if per == "visit" else now - PERIOD_SECONDS[per]
    earlier = 0 if since is None else history.count_since(since, variant=variant, tags=tags)
    return earlier + count_of(candidates.shown_this_request, variant, tags)


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
        self._caps = PerSlot(self._caps_of)

    def applies_to(self, slot: Slot) -> bool:
        """True when some cap concerns a variant of the slot other than its default."""
        return any(c.marked is not None or c.settings.variant in slot.variants
                   for c in self._caps(slot))

    def before(self, context: Context, outcome: RuleOutcome, candidates: Candidates) -> None:
        """Remove every eligible variant whose cap is reached, one reason per cap.

        :param context: the request; its history's exposures are counted.
        :param outcome: unused.
        :param candidates: the working set, edited in place.
        """
        if not self.caps or candidates.settled:
            return
        slot = candidates.slot
        now: float | None = None
        for cap, tags, marked in self._caps(slot):
            # which eligible variants the cap concerns, before counting anything:
            # most caps name another slot's variants and cost nothing here
            eligible = candidates.eligible
            if marked is None:
                if cap.variant not in eligible:
                    continue
                hits = [cap.variant]
            elif marked.isdisjoint(eligible):
                continue
            else:
                hits = [v for v in eligible if v in marked]
            if now is None:
                now = self.clock()
            count = count_recent(context, candidates, cap.per, now, variant=cap.variant,
                                 tags=tags)
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

    def _caps_of(self, slot: Slot) -> tuple[_SlotCap, ...]:
        """The caps that may concern the slot.

        A variant cap may concern any slot but the one whose default it names
        (a variant id may be reused); a tag cap concerns the slot's variants
        carrying the tag, if it has any.
        """
        caps: list[_SlotCap] = []
        for cap in self.caps:
            if cap.tag is None:
                if cap.variant != slot.default:
                    caps.append(_SlotCap(cap, None, None))
            elif marked := tagged(slot, frozenset((cap.tag,))):
                caps.append(_SlotCap(cap, frozenset((cap.tag,)), marked))
        return tuple(caps)


class _SlotCap(NamedTuple):
    """A cap as it bears on one slot.

    :param tags: ``{tag}`` for a tag cap, ``None`` for a variant cap.
    :param marked: the slot's variants the tag marks; ``None`` for a variant cap.
    """

    settings: CapSettings
    tags: frozenset[str] | None
    marked: frozenset[str] | None

