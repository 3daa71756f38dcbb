"""Sample quality while a run trains: a quick probe every ``quality_every`` steps, the full evaluation at the end.

A component beside the loop (main process only): it draws poses from the EMA weights (raw
without EMA) with the run's own sampler and scores them with :mod:`unet1d.evaluation.quality`,
the same functions and reference as ``unet1d eval``, so a sweep's runs rank on quality, not only
on loss. The reference is built on first use (a few seconds for the built-in data).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from unet1d.config import Config
    from unet1d.data import NormStats
    from unet1d.data.loading import PoseSplits
    from unet1d.evaluation.evaluate import EvalReport
    from unet1d.evaluation.quality import Reference

PROBE_SEED = 0  # the same starting noise at every probe: curves move with the weights, not the draw


def numeric(scores: dict[str, Any], prefix: str) -> dict[str, float]:
    """The scalar scores (numbers, not the per-family or per-joint tables), under ``prefix``."""
    return {f"{prefix}{k}": float(v) for k, v in scores.items() if isinstance(v, (int, float)) and v is not None}


class QualityProbe:
    """Draws and scores poses for the loop; knows the reference, the schedule and the sizes."""

    def __init__(self, config: Config, splits: PoseSplits, stats: NormStats, device: torch.device) -> None:
        self.config, self.splits, self.stats, self.device = config, splits, stats, device
        self.every = config.evaluation.quality_every
        self._reference: Reference | None = None

    @property
    def reference(self) -> Reference:
        if self._reference is None:
            from unet1d.evaluation.quality import build_reference

            self._reference = build_reference(self.config, self.splits, self.config.evaluation.eval_reference)
        return self._reference

    def due(self, step: int) -> bool:
        return self.every > 0 and step % self.every == 0

    def probe(self, network: torch.nn.Module) -> dict[str, float]:
        """``quality/*`` scalars of ``quality_samples`` poses drawn now."""
        from unet1d.evaluation.quality import score
        from unet1d.evaluation.sampling import sample_poses

        samples = sample_poses(
            network, self.config, self.stats, self.config.evaluation.quality_samples, seed=PROBE_SEED,
            device=self.device,
        )  # fmt: skip
        return numeric(score(samples, self.reference, seed=PROBE_SEED), "quality/")

    def final(self, network: torch.nn.Module, checkpoint: Path, step: int, val_loss: float | None) -> EvalReport:
        """The full evaluation of the final weights, the report `unet1d eval` would write, saved with its figure."""
        from unet1d.evaluation.evaluate import save_figure, score_network

        report, samples = score_network(
            network, self.config, self.stats, self.reference, self.config.evaluation.final_eval_samples, seed=0,
            device=self.device, checkpoint=checkpoint, step=step, weights="ema" if self.config.optim.ema else "raw",
            val_loss=val_loss if val_loss is not None else float("nan"), started=time.perf_counter(),
        )  # fmt: skip
        report.save()
        save_figure(report, samples, self.reference)
        return report
