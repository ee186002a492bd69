"""Learning from delayed rewards, shared by every worker through the store.

A decision's reward is known only later: a click in a second, a conversion in
twenty minutes, a complaint tomorrow. Like Azure Personalizer's "reward wait
time", each decision the bandit made waits in :class:`Learner` for a reward
window; events that quote it (or, for server-side conversions, its visitor and
slot) add to its signals, and when the window closes the slot's objective turns
the signals into one bounded reward and the policy learns ``(x, variant, reward)``.

Many workers share one model without coordination: every worker follows the
shared log by cursor (so it sees events that landed on other workers, and
events delivered late after an outage), and pushes its
policies' additive deltas (``A += x xᵀ``, ``b += r x``) into the store, then
loads the merged totals. What a killed worker can lose is bounded: its pending
decisions (at most one reward window of its own traffic) and its statistics
since the last sync (at most ``sync_interval`` seconds).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .exceptions import StoreError
from .policy.base import Policy
from .rewards import bounded_reward
from .signals import EVENT_TYPES
from .store.base import Store

log = logging.getLogger("personalize.learning")

MAX_PENDING = 200_000
TAIL_PAGE = 5_000


@dataclass
class Pending:
    """A decision waiting for its reward window to close."""

    slot: str
    variant: str
    visitor: str
    x: np.ndarray
    at: float
    signals: dict[str, float] = field(default_factory=dict)


class Learner:
    """Owns one policy per slot, pending decisions, and the sync with the store.

    :param make_policy: builds a fresh policy for a slot name.
    :param objective_of: the current objective (signal → weight) of a slot.
    :param reward_window: seconds a decision collects events before it is learned from.
    :param sync_interval: seconds between merges with the store.
    :param settle_grace: extra seconds a decision waits after its window, so an
        event that was sent in time but reached the log late still counts;
        by default a tenth of the window, at most 5 seconds.
    """

    def __init__(self, store: Store, *, make_policy: Callable[[str], Policy],
                 objective_of: Callable[[str], Mapping[str, float]],
                 reward_window: float = 1800.0, sync_interval: float = 0.5,
                 settle_grace: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.make_policy = make_policy
        self.objective_of = objective_of
        self.reward_window = reward_window
        self.sync_interval = sync_interval
        self.settle_grace = min(5.0, reward_window / 10) if settle_grace is None else settle_grace
        self.clock = clock
        self.policies: dict[str, Policy] = {}
        #: policies are not thread-safe; threaded servers serialise calls per slot
        self.policy_locks: dict[str, threading.Lock] = {}
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self._latest: dict[tuple[str, str], str] = {}  # (visitor, slot) → decision id
        self._lock = threading.RLock()
        self._cursor: str | None = None  # where this worker is in the shared log
        self._last_sync = 0.0
        self.counts = {"learned": 0, "dropped": 0, "sync_errors": 0}

    def policy(self, slot: str) -> tuple[Policy, threading.Lock]:
        """The slot's policy, created on first use, and the lock to hold while using it."""
        found = self.policies.get(slot)
        if found is None:
            with self._lock:
                if slot not in self.policies:
                    self.policy_locks[slot] = threading.Lock()
                    self.policies[slot] = self.make_policy(slot)
                found = self.policies[slot]
        return found, self.policy_locks[slot]

    def expose(self, decision_id: str, *, slot: str, variant: str, visitor: str,
               x: np.ndarray) -> None:
        """Remember a decision the policy should learn from once its window closes."""
        with self._lock:
            self._pending[decision_id] = Pending(slot, variant, visitor, x, self.clock())
            self._latest[(visitor, slot)] = decision_id
            while len(self._pending) > MAX_PENDING:
                _, dropped = self._pending.popitem(last=False)
                self._latest.pop((dropped.visitor, dropped.slot), None)
                self.counts["dropped"] += 1

    def observe(self, record: Mapping[str, Any]) -> None:
        """Add one logged event's signal to the decision it belongs to, if pending here."""
        signal = record.get("signal")
        if not signal:
            return
        with self._lock:
            decision = record.get("decision") or self._latest.get(
                (str(record.get("visitor")), str(record.get("slot"))))
            pending = self._pending.get(decision) if decision else None
            if pending is not None:
                amount = float(record.get("amount", 1.0))
                pending.signals[signal] = pending.signals.get(signal, 0.0) + amount

    def settle(self, *, force: bool = False) -> int:
        """Learn from every decision whose window has closed; the number learned."""
        cutoff = self.clock() - self.reward_window - self.settle_grace
        by_slot: dict[str, list[Pending]] = {}
        with self._lock:
            while self._pending:
                decision_id, pending = next(iter(self._pending.items()))
                if pending.at > cutoff and not force:
                    break
                del self._pending[decision_id]
                if self._latest.get((pending.visitor, pending.slot)) == decision_id:
                    del self._latest[(pending.visitor, pending.slot)]
                by_slot.setdefault(pending.slot, []).append(pending)
        for slot, items in by_slot.items():
            objective = self.objective_of(slot)
            rewards = [bounded_reward(objective, p.signals) for p in items]
            policy, lock = self.policy(slot)
            with lock:
                policy.partial_fit(np.vstack([p.x for p in items]),
                                   [p.variant for p in items], rewards)
        learned = sum(len(v) for v in by_slot.values())
        self.counts["learned"] += learned
        return learned

    def start_tail(self) -> None:
        """Follow the shared log from its current end (done again later if the store is down)."""
        try:
            _, self._cursor = self.store.tail(None)
        except StoreError as err:
            log.warning("cannot reach the event log yet, will start following it later: %s",
                        err)

    def sync(self, observers: Iterable[Callable[[Mapping[str, Any]], None]] = ()) -> None:
        """Follow the shared log, settle due decisions, and merge statistics.

        When the log cannot be read nothing is settled, so no decision is
        learned as unrewarded merely because its events could not be seen;
        local deltas stay in the policies and are pushed on a later sync.
        """
        self._last_sync = self.clock()
        observers = list(observers)
        try:
            if self._cursor is None:
                _, self._cursor = self.store.tail(None)
            while True:
                records, self._cursor = self.store.tail(self._cursor, limit=TAIL_PAGE,
                                                        types=EVENT_TYPES)
                for record in records:
                    self.observe(record)
                    for observer in observers:
                        observer(record)
                if len(records) < TAIL_PAGE:
                    break
        except StoreError as err:
            self.counts["sync_errors"] += 1
            log.warning("cannot read the event log, will retry: %s", err)
            return
        self.settle()
        self.push_and_refresh()

    def push_and_refresh(self) -> None:
        """Push each policy's deltas into the store and load the merged totals."""
        for slot in list(self.policies):
            policy, lock = self.policy(slot)
            with lock:
                delta = policy.pop_delta()
            unpushed = dict(delta)
            try:
                for arm, stats in delta.items():
                    self.store.add_stats(_stats_key(slot, arm), stats)
                    del unpushed[arm]
                arms = self.store.get_state(f"arms:{slot}") or {"arms": []}
                known = sorted(set(arms["arms"]) | set(delta))
                if known != sorted(arms["arms"]):
                    self.store.set_state(f"arms:{slot}", {"arms": known})
                totals = {arm: self.store.get_stats(_stats_key(slot, arm)) for arm in known}
            except StoreError as err:
                self.counts["sync_errors"] += 1
                log.warning("cannot merge model statistics for %s, will retry: %s", slot, err)
                with lock:
                    policy.restore_delta(unpushed)
                continue
            with lock:
                policy.load_totals({arm: stats for arm, stats in totals.items() if stats})

    def due(self) -> bool:
        """True when the next sync is due."""
        return self.clock() - self._last_sync >= self.sync_interval

    @property
    def pending_count(self) -> int:
        """Decisions waiting for their reward window."""
        return len(self._pending)


def _stats_key(slot: str, arm: str) -> str:
    return f"model:{slot}:{arm}"

