"""The decision pipeline: context → rules → guardrails → policy → decision.

>>> engine = Personalizer(rules="rules/", store="sqlite:///var/p.db", secret=KEY)
>>> visit = engine.visit(environ)
>>> decision = engine.decide(visit.context, "hero")
>>> engine.commit(visit, [decision])

:class:`Personalizer` is framework-free; the WSGI middleware, the Flask and
Django integrations, the CLI and the simulator all drive this one object.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .context import Context
from .context.builder import ContextBuilder, Visit
from .context.history import (
    Exposure,
    chosen_since,
    merge_profiles,
    record_exposures,
    record_outcome,
)
from .decision import Decision, DecisionSigner, Reason
from .exceptions import ConfigError, StoreError
from .guardrails import ExperienceMonitor, applicable, build_guardrails
from .guardrails.base import Candidates, Guardrail, PerSlot
from .guardrails.experience import RECORD_TYPES
from .guardrails.transparency import describe_context
from .learning import Learner
from .policy import LinUCB
from .policy.features import Featurizer
from .policy.split import assign
from .rules import RuleReloader, RuleSet
from .rules.model import RuleOutcome, Slot, Variant
from .signals import EVENT_TYPES
from .store import make_store
from .store.base import Store

log = logging.getLogger("personalize")

ANONYMOUS_VISITOR = "-"
#: decision sources in which a policy chose the variant: events are credited to these
CREDITED_SOURCES = frozenset({"bandit", "split", "holdout"})
#: how far back the experience monitor re-reads the log when a worker starts
MONITOR_REPLAY_SECONDS = 14 * 86400.0


class Personalizer:
    """Decides what each slot shows, and learns from what happens next.

    :param rules: a rule directory, or a :class:`RuleReloader` already watching one.
    :param store: where profiles, the log, statistics and pauses live: a
        :class:`Store` or a URL for :func:`~personalize.store.make_store`.
    :param secret: signs visitor cookies and decision ids; keep it secret and stable.
    :param renderer: turns a variant with a ``template`` or ``key`` into HTML
        (the Flask and Django integrations supply one); inline HTML needs none.
    :param reward_window: seconds a decision collects events before learning.
    :param sync_interval: seconds between merges with the store (see :meth:`sync`).
    :param background_sync: sync from a thread of each process, off the request
        path; false syncs inline when due. By default a thread is used unless a
        clock is injected: a simulation driving time cannot use wall-clock waits.
    :param clock: epoch seconds; injectable for tests and simulations.
    :param random_state: seed for the bandits' exploration.
    """

    def __init__(self, *, rules: str | Path | RuleReloader, store: Store | str,
                 secret: str | bytes,
                 renderer: Callable[[Variant], str] | None = None,
                 reward_window: float = 1800.0, sync_interval: float = 0.5,
                 background_sync: bool | None = None,
                 clock: Callable[[], float] = time.time, random_state: int | None = None) -> None:
        if not secret or (isinstance(secret, str) and len(secret) < 16):
            raise ConfigError("secret", "expected a random secret of at least 16 characters, "
                              "e.g. the output of `python -c 'import secrets; "
                              "print(secrets.token_hex(32))'`")
        self.rules = rules if isinstance(rules, RuleReloader) else RuleReloader(rules)
        self.store = make_store(store) if isinstance(store, str) else store
        self.renderer = renderer
        self.clock = clock
        self.random_state = random_state
        self.contexts = ContextBuilder(store=self.store, secret=secret, clock=clock)
        self.signer = DecisionSigner(secret, clock=clock)
        raw = secret.encode() if isinstance(secret, str) else secret
        self._account_key = hashlib.sha256(b"personalize.account|" + raw).digest()
        self.featurizer = Featurizer().fit()
        self.learner = Learner(self.store, make_policy=self._make_policy,
                               objective_of=self._objective_of, reward_window=reward_window,
                               sync_interval=sync_interval, clock=clock)
        self.counters: dict[str, int] = {}
        #: called with each personalized request's seconds (set by the metrics exporter)
        self.observe_latency: Callable[[float], None] | None = None
        self._guardrails: list[Guardrail] = []
        self._guardrails_version = ""
        #: per slot, the guardrails whose ``before`` can act on it (a reload brings
        #: new slot objects, and with them new guardrails)
        self._chains: PerSlot[tuple[Guardrail, ...]] = PerSlot(
            lambda slot: applicable(self.guardrails(), slot))
        self._lock = threading.Lock()
        #: exposures logged here since the last sync, shared as additive counts
        self._shown: Counter[tuple[str, str]] = Counter()
        #: merged exposure totals already handed to the monitors
        self._shown_seen: dict[tuple[str, str], int] | None = None
        # follow the log from now, then rebuild the monitors from what came before
        self.learner.start_tail()
        self.guardrails()
        self._share_exposures()
        self._sync_lock = threading.Lock()
        self.background_sync = clock is time.time if background_sync is None else background_sync
        self._sync_thread: threading.Thread | None = None
        self._sync_pid = 0
        self._stop = threading.Event()

    # -- the pipeline ------------------------------------------------------
    @property
    def ruleset(self) -> RuleSet:
        """The rules serving now (the last good ones when an edit was rejected)."""
        return self.rules.current

    def visit(self, environ: Mapping[str, Any]) -> Visit:
        """Classify a request (see :class:`~personalize.context.builder.ContextBuilder`)."""
        visit = self.contexts.build(environ, self.ruleset.site)
        if visit.degraded:
            self.count("store_degraded")
        return visit

    def guardrails(self) -> list[Guardrail]:
        """The guardrails for the current rules, rebuilt when the rules change."""
        ruleset = self.ruleset
        if self._guardrails_version != ruleset.version:
            with self._lock:
                if self._guardrails_version != ruleset.version:
                    first = not self._guardrails
                    self._guardrails = build_guardrails(
                        ruleset.guardrails, self.store, self.clock, slots=ruleset.slots,
                        previous=self._guardrails)
                    self._guardrails_version = ruleset.version
                    if first:
                        self._replay_monitors()
        return self._guardrails

    def decide(self, context: Context, slot_name: str, shown: Sequence[Exposure] = (), *,
               outcome: RuleOutcome | None = None) -> Decision:
        """Choose the variant for one slot; raises only on a bug or unknown slot.

        :param shown: exposures already decided on this request (for budgets).
        :param outcome: what the rules said about this slot, when the caller
            evaluated every slot at once (:meth:`RuleSet.evaluate_all`).
        """
        self._maybe_sync()
        ruleset = self.ruleset
        slot = self._slot(ruleset, slot_name)
        if outcome is None:
            outcome = ruleset.evaluate(context, slot_name)
        candidates = Candidates(slot, eligible=list(outcome.eligible),
                                shown_this_request=list(shown))
        for guardrail in self._chains(slot):
            guardrail.before(context, outcome, candidates)
        reasons: list[Reason] = [context.derived(
            "context_reason", lambda: Reason("context", describe_context(context), "context"))]
        reasons.extend(outcome.reasons)
        reasons.extend(candidates.reasons)

        x: np.ndarray | None = None
        propensity = 1.0
        if candidates.forced is not None:
            variant, source = candidates.forced, candidates.forced_source
        elif outcome.pinned is not None and outcome.pinned in candidates.eligible:
            variant, source = outcome.pinned, "rule"
        elif len(candidates.eligible) <= 1 or not context.consent.tracking:
            variant = outcome.pinned if outcome.pinned in candidates.eligible else slot.default
            source = "default" if variant == slot.default else "rule"
            if len(candidates.eligible) <= 1 and slot.default in candidates.eligible:
                reasons.append(Reason("default", "Only the default was left to show.", "default"))
        elif slot.policy == "split":
            variant, propensity = assign(context.visitor_id or ANONYMOUS_VISITOR, slot.name,
                                         slot.weights, candidates.eligible,
                                         ruleset.guardrails.holdout.salt)
            source = "split"
            reasons.append(Reason("policy", f"You are in the {propensity:.0%} of visitors who "
                                  f"see '{_title(slot, variant)}' in this A/B test.", "split"))
        else:
            x = self._vector(context)
            policy, lock = self.learner.policy(slot.name)
            with lock:
                if candidates.explore:
                    choice = policy.choose(x, candidates.eligible, floor=candidates.floor,
                                           cap=candidates.cap)
                    variant, propensity = choice.arm, choice.propensity
                else:
                    probabilities = policy.probabilities(x, candidates.eligible, floor=0.0,
                                                         cap=1.0)
                    variant = candidates.eligible[int(np.argmax(probabilities))]
            source = "bandit"
            reasons.append(_policy_reason(slot, variant, propensity, candidates.explore))

        visitor = context.visitor_id or ANONYMOUS_VISITOR
        decision_id = self.signer.sign(visitor, slot.name, variant)
        chosen = slot.variants[variant]
        decision = Decision(
            slot=slot.name, variant=variant, content=self.render(chosen), source=source,
            propensity=propensity, reasons=tuple(reasons), eligible=tuple(candidates.eligible),
            model_version=ruleset.version, id=decision_id, tags=chosen.tags)
        learn = candidates.learn and context.consent.tracking and context.visitor_id is not None
        if learn and source in ("bandit", "split"):
            if x is None:
                x = self._vector(context)
            self.learner.expose(decision_id, slot=slot.name, variant=variant, visitor=visitor, x=x)
        self.count(f"decisions_{source}")
        return decision

    def _vector(self, context: Context) -> np.ndarray:
        """The bandit's feature vector of a request, shared by all its slots."""
        return context.derived("vector", lambda: self.featurizer.transform_one(context.features))

    def default_decision(self, slot_name: str, why: str = "") -> Decision:
        """The slot's default, used whenever anything inside personalization fails."""
        slot = self._slot(self.ruleset, slot_name)
        reasons = (Reason("default", why, "fail_open"),) if why else ()
        variant = slot.variants[slot.default]
        return Decision(slot=slot.name, variant=slot.default, content=self.render(variant),
                        source="default", propensity=1.0, reasons=reasons,
                        eligible=(slot.default,), model_version=self.ruleset.version,
                        tags=variant.tags)

    def render(self, variant: Variant) -> str:
        """The HTML of a variant."""
        if variant.html is not None:
            return variant.html
        if self.renderer is None:
            raise ConfigError("renderer", f"variant {variant.id!r} names a template or key, "
                              "so the host app must pass `renderer=` to render it")
        return self.renderer(variant)

    # -- after the response -------------------------------------------------
    def commit(self, visit: Visit, decisions: Sequence[Decision]) -> None:
        """Log a page's exposures and save the visitor's profile.

        Nothing is stored for visitors without tracking consent or for bots.
        Raises :class:`StoreError` when the store is down; the caller counts it.
        """
        context = visit.context
        if context.visitor_id is None:
            return
        now = self.clock()
        records = _exposure_records(context, decisions, now)
        if records:
            self.store.append(records)
            with self._lock:
                self._shown.update((d.slot, d.variant) for d in decisions)
        if visit.profile is not None:  # None when the profile could not be read
            self.store.put_profile(context.visitor_id, record_exposures(
                visit.profile, [exposure_of(d, now) for d in decisions]))

    def record_event(self, record: Mapping[str, Any]) -> None:
        """Log an accepted event and update the visitor's profile.

        ``record`` carries ``type``, ``visitor``, ``slot``, ``variant``,
        ``decision`` (or ``None`` for server-side events), ``signal`` and ``amount``.
        """
        self.store.append([record])
        kind = str(record["type"])
        if kind in ("conversion", "feedback"):
            # the event itself is logged; the profile's tally is a convenience
            # that must not turn an accepted event into an error
            visitor = str(record["visitor"])
            try:
                profile = self.store.get_profile(visitor)
                if profile is not None:
                    self.store.put_profile(visitor, record_outcome(
                        profile, kind, now=float(record["ts"]),
                        value=float(record.get("value", 0))))
            except StoreError as err:
                self.count("profile_update_errors")
                log.warning("event logged, but the visitor's profile was not updated: %s", err)

    def record(self, visitor_id: str | None, kind: str, *, value: float = 1.0,
               window: float | None = None) -> int:
        """Record an event the host app knows of (a conversion at checkout, say).

        It is credited to the latest decision a policy chose in each slot
        (bandit, A/B split or holdout) within ``window`` seconds (default: the
        reward window), quoting the decision's id, so the learner, the
        dashboard and ``personalize evaluate`` all credit the same decisions:
        the offer that caught the visitor's eye on a product page, not the
        calm note a guardrail showed on the last page. With nothing to credit,
        one unattributed record still counts the event. Returns the number of
        decisions credited; nothing is recorded for visitors without a profile
        (no consent, bots).
        """
        if kind not in EVENT_TYPES:
            raise ValueError(f"expected an event type in {sorted(EVENT_TYPES)}, got {kind!r}")
        if visitor_id is None:
            return 0
        profile = self.store.get_profile(visitor_id)
        if profile is None:
            return 0
        now = self.clock()
        since = now - (self.learner.reward_window if window is None else window)
        credited = chosen_since(profile, since)
        signal = ("feedback_positive" if value > 0 else "feedback_negative") \
            if kind == "feedback" else kind
        event = {"ts": now, "type": kind, "visitor": visitor_id, "value": value,
                 "signal": signal, "amount": value if kind == "conversion" else 1.0,
                 "reason": "", "server": True}
        records = [{**event, "decision": e.decision, "slot": e.slot, "variant": e.variant}
                   for e in credited]
        self.store.append(records or [{**event, "decision": None, "slot": None,
                                       "variant": None}])
        if kind in ("conversion", "feedback"):
            self.store.put_profile(visitor_id, record_outcome(profile, kind, now=now,
                                                              value=value))
        return len(records)

    def identify(self, visitor_id: str, account_key: str) -> str:
        """Link a browser to a stable account, merging histories across devices.

        The account key is kept only as a keyed hash. The first browser linked
        to an account becomes its canonical visitor; a later browser's history
        is merged into it and the canonical id is returned, so the caller can
        move the browser onto it and nobody has to start over.
        """
        if not account_key:
            raise ValueError("expected a non-empty account key")
        digest = hmac.new(self._account_key, account_key.encode(), hashlib.sha256).hexdigest()
        key = f"account:{digest}"
        linked = self.store.get_state(key)
        if linked is None:
            self.store.set_state(key, {"visitor": visitor_id, "linked_at": self.clock()})
            return visitor_id
        canonical = str(linked["visitor"])
        if canonical != visitor_id:
            mine, theirs = self.store.get_profile(visitor_id), self.store.get_profile(canonical)
            if mine is not None:
                merged = mine if theirs is None else merge_profiles(theirs, mine)
                self.store.put_profile(canonical, merged)
                self.store.forget(visitor_id)
            self.count("identities_merged")
        return canonical

    # -- learning and monitoring -------------------------------------------
    def sync(self) -> None:
        """Tail the shared log, settle due rewards, merge the model with other workers."""
        with self._sync_lock:
            self.learner.sync(observers=[self._observe])
            self._share_exposures()

    def _share_exposures(self) -> None:
        """Merge exposure counts with other workers and hand the growth to the monitors.

        The monitors must count every worker's exposures; exposures are the bulk
        of the log, so instead of every worker reading every exposure record
        they are shared like the bandit's statistics, as additive counts.
        """
        with self._lock:
            shown, self._shown = self._shown, Counter()
        try:
            for (slot, variant), count in shown.items():
                self.store.add_stats(f"exposures:{slot}",
                                     {variant: np.array([float(count)])})
            totals = {(slot, variant): int(array[0])
                      for slot in self.ruleset.slots
                      for variant, array in self.store.get_stats(f"exposures:{slot}").items()}
        except StoreError as err:
            with self._lock:
                self._shown.update(shown)
            log.warning("cannot share exposure counts, will retry: %s", err)
            return
        if self._shown_seen is None:  # start-up: the log replay already counted these
            self._shown_seen = totals
            return
        monitors = [g for g in self.guardrails() if isinstance(g, ExperienceMonitor)]
        for pair, total in totals.items():
            grown = total - self._shown_seen.get(pair, 0)
            if grown > 0:
                for monitor in monitors:
                    monitor.add_exposures(*pair, grown)
        self._shown_seen = totals

    def close(self) -> None:
        """Stop the sync thread, share what was learned, and close the store."""
        self._stop.set()
        if self._sync_thread is not None:
            self._sync_thread.join(timeout=5)
        try:
            self.learner.push_and_refresh()
        except StoreError as err:
            log.warning("could not share the last statistics on close: %s", err)
        self.store.close()

    @staticmethod
    def _sync_forever(ref: weakref.ref[Personalizer], stop: threading.Event,
                      interval: float) -> None:
        """Sync until stopped, or until the engine is no longer used anywhere.

        The thread holds the engine only weakly and stops with its store, so an
        engine dropped without :meth:`close` (a test, a reloaded app) does not
        leave a thread behind.
        """
        while not stop.wait(interval):
            engine = ref()
            if engine is None or engine.store.closed:
                return
            try:
                engine.sync()
            except Exception:
                engine.count("sync_errors")
                log.exception("background sync failed; retrying in %.1f s", interval)
            del engine

    def _start_sync_thread(self) -> None:
        """One sync thread per process, restarted in a forked worker (gunicorn)."""
        with self._lock:
            if self._sync_pid == os.getpid():
                return
            self._sync_pid = os.getpid()
            self._stop = threading.Event()
            self._sync_thread = threading.Thread(
                target=self._sync_forever, daemon=True, name="personalize-sync",
                args=(weakref.ref(self), self._stop, self.learner.sync_interval))
            self._sync_thread.start()

    def _replay_monitors(self) -> None:
        """Rebuild the experience monitor's counts from the recent log after a restart."""
        since = self.clock() - MONITOR_REPLAY_SECONDS
        for guardrail in self._guardrails:
            if isinstance(guardrail, ExperienceMonitor):
                try:
                    guardrail.replay(self.store.read_log(since=since, types=RECORD_TYPES))
                except StoreError as err:
                    log.warning("could not replay the log into the experience monitor: %s", err)

    def _observe(self, record: Mapping[str, Any]) -> None:
        for guardrail in self.guardrails():
            guardrail.observe(record)

    def _maybe_sync(self) -> None:
        if self.background_sync:
            if self._sync_pid != os.getpid():
                self._start_sync_thread()
            return
        if self.learner.due():
            try:
                self.sync()
            except StoreError as err:
                self.count("sync_errors")
                log.warning("sync with the store failed, will retry: %s", err)

    # -- helpers --------------------------------------------------------------
    def count(self, name: str, amount: int = 1) -> None:
        """Increment an operator-facing counter."""
        self.counters[name] = self.counters.get(name, 0) + amount

    def _slot(self, ruleset: RuleSet, name: str) -> Slot:
        try:
            return ruleset.slots[name]
        except KeyError:
            raise ConfigError("slot", f"no slot named {name!r} in the rule files; known slots: "
                              f"{', '.join(sorted(ruleset.slots)) or 'none'}") from None

    def _objective_of(self, slot: str) -> Mapping[str, float]:
        found = self.ruleset.slots.get(slot)
        return found.objective if found else {}

    def _make_policy(self, slot: str) -> LinUCB:
        bounds = self.ruleset.guardrails.exploration
        return LinUCB(floor=bounds.floor, cap=bounds.cap, random_state=self.random_state)


