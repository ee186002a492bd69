"""What events are worth to a slot: its objective, a weighted sum of signals.

A slot's objective weighs signals, e.g. ``{"click": 1, "conversion": 3,
"feedback_negative": -2, "complaint": -5}``; a signal it does not name weighs
0. Harmful signals weigh negative, so the bandit optimizes the experience and
not conversions alone. Each event gives one signal, in these units:

================== ================================================ ==========
signal             one unit is                                      from event
================== ================================================ ==========
click              a click inside the slot                          click
conversion         the conversion's value (1 when none was sent)    conversion
dwell              a minute on the page, counted up to 2 minutes    dwell
feedback_positive  a thumbs-up                                      feedback +1
feedback_negative  a thumbs-down                                    feedback -1
complaint          a complaint                                      complaint
bounce             a bounce                                         bounce
================== ================================================ ==========

:func:`reward` is the plain weighted sum, for reports. The bandit learns from
:func:`bounded_reward`, in [-1, 1]: each signal counts at most its cap (one
conversion of ``conversion_cap`` value, two minutes of dwell, one of anything
else) and the sum is divided by the sum of absolute weights, so a single
outlier conversion value cannot swamp what the bandit has learned.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from .signals import EXPERIENCE_SIGNALS, REWARD_SIGNALS

if TYPE_CHECKING:
    from .web.events import Event

#: Dwell beyond this many seconds earns nothing more: a long dwell is as often
#: a forgotten tab as a fascinated reader.
DWELL_CAP_SECONDS = 120.0

#: The most one signal counts in :func:`bounded_reward`, in its own units.
SIGNAL_CAPS: Mapping[str, float] = {
    "click": 1.0,
    "conversion": 1.0,
    "dwell": DWELL_CAP_SECONDS / 60.0,
    "feedback_positive": 1.0,
    "feedback_negative": 1.0,
    "complaint": 1.0,
    "bounce": 1.0,
}


def signal_of(event: Event) -> tuple[str, float]:
    """The signal an accepted event gives, and its magnitude (never negative).

    :param event: an event the intake accepted, so its value is already valid.
    """
    if event.type == "feedback":
        return ("feedback_positive" if event.value > 0 else "feedback_negative"), 1.0
    if event.type == "dwell":
        return "dwell", min(event.value, DWELL_CAP_SECONDS) / 60.0
    if event.type == "conversion":
        return "conversion", event.value
    return event.type, 1.0


def signals_of(events: Iterable[Event]) -> dict[str, float]:
    """The summed signals of several events, e.g. all events of one decision."""
    total: dict[str, float] = {}
    for event in events:
        name, magnitude = signal_of(event)
        total[name] = total.get(name, 0.0) + magnitude
    return total


def validate_objective(objective: Mapping[str, object]) -> list[str]:
    """Every problem with an objective, as sentences; an empty list when it is sound.

    Refused: unknown signal names, weights that are not finite numbers, an
    objective that weighs nothing, and a harmful signal weighed positively
    (that would reward a bad experience).
    """
    problems: list[str] = []
    for name, weight in objective.items():
        if name not in REWARD_SIGNALS:
            close = difflib.get_close_matches(str(name), REWARD_SIGNALS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"unknown signal {name!r}: expected one of "
                            f"{', '.join(REWARD_SIGNALS)}{hint}")
        elif isinstance(weight, bool) or not isinstance(weight, int | float):
            problems.append(f"{name}: expected a number as weight, got {weight!r}")
        elif not math.isfinite(weight):
            problems.append(f"{name}: expected a finite weight, got {weight!r}")
        elif name in EXPERIENCE_SIGNALS and weight > 0:
            problems.append(f"{name}: a bad experience must weigh negative or 0, got {weight!r}")
    if not problems and not any(objective.values()):
        problems.append("the objective weighs no signal: give at least one a non-zero weight")
    return problems


def has_experience_signal(objective: Mapping[str, float]) -> bool:
    """True when the objective weighs at least one bad-experience signal negative."""
    return any(objective.get(name, 0.0) < 0 for name in EXPERIENCE_SIGNALS)


def reward(objective: Mapping[str, float], signals: Mapping[str, float]) -> float:
    """The weighted sum of ``signals`` under ``objective``.

    :param objective: weights by signal name; see :func:`validate_objective`.
    :param signals: magnitudes by signal name, as :func:`signals_of` gives.
    :raises ValueError: on an invalid objective or signals.
    """
    _check(objective, signals)
    return math.fsum(objective.get(name, 0.0) * value for name, value in signals.items())


def bounded_reward(objective: Mapping[str, float], signals: Mapping[str, float], *,
                   conversion_cap: float = 1.0) -> float:
    """The reward the bandit learns from, in [-1, 1].

    Each signal is capped at its :data:`SIGNAL_CAPS` entry and scaled to [0, 1]
    by it; the weighted sum is divided by the sum of absolute weights.

    :param conversion_cap: the conversion value that counts fully; a site
        reporting revenue might pass a typical order value. Larger values
        count no more than it.
    :raises ValueError: on an invalid objective or signals.
    """
    _check(objective, signals)
    if not (math.isfinite(conversion_cap) and conversion_cap > 0):
        raise ValueError(f"conversion_cap: expected a positive number, got {conversion_cap!r}")
    scale = math.fsum(abs(w) for w in objective.values())
    if scale == 0:
        raise ValueError("the objective weighs no signal: give at least one a non-zero weight")
    caps = {**SIGNAL_CAPS, "conversion": conversion_cap}
    # the share first: a share <= 1 times a weight never exceeds the weight, so
    # the result stays within [-1, 1] exactly ((w * v) / cap can round past it)
    total = math.fsum(
        objective.get(name, 0.0) * (min(value, caps[name]) / caps[name])
        for name, value in signals.items()
    )
    return total / scale


def _check(objective: Mapping[str, float], signals: Mapping[str, float]) -> None:
    for name, weight in objective.items():
        if name not in REWARD_SIGNALS or isinstance(weight, bool) \
                or not isinstance(weight, int | float) or not math.isfinite(weight):
            raise ValueError(f"invalid objective weight {name!r}: {weight!r}; "
                             "check it with validate_objective()")
    for name, value in signals.items():
        if name not in REWARD_SIGNALS or isinstance(value, bool) \
                or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"invalid signal {name!r}: {value!r}; expected a finite "
                             f"magnitude >= 0 for one of {', '.join(REWARD_SIGNALS)}")
