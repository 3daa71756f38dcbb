"""Diffusion, separate from the network: noise schedules, the training loss, samplers and EMA.

Nothing here imports ``unet1d.model``: any ``model(x_t, t) -> prediction`` callable works.
"""

from unet1d.diffusion.ema import EMA
from unet1d.diffusion.losses import LossOutput, diffusion_loss, min_snr_weight
from unet1d.diffusion.samplers import ddim_sample, ddim_timesteps, ddpm_sample, dpmpp_2m_sample, sample
from unet1d.diffusion.schedules import PREDICTIONS, NoiseSchedule, Prediction

__all__ = [
    "EMA",
    "PREDICTIONS",
    "LossOutput",
    "NoiseSchedule",
    "Prediction",
    "ddim_sample",
    "ddim_timesteps",
    "ddpm_sample",
    "diffusion_loss",
    "dpmpp_2m_sample",
    "min_snr_weight",
    "sample",
]
