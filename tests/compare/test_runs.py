"""`compare`'s arithmetic on constructed runs and curves: variant mean and spread over seeds, convergence step."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unet1d.compare.runs import RunRow, converged_step, summarize_variants


def run(variant: str, seed: int, **numbers: float | None) -> RunRow:
    return RunRow(run=f"runs/{variant}-{seed}", variant=variant, seed=seed, final_step=100, **numbers)


def test_a_variant_reports_the_mean_and_sample_std_over_its_seeds() -> None:
    rows = [
        run("conv", 2, final_val_loss=1.2, frechet_distance=30.0, precision=0.3),
        run("attention-h8", 0, final_val_loss=0.4, frechet_distance=12.0),
        run("conv", 0, final_val_loss=0.5, frechet_distance=10.0, precision=math.nan),
        run("conv", 1, final_val_loss=0.7, frechet_distance=None, precision=0.1),
    ]
    variants = {v.variant: v for v in summarize_variants(rows)}
    conv = variants["conv"]
    assert conv.runs == 3
    assert conv.mean["final_val_loss"] == pytest.approx(0.8)  # (1.2 + 0.5 + 0.7) / 3
    assert conv.std["final_val_loss"] == pytest.approx(math.sqrt((0.4**2 + 0.3**2 + 0.1**2) / 2))  # n - 1
    assert conv.mean["frechet_distance"] == pytest.approx(20.0)  # a seed without the number is left out
    assert conv.std["frechet_distance"] == pytest.approx(math.sqrt(200.0))
    assert conv.mean["precision"] == pytest.approx(0.2)  # so is a NaN
    assert conv.mean["wall_time_s"] is None and conv.std["wall_time_s"] is None
    attention = variants["attention-h8"]
    assert attention.runs == 1 and attention.mean["final_val_loss"] == 0.4 and attention.std["final_val_loss"] is None


def test_variant_statistics_match_numpy_on_many_seeds() -> None:
    values = np.random.default_rng(3).lognormal(size=(7, 2))
    rows = [run("conv", seed, final_train_loss=a, samples_per_s=b) for seed, (a, b) in enumerate(values)]
    (conv,) = summarize_variants(rows)
    for column, column_values in zip(["final_train_loss", "samples_per_s"], values.T, strict=True):
        assert conv.mean[column] == pytest.approx(np.mean(column_values), rel=1e-12)
        assert conv.std[column] == pytest.approx(np.std(column_values, ddof=1), rel=1e-12)


def test_converged_step_on_an_exponential_curve() -> None:
    # L(s) = 0.2 + 0.8 exp(-s / 100) every 10 steps to 1000: 90% of the drop L(0) - L(1000) is made
    # once exp(-s / 100) <= 0.1 + 0.9 exp(-10), i.e. s >= 230.26, so at the first validation after it.
    curve = [(s, 0.2 + 0.8 * math.exp(-s / 100)) for s in range(0, 1001, 10)]
    threshold = -100 * math.log(0.1 + 0.9 * math.exp(-10))
    assert 230 < threshold < 240
    assert converged_step(curve) == 240
    assert converged_step(curve, fraction=0.5) == 70  # exp(-s / 100) <= 0.5 + 0.5 exp(-10): s >= 69.3


def test_converged_step_on_curves_that_rebound_or_never_improve() -> None:
    # best 0.5 after a drop of 1.5: 90% is reached at 0.65 or below, the later rebound changes nothing
    assert converged_step([(0, 2.0), (50, 1.0), (100, 0.5), (150, 1.5)]) == 100
    # a noisy curve: the first validation past the 90% mark counts, even if a later one falls back
    assert converged_step([(0, 1.0), (10, 0.05), (20, 0.5), (30, 0.0)]) == 10
    assert converged_step([(0, 1.0), (10, 1.2), (20, 1.1)]) == 0  # never below the start: converged at once
    assert converged_step([(0, 1.0)]) is None
