"""Wall seconds of an evaluation's stages, so a slow `unet1d eval` says where its time went.

The stages follow each other (:meth:`StageClock.mark` closes the one that just ended), so they add
up to the evaluation's wall time; work that runs beside a stage (the classifier's folds in their
processes) is counted in the stage it ran beside, and whatever is left of it in ``classifier wait``.
"""

from __future__ import annotations

import time


class StageClock:
    """Consecutive stages' wall seconds, in the order they ended."""

    def __init__(self, started: float | None = None) -> None:
        self._last = time.perf_counter() if started is None else started  # a time.perf_counter() reading
        self.seconds: dict[str, float] = {}

    def mark(self, stage: str) -> float:
        """End ``stage`` now (it began where the previous one ended); returns its seconds (summed if repeated)."""
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now
        return self.seconds[stage]
