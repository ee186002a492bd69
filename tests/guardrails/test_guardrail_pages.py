"""Sensitive pages, the end of a journey, and exploration bounds."""

from __future__ import annotations

import pytest

from personalize.exceptions import ConfigError
from personalize.guardrails.consent import ConsentGuard
from personalize.guardrails.end_of_journey import EndOfJourney
from personalize.guardrails.exploration import ExplorationBounds
from personalize.guardrails.sensitive import Sensitive
from tests.guardrails.guardrail_kit import candidates, context, outcome, settings, slot


@pytest.mark.parametrize(
    ("sensitive", "allowed", "left", "explore"),
    [
        pytest.param(True, ("calm", "help"), ["calm", "help"], False, id="calm-only"),
        pytest.param(True, (), ["calm"], False, id="nothing-allowed-default-stays"),
        pytest.param(True, ("calm", "help", "promo", "upsell"), ["calm", "sale", "gold", "help"],
                     False, id="nothing-to-remove-still-no-exploration"),
        pytest.param(False, ("calm",), ["calm", "sale", "gold", "help", "new"], True,
                     id="not-sensitive"),
    ],
)
def test_sensitive(sensitive: bool, allowed: tuple[str, ...], left: list[str],
                   explore: bool) -> None:
    hero = slot()
    work = candidates(hero)
    guard = Sensitive(settings(allowed_tags=allowed))
    guard.before(context(section="support"), outcome(hero, sensitive=sensitive), work)
    assert work.eligible == left
    assert work.explore is explore
    texts = [r.text for r in work.reasons]
    if sensitive:
        assert texts[-1] == ("Nothing experimental is shown here because the 'support' page "
                             "is a sensitive one.")
        assert guard.report()["decisions"] == 1
    else:
        assert texts == []


def test_sensitive_reason_names_what_was_left_out() -> None:
    hero = slot()
    work = candidates(hero)
    Sensitive(settings(allowed_tags=("calm",))).before(
        context(section="cancel"), outcome(hero, sensitive=True), work)
    assert work.reasons[0].text == (
        "'Big sale', 'Gold plan' and 'new' were left out because the 'cancel' page is a "
        "sensitive one: only calm content is shown.")


def test_an_unfit_rule_pin_kept_by_consent_falls_back_to_the_default() -> None:
    hero = slot()
    work = candidates(hero)
    ctx = context(tracking=False, reason="dnt", section="support")
    rules = outcome(hero, sensitive=True, pinned="sale")
    ConsentGuard().before(ctx, rules, work)
    assert work.forced == "sale"
    Sensitive(settings(allowed_tags=("calm",))).before(ctx, rules, work)
    assert (work.forced, work.forced_source) == ("calm", "default")


@pytest.mark.parametrize(
    ("stage", "blocked", "left"),
    [
        pytest.param("end", ("upsell",), ["calm", "help", "new"], id="no-upsell"),
        pytest.param("end", ("calm",), ["calm", "sale", "gold", "new"], id="default-stays"),
        pytest.param(None, ("upsell",), ["calm", "sale", "gold", "help", "new"], id="mid-way"),
    ],
)
def test_end_of_journey(stage: str | None, blocked: tuple[str, ...], left: list[str]) -> None:
    hero = slot()
    work = candidates(hero)
    guard = EndOfJourney(settings(blocked_tags=blocked))
    guard.before(context(), outcome(hero, stage=stage), work)
    assert work.eligible == left
    removed = 5 - len(left)
    assert guard.report()["removed"] == removed
    if stage == "end" and blocked == ("upsell",):
        assert work.reasons[0].text == ("'Big sale' and 'Gold plan' were left out: you have "
                                        "finished what you came to do, so no more offers now.")


@pytest.mark.parametrize(
    ("explore", "forced", "bounds"),
    [
        pytest.param(True, None, (0.05, 0.8), id="bounded"),
        pytest.param(False, None, (0.0, 1.0), id="exploration-off"),
        pytest.param(True, "calm", (0.0, 1.0), id="forced-untouched"),
    ],
)
def test_exploration_bounds(explore: bool, forced: str | None,
                            bounds: tuple[float, float]) -> None:
    hero = slot()
    work = candidates(hero)
    work.explore, work.forced = explore, forced
    guard = ExplorationBounds(settings(floor=0.05, cap=0.8))
    assert guard.bounds() == (0.05, 0.8)
    guard.before(context(), outcome(hero), work)
    assert (work.floor, work.cap) == bounds
    assert guard.report()["floor"] == 0.05


@pytest.mark.parametrize(
    ("floor", "cap"),
    [pytest.param(0.5, 0.5, id="floor-equals-cap"), pytest.param(-0.1, 0.9, id="negative"),
     pytest.param(0.1, 1.5, id="cap-above-one")],
)
def test_bad_exploration_bounds_are_refused(floor: float, cap: float) -> None:
    with pytest.raises(ConfigError, match="floor < cap"):
        ExplorationBounds(settings(floor=floor, cap=cap))
