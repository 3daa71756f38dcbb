"""Evaluate a checkpoint: draw poses with its own sampler settings and score them against held-out data.

Everything comes from the checkpoint directory (config, normalisation statistics, weights), so
``unet1d eval runs/x`` needs no other flag. Scores are computed in the normalised pose space,
where every dimension counts equally, except joint limits, which are checked on radians.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from unet1d.evaluation import metrics
from unet1d.evaluation.compare import EVAL_DIR

if TYPE_CHECKING:
    from unet1d.training.checkpoints import EvalCheckpoint

REFERENCE_CAP = 4000  # pairwise metrics are O(N^2): cap the reference set, deterministically


@dataclass
class EvalReport:
    """Sample quality of one checkpoint; the numbers `unet1d compare` lines up."""

    checkpoint: str
    step: int
    weights: str  # "ema" or "raw"
    sampler: str
    sample_steps: int
    num_samples: int
    reference: str  # "val" or "train" (when the run held nothing out)
    val_loss: float
    frechet_distance: float
    mmd: float
    diversity_ratio: float  # mean pairwise distance, samples / reference (1 = as varied as the data)
    limit_violation_rate: float  # share of axis angles outside the joint limits
    poses_outside_limits: float  # share of poses with any angle outside
    family_coverage: float | None  # built-in data: share of families the samples reach
    family_shares: dict[str, float] | None
    sample_seconds: float

    def save(self) -> Path:
        """Write ``<run>/eval/step-N.json`` beside the run's checkpoints (where `compare` looks)."""
        out_dir = Path(self.checkpoint).parent.parent / EVAL_DIR
        out_dir.mkdir(exist_ok=True)
        path = out_dir / f"step-{self.step}.json"
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def draw_samples(
    checkpoint: EvalCheckpoint, num_samples: int, *, seed: int, device: torch.device, ema: bool = True
) -> np.ndarray:
    """(num_samples, D) poses in radians from a checkpoint (:class:`EvalCheckpoint`), reproducible by seed."""
    from unet1d.diffusion import NoiseSchedule, sample

    model = checkpoint.build_model(ema=ema, device=device)
    schedule = NoiseSchedule.from_config(checkpoint.config.diffusion)
    generator = torch.Generator(device=device).manual_seed(seed)
    normalised = sample(
        model, schedule, checkpoint.config.diffusion, num_samples, checkpoint.config.model.pose_dim,
        generator=generator, device=device,
    )  # fmt: skip
    return checkpoint.stats.denormalize(normalised.float().cpu().numpy())


def evaluate(
    path: str | Path, *, num_samples: int, seed: int = 0, device: str = "auto", ema: bool = True
) -> EvalReport:
    """Sample from the checkpoint at ``path`` (a run directory means its latest) and score the samples."""
    from accelerate import Accelerator

    from unet1d.data import joint_limit_violations, load_pose_data
    from unet1d.diffusion import NoiseSchedule
    from unet1d.training.checkpoints import load_for_eval
    from unet1d.training.validation import validation_loss

    checkpoint = load_for_eval(path)
    config = checkpoint.config
    torch_device = resolve_device(device)
    splits = load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed)
    use_val = len(splits.val) >= 2
    reference, labels = (splits.val, splits.val_labels) if use_val else (splits.train, splits.train_labels)
    pick = np.random.default_rng(seed).permutation(len(reference))[:REFERENCE_CAP]
    reference, labels = reference[pick], (labels[pick] if labels is not None else None)

    started = time.perf_counter()
    samples = draw_samples(checkpoint, num_samples, seed=seed, device=torch_device, ema=ema)
    sample_seconds = time.perf_counter() - started

    accelerator = Accelerator(cpu=torch_device.type == "cpu")
    network = checkpoint.build_model(ema=ema, device=accelerator.device)
    reference_tensor = torch.as_tensor(checkpoint.stats.normalize(reference), device=accelerator.device)
    loss = validation_loss(accelerator, network, NoiseSchedule.from_config(config.diffusion), reference_tensor, config)

    normalised_samples, normalised_reference = (
        checkpoint.stats.normalize(samples),
        checkpoint.stats.normalize(reference),
    )
    violations = joint_limit_violations(samples)
    coverage, shares = None, None
    if labels is not None and splits.family_names:
        nearest = metrics.nearest_labels(normalised_samples, normalised_reference, labels)
        coverage, share_array = metrics.family_coverage(nearest, len(splits.family_names))
        shares = {name: float(share) for name, share in zip(splits.family_names, share_array, strict=True)}
    return EvalReport(
        checkpoint=str(checkpoint.path),
        step=checkpoint.step,
        weights="ema" if ema and checkpoint.ema_weights is not None else "raw",
        sampler=config.diffusion.sampler,
        sample_steps=config.diffusion.sample_steps
        if config.diffusion.sampler == "ddim"
        else config.diffusion.num_timesteps,
        num_samples=num_samples,
        reference="val" if use_val else "train",
        val_loss=loss,
        frechet_distance=metrics.frechet_distance(normalised_samples, normalised_reference),
        mmd=metrics.mmd_rbf(normalised_samples, normalised_reference),
        diversity_ratio=metrics.mean_pairwise_distance(normalised_samples)
        / metrics.mean_pairwise_distance(normalised_reference),
        limit_violation_rate=float(violations.sum() / samples.size),
        poses_outside_limits=float((violations > 0).mean()),
        family_coverage=coverage,
        family_shares=shares,
        sample_seconds=sample_seconds,
    )
