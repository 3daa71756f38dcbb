"""`compare`'s arithmetic on constructed runs: variant mean and spread over seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unet1d.compare.runs import PoseErrors, RunRow, summarize_variants


def run(variant: str, seed: int, **numbers: float | None) -> RunRow:
    return RunRow(run=f"runs/{variant}-{seed}", variant=variant, seed=seed, final_step=100, **numbers)


def test_a_variant_reports_the_mean_and_sample_std_over_its_seeds() -> None:
    rows = [
        run("conv", 2, final_val_loss=1.2, frechet_distance=30.0, precision=0.3),
        run("attention-8", 0, final_val_loss=0.4, frechet_distance=12.0),
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
    attention = variants["attention-8"]
    assert attention.runs == 1 and attention.mean["final_val_loss"] == 0.4 and attention.std["final_val_loss"] is None
    # a cell over fewer runs than the variant has says how many: 20.0 is 2 of conv's 3
    assert conv.counted["frechet_distance"] == 2 and conv.cell("frechet_distance", "{:.1f}") == "20.0 ± 14.1 (2/3)"
    assert conv.cell("final_val_loss", "{:.1f}") == "0.8 ± 0.4" and conv.cell("wall_time_s", "{:.1f}") == "-"


def test_variant_statistics_match_numpy_on_many_seeds() -> None:
    values = np.random.default_rng(3).lognormal(size=(7, 2))
    rows = [run("conv", seed, final_train_loss=a, samples_per_s=b) for seed, (a, b) in enumerate(values)]
    (conv,) = summarize_variants(rows)
    for column, column_values in zip(["final_train_loss", "samples_per_s"], values.T, strict=True):
        assert conv.mean[column] == pytest.approx(np.mean(column_values), rel=1e-12)
        assert conv.std[column] == pytest.approx(np.std(column_values, ddof=1), rel=1e-12)


def test_pose_errors_come_from_an_evaluation_that_has_them_whole() -> None:
    evaluation = {"task_poses_digest": "abc", "task_errors": {"completion_cm": [1, 2.5], "trunk": "cut"}}
    assert PoseErrors.of(evaluation) == PoseErrors("abc", {"completion_cm": [1.0, 2.5]})
    assert PoseErrors.of({"task_errors": {"completion_cm": [1.0]}}) is None  # no digest: cannot pair
    assert PoseErrors.of({"task_poses_digest": "abc", "task_errors": [1.0]}) is None
    assert PoseErrors.of({}) is None  # written before per-pose errors, or task scores off
