"""Differences between variants with 95 % intervals over seeds, and what those seeds can decide.

Welch's t-interval of the difference of means (unequal variances, Welch-Satterthwaite degrees of
freedom) from scipy; an interval that contains 0 is "within seed noise". Needs two or more runs
per variant (a variance); otherwise the interval is None.

A difference within seed noise is not "no difference": the seeds may be too few to see one. So
each difference with an interval also carries the smallest true difference its seeds detect (the
minimum detectable difference): the difference at which a two-sided pooled-variance t-test at the
same 95 % (the interval excluding 0) succeeds with :data:`POWER` = 80 % probability, from the
pooled standard deviation of both variants (noncentral t, exact for normal seed-to-seed spread).
A difference within seed noise also says how many seeds per variant would resolve it at that
power, if the true difference were the observed one and the spread stayed the pooled one (at most
:data:`MAX_SEEDS`; beyond it, "more than 100").
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

CONFIDENCE = 0.95
POWER = 0.80  # the probability that the interval excludes 0 when the true difference is the detectable one
MAX_SEEDS = 100  # seeds per variant searched for the observed difference; beyond it: "more than 100"


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

    @property
    def within_noise(self) -> bool | None:
        """True when the interval contains 0 (None without an interval)."""
        return None if self.low is None or self.high is None else self.low <= 0.0 <= self.high


def welch_interval(a: list[float], b: list[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Interval for mean(a) - mean(b); None when either side has fewer than two values or no spread."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2 or (min(a) == max(a) and min(b) == max(b)):
        return None
    with warnings.catch_warnings():  # one side without spread (all seeds at step 1000) is a valid case
        warnings.simplefilter("ignore", RuntimeWarning)
        interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
    return float(interval.low), float(interval.high)


def pooled_std(a: list[float], b: list[float]) -> float | None:
    """sqrt(((n_a - 1) s_a² + (n_b - 1) s_b²) / (n_a + n_b - 2)); None with fewer than two values a side."""
    import statistics

    if len(a) < 2 or len(b) < 2:
        return None
    pooled = ((len(a) - 1) * statistics.variance(a) + (len(b) - 1) * statistics.variance(b)) / (len(a) + len(b) - 2)
    return math.sqrt(pooled)


def power(difference: Any, std: float, n_a: Any, n_b: Any, confidence: float = CONFIDENCE) -> Any:
    """Probability that a two-sided pooled t-test at ``confidence`` rejects "no difference" (its interval
    excludes 0) when the true difference is ``difference`` and the seeds' spread ``std``, with ``n_a`` and
    ``n_b`` seeds. Noncentral t with n_a + n_b - 2 degrees of freedom; arrays broadcast."""
    import numpy as np
    from scipy import stats

    n_a, n_b = np.asarray(n_a, dtype=float), np.asarray(n_b, dtype=float)
    dof = n_a + n_b - 2
    noncentrality = np.abs(difference) / (std * np.sqrt(1 / n_a + 1 / n_b))
    critical = stats.t.ppf(0.5 + confidence / 2, dof)
    # the far tail as sf(c, dof, -ncp), equal to cdf(-c, dof, ncp): scipy's cdf returns NaN there for large ncp
    return stats.nct.sf(critical, dof, noncentrality) + stats.nct.sf(critical, dof, -noncentrality)


def detectable_difference(
    std: float, n_a: int, n_b: int, target_power: float = POWER, confidence: float = CONFIDENCE
) -> float:
    """The minimum detectable difference: the true difference that ``n_a`` and ``n_b`` seeds with spread
    ``std`` resolve (two-sided, at ``confidence``) with probability ``target_power``."""
    from scipy import optimize, stats

    if n_a < 2 or n_b < 2 or not std > 0:
        raise ValueError(f"need two or more seeds a side and a positive spread, got {n_a}, {n_b}, {std}")
    dof = n_a + n_b - 2
    scale = std * math.sqrt(1 / n_a + 1 / n_b)
    high = (stats.t.ppf(0.5 + confidence / 2, dof) + stats.t.ppf(target_power, dof)) * scale  # the usual estimate
    while power(high, std, n_a, n_b, confidence) < target_power:
        high *= 2
    return float(
        optimize.brentq(lambda d: power(d, std, n_a, n_b, confidence) - target_power, 0.0, high, xtol=1e-12 * scale)
    )


def seeds_needed(
    difference: float,
    std: float,
    target_power: float = POWER,
    confidence: float = CONFIDENCE,
    max_seeds: int = MAX_SEEDS,
) -> int | None:
    """The fewest seeds per variant (2 to ``max_seeds``) that resolve a true ``difference`` with spread ``std``
    at ``target_power``; None when ``max_seeds`` would not."""
    import numpy as np

    if not std > 0:
        raise ValueError(f"need a positive spread, got {std}")
    counts = np.arange(2, max_seeds + 1)
    enough = np.nonzero(power(difference, std, counts, counts, confidence) >= target_power)[0]
    return int(counts[enough[0]]) if enough.size else None


def differences(rows: list[Any], columns: list[str], reference: str | None = None) -> list[Difference]:
    """Every other variant against ``reference`` (default: the first variant met) in every column."""
    by_variant: dict[str, list[Any]] = {}
    for row in rows:
        by_variant.setdefault(row.variant, []).append(row)
    if not by_variant:
        return []
    reference = reference or next(iter(by_variant))
    found = []
    for variant, members in by_variant.items():
        if variant == reference:
            continue
        for column in columns:
            a, b = _values(members, column), _values(by_variant[reference], column)
            if not a or not b:
                continue
            found.append(_difference(column, variant, reference, a, b))
    return found


def _difference(column: str, variant: str, reference: str, a: list[float], b: list[float]) -> Difference:
    found = Difference(column, variant, reference, sum(a) / len(a) - sum(b) / len(b), None, None)
    interval = welch_interval(a, b)
    if interval is None:
        return found
    found.low, found.high = interval
    found.pooled_std = pooled_std(a, b)  # positive: an interval needs spread on one side at least
    found.detectable = detectable_difference(found.pooled_std, len(a), len(b))
    if found.within_noise:
        found.seeds_needed = seeds_needed(found.difference, found.pooled_std)
        found.seeds_needed_more_than = MAX_SEEDS if found.seeds_needed is None else None
    return found


def _values(rows: list[Any], column: str) -> list[float]:
    values = [getattr(row, column, None) for row in rows]
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
