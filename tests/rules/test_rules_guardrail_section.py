"""The `guardrails:` section: defaults, every setting, and refusals with their reasons."""

from __future__ import annotations

import dataclasses

import pytest

from personalize.exceptions import RuleSetError
from personalize.rules.guardrail_settings import (
    FrequencyCap,
    GuardrailSettings,
    build_guardrails,
)
from personalize.signals import EXPERIENCE_SIGNALS
from tests.rules.rule_kit import rules_from

SLOT = """
slots:
  hero:
    default: h0
    variants:
      - {id: h0, html: <p>0</p>, tags: [calm]}
      - {id: h1, html: <p>1</p>, tags: [promo, upsell]}
      - {id: h2, html: <p>2</p>, tags: [urgent]}
objectives:
  hero: {click: 1, bounce: -1}
"""


def test_defaults() -> None:
    settings = build_guardrails({})
    assert settings == GuardrailSettings()
    assert (settings.bots.enabled, settings.holdout.share, settings.holdout.salt) == (
        True, 0.05, "holdout")
    assert (settings.exploration.floor, settings.exploration.cap) == (0.02, 0.9)
    assert settings.frequency_caps == ()
    assert settings.annoyance_budget.tags == {"promo", "upsell", "urgent"}
    assert settings.annoyance_budget.max_per_visit == 3
    assert settings.sensitive.allowed_tags == {"calm"}
    assert settings.end_of_journey.blocked_tags == {"upsell", "promo", "urgent"}
    monitor = settings.experience_monitor
    assert (monitor.enabled, set(monitor.signals), monitor.alpha, monitor.min_exposures,
            monitor.harm_ratio) == (True, EXPERIENCE_SIGNALS, 0.05, 100, 1.5)
    assert settings.stickiness.scope == "visit" and settings.transparency.visitor_link


