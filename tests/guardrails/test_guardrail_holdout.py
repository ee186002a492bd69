"""Holdout: a sticky, seeded share of visitors sees the defaults; lift has an interval."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from personalize.exceptions import ConfigError
from personalize.guardrails.holdout import Holdout, bucket, holdout_lift
from tests.guardrails.guardrail_kit import candidates, context, outcome, settings, slot


def test_membership_is_sticky_seeded_and_close_to_the_share() -> None:
    guard = Holdout(settings(share=0.1, salt="spring"))
    ids = [f"visitor-{i}" for i in range(20_000)]
    members = [v for v in ids if guard.in_holdout(v)]
    assert abs(len(members) / len(ids) - 0.1) < 0.01
    assert all(guard.in_holdout(v) for v in members[:100])  # same answer every time
    again = Holdout(settings(share=0.1, salt="spring"))
    assert [v for v in ids if again.in_holdout(v)] == members
    other = Holdout(settings(share=0.1, salt="autumn"))
    overlap = len(set(members) & {v for v in ids if other.in_holdout(v)}) / len(members)
    assert overlap < 0.2  # a new salt draws a new holdout


def test_bucket_is_sha256_of_salt_and_id() -> None:
    assert bucket("s", "v") == int.from_bytes(
        hashlib.sha256(b"s:v").digest()[:8], "big") / 2.0**64
    assert 0.0 <= bucket("s", "v") < 1.0


def _member(guard: Holdout, inside: bool) -> str:
    return next(f"v{i}" for i in range(10_000) if guard.in_holdout(f"v{i}") is inside)


@pytest.mark.parametrize(
    ("share", "inside", "acts"),
    [
        pytest.param(0.3, True, True, id="member-gets-default"),
        pytest.param(0.3, False, False, id="others-untouched"),
        pytest.param(0.0, False, False, id="share-zero"),
    ],
)
def test_before(share: float, inside: bool, acts: bool) -> None:
    guard = Holdout(settings(share=share, salt="x"))
    hero = slot()
    work = candidates(hero)
    guard.before(context(visitor_id=_member(guard, inside)), outcome(hero), work)
    assert (work.forced, work.forced_source) == (("calm", "holdout") if acts
                                                 else (None, "guardrail"))
    assert work.learn is not acts
    assert guard.report()["held_out"] == int(acts)


def test_no_visitor_id_is_never_held_out() -> None:
    assert not Holdout(settings(share=0.5, salt="x")).in_holdout(None)


@pytest.mark.parametrize("share", [pytest.param(-0.1, id="negative"),
                                   pytest.param(0.6, id="above-half")])
def test_bad_share_is_refused(share: float) -> None:
    with pytest.raises(ConfigError, match=r"between 0 and 0\.5"):
        Holdout(settings(share=share, salt="x"))


def test_lift_interval_covers_the_true_lift_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(400):
        treated = rng.binomial(1, 0.12, 2000).tolist()
        held = rng.binomial(1, 0.10, 300).tolist()
        lift, low, high = holdout_lift(treated, held)
        assert low < lift < high
        covered += low <= 0.02 <= high
    assert 0.92 <= covered / 400 <= 0.98


def test_lift_by_hand() -> None:
    lift, low, high = holdout_lift([1.0, 3.0], [0.0, 0.0])
    assert lift == 2.0
    assert math.isclose(high - lift, 1.959964 * math.sqrt(2.0 / 2), rel_tol=1e-5)
    assert math.isclose(lift - low, high - lift)


@pytest.mark.parametrize(
    ("treated", "held", "confidence", "message"),
    [
        pytest.param([1.0], [0.0, 1.0], 0.95, "treated_rewards", id="one-treated"),
        pytest.param([1.0, 0.0], [], 0.95, "holdout_rewards", id="no-holdout"),
        pytest.param([1.0, 0.0], [1.0, 0.0], 1.0, "confidence", id="bad-confidence"),
    ],
)
def test_lift_refuses_too_little_data(treated: list[float], held: list[float],
                                      confidence: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        holdout_lift(treated, held, confidence=confidence)
