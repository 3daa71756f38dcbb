"""Differences between variants with 95 % intervals over seeds, and what those seeds can decide.

Welch's t-interval of the difference of means (unequal variances, Welch-Satterthwaite degrees of
freedom) from scipy; an interval that contains 0 is "within seed noise". Needs two or more runs
per variant (a variance); otherwise the interval is None.

A difference within seed noise is not "no difference": the seeds may be too few to see one. So
each difference with an interval also carries the smallest true difference its seeds detect (the
minimum detectable difference): the difference at which this same Welch interval excludes 0 with
:data:`POWER` = 80 % probability, two-sided at 95 %, when the seeds of both variants spread with
their pooled standard deviation. Computed for Welch's rule, not the pooled t-test's: with two or
three seeds Welch's degrees of freedom fall with the sample variances and the interval is wider
(at the pooled t-test's detectable difference, two seeds a side resolve it only 48 % of the time,
three 70 %). A difference within seed noise also says how many seeds per variant would resolve it
at that power, were the observed difference the true one and the spread the pooled one (at most
:data:`MAX_SEEDS`; beyond it, "more than 100").

Every run is scored on the same held-out task poses, so the seeds' interval of a task score holds
the poses fixed. Where every run of both variants carries its errors per pose on the same poses
(:class:`~unet1d.compare.runs.PoseErrors`), a task score's difference also carries a paired
t-interval over those poses (:func:`pose_interval`): a difference that decides needs both. One
within the poses' noise also says how many task poses would resolve it at :data:`POWER`, were it the
true mean difference per pose and the per-pose spread the one seen (:func:`poses_needed`, from the
noncentral t; at most :data:`MAX_POSES`): more task poses cost an evaluation, not a training run.
"""

from __future__ import annotations

import functools
import math
import statistics
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from unet1d.metric_registry import BY_NAME, unit_share
from unet1d.paired_interval import paired_interval

CONFIDENCE = 0.95
POWER = 0.80  # the probability that the interval excludes 0 when the true difference is the detectable one
MAX_SEEDS = 100  # seeds per variant searched for the observed difference; beyond it: "more than 100"
MAX_POSES = 10_000  # task poses searched for the observed difference (a built-in reference holds 10,000)


@dataclass
class Difference:
    """``variant`` minus ``reference`` in one column, with its interval and what the seeds can detect."""

    column: str
    variant: str
    reference: str
    difference: float
    low: float | None
    high: float | None
    pooled_std: float | None = None  # the pooled seed-to-seed standard deviation of both variants
    detectable: float | None = None  # the minimum detectable difference of these seeds (POWER, CONFIDENCE)
    seeds_needed: int | None = None  # seeds per variant resolving `difference` at POWER (within seed noise only)
    seeds_needed_more_than: int | None = None  # MAX_SEEDS when even that many would not
    pose_low: float | None = None  # a task score's paired interval over the task poses (pose_interval)
    pose_high: float | None = None
    poses: int | None = None  # how many task poses it pairs
    pose_std: float | None = None  # the standard deviation of the per-pose differences
    poses_needed: int | None = None  # task poses resolving `difference` at POWER (within pose noise only)
    poses_needed_more_than: int | None = None  # MAX_POSES when even that many would not
    # (runs with a value, runs) of the variant and of the reference: steps to common counts only the runs
    # that reached the threshold, so a difference over some of the seeds says so
    counted: tuple[int, int, int, int] | None = None

    @property
    def partial(self) -> str:
        """``" (1/2 vs 2/2 runs)"`` where a side's mean leaves runs out (they have no value), else ``""``."""
        if self.counted is None or (self.counted[0] == self.counted[1] and self.counted[2] == self.counted[3]):
            return ""
        a, n, b, m = self.counted
        return f" ({a}/{n} vs {b}/{m} runs)"

    @property
    def within_noise(self) -> bool | None:
        """True when the interval contains 0 (None without an interval)."""
        return None if self.low is None or self.high is None else self.low <= 0.0 <= self.high

    @property
    def within_pose_noise(self) -> bool | None:
        """True when the interval over the task poses contains 0 (None without one: not a task score, or
        the runs were not scored on the same poses)."""
        return None if self.pose_low is None or self.pose_high is None else self.pose_low <= 0.0 <= self.pose_high


