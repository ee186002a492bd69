"""Offline evaluation of a slot's candidate policies on its logged decisions.

>>> result = evaluate_slot(joined.exposures, slot, featurize, bandit=engine.learner.policy("hero"))
>>> [(p.name, p.estimates["dr"].value) for p in result.policies if p.estimates]

Four policies are scored on the same logged traffic with
:func:`personalize.policy.evaluation.evaluate` (IPS, SNIPS and doubly robust,
with bootstrap intervals):

- ``default`` — always the slot's default;
- ``uniform`` — a uniform pick among the variants the rules and guardrails left;
- ``rules`` — the rules alone: a rule's pin where one decided, else the default;
- ``bandit`` — the slot's bandit as it stands now (or, for an A/B split, the
  configured weights, as ``split``).

Decisions a guardrail forced (the holdout, a frequency cap's fallback,
stickiness…) stay as they were under every policy: guardrails bind whatever
policy runs, so those rows compare like with like. A logged decision whose
variant is not among its eligible ones cannot be weighted and is skipped.

The bandit is scored on traffic it partly learned from, so its estimate is
optimistic; the dashboard says so next to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...logjoin import LoggedExposure
from ...policy.base import Policy
from ...policy.evaluation import Estimate, LoggedData, TargetPolicy, evaluate
from ...rules.model import Slot

__all__ = ["FORCED_SOURCES", "MIN_ROWS", "Evaluation", "PolicyValue", "evaluate_slot"]

#: decision sources where a guardrail, not the policy, chose the variant
FORCED_SOURCES = frozenset({"holdout", "guardrail"})
#: fewer logged decisions than this give no estimate
MIN_ROWS = 20

Featurize = Callable[[Mapping[str, Any]], np.ndarray]


@dataclass(frozen=True)
class PolicyValue:
    """One candidate policy and its estimated reward per decision.

    :param estimates: method → :class:`Estimate`; empty when it could not be scored.
    """

    name: str
    label: str
    description: str
    estimates: dict[str, Estimate]


@dataclass(frozen=True)
class Evaluation:
    """A slot's offline evaluation.

    :param rows: logged decisions used.
    :param skipped: logged decisions that could not be weighted.
    :param logged_mean: the mean reward the deployed system actually earned.
    :param problem: why nothing was estimated, or ``None``.
    """

    slot: str
    rows: int
    skipped: int
    logged_mean: float | None
    policies: list[PolicyValue]
    problem: str | None = None


def evaluate_slot(exposures: Sequence[LoggedExposure], slot: Slot, featurize: Featurize,
                  bandit: Policy | None = None, *, methods: Sequence[str] = ("ips", "snips", "dr"),
                  n_bootstrap: int = 200, confidence: float = 0.95,
                  random_state: int = 0) -> Evaluation:
    """Score the default, uniform, rules-only and bandit (or split) policies of one slot.

    :param exposures: the joined log (:func:`personalize.logjoin.join`, with objectives);
        other slots are ignored.
    :param slot: the slot as the rules define it now.
    :param featurize: logged ``features`` → the vector the bandit reads
        (``engine.featurizer.transform_one``).
    :param bandit: the slot's current policy; ``None`` leaves the bandit row out.
    :param n_bootstrap: bootstrap resamples for the intervals.
    :param random_state: seed, so a page shows the same intervals on every load.
    """
    rows = [o for o in exposures if o.slot == slot.name]
    usable = [o for o in rows if o.variant in o.eligible and 0.0 < o.propensity <= 1.0]
    skipped = len(rows) - len(usable)
    mean = float(np.mean([o.reward for o in usable])) if usable else None
    if len(usable) < MIN_ROWS:
        return Evaluation(slot.name, len(usable), skipped, mean, [],
                          f"{len(usable)} usable logged decisions; at least {MIN_ROWS} are "
                          "needed for an estimate")
    X = np.vstack([featurize(o.features) for o in usable])
    log = LoggedData(X, [list(o.eligible) for o in usable], [o.variant for o in usable],
                     np.array([o.propensity for o in usable]),
                     np.array([o.reward for o in usable]))
    candidates = _candidates(usable, slot, bandit)
    policies = [
        PolicyValue(name, label, text,
                    evaluate(log, target, methods=methods, n_bootstrap=n_bootstrap,
                             confidence=confidence, random_state=random_state))
        for name, label, text, target in candidates]
    return Evaluation(slot.name, len(usable), skipped, mean, policies)


def _candidates(rows: Sequence[LoggedExposure], slot: Slot, bandit: Policy | None
                ) -> list[tuple[str, str, str, TargetPolicy]]:
    def guarded(choose: TargetPolicy) -> TargetPolicy:
        def target(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
            if rows[i].source in FORCED_SOURCES:
                return _one_hot(rows[i].variant, eligible)
            return choose(i, x, eligible)
        return target

    def default(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        return _one_hot(slot.default if slot.default in eligible else rows[i].variant, eligible)

    def uniform(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        return np.full(len(eligible), 1.0 / len(eligible))

    def rules(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        if rows[i].source == "rule":
            return _one_hot(rows[i].variant, eligible)
        return default(i, x, eligible)

    found: list[tuple[str, str, str, TargetPolicy]] = [
        ("default", "Default only", f"always '{slot.default}'", guarded(default)),
        ("uniform", "Uniform", "a fair draw among the eligible variants", guarded(uniform)),
        ("rules", "Rules only", "a rule's pin, else the default", guarded(rules)),
    ]
    if slot.policy == "split" and slot.weights:
        found.append(("split", "A/B split", "the configured weights over the eligible variants",
                      guarded(_weighted(slot.weights))))
    elif bandit is not None:
        def learned(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
            return np.asarray(bandit.probabilities(x, list(eligible)), dtype=np.float64)
        found.append(("bandit", "Current bandit",
                      "the model as it stands now (optimistic: it learned from these rows)",
                      guarded(learned)))
    return found


def _weighted(weights: Mapping[str, float]) -> TargetPolicy:
    def target(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        p = np.array([max(float(weights.get(v, 0.0)), 0.0) for v in eligible])
        return p / p.sum() if p.sum() > 0 else np.full(len(eligible), 1.0 / len(eligible))
    return target


def _one_hot(arm: str, eligible: Sequence[str]) -> np.ndarray:
    return np.array([1.0 if a == arm else 0.0 for a in eligible])
