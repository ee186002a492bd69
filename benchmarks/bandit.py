"""The contextual bandit: time per decision and update, and reward against an oracle.

    python -m benchmarks.bandit [--quick] [--json]

1. Speed, per slot, with 5 variants and the production featurizer's 50
   features: ``choose`` (decide, with its propensity) and ``update`` (one
   reward) of our LinUCB and linear Thompson sampling, against a plain numpy
   LinUCB measured in the same process (the machines are shared and noisy: the
   ratio is the figure to trust), mabwiser's LinUCB and Vowpal Wabbit
   (``--cb_explore_adf``) when they are installed (``pip install .[bench]``).
2. Learning: the average reward over T rounds (20,000; 5,000 with ``--quick``)
   of a linear-logistic environment (``benchmarks/environments.py``), as a
   share of the oracle's, for every policy on the same visitors and the same
   reward draws, with uniform play and the best single variant for scale.
   Rewards are scored by their expected value (the chosen variant's
   probability) so the figure carries no reward-draw noise; it is the mean over
   several sequences of visitors, because one greedy bandit's path alone varies
   by ±1 % of the oracle's reward between sequences.

Every LinUCB here uses the same width ``ALPHA`` and ridge ``L2``. Ours runs as
shipped, with an exploration floor of 1 % per variant (the price of exact,
never-zero propensities that make offline evaluation possible, and of the
floor guardrail); ``linucb_no_floor`` shows the same policy without it, which
is the like-for-like comparison with the peers, none of which keeps a floor.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import _harness
from benchmarks.environments import LinearLogisticEnvironment, Rounds, draw_contexts
from personalize.policy import LinearThompson, LinUCB
from personalize.policy.bounds import sample

ALPHA = 0.25  # exploration width for every LinUCB here (ours, mabwiser's, numpy's)
TS_ALPHA = 0.1
L2 = 1.0
SEEDS = {True: (1, 2), False: (1, 2, 3)}  # sequences of visitors, for --quick and not

Decide = Callable[[np.ndarray, int], str]  # (features, round) -> variant
Update = Callable[[np.ndarray, int, str, float], None]  # (features, round, variant, reward)


class NumpyLinUCB:
    """The textbook LinUCB in plain numpy: the in-process speed baseline."""

    def __init__(self, arms: list[str], d: int) -> None:
        self.arms = arms
        self.ainv = {a: np.eye(d) / L2 for a in arms}
        self.b = {a: np.zeros(d) for a in arms}
        self.theta = {a: np.zeros(d) for a in arms}

    def decide(self, x: np.ndarray, t: int = 0) -> str:
        scores = [self.theta[a] @ x + ALPHA * math.sqrt(x @ self.ainv[a] @ x) for a in self.arms]
        return self.arms[scores.index(max(scores))]

    def update(self, x: np.ndarray, t: int, arm: str, reward: float) -> None:
        u = self.ainv[arm] @ x
        self.ainv[arm] -= np.outer(u, u) / (1.0 + x @ u)
        self.b[arm] += reward * x
        self.theta[arm] = self.ainv[arm] @ self.b[arm]


def ours(policy: LinUCB | LinearThompson, arms: list[str]) -> tuple[Decide, Update]:
    def decide(x: np.ndarray, t: int) -> str:
        return policy.choose(x, arms).arm

    def update(x: np.ndarray, t: int, arm: str, reward: float) -> None:
        policy.update(x, arm, reward)
    return decide, update


def mabwiser_linucb(arms: list[str], X: np.ndarray) -> tuple[Decide, Update]:
    """mabwiser's LinUCB, fitted first on one round per arm (it cannot predict unfitted)."""
    from mabwiser.mab import MAB, LearningPolicy

    mab = MAB(arms=arms, learning_policy=LearningPolicy.LinUCB(alpha=ALPHA, l2_lambda=L2), seed=0)
    mab.fit(decisions=arms, rewards=[0.0] * len(arms), contexts=X[: len(arms)])

    def decide(x: np.ndarray, t: int) -> str:
        return str(mab.predict(contexts=x[None]))

    def update(x: np.ndarray, t: int, arm: str, reward: float) -> None:
        mab.partial_fit(decisions=[arm], rewards=[reward], contexts=x[None])
    return decide, update


