"""The paired t-interval: the mean difference of two scores over the same items (poses), with its interval.

One implementation for the evaluation (model against each baseline, :mod:`unet1d.evaluation.tasks`) and
for `compare` (one variant against another, :mod:`unet1d.compare.stats`). The t quantile is computed
here rather than by scipy.stats, whose import costs every evaluation a second; numpy and math only.
"""

from __future__ import annotations

import math

import numpy as np

CONFIDENCE = 0.95


def t_quantile(probability: float, dof: int) -> float:
    """Student's t quantile of ``probability`` (0.5 to 1) at integer ``dof`` >= 1.

    The exact finite series of P(|T| <= t) in theta = arctan(t / sqrt(dof)) (Abramowitz & Stegun 26.7.3),
    inverted by bisection on theta. scipy.stats would add a second of import to every evaluation.
    """
    central = 2 * probability - 1

    def central_mass(theta: float) -> float:
        cos, sin = math.cos(theta), math.sin(theta)
        if dof == 1:
            return 2 * theta / math.pi
        odd = dof % 2
        term = total = cos if odd else 1.0  # the series' first term: cos(theta) (odd dof), 1 (even)
        for k in range((dof - 2 - odd) // 2):  # each next term: cos² times a ratio of odd and even numbers
            term *= cos * cos * ((2 * k + 2) / (2 * k + 3) if odd else (2 * k + 1) / (2 * k + 2))
            total += term
        return 2 / math.pi * (theta + sin * total) if odd else sin * total

    low, high = 0.0, math.pi / 2
    for _ in range(80):  # the bracket halves each time: far below a float's spacing
        middle = (low + high) / 2
        low, high = (middle, high) if central_mass(middle) < central else (low, middle)
    return math.sqrt(dof) * math.tan((low + high) / 2)


def paired_interval(model: np.ndarray, baseline: np.ndarray, confidence: float = CONFIDENCE) -> list[float | None]:
    """[difference, low, high]: the mean of ``model - baseline`` over the same poses (N,) with its paired
    t-interval (N - 1 degrees of freedom); low and high are None with one pose (no spread to read)."""
    differences = np.asarray(model, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    mean = float(differences.mean())
    if len(differences) < 2:
        return [mean, None, None]
    spread = differences.std(ddof=1) / math.sqrt(len(differences))
    half = t_quantile(0.5 + confidence / 2, len(differences) - 1) * spread
    return [mean, float(mean - half), float(mean + half)]
