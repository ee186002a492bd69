"""Linear Thompson sampling (Agrawal & Goyal, 2013) with logged propensities.

>>> policy = LinearThompson(alpha=0.1, n_draws=64, random_state=0)
>>> choice = policy.choose(x, ["calm", "upsell", "default"])

Thompson sampling plays each arm with the posterior probability that it is the
best, ``θ̃_a ~ N(θ_a, alpha² A_a⁻¹)``. Only ``θ̃_a·x`` matters for a decision, and
it is normal with mean ``θ_a·x`` and standard deviation ``alpha·√(xᵀA_a⁻¹x)``; so
a draw needs one normal number per arm, not a d-dimensional sample, and no
Cholesky factor of ``A⁻¹`` has to be kept.

The probability that an arm wins has no closed form. It is estimated from
``n_draws`` = M joint draws of the arms' scores: ``p̂(a)`` is the share of draws
that ``a`` wins (ties, of probability zero, go to the first arm), with standard
error ``√(p(1 − p)/M)``: at most 0.0625 for M = 64 and 0.02 for p = 0.05. The
floor and cap are applied to ``p̂``, and :meth:`choose` then draws the arm *from
p̂*. So the propensity logged is the exact probability the arm was drawn with
(the M draws are independent of the reward, which is all inverse propensity
weighting needs); M only sets how closely the policy follows exact Thompson
sampling. Cold start is uniform, as in :class:`~personalize.policy.linucb.LinUCB`.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ConfigError
from .linear import LinearPolicy

__all__ = ["LinearThompson"]


class LinearThompson(LinearPolicy):
    """Linear Thompson sampling with Monte Carlo propensities.

    :param alpha: scale of the posterior's standard deviation.
    :param l2: ridge prior λ.
    :param floor: least probability of each eligible arm.
    :param cap: most probability of any eligible arm.
    :param min_observations: uniform choice until every eligible arm has this many.
    :param discount: forgetting factor γ in (0, 1].
    :param n_draws: M, joint posterior draws per decision to estimate the propensities.
    :param random_state: seed or :class:`numpy.random.Generator`.
    """

    def __init__(
        self,
        *,
        alpha: float = 0.1,
        l2: float = 1.0,
        floor: float = 0.01,
        cap: float = 1.0,
        min_observations: int = 20,
        discount: float = 1.0,
        n_draws: int = 64,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(alpha=alpha, l2=l2, floor=floor, cap=cap,
                         min_observations=min_observations, discount=discount,
                         random_state=random_state)
        self.n_draws = n_draws

    def _validate_params(self) -> None:
        super()._validate_params()
        if not (isinstance(self.n_draws, int) and self.n_draws >= 1):
            raise ConfigError("n_draws", f"expected an integer >= 1, got {self.n_draws!r}")

    def _preferences(self, mean: list[float], spread: list[float]) -> list[float]:
        k, m = len(mean), self.n_draws
        scores = self._standard_normals(m * k).reshape(m, k) * (np.array(spread) * self.alpha)
        scores += np.array(mean)
        wins = np.bincount(scores.argmax(axis=1), minlength=k).tolist()
        return [w / m for w in wins]