def vowpal_wabbit(arms: list[str], X: np.ndarray) -> tuple[Decide, Update, Callable[[], None]]:
    """Vowpal Wabbit ``--cb_explore_adf`` with shared × action interactions, ε = 0.05."""
    import vowpalwabbit

    ws = vowpalwabbit.Workspace("--cb_explore_adf -q sa --epsilon 0.05 --random_seed 0 --quiet")
    shared = ["shared |s " + " ".join(f"f{j}:{x[j]:.6g}" for j in np.flatnonzero(x)) for x in X]
    actions = [f"|a {a}" for a in arms]
    rng = np.random.default_rng(0)
    last: dict[int, list[float]] = {}  # the round last decided → its pmf, for the label

    def decide(x: np.ndarray, t: int) -> str:
        pmf = ws.predict([shared[t], *actions])
        last.clear()
        last[t] = pmf
        return arms[sample(pmf, float(rng.random()))]

    def update(x: np.ndarray, t: int, arm: str, reward: float) -> None:
        j = arms.index(arm)
        p = last[t][j] if t in last else 1.0 / len(arms)
        labelled = [f"0:{-reward}:{max(p, 1e-6)} {a}" if k == j else a
                    for k, a in enumerate(actions)]
        ws.learn([shared[t], *labelled])
    return decide, update, ws.finish


def play(rounds: Rounds, arms: list[str], decide: Decide, update: Update) -> float:
    """Share of the oracle's expected reward earned over the rounds."""
    earned = 0.0
    for t in range(rounds.X.shape[0]):
        x = rounds.X[t]
        arm = decide(x, t)
        a = arms.index(arm)
        update(x, t, arm, float(rounds.U[t, a] < rounds.P[t, a]))
        earned += rounds.P[t, a]
    return float(earned / rounds.X.shape[0] / rounds.oracle)


