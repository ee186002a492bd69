"""The log join: which exposure each logged event counts for, as the learner counts it."""

from __future__ import annotations

import math
from typing import Any

import pytest

from personalize.logjoin import LoggedExposure, join

WINDOW = 1800.0


def exposure(decision: str, ts: float, *, visitor: str = "v1", slot: str = "hero",
             variant: str = "a", **extra: Any) -> dict[str, Any]:
    """An exposure record as the engine logs it; ``extra`` overrides or adds fields."""
    return {"ts": ts, "type": "exposure", "visitor": visitor, "decision": decision,
            "slot": slot, "variant": variant, "source": "bandit", "propensity": 0.5,
            "eligible": ["a", "b"], "features": {"device": "mobile"}, "tags": ["calm"],
            "reasons": ["'a' is being tried out."], **extra}


def event(signal: str, ts: float, *, decision: str | None = None, visitor: str = "v1",
          slot: str = "hero", amount: float = 1.0, **extra: Any) -> dict[str, Any]:
    """An event record as the web endpoint (with a decision id) or the host app logs it."""
    return {"ts": ts, "type": signal, "visitor": visitor, "decision": decision, "slot": slot,
            "variant": None, "value": amount, "signal": signal, "amount": amount, "reason": "",
            **extra}


CASES = [
    # -- by decision id -------------------------------------------------------------
    pytest.param([exposure("d1", 100), event("click", 150, decision="d1")], WINDOW,
                 {"d1": {"click": 1.0}}, (1, 0, 0), id="by-decision-id"),
    pytest.param([exposure("d1", 100), exposure("d2", 120, visitor="v2", slot="promo"),
                  event("click", 150, decision="d1", visitor="v2", slot="promo")], WINDOW,
                 {"d1": {"click": 1.0}, "d2": {}}, (1, 0, 0),
                 id="the-decision-id-wins-over-visitor-and-slot"),
    pytest.param([exposure("d1", 100), event("click", 100 + WINDOW, decision="d1")], WINDOW,
                 {"d1": {"click": 1.0}}, (1, 0, 0), id="by-decision-id-at-the-window-edge"),
    pytest.param([exposure("d1", 100), event("click", 100 + WINDOW + 1, decision="d1")], WINDOW,
                 {"d1": {}}, (1, 1, 0), id="by-decision-id-outside-the-window"),
    pytest.param([exposure("d1", 100), event("click", 100 + 50 * WINDOW, decision="d1")], None,
                 {"d1": {"click": 1.0}}, (1, 0, 0), id="by-decision-id-without-a-window"),
    pytest.param([event("click", 90, decision="d1"), exposure("d1", 100)], WINDOW,
                 {"d1": {"click": 1.0}}, (1, 0, 0),
                 id="by-decision-id-logged-before-its-exposure-clocks-disagree"),
    pytest.param([exposure("d1", 100), event("click", 150, decision="zzz")], WINDOW,
                 {"d1": {}}, (1, 1, 0), id="unknown-decision-does-not-fall-back-to-the-visitor"),
    # -- server-side: by visitor and slot ----------------------------------------------
    pytest.param([exposure("d1", 1), exposure("d2", 2),
                  event("conversion", 10, amount=25.0), exposure("d30", 30)], WINDOW,
                 {"d1": {}, "d2": {"conversion": 25.0}, "d30": {}}, (1, 0, 0),
                 id="by-visitor-and-slot-to-the-latest-earlier-exposure"),
    pytest.param([exposure("d2", 2), exposure("d1", 1), event("conversion", 2)], WINDOW,
                 {"d1": {}, "d2": {"conversion": 1.0}}, (1, 0, 0),
                 id="by-visitor-and-slot-by-time-not-log-order-and-at-the-same-instant"),
    pytest.param([exposure("d1", 1), exposure("d2", 2, visitor="v2"),
                  exposure("d3", 3, slot="promo"), event("click", 10)], WINDOW,
                 {"d1": {"click": 1.0}, "d2": {}, "d3": {}}, (1, 0, 0),
                 id="by-visitor-and-slot-not-another-visitor-or-slot"),
    pytest.param([exposure("d1", 1), event("conversion", 10, slot="promo")], WINDOW,
                 {"d1": {}}, (1, 1, 0), id="by-visitor-and-slot-no-exposure-in-that-slot"),
    pytest.param([exposure("d1", 100), event("conversion", 90)], WINDOW,
                 {"d1": {}}, (1, 1, 0), id="by-visitor-and-slot-before-any-exposure"),
    pytest.param([exposure("d1", 1), exposure("d2", 100),
                  event("conversion", 100 + WINDOW + 1)], WINDOW,
                 {"d1": {}, "d2": {}}, (1, 1, 0),
                 id="by-visitor-and-slot-outside-the-window-and-no-earlier-one"),
    pytest.param([exposure("d1", 1), event("conversion", 1 + 50 * WINDOW)], None,
                 {"d1": {"conversion": 1.0}}, (1, 0, 0),
                 id="by-visitor-and-slot-without-a-window"),
    pytest.param([exposure("d1", 1), {**event("conversion", 10), "slot": None}], WINDOW,
                 {"d1": {}}, (1, 1, 0), id="by-visitor-and-slot-names-no-slot"),
    # -- amounts add up; what is not an event ------------------------------------------
    pytest.param([exposure("d1", 1), event("conversion", 2, decision="d1", amount=2.0),
                  event("conversion", 3, amount=3.0), event("click", 4, decision="d1")],
                 WINDOW, {"d1": {"conversion": 5.0, "click": 1.0}}, (3, 0, 0),
                 id="signals-add-up"),
    pytest.param([exposure("d1", 1), {"ts": 2, "type": "note", "visitor": "v1"}], WINDOW,
                 {"d1": {}}, (0, 0, 0), id="a-record-without-a-signal-is-not-an-event"),
    # -- malformed records -------------------------------------------------------------
    pytest.param([exposure("d1", 1), {**event("click", 2, decision="d1"), "signal": "clicks"}],
                 WINDOW,
                 {"d1": {}}, (0, 0, 1), id="malformed-unknown-signal"),
    pytest.param([exposure("d1", 1), event("conversion", 2, decision="d1", amount=-1.0)],
                 WINDOW, {"d1": {}}, (0, 0, 1), id="malformed-negative-amount"),
    pytest.param([exposure("d1", 1), {**event("conversion", 2, decision="d1"), "amount": "5"}],
                 WINDOW, {"d1": {}}, (0, 0, 1), id="malformed-amount-not-a-number"),
    pytest.param([exposure("d1", 1), event("click", math.nan, decision="d1")], WINDOW,
                 {"d1": {}}, (0, 0, 1), id="malformed-event-time"),
    pytest.param([{**exposure("d1", 1), "decision": None}, event("click", 2)], WINDOW,
                 {}, (1, 1, 1), id="malformed-exposure-without-decision-id"),
    pytest.param([exposure("d1", 1, features=None), event("click", 2, decision="d1")], WINDOW,
                 {}, (1, 1, 1), id="malformed-exposure-without-features"),
    pytest.param([{**exposure("d1", 1), "ts": "1"}], WINDOW, {}, (0, 0, 1),
                 id="malformed-exposure-time"),
    pytest.param([{"ts": 4100, "type": "exposure", "visitor": "v2"}], WINDOW, {}, (0, 0, 1),
                 id="malformed-exposure-without-slot"),
]


