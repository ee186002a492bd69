"""LinUCB (Li et al., 2010): play the arm with the highest upper confidence bound.

>>> policy = LinUCB(alpha=0.25, floor=0.01, random_state=0)
>>> choice = policy.choose(x, ["calm", "upsell", "default"])
>>> policy.update(x, choice.arm, reward=1.0)

Each eligible arm scores ``θ_a·x + alpha·√(xᵀ A_a⁻¹ x)``. The greedy choice is
the highest score; ties go to the arm listed first in ``arms``, so the rule is
deterministic. With ``K`` eligible arms and exploration floor ε the probability
of each arm is then exact:

    p(a) = ε + (1 − Kε)·1[a = argmax],

and afterwards the cap (see :func:`.bounds.bound`) moves any mass above ``cap``
to the others. Until every eligible arm has ``min_observations`` observations
the choice is uniform, ``p(a) = 1/K``. Every propensity LinUCB logs is therefore
the exact probability the draw was made with.
"""

from __future__ import annotations

from .linear import LinearPolicy

__all__ = ["LinUCB"]


class LinUCB(LinearPolicy):
    """Linear upper-confidence-bound policy with exact propensities.

    :param alpha: width of the confidence bonus; 0 is greedy (the floor still explores).
    :param l2: ridge prior λ.
    :param floor: least probability of each eligible arm.
    :param cap: most probability of any eligible arm.
    :param min_observations: uniform choice until every eligible arm has this many.
    :param discount: forgetting factor γ in (0, 1].
    :param random_state: seed or :class:`numpy.random.Generator`.
    """

    def _preferences(self, mean: list[float], spread: list[float]) -> list[float]:
        alpha = self.alpha
        scores = [m + alpha * s for m, s in zip(mean, spread, strict=True)]
        best = scores.index(max(scores))  # the first of equal scores: deterministic
        greedy = [0.0] * len(scores)
        greedy[best] = 1.0
        return greedy
