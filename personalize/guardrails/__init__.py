"""Guardrails: the constraints and monitors that keep personalization humane.

::

    guardrails = build_guardrails(settings, store, clock=time.time, slots=rule_set.slots)
    chain = applicable(guardrails, slot)       # once per slot: the others are no-ops there
    candidates = Candidates(slot, list(outcome.eligible), shown_this_request=shown)
    for guardrail in chain:
        guardrail.before(context, outcome, candidates)
    # then: candidates.forced → serve it (source candidates.forced_source), else the
    # policy chooses among candidates.eligible within candidates.floor/cap,
    # exploring only if candidates.explore, learning only if candidates.learn.

They run in this order, and the order matters:

1. ``consent`` — no consent: the rule's pin or the default; nothing else matters.
2. ``bots`` — a bot gets the default.
3. ``holdout`` — a holdout visitor gets the default (source ``holdout``).
4. ``experience_monitor`` — paused variants go, before anything may pick them.
5. ``sensitive`` — only calm variants, no exploration.
6. ``end_of_journey`` — no upsell at the last touch.
7. ``frequency_caps`` — nothing seen too often.
8. ``annoyance_budget`` — no more promotions this visit once the budget is spent.
9. ``stickiness`` — keep the previous variant, *after* every removal, so a kept
   variant is one that is still allowed.
10. ``exploration`` — floor and cap for the policy, *last*, once every guardrail
    that may forbid exploration has spoken.
11. ``transparency`` — reports only.

The first guardrail to force a variant wins; the default is never removed.
``composite reward`` is a rule-file check, :func:`objective_warnings`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .annoyance import AnnoyanceBudget
from .base import Candidates, Guardrail
from .bots import Bots
from .composite_reward import objective_warnings
from .consent import ConsentGuard
from .end_of_journey import EndOfJourney
from .experience import ExperienceMonitor
from .exploration import ExplorationBounds
from .frequency import FrequencyCaps
from .holdout import Holdout
from .sensitive import Sensitive
from .stats import holdout_lift
from .stickiness import Stickiness
from .transparency import Transparency, describe_context, why_text

if TYPE_CHECKING:
    from ..rules.model import Slot
    from ..store.base import Store

__all__ = [
    "GUARDRAIL_NAMES", "AnnoyanceBudget", "Bots", "Candidates", "ConsentGuard", "EndOfJourney",
    "ExperienceMonitor", "ExplorationBounds", "FrequencyCaps", "Guardrail", "Holdout",
    "Sensitive", "Stickiness", "Transparency", "applicable", "build_guardrails",
    "describe_context", "holdout_lift", "objective_warnings", "why_text",
]

#: Every guardrail's name (its key under ``guardrails:``), in the order they run.
GUARDRAIL_NAMES: tuple[str, ...] = (
    ConsentGuard.name, Bots.name, Holdout.name, ExperienceMonitor.name, Sensitive.name,
    EndOfJourney.name, FrequencyCaps.name, AnnoyanceBudget.name, Stickiness.name,
    ExplorationBounds.name, Transparency.name,
)


def build_guardrails(settings: Any, store: Store, clock: Callable[[], float] = time.time, *,
                     slots: Mapping[str, Slot] | None = None,
                     previous: Sequence[Guardrail] = ()) -> list[Guardrail]:
    """Every guardrail, configured and in the order they must run.

    :param settings: the parsed ``guardrails:`` section of the rule files.
    :param store: where the experience monitor keeps pauses.
    :param clock: returns epoch seconds; tests pass a fake one.
    :param slots: the rule set's slots, so the experience monitor knows each default.
    :param previous: the guardrails these replace (the rules were reloaded): the
        experience monitor keeps their counts instead of starting from zero.
    """
    monitor = ExperienceMonitor(settings.experience_monitor, store, slots=slots, clock=clock)
    for old in previous:
        if isinstance(old, ExperienceMonitor):
            monitor.carry_over(old)
    guardrails: list[Guardrail] = [
        ConsentGuard(),
        Bots(settings.bots),
        Holdout(settings.holdout),
        monitor,
        Sensitive(settings.sensitive),
        EndOfJourney(settings.end_of_journey),
        FrequencyCaps(settings.frequency_caps, clock=clock),
        AnnoyanceBudget(settings.annoyance_budget),
        Stickiness(settings.stickiness),
        ExplorationBounds(settings.exploration),
        Transparency(settings.transparency),
    ]
    assert tuple(g.name for g in guardrails) == GUARDRAIL_NAMES
    return guardrails


def applicable(guardrails: Sequence[Guardrail], slot: Slot) -> tuple[Guardrail, ...]:
    """The guardrails that may act on ``slot``, in order; the others are no-ops there.

    It follows from the settings and the slot's variants alone (see
    :meth:`Guardrail.applies_to`), so ask once per slot and rule set and run
    only these on every request (on the demo shop's greeting, seven of eleven).
    """
    return tuple(g for g in guardrails if g.applies_to(slot))