def timings(
    players: dict[str, tuple[Decide, Update]], X: np.ndarray, arms: list[str], *,
    budget: float, rounds: int = 7,
) -> dict[str, tuple[float, float]]:
    """Median µs per decide and per update of each player, cycling through the rows of ``X``.

    Players are timed in turn within each round, so a burst of load on the shared
    machine hits all of them alike; each sample runs about ``budget`` seconds.
    """
    n, state = X.shape[0], {"t": 0}
    calls: dict[tuple[str, int], tuple[Callable[[], Any], int]] = {}
    for name, (decide, update) in players.items():
        def one_decide(decide: Decide = decide) -> None:
            t = state["t"] = (state["t"] + 1) % n
            decide(X[t], t)

        def one_update(update: Update = update) -> None:
            t = state["t"] = (state["t"] + 1) % n
            update(X[t], t, arms[t % len(arms)], float(t % 3 == 0))
        pair: tuple[Callable[[], Any], Callable[[], Any]] = (one_decide, one_update)
        for kind, fn in enumerate(pair):
            per_call = _harness.per_call_us(fn, calls=20, rounds=1) * 1e-6
            calls[name, kind] = fn, max(20, min(5_000, int(budget / per_call)))
    samples: dict[tuple[str, int], list[float]] = {key: [] for key in calls}
    for _ in range(rounds):
        for key, (fn, count) in calls.items():
            samples[key].append(_harness.per_call_us(fn, calls=count, rounds=1))
    return {name: (statistics.median(samples[name, 0]), statistics.median(samples[name, 1]))
            for name in players}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _harness.parse_args(__doc__ or "", argv)
    n_rounds, budget = (5_000, 0.02) if args.quick else (20_000, 0.1)
    trained: dict[str, tuple[Decide, Update]] = {}
    timed = False
    started = time.perf_counter()
    env = LinearLogisticEnvironment(n_variants=5, seed=0)
    arms = env.variants
    shares: dict[str, list[float]] = {}
    decide_us: dict[str, float] = {}
    update_us: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for seed in SEEDS[args.quick]:
        rounds = env.rounds(n_rounds, seed=seed)
        shares.setdefault("uniform", []).append(float(rounds.P.mean() / rounds.oracle))
        shares.setdefault("best_single", []).append(
            float(rounds.P.mean(axis=0).max() / rounds.oracle))
        finish: list[Callable[[], None]] = []
        for name, make in _players(arms, rounds.X, finish).items():
            try:
                decide, update = make()
            except ImportError as err:
                skipped[name] = f"not installed ({err.name}); pip install .[bench]"
                continue
            shares.setdefault(name, []).append(play(rounds, arms, decide, update))
            trained.setdefault(name, (decide, update))  # the first sequence's, for timing
        if not timed:
            for name, (d_us, u_us) in timings(trained, rounds.X, arms, budget=budget).items():
                decide_us[name], update_us[name] = d_us, u_us
            timed = True
        for done in finish:
            done()
    featurizer = env.featurizer
    contexts = draw_contexts(64, np.random.default_rng(2))
    state = {"i": 0}

    def featurize() -> None:
        state["i"] = (state["i"] + 1) % len(contexts)
        featurizer.transform_one(contexts[state["i"]])
    figures: dict[str, Any] = {
        "decide_us": decide_us["linucb"],
        "update_us": update_us["linucb"],
        "decide_vs_numpy": decide_us["linucb"] / decide_us["numpy_linucb"],
        "update_vs_numpy": update_us["linucb"] / update_us["numpy_linucb"],
        "featurize_us": _harness.per_call_us(featurize, calls=int(budget * 1e5)),
        "n_features": env.featurizer.n_features_out_,
        "n_variants": len(arms),
        "rounds": n_rounds,
        "sequences": len(SEEDS[args.quick]),
        "decide_us_by_policy": {k: round(v, 2) for k, v in decide_us.items()},
        "update_us_by_policy": {k: round(v, 2) for k, v in update_us.items()},
        "reward_vs_oracle": {k: round(float(np.mean(v)), 4) for k, v in shares.items()},
        "reward_vs_oracle_range": {k: [round(min(v), 4), round(max(v), 4)]
                                   for k, v in shares.items()},
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 1),
    }
    _harness.report("bandit: µs per slot and reward as a share of the oracle's", figures,
                    as_json=args.json)
    return figures


def _players(
    arms: list[str], X: np.ndarray, finish: list[Callable[[], None]]
) -> dict[str, Callable[[], tuple[Decide, Update]]]:
    """Fresh policies for one sequence of visitors; peers that fail to import are skipped."""
    def vw() -> tuple[Decide, Update]:
        decide, update, done = vowpal_wabbit(arms, X)
        finish.append(done)
        return decide, update

    return {
        "linucb": lambda: ours(LinUCB(alpha=ALPHA, l2=L2, random_state=0), arms),
        "linucb_no_floor": lambda: ours(LinUCB(alpha=ALPHA, l2=L2, floor=0.0, random_state=0),
                                        arms),
        "thompson": lambda: ours(LinearThompson(alpha=TS_ALPHA, l2=L2, random_state=0), arms),
        "numpy_linucb": lambda: _numpy(arms, X.shape[1]),
        "mabwiser_linucb": lambda: mabwiser_linucb(arms, X),
        "vowpalwabbit": vw,
    }


def _numpy(arms: list[str], d: int) -> tuple[Decide, Update]:
    baseline = NumpyLinUCB(arms, d)
    return baseline.decide, baseline.update


if __name__ == "__main__":
    main()
