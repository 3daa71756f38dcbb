"""Poses from a network with a run's sampler settings: what evaluation and the training probe share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from unet1d.config import Config
    from unet1d.data import NormStats

SAMPLE_CHUNK = 512  # poses per sampling batch: bounded activations, no page-fault storms on the CPU


def sample_poses(
    network: torch.nn.Module, config: Config, stats: NormStats, num_samples: int, *, seed: int, device: torch.device
) -> np.ndarray:
    """(num_samples, D) poses in radians from ``network`` with ``config``'s sampler, reproducible by seed.

    Sampled in chunks of :data:`SAMPLE_CHUNK`; with ``data.heading=canonical`` each pose gets a
    uniform random heading (the model only ever saw poses facing +z).
    """
    from unet1d.data.heading import random_heading
    from unet1d.data.representation import network_config
    from unet1d.diffusion import NoiseSchedule, sample

    schedule = NoiseSchedule.from_config(config.diffusion)
    generator = torch.Generator(device=device).manual_seed(seed)
    chunks = [
        sample(network, schedule, config.diffusion, min(SAMPLE_CHUNK, num_samples - start),
               network_config(config).pose_dim,
               generator=generator, device=device).float().cpu().numpy()
        for start in range(0, num_samples, SAMPLE_CHUNK)
    ]  # fmt: skip
    poses = stats.denormalize(np.concatenate(chunks))
    if config.data.heading == "canonical":
        poses = random_heading(poses, np.random.default_rng([seed, 1]))
    return poses
