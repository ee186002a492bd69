"""The demo roastery's rules/: valid, using every feature, and doing what they say."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from personalize.context import Context
from personalize.rules import RuleSet, load_rules
from personalize.rules.operators import ALL_OPERATORS
from tests.rules.rule_kit import DEMO_RULES


@pytest.fixture(scope="module")
def demo() -> RuleSet:
    return load_rules(DEMO_RULES)


def _raw() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DEMO_RULES.glob("*.yaml")))


def test_demo_rules_load_without_warnings(demo: RuleSet) -> None:
    assert demo.warnings == ()
    assert sorted(demo.slots) == ["closing", "cta", "greeting", "help", "hero", "promo"]
    assert demo.site.timezone == "Europe/Helsinki" and demo.site.languages == ("en", "fi")
    assert len(demo.files) == 4


def test_demo_rules_use_every_feature(demo: RuleSet) -> None:
    raw = _raw()
    for operator in (*ALL_OPERATORS, "$options", "$and", "$or", "$not", "segment:"):
        assert operator in raw, operator
    for action in ("show:", "allow:", "exclude:", "sensitive: true", "stage: end", "slot:",
                   "slots:", "tag:", "priority:", "schedule:", "enabled: false"):
        assert action in raw, action
    data: dict[str, Any] = {}
    for path in sorted(DEMO_RULES.glob("*.yaml")):
        data.update(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert set(data) == {"site", "segments", "slots", "rules", "objectives", "guardrails"}
    variants = [v for s in demo.slots.values() for v in s.variants.values()]
    assert any(v.html for v in variants) and any(v.template for v in variants)
    assert any(v.key for v in variants) and any(v.schedule for v in variants)
    assert demo.slots["cta"].policy == "split" and demo.slots["cta"].weights
    assert all(min(s.objective.values()) < 0 for s in demo.slots.values())


def test_demo_has_the_dark_pattern_for_the_guardrails(demo: RuleSet) -> None:
    countdown = demo.slots["promo"].variants["promo-countdown"]
    assert countdown.tags == {"promo", "urgent"}
    assert "Only 2 left" in (countdown.html or "")
    assert any(c.variant == "promo-countdown" for c in demo.guardrails.frequency_caps)


@pytest.mark.parametrize(("when", "options", "slot", "eligible", "pinned"), [
    pytest.param("2026-11-23T23:30", {"device": "mobile"}, "hero",
                 ("hero-default", "hero-morning", "hero-night", "hero-brew-guide"),
                 "hero-night", id="phone-at-night-before-season"),
    pytest.param("2026-12-05T23:30", {"device": "mobile"}, "hero",
                 ("hero-default", "hero-morning", "hero-night", "hero-brew-guide", "hero-joulu"),
                 "hero-joulu", id="seasonal-banner-in-season"),
    pytest.param("2026-12-05T23:30", {"device": "mobile", "referrer": "email"}, "hero",
                 ("hero-default", "hero-morning", "hero-night", "hero-brew-guide", "hero-joulu"),
                 "hero-night", id="seasonal-pin-not-for-newsletter-readers"),
    pytest.param("2026-11-24T08:00", {}, "hero",
                 ("hero-default", "hero-morning", "hero-night", "hero-brew-guide"),
                 "hero-morning", id="weekday-morning"),
    pytest.param("2026-11-24T15:00", {"sections": ("guides", "home")}, "hero",
                 ("hero-default", "hero-brew-guide"), None, id="guide-reader"),
    pytest.param("2026-11-24T15:00", {"language": "fi", "visits": 3, "conversions": 2},
                 "greeting", ("greeting-neutral", "greeting-welcome-back", "greeting-finnish"),
                 "greeting-finnish", id="finnish-beats-welcome-back"),
    pytest.param("2026-11-24T15:00", {"visits": 3, "conversions": 2}, "greeting",
                 ("greeting-neutral", "greeting-welcome-back"), "greeting-welcome-back",
                 id="returning-buyer"),
    pytest.param("2026-11-24T15:00", {"path": "/cart"}, "promo", ("promo-shipping",), None,
                 id="no-offers-in-cart"),
    pytest.param("2026-11-24T15:00", {"feedback_negative": 2, "path": "/coffee"}, "promo",
                 ("promo-shipping",), None, id="no-offers-after-complaints"),
    pytest.param("2026-11-24T15:00", {"path": "/products/joulukahvi", "campaign": "Joulu-2026",
                                      "referrer": "email"}, "promo",
                 ("promo-shipping", "promo-bundle", "promo-subscription", "promo-countdown"),
                 "promo-subscription", id="campaign-landing-page"),
    pytest.param("2026-12-15T15:00", {"path": "/"}, "promo",
                 ("promo-shipping", "promo-bundle", "promo-subscription"), None,
                 id="campaign-week-allows-two-offers"),
    pytest.param("2026-11-24T15:00", {"days_since_conversion": 1.0, "path": "/coffee"},
                 "promo", ("promo-shipping", "promo-subscription", "promo-countdown"), None,
                 id="recent-buyer-no-upsell"),
    pytest.param("2026-11-24T10:00", {"path": "/support/faq"}, "help",
                 ("help-faq", "help-chat", "help-brew-guide"), "help-chat",
                 id="support-in-opening-hours"),
    pytest.param("2026-11-24T21:00", {"path": "/support/faq", "device": "mobile"}, "help",
                 ("help-faq", "help-email", "help-brew-guide"), None,
                 id="support-after-hours"),
    pytest.param("2026-11-24T19:00", {"path": "/coffee"}, "help",
                 ("help-faq", "help-email", "help-brew-guide"), "help-brew-guide",
                 id="desktop-evening-brew-guide"),
    pytest.param("2026-11-24T19:00", {"path": "/checkout/thank-you", "conversions": 1},
                 "closing", ("closing-thanks", "closing-brew-tips", "closing-refer"),
                 "closing-brew-tips", id="first-order-thank-you"),
    pytest.param("2026-11-28T19:00", {"device": "mobile"}, "cta", ("cta-add", "cta-add-fresh"),
                 None, id="split-test-untouched-weekend-rule-disabled"),
])
def test_demo_scenarios(demo: RuleSet, make_context: Callable[..., Context], when: str,
                        options: dict[str, Any], slot: str, eligible: tuple[str, ...],
                        pinned: str | None) -> None:
    outcome = demo.evaluate(make_context(when, **options), slot)
    assert outcome.eligible == eligible
    assert outcome.pinned == pinned


def test_support_pages_are_sensitive_and_thank_you_ends_the_journey(
        demo: RuleSet, make_context: Callable[..., Context]) -> None:
    support = demo.evaluate_all(make_context(path="/support/returns"))
    assert all(o.sensitive for o in support.values())
    thanks = demo.evaluate_all(make_context(path="/checkout/thank-you"))
    assert all(o.stage == "end" for o in thanks.values())
    assert not any(o.sensitive or o.stage for o in demo.evaluate_all(make_context()).values())
