"""Offline evaluation: what would a policy have earned on the traffic we logged?

>>> log = LoggedData(X, eligible, arms, propensities, rewards)
>>> estimates = evaluate(log, from_policy(linucb), n_bootstrap=500, random_state=0)
>>> estimates["dr"].value, estimates["dr"].low, estimates["dr"].high

Every decision logs the probability it was made with, so any *target* policy
can be scored on past traffic without showing it to anyone. With ``π`` the target's
probabilities, ``p`` the logged propensity, ``w = π(a|x)/p`` and ``q̂(x, a)`` a
reward model:

- ``ips``: ``mean(w·r)`` — unbiased, but noisy when ``w`` is large;
- ``snips``: ``Σ w·r / Σ w`` — self-normalised, slightly biased, steadier;
- ``dm``: ``mean(Σ_a π(a|x) q̂(x, a))`` — only as good as the reward model;
- ``dr``: ``dm + mean(w·(r − q̂(x, a)))`` — doubly robust: unbiased when the
  propensities are right, and lower-variance than IPS when ``q̂`` is decent.

The reward model is one scikit-learn regressor per arm (default
:class:`~sklearn.linear_model.Ridge`), cross-fitted: each fold is predicted by
models that never saw it, so DR's correction is not fooled by overfitting.
Confidence intervals are percentile bootstraps over logged rows (the reward
model is fitted once, not per resample). A target policy is a function of the
row index, the features and the eligible arms that returns probabilities over
those arms; :func:`always`, :func:`uniform`, :func:`rules_only` and
:func:`from_policy` build the usual ones.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import Ridge
from tqdm import tqdm

from .base import Policy

__all__ = ["METHODS", "PROGRESS_ROWS", "Estimate", "LoggedData", "TargetPolicy", "always",
           "evaluate", "from_policy", "rules_only", "uniform"]

TargetPolicy = Callable[[int, np.ndarray, Sequence[str]], np.ndarray]
"""``(row index, features, eligible arms) -> probabilities over the eligible arms``."""
METHODS = ("ips", "snips", "dm", "dr")
PROGRESS_ROWS = 10_000
"""Logs at least this long show a progress bar (when stderr is a terminal)."""


@dataclass(frozen=True)
class LoggedData:
    """Logged decisions: features, eligible arms, the arm shown, its propensity, the reward.

    :param X: features of each decision, ``n × d``.
    :param eligible: the arms each decision chose among.
    :param arms: the arm each decision showed; one of its eligible arms.
    :param propensities: the probability the shown arm had, in (0, 1].
    :param rewards: the reward each decision earned.
    """

    X: np.ndarray
    eligible: Sequence[Sequence[str]]
    arms: Sequence[str]
    propensities: np.ndarray
    rewards: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.arms)
        X, p, r = np.asarray(self.X), np.asarray(self.propensities), np.asarray(self.rewards)
        if X.ndim != 2 or X.shape[0] != n or len(self.eligible) != n or p.shape != (n,) \
                or r.shape != (n,):
            raise ValueError(f"expected n = {n} rows everywhere, got X {X.shape}, "
                             f"{len(self.eligible)} eligible sets, propensities {p.shape}, "
                             f"rewards {r.shape}")
        if not (np.all(p > 0.0) and np.all(p <= 1.0)):
            raise ValueError("expected propensities in (0, 1]; a decision logged with "
                             "probability 0 cannot be weighted")
        if not np.isfinite(r).all():
            raise ValueError("expected finite rewards")
        for i, (arm, allowed) in enumerate(zip(self.arms, self.eligible, strict=True)):
            if arm not in allowed:
                raise ValueError(f"row {i}: the shown arm {arm!r} is not among the eligible "
                                 f"{list(allowed)!r}")


@dataclass(frozen=True)
class Estimate:
    """A policy value with its bootstrap confidence interval.

    :param std_error: standard deviation of the bootstrap replicates.
    :param effective_size: Kish's ``(Σw)²/Σw²``: how many rows the weights really use.
    """

    method: str
    value: float
    low: float
    high: float
    std_error: float
    confidence: float
    n: int
    effective_size: float


def always(arm: str) -> TargetPolicy:
    """The policy that always shows ``arm`` (e.g. the slot's default).

    :param arm: the arm; a row where it is not eligible is an error.
    """
    def target(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        if arm not in eligible:
            raise ValueError(f"row {i}: {arm!r} is not eligible among {list(eligible)!r}")
        return np.array([1.0 if a == arm else 0.0 for a in eligible])
    return target


def uniform() -> TargetPolicy:
    """The policy that picks uniformly among the eligible arms."""
    def target(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        return np.full(len(eligible), 1.0 / len(eligible))
    return target


def rules_only(rule: Callable[[int, np.ndarray, Sequence[str]], str]) -> TargetPolicy:
    """The policy that shows whatever ``rule`` says: the pinned arm, else the default.

    :param rule: ``(row index, features, eligible) -> arm``, e.g. read from the log's
        rule outcome for that row.
    """
    def target(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        return always(rule(i, x, eligible))(i, x, eligible)
    return target


def from_policy(policy: Policy) -> TargetPolicy:
    """A fitted bandit's probabilities (exact for LinUCB, estimated for Thompson sampling).

    :param policy: a policy already fitted, e.g. on older logs.
    """
    def target(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        return np.asarray(policy.probabilities(x, eligible), dtype=np.float64)
    return target


def evaluate(
    log: LoggedData,
    target: TargetPolicy,
    *,
    methods: Sequence[str] = METHODS,
    reward_model: Any = None,
    n_folds: int = 2,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = None,
    progress: bool | None = None,
) -> dict[str, Estimate]:
    """Estimate the target policy's average reward per decision on the logged traffic.

    :param log: the logged decisions.
    :param target: the policy to evaluate.
    :param methods: any of :data:`METHODS`.
    :param reward_model: an unfitted scikit-learn regressor, cloned per arm and
        fold, for ``dm`` and ``dr``; default ``Ridge(alpha=1.0)``.
    :param n_folds: cross-fitting folds of the reward model (>= 2).
    :param n_bootstrap: bootstrap resamples for the intervals.
    :param confidence: coverage of the intervals.
    :param random_state: seed or generator for folds and resamples.
    :param progress: show a progress bar; ``None`` shows one for logs of at least
        :data:`PROGRESS_ROWS` rows when stderr is a terminal.
    """
    unknown = set(methods).difference(METHODS)
    if unknown or n_folds < 2 or n_bootstrap < 1 or not 0.0 < confidence < 1.0:
        raise ValueError(f"expected methods among {METHODS}, n_folds >= 2, n_bootstrap >= 1 and "
                         f"confidence in (0, 1); got {list(methods)}, {n_folds}, {n_bootstrap}, "
                         f"{confidence}")
    rng = np.random.default_rng(random_state)
    X, rewards = np.asarray(log.X, dtype=np.float64), np.asarray(log.rewards, dtype=np.float64)
    n = X.shape[0]
    if progress is None:
        progress = n >= PROGRESS_ROWS and sys.stderr.isatty()
    targets = [_checked(i, target(i, X[i], log.eligible[i]), log.eligible[i])
               for i in tqdm(range(n), desc="target policy", unit="row", disable=not progress)]
    chosen = np.array([list(e).index(a) for e, a in zip(log.eligible, log.arms, strict=True)])
    weights = np.array([t[c] for t, c in zip(targets, chosen, strict=True)])
    weights /= np.asarray(log.propensities, dtype=np.float64)
    per_row: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        "ips": (weights * rewards, None), "snips": (weights * rewards, weights)}
    if {"dm", "dr"} & set(methods):
        columns = {a: j for j, a in enumerate(sorted({a for e in log.eligible for a in e}))}
        shown = np.array([columns[a] for a in log.arms])
        q = _cross_fitted_rewards(X, rewards, shown, len(columns), reward_model, n_folds, rng)
        direct = np.array([t @ q[i, [columns[a] for a in log.eligible[i]]]
                           for i, t in enumerate(targets)])
        q_shown = q[np.arange(n), shown]
        per_row["dm"] = (direct, None)
        per_row["dr"] = (direct + weights * (rewards - q_shown), None)
    effective = float(weights.sum() ** 2 / max(float(np.square(weights).sum()), 1e-300))
    tail = (1.0 - confidence) / 2
    estimates = {}
    for method in methods:
        values, norm = per_row[method]
        point = _ratio(values, norm, None)
        replicates = np.concatenate([
            _ratio(values, norm, rng.integers(0, n, size=(chunk, n)))
            for chunk in _chunks(n_bootstrap, max(1, 2_000_000 // max(n, 1)))])
        low, high = np.quantile(replicates, [tail, 1.0 - tail])
        estimates[method] = Estimate(method, float(point), float(low), float(high),
                                     float(replicates.std(ddof=1)) if n_bootstrap > 1 else 0.0,
                                     confidence, n, effective)
    return estimates


def _checked(i: int, probabilities: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape != (len(eligible),) or np.any(p < 0.0) or abs(float(p.sum()) - 1.0) > 1e-6:
        raise ValueError(f"row {i}: the target policy must return probabilities over the "
                         f"{len(eligible)} eligible arms summing to 1, got {p!r}")
    return p


def _ratio(values: np.ndarray, norm: np.ndarray | None, rows: np.ndarray | None) -> Any:
    if rows is None:
        return values.mean() if norm is None else values.sum() / norm.sum()
    if norm is None:
        return values[rows].mean(axis=1)
    return values[rows].sum(axis=1) / norm[rows].sum(axis=1)


def _chunks(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


def _cross_fitted_rewards(
    X: np.ndarray, rewards: np.ndarray, shown: np.ndarray, n_arms: int, model: Any,
    n_folds: int, rng: np.random.Generator,
) -> np.ndarray:
    """``q[i, arm]``: each row's predicted reward for every arm, from models fitted on other folds.

    An arm shown fewer than twice in the other folds is predicted by their mean reward.
    """
    model = Ridge(alpha=1.0) if model is None else model
    fold = rng.permutation(X.shape[0]) % n_folds
    q = np.zeros((X.shape[0], n_arms))
    for k in range(n_folds):
        train, test = fold != k, fold == k
        fallback = rewards[train].mean() if train.any() else 0.0
        for column in range(n_arms):
            rows = train & (shown == column)
            if rows.sum() >= 2:
                q[test, column] = clone(model).fit(X[rows], rewards[rows]).predict(X[test])
            else:
                q[test, column] = fallback
    return q
