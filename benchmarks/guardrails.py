"""Guardrails: does the guarded system stop a dark pattern without giving up the lift?

    python -m benchmarks.guardrails [--quick] [--json]

The simulated shop of ``benchmarks/shop_simulation.py`` has one slot, ``promo``,
with a calm default, three harmless variants that each suit some visitors, and
a fake countdown: the highest conversion rate, five times the complaints and
four times the negative feedback. Three policies run on the **real engine**
(:class:`~personalize.engine.Personalizer` with a ``MemoryStore`` and a fake
clock, rules written to a temporary directory) over the same visitors and the
same random numbers:

``default``
    A rule with no condition pins the default for everyone (``show:
    promo-shipping``), so the engine serves it with source ``rule`` and learns
    nothing: the site as it was before personalization.
``conversion_bandit``
    LinUCB whose objective is ``{conversion: 1}``, with the experience monitor
    disabled: a pure conversion optimizer.
``guarded``
    The same LinUCB with the demo shop's composite objective for ``promo``
    (``rules/10-slots.yaml``: conversion 4, negative feedback −4, complaint
    −15, …) and the experience monitor on with the demo's settings (bounce,
    complaint and negative feedback; ``alpha`` 0.05; ``min_exposures`` 100;
    ``harm_ratio`` 1.5; no ``ramp_up``, so new variants are not held back,
    as by default). Nothing here is tuned for the benchmark.

Both bandits keep the demo's exploration bounds (floor 0.02, cap 0.9) and run
without a holdout (``share: 0``): the lift is measured against the
``default`` run on the same random numbers instead, which is exact where a
holdout only samples it. Every visitor is new and sees one page, so frequency
caps, the annoyance budget and stickiness never bind here.

Per simulated visitor the driver builds a WSGI request, calls ``visit``,
``decide`` and ``commit``, draws the visitor's outcome for the variant shown,
and later sends the events (conversion, complaint, thumbs-down) through
``record_event`` as :meth:`PersonalizeWeb.record
<personalize.web.app.PersonalizeWeb.record>` would, 1–45 simulated seconds
after the exposure. The reward window is 60 s, the engine syncs every 30 s.

Figures: each policy's conversion, complaint and negative-feedback rates over
all seeds; ``lift_kept``, the guarded lift over default as a share of the
conversion bandit's (``lift_kept_ceiling`` is the most any policy that never
shows the dark pattern could keep); ``dark_pattern_paused_after``, the dark
pattern's own exposures when the monitor paused it (the worst seed; ``null``
when some seed never paused it); ``false_pause_seeds``, the share of seeds in
which any harmless variant was paused; ``monitor_exposure_overcount``, how many
more exposures the experience monitor counted than were logged (0 when every
record of the log is observed exactly once, as it must be). Targets: guarded complaint rate ≤
default's, ``lift_kept`` ≥ 0.9, paused within 2,000 exposures, false pauses in
≤ 5 % of seeds.
"""

from __future__ import annotations

import heapq
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks import _harness
from benchmarks.shop_simulation import Shop, Visitors
from personalize.engine import Personalizer
from personalize.guardrails import ExperienceMonitor
from personalize.store.memory import MemoryStore

POLICIES = ("default", "conversion_bandit", "guarded")
SLOT = "promo"
SECRET = "guardrail-benchmark-secret-0123456789"
REWARD_WINDOW = 60.0
SYNC_INTERVAL = 30.0
SIZES = {True: (3, 5_000), False: (10, 20_000)}  # (seeds, visitors) for --quick and not
#: the demo shop's objective for this slot (rules/10-slots.yaml), used as it is
COMPOSITE = {"click": 1.0, "conversion": 4.0, "feedback_positive": 1.0,
             "feedback_negative": -4.0, "complaint": -15.0, "bounce": -2.0}
#: the demo shop's experience monitor (rules/30-guardrails.yaml)
MONITOR = {"signals": ["bounce", "complaint", "feedback_negative"], "alpha": 0.05,
           "min_exposures": 100, "harm_ratio": 1.5}
TARGETS = {"complaint_vs_default": 1.0, "lift_kept": 0.9, "paused_within": 2_000,
           "false_pause_seeds": 0.05}


def rule_files(shop: Shop, policy: str) -> dict[str, Any]:
    """The rule file (one YAML document) that makes ``policy`` out of the real engine."""
    guarded = policy == "guarded"
    document: dict[str, Any] = {
        "site": {"timezone": "UTC", "consent_required": False},
        "slots": {SLOT: {"default": shop.default.id, "variants": [
            {"id": v.id, "title": v.title, "tags": list(v.tags), "html": v.html}
            for v in shop.variants]}},
        "objectives": {SLOT: COMPOSITE if guarded else {"conversion": 1.0}},
        "guardrails": {"holdout": {"share": 0.0},
                       "exploration": {"floor": 0.02, "cap": 0.9},
                       "experience_monitor": {"enabled": guarded, **MONITOR}},
    }
    if policy == "default":
        document["rules"] = [{"name": "always-the-default", "then": {"show": shop.default.id}}]
    return document