def welch_interval(a: list[float], b: list[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Interval for mean(a) - mean(b); None when either side has fewer than two values or no spread."""
    if len(a) < 2 or len(b) < 2 or (min(a) == max(a) and min(b) == max(b)):
        return None
    with warnings.catch_warnings():  # one side without spread (all seeds at step 1000) is a valid case
        warnings.simplefilter("ignore", RuntimeWarning)
        interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
    return float(interval.low), float(interval.high)


def pooled_std(a: list[float], b: list[float]) -> float | None:
    """sqrt(((n_a - 1) s_a² + (n_b - 1) s_b²) / (n_a + n_b - 2)); None with fewer than two values a side."""
    if len(a) < 2 or len(b) < 2:
        return None
    pooled = ((len(a) - 1) * statistics.variance(a) + (len(b) - 1) * statistics.variance(b)) / (len(a) + len(b) - 2)
    return math.sqrt(pooled)


def power(difference: Any, std: float, n_a: int, n_b: int, confidence: float = CONFIDENCE) -> Any:
    """Probability that the Welch interval of ``n_a`` and ``n_b`` seeds excludes 0 when the true difference
    is ``difference`` and every seed spreads with ``std`` (normal); ``difference`` may be an array.

    The interval's centre is normal and each sample variance a scaled chi-square: the probability that
    the centre falls past the half-width, averaged over both variances (see :func:`_welch_half_widths`).
    """
    if not std > 0:
        raise ValueError(f"need a positive spread, got {std}")
    half_widths = _welch_half_widths(n_a, n_b, confidence)  # in units of std
    centre_spread = math.sqrt(1 / n_a + 1 / n_b)
    shift = np.abs(np.asarray(difference, dtype=float) / std)[..., None]
    tails = stats.norm.sf((half_widths - shift) / centre_spread) + stats.norm.sf((half_widths + shift) / centre_spread)
    return tails.mean(axis=-1)


QUADRATURE_POINTS = 100  # per variance: within 0.001 of 400,000 simulated experiments at 2 to 5 seeds


@functools.lru_cache(maxsize=64)  # 64 × 320 kB
def _welch_half_widths(n_a: int, n_b: int, confidence: float) -> Any:
    """Welch half-widths t(dof) * sqrt(s_a²/n_a + s_b²/n_b) for unit-std seeds, at QUADRATURE_POINTS²
    equally likely pairs of sample variances (each the midpoint of its share of the chi-square law)."""
    if n_a < 2 or n_b < 2:
        raise ValueError(f"need two or more seeds a side, got {n_a} and {n_b}")
    midpoints = (np.arange(QUADRATURE_POINTS) + 0.5) / QUADRATURE_POINTS
    var_a = stats.chi2.ppf(midpoints, n_a - 1) / (n_a - 1) / n_a  # s_a² / n_a
    var_b = stats.chi2.ppf(midpoints, n_b - 1) / (n_b - 1) / n_b
    var_a, var_b = np.meshgrid(var_a, var_b, indexing="ij")
    squared_error = var_a + var_b
    dof = squared_error**2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1))
    half_widths = stats.t.ppf(0.5 + confidence / 2, dof) * np.sqrt(squared_error)
    half_widths.setflags(write=False)
    return half_widths.ravel()


def detectable_difference(
    std: float, n_a: int, n_b: int, target_power: float = POWER, confidence: float = CONFIDENCE
) -> float:
    """The minimum detectable difference: the true difference that ``n_a`` and ``n_b`` seeds spreading with
    ``std`` resolve (the Welch interval at ``confidence`` excludes 0) with probability ``target_power``."""
    if not std > 0:
        raise ValueError(f"need a positive spread, got {std}")

    def shortfall(shift: float) -> float:  # in units of std
        return float(power(shift, 1.0, n_a, n_b, confidence)) - target_power

    high = 4.0 * math.sqrt(1 / n_a + 1 / n_b)  # about the normal approximation's 2.8, with room for small dof
    while shortfall(high) < 0:
        high *= 2
    return std * float(optimize.brentq(shortfall, 0.0, high, xtol=1e-10))


def seeds_needed(
    difference: float,
    std: float,
    target_power: float = POWER,
    confidence: float = CONFIDENCE,
    max_seeds: int = MAX_SEEDS,
) -> int | None:
    """The fewest seeds per variant (2 to ``max_seeds``) that resolve a true ``difference`` with spread ``std``
    at ``target_power``; None when ``max_seeds`` would not. Power rises with the seeds: a bisection."""
    return fewest(lambda seeds: float(power(difference, std, seeds, seeds, confidence)) >= target_power, max_seeds)


def fewest(enough: Callable[[int], bool], most: int) -> int | None:
    """The smallest n in 2..``most`` with ``enough(n)``, for an ``enough`` that stays true once true (power
    rises with n); None when ``enough(most)`` is false. A bisection: 1 stands for "not enough" (no interval)."""
    if not enough(most):
        return None
    low, high = 1, most
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def default_reference(variants: list[str]) -> str:
    """The variant the others are measured from: the conv middle (the reference design's), else the first by name.

    Never the order the runs were found in: a sweep's run ids are random, and the signs of every difference
    would follow them. Variant names begin with the middle (:func:`~unet1d.compare.runs.variant_name`)."""
    names = sorted(variants)
    return next((name for name in names if name.split(" ")[0].split("-")[0] == "conv"), names[0])


def differences(rows: list[Any], columns: list[str], reference: str | None = None) -> list[Difference]:
    """Every other variant against ``reference`` (default: :func:`default_reference`) in every column."""
    by_variant: dict[str, list[Any]] = {}
    for row in rows:
        by_variant.setdefault(row.variant, []).append(row)
    if not by_variant:
        return []
    reference = reference or default_reference(list(by_variant))
    found = []
    for variant, members in by_variant.items():
        if variant == reference:
            continue
        for column in columns:
            a, b = _values(members, column), _values(by_variant[reference], column)
            if not a or not b:
                continue
            difference = _difference(column, variant, reference, a, b)
            difference.counted = (len(a), len(members), len(b), len(by_variant[reference]))
            interval = pose_interval(members, by_variant[reference], column)
            if interval is not None:
                difference.pose_low, difference.pose_high, difference.poses, difference.pose_std = interval
                if difference.within_pose_noise:
                    difference.poses_needed = poses_needed(difference.difference, difference.pose_std)
                    difference.poses_needed_more_than = MAX_POSES if difference.poses_needed is None else None
            found.append(difference)
    return found


def pose_interval(
    a: list[Any], b: list[Any], column: str, confidence: float = CONFIDENCE
) -> tuple[float, float, int, float] | None:
    """(low, high, poses, std of the per-pose differences): the paired t-interval over the task poses of
    ``column``'s per-pose mean over the runs of ``a`` minus that over ``b``; None unless every run holds that
    column's errors on the same poses.

    The seeds' interval says how the score moves with training; this one how it would move with other
    held-out poses, which every run shares (a difference can be beyond one and within the other)."""
    rows = [getattr(row, "pose_errors", None) for row in [*a, *b]]
    if any(row is None or column not in row.errors for row in rows) or len({row.digest for row in rows}) != 1:
        return None
    errors = [np.asarray(row.errors[column], dtype=np.float64) for row in rows]
    if len({len(error) for error in errors}) != 1 or len(errors[0]) < 2:
        return None
    if not all(np.isfinite(error).all() for error in errors):  # a NaN interval read as "beyond pose noise"
        return None
    mean_a, mean_b = np.mean(errors[: len(a)], axis=0), np.mean(errors[len(a) :], axis=0)
    per_pose = mean_a - mean_b
    if np.ptp(per_pose) == 0:
        return None
    _, low, high = paired_interval(mean_a, mean_b, confidence)
    return low, high, len(per_pose), float(per_pose.std(ddof=1))


def paired_power(difference: float, std: float, poses: int, confidence: float = CONFIDENCE) -> float:
    """Probability that the paired t-interval of ``poses`` poses excludes 0 when the per-pose differences
    are normal with mean ``difference`` and spread ``std``: the noncentral t's mass past both critical values."""
    dof = poses - 1
    critical = stats.t.ppf(0.5 + confidence / 2, dof)
    shift = abs(difference) / std * math.sqrt(poses)
    return float(stats.nct.sf(critical, dof, shift) + stats.nct.sf(critical, dof, -shift))  # cdf(-c) is nan far out


def poses_needed(
    difference: float,
    std: float,
    target_power: float = POWER,
    confidence: float = CONFIDENCE,
    max_poses: int = MAX_POSES,
) -> int | None:
    """The fewest task poses (2 to ``max_poses``) that resolve a true mean per-pose ``difference`` with
    per-pose spread ``std`` at ``target_power``; None when ``max_poses`` would not. A bisection."""
    if not std > 0:
        raise ValueError(f"need a positive spread, got {std}")
    if difference == 0:
        return None
    return fewest(lambda poses: paired_power(difference, std, poses, confidence) >= target_power, max_poses)


def _difference(column: str, variant: str, reference: str, a: list[float], b: list[float]) -> Difference:
    found = Difference(column, variant, reference, sum(a) / len(a) - sum(b) / len(b), None, None)
    interval = welch_interval(a, b)
    if interval is None:
        return found
    found.low, found.high = interval
    metric = BY_NAME.get(column)
    if metric is not None and unit_share(metric):  # a t-interval of 2 seeds can pass +-100 points; no share can
        found.low, found.high = max(found.low, -1.0), min(found.high, 1.0)
    found.pooled_std = pooled_std(a, b)  # positive: an interval needs spread on one side at least
    found.detectable = detectable_difference(found.pooled_std, len(a), len(b))
    if found.within_noise:
        found.seeds_needed = seeds_needed(found.difference, found.pooled_std)
        found.seeds_needed_more_than = MAX_SEEDS if found.seeds_needed is None else None
    return found


def _values(rows: list[Any], column: str) -> list[float]:
    values = [getattr(row, column, None) for row in rows]
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
