"""The contextual bandit: features, linear policies, A/B splits and offline evaluation.

>>> featurizer = Featurizer().fit()
>>> policy = LinUCB(alpha=0.5, floor=0.01, random_state=0)
>>> x = featurizer.transform_one(context.features)
>>> choice = policy.choose(x, ["default", "calm", "upsell"])   # arm, exact propensity
>>> policy.update(x, choice.arm, reward)

Every policy follows :class:`~personalize.policy.base.Policy` (scikit-learn
conventions) and logs the probability of each choice, so
:func:`~personalize.policy.evaluation.evaluate` can score any policy offline.
"""

from __future__ import annotations

from .base import Choice, Policy
from .bounds import bound, sample
from .evaluation import Estimate, LoggedData, always, evaluate, from_policy, rules_only, uniform
from .features import Featurizer
from .linear import LinearPolicy
from .linucb import LinUCB
from .split import SampleRatioMismatch, SplitReport, VariantStats, assign, split_report
from .thompson import LinearThompson

__all__ = [
    "Choice", "Estimate", "Featurizer", "LinUCB", "LinearPolicy", "LinearThompson", "LoggedData",
    "Policy", "SampleRatioMismatch", "SplitReport", "VariantStats", "always", "assign", "bound",
    "evaluate", "from_policy", "rules_only", "sample", "split_report", "uniform",
]
