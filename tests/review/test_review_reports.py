"""The dashboard's figures, checked against values worked out by hand on a tiny log."""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from personalize.logjoin import Joined, join
from personalize.rules.model import Slot, Variant
from personalize.web.review.reports import (
    DecisionQuery,
    bucket_keys,
    holdout_lift_of,
    mean_interval,
    search_decisions,
    split_test,
    summarize,
    traffic,
)

OBJECTIVES = {"hero": {"click": 1.0, "conversion": 5.0, "complaint": -10.0},
              "cta": {"conversion": 1.0}}
Z = 1.959963984540054  # the normal quantile of a 95% two-sided interval


def exposure(decision: str, ts: float, visitor: str, variant: str, source: str,
             propensity: float = 1.0, slot: str = "hero", reasons: tuple[str, ...] = ()
             ) -> dict[str, Any]:
    return {"ts": ts, "type": "exposure", "visitor": visitor, "decision": decision,
            "slot": slot, "variant": variant, "source": source, "propensity": propensity,
            "eligible": ["a", "b"] if slot == "hero" else ["x", "y"], "features": {"x": 1.0},
            "tags": ["calm"], "reasons": list(reasons)}


def event(kind: str, ts: float, visitor: str, decision: str | None, signal: str,
          amount: float = 1.0, slot: str = "hero") -> dict[str, Any]:
    return {"ts": ts, "type": kind, "visitor": visitor, "decision": decision, "slot": slot,
            "variant": None, "value": amount, "signal": signal, "amount": amount, "reason": ""}


#: rewards by hand: d1 0, d2 1 + 5·2 = 11, d3 −10, d4 1, d5 0
TINY = [
    exposure("d1", 100, "v1", "a", "holdout", reasons=("Shown the standard version.",)),
    event("conversion", 150, "v2", None, "conversion", 4.0),  # before v2 was shown anything
    exposure("d2", 200, "v2", "b", "bandit", 0.8, reasons=("'b' is being tried out at night.",)),
    event("click", 210, "v2", "d2", "click"),
    event("conversion", 250, "v2", None, "conversion", 2.0),  # server-side: v2's latest hero
    exposure("d3", 300, "v3", "a", "bandit", 0.2),
    event("complaint", 310, "v3", "d3", "complaint"),
    exposure("d4", 400, "v1", "a", "holdout"),
    event("click", 410, "v1", "d4", "click"),
    event("click", 420, "v1", "zzz", "click"),              # names no logged decision
    event("conversion", 430, "v9", None, "conversion"),      # a visitor never exposed
    event("feedback", 440, "v1", "d4", "bogus"),             # no such signal
    exposure("d5", 4000, "v2", "b", "bandit", 0.8),
    {"ts": 4100, "type": "exposure", "visitor": "v2"},      # no slot: malformed
]


def as_dashboard(records: list[dict[str, Any]]) -> Joined:
    """The log joined as the dashboard joins it: with the engine's default reward window.

    Every event of these logs falls well within it, so the figures by hand
    hold with or without a window.
    """
    return join(records, reward_window=1800.0, objectives=OBJECTIVES)


def test_join_attributes_events_and_computes_rewards() -> None:
    joined = as_dashboard(TINY)
    rewards = {o.decision: o.reward for o in joined.exposures}
    assert rewards == {"d1": 0.0, "d2": 11.0, "d3": -10.0, "d4": 1.0, "d5": 0.0}
    d2 = next(o for o in joined.exposures if o.decision == "d2")
    assert d2.signals == {"click": 1.0, "conversion": 2.0}
    assert d2.events == ["click", "conversion"]
    assert (joined.events, joined.unattributed, joined.malformed) == (7, 3, 2)


