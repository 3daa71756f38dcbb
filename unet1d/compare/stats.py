"""Differences between variants with 95 % intervals over seeds, for whatever columns compare holds.

Welch's t-interval of the difference of means (unequal variances, Welch-Satterthwaite degrees of
freedom) from scipy; an interval that contains 0 is "within seed noise". Needs two or more runs
per variant (a variance); otherwise the interval is None.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

CONFIDENCE = 0.95


@dataclass
class Difference:
    """``variant`` minus ``reference`` in one column, with its interval."""

    column: str
    variant: str
    reference: str
    difference: float
    low: float | None
    high: float | None

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
            interval = welch_interval(a, b)
            low, high = interval if interval else (None, None)
            found.append(Difference(column, variant, reference, sum(a) / len(a) - sum(b) / len(b), low, high))
    return found


def _values(rows: list[Any], column: str) -> list[float]:
    values = [getattr(row, column, None) for row in rows]
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
