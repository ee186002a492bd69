"""Classic A/B splits: sticky weighted assignment by hash, and their report.

>>> assign("3f2a9c", "hero", {"default": 1, "calm": 1}, ["default", "calm"], salt="2024-spring")
('default', 0.5)
>>> report = split_report({"default": 5012, "calm": 4988}, {"default": 251, "calm": 290},
...                       {"default": 1, "calm": 1})
>>> report.variants["calm"].low, report.variants["calm"].high, report.srm
(0.0519..., 0.0649..., False)

Assignment is a pure function of the visitor id, the slot and a salt, never
``random()``: the same visitor sees the same variant on every page, process and
host, and changing the salt reshuffles everyone for a new experiment. The
report gives each variant's conversion rate with a Wilson score interval (sound
for small counts and rates near 0 or 1, where the normal interval is not) and a
sample-ratio-mismatch check: a chi-square goodness-of-fit test of the observed
counts against the weights. A mismatch (p < 0.001) means the split is broken
(bots, redirects, caching), so no conversion figure should be trusted.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from scipy.special import chdtrc

from ..buckets import position
from ..exceptions import ConfigError

__all__ = ["SRM_THRESHOLD", "SampleRatioMismatch", "SplitReport", "VariantStats", "assign",
           "bucket", "split_report", "wilson_interval"]

SRM_THRESHOLD = 0.001
"""p-value below which the sample ratio is called a mismatch."""


class SampleRatioMismatch(UserWarning):
    """The observed split differs from the configured weights beyond chance."""


def bucket(visitor_id: str, slot: str, salt: str) -> float:
    """A uniform number in [0, 1) fixed by the visitor, slot and salt.

    :param visitor_id: the random visitor id from the cookie.
    :param slot: the slot name, so a visitor's slots are split independently.
    :param salt: the experiment's salt; a new salt reshuffles all visitors.
    """
    return position(salt, slot, visitor_id)


def assign(
    visitor_id: str,
    slot: str,
    weights: Mapping[str, float],
    eligible: Sequence[str],
    salt: str,
) -> tuple[str, float]:
    """The variant a visitor sees in a slot, and the probability it had.

    The eligible variants share [0, 1) in the order of ``weights`` (the
    configuration's order, so assignments do not move when a caller lists them
    differently), each in proportion to its weight. When rules make a variant
    ineligible, its share goes to the others and some visitors move.

    :param visitor_id: the random visitor id.
    :param slot: the slot name.
    :param weights: every variant's weight (non-negative).
    :param eligible: the variants the rules allow now; each must have a weight.
    :param salt: the experiment's salt.
    """
    allowed = set(eligible)
    unknown = allowed.difference(weights)
    if unknown:
        raise ConfigError("weights", f"expected a weight for every eligible variant, got none "
                          f"for {sorted(unknown)!r}; add them to the split's weights")
    shares = [(v, float(w)) for v, w in weights.items() if v in allowed]
    if any(not (w >= 0.0 and math.isfinite(w)) for _, w in shares):
        raise ConfigError("weights", f"expected finite weights >= 0, got {dict(weights)!r}")
    total = sum(w for _, w in shares)
    if total <= 0.0:
        raise ConfigError("weights", f"expected a positive total weight over {list(eligible)!r}, "
                          f"got {dict(weights)!r}")
    target = bucket(visitor_id, slot, salt) * total
    edge = 0.0
    for variant, weight in shares:
        edge += weight
        if target < edge and weight > 0.0:
            return variant, weight / total
    variant, weight = next((v, w) for v, w in reversed(shares) if w > 0.0)
    return variant, weight / total  # rounding put the target on the last edge


@dataclass(frozen=True)
class VariantStats:
    """One variant's exposures, conversions, rate and its confidence interval."""

    variant: str
    count: int
    successes: int
    rate: float
    low: float
    high: float
    expected_share: float
    observed_share: float


@dataclass(frozen=True)
class SplitReport:
    """Per-variant rates and the sample-ratio-mismatch test of the whole split.

    :param srm_p_value: p-value of the chi-square test of counts against weights.
    :param srm: whether ``srm_p_value`` is below :data:`SRM_THRESHOLD`.
    """

    variants: dict[str, VariantStats]
    chi_square: float
    srm_p_value: float
    srm: bool
    confidence: float


def wilson_interval(successes: int, count: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a binomial rate (``(0, 1)`` when ``count`` is 0).

    :param successes: number of successes.
    :param count: number of trials.
    :param confidence: coverage of the interval, e.g. 0.95.
    """
    if count == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / count
    centre = (p + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return max(0.0, centre - half), min(1.0, centre + half)


def split_report(
    counts: Mapping[str, int],
    successes: Mapping[str, int],
    weights: Mapping[str, float],
    *,
    confidence: float = 0.95,
) -> SplitReport:
    """Conversion rates per variant and a sample-ratio-mismatch check.

    Warns :class:`SampleRatioMismatch` when the check fails.

    :param counts: visitors (or exposures) per variant.
    :param successes: conversions per variant (missing means 0).
    :param weights: the configured weights the counts should follow.
    :param confidence: coverage of the rate intervals.
    """
    variants = [v for v in weights if weights[v] > 0]
    stray = set(counts).difference(variants)
    if stray:
        raise ConfigError("counts", f"expected counts only for variants with a positive weight, "
                          f"got counts for {sorted(stray)!r}")
    total_weight = sum(weights[v] for v in variants)
    n = sum(counts.get(v, 0) for v in variants)
    stats: dict[str, VariantStats] = {}
    chi_square = 0.0
    for v in variants:
        count, won = counts.get(v, 0), successes.get(v, 0)
        if not 0 <= won <= count:
            raise ConfigError("successes", f"expected 0 <= successes <= count for {v!r}, "
                              f"got {won} of {count}")
        share = weights[v] / total_weight
        expected = n * share
        if expected > 0:
            chi_square += (count - expected) ** 2 / expected
        low, high = wilson_interval(won, count, confidence)
        stats[v] = VariantStats(v, count, won, won / count if count else 0.0, low, high,
                                share, count / n if n else 0.0)
    p_value = float(chdtrc(len(variants) - 1, chi_square)) if len(variants) > 1 and n else 1.0
    srm = p_value < SRM_THRESHOLD
    if srm:
        observed = {v: s.count for v, s in stats.items()}
        warnings.warn(SampleRatioMismatch(
            f"sample ratio mismatch: counts {observed} do not follow weights {dict(weights)} "
            f"(chi-square {chi_square:.1f}, p = {p_value:.2g}); look for bots, redirects or "
            "caching that treat variants differently before reading the rates"), stacklevel=2)
    return SplitReport(stats, chi_square, p_value, srm, confidence)
