"""Evaluating the rules for one request: which variants are eligible, which is pinned.

>>> rules = load_rules("rules/")
>>> outcome = rules.evaluate(context, "hero")
>>> outcome.eligible, outcome.pinned
(('hero-default', 'hero-night'), 'hero-night')

Rules run in order of priority (highest first), then file order. For a slot,
a matching rule's ``allow`` narrows the eligible variants (several allows
intersect), ``exclude`` removes variants, and ``show`` pins one; exclusions and
allow-lists win over pins, so the first pin still eligible takes effect and
the others are reported as ignored. The default stays eligible unless a rule
excludes it by id, and if nothing at all is left, the default is used anyway.
``sensitive`` and ``stage`` apply to the whole request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..context.site import SiteSettings
from ..context.time import zone
from ..decision import Reason
from ..exceptions import RuleError
from .conditions import Condition
from .guardrail_settings import GuardrailSettings
from .model import RuleMatch, RuleOutcome, Schedule, Slot
from .operators import Test
from .suggest import did_you_mean

if TYPE_CHECKING:
    from ..context import Context


#: outcomes kept per slot, and pages (every slot's outcome) kept, for reuse
#: (see :meth:`RuleSet._outcome` and :meth:`RuleSet.evaluate_all`)
OUTCOMES_KEPT = 1024


@dataclass(frozen=True, slots=True)
class Effect:
    """What one rule does to one slot.

    :param allow: the variants it leaves eligible (the default included), or ``None``.
    :param exclude: the variants it makes ineligible.
    :param show: the variant it pins, or ``None``.
    """

    allow: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    show: str | None = None


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run: its condition is a closure and its targets are variant ids.

    :param order: position across all files, for the file-order tie-break.
    :param effects: slot name → what the rule does there.
    """

    name: str
    file: str
    line: int
    order: int
    condition: Condition
    priority: int = 0
    enabled: bool = True
    schedule: Schedule | None = None
    effects: Mapping[str, Effect] = field(default_factory=dict)
    sensitive: bool = False
    stage: str | None = None
    description: str = ""

    @property
    def bit(self) -> int:
        """The rule's bit, ``1 << order``, in a set of rules kept as an ``int`` bit mask.

        A mask is cheaper to build, intersect and hash than a ``frozenset`` of orders.
        """
        return 1 << self.order

    def outside_schedule(self, now: datetime) -> str | None:
        """Why the rule is not live at ``now``, or ``None`` when it is."""
        s = self.schedule
        if s is None or s.active(now):
            return None
        if s.start is not None and now < s.start:
            return f"its schedule starts {s.start:%Y-%m-%d %H:%M}"
        assert s.end is not None
        return f"its schedule ended {s.end:%Y-%m-%d %H:%M}"


@dataclass(frozen=True, slots=True)
class _Step:
    """One rule as it bears on one slot, with every sentence it may say made in advance."""

    rule: CompiledRule
    allow: frozenset[str] | None
    exclude: frozenset[str] | None
    show: str | None
    sensitive: bool
    stage: str | None
    match: RuleMatch
    reasons: tuple[Reason, ...]
    pin: Reason | None
    pin_ignored: Mapping[str, Reason]


def _step(rule: CompiledRule, slot: str) -> _Step:
    name, text = rule.name, rule.condition.text
    effect = rule.effects.get(slot, Effect())
    reasons = []
    if rule.sensitive:
        reasons.append(Reason("rule", f"Rule {name!r} marks this page sensitive: {text}.",
                              "rule_sensitive"))
    if rule.stage is not None:
        reasons.append(Reason("rule", f"Rule {name!r} marks the end of the journey: {text}.",
                              "rule_stage"))
    if effect.allow is not None:
        reasons.append(Reason("rule", f"Rule {name!r} allows only {_ids(effect.allow)} here: "
                              f"{text}.", "rule_allow"))
    if effect.exclude:
        reasons.append(Reason("rule", f"Rule {name!r} leaves out {_ids(effect.exclude)}: "
                              f"{text}.", "rule_exclude"))
    show = effect.show
    return _Step(
        rule=rule, allow=effect.allow, exclude=effect.exclude or None, show=show,
        sensitive=rule.sensitive, stage=rule.stage,
        match=RuleMatch(name, True, text, rule.file, rule.line), reasons=tuple(reasons),
        pin=None if show is None else Reason("rule", f"Rule {name!r} shows {show}: {text}.",
                                             "rule_pin"),
        pin_ignored={} if show is None else {
            state: Reason("rule", f"Rule {name!r} would show {show}, but it is {state}.",
                          "rule_pin_ignored")
            for state in ("outside its schedule", "excluded by another rule",
                          "not among the allowed variants")},
    )


