"""A/B splits: sticky hashed assignment, Wilson intervals, sample-ratio-mismatch check."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from scipy.stats import binomtest, chisquare

from personalize.exceptions import ConfigError
from personalize.policy.split import (
    SampleRatioMismatch,
    assign,
    bucket,
    split_report,
    wilson_interval,
)

IDS = [f"visitor-{i}" for i in range(20_000)]


def shares(weights: dict[str, float], eligible: list[str], salt: str = "s") -> Counter[str]:
    return Counter(assign(v, "hero", weights, eligible, salt)[0] for v in IDS)


def test_assignment_is_sticky_and_salted() -> None:
    weights = {"default": 1.0, "calm": 1.0}
    first = [assign(v, "hero", weights, ["default", "calm"], "s1") for v in IDS[:2000]]
    again = [assign(v, "hero", weights, ["calm", "default"], "s1") for v in IDS[:2000]]
    assert first == again  # the eligible list's order does not matter
    resalted = [assign(v, "hero", weights, ["default", "calm"], "s2") for v in IDS[:2000]]
    moved = sum(a != b for a, b in zip(first, resalted, strict=True)) / 2000
    assert 0.45 < moved < 0.55
    other_slot = [assign(v, "promo", weights, ["default", "calm"], "s1") for v in IDS[:2000]]
    assert 0.45 < sum(a != b for a, b in zip(first, other_slot, strict=True)) / 2000 < 0.55


@pytest.mark.parametrize(
    ("weights", "eligible", "expected"),
    [
        pytest.param({"a": 1, "b": 3}, ["a", "b"], {"a": 0.25, "b": 0.75}, id="weighted"),
        pytest.param({"a": 1, "b": 1, "c": 2}, ["a", "c"], {"a": 1 / 3, "c": 2 / 3},
                     id="renormalised-over-eligible"),
        pytest.param({"a": 0, "b": 1, "c": 1}, ["a", "b", "c"], {"b": 0.5, "c": 0.5},
                     id="zero-weight-never"),
    ],
)
def test_assignment_follows_weights(weights: dict[str, float], eligible: list[str],
                                    expected: dict[str, float]) -> None:
    counts = shares(weights, eligible)
    assert set(counts) == set(expected)
    for variant, share in expected.items():
        sd = math.sqrt(share * (1 - share) / len(IDS))
        assert abs(counts[variant] / len(IDS) - share) < 4 * sd
        assert assign(IDS[0], "hero", weights, eligible, "s")[1] in set(expected.values())
    variant, probability = assign(IDS[1], "hero", weights, eligible, "s")
    assert probability == pytest.approx(expected[variant])


def test_bucket_is_uniform() -> None:
    values = sorted(bucket(v, "hero", "salt") for v in IDS)
    assert values[0] >= 0.0 and values[-1] < 1.0
    assert max(abs(v - (i + 0.5) / len(values)) for i, v in enumerate(values)) < 0.015


@pytest.mark.parametrize(
    ("weights", "eligible"),
    [
        pytest.param({"a": 1}, ["a", "b"], id="eligible-without-weight"),
        pytest.param({"a": 0, "b": 0}, ["a", "b"], id="no-weight"),
        pytest.param({"a": -1, "b": 2}, ["a", "b"], id="negative"),
        pytest.param({"a": math.nan, "b": 1}, ["a", "b"], id="nan"),
    ],
)
def test_bad_weights_are_refused(weights: dict[str, float], eligible: list[str]) -> None:
    with pytest.raises(ConfigError):
        assign("v", "hero", weights, eligible, "s")


@pytest.mark.parametrize(
    ("successes", "count"),
    [pytest.param(0, 10, id="none"), pytest.param(5, 10, id="half"),
     pytest.param(81, 263, id="typical"), pytest.param(20, 20, id="all")],
)
def test_wilson_interval_matches_scipy(successes: int, count: int) -> None:
    reference = binomtest(successes, count).proportion_ci(0.95, method="wilson")
    assert wilson_interval(successes, count) == pytest.approx(
        (reference.low, reference.high), abs=1e-9)


def test_report_rates_and_balanced_split() -> None:
    report = split_report({"default": 5030, "calm": 4970}, {"default": 250, "calm": 300},
                          {"default": 1, "calm": 1})
    calm = report.variants["calm"]
    assert calm.rate == pytest.approx(300 / 4970)
    assert (calm.low, calm.high) == pytest.approx(wilson_interval(300, 4970))
    assert calm.expected_share == 0.5 and calm.observed_share == pytest.approx(0.497)
    assert report.srm_p_value == pytest.approx(chisquare([5030, 4970]).pvalue)
    assert not report.srm


def test_sample_ratio_mismatch_warns() -> None:
    near = split_report({"a": 2600, "b": 7400}, {}, {"a": 1, "b": 3})  # p = 0.02: chance
    assert not near.srm
    with pytest.warns(SampleRatioMismatch, match="sample ratio mismatch"):
        report = split_report({"a": 2700, "b": 7300}, {}, {"a": 1, "b": 3})
    assert report.srm
    assert report.srm_p_value == pytest.approx(chisquare([2700, 7300], [2500, 7500]).pvalue)


@pytest.mark.parametrize(
    ("counts", "successes"),
    [pytest.param({"a": 10, "z": 3}, {}, id="unknown-variant"),
     pytest.param({"a": 10}, {"a": 11}, id="more-successes-than-count")],
)
def test_report_refuses_inconsistent_counts(counts: dict[str, int],
                                            successes: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        split_report(counts, successes, {"a": 1, "b": 1})
