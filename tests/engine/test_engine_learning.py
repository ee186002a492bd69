"""Delayed rewards, shared statistics and the log tail, on the real engine."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from werkzeug.test import EnvironBuilder

from personalize.context.visitor import VISITOR_COOKIE
from personalize.engine import Personalizer
from personalize.store.memory import MemoryStore

RULES = Path(__file__).parent.parent / "middleware" / "rules"
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Safari/537.36")
WINDOW = 60.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


def engine_on(store: MemoryStore, clock: FakeClock, seed: int) -> Personalizer:
    return Personalizer(rules=RULES, store=store, secret="engine-tests-secret-0123456789",
                        reward_window=WINDOW, sync_interval=1e9, background_sync=False, clock=clock,
                        random_state=seed)


def environ(engine: Personalizer, visitor: str) -> dict[str, Any]:
    cookie = f"{VISITOR_COOKIE}={engine.contexts.visitor_ids.sign(visitor)}"
    return EnvironBuilder(path="/", headers={"User-Agent": DESKTOP, "Cookie": cookie}
                          ).get_environ()


def click(engine: Personalizer, decision: Any, visitor: str, at: float) -> None:
    engine.record_event({"ts": at, "type": "click", "visitor": visitor,
                         "decision": decision.id, "slot": decision.slot,
                         "variant": decision.variant, "value": 1.0, "signal": "click",
                         "amount": 1.0, "reason": ""})


def serve(engine: Personalizer, clock: FakeClock, rounds: int, *, best: str,
          rng: np.random.Generator) -> Counter[str]:
    """Visitors click the ``best`` hero 60 % of the time and the others 5 %."""
    shown: Counter[str] = Counter()
    for i in range(rounds):
        visitor = f"{int(rng.integers(2**62)):032x}"
        visit = engine.visit(environ(engine, visitor))
        decision = engine.decide(visit.context, "hero")
        engine.commit(visit, [decision])
        shown[decision.variant] += 1
        if rng.random() < (0.6 if decision.variant == best else 0.05):
            click(engine, decision, visitor, clock.now)
        clock.now += 1.0
        if i % 20 == 0:
            engine.sync()
    return shown


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    backend = MemoryStore()
    yield backend
    backend.close()


def test_rewards_wait_for_their_window_then_teach_the_bandit(store: MemoryStore,
                                                            clock: FakeClock) -> None:
    engine = engine_on(store, clock, seed=1)
    shown = serve(engine, clock, 1500, best="hero-sale", rng=np.random.default_rng(1))
    clock.now += WINDOW + 10
    engine.sync()
    assert engine.learner.pending_count == 0
    late = serve(engine, clock, 300, best="hero-sale", rng=np.random.default_rng(2))
    assert late["hero-sale"] / 300 > 0.8, (shown, late)
    assert engine.learner.counts["learned"] >= 1500


def test_nothing_is_learned_before_the_window_closes(store: MemoryStore,
                                                    clock: FakeClock) -> None:
    engine = engine_on(store, clock, seed=3)
    serve(engine, clock, 30, best="hero-sale", rng=np.random.default_rng(3))
    assert engine.learner.counts["learned"] == 0
    assert engine.learner.pending_count == 30


def test_workers_sharing_a_store_merge_what_they_learn(store: MemoryStore,
                                                      clock: FakeClock) -> None:
    first, second = engine_on(store, clock, seed=4), engine_on(store, clock, seed=5)
    rng = np.random.default_rng(4)
    for _ in range(10):
        serve(first, clock, 40, best="hero-sale", rng=rng)
        serve(second, clock, 40, best="hero-sale", rng=rng)
    clock.now += WINDOW + 10
    first.sync()
    second.sync()
    first.sync()  # picks up what the second pushed after the first's last sync
    stats = {name: {arm: engine.learner.policy("hero")[0].statistics(arm)["n"]
                    for arm in ("hero-default", "hero-mobile", "hero-sale")}
             for name, engine in (("first", first), ("second", second))}
    assert stats["first"] == stats["second"]
    assert sum(stats["first"].values()) == pytest.approx(800)


def test_an_event_on_another_worker_reaches_the_decision_through_the_log(
        store: MemoryStore, clock: FakeClock) -> None:
    decider, receiver = engine_on(store, clock, seed=6), engine_on(store, clock, seed=7)
    visitor = "ab" * 16
    visit = decider.visit(environ(decider, visitor))
    decision = decider.decide(visit.context, "hero")
    decider.commit(visit, [decision])
    clock.now += 1
    click(receiver, decision, visitor, clock.now)
    decider.sync()  # tails the log: the click now belongs to its pending decision
    pending = next(iter(decider.learner._pending.values()))
    assert pending.signals == {"click": 1.0}