def exposure_of(decision: Decision, at: float) -> Exposure:
    """A decision as an exposure in the visitor's history, shown at ``at``.

    Its id is kept when a policy chose the variant, so later events credit it.
    """
    return Exposure(decision.slot, decision.variant, tuple(sorted(decision.tags)), at,
                    decision.id if decision.source in CREDITED_SOURCES else None)


def _exposure_records(context: Context, decisions: Sequence[Decision],
                      now: float) -> list[dict[str, Any]]:
    """A page's exposure records, sharing a page id, with the context's features once.

    The features are the bulk of a record, and they are the same for every
    slot of a page: the first record carries them and the others only the
    ``page`` id that finds them (:func:`personalize.logjoin.join`), which cuts
    a three-slot page's log by about a fifth. The records are appended
    together, so a reader meets the first one first.
    """
    page = secrets.token_urlsafe(6)  # 48 bits: unique among one visitor's pages
    records: list[dict[str, Any]] = []
    for decision in decisions:
        record = {
            "ts": now, "type": "exposure", "visitor": context.visitor_id, "page": page,
            "decision": decision.id, "slot": decision.slot, "variant": decision.variant,
            "source": decision.source, "propensity": decision.propensity,
            "eligible": list(decision.eligible), "tags": sorted(decision.tags),
            "reasons": [reason.text for reason in decision.reasons],
        }
        if not records:
            record["features"] = context.features
        records.append(record)
    return records


def _title(slot: Slot, variant: str) -> str:
    return slot.variants[variant].title or variant


def _policy_reason(slot: Slot, variant: str, propensity: float, explore: bool) -> Reason:
    title = _title(slot, variant)
    if not explore:
        return Reason("policy", f"'{title}' has worked best for visitors like you; nothing "
                      "new is tried here.", "exploit")
    if propensity >= 0.5:
        return Reason("policy", f"'{title}' has worked best for visitors like you "
                      f"(chosen with probability {propensity:.0%}).", "exploit")
    return Reason("policy", f"'{title}' is being tried out, so we learn what helps visitors "
                  f"(chosen with probability {propensity:.0%}).", "explore")
