"""Frequency caps and the annoyance budget count exposures per visit, day and week."""

from __future__ import annotations

import pytest

from personalize.context.history import Exposure
from personalize.exceptions import ConfigError
from personalize.guardrails.annoyance import AnnoyanceBudget
from personalize.guardrails.frequency import FrequencyCaps
from tests.guardrails.guardrail_kit import (
    DAY,
    HOUR,
    NOW,
    Clock,
    candidates,
    context,
    exposure,
    outcome,
    settings,
    slot,
)

VISIT_START = NOW - HOUR


def cap(variant: str | None = None, tag: str | None = None, max: int = 2,
        per: str = "day") -> object:
    return settings(variant=variant, tag=tag, max=max, per=per)


@pytest.mark.parametrize(
    ("caps", "history", "shown_now", "removed", "text"),
    [
        pytest.param([cap("sale", max=3)], [exposure("sale", NOW - 5 * HOUR)] * 3, [],
                     {"sale"}, "'Big sale' was skipped: you saw it 3 times today.",
                     id="variant-day-reached"),
        pytest.param([cap("sale", max=3)], [exposure("sale", NOW - 5 * HOUR)] * 2, [],
                     set(), None, id="variant-day-below"),
        pytest.param([cap("sale", max=2)], [exposure("sale", NOW - 2 * DAY)] * 5, [],
                     set(), None, id="older-than-a-day-not-counted"),
        pytest.param([cap("sale", max=2, per="week")], [exposure("sale", NOW - 2 * DAY)] * 2,
                     [], {"sale"}, "'Big sale' was skipped: you saw it twice this week.",
                     id="week-counts-two-days-ago"),
        pytest.param([cap("sale", max=1, per="visit")], [exposure("sale", VISIT_START - 60)],
                     [], set(), None, id="previous-visit-not-counted"),
        pytest.param([cap("sale", max=1, per="visit")], [],
                     [exposure("sale", NOW, slot_name="footer")], {"sale"},
                     "'Big sale' was skipped: you saw it once during this visit.",
                     id="this-request-other-slot-counts"),
        pytest.param([cap(tag="upsell", max=2)],
                     [exposure("gold", NOW - HOUR), exposure("sale", NOW - HOUR)], [],
                     {"sale", "gold"},
                     "'Big sale' and 'Gold plan' were skipped: you already saw 'upsell' "
                     "content twice today.", id="tag-removes-every-tagged"),
        pytest.param([cap("calm", max=1)], [exposure("calm", NOW - HOUR)] * 4, [],
                     set(), None, id="default-is-never-removed"),
        pytest.param([cap(tag="calm", max=1)], [exposure("help", NOW - HOUR)], [],
                     {"help"}, "'Help first' was skipped: you already saw 'calm' content "
                     "once today.", id="tag-cap-spares-default"),
    ],
)
def test_caps(caps: list[object], history: list[Exposure], shown_now: list[Exposure],
              removed: set[str], text: str | None) -> None:
    hero = slot()
    work = candidates(hero, shown=tuple(shown_now))
    guard = FrequencyCaps(caps, clock=Clock())  # type: ignore[arg-type]
    guard.before(context(exposures=tuple(history), visit_started=VISIT_START),
                 outcome(hero), work)
    assert set(hero.variants) - set(work.eligible) == removed
    assert [r.text for r in work.reasons] == ([text] if text else [])
    assert guard.report()["removed"] == len(removed)


def test_day_window_moves_with_the_clock() -> None:
    hero = slot()
    clock = Clock()
    guard = FrequencyCaps([cap("sale", max=1)], clock=clock)  # type: ignore[list-item]
    ctx = context(exposures=(exposure("sale", NOW - 23 * HOUR),))
    work = candidates(hero)
    guard.before(ctx, outcome(hero), work)
    assert "sale" not in work.eligible
    clock.now += 2 * HOUR
    work = candidates(hero)
    guard.before(ctx, outcome(hero), work)
    assert "sale" in work.eligible


@pytest.mark.parametrize(
    ("item", "message"),
    [
        pytest.param(cap(), "exactly one", id="neither"),
        pytest.param(cap("sale", "promo"), "exactly one", id="both"),
        pytest.param(cap("sale", per="month"), "visit, day or week", id="period"),
        pytest.param(cap("sale", max=0), "at least 1", id="max"),
    ],
)
def test_bad_caps_are_refused(item: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FrequencyCaps([item])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("history", "shown_now", "removed", "text"),
    [
        pytest.param([exposure("sale", NOW - 600)] * 2, [], {"sale"},
                     "'Big sale' was skipped: you have already seen 2 promotions during this "
                     "visit.", id="spent"),
        pytest.param([exposure("sale", NOW - 600)],
                     [exposure("sale", NOW, "footer")], {"sale"},
                     "'Big sale' was skipped: you have already seen 2 promotions during this "
                     "visit.", id="spent-with-this-request"),
        pytest.param([exposure("sale", NOW - 600)], [], set(), None, id="one-left"),
        pytest.param([exposure("sale", VISIT_START - 10)] * 5, [], set(), None,
                     id="earlier-visit"),
        pytest.param([exposure("gold", NOW - 600)] * 5, [], set(), None, id="other-tags"),
    ],
)
def test_annoyance_budget(history: list[Exposure], shown_now: list[Exposure],
                          removed: set[str], text: str | None) -> None:
    hero = slot()
    work = candidates(hero, shown=tuple(shown_now))
    guard = AnnoyanceBudget(settings(tags=("promo",), max_per_visit=2))
    guard.before(context(exposures=tuple(history), visit_started=VISIT_START),
                 outcome(hero), work)
    assert set(hero.variants) - set(work.eligible) == removed
    assert [r.text for r in work.reasons] == ([text] if text else [])


@pytest.mark.parametrize(
    ("budget", "enabled"),
    [
        pytest.param(settings(tags=(), max_per_visit=1), False, id="no-tags"),
        pytest.param(settings(tags=("promo",), max_per_visit=None), False, id="no-max"),
        pytest.param(settings(tags=("promo",), max_per_visit=1), True, id="on"),
    ],
)
def test_annoyance_budget_can_be_off(budget: object, enabled: bool) -> None:
    hero = slot()
    work = candidates(hero)
    guard = AnnoyanceBudget(budget)  # type: ignore[arg-type]
    guard.before(context(exposures=(exposure("sale", NOW - 60),)), outcome(hero), work)
    assert ("sale" not in work.eligible) is enabled
    assert guard.report()["enabled"] is enabled


def test_annoyance_budget_refuses_zero() -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        AnnoyanceBudget(settings(tags=("promo",), max_per_visit=0))