class RuleSet:
    """The loaded rule files: site settings, slots, guardrail settings and compiled rules.

    Build it with :func:`personalize.rules.load_rules`; it is immutable once
    built, so many threads may evaluate it at once. Everything a decision says
    is prepared here, so serving a request only runs the conditions' closures
    and some set arithmetic; ``explain=True`` adds the sentences that quote the
    request's own values.

    :param rules: compiled rules in evaluation order (priority, then file order).
    :param version: a short hash of the files' contents.
    :param loaded_at: epoch time of loading.
    """

    def __init__(self, *, site: SiteSettings, slots: dict[str, Slot],
                 rules: tuple[CompiledRule, ...], guardrails: GuardrailSettings,
                 segments: Mapping[str, Condition], version: str, loaded_at: float,
                 files: tuple[str, ...], warnings: tuple[RuleError, ...]) -> None:
        self.site = site
        self.slots = slots
        self.rules = rules
        self.guardrails = guardrails
        self.segments = segments
        self.version = version
        self.loaded_at = loaded_at
        self.files = files
        self.warnings = warnings
        self._enabled = tuple(r for r in rules if r.enabled)
        self._tests = _tests(self._enabled)
        bears = {name: [r for r in rules if name in r.effects or r.sensitive or r.stage]
                 for name in slots}
        self._plans = {name: tuple(_step(r, name) for r in bears[name] if r.enabled)
                       for name in slots}
        self._disabled = {name: tuple(RuleMatch(r.name, False, "disabled (enabled: false)",
                                                r.file, r.line)
                                      for r in bears[name] if not r.enabled)
                          for name in slots}
        self._static = {name: tuple(s.variants) for name, s in slots.items()
                        if not any(v.schedule for v in s.variants.values())}
        self._slot_tests = {name: _tests(tuple(s.rule for s in plan))
                            for name, plan in self._plans.items()}
        self._masks = {name: _mask(s.rule for s in plan) for name, plan in self._plans.items()}
        self._outcomes: dict[str, dict[tuple[int, tuple[str, ...]], RuleOutcome]] = {
            name: {} for name in slots}
        self._timed = tuple(v.schedule for s in slots.values() for v in s.variants.values()
                            if v.schedule is not None)
        self._pages: dict[tuple[int, tuple[bool, ...]], dict[str, RuleOutcome]] = {}
        self._off = {v.id: Reason("rule", f"{v.id} is outside its schedule "
                                  f"({_window(v.schedule)}).", "variant_schedule")
                     for s in slots.values() for v in s.variants.values() if v.schedule}
        self._fallback = {name: Reason("rule", f"Rules left no variant of {name} eligible, so "
                                       f"its default {s.default} is used.", "rule_fallback")
                          for name, s in slots.items()}

    def __repr__(self) -> str:
        return (f"<RuleSet {self.version} slots={len(self.slots)} rules={len(self.rules)} "
                f"files={len(self.files)}>")

    def evaluate(self, context: Context, slot: str, now: datetime | None = None, *,
                 explain: bool = False) -> RuleOutcome:
        """What the rules say about ``slot`` for this request.

        :param context: the request's context; conditions read ``context.fields``.
        :param slot: the slot's name; an unknown slot raises :class:`RuleError`.
        :param now: the moment schedules are judged at; the visitor's local time
            by default. A naive time is taken to be in the site's zone.
        :param explain: also list the rules that did not match, and quote the
            request's values in every rule's ``why``.
        """
        plan = self._plans.get(slot)
        if plan is None:
            raise RuleError("", 0, 0, f"unknown slot {slot!r}"
                            f"{did_you_mean(slot, self._plans)}", key=slot)
        fields, moment = context.fields, self._moment(context, now)
        if explain:
            return self._explained(slot, fields, moment)
        return self._outcome(slot, _matched(self._slot_tests[slot], fields, moment), moment)

    def evaluate_all(self, context: Context, now: datetime | None = None, *,
                     explain: bool = False) -> dict[str, RuleOutcome]:
        """:meth:`evaluate` for every slot, running each rule's condition once.

        Every slot's outcome follows from which rules matched and which
        scheduled variants are live, so the whole page is kept under that key
        (up to :data:`OUTCOMES_KEPT` pages): a request seen before in this
        respect costs its conditions and one look-up.
        """
        fields, moment = context.fields, self._moment(context, now)
        if explain:
            return {name: self._explained(name, fields, moment) for name in self._plans}
        hits = _matched(self._tests, fields, moment)
        key = (hits, tuple([s.active(moment) for s in self._timed]) if self._timed else ())
        page = self._pages.get(key)
        if page is None:
            page = {name: self._outcome(name, hits & mask, moment)
                    for name, mask in self._masks.items()}
            if len(self._pages) >= OUTCOMES_KEPT:
                self._pages.clear()
            self._pages[key] = page
        return dict(page)  # a copy: the caller may change its dict, never the kept one

    def _moment(self, context: Context, now: datetime | None) -> datetime:
        if now is None:
            return context.time.local
        return now if now.tzinfo is not None else now.replace(tzinfo=zone(self.site.timezone))

    def _live(self, name: str, now: datetime) -> tuple[str, ...]:
        live = self._static.get(name)
        if live is None:
            live = tuple(v.id for v in self.slots[name].variants.values()
                         if v.schedule is None or v.schedule.active(now))
        return live

    def _outcome(self, name: str, matched: int, now: datetime) -> RuleOutcome:
        """The outcome for the slot's rules in ``matched`` (a mask of :attr:`CompiledRule.bit`).

        An outcome depends only on which rules matched and which variants are
        live, and few such combinations occur, so outcomes are kept (up to
        :data:`OUTCOMES_KEPT` per slot) instead of being rebuilt per request.
        """
        live = self._live(name, now)
        kept = self._outcomes[name]
        key = (matched, live)
        outcome = kept.get(key)
        if outcome is None:
            hits = [s for s in self._plans[name] if s.rule.bit & matched]
            outcome = self._compose(name, hits, live, tuple(s.match for s in hits))
            if len(kept) >= OUTCOMES_KEPT:
                kept.clear()
            kept[key] = outcome
        return outcome

    def _explained(self, name: str, fields: Mapping[str, Any], now: datetime) -> RuleOutcome:
        hits, matches = [], []
        for step in self._plans[name]:
            rule = step.rule
            off = rule.outside_schedule(now)
            matched, why = (False, off) if off is not None else rule.condition.why(fields)
            matches.append(RuleMatch(rule.name, matched, why, rule.file, rule.line))
            if matched:
                hits.append(step)
        matches.sort(key=lambda m: not m.matched)  # stable: matched first, in rule order
        return self._compose(name, hits, self._live(name, now),
                             (*matches, *self._disabled[name]))

    def _compose(self, name: str, hits: list[_Step], live: tuple[str, ...],
                 matches: tuple[RuleMatch, ...]) -> RuleOutcome:
        slot = self.slots[name]
        reasons = [self._off[v] for v in slot.variants if v not in live]
        allowed: frozenset[str] | None = None
        excluded: frozenset[str] | None = None
        sensitive, stage = False, None
        pins = []
        for step in hits:
            reasons.extend(step.reasons)
            if step.sensitive:
                sensitive = True
            if step.stage is not None:
                stage = step.stage
            if step.allow is not None:
                allowed = step.allow if allowed is None else allowed & step.allow
            if step.exclude is not None:
                excluded = step.exclude if excluded is None else excluded | step.exclude
            if step.show is not None:
                pins.append(step)
        eligible = tuple(v for v in live if (excluded is None or v not in excluded)
                         and (allowed is None or v in allowed))
        if not eligible:
            eligible = (slot.default,)
            reasons.append(self._fallback[name])
        pinned = pinned_by = None
        for step in pins:
            if step.show in eligible:
                pinned, pinned_by = step.show, step.rule.name
                reasons.append(step.pin)  # type: ignore[arg-type]  # set whenever show is
                break
            state = ("outside its schedule" if step.show not in live else
                     "excluded by another rule" if excluded and step.show in excluded else
                     "not among the allowed variants")
            reasons.append(step.pin_ignored[state])
        return RuleOutcome(name, eligible, pinned, pinned_by, sensitive, stage, matches,
                           tuple(reasons))


