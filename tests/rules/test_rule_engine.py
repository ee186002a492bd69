"""RuleSet.evaluate: eligibility, pins, precedence, schedules and explanations."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from datetime import datetime

import pytest

from personalize.context import Context
from personalize.exceptions import RuleError
from personalize.rules import RuleSet
from tests.rules.rule_kit import rules_from

SLOTS = """
site: {timezone: Europe/Helsinki}
slots:
  hero:
    default: h-default
    variants:
      - {id: h-default, html: "<p>d</p>", tags: [calm]}
      - {id: h-calm, html: "<p>c</p>", tags: [calm]}
      - {id: h-promo, html: "<p>p</p>", tags: [promo]}
      - {id: h-upsell, html: "<p>u</p>", tags: [upsell, promo-extra]}
      - {id: h-season, html: "<p>s</p>", tags: [seasonal],
         schedule: {start: 2026-12-01, end: 2026-12-27}}
  help:
    default: x-faq
    variants:
      - {id: x-faq, key: help.faq, tags: [calm]}
      - {id: x-chat, key: help.chat, tags: [promo]}
"""

def _rules(text: str) -> RuleSet:
    return rules_from(SLOTS, "rules:\n" + textwrap.indent(textwrap.dedent(text), "  "))


@pytest.mark.parametrize(("rules", "eligible", "pinned"), [
    pytest.param("[]", ("h-default", "h-calm", "h-promo", "h-upsell"), None, id="no-rules"),
    pytest.param("""
      - {name: a, when: {device.type: mobile}, then: {allow: [h-calm, h-promo]}}
    """, ("h-default", "h-calm", "h-promo"), None, id="allow-keeps-default"),
    pytest.param("""
      - {name: a, then: {allow: [h-calm, h-promo]}}
      - {name: b, then: {allow: [h-promo, h-upsell]}}
    """, ("h-default", "h-promo"), None, id="allows-intersect"),
    pytest.param("""
      - {name: a, then: {slot: hero, allow: ["tag:promo*"]}}
    """, ("h-default", "h-promo", "h-upsell"), None, id="allow-tag-glob"),
    pytest.param("""
      - {name: a, then: {slot: hero, exclude: ["tag:calm"]}}
    """, ("h-default", "h-promo", "h-upsell"), None, id="exclude-tag-spares-default"),
    pytest.param("""
      - {name: a, then: {exclude: [h-default, h-calm]}}
    """, ("h-promo", "h-upsell"), None, id="exclude-default-by-id"),
    pytest.param("""
      - {name: a, then: {exclude: [h-default, h-calm, h-promo, h-upsell]}}
    """, ("h-default",), None, id="nothing-left-falls-back-to-default"),
    pytest.param("""
      - {name: a, then: {show: h-promo}}
    """, ("h-default", "h-calm", "h-promo", "h-upsell"), "h-promo", id="show-pins"),
    pytest.param("""
      - {name: low, then: {show: h-promo}}
      - {name: high, priority: 5, then: {show: h-calm}}
    """, ("h-default", "h-calm", "h-promo", "h-upsell"), "h-calm", id="higher-priority-wins"),
    pytest.param("""
      - {name: first, when: {device.type: mobile}, then: {show: h-promo}}
      - {name: second, when: {time.daypart: afternoon}, then: {show: h-calm}}
    """, ("h-default", "h-calm", "h-promo", "h-upsell"), "h-promo", id="same-priority-file-order"),
    pytest.param("""
      - {name: pin, priority: 9, then: {show: h-upsell}}
      - {name: no-upsell, then: {exclude: ["tag:upsell"]}}
      - {name: fallback-pin, then: {show: h-calm}}
    """, ("h-default", "h-calm", "h-promo"), "h-calm", id="excluded-pin-gives-way"),
    pytest.param("""
      - {name: pin, priority: 9, then: {show: h-upsell}}
      - {name: calm-only, then: {slot: hero, allow: ["tag:calm"]}}
    """, ("h-default", "h-calm"), None, id="pin-outside-allow-ignored"),
    pytest.param("""
      - {name: a, when: {device.type: desktop}, then: {show: h-promo}}
    """, ("h-default", "h-calm", "h-promo", "h-upsell"), None, id="non-matching-rule-does-nothing"),
    pytest.param("""
      - {name: a, enabled: false, then: {show: h-promo}}
    """, ("h-default", "h-calm", "h-promo", "h-upsell"), None, id="disabled-rule"),
    pytest.param("""
      - {name: a, schedule: {start: 2027-01-01}, then: {show: h-promo}}
    """, ("h-default", "h-calm", "h-promo", "h-upsell"), None, id="rule-not-started"),
    pytest.param("""
      - {name: a, schedule: {start: 2026-11-01, end: 2026-12-01}, then: {show: h-promo}}
    """, ("h-default", "h-calm", "h-promo", "h-upsell"), "h-promo", id="rule-in-schedule"),
])
def test_hero_outcome(rules: str, eligible: tuple[str, ...], pinned: str | None,
                      make_context: Callable[..., Context]) -> None:
    context = make_context("2026-11-23T14:00", device="mobile")
    outcome = _rules(rules).evaluate(context, "hero")
    assert outcome.eligible == eligible
    assert outcome.pinned == pinned
    assert outcome.slot == "hero"


def test_variant_schedule_filters_by_now(make_context: Callable[..., Context]) -> None:
    rules = _rules("[]")
    context = make_context("2026-12-10T12:00")
    assert "h-season" in rules.evaluate(context, "hero").eligible
    before = rules.evaluate(context, "hero", datetime.fromisoformat("2026-11-30T23:59+02:00"))
    assert "h-season" not in before.eligible
    assert any(r.code == "variant_schedule" for r in before.reasons)
    start = rules.evaluate(context, "hero", datetime(2026, 12, 1, 0, 0))  # naive: site's zone
    assert "h-season" in start.eligible
    end = rules.evaluate(context, "hero", datetime(2026, 12, 27, 0, 0))
    assert "h-season" not in end.eligible


def test_pin_of_scheduled_out_variant_is_ignored_with_reason(
        make_context: Callable[..., Context]) -> None:
    rules = _rules("""
      - {name: season, priority: 3, then: {show: h-season}}
      - {name: calm, then: {show: h-calm}}
    """)
    outcome = rules.evaluate(make_context("2026-11-23T12:00"), "hero")
    assert (outcome.pinned, outcome.pinned_by) == ("h-calm", "calm")
    ignored = [r.text for r in outcome.reasons if r.code == "rule_pin_ignored"]
    assert ignored == ["Rule 'season' would show h-season, but it is outside its schedule."]
    in_season = rules.evaluate(make_context("2026-12-24T12:00"), "hero")
    assert (in_season.pinned, in_season.pinned_by) == ("h-season", "season")


def test_sensitive_and_stage_apply_to_every_slot(make_context: Callable[..., Context]) -> None:
    rules = _rules("""
      - {name: support, when: {request.section: support}, then: {sensitive: true}}
      - {name: done, when: {request.path: {$glob: "/thanks*"}}, then: {stage: end}}
    """)
    support = rules.evaluate_all(make_context(path="/support/faq"))
    assert all(o.sensitive and o.stage is None for o in support.values())
    done = rules.evaluate_all(make_context(path="/thanks"))
    assert all(o.stage == "end" and not o.sensitive for o in done.values())
    assert [r.code for r in done["help"].reasons] == ["rule_stage"]


def test_tag_only_rule_acts_on_every_slot(make_context: Callable[..., Context]) -> None:
    rules = _rules("""
      - {name: no-promos, then: {exclude: ["tag:promo"]}}
    """)
    out = rules.evaluate_all(make_context())
    assert out["hero"].eligible == ("h-default", "h-calm", "h-upsell")
    assert out["help"].eligible == ("x-faq",)


def test_ids_name_their_own_slot(make_context: Callable[..., Context]) -> None:
    rules = _rules("""
      - {name: chat, then: {show: x-chat}}
    """)
    out = rules.evaluate_all(make_context())
    assert out["help"].pinned == "x-chat"
    assert out["hero"].pinned is None and out["hero"].matches == ()


def test_evaluate_all_agrees_with_evaluate(make_context: Callable[..., Context]) -> None:
    rules = _rules("""
      - {name: a, when: {device.type: mobile}, then: {show: h-promo}}
      - {name: b, when: {history.visits: {$gte: 2}}, then: {exclude: ["tag:promo"]}}
      - {name: c, when: {$or: [{time.daypart: night}, {request.section: help}]},
         then: {allow: [x-chat]}}
    """)
    for context in (make_context(device="mobile"), make_context(visits=3),
                    make_context("2026-11-23T23:00", path="/help")):
        together = rules.evaluate_all(context)
        assert together == {slot: rules.evaluate(context, slot) for slot in rules.slots}
        explained = rules.evaluate_all(context, explain=True)
        assert {s: (o.eligible, o.pinned) for s, o in explained.items()} == {
            s: (o.eligible, o.pinned) for s, o in together.items()}


def test_matches_and_reasons_quote_the_rule(make_context: Callable[..., Context]) -> None:
    rules = _rules("""
      - {name: phones, when: {device.type: {$in: [mobile, tablet]}}, then: {show: h-promo}}
      - {name: desktops, when: {device.type: desktop}, then: {exclude: [h-upsell]}}
    """)
    outcome = rules.evaluate(make_context(device="mobile"), "hero")
    assert [(m.rule, m.matched, m.why) for m in outcome.matches] == [
        ("phones", True, "device.type is one of ['mobile', 'tablet']")]
    assert outcome.matches[0].file == "01.yaml" and outcome.matches[0].line == 3
    assert [r.text for r in outcome.reasons] == [
        "h-season is outside its schedule (from 2026-12-01 00:00 until 2026-12-27 00:00).",
        "Rule 'phones' shows h-promo: device.type is one of ['mobile', 'tablet']."]


def test_explain_says_why_each_rule_did_or_did_not_match(
        make_context: Callable[..., Context]) -> None:
    rules = _rules("""
      - {name: phones, when: {device.type: {$in: [mobile, tablet]}}, then: {show: h-promo}}
      - {name: evenings, when: {time.daypart: evening}, then: {show: h-calm}}
      - {name: later, schedule: {start: 2027-01-01}, then: {show: h-calm}}
      - {name: off, enabled: false, then: {show: h-calm}}
    """)
    outcome = rules.evaluate(make_context("2026-11-23T19:00", device="desktop"), "hero",
                             explain=True)
    assert [(m.rule, m.matched, m.why) for m in outcome.matches] == [
        ("evenings", True, "time.daypart is 'evening'"),
        ("phones", False, "device.type is 'desktop', not one of ['mobile', 'tablet']"),
        ("later", False, "its schedule starts 2027-01-01 00:00"),
        ("off", False, "disabled (enabled: false)"),
    ]
    data = outcome.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["pinned"] == "h-calm" and data["pinned_by"] == "evenings"
    assert [m["rule"] for m in data["not_matched"]] == ["phones", "later", "off"]


def test_unknown_slot_is_refused_with_a_suggestion(make_context: Callable[..., Context]) -> None:
    with pytest.raises(RuleError, match="unknown slot 'heor'; did you mean 'hero'"):
        _rules("[]").evaluate(make_context(), "heor")


def test_equal_requests_share_one_outcome(make_context: Callable[..., Context]) -> None:
    rules = _rules("""
      - {name: a, when: {device.type: mobile}, then: {show: h-promo}}
    """)
    first = rules.evaluate(make_context(device="mobile", visits=1), "hero")
    second = rules.evaluate(make_context(device="mobile", visits=7), "hero")
    assert first is second
    assert rules.evaluate(make_context(device="desktop"), "hero") is not first


def test_evaluate_all_keeps_pages_apart_and_hands_out_copies(
        make_context: Callable[..., Context]) -> None:
    rules = _rules("""
      - {name: a, when: {device.type: mobile}, then: {show: h-promo}}
    """)
    context = make_context("2026-12-10T12:00", device="mobile")
    inside = rules.evaluate_all(context)
    outside = rules.evaluate_all(context, datetime.fromisoformat("2026-11-30T23:59+02:00"))
    assert "h-season" in inside["hero"].eligible and "h-season" not in outside["hero"].eligible
    inside["hero"] = outside["hero"]  # the caller's dict is its own
    again = rules.evaluate_all(make_context("2026-12-11T09:00", device="mobile", visits=5))
    assert again is not inside and "h-season" in again["hero"].eligible
    assert again["help"] is inside["help"] and again["hero"].pinned == "h-promo"
    assert rules.evaluate_all(make_context("2026-12-10T12:00"))["hero"].pinned is None


def test_rules_with_a_broken_value_type_in_context_do_not_raise(
        make_context: Callable[..., Context]) -> None:
    rules = _rules("""
      - {name: a, when: {history.visits: {$gt: 1}, request.path: {$regex: "^/x"}},
         then: {show: h-promo}}
    """)
    context = make_context()
    context.fields["history.visits"] = "many"  # a classifier bug must not become a 500
    context.fields["request.path"] = None
    assert rules.evaluate(context, "hero").pinned is None
