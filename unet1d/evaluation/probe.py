"""Sample quality while a run trains: a quick probe every ``quality_every`` steps, the full evaluation at the end.

A component the command that builds a run hands to the training loop (main process only; see
:class:`unet1d.training.components.Probe`): it draws poses from the weights the loop gives it (the
EMA's when there is one) with the run's own sampler and scores them with
:mod:`unet1d.evaluation.quality`, the same functions and reference as ``unet1d eval``, so a
sweep's runs rank on quality, not only on loss. The reference is built on first use (a few
seconds for the built-in data).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unet1d.cadence import Every
from unet1d.data.loading import is_builtin
from unet1d.evaluation.evaluate import save_figure, score_network
from unet1d.evaluation.quality import build_reference, gaussian_verdict, score
from unet1d.evaluation.sampling import sample_poses

if TYPE_CHECKING:
    import torch

    from unet1d.config import Config
    from unet1d.data import NormStats
    from unet1d.data.loading import PoseSplits
    from unet1d.evaluation.quality import Reference

PROBE_SEED = 0  # the same starting noise at every probe: curves move with the weights, not the draw


def numeric(scores: dict[str, Any], prefix: str) -> dict[str, float]:
    """The scalar scores (numbers, not the per-family or per-joint tables), under ``prefix``."""
    return {f"{prefix}{k}": float(v) for k, v in scores.items() if isinstance(v, (int, float)) and v is not None}


@dataclass
class FinalEvaluation:
    """The end-of-training evaluation as the loop logs it (the full report is eval/step-N.json)."""

    scores: dict[str, float]
    figure: Path
    note: str


class QualityProbe:
    """Draws and scores poses for the loop; knows the reference, the schedule and the sizes."""

    def __init__(self, config: Config, splits: PoseSplits, stats: NormStats, device: torch.device) -> None:
        self.config, self.splits, self.stats, self.device = config, splits, stats, device
        self.every = Every(config.evaluation.quality_every)
        self._reference: Reference | None = None
        scoring = config.evaluation.quality_every > 0 or config.evaluation.final_eval_samples > 0
        choice = config.evaluation.eval_reference
        if scoring and (choice != "auto" or not is_builtin(config.data.data)):
            # a reference that cannot be scored against (a missing file, too few of your own poses) stops the run
            # now, not after it trained; the built-in's fresh draw is always there, and made when first needed
            self._reference = build_reference(config, splits, choice, "--eval_reference")

    @property
    def reference(self) -> Reference:
        if self._reference is None:
            choice = self.config.evaluation.eval_reference
            self._reference = build_reference(self.config, self.splits, choice, "--eval_reference")
        return self._reference

    def due(self, step: int) -> bool:
        return self.every.due(step)

    def probe(self, network: torch.nn.Module) -> dict[str, float]:
        """``quality/*`` scalars of ``quality_samples`` poses drawn now."""
        samples = sample_poses(
            network, self.config, self.stats, self.config.evaluation.quality_samples, seed=PROBE_SEED,
            device=self.device,
        )  # fmt: skip
        return numeric(score(samples, self.reference, seed=PROBE_SEED), "quality/")

    def final(
        self, network: torch.nn.Module, checkpoint: Path, step: int, val_loss: float | None
    ) -> FinalEvaluation | None:
        """The full evaluation of ``network`` (the loop passes the EMA's weights when there are), the
        report `unet1d eval` would write, saved with its figure; None when final_eval_samples is 0."""
        if self.config.evaluation.final_eval_samples == 0:
            return None
        report, samples = score_network(
            network, self.config, self.stats, self.reference, self.config.evaluation.final_eval_samples, seed=0,
            device=self.device, checkpoint=checkpoint, step=step, weights="ema" if self.config.optim.ema else "raw",
            val_loss=val_loss if val_loss is not None else float("nan"), started=time.perf_counter(),
        )  # fmt: skip
        report.save()
        figure = save_figure(report, samples, self.reference)
        payload = report.to_dict()
        beats = gaussian_verdict(payload["beats_gaussian"], payload["uninformative"])
        note = (
            f"final evaluation ({report.num_samples} poses): precision {report.scores['precision']:.3f}, recall "
            f"{report.scores['recall']:.3f}, 1-NN {report.scores['one_nn_accuracy']:.3f}, outside limits "
            f"{report.scores['poses_outside_limits_tol']:.1%}, C2ST AUC {report.scores['c2st_auc']:.3f}; {beats}"
            + (f" (verdict withheld: {report.verdict_withheld})" if report.verdict_withheld else "")
            + (
                f"; completion {report.scores['completion_cm']:.2f} cm (Gaussian "
                f"{report.baselines['gaussian']['completion_cm']:.2f}), denoising {report.scores['denoise_cm']:.2f} cm"
                if "completion_cm" in report.scores
                else ""
            )
            + f"; {report.default_path()}"
        )
        return FinalEvaluation(numeric(report.scores, ""), figure, note)
