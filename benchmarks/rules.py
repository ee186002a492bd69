"""Rule evaluation per request: 3 slots and 30 rules, target ≤ 20 µs.

    python -m benchmarks.rules --quick --json

The rule set mixes what real rule files hold: equality and ``$in`` on device,
time and referrer, numeric ranges on history, ``$exists``, ``$regex`` and
``$glob`` on paths and campaigns, ``$or``/``$not``, segments, a scheduled rule
and tag globs. ``evaluate_us`` is :meth:`RuleSet.evaluate_all` for one request
(all 3 slots); ``evaluate_slots_us`` is three separate :meth:`RuleSet.evaluate`
calls, as a page asking for its slots one by one makes them. Equal rule
results share one frozen outcome; ``evaluate_cold_us`` drops those before every
request, so each slot's outcome is built afresh (the worst case). The baseline
is the least any evaluator must do: 30 hand-written dict lookups and comparisons.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml

from benchmarks._harness import parse_args, per_call_us, report
from personalize.context import Consent, Context, Device, History, Referrer, RequestInfo
from personalize.context.request import section_of
from personalize.context.site import SiteSettings
from personalize.context.time import classify_time, zone
from personalize.rules import RuleSet, load_texts

TARGET_US = 20.0
SITE = SiteSettings(timezone="Europe/Helsinki", languages=("en", "fi"))

_CONDITIONS: list[dict[str, Any]] = [
    {"device.type": "mobile", "time.daypart": "night"},
    {"device.type": {"$in": ["mobile", "tablet"]}},
    {"time.daypart": "morning", "time.weekend": False},
    {"referrer.kind": "search", "history.visits": 1},
    {"segment": "returning_buyers"},
    {"history.days_since_conversion": {"$lt": 3}},
    {"request.path": {"$glob": "/product/**"}},
    {"request.section": {"$in": ["cart", "checkout"]}},
    {"referrer.campaign": {"$regex": "^joulu-20[0-9]{2}$"}},
    {"referrer.campaign": {"$exists": True}, "referrer.medium": "email"},
    {"$or": [{"device.type": "desktop", "time.daypart": "evening"},
             {"history.sections": "guides"}]},
    {"$not": {"request.section": "support"}, "history.visits": {"$gte": 3}},
    {"request.language": "fi"},
    {"time.business_hours": True},
    {"history.feedback_negative": {"$gte": 2}},
]


def rule_files() -> dict[str, str]:
    """Two rule files: 3 slots of 4 variants, 2 segments, 30 rules."""
    slots = {
        name: {"default": f"{name}-0", "variants": [
            {"id": f"{name}-{i}", "html": f"<p>{name} {i}</p>",
             "tags": [["calm"], ["promo"], ["upsell", "promo"], ["calm", "guide"]][i]}
            for i in range(4)]}
        for name in ("hero", "promo", "help")
    }
    segments = {"returning_buyers": {"history.returning": True, "history.conversions": {"$gte": 1}},
                "night_owls": {"time.daypart": "night"}}
    rules: list[dict[str, Any]] = []
    for i in range(30):
        slot = ("hero", "promo", "help")[i % 3]
        then: dict[str, Any] = [
            {"show": f"{slot}-{1 + i % 3}"},
            {"slot": slot, "exclude": ["tag:promo*"]},
            {"allow": [f"{slot}-1", f"{slot}-3"]},
            {"slot": slot, "exclude": [f"{slot}-2"]},
            {"sensitive": True},
        ][i % 5]
        rule: dict[str, Any] = {"name": f"rule-{i}", "when": _CONDITIONS[i % len(_CONDITIONS)],
                                "then": then, "priority": (i * 7) % 5}
        if i == 29:
            rule["schedule"] = {"start": "2026-01-01", "end": "2027-01-01"}
        rules.append(rule)
    return {"10-slots.yaml": yaml.safe_dump({"slots": slots, "segments": segments}),
            "20-rules.yaml": yaml.safe_dump({"rules": rules})}


def contexts() -> list[Context]:
    """Requests of several kinds, so no single path through the rules is measured."""
    shapes = [
        ("2026-11-23T23:30", "mobile", "/product/aamu", "search", "", 1, 0, None, ()),
        ("2026-11-24T08:15", "desktop", "/", "direct", "", 4, 2, 1.5, ("guides", "product")),
        ("2026-11-25T19:00", "tablet", "/campaign/joulu", "email", "joulu-2026", 2, 1, 40.0, ()),
        ("2026-11-28T13:00", "desktop", "/support/faq", "internal", "", 7, 3, 10.0, ("cart",)),
    ]
    out = []
    for when, device, path, kind, campaign, visits, conv, since, sections in shapes:
        local = datetime.fromisoformat(when).replace(tzinfo=zone(SITE.timezone))
        out.append(Context(
            device=Device(device, "Android", "Chrome", device != "desktop"),
            time=classify_time(local, SITE),
            referrer=Referrer(kind, campaign=campaign, medium="email" if campaign else ""),
            history=History(visits=visits, conversions=conv, days_since_conversion=since,
                            sections=sections),
            consent=Consent(True),
            request=RequestInfo(path, section_of(path), "en", True),
        ))
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print, and return the figures."""
    args = parse_args(__doc__ or "", argv)
    rules: RuleSet = load_texts(rule_files())
    assert len(rules.rules) == 30 and len(rules.slots) == 3
    requests = contexts()
    for ctx in requests:  # fields are computed once per request, before the rules run
        _ = ctx.fields
    calls = 2_000 if args.quick else 20_000
    rounds = 5 if args.quick else 9
    state = {"i": 0}

    def next_context() -> Context:
        state["i"] = (state["i"] + 1) % len(requests)
        return requests[state["i"]]

    def evaluate_all() -> object:
        return rules.evaluate_all(next_context())

    def evaluate_slots() -> object:
        ctx = next_context()
        return [rules.evaluate(ctx, slot) for slot in ("hero", "promo", "help")]

    pairs = [("device.type", "mobile"), ("time.daypart", "night"), ("referrer.kind", "search"),
             ("history.visits", 1), ("request.section", "cart"), ("time.weekend", False)] * 5

    def baseline() -> object:
        fields = next_context().fields
        return [fields.get(k) == v for k, v in pairs]

    base = per_call_us(baseline, calls=calls, rounds=rounds)
    every = per_call_us(evaluate_all, calls=calls, rounds=rounds)
    slots = per_call_us(evaluate_slots, calls=calls, rounds=rounds)
    def evaluate_all_cold() -> object:
        rules._pages.clear()  # measuring what keeping pages and outcomes saves
        for kept in rules._outcomes.values():
            kept.clear()
        return rules.evaluate_all(next_context())

    cold = per_call_us(evaluate_all_cold, calls=calls, rounds=rounds)
    explain = per_call_us(lambda: rules.evaluate_all(next_context(), explain=True),
                          calls=max(200, calls // 10), rounds=rounds)
    figures = {
        "rules": len(rules.rules),
        "slots": len(rules.slots),
        "evaluate_us": every,
        "evaluate_slots_us": slots,
        "evaluate_cold_us": cold,
        "explain_us": explain,
        "baseline_us": base,
        "ratio_to_baseline": every / base,
        "target_us": TARGET_US,
        "meets_target": every <= TARGET_US,
    }
    report("rules: 3 slots, 30 rules, per request", figures, as_json=args.json)
    return figures


if __name__ == "__main__":
    main()
