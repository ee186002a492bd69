"""The harm test's false-alarm rate under continuous monitoring, and its power.

Each scenario simulates many independent streams of exposures (arm chosen at
random with the variant's share, outcome Bernoulli with its arm's rate) and
applies :func:`harm_detected` after *every* exposure, as the live monitor does.
A stream that is ever flagged is a false alarm when the rates are equal.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from personalize.guardrails.stats import harm_detected, log_evidence


def _streams(seed: int, streams: int, length: int, share: float, rate_default: float,
             rate_variant: float) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    variant = rng.random((streams, length)) < share
    event = rng.random((streams, length)) < np.where(variant, rate_variant, rate_default)
    return (np.cumsum(variant, axis=1), np.cumsum(event & variant, axis=1),
            np.cumsum(~variant, axis=1), np.cumsum(event & ~variant, axis=1))


def flagged(streams: int, length: int, share: float, rate_default: float,
            rate_variant: float, *, alpha: float, seed: int = 0) -> np.ndarray:
    """Per stream: the first exposure at which harm was flagged, or -1."""
    firsts = []
    for chunk in range(0, streams, 50):  # chunks keep memory small
        n_v, k_v, n_d, k_d = _streams(seed + chunk, min(50, streams - chunk), length, share,
                                      rate_default, rate_variant)
        hit = harm_detected(n_v, k_v, n_d, k_d, alpha=alpha, harm_ratio=1.0, min_exposures=0)
        firsts.append(np.where(hit.any(axis=1), hit.argmax(axis=1), -1))
    return np.concatenate(firsts)


NULLS = [
    pytest.param(0.05, 0.5, 4000, 0.05, id="bounce-5%-even-split"),
    pytest.param(0.05, 0.1, 20000, 0.05, id="bounce-5%-variant-10%-of-traffic"),
    pytest.param(0.003, 0.5, 20000, 0.05, id="complaints-0.3%"),
    pytest.param(0.3, 0.5, 3000, 0.05, id="bounce-30%"),
    pytest.param(0.05, 0.5, 4000, 0.2, id="alpha-0.2"),
]


@pytest.mark.parametrize(("rate", "share", "length", "alpha"), NULLS)
def test_false_alarm_rate_stays_below_alpha_under_continuous_monitoring(
        rate: float, share: float, length: int, alpha: float) -> None:
    alarms = (flagged(200, length, share, rate, rate, alpha=alpha) >= 0).mean()
    # 200 streams: a valid test's observed rate exceeds alpha + 0.03 with
    # probability below 3% even at a true rate of exactly alpha; this one is far below.
    assert alarms <= alpha + 0.03


def test_the_simulation_catches_an_invalid_test() -> None:
    """A z-test at 5%, looked at after every exposure, alarms far too often here."""
    n_v, k_v, n_d, k_d = _streams(0, 200, 4000, 0.5, 0.05, 0.05)
    n_v, n_d = np.maximum(n_v, 1), np.maximum(n_d, 1)
    pooled = (k_v + k_d) / (n_v + n_d)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_v + 1 / n_d))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (k_v / n_v - k_d / n_d) / se
    naive = ((z > 1.645) & (n_v >= 30) & (n_d >= 30)).any(axis=1).mean()
    assert naive > 0.15


@pytest.mark.parametrize(
    ("rate_default", "rate_variant", "share", "length", "by"),
    [
        pytest.param(0.05, 0.12, 0.5, 4000, 1500, id="bounce-5%-vs-12%"),
        pytest.param(0.05, 0.10, 0.5, 6000, 3000, id="bounce-doubled"),
        pytest.param(0.005, 0.02, 0.5, 20000, 7000, id="complaints-quadrupled"),
    ],
)
def test_power_on_a_clearly_harmful_variant(rate_default: float, rate_variant: float,
                                            share: float, length: int, by: int) -> None:
    first = flagged(100, length, share, rate_default, rate_variant, alpha=0.05)
    assert (first >= 0).mean() >= 0.95
    assert np.median(first[first >= 0]) <= by


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        pytest.param((0, 0, 0, 0), 0.0, id="no-data-no-evidence"),
        # one exposure each, no events: KT gives each 1/2 ... (n-1/2)/n, the null fits 1
        pytest.param((1, 0, 1, 0), 2 * math.log(0.5), id="one-each"),
        pytest.param((2, 1, 0, 0), math.log(1 / 8) - 2 * math.log(0.5), id="one-arm"),
    ],
)
def test_log_evidence_by_hand(counts: tuple[int, int, int, int], expected: float) -> None:
    assert math.isclose(log_evidence(*map(float, counts)), expected, abs_tol=1e-12)


@pytest.mark.parametrize(
    ("counts", "harm_ratio", "min_exposures", "expected"),
    [
        pytest.param((2000, 400, 2000, 100), 1.2, 100, True, id="20%-vs-5%"),
        pytest.param((2000, 400, 2000, 100), 5.0, 100, False, id="below-harm-ratio"),
        pytest.param((2000, 400, 2000, 100), 1.2, 3000, False, id="below-min-exposures"),
        pytest.param((2000, 100, 2000, 400), 1.0, 0, False, id="better-not-worse"),
        pytest.param((2000, 40, 2000, 0), 1.2, 100, True, id="default-rate-zero"),
        pytest.param((0, 0, 0, 0), 1.0, 0, False, id="nothing-yet"),
    ],
)
def test_harm_detected_conditions(counts: tuple[int, int, int, int], harm_ratio: float,
                                  min_exposures: int, expected: bool) -> None:
    n_v, k_v, n_d, k_d = map(float, counts)
    assert harm_detected(n_v, k_v, n_d, k_d, alpha=0.05, harm_ratio=harm_ratio,
                         min_exposures=min_exposures) is expected
