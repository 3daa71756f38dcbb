"""Convergence on one scale: steps and seconds for every run to reach the same validation loss.

The one convergence measure compare keeps. A run's own 90 %-drop step (an earlier column) measured
runs against themselves: a run that stalled early "converged" early, so it ranked a worse run
first. Here every run is measured against one threshold, the worst
variant's mean final validation loss among the runs compared, which every variant reaches on
average by its end. A run gets the first validation step at or below it, and the seconds from
its first logged TensorBoard event to that validation (a resumed run's time includes the pause
between sessions). A run that never gets there has None ("-").
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from unet1d.metric_registry import VAL_LOSS
from unet1d.store.curves import Curves, read_curves


def common_threshold(rows: list[Any]) -> float | None:
    """The highest of the variants' mean final validation losses (None when no run has one)."""
    by_variant: dict[str, list[float]] = {}
    for row in rows:
        value = getattr(row, "final_val_loss", None)
        if isinstance(value, (int, float)) and math.isfinite(value):
            by_variant.setdefault(row.variant, []).append(float(value))
    return max((statistics.fmean(values) for values in by_variant.values()), default=None)


def time_to_threshold(curves: Curves, threshold: float) -> tuple[int | None, float | None]:
    """(step, seconds since the first event) of the first validation at or below ``threshold``, compared as
    TensorBoard stores values, float32: the threshold comes from summary.json's float64, and a run whose
    final loss it is read its own last point, rounded up, as never reaching it."""
    start = curves.start_time
    limit = np.float32(threshold)
    for step, wall_time, value in curves.points.get(VAL_LOSS, []):
        if np.float32(value) <= limit:
            return step, (wall_time - start if start is not None else None)
    return None, None


def add_common_convergence(rows: list[Any], read: Callable[[Path], Curves] = read_curves) -> float | None:
    """Fill ``steps_to_common`` / ``seconds_to_common`` of every row; returns the threshold used."""
    threshold = common_threshold(rows)
    for row in rows:
        step, seconds = time_to_threshold(read(Path(row.run)), threshold) if threshold is not None else (None, None)
        row.values.update(steps_to_common=step, seconds_to_common=seconds)
    return threshold
