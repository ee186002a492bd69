"""Four gunicorn workers over one Redis learn as one: the merged model is the sum of all.

The same paced traffic (a new visitor per round, clicking variant B six times
in ten and the others once in ten) runs against one worker and against four,
each over its own real Redis. With a one-second reward window the bandit learns
during the run. Afterwards every decision any worker learned from is counted
once in the statistics in Redis, every worker has loaded those totals, and four
workers earn the reward per round that one worker earns.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from personalize.rewards import bounded_reward
from tests.scale.scale_kit import (
    BEST,
    CLICK,
    Gunicorn,
    Traffic,
    drive,
    everyone_reloads,
    model_counts,
    model_rewards,
    redis_reader,
    settle,
)
from tests.support.servers import RedisServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

ROUNDS = 500
RATE = 40.0  # rounds per second, the same for both runs: only the worker count differs
WINDOW = 1.0  # reward window, seconds
BOTH = [pytest.param(1, id="1-worker"), pytest.param(4, id="4-workers")]


@dataclass
class Run:
    traffic: Traffic
    reports: dict[int, dict[str, Any]]
    reloaded: dict[int, dict[str, Any]]
    counts: dict[str, int]
    rewards: dict[str, float]
    log_types: Counter[str]


@pytest.fixture(scope="module")
def runs() -> dict[int, Run]:
    found = {}
    for workers in (1, 4):
        with RedisServer() as redis_server, Gunicorn(
            workers=workers, store=redis_server.url,
            env={"PZ_TEST_REWARD_WINDOW": str(WINDOW)},
        ) as site:
            traffic = drive(site.port, rounds=ROUNDS, rate=RATE, max_seconds=30.0)
            time.sleep(WINDOW + 0.6)  # every window closed, every sync interval passed
            reports = settle(site.port, workers=workers)
            reloaded = everyone_reloads(site.port, pids=set(reports))
            with redis_reader(redis_server.url) as store:
                counts = model_counts(store)
                rewards = model_rewards(store)
                log_types = Counter(r["type"] for r in store.read_log())
        found[workers] = Run(traffic, reports, reloaded, counts, rewards, log_types)
        print(f"\n{workers} worker(s): pages {dict(traffic.pages)}, clicks {dict(traffic.events)}, "
              f"learned {sum(r['learned'] for r in reports.values())} "
              f"(per worker {sorted(r['learned'] for r in reports.values())}), n {counts}, "
              f"best share by thirds {[round(traffic.best_share(i / 3, (i + 1) / 3), 2) for i in range(3)]}, "  # noqa: E501
              f"expected reward 2nd half {expected_reward(traffic):.3f}, "
              f"clicks per round 2nd half {traffic.reward(0.5, 1.0):.3f}")
    return found


def expected_reward(traffic: Traffic, start: float = 0.5) -> float:
    """Mean click probability of the variants shown: reward per round without click noise."""
    served = sorted(traffic.served(), key=lambda r: r.index)
    part = served[int(start * len(served)):]
    return sum(CLICK[r.variant] for r in part) / max(1, len(part))


@pytest.mark.parametrize("workers", BOTH)
def test_every_page_and_event_is_served(runs: dict[int, Run], workers: int) -> None:
    run = runs[workers]
    assert run.traffic.pages == Counter({200: ROUNDS})
    assert set(run.traffic.events) == {202}
    assert not run.traffic.errors
    assert run.log_types == Counter(exposure=ROUNDS, click=sum(run.traffic.events.values()))


@pytest.mark.parametrize("workers", BOTH)
def test_each_learned_decision_is_counted_once_in_the_merged_statistics(
    runs: dict[int, Run], workers: int
) -> None:
    run = runs[workers]
    assert len(run.reports) == workers
    learned = [report["learned"] for report in run.reports.values()]
    assert all(n > 0 for n in learned), learned  # every worker took traffic and learned
    assert all(report["pending"] == 0 for report in run.reports.values())
    assert sum(run.counts.values()) == sum(learned) == ROUNDS


@pytest.mark.parametrize("workers", BOTH)
def test_every_click_reaches_the_worker_holding_its_decision(
    runs: dict[int, Run], workers: int
) -> None:
    run = runs[workers]
    per_click = bounded_reward({"click": 1.0, "complaint": -1.0}, {"click": 1.0})
    clicked = Counter(r.variant for r in run.traffic.served() if r.clicked)
    for arm, total in run.rewards.items():
        assert total == pytest.approx(per_click * clicked[arm]), arm


def test_every_worker_loads_the_merged_model(runs: dict[int, Run]) -> None:
    run = runs[4]
    assert set(run.reloaded) == set(run.reports)
    for pid, report in run.reloaded.items():
        assert report["model_n"] == run.counts, pid


def test_four_workers_earn_the_reward_per_round_of_one(runs: dict[int, Run]) -> None:
    one, four = runs[1], runs[4]
    for run in (one, four):
        assert run.traffic.best_share(0.5, 1.0) >= 0.7
        assert max(run.counts, key=lambda arm: run.counts[arm]) == BEST
    random_choice = sum(CLICK.values()) / len(CLICK)
    assert expected_reward(one.traffic) > random_choice + 0.15
    assert expected_reward(four.traffic) >= expected_reward(one.traffic) - 0.05
    assert four.traffic.best_share(0.5, 1.0) >= one.traffic.best_share(0.5, 1.0) - 0.1