_Tests = tuple[tuple[tuple[int, Test], ...], tuple[tuple[int, Test, Schedule], ...]]


def _tests(rules: tuple[CompiledRule, ...]) -> _Tests:
    """The rules' conditions as ``(bit, test)`` pairs, those with a schedule apart."""
    return (tuple((r.bit, r.condition.test) for r in rules if r.schedule is None),
            tuple((r.bit, r.condition.test, r.schedule) for r in rules
                  if r.schedule is not None))


def _mask(rules: Iterable[CompiledRule]) -> int:
    """The bit mask of a set of rules."""
    mask = 0
    for rule in rules:
        mask |= rule.bit
    return mask


def _matched(tests: _Tests, fields: Mapping[str, Any], now: datetime) -> int:
    """The bit mask of the rules that are live at ``now`` and whose condition holds."""
    plain, scheduled = tests
    hits = 0
    for bit, test in plain:
        if test(fields):
            hits |= bit
    for bit, test, schedule in scheduled:
        if schedule.active(now) and test(fields):
            hits |= bit
    return hits


def _ids(ids: frozenset[str]) -> str:
    return ", ".join(sorted(ids))


def _window(schedule: Schedule | None) -> str:
    if schedule is None:
        return "always"
    start = f"from {schedule.start:%Y-%m-%d %H:%M}" if schedule.start else ""
    end = f"until {schedule.end:%Y-%m-%d %H:%M}" if schedule.end else ""
    return " ".join(p for p in (start, end) if p)