@dataclass
class Run:
    """What one policy did on one seed's visitors."""

    policy: str
    seed: int
    visitors: int = 0
    conversions: int = 0
    complaints: int = 0
    disliked: int = 0
    shown: Counter[str] = field(default_factory=Counter)
    exposure_times: dict[str, list[float]] = field(default_factory=dict)
    pauses: dict[str, dict[str, Any]] = field(default_factory=dict)
    monitor_exposures: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def rate(self, count: int) -> float:
        """``count`` per visitor."""
        return count / self.visitors if self.visitors else 0.0

    def exposures_before(self, variant: str, at: float) -> int:
        """The variant's exposures logged before ``at``."""
        return sum(1 for t in self.exposure_times.get(variant, ()) if t < at)


def run(shop: Shop, crowd: Visitors, policy: str) -> Run:
    """Drive the real engine through one seed's visitors under one policy."""
    started = time.perf_counter()
    clock = FakeClock(float(crowd.arrivals[0]) - 1.0)
    result = Run(policy, crowd.seed)
    with tempfile.TemporaryDirectory(prefix="pz-guardrails-") as rules_dir:
        Path(rules_dir, "rules.yaml").write_text(
            yaml.safe_dump(rule_files(shop, policy), sort_keys=False, allow_unicode=True),
            encoding="utf-8")
        engine = Personalizer(rules=rules_dir, store=MemoryStore(clock=clock), secret=SECRET,
                              reward_window=REWARD_WINDOW, sync_interval=SYNC_INTERVAL,
                              background_sync=False, clock=clock, random_state=crowd.seed)
        try:
            _serve(engine, shop, crowd, clock, result)
            for guardrail in engine.guardrails():
                if isinstance(guardrail, ExperienceMonitor):
                    result.pauses = {str(doc["variant"]): doc for doc in guardrail.paused()}
                    result.monitor_exposures = {
                        v.id: guardrail.counts(SLOT, v.id)["exposures"] for v in shop.variants}
        finally:
            engine.close()
    result.seconds = time.perf_counter() - started
    return result


class FakeClock:
    """Simulated epoch seconds, moved on by the driver; the engine and store read it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _serve(engine: Personalizer, shop: Shop, crowd: Visitors, clock: FakeClock,
           result: Run) -> None:
    """Every visitor's request, decision and exposure, and their events in time order."""
    ids = engine.contexts.visitor_ids
    due: list[tuple[float, int, dict[str, Any]]] = []  # events not yet sent, by time
    for i in range(len(crowd)):
        arrival = float(crowd.arrivals[i])
        while due and due[0][0] <= arrival:
            clock.now, _, record = heapq.heappop(due)
            engine.record_event(record)
        clock.now = arrival
        visit = engine.visit(crowd.environ(i, ids))
        decision = engine.decide(visit.context, SLOT)
        engine.commit(visit, [decision])
        result.shown[decision.variant] += 1
        result.exposure_times.setdefault(decision.variant, []).append(arrival)
        outcome = shop.outcome(crowd, i, decision.variant)
        result.conversions += outcome.converted
        result.complaints += outcome.complained
        result.disliked += outcome.disliked
        base = {"visitor": crowd.visitor_id(i), "decision": decision.id, "slot": SLOT,
                "variant": decision.variant, "reason": ""}
        # as PersonalizeWeb.record turns accepted events into records
        events = (("conversion", 1.0, "conversion", outcome.converted),
                  ("complaint", 1.0, "complaint", outcome.complained),
                  ("feedback", -1.0, "feedback_negative", outcome.disliked))
        for k, (kind, value, signal, happened) in enumerate(events):
            if happened:
                ts = arrival + outcome.delays[k]
                heapq.heappush(due, (ts, 3 * i + k, {**base, "ts": ts, "type": kind,
                                                     "value": value, "signal": signal,
                                                     "amount": 1.0}))
    while due:
        clock.now, _, record = heapq.heappop(due)
        engine.record_event(record)
    clock.now += SYNC_INTERVAL
    engine.sync()
    result.visitors = len(crowd)


