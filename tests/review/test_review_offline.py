"""Offline evaluation of a slot's policies, checked by hand on a small log.

The candidates themselves are tested row by row in ``tests/policy/test_counterfactuals.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pytest

from personalize.logjoin import LoggedExposure
from personalize.policy.base import Policy
from personalize.policy.counterfactuals import MIN_ROWS, evaluate_slot
from personalize.rules.model import Slot, Variant

HERO = Slot(name="hero", default="a", variants={"a": Variant("a", html="A"),
                                                "b": Variant("b", html="B")})
SPLIT = Slot(name="hero", default="a", policy="split", weights={"a": 3.0, "b": 1.0},
             variants=HERO.variants)


class Fixed:
    """A policy that always gives the same probabilities: 1/4 for a, 3/4 for b."""

    def probabilities(self, x: np.ndarray, arms: Sequence[str]) -> np.ndarray:
        return np.array([0.25 if arm == "a" else 0.75 for arm in arms])


def row(variant: str, source: str, propensity: float, reward: float,
        eligible: tuple[str, ...] = ("a", "b")) -> LoggedExposure:
    return LoggedExposure(decision="", ts=0.0, visitor="v", slot="hero", variant=variant,
                          source=source, propensity=propensity, eligible=eligible,
                          features={"x": 1.0}, reasons=(), tags=(), reward=reward)


def featurize(features: Mapping[str, Any]) -> np.ndarray:
    return np.array([float(features.get("x", 0.0))])


#: 24 bandit rows (a earns 1, b earns 3, each shown with probability 1/2), two holdout
#: rows (a, earning 0), one rule pin of b earning 5, and one row that cannot be weighted
LOG = ([row("a", "bandit", 0.5, 1.0), row("b", "bandit", 0.5, 3.0)] * 12
       + [row("a", "holdout", 1.0, 0.0)] * 2 + [row("b", "rule", 1.0, 5.0)]
       + [row("b", "bandit", 0.5, 3.0, eligible=("a",))])


def ips(result: Any, name: str) -> float:
    return float(next(p for p in result.policies if p.name == name).estimates["ips"].value)


def test_each_policy_by_hand() -> None:
    result = evaluate_slot(LOG, HERO, featurize, cast(Policy, Fixed()), n_bootstrap=50)
    assert (result.rows, result.skipped, result.problem) == (27, 1, None)
    assert result.logged_mean == pytest.approx((12 * 1 + 12 * 3 + 5) / 27)
    assert [p.name for p in result.policies] == ["default", "uniform", "rules", "bandit"]
    # default: a's rows weigh 1/0.5, b's 0; the holdout stays as it was; the pin of b weighs 0
    assert ips(result, "default") == pytest.approx(12 * 2 * 1.0 / 27)
    # uniform: every bandit row weighs 1; the pinned row weighs 1/2 of 5
    assert ips(result, "uniform") == pytest.approx((12 * 1 + 12 * 3 + 2.5) / 27)
    # rules only: the default where no rule pinned, the pin where one did
    assert ips(result, "rules") == pytest.approx((12 * 2 * 1.0 + 5) / 27)
    # bandit: a weighs 0.25/0.5, b weighs 0.75/0.5; the pin of b holds (the engine never
    # asks the bandit when a rule pins), so that row weighs 1
    assert ips(result, "bandit") == pytest.approx((12 * 0.5 + 12 * 4.5 + 5) / 27)
    for policy in result.policies:
        for estimate in policy.estimates.values():
            assert estimate.low <= estimate.value <= estimate.high
            assert estimate.n == 27


def test_snips_of_the_default_is_the_default_mean_reward() -> None:
    only_bandit = [r for r in LOG if r.source == "bandit" and r.eligible == ("a", "b")]
    result = evaluate_slot(only_bandit, HERO, featurize, None, n_bootstrap=20)
    default = next(p for p in result.policies if p.name == "default")
    assert default.estimates["snips"].value == pytest.approx(1.0)
    assert [p.name for p in result.policies] == ["default", "uniform", "rules"]


def test_a_split_is_scored_by_its_weights() -> None:
    result = evaluate_slot(LOG, SPLIT, featurize, cast(Policy, Fixed()), n_bootstrap=20)
    assert [p.name for p in result.policies] == ["default", "uniform", "rules", "split"]
    # a weighs 0.75/0.5, b 0.25/0.5; the pin of b holds (the engine never splits when a
    # rule pins), so that row weighs 1
    assert ips(result, "split") == pytest.approx((12 * 1.5 + 12 * 1.5 + 5) / 27)


def test_too_few_rows_give_no_estimate() -> None:
    result = evaluate_slot(LOG[:MIN_ROWS - 1], HERO, featurize, None)
    assert result.policies == [] and result.rows == MIN_ROWS - 1
    assert result.problem is not None and str(MIN_ROWS) in result.problem


def test_other_slots_are_ignored() -> None:
    other = [LoggedExposure(**{**vars(r), "slot": "promo"}) for r in LOG]
    result = evaluate_slot(other, HERO, featurize, None)
    assert (result.rows, result.logged_mean) == (0, None)
