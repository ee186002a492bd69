"""The statistics behind two guardrails: holdout lift and the harm test.

**Holdout lift** (:func:`holdout_lift`) is a difference of mean rewards with a
Welch (unequal-variance) normal interval: holdouts are thousands of visitors,
where the normal quantile and Student's t agree to the third decimal.

**The harm test** (:func:`log_evidence`, :func:`harm_detected`) decides when a
variant's rate of a bad-experience signal (complaints, bounces, negative
feedback) is higher than the default's, while the counts are watched
continuously. It is an *e-process* by universal inference (Wasserman, Ramdas
and Balakrishnan, "Universal inference", PNAS 2020, section 7)::

    E = B(k_v+½, n_v−k_v+½)/B(½,½) · B(k_d+½, n_d−k_d+½)/B(½,½)
        ─────────────────────────────────────────────────────────
                    p̂^K (1−p̂)^(N−K),   p̂ = K/N, K = k_v+k_d, N = n_v+n_d

The numerator is each arm's Krichevsky–Trofimov mixture (a Beta(½, ½)
mixture over its rate: the product of predictions made from the past only);
the denominator is the best the null "both rates are equal" can do with all
the data. Under that null, whatever the rate and however exposures are split
between the arms (even adaptively, by a bandit), ``E`` never exceeds a
nonnegative martingale of mean one, so by Ville's inequality
``P(E ever reaches 1/alpha) <= alpha`` — exactly, not asymptotically, and for
any number of looks. It needs only the four counts, so it is the same whether
computed after every event or once from the log. Requiring ``p̂_v > p̂_d`` as
well makes it a one-sided test of harm (on that side the null's best fit is the
pooled one), still at level ``alpha``.

The false-alarm rate measured by ``tests/guardrails/test_guardrail_stats.py``
is far below ``alpha``: the price of exact validity is some power, the ``½ log n``
per arm that the mixture pays for not knowing the rates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist, fmean, variance
from typing import overload

import numpy as np
from scipy.special import betaln, xlogy

_LOG_BETA_HALF = math.log(math.pi)  # ln B(½, ½)



@overload
def log_evidence(n_v: float, k_v: float, n_d: float, k_d: float) -> float: ...
@overload
def log_evidence(n_v: np.ndarray, k_v: np.ndarray, n_d: np.ndarray,
                 k_d: np.ndarray) -> np.ndarray: ...
def log_evidence(n_v: float | np.ndarray, k_v: float | np.ndarray, n_d: float | np.ndarray,
                 k_d: float | np.ndarray) -> float | np.ndarray:
    """``ln E``: evidence against "the variant's rate equals the default's".

    Works element-wise on numpy arrays, so a simulation evaluates every look at once.

    :param n_v: the variant's exposures.
    :param k_v: exposures of the variant followed by the signal (``0 <= k_v <= n_v``).
    :param n_d: the default's exposures.
    :param k_d: exposures of the default followed by the signal.
    """
    nv, kv, nd, kd = (np.asarray(a, dtype=np.float64) for a in (n_v, k_v, n_d, k_d))
    mixture = (betaln(kv + 0.5, nv - kv + 0.5) + betaln(kd + 0.5, nd - kd + 0.5)
               - 2 * _LOG_BETA_HALF)
    events, total = kv + kd, nv + nd
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.where(total > 0, events / np.maximum(total, 1), 0.0)
    null_fit = xlogy(events, pooled) + xlogy(total - events, 1.0 - pooled)
    result: np.ndarray = mixture - null_fit
    return float(result) if result.ndim == 0 else result


@overload
def harm_detected(n_v: float, k_v: float, n_d: float, k_d: float, *, alpha: float,
                  harm_ratio: float, min_exposures: int) -> bool: ...
@overload
def harm_detected(n_v: np.ndarray, k_v: np.ndarray, n_d: np.ndarray, k_d: np.ndarray, *,
                  alpha: float, harm_ratio: float, min_exposures: int) -> np.ndarray: ...
def harm_detected(n_v: float | np.ndarray, k_v: float | np.ndarray, n_d: float | np.ndarray,
                  k_d: float | np.ndarray, *, alpha: float, harm_ratio: float,
                  min_exposures: int) -> bool | np.ndarray:
    """True where a variant is shown to harm: enough data, a large ratio, and evidence.

    All three must hold: both arms have ``min_exposures``; the variant's rate is
    above ``harm_ratio`` times the default's (and above it at all); and
    :func:`log_evidence` reaches ``ln(1/alpha)``. The first two only ever make a
    pause rarer, so the false-alarm rate stays at most ``alpha``.

    :param alpha: the false-alarm rate allowed per test (split it yourself
        across several signals).
    :param harm_ratio: how many times the default's rate counts as harm; a
        practical-significance bar next to the statistical one.
    :param min_exposures: exposures each arm needs before any verdict.
    """
    nv, kv, nd, kd = (np.asarray(a, dtype=np.float64) for a in (n_v, k_v, n_d, k_d))
    enough = (nv >= min_exposures) & (nd >= min_exposures) & (nv > 0) & (nd > 0)
    # rates compared by cross-multiplying, so a default rate of zero needs no special case
    worse = (kv * nd > kd * nv) & (kv * nd > harm_ratio * kd * nv)
    result: np.ndarray = enough & worse & (log_evidence(nv, kv, nd, kd) >= math.log(1 / alpha))
    return bool(result) if result.ndim == 0 else result


def holdout_lift(treated_rewards: Sequence[float], holdout_rewards: Sequence[float], *,
                 confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean reward of personalized visitors minus that of the holdout, with an interval.

    :param treated_rewards: one reward per personalized visitor (or decision).
    :param holdout_rewards: one reward per holdout visitor (or decision).
    :param confidence: coverage of the two-sided Welch interval.
    :returns: ``(lift, low, high)``.
    :raises ValueError: a group has fewer than two rewards, or ``confidence``
        is not strictly between 0 and 1.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: expected a number between 0 and 1, got {confidence!r}")
    for name, group in (("treated_rewards", treated_rewards),
                        ("holdout_rewards", holdout_rewards)):
        if len(group) < 2:
            raise ValueError(f"{name}: expected at least 2 rewards to estimate a spread, "
                             f"got {len(group)}; wait for more traffic")
    lift = fmean(treated_rewards) - fmean(holdout_rewards)
    se = math.sqrt(variance(treated_rewards) / len(treated_rewards)
                   + variance(holdout_rewards) / len(holdout_rewards))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return lift, lift - z * se, lift + z * se
