"""Counterfactual policies of a slot, scored on its logged decisions.

>>> result = evaluate_slot(joined.exposures, slot, featurize, bandit=engine.learner.policy("hero"))
>>> [(p.name, p.estimates["dr"].value) for p in result.policies if p.estimates]

What would the slot have earned had another policy run? Each candidate is a
target policy for :func:`personalize.policy.evaluation.evaluate` (IPS, SNIPS
and doubly robust, with bootstrap intervals), scored on the same logged
traffic. The candidates, and why each is worth a row:

- ``default`` ("Default only") — always the slot's default (the logged variant
  where the default was not eligible): the floor any personalization must beat.
  It ignores rules' pins.
- ``uniform`` ("Uniform") — a fair draw among the variants the rules and
  guardrails left: pure exploration, the baseline a learner should beat.
  It ignores rules' pins.
- ``rules`` ("Rules only") — a rule's pin where one decided, else the default:
  what the hand-written rules earn without any learning.
- ``bandit`` ("Current bandit") — the slot's bandit as it stands now, or for an
  A/B split with configured weights ``split`` ("A/B split") — those weights
  renormalised over the eligible variants. Like the engine
  (:meth:`personalize.engine.Personalizer.decide`), which never asks the bandit
  or the split when a rule pins an eligible variant, these keep a rule's pin.

Whatever the candidate, a decision a guardrail forced (source ``holdout`` or
``guardrail``: the holdout, a frequency cap's fallback, stickiness…) keeps its
logged variant: guardrails bind whatever policy runs, so those rows compare
like with like. A logged decision whose variant is not among its eligible ones,
or whose propensity is not in (0, 1], cannot be weighted and is skipped. Where
the logging was deterministic (a pin, propensity 1) a candidate that would show
something else has no support: IPS counts the row as earning nothing and DR's
reward model fills it in.

The bandit is scored on traffic it partly learned from, so its estimate is
optimistic; the dashboard says so next to it. Used by ``personalize evaluate``
(:mod:`personalize.policy.cli`), the review dashboard and ``personalize report``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..logjoin import LoggedExposure
from ..rules.model import Slot
from .base import Policy
from .evaluation import Estimate, LoggedData, TargetPolicy, evaluate

__all__ = ["FORCED_SOURCES", "METHODS", "MIN_ROWS", "Evaluation", "PolicyValue",
           "candidates", "evaluate_slot"]

#: decision sources where a guardrail, not the policy, chose the variant
FORCED_SOURCES = frozenset({"holdout", "guardrail"})
#: the decision source of a rule's pin
PINNED_SOURCE = "rule"
#: fewer logged decisions than this give no estimate
MIN_ROWS = 20
#: the estimators scored by default
METHODS = ("ips", "snips", "dr")

Featurize = Callable[[Mapping[str, Any]], np.ndarray]


@dataclass(frozen=True)
class PolicyValue:
    """One candidate policy and its estimated reward per decision.

    :param name: the candidate's key (``default``, ``uniform``, ``rules``, ``bandit``, ``split``).
    :param label: its name for people.
    :param description: what it does, in a line.
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
                  bandit: Policy | None = None, *, methods: Sequence[str] = METHODS,
                  n_bootstrap: int = 200, confidence: float = 0.95,
                  random_state: int = 0) -> Evaluation:
    """Score the default, uniform, rules-only and bandit (or split) policies of one slot.

    :param exposures: the joined log (:func:`personalize.logjoin.join`, with objectives);
        other slots are ignored.
    :param slot: the slot as the rules define it now.
    :param featurize: logged ``features`` → the vector the bandit reads
        (``engine.featurizer.transform_one``).
    :param bandit: the slot's current policy; ``None`` leaves the bandit row out
        (a split slot with weights gets its ``split`` row regardless).
    :param methods: the estimators to run.
    :param n_bootstrap: bootstrap resamples for the intervals.
    :param confidence: the intervals' coverage.
    :param random_state: seed, so the same log gives the same intervals every time.
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
    policies = [
        PolicyValue(name, label, text,
                    evaluate(log, target, methods=methods, n_bootstrap=n_bootstrap,
                             confidence=confidence, random_state=random_state))
        for name, label, text, target in candidates(usable, slot, bandit)]
    return Evaluation(slot.name, len(usable), skipped, mean, policies)


def candidates(rows: Sequence[LoggedExposure], slot: Slot, bandit: Policy | None
               ) -> list[tuple[str, str, str, TargetPolicy]]:
    """The candidate policies as ``(name, label, description, target)``, in display order.

    :param rows: the logged decisions the targets are asked about, by index.
    :param bandit: the slot's current policy; ``None`` leaves the bandit row out.
    """
    def counterfactual(choose: TargetPolicy, *, keep_pins: bool) -> TargetPolicy:
        def target(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
            source = rows[i].source
            if source in FORCED_SOURCES or (keep_pins and source == PINNED_SOURCE):
                return _one_hot(rows[i].variant, eligible)
            return choose(i, x, eligible)
        return target

    def default(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        return _one_hot(slot.default if slot.default in eligible else rows[i].variant, eligible)

    def uniform(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        return np.full(len(eligible), 1.0 / len(eligible))

    found: list[tuple[str, str, str, TargetPolicy]] = [
        ("default", "Default only", f"always '{slot.default}'",
         counterfactual(default, keep_pins=False)),
        ("uniform", "Uniform", "a fair draw among the eligible variants",
         counterfactual(uniform, keep_pins=False)),
        ("rules", "Rules only", "a rule's pin, else the default",
         counterfactual(default, keep_pins=True)),
    ]
    if slot.policy == "split" and slot.weights:
        found.append(("split", "A/B split",
                      "the configured weights over the eligible variants (a rule's pin holds)",
                      counterfactual(_weighted(slot.weights), keep_pins=True)))
    elif bandit is not None:
        model = bandit

        def learned(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
            return np.asarray(model.probabilities(x, list(eligible)), dtype=np.float64)
        found.append(("bandit", "Current bandit",
                      "the model as it stands now, a rule's pin where one decided "
                      "(optimistic: it learned from these rows)",
                      counterfactual(learned, keep_pins=True)))
    return found


def _weighted(weights: Mapping[str, float]) -> TargetPolicy:
    """The configured split weights renormalised over the eligible variants (uniform if none)."""
    def target(i: int, x: np.ndarray, eligible: Sequence[str]) -> np.ndarray:
        p = np.array([max(float(weights.get(v, 0.0)), 0.0) for v in eligible])
        total = float(p.sum())
        return p / total if total > 0 else np.full(len(eligible), 1.0 / len(eligible))
    return target


def _one_hot(arm: str, eligible: Sequence[str]) -> np.ndarray:
    return np.array([1.0 if a == arm else 0.0 for a in eligible])
