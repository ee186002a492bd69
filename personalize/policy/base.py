"""The contract every policy follows (scikit-learn estimator conventions).

``__init__`` stores keyword hyperparameters only; :meth:`partial_fit` validates,
sets up on first use and returns ``self``; learned state ends in ``_``;
randomness comes from ``random_state``. Arms are variant ids (strings); a policy
only ever chooses among the arms it is handed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Choice:
    """A policy's pick: the arm, the probability it had, and every arm's probability."""

    arm: str
    propensity: float
    probabilities: dict[str, float]


class Policy(ABC):
    """Base of LinUCB and linear Thompson sampling."""

    @abstractmethod
    def partial_fit(
        self, X: np.ndarray, arms: Sequence[str], rewards: Sequence[float]
    ) -> Policy:
        """Learn from rows ``X`` (n × d), the arm each row was shown, and its reward."""

    def fit(self, X: np.ndarray, arms: Sequence[str], rewards: Sequence[float]) -> Policy:
        """Forget what was learned, then learn from these rows."""
        self.reset()
        return self.partial_fit(X, arms, rewards)

    @abstractmethod
    def reset(self) -> None:
        """Drop all learned state."""

    @abstractmethod
    def probabilities(
        self, x: np.ndarray, arms: Sequence[str], *, floor: float | None = None,
        cap: float | None = None,
    ) -> np.ndarray:
        """Probability of choosing each of ``arms`` for features ``x`` (sums to 1).

        ``floor`` and ``cap`` override the policy's exploration bounds for this
        decision (a guardrail may forbid exploring, or tighten the cap).
        """

    @abstractmethod
    def choose(
        self, x: np.ndarray, arms: Sequence[str], *, floor: float | None = None,
        cap: float | None = None,
    ) -> Choice:
        """Pick one of ``arms`` for features ``x`` with its exact or estimated propensity."""

    # -- sharing statistics between workers --------------------------------
    @abstractmethod
    def pop_delta(self) -> dict[str, dict[str, np.ndarray]]:
        """Per arm, the additive statistics learned since the last call, then clear them."""

    @abstractmethod
    def restore_delta(self, delta: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Put back a popped delta that could not be shared, so the next sync sends it."""

    @abstractmethod
    def load_totals(self, totals: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Replace the model with the merged statistics of all workers."""

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters, as scikit-learn estimators expose them."""
        return {k: v for k, v in vars(self).items()
                if not k.endswith("_") and not k.startswith("_")}
