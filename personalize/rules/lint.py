"""Rules that are valid but wrong: never matching, conflicting, shadowed or expired.

A rule whose conditions contradict each other can never match, so it is an
error. The rest are warnings, since a rule set with them still serves
correctly: two pins for one slot at the same priority whose conditions can
hold together (the first in file order wins), a pin that an earlier rule
always pre-empts, a schedule already over.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from itertools import combinations
from typing import Any

from ..exceptions import RuleError
from .engine import CompiledRule
from .model import Schedule, Slot
from .parts import Merged, Part
from .reach import contradiction


def lint_rules(rules: tuple[CompiledRule, ...], slots: Mapping[str, Slot], merged: Merged,
               now: datetime) -> list[RuleError]:
    """Problems with compiled rules that no single rule's shape reveals.

    :param rules: the compiled rules, in evaluation order.
    :param slots: the slots, for the variants' schedules.
    :param merged: the merged files, for each rule's written conditions.
    :param now: the load time, to spot schedules already over.
    """
    compiled = {r.name: (r.file, r.line) for r in rules}
    parts = {p.data["name"]: p for p in merged.rules if isinstance(p.data, dict)
             and isinstance(p.data.get("name"), str)
             and compiled.get(p.data["name"]) == (p.doc.file, p.line)}
    segments = {name: part.data for name, part in merged.keyed["segments"].items()}
    found: list[RuleError] = []
    for rule in rules:
        part = parts[rule.name]
        reason = contradiction([part.data.get("when", {})], segments)
        if reason is not None:
            found.append(part.error(("when",), f"rule {rule.name!r} can never match: {reason}"))
        if rule.schedule is not None and rule.schedule.end is not None \
                and rule.schedule.end <= now:
            found.append(part.warning(("schedule", "end"), f"rule {rule.name!r}: its schedule "
                                      f"ended {rule.schedule.end:%Y-%m-%d %H:%M}, so it will "
                                      "not match again"))
    found.extend(_pin_problems(rules, slots, parts, segments))
    return found


def _overlap(a: Schedule | None, b: Schedule | None) -> bool:
    if a is None or b is None:
        return True
    start = max((s for s in (a.start, b.start) if s is not None), default=None)
    end = min((e for e in (a.end, b.end) if e is not None), default=None)
    return start is None or end is None or start < end


def _pin_problems(rules: tuple[CompiledRule, ...], slots: Mapping[str, Slot],
                  parts: Mapping[str, Part], segments: Mapping[str, Any]) -> Iterator[RuleError]:
    for slot in sorted({slot for r in rules for slot in r.effects}):
        pins = [r for r in rules if r.enabled and (e := r.effects.get(slot)) and e.show]
        for first, later in combinations(pins, 2):
            a, b = str(first.effects[slot].show), str(later.effects[slot].show)
            when = [parts[first.name].data.get("when", {}), parts[later.name].data.get("when", {})]
            if not _overlap(first.schedule, later.schedule) or contradiction(when, segments):
                continue
            if first.priority == later.priority and a != b:
                yield parts[later.name].warning(
                    ("then", "show"), f"conflicting pins: rules {first.name!r} and "
                    f"{later.name!r} both pin slot {slot!r} at priority {first.priority} "
                    f"({a} and {b}); {first.name!r} wins as it comes first — give one a "
                    "higher priority or make their conditions exclusive")
            elif (first.condition.always and first.schedule is None and _only_pins(later)
                  and slots[slot].variants[a].schedule is None):
                yield parts[later.name].warning(
                    ("then", "show"), f"rule {later.name!r} never takes effect: rule "
                    f"{first.name!r} always pins slot {slot!r} first")


def _only_pins(rule: CompiledRule) -> bool:
    return not rule.sensitive and rule.stage is None and all(
        e.allow is None and not e.exclude for e in rule.effects.values())
