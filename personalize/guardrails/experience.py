"""The experience monitor: pause a variant that demonstrably harms visitors.

::

    monitor = ExperienceMonitor(settings.experience_monitor, store, slots=rule_set.slots)
    monitor.observe({"type": "exposure", "slot": "hero", "variant": "big_sale"})
    monitor.observe({"type": "complaint", "slot": "hero", "variant": "big_sale"})
    monitor.paused()                                  # what a person should review
    monitor.resume("hero", "big_sale", by="anna")     # only a person resumes

Per slot and variant it counts exposures and each bad-experience signal
(:data:`~personalize.signals.EXPERIENCE_SIGNALS`: negative feedback,
complaints, bounces). A variant other than the slot's default is **paused**
when, for some monitored signal, both it and the default have
``min_exposures``, its rate is above ``harm_ratio`` times the default's, and
the anytime-valid test of :mod:`.stats` rejects "equal rates" at
``alpha / len(signals)`` (split so a variant's chance of a false pause over
all its signals stays at most ``alpha``, however long it is watched).

A pause is a state document ``pause:{slot}:{variant}`` in the store, with the
evidence; it is logged on ``personalize.guardrails`` and stays until a person
calls :meth:`ExperienceMonitor.resume`. Every worker re-reads pauses and
resumes every ``refresh_seconds``, so a pause made by one is obeyed by all,
and by a restarted one.

**Ramp-up** (:mod:`.ramp_up`, off unless ``ramp_up.share`` is below 1): until
the monitor has counted ``ramp_up.exposures`` exposures of a variant, ``before``
removes it for every visitor outside its ramp-up share, so a variant nobody
has judged yet reaches few people, and the default keeps the traffic the harm
test compares against. It applies to bandit slots only (an A/B split is a
person's explicit allocation), never to a variant a rule pins, and not with
``enabled: false``, when nothing is counted.

The counts live in memory. :meth:`~ExperienceMonitor.observe` must see every
exposure and event of the shared log once — each worker tails the whole log —
so every worker holds the same counts of the same stream and reaches the same
verdict (they do not each get their own ``alpha``). After a restart, or when
the guardrails are rebuilt for new rules, :meth:`~ExperienceMonitor.replay`
rebuilds the counts from the log (or :meth:`~ExperienceMonitor.carry_over`
takes them from the previous instance). A resume starts the variant afresh:
its earlier records no longer count, so it is judged on new evidence only.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..exceptions import ConfigError, StoreError
from ..signals import EXPERIENCE_SIGNALS
from ._tally import Tally
from ._words import title
from .base import Candidates, Guardrail
from .ramp_up import RampUp, RampUpSettings
from .stats import harm_detected, log_evidence

if TYPE_CHECKING:
    from ..context import Context
    from ..rules.model import RuleOutcome, Slot
    from ..store.base import Store

log = logging.getLogger("personalize.guardrails")

#: Column order of the count vectors: exposures, then each signal.
SIGNALS: tuple[str, ...] = tuple(sorted(EXPERIENCE_SIGNALS))
_COLUMNS = 1 + len(SIGNALS)
_PHRASES = {"bounce": "bounces", "complaint": "complaints",
            "feedback_negative": "negative feedback"}
TEST_NAME = "universal-inference e-process (Beta(1/2,1/2) mixture vs pooled rate)"
#: Record types the monitor counts, for reading them back from the log.
RECORD_TYPES: frozenset[str] = frozenset({"exposure", "feedback", "complaint", "bounce"})

Pair = tuple[str, str]


class ExperienceSettings(Protocol):
    """The ``guardrails.experience_monitor`` settings this guardrail reads."""

    @property
    def enabled(self) -> bool: ...
    @property
    def signals(self) -> Iterable[str]: ...
    @property
    def alpha(self) -> float: ...
    @property
    def min_exposures(self) -> int: ...
    @property
    def harm_ratio(self) -> float: ...
    @property
    def ramp_up(self) -> RampUpSettings: ...


def signal_of(record: Mapping[str, Any]) -> str | None:
    """The experience signal an event record carries, or ``None``.

    A record's own ``signal`` field wins; otherwise it follows from the type
    (a ``feedback`` record with a negative ``value`` is negative feedback).
    """
    signal = record.get("signal")
    if isinstance(signal, str):
        return signal if signal in EXPERIENCE_SIGNALS else None
    kind = record.get("type")
    if kind == "feedback":
        value = record.get("value", 0)
        return "feedback_negative" if isinstance(value, (int, float)) and value < 0 else None
    return kind if kind in ("complaint", "bounce") else None


class ExperienceMonitor(Guardrail):
    """Counts bad-experience signals per variant; pauses and removes harmful variants.

    :param settings: ``settings.experience_monitor``. With ``enabled: false``
        nothing is counted or paused automatically, but pauses still apply.
    :param store: where pauses and resumes are kept.
    :param slots: slot name → :class:`~personalize.rules.model.Slot`, so the
        monitor knows each slot's default (it also learns it from every ``before``).
    :param clock: returns epoch seconds; tests pass a fake one.
    :param refresh_seconds: how often pauses and resumes are re-read from the store.
    :param pausing: ``False`` for a read-only monitor (``guardrails status``): it
        counts and reports, ramp-up included, but never pauses anything itself.
    :raises ConfigError: unknown signals, ``alpha`` outside (0, 1), ``harm_ratio``
        below 1, or a ramp-up ``share`` outside (0, 1] or negative ``exposures``.
    """

    name = "experience_monitor"

    def __init__(self, settings: ExperienceSettings, store: Store, *,
                 slots: Mapping[str, Slot] | None = None,
                 clock: Callable[[], float] = time.time, refresh_seconds: float = 5.0,
                 pausing: bool = True) -> None:
        self.enabled = bool(settings.enabled)
        self.pausing = pausing
        self.signals = tuple(settings.signals)
        if not self.signals or set(self.signals) - EXPERIENCE_SIGNALS:
            raise ConfigError("guardrails.experience_monitor.signals",
                              f"expected some of {', '.join(SIGNALS)}, got {self.signals!r}")
        if not 0.0 < settings.alpha < 1.0:
            raise ConfigError("guardrails.experience_monitor.alpha",
                              f"expected a number between 0 and 1, got {settings.alpha!r}")
        if settings.harm_ratio < 1.0:
            raise ConfigError("guardrails.experience_monitor.harm_ratio",
                              f"expected 1 or more (times the default's rate), "
                              f"got {settings.harm_ratio!r}")
        self.ramp_up = RampUp(settings.ramp_up)
        self.alpha = float(settings.alpha)
        self.min_exposures = int(settings.min_exposures)
        self.harm_ratio = float(settings.harm_ratio)
        self.store = store
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self._lock = threading.RLock()
        self._tally = Tally()
        self._defaults: dict[str, str] = {}
        self._variants: dict[str, tuple[str, ...]] = {}
        self._counts: dict[Pair, np.ndarray] = {}
        self._resumed_at: dict[Pair, float] = {}
        self._paused: dict[Pair, dict[str, Any]] = {}
        self._unsaved: dict[Pair, dict[str, Any]] = {}
        self._next_refresh = 0.0
        if slots:
            self.use_slots(slots)
        self.refresh()

    # -- configuration ----------------------------------------------------
    def use_slots(self, slots: Mapping[str, Slot]) -> None:
        """Learn (or, after a rule reload, relearn) each slot's default and variants."""
        with self._lock:
            self._defaults.update({name: slot.default for name, slot in slots.items()})
            self._variants.update({name: tuple(slot.variants) for name, slot in slots.items()})

    def carry_over(self, previous: ExperienceMonitor) -> None:
        """Take the counts of the instance this one replaces (rules reloaded)."""
        with previous._lock, self._lock:
            for pair, counts in previous._counts.items():
                self._counts[pair] = counts.copy()
            self._resumed_at = {**previous._resumed_at, **self._resumed_at}
            self._defaults = {**previous._defaults, **self._defaults}
            for pair in list(self._counts):
                self._check(pair)

    # -- the request path -------------------------------------------------
    def before(self, context: Context, outcome: RuleOutcome, candidates: Candidates) -> None:
        """Remove the slot's paused variants, and new variants outside their ramp-up share.

        :param context: the request; only ``context.visitor_id`` is read (for ramp-up).
        :param outcome: what the rules said; a variant they pin is never held back.
        :param candidates: the working set, edited in place.
        """
        slot = candidates.slot
        with self._lock:
            self._defaults[slot.name] = slot.default
            self._refresh_if_due()
            if candidates.settled or not (self._paused or self.ramp_up.active):
                return  # the common case: nothing is paused or ramping up
            paused = [(v, doc) for (s, v), doc in self._paused.items() if s == slot.name]
            new = self._ramping(slot, candidates, outcome)
        for variant, doc in paused:
            if variant in candidates.eligible or variant == candidates.forced:
                candidates.remove([variant], self.name, _visitor_text(slot, variant, doc))
                self._tally.add("removed")
        held = [v for v in new if v in candidates.eligible
                and not self.ramp_up.reaches(context.visitor_id, slot.name, v)]
        if held:
            candidates.remove(held, self.name, self.ramp_up.text(slot, held))
            self._tally.add("held_back_new")

    def in_ramp_up(self, slot: str, variant: str) -> bool:
        """True while a variant is new: counted fewer than ``ramp_up.exposures`` times.

        Never the slot's default or a paused variant, and never with the
        monitor disabled (it counts nothing then) or ramp-up off.

        :param slot: the slot's name.
        :param variant: one of its variants.
        """
        with self._lock:
            if (not self.enabled or variant == self._defaults.get(slot)
                    or (slot, variant) in self._paused):
                return False
            row = self._counts.get((slot, variant))
            return self.ramp_up.is_new(0.0 if row is None else float(row[0]))

    def _ramping(self, slot: Slot, candidates: Candidates, outcome: RuleOutcome) -> list[str]:
        """The eligible variants still in ramp-up that the policy could pick (lock held)."""
        if (not self.ramp_up.active or slot.policy != "bandit"
                or candidates.forced is not None):
            return []
        return [v for v in candidates.eligible
                if v != outcome.pinned and self.in_ramp_up(slot.name, v)]

    def observe(self, record: Mapping[str, Any]) -> None:
        """Count one exposure or event, and pause its variant if it now shows harm.

        :param record: ``{"type": "exposure" | "complaint" | "bounce" | "feedback",
            "slot": ..., "variant": ..., "value": ..., "ts": ...}``; others are ignored.
        """
        if not self.enabled:
            return
        with self._lock:
            pair = self._count(record)
            if pair is not None:
                self._check(pair)
            self._refresh_if_due()

    # -- people -----------------------------------------------------------
    def pause(self, slot: str, variant: str, reason: str, by: str) -> dict[str, Any]:
        """Pause a variant by hand; it stays paused until :meth:`resume`.

        :param reason: why, in a sentence, for the dashboard and the visitor.
        :param by: who paused it.
        :raises ValueError: ``variant`` is the slot's default, which cannot be paused.
        :raises StoreError: the pause could not be saved (nothing was paused).
        """
        if self._defaults.get(slot) == variant:
            raise ValueError(f"{variant!r} is the default of slot {slot!r}; a default cannot "
                             f"be paused: change the slot's default in the rule files instead")
        doc = {"slot": slot, "variant": variant, "reason": reason, "by": by, "auto": False,
               "paused_at": self.clock(), "needs_review": False}
        with self._lock:
            self.store.set_state(_pause_key(slot, variant), doc)
            self._paused[(slot, variant)] = doc
        log.warning("variant %r of slot %r paused by %s: %s", variant, slot, by, reason)
        self._tally.add("paused_by_hand")
        return doc

    def resume(self, slot: str, variant: str, by: str) -> bool:
        """Lift a pause; the variant is then judged on evidence from now on only.

        :param by: who resumed it; saved with the time under ``resumed:{slot}:{variant}``.
        :returns: false when the variant was not paused.
        :raises StoreError: the store could not be updated.
        """
        pair = (slot, variant)
        with self._lock:
            doc = self.store.get_state(_pause_key(slot, variant)) or self._paused.get(pair)
            if doc is None:
                return False
            now = self.clock()
            self.store.set_state(f"resumed:{slot}:{variant}", {
                "slot": slot, "variant": variant, "by": by, "resumed_at": now, "pause": doc})
            self.store.set_state(_pause_key(slot, variant), None)
            self._paused.pop(pair, None)
            self._unsaved.pop(pair, None)
            self._resumed_at[pair] = now
            self._counts.pop(pair, None)
        log.warning("variant %r of slot %r resumed by %s", variant, slot, by)
        self._tally.add("resumed")
        return True

    def paused(self) -> list[dict[str, Any]]:
        """Every current pause with its evidence, oldest first."""
        with self._lock:
            self._refresh_if_due()
            docs = list(self._paused.values())
        return sorted(docs, key=lambda d: float(d.get("paused_at", 0.0)))

    # -- counts -----------------------------------------------------------
    def replay(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Rebuild the counts from logged records, e.g. ``store.read_log(types=RECORD_TYPES)``.

        The counts are replaced, not added to, so replaying twice changes
        nothing; a resumed variant's records from before its resume are skipped,
        as live counting would have. Harm found in the rebuilt counts is paused.

        :returns: the number of records counted.
        """
        with self._lock:
            self.refresh()
            self._counts = {}
            used = sum(1 for record in records if self._count(record) is not None)
            for pair in list(self._counts):
                self._check(pair)
        return used

    def add_exposures(self, slot: str, variant: str, count: int) -> None:
        """Count exposures made by any worker (merged through the store), then check harm.

        Exposures are far more numerous than events, so workers share them as
        additive counts instead of every worker reading every exposure record.
        """
        if not self.enabled or count <= 0:
            return
        with self._lock:
            pair = (slot, variant)
            self._counts.setdefault(pair, np.zeros(_COLUMNS))[0] += float(count)
            self._check(pair)

    def counts(self, slot: str, variant: str) -> dict[str, int]:
        """Exposures and each signal's count for one variant, as counted here."""
        with self._lock:
            row = self._counts.get((slot, variant), np.zeros(_COLUMNS))
            return {"exposures": int(row[0]),
                    **{signal: int(row[1 + i]) for i, signal in enumerate(SIGNALS)}}

    def refresh(self) -> None:
        """Re-read pauses and resumes from the store; save pauses it could not save before.

        A store failure is logged and counted, the last known pauses stay in
        force, and the request path carries on.
        """
        with self._lock:
            self._next_refresh = self.clock() + self.refresh_seconds
            try:
                for pair, doc in list(self._unsaved.items()):
                    self.store.set_state(_pause_key(*pair), doc)
                    del self._unsaved[pair]
                resumed = self.store.list_state("resumed:")
                stored = self.store.list_state("pause:")
            except StoreError as err:
                log.error("experience monitor could not read pauses from the store: %s", err)
                self._tally.add("store_errors")
                return
            for doc in resumed.values():
                pair, at = (str(doc["slot"]), str(doc["variant"])), float(doc["resumed_at"])
                if at > self._resumed_at.get(pair, -math.inf):
                    self._resumed_at[pair] = at
                    self._counts.pop(pair, None)
            self._paused = {(str(d["slot"]), str(d["variant"])): d for d in stored.values()}
            self._paused.update(self._unsaved)
            for pair in list(self._counts):
                self._check(pair)

    def report(self) -> dict[str, Any]:
        """Settings, pauses with their evidence, action counts and current rates."""
        with self._lock:
            self._refresh_if_due()
            rates = {f"{s}:{v}": {"exposures": int(c[0]), **{
                sig: round(float(c[1 + i]) / c[0], 6) if c[0] else None
                for i, sig in enumerate(SIGNALS) if sig in self.signals}}
                for (s, v), c in sorted(self._counts.items())}
            ramping = sorted(f"{s}:{v}" for s, variants in self._variants.items()
                             for v in variants if self.in_ramp_up(s, v))
        return {"enabled": self.enabled, "test": TEST_NAME, "signals": list(self.signals),
                "alpha": self.alpha, "harm_ratio": self.harm_ratio,
                "min_exposures": self.min_exposures,
                "ramp_up": {**self.ramp_up.report(), "variants": ramping},
                "paused": self.paused(), "counts": self._tally.snapshot(), "rates": rates}

    # -- internals (called with the lock held) ------------------------------
    def _refresh_if_due(self) -> None:
        if self.clock() >= self._next_refresh:
            self.refresh()

    def _count(self, record: Mapping[str, Any]) -> Pair | None:
        slot, variant = record.get("slot"), record.get("variant")
        if not isinstance(slot, str) or not isinstance(variant, str):
            return None
        if record.get("type") == "exposure":
            column = 0
        else:
            signal = signal_of(record)
            if signal is None:
                return None
            column = 1 + SIGNALS.index(signal)
        pair = (slot, variant)
        ts = record.get("ts")
        if isinstance(ts, (int, float)) and ts < self._resumed_at.get(pair, -math.inf):
            return None
        self._counts.setdefault(pair, np.zeros(_COLUMNS))[column] += 1.0
        return pair

    def _check(self, pair: Pair) -> None:
        slot, variant = pair
        default = self._defaults.get(slot)
        if (not (self.enabled and self.pausing) or default is None or variant == default
                or pair in self._paused):
            return
        v, d = self._counts.get(pair), self._counts.get((slot, default))
        if v is None or d is None:
            return
        n_v, n_d = float(v[0]), float(d[0])
        if min(n_v, n_d) < max(self.min_exposures, 1):
            return
        alpha = self.alpha / len(self.signals)
        for i, signal in enumerate(SIGNALS):
            # an event may be logged before its exposure reaches this worker
            k_v, k_d = float(min(v[1 + i], n_v)), float(min(d[1 + i], n_d))
            if signal not in self.signals or k_v * n_d <= self.harm_ratio * k_d * n_v:
                continue  # the cheap part of harm_detected first: most checks end here
            if harm_detected(n_v, k_v, n_d, k_d, alpha=alpha, harm_ratio=self.harm_ratio,
                             min_exposures=self.min_exposures):
                self._pause_for_harm(pair, default, signal, (n_v, k_v, n_d, k_d), alpha)
                return

    def _pause_for_harm(self, pair: Pair, default: str, signal: str,
                        counts: tuple[float, float, float, float], alpha: float) -> None:
        n_v, k_v, n_d, k_d = counts
        rate_v, rate_d = k_v / n_v, k_d / n_d
        log_e = float(log_evidence(n_v, k_v, n_d, k_d))
        evidence = {"test": TEST_NAME, "exposures": int(n_v), "events": int(k_v),
                    "rate": rate_v, "default": default, "default_exposures": int(n_d),
                    "default_events": int(k_d), "default_rate": rate_d,
                    "rate_ratio": rate_v / rate_d if rate_d > 0 else None,
                    "log_e_value": log_e, "p_value": min(1.0, math.exp(-log_e)),
                    "alpha": alpha, "harm_ratio": self.harm_ratio}
        doc: dict[str, Any] = {
            "slot": pair[0], "variant": pair[1], "signal": signal, "auto": True,
            "by": self.name, "paused_at": self.clock(), "needs_review": True,
            "reason": f"{_PHRASES[signal]} at {rate_v:.2%} of exposures against "
                      f"{rate_d:.2%} for the default", "evidence": evidence}
        self._paused[pair] = doc
        try:
            if self.store.get_state(_pause_key(*pair)) is None:
                self.store.set_state(_pause_key(*pair), doc)
        except StoreError as err:
            self._unsaved[pair] = doc
            log.error("pause of %r in slot %r kept in memory only, for now: %s",
                      pair[1], pair[0], err)
        log.warning("variant %r of slot %r paused automatically: %s (p = %.2g)",
                    pair[1], pair[0], doc["reason"], evidence["p_value"])
        self._tally.add("paused_automatically")


def _pause_key(slot: str, variant: str) -> str:
    return f"pause:{slot}:{variant}"


def _visitor_text(slot: Slot, variant: str, doc: Mapping[str, Any]) -> str:
    if doc.get("auto"):
        phrase = _PHRASES.get(str(doc.get("signal")), "problems")
        return (f"{title(slot, variant)} is paused: it drew clearly more {phrase} than the "
                f"standard version, so a person is reviewing it.")
    reason = str(doc.get("reason", "")).strip() or "it is being reviewed"
    end = "" if reason[-1] in ".!?" else "."
    return f"{title(slot, variant)} is paused by the site's team: {reason}{end}"
