"""Exploration bounds: the floor and cap projection every policy logs through."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personalize.policy.bounds import bound, sample


@pytest.mark.parametrize(
    ("p", "floor", "cap", "expected"),
    [
        pytest.param([1.0, 0.0, 0.0], 0.0, 1.0, [1.0, 0.0, 0.0], id="no-bounds"),
        pytest.param([1.0, 0.0, 0.0], 0.05, 1.0, [0.9, 0.05, 0.05], id="floor-on-greedy"),
        pytest.param([0.5, 0.5, 0.0, 0.0], 0.1, 1.0, [0.4, 0.4, 0.1, 0.1], id="floor-keeps-ties"),
        pytest.param([0.9, 0.05, 0.05], 0.0, 0.6, [0.6, 0.2, 0.2], id="cap-moves-mass"),
        pytest.param([0.7, 0.2, 0.1], 0.0, 0.5, [0.5, 1 / 3, 1 / 6], id="cap-proportional"),
        pytest.param([0.6, 0.35, 0.05], 0.0, 0.4, [0.4, 0.4, 0.2], id="cap-cascades"),
        pytest.param([0.9, 0.1, 0.0], 0.0, 0.5, [0.5, 0.5, 0.0], id="cap-spares-zero"),
        pytest.param([1.0, 0.0], 0.1, 0.6, [0.6, 0.4], id="floor-then-cap"),
        pytest.param([1.0, 0.0, 0.0], 0.4, 1.0, [1 / 3] * 3, id="infeasible-floor-uniform"),
        pytest.param([1.0, 0.0, 0.0], 0.0, 0.3, [1 / 3] * 3, id="infeasible-cap-uniform"),
        pytest.param([1.0], 0.2, 0.5, [1.0], id="one-arm"),
    ],
)
def test_bound(p: list[float], floor: float, cap: float, expected: list[float]) -> None:
    assert bound(p, floor, cap) == pytest.approx(expected)


@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8).filter(lambda w: sum(w) > 1e-3),
    st.floats(0.0, 0.3),
    st.floats(0.05, 1.0),
)
def test_bound_holds_whenever_feasible(weights: list[float], floor: float, cap: float) -> None:
    p = [w / sum(weights) for w in weights]
    k = len(p)
    out = bound(p, floor, cap)
    assert math.isclose(sum(out), 1.0, abs_tol=1e-9)
    if k * floor < 1.0 < k * cap and k > 1:
        assert min(out) >= floor - 1e-12
        assert max(out) <= max(cap, 0.0) + 1e-12
        ranked = sorted(range(k), key=lambda j: p[j])
        assert all(out[a] <= out[b] + 1e-12 for a, b in itertools.pairwise(ranked))


@pytest.mark.parametrize(
    ("u", "expected"),
    [
        pytest.param(0.0, 0, id="start"),
        pytest.param(0.2499, 0, id="first-bucket"),
        pytest.param(0.25, 2, id="skips-zero-mass"),
        pytest.param(0.9999999, 2, id="last"),
        pytest.param(1.0, 2, id="rounding-above-sum"),
    ],
)
def test_sample(u: float, expected: int) -> None:
    assert sample([0.25, 0.0, 0.75, 0.0], u) == expected
