"""Offline evaluation against a synthetic log whose policy values are known exactly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from personalize.policy.evaluation import (
    LoggedData,
    TargetPolicy,
    always,
    evaluate,
    from_policy,
    rules_only,
    uniform,
)
from personalize.policy.linucb import LinUCB

ARMS = ("a", "b", "c")
CONTEXTS = np.array([[1.0, i % 2, (i // 2) % 3 / 2, (i // 6) % 2, ((i * 7) % 5) / 4]
                     for i in range(12)])
SHARES = np.linspace(1.0, 2.0, 12) / np.linspace(1.0, 2.0, 12).sum()
BETA = np.array([[-1.0, 1.2, -0.5, 0.0, 0.4],
                 [-0.6, -0.8, 0.9, 0.5, 0.0],
                 [-1.4, 0.3, 0.2, 1.5, -0.5]])
TRUE_P = 1 / (1 + np.exp(-CONTEXTS @ BETA.T))  # reward probability, context × arm
LOGGING = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.34, 0.33, 0.33]])  # by context % 3


def make_log(n: int, seed: int) -> LoggedData:
    """Decisions drawn from a known, context-dependent logging policy."""
    rng = np.random.default_rng(seed)
    c = rng.choice(len(CONTEXTS), size=n, p=SHARES)
    logging = LOGGING[c % 3]
    shown = (rng.random(n)[:, None] > logging.cumsum(axis=1)).sum(axis=1)
    rewards = (rng.random(n) < TRUE_P[c, shown]).astype(float)
    return LoggedData(CONTEXTS[c], [ARMS] * n, [ARMS[j] for j in shown],
                      logging[np.arange(n), shown], rewards)


def true_value(target: TargetPolicy) -> float:
    return float(sum(share * target(i, x, ARMS) @ TRUE_P[i]
                     for i, (x, share) in enumerate(zip(CONTEXTS, SHARES, strict=True))))


def context_rule(i: int, x: np.ndarray, eligible: Sequence[str]) -> str:
    return "c" if x[3] else "a"  # "returning visitors get c", say


FITTED = LinUCB(alpha=0.0, floor=0.1, min_observations=0).fit(
    make_log(3000, seed=99).X, make_log(3000, seed=99).arms, make_log(3000, seed=99).rewards)

TARGETS = [
    pytest.param(always("a"), id="default-only"),
    pytest.param(uniform(), id="uniform"),
    pytest.param(rules_only(context_rule), id="rules-only"),
    pytest.param(from_policy(FITTED), id="fitted-bandit"),
]


@pytest.mark.parametrize("target", TARGETS)
def test_intervals_cover_the_true_value(target: TargetPolicy) -> None:
    truth = true_value(target)
    estimates = evaluate(make_log(4000, seed=1), target, n_bootstrap=300, random_state=0)
    for method in ("ips", "snips", "dr"):
        estimate = estimates[method]
        assert estimate.low <= truth <= estimate.high, (method, truth, estimate)
        assert estimate.low <= estimate.value <= estimate.high
        assert estimate.high - estimate.low < 0.1


@pytest.mark.parametrize("target", [TARGETS[0], TARGETS[2], TARGETS[3]])
def test_doubly_robust_is_steadier_than_ips(target: TargetPolicy) -> None:
    estimates = evaluate(make_log(4000, seed=2), target, n_bootstrap=300, random_state=0)
    assert estimates["dr"].std_error < estimates["ips"].std_error


def test_coverage_over_many_logs() -> None:
    truth = true_value(always("b"))
    hits = {"ips": 0, "dr": 0}
    for seed in range(40):
        estimates = evaluate(make_log(600, seed=100 + seed), always("b"), methods=("ips", "dr"),
                             n_bootstrap=200, confidence=0.9, random_state=seed)
        for method in hits:
            hits[method] += estimates[method].low <= truth <= estimates[method].high
    assert hits["ips"] >= 31 and hits["dr"] >= 31  # 90% intervals: 36 expected of 40


def test_varying_eligible_sets() -> None:
    log = make_log(3000, seed=3)
    eligible = [ARMS if i % 2 else ("a", arm) if arm != "a" else ("a", "b")
                for i, arm in enumerate(log.arms)]
    narrowed = LoggedData(log.X, eligible, log.arms, log.propensities, log.rewards)
    estimates = evaluate(narrowed, always("a"), random_state=0)
    assert estimates["dr"].low <= true_value(always("a")) <= estimates["dr"].high
    with pytest.raises(ValueError, match="not eligible"):
        evaluate(narrowed, always("c"), methods=("ips",))


def test_progress_bar_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    log = make_log(200, seed=4)
    evaluate(log, uniform(), methods=("ips",), n_bootstrap=10)
    assert capsys.readouterr().err == ""
    evaluate(log, uniform(), methods=("ips",), n_bootstrap=10, progress=True)
    assert "target policy" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"propensities": np.zeros(10)}, "propensities", id="zero-propensity"),
        pytest.param({"arms": ["z"] * 10}, "not among the eligible", id="shown-not-eligible"),
        pytest.param({"rewards": np.full(10, np.nan)}, "finite", id="nan-reward"),
        pytest.param({"X": np.ones((9, 5))}, "rows", id="row-count"),
    ],
)
def test_bad_logs_are_refused(change: dict[str, Any], message: str) -> None:
    log = make_log(10, seed=5)
    fields = {"X": log.X, "eligible": log.eligible, "arms": log.arms,
              "propensities": log.propensities, "rewards": log.rewards, **change}
    with pytest.raises(ValueError, match=message):
        LoggedData(**fields)


def test_bad_target_is_refused() -> None:
    def broken(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        return np.array([0.5, 0.2, 0.2])

    with pytest.raises(ValueError, match="summing to 1"):
        evaluate(make_log(10, seed=6), broken)
