"""Attach logged events to the exposures they belong to.

::

    joined = join(store.read_log(since=start), reward_window=engine.learner.reward_window,
                  objectives={name: s.objective for name, s in engine.ruleset.slots.items()})
    for exposure in joined.exposures:
        print(exposure.decision, exposure.signals, exposure.reward)

The log holds exposures (``type: "exposure"``: a decision shown; the
exposures of one page share a ``page`` id, and only the first carries the
page's features) and events
(records carrying a ``signal``: a click, a conversion, feedback…); records
that are neither are passed over. Each event is attributed by the rule the
bandit learns by (:mod:`personalize.learning`), so the review dashboard,
``personalize report`` and ``personalize evaluate`` count the rewards the
bandit counted:

- an event that quotes a decision id counts for that decision, and for no
  other (when the id names no logged exposure, the event is unattributed);
- a server-side event logged without one (a conversion the host app reports)
  counts for the same visitor's latest exposure of the same slot at or before
  the event;
- with ``reward_window``, an event counts only if it is at most that many
  seconds after its exposure: the learner stops listening when a decision's
  window closes. An earlier time stamp is not refused, because an event that
  quotes a decision cannot precede it; it only says two workers' clocks
  disagree, and the learner counts it too.

Events are attributed after the whole log is read, so an event logged before
its exposure (another worker's buffer flushed first) still finds it. Each
exposure's reward is its slot's objective applied to its summed signals
(:func:`personalize.rewards.reward`, the plain weighted sum, in the
objective's own units). Nothing here reads a clock or a store.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from .rewards import reward
from .signals import REWARD_SIGNALS

__all__ = ["Joined", "LoggedExposure", "join"]


@dataclass
class LoggedExposure:
    """One logged exposure and what followed it.

    The fields up to ``tags`` are the exposure record's, as the engine logs it.

    :param signals: summed signal magnitudes of the events attributed to it.
    :param events: the attributed event types, in log order.
    :param reward: the slot objective's weighted sum of ``signals`` (0 when
        :func:`join` was given no objective for the slot).
    """

    decision: str
    ts: float
    visitor: str
    slot: str
    variant: str
    source: str
    propensity: float
    eligible: tuple[str, ...]
    features: Mapping[str, Any]
    reasons: tuple[str, ...]
    tags: tuple[str, ...]
    signals: dict[str, float] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    reward: float = 0.0


@dataclass(frozen=True)
class Joined:
    """The log joined: exposures in log order, and what could not be joined.

    :param events: well-formed events read.
    :param unattributed: well-formed events that found no exposure by the rule
        of the module docstring (their exposure is not in the records read,
        they precede every exposure of their visitor and slot, or they came
        after the reward window).
    :param malformed: exposures missing a field, and events with an unknown
        signal, a negative or non-numeric amount or no time stamp.
    """

    exposures: list[LoggedExposure]
    events: int
    unattributed: int
    malformed: int


def join(records: Iterable[Mapping[str, Any]], *, reward_window: float | None = None,
         objectives: Mapping[str, Mapping[str, float]] | None = None) -> Joined:
    """Attribute every event to its exposure and compute each exposure's reward.

    :param records: log records in append order, as :meth:`Store.read_log` yields them.
    :param reward_window: seconds after an exposure in which its events count;
        ``None`` counts them whenever they came.
    :param objectives: slot name → objective; a slot without one earns 0.
    :raises ValueError: ``reward_window`` is not a positive number.
    """
    if reward_window is not None and not reward_window > 0:
        raise ValueError(f"expected a reward_window > 0 seconds or None, got {reward_window!r}")
    exposures: list[LoggedExposure] = []
    by_id: dict[str, LoggedExposure] = {}
    by_pair: dict[tuple[str, str], list[LoggedExposure]] = {}
    # (visitor, page id) → the page's features; a page id is unique per visitor
    features_of: dict[tuple[str, str], Mapping[str, Any]] = {}
    events: list[Mapping[str, Any]] = []
    malformed = 0
    for record in records:
        if record.get("type") != "exposure":
            if record.get("signal") is not None:
                events.append(record)
            continue
        exposure = _exposure(record, _page_features(record, features_of))
        if exposure is None:
            malformed += 1
            continue
        exposures.append(exposure)
        by_id[exposure.decision] = exposure
        by_pair.setdefault((exposure.visitor, exposure.slot), []).append(exposure)
    for found in by_pair.values():
        found.sort(key=lambda e: e.ts)
    times = {pair: [e.ts for e in found] for pair, found in by_pair.items()}
    counted = unattributed = 0
    for event in events:
        signal, amount, ts = event.get("signal"), event.get("amount", 1.0), event.get("ts")
        if signal not in REWARD_SIGNALS or not _number(amount) or amount < 0 \
                or not _number(ts):
            malformed += 1
            continue
        counted += 1
        target = _target(event, float(ts), by_id, by_pair, times)
        if target is None or (reward_window is not None and ts - target.ts > reward_window):
            unattributed += 1
            continue
        target.signals[str(signal)] = target.signals.get(str(signal), 0.0) + float(amount)
        target.events.append(str(event.get("type")))
    if objectives is not None:
        for exposure in exposures:
            if exposure.signals:
                exposure.reward = reward(objectives.get(exposure.slot, {}), exposure.signals)
    return Joined(exposures, counted, unattributed, malformed)


def _page_features(record: Mapping[str, Any],
                   features_of: dict[tuple[str, str], Mapping[str, Any]]) -> Any:
    """An exposure record's features: its own, or its page's, found by (visitor, page id).

    :param features_of: the pages' features from the records read so far; a
        record carrying its page's features adds them.
    """
    features, visitor, page = record.get("features"), record.get("visitor"), record.get("page")
    if not (isinstance(page, str) and isinstance(visitor, str)):
        return features
    if isinstance(features, Mapping):
        features_of.setdefault((visitor, page), features)
        return features
    return features_of.get((visitor, page))


def _exposure(record: Mapping[str, Any], features: Any) -> LoggedExposure | None:
    """The exposure a record describes, with ``features``, or ``None`` when a field is malformed."""
    decision, slot, variant = record.get("decision"), record.get("slot"), record.get("variant")
    visitor, ts, propensity = record.get("visitor"), record.get("ts"), record.get("propensity")
    eligible = record.get("eligible")
    reasons, tags = record.get("reasons", []), record.get("tags", [])
    if not (isinstance(decision, str) and decision and isinstance(slot, str)
            and isinstance(variant, str) and isinstance(visitor, str) and _number(ts)
            and _number(propensity) and isinstance(eligible, list)
            and isinstance(features, Mapping) and isinstance(reasons, list)
            and isinstance(tags, list)):
        return None
    return LoggedExposure(
        decision=decision, ts=float(ts), visitor=visitor, slot=slot, variant=variant,
        source=str(record.get("source") or "default"), propensity=float(propensity),
        eligible=tuple(str(v) for v in eligible), features=features,
        reasons=tuple(str(r) for r in reasons), tags=tuple(str(t) for t in tags))


def _target(event: Mapping[str, Any], ts: float, by_id: Mapping[str, LoggedExposure],
            by_pair: Mapping[tuple[str, str], list[LoggedExposure]],
            times: Mapping[tuple[str, str], list[float]]) -> LoggedExposure | None:
    decision = event.get("decision")
    if decision:
        return by_id.get(str(decision))
    visitor, slot = event.get("visitor"), event.get("slot")
    if not (isinstance(visitor, str) and isinstance(slot, str)) or (visitor, slot) not in times:
        return None
    at = bisect.bisect_right(times[visitor, slot], ts)
    return by_pair[visitor, slot][at - 1] if at else None


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)
