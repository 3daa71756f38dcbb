"""Validation loss: the same noise levels and noise every time, so curves compare across steps and runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from unet1d.diffusion import diffusion_loss

if TYPE_CHECKING:
    from accelerate import Accelerator
    from torch import nn

    from unet1d.config import Config
    from unet1d.diffusion import NoiseSchedule

VALIDATION_SEED_OFFSET = 7_919  # keeps the validation draws apart from the training seed's


@torch.no_grad()
def validation_loss(
    accelerator: Accelerator,
    network: nn.Module,
    schedule: NoiseSchedule,
    val: torch.Tensor,
    config: Config,
) -> float:
    """Mean unweighted denoising MSE over the (normalised) validation poses ``val`` (M, D).

    Each rank scores every ``world_size``-th pose with a generator seeded afresh, and the sums
    are added across ranks. Unweighted, so runs with different min-SNR weighting compare.
    Uses the network as given (raw or EMA) under the run's autocast; restores its train mode.
    """
    rank, world = accelerator.process_index, accelerator.num_processes
    mine = val[rank::world]
    generator = torch.Generator(device=val.device).manual_seed(config.train.seed + VALIDATION_SEED_OFFSET + rank)
    totals = torch.zeros(2, device=val.device, dtype=torch.float64)
    was_training = network.training
    network.eval()
    with accelerator.autocast():
        for batch in mine.split(config.train.batch_size):
            out = diffusion_loss(network, schedule, batch, prediction=config.diffusion.prediction, generator=generator)
            totals += torch.stack([out.per_sample.double().sum(), torch.tensor(float(len(batch)), device=val.device)])
    network.train(was_training)
    if world > 1:
        totals = accelerator.reduce(totals, "sum")
    loss_sum, count = totals.tolist()
    return loss_sum / count if count else float("nan")