def test_traffic_share_and_reward_per_hour() -> None:
    joined = as_dashboard(TINY)
    series = traffic(joined.exposures, "hero", ["a", "b"], start=0, end=7199, bucket="hour",
                     tz=UTC)
    assert series.labels == ["01 Jan 00:00", "01 Jan 01:00"]
    assert series.exposures == {"a": [3, 0], "b": [1, 1]}
    assert series.share == {"a": [0.75, 0.0], "b": [0.25, 1.0]}
    assert series.reward == {"a": [-3.0, None], "b": [11.0, 0.0]}


def test_traffic_leaves_buckets_without_traffic_empty() -> None:
    joined = as_dashboard(TINY)
    series = traffic(joined.exposures, "hero", ["a", "b"], start=7200, end=10799, bucket="hour",
                     tz=UTC)
    assert series.share == {"a": [None], "b": [None]}
    assert series.reward == {"a": [None], "b": [None]}


@pytest.mark.parametrize(("start", "end", "bucket", "expected"), [
    pytest.param(1774699200, 1774872000, "day", ["Sat 28 Mar", "Sun 29 Mar", "Mon 30 Mar"],
                 id="days-across-the-spring-dst-change"),
    pytest.param(1774742400, 1774749600, "hour", ["29 Mar 02:00", "29 Mar 04:00", "29 Mar 05:00"],
                 id="hours-skip-the-missing-hour"),
    pytest.param(1774742400, 1774742400, "hour", ["29 Mar 02:00"], id="a-single-instant"),
])
def test_buckets_follow_the_local_wall_clock(start: float, end: float, bucket: str,
                                             expected: list[str]) -> None:
    assert bucket_keys(start, end, bucket, ZoneInfo("Europe/Helsinki")) == expected  # type: ignore[arg-type]


def test_bucket_keys_refuse_an_inverted_period() -> None:
    with pytest.raises(ValueError, match="start <= end"):
        bucket_keys(10, 0, "day", UTC)


def test_summary_per_variant() -> None:
    joined = as_dashboard(TINY)
    a, b = summarize(joined.exposures, "hero", ["a", "b"])
    assert (a.exposures, a.share, a.mean_reward) == (3, 0.6, -3.0)
    # b: rewards 11 and 0 → mean 5.5, sample sd √60.5, interval 5.5 ± z·√60.5/√2
    half = Z * math.sqrt(60.5) / math.sqrt(2)
    assert (b.exposures, b.share, b.mean_reward) == (2, 0.4, 5.5)
    assert b.low == pytest.approx(5.5 - half) and b.high == pytest.approx(5.5 + half)


@pytest.mark.parametrize(("values", "expected"), [
    pytest.param([], (None, None, None), id="none"),
    pytest.param([2.0], (2.0, None, None), id="one-value-no-spread"),
    pytest.param([1.0, 3.0], (2.0, 2.0 - Z, 2.0 + Z), id="two-values"),
])
def test_mean_interval(values: list[float], expected: tuple[float | None, ...]) -> None:
    assert mean_interval(values) == pytest.approx(expected)


def test_holdout_lift_by_hand() -> None:
    lift = holdout_lift_of(as_dashboard(TINY).exposures, "hero")
    # personalized: 11, −10, 0 (mean 1/3, variance 1986/9/2); holdout: 0, 1 (mean 1/2, var 1/2)
    se = math.sqrt(1986 / 9 / 2 / 3 + 0.5 / 2)
    assert (lift.treated, lift.holdout) == (3, 2)
    assert lift.treated_mean == pytest.approx(1 / 3) and lift.holdout_mean == 0.5
    assert lift.lift == pytest.approx(-1 / 6)
    assert lift.low == pytest.approx(-1 / 6 - Z * se)
    assert lift.high == pytest.approx(-1 / 6 + Z * se)


def test_holdout_lift_waits_for_two_of_each() -> None:
    lift = holdout_lift_of(as_dashboard(TINY[:7]).exposures, "hero")
    assert (lift.treated, lift.holdout, lift.lift, lift.low) == (2, 1, None, None)
    assert lift.holdout_mean == 0.0