def test_every_setting_is_read() -> None:
    rules = rules_from(SLOT, """
      guardrails:
        consent: {}
        bots: {enabled: false}
        holdout: {share: 0.1, salt: spring}
        exploration: {floor: 0.05, cap: 0.8}
        frequency_caps:
          - {variant: h1, max: 2, per: day}
          - {tag: urgent, max: 1, per: week}
        annoyance_budget: {tags: [urgent], max_per_visit: 1}
        sensitive: {allowed_tags: [calm]}
        end_of_journey: {blocked_tags: [upsell]}
        experience_monitor: {enabled: false, signals: [complaint, bounce], alpha: 0.01,
                             min_exposures: 50, harm_ratio: 2}
        stickiness: {scope: visitor}
        transparency: {visitor_link: false}
    """)
    g = rules.guardrails
    assert not g.bots.enabled and (g.holdout.share, g.holdout.salt) == (0.1, "spring")
    assert (g.exploration.floor, g.exploration.cap) == (0.05, 0.8)
    assert g.frequency_caps == (FrequencyCap(max=2, per="day", variant="h1"),
                                FrequencyCap(max=1, per="week", tag="urgent"))
    assert (g.annoyance_budget.tags, g.annoyance_budget.max_per_visit) == ({"urgent"}, 1)
    assert g.end_of_journey.blocked_tags == {"upsell"}
    assert g.experience_monitor.signals == ("complaint", "bounce")
    assert (g.experience_monitor.enabled, g.experience_monitor.alpha,
            g.experience_monitor.min_exposures, g.experience_monitor.harm_ratio) == (
        False, 0.01, 50, 2)
    assert g.stickiness.scope == "visitor" and not g.transparency.visitor_link


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        GuardrailSettings().holdout.share = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(("section", "message"), [
    pytest.param("consent: {enabled: false}", "guardrails.consent: consent has no settings: "
                 "it is always on", id="consent-cannot-be-turned-off"),
    pytest.param("holdout: {share: 0.51}", "guardrails.holdout.share: expected a number from "
                 "0 to 0.5, got 0.51", id="holdout-share"),
    pytest.param("exploration: {cap: 0}", "guardrails.exploration.cap: expected a number above "
                 "0 to 1, got 0", id="cap-above-zero"),
    pytest.param("exploration: {floor: 0.4}", "guardrails.exploration.floor: slot 'hero' has 3 "
                 "variants, and 3 × floor 0.4 exceeds 1; expected a floor of at most 0.333",
                 id="floor-times-variants"),
    pytest.param("exploration: {floor: 0.2, cap: 0.1}", "guardrails.exploration.cap: expected "
                 "a cap of at least the floor (0.2), got 0.1", id="cap-below-floor"),
    pytest.param("frequency_caps: [{variant: h11, max: 1, per: day}]", "guardrails."
                 "frequency_caps[0].variant: unknown variant 'h11'; did you mean 'h1'?",
                 id="cap-unknown-variant"),
    pytest.param("frequency_caps: [{max: 1, per: day}]", "guardrails.frequency_caps[0]: "
                 "expected one of variant or tag", id="cap-needs-target"),
    pytest.param("frequency_caps: [{tag: promo, max: 0, per: day}]", "guardrails."
                 "frequency_caps[0].max: expected a number of at least 1, got 0",
                 id="cap-max"),
    pytest.param("frequency_caps: [{tag: promo, max: 1, per: hour}]", "guardrails."
                 "frequency_caps[0].per: expected one of 'visit', 'day', 'week', got 'hour'",
                 id="cap-period"),
    pytest.param("experience_monitor: {signals: [click]}", "guardrails.experience_monitor."
                 "signals[0]: expected one of 'bounce', 'complaint', 'feedback_negative', "
                 "got 'click'", id="monitor-signals"),
    pytest.param("stickiness: {scope: session}", "guardrails.stickiness.scope: expected one "
                 "of 'visit', 'visitor', 'none', got 'session'", id="stickiness-scope"),
    pytest.param("transparency: {visitor_lnk: true}", "guardrails.transparency: unknown key "
                 "'visitor_lnk'; did you mean 'visitor_link'?", id="unknown-key-suggests"),
    pytest.param("bots: {enabled: no}", "guardrails.bots.enabled: expected true or false, got "
                 "'no'; write true or false", id="yaml-no-is-not-false"),
    pytest.param("experience_monitor: {ramp_up: {share: 0}}", "guardrails.experience_monitor."
                 "ramp_up.share: expected a number above 0 to 1, got 0", id="ramp-share-zero"),
    pytest.param("experience_monitor: {ramp_up: {share: 1.2}}", "guardrails.experience_monitor."
                 "ramp_up.share: expected a number above 0 to 1, got 1.2",
                 id="ramp-share-above-one"),
    pytest.param("experience_monitor: {ramp_up: {exposures: -5}}", "guardrails."
                 "experience_monitor.ramp_up.exposures: expected a number of at least 0, got -5",
                 id="ramp-negative-exposures"),
    pytest.param("experience_monitor: {ramp_up: {shares: 0.2}}", "guardrails."
                 "experience_monitor.ramp_up: unknown key 'shares'; did you mean 'share'?",
                 id="ramp-unknown-key"),
])
def test_refusals(section: str, message: str) -> None:
    with pytest.raises(RuleSetError) as caught:
        rules_from(SLOT, "guardrails:\n  " + section)
    assert [p.message for p in caught.value.problems if p.severity == "error"] == [message]


def test_floor_problem_with_the_default_floor_points_at_the_slot() -> None:
    many = "\n".join(f"      - {{id: v{i}, key: k{i}}}" for i in range(60))
    text = f"slots:\n  big:\n    default: v0\n    variants:\n{many}\n"
    with pytest.raises(RuleSetError) as caught:
        rules_from(text)
    error = next(p for p in caught.value.problems if p.severity == "error")
    assert (error.line, error.column) == (2, 3)
    assert error.message.startswith("guardrails.exploration.floor (default): slot 'big' has 60")


def test_unused_tags_warn() -> None:
    rules = rules_from(SLOT, "guardrails:\n  sensitive: {allowed_tags: [clam]}\n"
                             "  frequency_caps: [{tag: promos, max: 1, per: day}]")
    assert [w.message for w in rules.warnings] == [
        "guardrails.sensitive.allowed_tags[0]: no variant has the tag 'clam'; did you mean "
        "'calm'?",
        "guardrails.frequency_caps[0].tag: no variant has the tag 'promos'; did you mean "
        "'promo'?"]
