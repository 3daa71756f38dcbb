"""Validation loss: the same noise levels and noise every time, so curves compare across steps and runs.

It needs a network, a noise schedule and poses, nothing else: no Accelerator, no config. The
training loop shards the poses over its ranks and adds the sums (:func:`validation_sums`);
``unet1d eval`` scores a checkpoint's held-out poses in one call (:func:`validation_loss`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

import torch

from unet1d.diffusion.losses import diffusion_loss

if TYPE_CHECKING:
    from torch import nn

    from unet1d.diffusion.schedules import NoiseSchedule, Prediction

VALIDATION_SEED_OFFSET = 7_919  # keeps the validation draws apart from the training seed's
VALIDATION_CHUNK = 128  # rows per pass: only speed and memory, since every draw is made before the first pass


def validation_subset(poses: torch.Tensor, limit: int | None) -> torch.Tensor:
    """At most ``limit`` of ``poses``, evenly spaced from the first to the last (all when ``limit`` is None or
    not smaller): the held-out poses a validation scores. Spaced rather than the first ``limit``, since held-out
    poses come clip by clip and the first would be a few clips."""
    if limit is None or len(poses) <= limit:
        return poses
    return poses[torch.linspace(0, len(poses) - 1, limit, dtype=torch.float64).round().long()]


def validation_seed(train_seed: int, rank: int = 0) -> int:
    """The seed of rank ``rank``'s validation draws in a run trained with ``train_seed``."""
    return train_seed + VALIDATION_SEED_OFFSET + rank


@torch.no_grad()
def validation_sums(
    network: nn.Module,
    schedule: NoiseSchedule,
    poses: torch.Tensor,
    *,
    prediction: Prediction,
    seed: int,
    chunk: int = VALIDATION_CHUNK,
    autocast: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> torch.Tensor:
    """(2,) float64 on the poses' device: the summed unweighted denoising MSE of ``poses`` (M, D, normalised)
    and M, so ranks that each score a share add their sums before dividing.

    A CPU generator seeded afresh with ``seed`` draws every timestep and noise at once, before the first
    forward pass, so the same poses always meet the same noise whatever the run's batch size (runs that
    differ in it compare) and device (a GPU draws other numbers from one seed), and ``chunk`` rows per
    pass only bound memory: a small training batch no longer makes validation hundreds of tiny passes.
    Unweighted, so runs with different min-SNR weighting compare. Uses the network as given (raw or EMA)
    in eval mode under ``autocast()``, and restores its train mode.
    """
    generator = torch.Generator().manual_seed(seed)  # on the CPU: a GPU's draws differ from it for one seed
    timesteps = torch.randint(0, schedule.num_timesteps, (len(poses),), generator=generator).to(poses.device)
    noise = torch.randn(poses.shape, generator=generator, dtype=poses.dtype).to(poses.device)
    totals = torch.zeros(2, device=poses.device, dtype=torch.float64)
    was_training = network.training
    network.eval()
    try:
        with autocast():
            for first in range(0, len(poses), chunk):
                rows = slice(first, first + chunk)
                out = diffusion_loss(
                    network, schedule, poses[rows], prediction=prediction, t=timesteps[rows], noise=noise[rows]
                )
                count = torch.full((), float(len(out.per_sample)), device=poses.device, dtype=torch.float64)
                totals += torch.stack([out.per_sample.double().sum(), count])
    finally:
        network.train(was_training)
    return totals


def loss_from_sums(totals: torch.Tensor) -> float:
    """The mean loss of (possibly rank-summed) :func:`validation_sums`; NaN when no pose was scored."""
    loss_sum, count = totals.tolist()
    return loss_sum / count if count else float("nan")


def validation_loss(
    network: nn.Module,
    schedule: NoiseSchedule,
    poses: torch.Tensor,
    *,
    prediction: Prediction,
    seed: int,
    chunk: int = VALIDATION_CHUNK,
    autocast: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> float:
    """Mean unweighted denoising MSE over ``poses`` (M, D, normalised): :func:`validation_sums` divided out."""
    sums = validation_sums(network, schedule, poses, prediction=prediction, seed=seed, chunk=chunk, autocast=autocast)
    return loss_from_sums(sums)
