"""Rewards: signals of events, weighted objectives, and the bounded reward the bandit learns."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from personalize.decision import DecisionClaims
from personalize.rewards import (
    SIGNAL_CAPS,
    bounded_reward,
    has_experience_signal,
    reward,
    signal_of,
    signals_of,
    validate_objective,
)
from personalize.signals import REWARD_SIGNALS
from personalize.web.events import Event

CLAIMS = DecisionClaims("v1", "hero", "calm", 0.0)
OBJECTIVE = {"click": 1.0, "conversion": 3.0, "dwell": 0.5, "feedback_positive": 1.0,
             "feedback_negative": -2.0, "complaint": -5.0, "bounce": -1.0}


def event(kind: str, value: float = 1.0) -> Event:
    return Event(type=kind, decision_id="d", claims=CLAIMS, value=value, received_at=0.0)


@pytest.mark.parametrize(
    ("kind", "value", "signal"),
    [
        pytest.param("click", 1.0, ("click", 1.0), id="click"),
        pytest.param("conversion", 49.5, ("conversion", 49.5), id="conversion-value"),
        pytest.param("dwell", 30.0, ("dwell", 0.5), id="dwell-half-minute"),
        pytest.param("dwell", 120.0, ("dwell", 2.0), id="dwell-at-cap"),
        pytest.param("dwell", 3600.0, ("dwell", 2.0), id="dwell-capped"),
        pytest.param("feedback", 1.0, ("feedback_positive", 1.0), id="thumbs-up"),
        pytest.param("feedback", -1.0, ("feedback_negative", 1.0), id="thumbs-down"),
        pytest.param("complaint", 1.0, ("complaint", 1.0), id="complaint"),
        pytest.param("bounce", 1.0, ("bounce", 1.0), id="bounce"),
    ],
)
def test_signal_of(kind: str, value: float, signal: tuple[str, float]) -> None:
    assert signal_of(event(kind, value)) == signal


def test_signals_of_sums_per_signal() -> None:
    events = [event("click"), event("dwell", 90), event("feedback", -1), event("conversion", 2),
              event("conversion", 3)]
    assert signals_of(events) == {"click": 1.0, "dwell": 1.5, "feedback_negative": 1.0,
                                  "conversion": 5.0}


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        pytest.param({}, 0.0, id="nothing"),
        pytest.param({"click": 1}, 1.0, id="click"),
        pytest.param({"click": 1, "conversion": 2}, 7.0, id="click-and-conversion"),
        pytest.param({"click": 1, "feedback_negative": 1}, -1.0, id="click-then-thumbs-down"),
        pytest.param({"dwell": 2, "complaint": 1}, -4.0, id="complaint"),
        pytest.param({"conversion": 1000}, 3000.0, id="raw-reward-is-not-capped"),
    ],
)
def test_reward(signals: dict[str, float], expected: float) -> None:
    assert reward(OBJECTIVE, signals) == pytest.approx(expected)


def test_unweighted_signals_count_nothing() -> None:
    assert reward({"click": 1.0, "bounce": -1.0}, {"conversion": 5, "dwell": 2}) == 0.0


@pytest.mark.parametrize(
    ("signals", "conversion_cap", "expected"),
    [
        pytest.param({}, 1.0, 0.0, id="nothing"),
        pytest.param({"click": 1, "conversion": 1, "dwell": 2, "feedback_positive": 1}, 1.0,
                     5.5 / 13.5, id="every-good-signal"),
        pytest.param({"feedback_negative": 1, "complaint": 1, "bounce": 1}, 1.0, -8.0 / 13.5,
                     id="every-bad-signal"),
        pytest.param({"conversion": 1e9}, 1.0, 3.0 / 13.5, id="outlier-conversion-counts-once"),
        pytest.param({"conversion": 50}, 100.0, 1.5 / 13.5, id="half-a-typical-order"),
        pytest.param({"conversion": 500}, 100.0, 3.0 / 13.5, id="order-above-cap"),
        pytest.param({"dwell": 1}, 1.0, 0.25 / 13.5, id="one-minute-of-two"),
    ],
)
def test_bounded_reward(signals: dict[str, float], conversion_cap: float,
                        expected: float) -> None:
    assert bounded_reward(OBJECTIVE, signals, conversion_cap=conversion_cap) == pytest.approx(
        expected)


def test_bounded_reward_reaches_both_ends() -> None:
    objective = {"click": 2.0, "complaint": -1.0}
    assert bounded_reward(objective, {"click": 1}) == pytest.approx(2 / 3)
    assert bounded_reward({"click": 2.0}, {"click": 5}) == 1.0
    assert bounded_reward({"complaint": -4.0}, {"complaint": 1}) == -1.0


@pytest.mark.parametrize(
    ("objective", "signals", "options", "raw_too"),
    [
        pytest.param({"clicks": 1.0}, {}, {}, True, id="unknown-objective-key"),
        pytest.param({"click": math.nan}, {}, {}, True, id="nan-weight"),
        pytest.param({"click": math.inf}, {}, {}, True, id="infinite-weight"),
        pytest.param({"click": True}, {}, {}, True, id="bool-weight"),
        pytest.param({"click": 1.0}, {"clicks": 1}, {}, True, id="unknown-signal"),
        pytest.param({"click": 1.0}, {"click": -1}, {}, True, id="negative-magnitude"),
        pytest.param({"click": 1.0}, {"dwell": math.nan}, {}, True, id="nan-magnitude"),
        pytest.param({"click": 0.0}, {"click": 1}, {}, False, id="all-zero-weights"),
        pytest.param({"click": 1.0}, {"click": 1}, {"conversion_cap": 0}, False, id="zero-cap"),
    ],
)
def test_invalid_inputs_raise(objective: dict[str, Any], signals: dict[str, Any],
                              options: dict[str, Any], raw_too: bool) -> None:
    with pytest.raises(ValueError):
        bounded_reward(objective, signals, **options)
    if raw_too:
        with pytest.raises(ValueError):
            reward(objective, signals)
    else:
        assert math.isfinite(reward(objective, signals))


@pytest.mark.parametrize(
    ("objective", "fragments"),
    [
        pytest.param(OBJECTIVE, [], id="sound"),
        pytest.param({"conversion": 1}, [], id="int-weight"),
        pytest.param({"clicks": 1.0}, ["unknown signal 'clicks'"], id="typo"),
        pytest.param({"clikc": 1.0}, ["did you mean 'click'?"], id="typo-hint"),
        pytest.param({"revenue": 1.0}, ["unknown signal 'revenue'"], id="unknown"),
        pytest.param({"click": math.nan}, ["click: expected a finite weight"], id="nan"),
        pytest.param({"click": -math.inf}, ["click: expected a finite weight"], id="inf"),
        pytest.param({"click": "1"}, ["click: expected a number"], id="string"),
        pytest.param({"click": True}, ["click: expected a number"], id="bool"),
        pytest.param({"complaint": 2.0}, ["complaint: a bad experience must weigh negative"],
                     id="harm-rewarded"),
        pytest.param({}, ["weighs no signal"], id="empty"),
        pytest.param({"click": 0, "bounce": 0.0}, ["weighs no signal"], id="all-zero"),
        pytest.param({"clicks": 1.0, "bounce": math.nan},
                     ["unknown signal 'clicks'", "bounce: expected a finite"], id="two-problems"),
    ],
)
def test_validate_objective(objective: dict[str, Any], fragments: list[str]) -> None:
    problems = validate_objective(objective)
    assert len(problems) == len(fragments)
    for problem, fragment in zip(problems, fragments, strict=True):
        assert fragment in problem


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        pytest.param(OBJECTIVE, True, id="complaint-negative"),
        pytest.param({"click": 1.0, "bounce": -0.1}, True, id="bounce-negative"),
        pytest.param({"click": 1.0, "conversion": 5.0}, False, id="conversions-only"),
        pytest.param({"click": 1.0, "feedback_negative": 0.0}, False, id="zero-weight"),
        pytest.param({"click": 1.0, "feedback_positive": -1.0}, False, id="not-an-experience"),
    ],
)
def test_has_experience_signal(objective: dict[str, float], expected: bool) -> None:
    assert has_experience_signal(objective) is expected


weights = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
objectives = st.dictionaries(st.sampled_from(REWARD_SIGNALS), weights, min_size=1).filter(
    lambda o: any(o.values()))
magnitudes = st.dictionaries(st.sampled_from(REWARD_SIGNALS),
                             st.floats(min_value=0, max_value=1e12, allow_nan=False))


@given(objective=objectives, signals=magnitudes,
       cap=st.floats(min_value=1e-3, max_value=1e6, allow_nan=False))
@example(objective={"click": 0.0, "conversion": 604641.325511707},  # (w * v) / cap > w
         signals={"click": 0.0, "conversion": 454614.0}, cap=454613.25)
def test_bounded_reward_stays_in_range(objective: dict[str, float], signals: dict[str, float],
                                       cap: float) -> None:
    assert -1.0 <= bounded_reward(objective, signals, conversion_cap=cap) <= 1.0


@given(objective=objectives,
       fractions=st.dictionaries(st.sampled_from(REWARD_SIGNALS),
                               st.floats(min_value=0, max_value=1, allow_nan=False)))
def test_bounded_reward_is_the_scaled_reward_within_caps(objective: dict[str, float],
                                                         fractions: dict[str, float]) -> None:
    # Below its cap each signal counts as its share of the cap (dwell's cap is 2 minutes).
    units = {name: share * SIGNAL_CAPS[name] for name, share in fractions.items()}
    scale = sum(abs(w) for w in objective.values())
    assert bounded_reward(objective, units) == pytest.approx(reward(objective, fractions) / scale,
                                                             abs=1e-12)
