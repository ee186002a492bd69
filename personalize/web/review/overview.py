"""The overview both the dashboard's front page and ``personalize report`` show.

>>> data = overview(joined, ruleset.slots, paused=monitor_pauses, start=..., end=...,
...                 evaluations={"hero": evaluate_slot(...)})
>>> print(as_text(data))

:func:`overview` returns plain JSON-able data (what ``--json`` prints), so the
command line, the page and the tests read one structure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ...logjoin import Joined
from ...policy.counterfactuals import Evaluation
from ...rules.model import Slot
from .reports import SplitResult, holdout_lift_of, split_test, summarize

__all__ = ["as_text", "overview"]


def overview(joined: Joined, slots: Mapping[str, Slot], *, start: float, end: float,
             paused: Sequence[Mapping[str, Any]] = (),
             evaluations: Mapping[str, Evaluation] | None = None,
             rules_version: str = "") -> dict[str, Any]:
    """Per slot: each variant's traffic and reward, the holdout lift, splits and evaluation.

    :param joined: the joined log of the period.
    :param slots: the rule set's slots, in display order.
    :param start: the period's first instant (epoch seconds).
    :param end: the period's last instant.
    :param paused: current pause documents (``ExperienceMonitor.paused()`` or the store's).
    :param evaluations: slot → offline evaluation, for the slots evaluated.
    """
    paused_pairs = {(str(p.get("slot")), str(p.get("variant"))): p for p in paused}
    result: dict[str, Any] = {
        "period": {"start": _iso(start), "end": _iso(end), "days": round((end - start) / 86400, 3)},
        "rules_version": rules_version,
        "events": joined.events, "unattributed_events": joined.unattributed,
        "malformed_records": joined.malformed, "slots": {}}
    for name, slot in slots.items():
        variants = summarize(joined.exposures, name, list(slot.variants))
        lift = holdout_lift_of(joined.exposures, name)
        entry: dict[str, Any] = {
            "default": slot.default, "policy": slot.policy,
            "exposures": sum(v.exposures for v in variants),
            "variants": [{"variant": v.variant, "exposures": v.exposures,
                          "share": _round(v.share), "mean_reward": _round(v.mean_reward),
                          "low": _round(v.low), "high": _round(v.high),
                          "default": v.variant == slot.default,
                          "paused": (name, v.variant) in paused_pairs} for v in variants],
            "holdout": {"treated": lift.treated, "holdout": lift.holdout,
                        "treated_mean": _round(lift.treated_mean),
                        "holdout_mean": _round(lift.holdout_mean), "lift": _round(lift.lift),
                        "low": _round(lift.low), "high": _round(lift.high),
                        "confidence": lift.confidence},
        }
        if slot.policy == "split":
            entry["split"] = _split(split_test(joined.exposures, slot))
        if evaluations is not None and name in evaluations:
            entry["evaluation"] = _evaluation(evaluations[name])
        result["slots"][name] = entry
    return result


def _split(result: SplitResult) -> dict[str, Any]:
    report = result.report
    return {
        "visitors": result.visitors, "outside": result.outside, "weights": result.weights,
        "srm": None if report is None else report.srm,
        "srm_p_value": None if report is None else _round(report.srm_p_value),
        "variants": {} if report is None else {
            v: {"visitors": s.count, "conversions": s.successes, "rate": _round(s.rate),
                "low": _round(s.low), "high": _round(s.high),
                "expected_share": _round(s.expected_share),
                "observed_share": _round(s.observed_share)}
            for v, s in report.variants.items()}}


def _evaluation(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "rows": evaluation.rows, "skipped": evaluation.skipped,
        "logged_mean": _round(evaluation.logged_mean), "problem": evaluation.problem,
        "policies": {p.name: {"label": p.label, **{
            method: {"value": _round(e.value), "low": _round(e.low), "high": _round(e.high),
                     "effective_size": _round(e.effective_size)}
            for method, e in p.estimates.items()}} for p in evaluation.policies}}


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _num(value: float | None, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def as_text(data: Mapping[str, Any]) -> str:
    """The overview as plain text for a terminal."""
    period = data["period"]
    lines = [f"personalize report  {period['start']} → {period['end']}  "
             f"(rules {data['rules_version'] or '?'})",
             f"events: {data['events']}, unattributed: {data['unattributed_events']}, "
             f"malformed records: {data['malformed_records']}", ""]
    for name, slot in data["slots"].items():
        lines.append(f"slot {name}  ({slot['policy']}, {slot['exposures']} exposures)")
        lines.append(f"  {'variant':<28} {'exposures':>9} {'share':>7} {'reward':>8}  "
                     "95% interval")
        for v in slot["variants"]:
            marks = (" (default)" if v["default"] else "") + (" PAUSED" if v["paused"] else "")
            share = "–" if not slot["exposures"] else f"{v['share']:.1%}"
            lines.append(f"  {v['variant'] + marks:<28} {v['exposures']:>9} {share:>7} "
                         f"{_num(v['mean_reward']):>8}  [{_num(v['low'])}, {_num(v['high'])}]")
        h = slot["holdout"]
        if h["lift"] is None:
            lines.append(f"  holdout lift: not enough data ({h['treated']} personalized, "
                         f"{h['holdout']} holdout decisions)")
        else:
            lines.append(f"  holdout lift: {h['lift']:+.3f} per decision "
                         f"[{h['low']:+.3f}, {h['high']:+.3f}] ({h['treated']} vs "
                         f"{h['holdout']} decisions)")
        if "split" in slot:
            s = slot["split"]
            verdict = "no data" if s["srm"] is None else (
                "MISMATCH — do not trust the rates" if s["srm"] else "ok")
            lines.append(f"  split: {s['visitors']} visitors, sample ratio {verdict}"
                         + ("" if s["srm_p_value"] is None else f" (p = {s['srm_p_value']:.3g})"))
            for v, st in s["variants"].items():
                lines.append(f"    {v:<26} {st['conversions']}/{st['visitors']} converted "
                             f"= {st['rate']:.1%} [{st['low']:.1%}, {st['high']:.1%}]")
        if "evaluation" in slot:
            ev = slot["evaluation"]
            if ev["problem"]:
                lines.append(f"  offline evaluation: {ev['problem']}")
            else:
                lines.append(f"  offline evaluation on {ev['rows']} decisions (logged mean "
                             f"{_num(ev['logged_mean'])}), doubly robust:")
                for p in ev["policies"].values():
                    dr = p.get("dr")
                    if dr is not None:
                        lines.append(f"    {p['label']:<26} {dr['value']:>8.3f}  "
                                     f"[{dr['low']:.3f}, {dr['high']:.3f}]")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
