"""The review dashboard's figures, as pure functions over the joined log.

>>> joined = join(store.read_log(since=now - 14 * 86400), reward_window=window,
...               objectives=objectives)
>>> traffic(joined.exposures, "hero", ["hero-default", "hero-night"], start=..., end=...,
...         bucket="day", tz=ZoneInfo("Europe/Helsinki"))
>>> holdout_lift_of(joined.exposures, "hero")

Everything starts from :func:`personalize.logjoin.join`: each exposure record
becomes a :class:`~personalize.logjoin.LoggedExposure` carrying the events
attributed to it, by the rule the bandit learns by, and its reward under the
slot's objective (:func:`personalize.rewards.reward`, the plain weighted sum,
so the figures are in the objective's own units). Nothing here reads a clock,
a store or a request, so every figure can be checked by hand on a tiny log.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from statistics import NormalDist, fmean, stdev
from typing import Literal

from ...guardrails.stats import holdout_lift
from ...logjoin import LoggedExposure
from ...policy.split import SampleRatioMismatch, SplitReport, split_report
from ...rules.model import Slot

__all__ = ["DecisionPage", "DecisionQuery", "Lift", "Series", "SplitResult", "VariantSummary",
           "bucket_keys", "holdout_lift_of", "mean_interval", "search_decisions", "split_test",
           "summarize", "traffic"]

Bucket = Literal["day", "hour"]
HOUR = 3600.0


# -- traffic and reward over time --------------------------------------------
@dataclass(frozen=True)
class Series:
    """Per-variant figures over time buckets.

    :param labels: one label per bucket, in the reporting time zone.
    :param share: variant → share of the slot's exposures per bucket (``None``
        for a bucket without any exposure of the slot).
    :param reward: variant → mean reward per exposure per bucket (``None`` for
        a bucket where the variant was not shown).
    :param exposures: variant → exposures per bucket.
    """

    labels: list[str]
    share: dict[str, list[float | None]]
    reward: dict[str, list[float | None]]
    exposures: dict[str, list[int]]


def bucket_keys(start: float, end: float, bucket: Bucket, tz: tzinfo) -> list[str]:
    """Every bucket label from ``start`` to ``end`` (epoch seconds), oldest first.

    Buckets follow the wall clock of ``tz``, so a day is a local day even across
    a daylight-saving change.
    """
    if end < start:
        raise ValueError(f"expected start <= end, got {start!r} > {end!r}")
    keys: list[str] = []
    ts = start
    while True:
        key = _key(ts, bucket, tz)
        if not keys or keys[-1] != key:
            keys.append(key)
        if ts >= end:
            return keys
        ts = min(ts + HOUR, end)


def _key(ts: float, bucket: Bucket, tz: tzinfo) -> str:
    local = datetime.fromtimestamp(ts, UTC).astimezone(tz)
    return local.strftime("%a %d %b") if bucket == "day" else local.strftime("%d %b %H:00")


def traffic(exposures: Iterable[LoggedExposure], slot: str, variants: Sequence[str], *,
            start: float, end: float, bucket: Bucket, tz: tzinfo) -> Series:
    """Traffic share and mean reward of each variant of ``slot``, per time bucket.

    :param variants: the variants to report, in display order (others are
        counted in the slot's total but get no line).
    :param start: first instant reported (epoch seconds); earlier exposures are skipped.
    :param end: last instant reported.
    :param bucket: ``"day"`` or ``"hour"``.
    :param tz: the zone whose wall clock draws the buckets (the site's).
    """
    labels = bucket_keys(start, end, bucket, tz)
    index = {label: i for i, label in enumerate(labels)}
    size = len(labels)
    counts = {v: [0] * size for v in variants}
    sums = {v: [0.0] * size for v in variants}
    totals = [0] * size
    for o in exposures:
        if o.slot != slot or not start <= o.ts <= end:
            continue
        i = index[_key(o.ts, bucket, tz)]
        totals[i] += 1
        if o.variant in counts:
            counts[o.variant][i] += 1
            sums[o.variant][i] += o.reward
    share = {v: [c / t if t else None for c, t in zip(counts[v], totals, strict=True)]
             for v in variants}
    mean = {v: [s / c if c else None for s, c in zip(sums[v], counts[v], strict=True)]
            for v in variants}
    return Series(labels, share, mean, counts)


# -- per-variant summary, holdout lift and split tests ---------------------------
@dataclass(frozen=True)
class VariantSummary:
    """One variant's exposures, share of the slot and mean reward with its interval."""

    variant: str
    exposures: int
    share: float
    mean_reward: float | None
    low: float | None
    high: float | None


def mean_interval(values: Sequence[float], confidence: float = 0.95
                  ) -> tuple[float | None, float | None, float | None]:
    """The mean and its normal interval; ``None`` where too few values exist.

    :param values: one reward per exposure.
    :param confidence: coverage of the interval.
    """
    if not values:
        return None, None, None
    mean = fmean(values)
    if len(values) < 2:
        return mean, None, None
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def summarize(exposures: Iterable[LoggedExposure], slot: str, variants: Sequence[str],
              confidence: float = 0.95) -> list[VariantSummary]:
    """Each variant's exposures, share and mean reward in ``slot``, in ``variants`` order."""
    rewards: dict[str, list[float]] = {v: [] for v in variants}
    total = 0
    for o in exposures:
        if o.slot == slot:
            total += 1
            rewards.setdefault(o.variant, []).append(o.reward)
    return [VariantSummary(v, len(r), len(r) / total if total else 0.0,
                           *mean_interval(r, confidence)) for v, r in rewards.items()]


@dataclass(frozen=True)
class Lift:
    """Personalized decisions against the holdout's, for one slot.

    ``lift``, ``low`` and ``high`` are ``None`` until each group has two decisions.
    """

    slot: str
    treated: int
    holdout: int
    treated_mean: float | None
    holdout_mean: float | None
    lift: float | None
    low: float | None
    high: float | None
    confidence: float


def holdout_lift_of(exposures: Iterable[LoggedExposure], slot: str,
                    confidence: float = 0.95) -> Lift:
    """Mean reward per decision of the holdout (source ``holdout``) against everyone else.

    :param slot: the slot; each of its logged decisions counts once.
    :param confidence: coverage of the Welch interval (:func:`holdout_lift`).
    """
    treated: list[float] = []
    held: list[float] = []
    for o in exposures:
        if o.slot == slot:
            (held if o.source == "holdout" else treated).append(o.reward)
    t_mean = fmean(treated) if treated else None
    h_mean = fmean(held) if held else None
    if len(treated) < 2 or len(held) < 2:
        return Lift(slot, len(treated), len(held), t_mean, h_mean, None, None, None, confidence)
    lift, low, high = holdout_lift(treated, held, confidence=confidence)
    return Lift(slot, len(treated), len(held), t_mean, h_mean, lift, low, high, confidence)


@dataclass(frozen=True)
class SplitResult:
    """An A/B split's report: conversion per visitor with intervals, and the SRM check.

    :param report: ``None`` when no visitor was split yet.
    :param rewards: variant → (mean reward per exposure, low, high, exposures).
    :param outside: visitors whose variant has no positive weight (e.g. a
        variant later taken out of the split); not in ``report``.
    """

    slot: str
    weights: dict[str, float]
    visitors: int
    report: SplitReport | None
    rewards: dict[str, tuple[float | None, float | None, float | None, int]]
    outside: int


def split_test(exposures: Iterable[LoggedExposure], slot: Slot,
               confidence: float = 0.95) -> SplitResult:
    """The A/B report of a ``policy: split`` slot, counted per visitor.

    A visitor counts once, for the variant of their first split decision (the
    assignment is sticky), and converts when any of their split decisions in the
    slot earned a ``conversion``. The sample-ratio check compares those counts
    with the configured weights; a mismatch is reported, not warned.
    """
    weights = {v: float(w) for v, w in slot.weights.items()}
    first: dict[str, str] = {}
    converted: set[str] = set()
    rewards: dict[str, list[float]] = {v: [] for v in weights}
    for o in sorted((o for o in exposures if o.slot == slot.name and o.source == "split"),
                    key=lambda o: o.ts):
        first.setdefault(o.visitor, o.variant)
        rewards.setdefault(o.variant, []).append(o.reward)
        if o.signals.get("conversion", 0.0) > 0:
            converted.add(o.visitor)
    counts: dict[str, int] = {}
    successes: dict[str, int] = {}
    outside = 0
    for visitor, variant in first.items():
        if weights.get(variant, 0.0) <= 0:
            outside += 1
            continue
        counts[variant] = counts.get(variant, 0) + 1
        if visitor in converted:
            successes[variant] = successes.get(variant, 0) + 1
    report = None
    if counts and sum(w for w in weights.values() if w > 0) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SampleRatioMismatch)
            report = split_report(counts, successes, weights, confidence=confidence)
    summary = {v: (*mean_interval(r, confidence), len(r)) for v, r in rewards.items()}
    return SplitResult(slot.name, weights, len(first), report, summary, outside)


# -- the decision log ------------------------------------------------------------
@dataclass(frozen=True)
class DecisionQuery:
    """What the Decisions page filters by; empty strings match everything.

    :param text: case-insensitive words that must all appear in the reasons,
        the variant, the tags, the visitor id or the decision id.
    """

    slot: str = ""
    variant: str = ""
    source: str = ""
    text: str = ""

    def matches(self, o: LoggedExposure) -> bool:
        """True when the exposure passes every filter."""
        if (self.slot and o.slot != self.slot) or (self.variant and o.variant != self.variant) \
                or (self.source and o.source != self.source):
            return False
        words = self.text.lower().split()
        if not words:
            return True
        haystack = " ".join((o.variant, o.visitor, o.decision, *o.tags, *o.reasons,
                             *o.events)).lower()
        return all(word in haystack for word in words)


@dataclass(frozen=True)
class DecisionPage:
    """One page of matching decisions, newest first."""

    items: list[LoggedExposure]
    total: int
    offset: int
    limit: int

    @property
    def has_newer(self) -> bool:
        """True when a page before this one exists."""
        return self.offset > 0

    @property
    def has_older(self) -> bool:
        """True when a page after this one exists."""
        return self.offset + len(self.items) < self.total


def search_decisions(exposures: Sequence[LoggedExposure], query: DecisionQuery, *, offset: int = 0,
                     limit: int = 50) -> DecisionPage:
    """Matching decisions, newest first, ``limit`` of them from ``offset``.

    :raises ValueError: a negative offset or a limit below 1.
    """
    if offset < 0 or limit < 1:
        raise ValueError(f"expected offset >= 0 and limit >= 1, got {offset}, {limit}")
    newest = sorted(exposures, key=lambda o: o.ts, reverse=True)
    found = [o for o in newest if query.matches(o)]
    return DecisionPage(found[offset:offset + limit], len(found), offset, limit)
