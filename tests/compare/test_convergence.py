"""Convergence on one scale: every run is timed to the same val-loss threshold (the worst variant's
mean final val loss), in steps and in seconds from its first TensorBoard event."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.run_folders import make_run
from unet1d.compare.convergence import common_threshold, time_to_threshold
from unet1d.compare.runs import compare_runs
from unet1d.store.curves import Curves


def val_curve(start: float, values: list[float], every: int = 10, seconds_per_step: float = 2.0):
    """val/loss at steps 0, every, 2 every, ... with wall time ``start + seconds_per_step * step``."""
    return [(i * every, start + seconds_per_step * i * every, v) for i, v in enumerate(values)]


def test_time_to_threshold_counts_from_the_first_event_of_any_tag() -> None:
    curves = Curves({"train/loss": [(1, 95.0, 2.0)], "val/loss": val_curve(100.0, [1.0, 0.6, 0.44, 0.3])})
    assert curves.start_time == 95.0
    assert time_to_threshold(curves, 0.45) == (20, 100.0 + 40.0 - 95.0)
    assert time_to_threshold(curves, 0.6) == (10, 25.0)  # at the threshold counts
    assert time_to_threshold(curves, 0.1) == (None, None)  # never reached
    assert time_to_threshold(Curves(), 0.5) == (None, None)  # no TensorBoard at all


def test_compare_times_every_run_to_the_worst_variants_mean_final_loss(tmp_path: Path) -> None:
    conv = {"seed0": [1.0, 0.6, 0.4], "seed1": [1.0, 0.7, 0.5]}  # final mean 0.45: the worst variant
    attention = {"seed0": [1.0, 0.44, 0.3], "seed1": [1.0, 0.5, 0.46, 0.4]}  # final mean 0.35
    for mid, curves in (("conv", conv), ("attention-2", attention)):
        for name, values in curves.items():
            make_run(
                tmp_path / f"{mid}-{name}", "--mid", mid, "--seed", name[-1], "--max_steps", "20",
                summary={"val_loss": values[-1]},
                scalars={"train/loss": [(1, 50.0, 2.0)], "val/loss": val_curve(60.0, values)},
            )  # fmt: skip

    rows, variants = compare_runs([tmp_path])

    threshold = max((0.4 + 0.5) / 2, (0.3 + 0.4) / 2)
    assert common_threshold(rows) == pytest.approx(threshold)
    got = {Path(r.run).name: (r.steps_to_common, r.seconds_to_common) for r in rows}
    # first validation at or below 0.45, seconds = 60 + 2 * step - 50 (the train/loss event came first)
    assert got == {
        "conv-seed0": (20, pytest.approx(50.0)),
        "conv-seed1": (None, None),  # 0.5 at the end: never reached
        "attention-2-seed0": (10, pytest.approx(30.0)),
        "attention-2-seed1": (30, pytest.approx(70.0)),
    }
    by_variant = {v.variant: v for v in variants}
    assert by_variant["attention-2"].mean["steps_to_common"] == pytest.approx(20.0)
    assert by_variant["conv"].mean["steps_to_common"] == 20.0 and by_variant["conv"].std["steps_to_common"] is None


def test_a_run_reaches_a_threshold_that_is_its_own_final_loss_though_tensorboard_rounds_it_up(tmp_path: Path) -> None:
    """summary.json holds float64, TensorBoard float32: 0.95955447865 read back as 0.9595544934, above itself, and
    the worst variant's only run "never reached" its own final loss (walk G)."""
    final = 0.9595544786570827
    assert float(np.float32(final)) > final  # TensorBoard's value of it rounds up
    for name, mid, last in (("conv", "conv", final), ("attention", "attention-2", 0.5)):
        make_run(tmp_path / name, "--mid", mid, "--max_steps", "20", summary={"val_loss": last},
                 scalars={"val/loss": val_curve(60.0, [1.2, 1.0, last])})  # fmt: skip
    rows, _ = compare_runs([tmp_path])
    conv = next(row for row in rows if Path(row.run).name == "conv")
    assert conv.steps_to_common == 20 and conv.best_val_loss <= conv.final_val_loss