def summarize(shop: Shop, runs: list[Run]) -> dict[str, Any]:
    """The benchmark's figures from every (policy, seed) run."""
    by_policy = {p: [r for r in runs if r.policy == p] for p in POLICIES}
    figures: dict[str, Any] = {}
    for policy, group in by_policy.items():
        visitors = sum(r.visitors for r in group)
        figures[policy] = {
            "conversion_rate": round(sum(r.conversions for r in group) / visitors, 5),
            "complaint_rate": round(sum(r.complaints for r in group) / visitors, 5),
            "negative_feedback_rate": round(sum(r.disliked for r in group) / visitors, 5),
        }
    dark = shop.dark_pattern.id
    paused_after: list[int | None] = []
    false_pauses = 0
    for r in by_policy["guarded"]:
        doc = r.pauses.get(dark)
        paused_after.append(None if doc is None
                            else r.exposures_before(dark, float(doc["paused_at"])))
        false_pauses += any(v != dark for v in r.pauses)
    base = figures["default"]["conversion_rate"]
    bandit_lift = figures["conversion_bandit"]["conversion_rate"] - base
    guarded_lift = figures["guarded"]["conversion_rate"] - base
    worst = None if None in paused_after else max(p for p in paused_after if p is not None)
    figures["guarded"]["dark_pattern_paused_after"] = worst
    figures["guarded"]["dark_pattern_paused_after_by_seed"] = paused_after
    seeds = len(by_policy["guarded"])
    figures["lift_kept"] = round(guarded_lift / bandit_lift, 4) if bandit_lift > 0 else None
    figures["lift_kept_by_seed"] = [_lift_kept(*trio) for trio in zip(
        *(by_policy[p] for p in POLICIES), strict=True)]
    figures["lift_kept_ceiling"] = round(shop.oracle()["lift_kept_ceiling"], 4)
    figures["false_pause_seeds"] = round(false_pauses / seeds, 4)
    counted = sum(sum(r.monitor_exposures.values()) for r in by_policy["guarded"])
    logged = sum(r.visitors for r in by_policy["guarded"])
    figures["monitor_exposure_overcount"] = round(counted / logged - 1.0, 4)
    figures["targets_met"] = {
        "complaint_rate_le_default": figures["guarded"]["complaint_rate"]
        <= figures["default"]["complaint_rate"],
        "lift_kept_ge_0.9": figures["lift_kept"] is not None
        and figures["lift_kept"] >= TARGETS["lift_kept"],
        "dark_pattern_paused_within_2000": worst is not None
        and worst <= TARGETS["paused_within"],
        "false_pause_seeds_le_0.05": figures["false_pause_seeds"]
        <= TARGETS["false_pause_seeds"],
    }
    return figures


def _lift_kept(default: Run, bandit: Run, guarded: Run) -> float | None:
    """One seed's guarded lift over default as a share of the conversion bandit's."""
    lift = bandit.conversions - default.conversions
    return round((guarded.conversions - default.conversions) / lift, 4) if lift > 0 else None


def per_seed_table(shop: Shop, runs: list[Run]) -> str:
    """A readable line per (seed, policy): rates, variant shares and pauses."""
    names = [v.id.removeprefix(f"{SLOT}-") for v in shop.variants]
    lines = [f"  {'seed':>4} {'policy':<18} {'conv':>7} {'compl':>7} {'neg fb':>7}  shares "
             f"({' '.join(names)})  pauses [own exposures; monitor counted]"]
    for r in sorted(runs, key=lambda r: (r.seed, POLICIES.index(r.policy))):
        shares = " ".join(f"{r.shown[v.id] / r.visitors:.3f}" for v in shop.variants)
        pauses = ", ".join(
            f"{v} after {r.exposures_before(v, float(doc['paused_at']))}; "
            f"{doc.get('evidence', {}).get('exposures', '?')} ({doc.get('signal')})"
            for v, doc in sorted(r.pauses.items())) or "-"
        lines.append(f"  {r.seed:>4} {r.policy:<18} {r.rate(r.conversions):>7.4f} "
                     f"{r.rate(r.complaints):>7.4f} {r.rate(r.disliked):>7.4f}  {shares}  "
                     f"{pauses}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _harness.parse_args(__doc__ or "", argv)
    n_seeds, n_visitors = SIZES[args.quick]
    shop = Shop()
    started = time.perf_counter()
    runs: list[Run] = []
    for seed in range(1, n_seeds + 1):
        crowd = shop.visitors(n_visitors, seed=seed)
        runs.extend(run(shop, crowd, policy) for policy in POLICIES)
    figures = summarize(shop, runs)
    elapsed = time.perf_counter() - started
    figures.update({"seeds": n_seeds, "visitors_per_seed": n_visitors,
                    "us_per_visitor": round(elapsed / (n_seeds * n_visitors * 3) * 1e6, 1),
                    "oracle_conversion": {k: round(v, 5) for k, v in shop.oracle().items()},
                    "seconds": round(elapsed, 1)})
    print("per seed: rates per visitor, each variant's share of exposures, pauses")
    print(per_seed_table(shop, runs))
    _harness.report("guardrails: a dark pattern against default, a conversion bandit and the "
                    "guarded system", figures, as_json=args.json)
    return figures


if __name__ == "__main__":
    main()
