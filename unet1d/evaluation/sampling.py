"""Poses from a network with a run's sampler settings: what evaluation and the training probe share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from unet1d.body.heading import random_heading
from unet1d.data.representation import network_config
from unet1d.data.up_axis import run_up_axis
from unet1d.diffusion import NoiseSchedule, sample
from unet1d.precision import autocast, sampling_precision

if TYPE_CHECKING:
    from unet1d.config import Config
    from unet1d.data import NormStats

SAMPLE_CHUNK = 512  # poses per sampling batch: bounded activations, no page-fault storms on the CPU


def sample_poses(
    network: torch.nn.Module, config: Config, stats: NormStats, num_samples: int, *, seed: int, device: torch.device
) -> np.ndarray:
    """(num_samples, D) poses in radians from ``network`` with ``config``'s sampler, reproducible by seed.

    Sampled in chunks of :data:`SAMPLE_CHUNK`, the network under the run's autocast
    (:func:`sampling_precision`); with ``data.heading=canonical`` each pose gets a uniform random
    heading about the data's up axis (the model only ever saw poses at heading 0).
    """
    schedule = NoiseSchedule.from_config(config.diffusion)
    generator = torch.Generator(device=device).manual_seed(seed)
    with autocast(sampling_precision(config, device), device):
        chunks = [
            sample(network, schedule, config.diffusion, min(SAMPLE_CHUNK, num_samples - start),
                   network_config(config).pose_dim, generator=generator, device=device).float().cpu().numpy()
            for start in range(0, num_samples, SAMPLE_CHUNK)
        ]  # fmt: skip
    poses = stats.denormalize(np.concatenate(chunks))
    if config.data.heading == "canonical":  # about the data's own up axis: poses come back in its convention
        poses = random_heading(poses, np.random.default_rng([seed, 1]), run_up_axis(config.data, stats))
    return poses