CTA = Slot(name="cta", default="x", policy="split", weights={"x": 1.0, "y": 1.0},
           variants={"x": Variant("x", html="X"), "y": Variant("y", html="Y"),
                     "z": Variant("z", html="Z")})


def test_split_counts_each_visitor_once() -> None:
    records = [
        exposure("c1", 10, "v1", "x", "split", 0.5, slot="cta"),
        event("conversion", 11, "v1", "c1", "conversion", slot="cta"),
        exposure("c2", 20, "v2", "y", "split", 0.5, slot="cta"),
        exposure("c3", 30, "v3", "y", "split", 0.5, slot="cta"),
        exposure("c4", 40, "v1", "x", "split", 0.5, slot="cta"),  # v1 again: still one visitor
        exposure("c5", 50, "v4", "z", "split", 0.5, slot="cta"),  # z has no weight
        exposure("c6", 60, "v5", "x", "holdout", slot="cta"),     # not in the split
    ]
    result = split_test(as_dashboard(records).exposures, CTA)
    assert (result.visitors, result.outside) == (4, 1)
    report = result.report
    assert report is not None
    assert {v: (s.count, s.successes, s.rate) for v, s in report.variants.items()} == {
        "x": (1, 1, 1.0), "y": (2, 0, 0.0)}
    # chi-square of (1, 2) against (1.5, 1.5) is 1/3; with one degree of freedom p = erfc(√(χ²/2))
    assert report.chi_square == pytest.approx(1 / 3)
    assert report.srm_p_value == pytest.approx(math.erfc(math.sqrt(1 / 6)))
    assert not report.srm
    assert result.rewards["x"][0] == 0.5 and result.rewards["x"][3] == 2


def test_split_reports_a_sample_ratio_mismatch_without_warning() -> None:
    records = [exposure(f"c{i}", i, f"v{i}", "x" if i < 100 else "y", "split", 0.5, slot="cta")
               for i in range(110)]
    report = split_test(as_dashboard(records).exposures, CTA).report
    assert report is not None and report.srm and report.srm_p_value < 1e-6


def test_split_without_visitors_has_no_report() -> None:
    result = split_test([], CTA)
    assert (result.visitors, result.report) == (0, None)


@pytest.mark.parametrize(("query", "expected"), [
    pytest.param(DecisionQuery(), ["d5", "d4", "d3", "d2", "d1"], id="all-newest-first"),
    pytest.param(DecisionQuery(source="holdout"), ["d4", "d1"], id="by-source"),
    pytest.param(DecisionQuery(variant="b"), ["d5", "d2"], id="by-variant"),
    pytest.param(DecisionQuery(slot="cta"), [], id="by-slot"),
    pytest.param(DecisionQuery(text="TRIED night"), ["d2"], id="all-words-in-reasons"),
    pytest.param(DecisionQuery(text="tried day"), [], id="a-missing-word"),
    pytest.param(DecisionQuery(text="complaint"), ["d3"], id="by-event"),
    pytest.param(DecisionQuery(text="v3"), ["d3"], id="by-visitor"),
])
def test_search_decisions(query: DecisionQuery, expected: list[str]) -> None:
    found = search_decisions(as_dashboard(TINY).exposures, query)
    assert [o.decision for o in found.items] == expected
    assert found.total == len(expected)


def test_search_decisions_pages() -> None:
    exposures = as_dashboard(TINY).exposures
    first = search_decisions(exposures, DecisionQuery(), offset=0, limit=2)
    last = search_decisions(exposures, DecisionQuery(), offset=4, limit=2)
    assert [o.decision for o in first.items] == ["d5", "d4"]
    assert (first.has_newer, first.has_older) == (False, True)
    assert [o.decision for o in last.items] == ["d1"]
    assert (last.has_newer, last.has_older) == (True, False)
    with pytest.raises(ValueError, match="limit >= 1"):
        search_decisions(exposures, DecisionQuery(), limit=0)