@pytest.mark.parametrize(("records", "window", "signals", "counts"), CASES)
def test_join_attributes_each_event_by_the_learners_rule(
        records: list[dict[str, Any]], window: float | None,
        signals: dict[str, dict[str, float]], counts: tuple[int, int, int]) -> None:
    joined = join(records, reward_window=window)
    assert {e.decision: e.signals for e in joined.exposures} == signals
    assert (joined.events, joined.unattributed, joined.malformed) == counts


def test_an_exposure_keeps_its_record_and_lists_its_events_in_log_order() -> None:
    records = [exposure("d1", 1.5, tags=["calm", "night"], source=None),
               event("dwell", 2, decision="d1", amount=0.5), event("click", 3, decision="d1")]
    (found,) = join(records).exposures
    assert found == LoggedExposure(
        decision="d1", ts=1.5, visitor="v1", slot="hero", variant="a", source="default",
        propensity=0.5, eligible=("a", "b"), features={"device": "mobile"},
        reasons=("'a' is being tried out.",), tags=("calm", "night"),
        signals={"dwell": 0.5, "click": 1.0}, events=["dwell", "click"], reward=0.0)


def test_rewards_follow_each_slots_objective() -> None:
    records = [exposure("d1", 1), exposure("d2", 2, slot="promo"), exposure("d3", 3, slot="cta"),
               exposure("d4", 4), event("click", 5, decision="d1"),
               event("conversion", 6, decision="d1", amount=2.0),
               event("complaint", 7, decision="d2"), event("click", 8, decision="d3")]
    objectives = {"hero": {"click": 1.0, "conversion": 5.0}, "promo": {"complaint": -10.0}}
    joined = join(records, objectives=objectives)
    # d1: 1 + 5·2; d2: −10; d3's slot has no objective; d4 earned nothing
    assert {e.decision: e.reward for e in joined.exposures} == {
        "d1": 11.0, "d2": -10.0, "d3": 0.0, "d4": 0.0}
    assert {e.reward for e in join(records).exposures} == {0.0}


@pytest.mark.parametrize("window", [0.0, -1.0, math.nan])
def test_a_reward_window_must_be_positive(window: float) -> None:
    with pytest.raises(ValueError, match="reward_window > 0"):
        join([], reward_window=window)


def test_a_pages_other_exposures_take_the_features_of_the_one_that_carries_them() -> None:
    carrier = exposure("d1", 1, page="p1", features={"device": "mobile", "daypart": "night"})
    others = [{k: v for k, v in exposure(d, 1, slot=s, page="p1").items() if k != "features"}
              for d, s in (("d2", "promo"), ("d3", "greeting"))]
    elsewhere = exposure("d4", 1, visitor="v2", page="p1", features={"device": "desktop"})
    joined = join([carrier, elsewhere, *others])
    assert {e.decision: e.features for e in joined.exposures} == {
        "d1": carrier["features"], "d2": carrier["features"], "d3": carrier["features"],
        "d4": {"device": "desktop"}}  # page ids are the visitor's own
    assert joined.malformed == 0


@pytest.mark.parametrize("page", ["p2", None, 7], ids=["another-page", "no-page", "not-str"])
def test_an_exposure_whose_features_cannot_be_found_is_malformed(page: Any) -> None:
    orphan = {k: v for k, v in exposure("d2", 1).items() if k != "features"}
    if page is not None:
        orphan["page"] = page
    joined = join([exposure("d1", 1, page="p1"), orphan])
    assert [e.decision for e in joined.exposures] == ["d1"]
    assert joined.malformed == 1
