"""Synthetic visitors with a known best variant: a linear-logistic environment.

>>> env = LinearLogisticEnvironment(n_variants=5, seed=0)
>>> rounds = env.rounds(20_000, seed=1)
>>> rounds.X.shape, rounds.P.shape          # features, reward probability per variant
((20000, 50), (20000, 5))
>>> reward = rounds.U[t, a] < rounds.P[t, a]   # the same random numbers for every policy

Visitors are drawn as plausible :attr:`Context.features
<personalize.context.Context.features>` dicts (device, OS, time of day, channel,
history) and featurized by the production :class:`~personalize.policy.Featurizer`,
so a policy sees exactly what it would see on a site. Variant ``a`` converts with
probability ``sigmoid(β_a · x)``: the coefficients share a common part (what
converts anyone) and a per-variant part (what suits whom), so the best variant
depends on the visitor and the oracle's reward is known round by round.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from personalize.policy.features import Featurizer

__all__ = ["LinearLogisticEnvironment", "Rounds", "draw_contexts"]

DEVICES = {"mobile": 0.55, "desktop": 0.38, "tablet": 0.07}
SYSTEMS = {"mobile": {"iOS": 0.45, "Android": 0.55}, "tablet": {"iOS": 0.7, "Android": 0.3},
           "desktop": {"Windows": 0.6, "Mac OS X": 0.3, "Linux": 0.1}}
CHANNELS = {"direct": 0.3, "internal": 0.2, "search": 0.25, "social": 0.1, "email": 0.05,
            "paid": 0.06, "chatbot": 0.02, "referral": 0.02}


def _pick(rng: np.random.Generator, shares: Mapping[str, float], n: int) -> list[str]:
    names = list(shares)
    return [names[j] for j in rng.choice(len(names), size=n, p=list(shares.values()))]


def _daypart(hour: int) -> str:
    return ("night" if hour < 6 or hour >= 22 else "morning" if hour < 12
            else "afternoon" if hour < 18 else "evening")


def draw_contexts(n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """``n`` visitors' feature dicts, scaled as ``Context.features`` scales them."""
    devices = _pick(rng, DEVICES, n)
    channels = _pick(rng, CHANNELS, n)
    minutes = rng.integers(0, 24 * 60, n)
    weekdays = rng.integers(0, 7, n)
    visits = rng.geometric(0.45, n)
    pageviews = rng.geometric(0.35, n)
    conversions = rng.binomial(visits - 1, 0.08)
    out = []
    for i in range(n):
        hour, angle = int(minutes[i] // 60), 2 * math.pi * minutes[i] / (24 * 60)
        os_shares = SYSTEMS[devices[i]]
        names = list(os_shares)
        weekend = weekdays[i] >= 5
        out.append({
            "device": devices[i],
            "os": names[rng.choice(len(names), p=list(os_shares.values()))],
            "daypart": _daypart(hour),
            "weekend": "yes" if weekend else "no",
            "business_hours": "yes" if not weekend and 9 <= hour < 17 else "no",
            "referrer": channels[i],
            "returning": "yes" if visits[i] > 1 else "no",
            "hour_sin": 0.5 + 0.5 * math.sin(angle),
            "hour_cos": 0.5 + 0.5 * math.cos(angle),
            "visits": min(1.0, math.log1p(visits[i]) / math.log(51)),
            "visit_pageviews": min(1.0, math.log1p(pageviews[i]) / math.log(51)),
            "conversions": min(1.0, conversions[i] / 5),
            "recent_buyer": float(conversions[i] > 0 and rng.random() < 0.5),
        })
    return out


@dataclass(frozen=True)
class Rounds:
    """A sequence of visitors and the random numbers that decide their rewards.

    :param X: features, ``T × d``.
    :param P: reward probability of each variant, ``T × K``.
    :param U: uniform numbers, ``T × K``: variant ``a`` earns 1 in round ``t`` when
        ``U[t, a] < P[t, a]``, whichever policy chose it.
    """

    X: np.ndarray
    P: np.ndarray
    U: np.ndarray

    @property
    def oracle(self) -> float:
        """Mean reward probability of always playing each round's best variant."""
        return float(self.P.max(axis=1).mean())


@dataclass
class LinearLogisticEnvironment:
    """Variants whose conversion is ``sigmoid(β_a · x)`` on featurized synthetic visitors.

    :param n_variants: number of variants K.
    :param base_rate: typical conversion rate (sets the intercept).
    :param shared_scale: spread of the coefficients common to all variants.
    :param variant_scale: spread of each variant's own coefficients: how much the
        best variant depends on the visitor.
    :param seed: seed of the coefficients.
    """

    n_variants: int = 5
    base_rate: float = 0.12
    shared_scale: float = 0.3
    variant_scale: float = 0.4
    seed: int = 0
    featurizer: Featurizer = field(default_factory=lambda: Featurizer().fit())

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        names = self.featurizer.get_feature_names_out()
        d = len(names)
        shared = rng.normal(0.0, self.shared_scale, d)
        own = rng.normal(0.0, self.variant_scale, (self.n_variants, d))
        self.beta = shared + own
        self.beta[:, names.index("bias")] = math.log(self.base_rate / (1 - self.base_rate)) \
            + rng.normal(0.0, 0.2, self.n_variants)
        self.variants = [f"v{a}" for a in range(self.n_variants)]

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """Reward probability of every variant for each row of ``X``."""
        return 1.0 / (1.0 + np.exp(-(X @ self.beta.T)))

    def rounds(self, n: int, seed: int) -> Rounds:
        """``n`` visitors and their reward draws, the same for every policy given ``seed``."""
        rng = np.random.default_rng(seed)
        X = self.featurizer.transform(draw_contexts(n, rng))
        return Rounds(X, self.probabilities(X), rng.random((n, self.n_variants)))
