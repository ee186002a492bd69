"""Composite reward: every objective must count harm, not conversions alone.

::

    for warning in objective_warnings(rule_set.slots.values()):
        print(warning)

A slot's objective is a weighted sum of signals. If no bad-experience signal
(:data:`~personalize.signals.EXPERIENCE_SIGNALS`) weighs negative, the bandit
learns that a variant which annoys people but converts a little more is
better; ``personalize check`` prints these warnings and the dashboard shows them.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..rewards import has_experience_signal
from ..rules.model import Slot
from ..signals import EXPERIENCE_SIGNALS


def objective_warnings(slots: Iterable[Slot]) -> list[str]:
    """One warning per slot whose objective gives no experience signal a negative weight.

    :param slots: the rule set's slots.
    """
    warnings = []
    for slot in slots:
        if not has_experience_signal(slot.objective):
            warnings.append(
                f"slot {slot.name!r}: its objective gives no bad-experience signal "
                f"({', '.join(sorted(EXPERIENCE_SIGNALS))}) a negative weight, so the bandit "
                f"would reward a variant that annoys people as long as it converts; "
                f"add e.g. 'complaint: -1' to its objective")
    return warnings
