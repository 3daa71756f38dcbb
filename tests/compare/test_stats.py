"""Welch intervals between variants, checked against the textbook formula."""

from __future__ import annotations

import math
import statistics
from types import SimpleNamespace

import pytest
from scipy import stats as scipy_stats

from unet1d.compare.stats import differences, welch_interval


def textbook_welch(a: list[float], b: list[float]) -> tuple[float, float]:
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = scipy_stats.t.ppf(0.975, dof) * math.sqrt(va + vb)
    diff = statistics.fmean(a) - statistics.fmean(b)
    return diff - half, diff + half


def test_the_interval_is_welchs() -> None:
    a, b = [0.50, 0.52, 0.49], [0.40, 0.47, 0.41, 0.44]
    assert welch_interval(a, b) == pytest.approx(textbook_welch(a, b))
    assert welch_interval([1.0], b) is None  # one seed: no variance, no interval


def test_differences_cover_every_column_and_mark_seed_noise() -> None:
    def row(variant: str, loss: float, fd: float | None) -> SimpleNamespace:
        return SimpleNamespace(variant=variant, final_val_loss=loss, frechet_distance=fd)

    rows = [row("conv", v, f) for v, f in [(0.50, 30.0), (0.51, 31.0), (0.52, 29.0)]]
    rows += [row("attention-h8", v, f) for v, f in [(0.40, 30.5), (0.41, 29.5), (0.42, 31.5)]]
    rows += [row("attention-h4", 0.45, None)]
    found = {(d.variant, d.column): d for d in differences(rows, ["final_val_loss", "frechet_distance"])}
    loss = found[("attention-h8", "final_val_loss")]
    assert loss.reference == "conv" and loss.difference == pytest.approx(-0.10)
    assert loss.within_noise is False and loss.high < 0
    assert found[("attention-h8", "frechet_distance")].within_noise is True
    assert found[("attention-h4", "final_val_loss")].within_noise is None  # one seed
    assert ("attention-h4", "frechet_distance") not in found  # no values: nothing to compare


def test_one_side_without_spread_gives_welchs_interval_without_a_warning(recwarn) -> None:
    """Every conv seed converging at step 1000 is an ordinary case: the interval is Welch's with a zero
    variance on that side (mean difference ± t * s_b / sqrt(n_b), df = n_b - 1), and nothing is printed."""
    a, b = [1000.0, 1000.0, 1000.0], [750.0, 1000.0, 1000.0]
    low, high = welch_interval(b, a)
    half = scipy_stats.t.ppf(0.975, df=2) * statistics.stdev(b) / math.sqrt(3)
    assert (low, high) == pytest.approx((statistics.mean(b) - 1000 - half, statistics.mean(b) - 1000 + half))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
