"""Exploration bounds: every eligible arm keeps a floor share, none exceeds a cap.

>>> bound([1.0, 0.0, 0.0], floor=0.05, cap=1.0)
[0.9, 0.05, 0.05]
>>> bound([0.9, 0.05, 0.05], floor=0.0, cap=0.6)
[0.6, 0.2, 0.2]

A pure function over plain lists (a handful of arms: plain Python is faster
than numpy here), shared by every policy and by the exploration guardrail, so
the probability a decision logs is exactly the one it was drawn with.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["bound", "sample"]


def bound(probabilities: Sequence[float], floor: float, cap: float) -> list[float]:
    """Mix in the floor, then move mass above the cap to the other arms.

    With ``K`` arms the floor step is ``p ← floor + (1 − K·floor)·p``: every arm
    gets at least ``floor`` and the order of the arms is kept. The cap step sets
    each arm above ``cap`` to ``cap`` and hands the excess to the arms below it in
    proportion to their probability (equally when they all have none), repeating
    until no arm is above the cap; it only ever raises the others, so the floor
    still holds.

    When the bounds cannot both hold — ``K·floor > 1`` or ``K·cap < 1`` — the
    result is uniform, the distribution closest to both. With one arm it is ``[1.0]``.

    :param probabilities: a distribution over the eligible arms (sums to 1).
    :param floor: least probability of each arm, in [0, 1].
    :param cap: most probability of any arm, in [0, 1].
    """
    k = len(probabilities)
    if k * floor >= 1.0 or k * cap <= 1.0:
        return [1.0 / k] * k
    if floor > 0.0:
        keep = 1.0 - k * floor
        p = [floor + keep * q for q in probabilities]
    else:
        p = list(probabilities)
    if cap >= 1.0:
        return p
    while True:
        excess = 0.0
        open_mass = 0.0
        n_open = 0
        for q in p:
            if q > cap:
                excess += q - cap
            elif q < cap:
                open_mass += q
                n_open += 1
        if excess <= 0.0 or n_open == 0:
            return p
        for j, q in enumerate(p):
            if q > cap:
                p[j] = cap
            elif q < cap:
                p[j] = q + excess * (q / open_mass if open_mass > 0.0 else 1.0 / n_open)


def sample(probabilities: Sequence[float], u: float) -> int:
    """The index that a uniform draw ``u`` in [0, 1) picks from ``probabilities``.

    :param probabilities: a distribution (sums to 1 up to rounding).
    :param u: a uniform random number in [0, 1).
    """
    total = 0.0
    last = 0
    for j, q in enumerate(probabilities):
        if q > 0.0:
            total += q
            last = j
            if u < total:
                return j
    return last  # rounding left u just above the sum: the last arm with mass
