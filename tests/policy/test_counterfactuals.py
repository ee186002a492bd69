"""Each counterfactual candidate's probabilities on hand-made logged decisions.

The semantics follow the engine's ``decide``: a guardrail's forced variant binds every
candidate; a rule's pin binds "rules only" and the current bandit (or split), which the
engine never asks when a rule pins; "default only" and "uniform" ignore pins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import pytest

from personalize.logjoin import LoggedExposure
from personalize.policy.base import Policy
from personalize.policy.counterfactuals import FORCED_SOURCES, candidates
from personalize.rules.model import Slot, Variant

VARIANTS = {v: Variant(v, html=v.upper()) for v in ("a", "b", "c")}
BANDIT_SLOT = Slot(name="hero", default="a", variants=VARIANTS)
SPLIT_SLOT = Slot(name="hero", default="a", policy="split",
                  weights={"a": 1.0, "b": 2.0, "c": 5.0}, variants=VARIANTS)


#: the fixed bandit's scores
SCORES = {"a": 0.2, "b": 0.3, "c": 0.5}


class Fixed:
    """A bandit that gives a 0.2, b 0.3, c 0.5, renormalised over the arms it is handed."""

    def probabilities(self, x: np.ndarray, arms: Sequence[str]) -> np.ndarray:
        p = np.array([SCORES[arm] for arm in arms])
        return np.asarray(p / float(p.sum()), dtype=np.float64)


def row(variant: str, source: str, eligible: tuple[str, ...] = ("a", "b", "c")
        ) -> LoggedExposure:
    return LoggedExposure(decision="", ts=0.0, visitor="v", slot="hero", variant=variant,
                          source=source, propensity=1.0, eligible=eligible,
                          features={}, reasons=(), tags=(), reward=0.0)


ROWS = [
    row("c", "holdout"),                       # 0: forced by the holdout
    row("b", "guardrail"),                     # 1: forced by a guardrail
    row("b", "rule"),                          # 2: a rule's pin
    row("c", "bandit"),                        # 3: the bandit chose
    row("b", "bandit", eligible=("b", "c")),   # 4: the default was not eligible
    row("b", "split", eligible=("a", "b")),    # 5: a split among two eligible
]

#: (row, candidate) → expected probabilities over the row's eligible variants
BANDIT_TABLE: list[tuple[int, str, list[float]]] = [
    (0, "default", [0, 0, 1]), (0, "uniform", [0, 0, 1]),
    (0, "rules", [0, 0, 1]), (0, "bandit", [0, 0, 1]),
    (1, "default", [0, 1, 0]), (1, "uniform", [0, 1, 0]),
    (1, "rules", [0, 1, 0]), (1, "bandit", [0, 1, 0]),
    (2, "default", [1, 0, 0]), (2, "uniform", [1 / 3, 1 / 3, 1 / 3]),
    (2, "rules", [0, 1, 0]), (2, "bandit", [0, 1, 0]),
    (3, "default", [1, 0, 0]), (3, "uniform", [1 / 3, 1 / 3, 1 / 3]),
    (3, "rules", [1, 0, 0]), (3, "bandit", [0.2, 0.3, 0.5]),
    (4, "default", [1, 0]), (4, "uniform", [0.5, 0.5]),
    (4, "rules", [1, 0]), (4, "bandit", [0.375, 0.625]),
]

#: the split's weights 1:2:5, renormalised over each row's eligible variants
SPLIT_TABLE: list[tuple[int, list[float]]] = [
    (0, [0, 0, 1]),              # forced: kept
    (1, [0, 1, 0]),              # forced: kept
    (2, [0, 1, 0]),              # pinned: kept, as the engine never splits a pin
    (3, [1 / 8, 2 / 8, 5 / 8]),
    (4, [2 / 7, 5 / 7]),
    (5, [1 / 3, 2 / 3]),
]


def probabilities(slot: Slot, name: str, i: int, bandit: Policy | None = None) -> np.ndarray:
    targets = {n: target for n, _, _, target in candidates(ROWS, slot, bandit)}
    return targets[name](i, np.zeros(1), list(ROWS[i].eligible))


def test_the_forced_sources_are_the_guardrails() -> None:
    assert frozenset({"holdout", "guardrail"}) == FORCED_SOURCES


@pytest.mark.parametrize(("i", "name", "expected"), BANDIT_TABLE,
                         ids=[f"row{i}-{name}" for i, name, _ in BANDIT_TABLE])
def test_bandit_slot_candidates(i: int, name: str, expected: list[float]) -> None:
    p = probabilities(BANDIT_SLOT, name, i, cast(Policy, Fixed()))
    assert p == pytest.approx(expected)
    assert p.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(("i", "expected"), SPLIT_TABLE, ids=[f"row{i}" for i, _ in SPLIT_TABLE])
def test_split_weights_renormalised_over_the_eligible(i: int, expected: list[float]) -> None:
    assert probabilities(SPLIT_SLOT, "split", i) == pytest.approx(expected)


def test_the_candidates_in_order() -> None:
    def names(slot: Slot, bandit: Policy | None) -> list[str]:
        return [name for name, _, _, _ in candidates(ROWS, slot, bandit)]
    assert names(BANDIT_SLOT, cast(Policy, Fixed())) == ["default", "uniform", "rules", "bandit"]
    assert names(BANDIT_SLOT, None) == ["default", "uniform", "rules"]
    # a split slot with weights is scored by its weights, whatever bandit is passed
    assert names(SPLIT_SLOT, cast(Policy, Fixed())) == ["default", "uniform", "rules", "split"]


def test_split_weights_of_zero_over_the_eligible_fall_back_to_uniform() -> None:
    slot = Slot(name="hero", default="a", policy="split", weights={"a": 1.0, "b": 0.0, "c": 0.0},
                variants=VARIANTS)
    targets = {n: target for n, _, _, target in candidates(ROWS, slot, None)}
    assert targets["split"](4, np.zeros(1), ["b", "c"]) == pytest.approx([0.5, 0.5])
