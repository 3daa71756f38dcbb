"""Diffusion, separate from the network: schedules, the training loss, samplers, completion, EMA, validation loss.

Nothing here imports ``unet1d.model``: any ``model(x_t, t) -> prediction`` callable works.
Submodules (torch) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_exports

if TYPE_CHECKING:
    from unet1d.diffusion.completion import DEFAULT_DENOISE_METHOD, DEFAULT_METHOD, METHODS, complete, denoise, impute
    from unet1d.diffusion.ema import EMA
    from unet1d.diffusion.losses import LossOutput, diffusion_loss, min_snr_weight
    from unet1d.diffusion.samplers import ddim_sample, ddim_timesteps, ddpm_sample, dpmpp_2m_sample, sample
    from unet1d.diffusion.schedules import PREDICTIONS, NoiseSchedule, Prediction
    from unet1d.diffusion.validation import validation_loss, validation_seed, validation_sums

__getattr__, __all__ = lazy_exports(__name__, __file__)
