"""The denoising training objective, with optional min-SNR-gamma weighting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from unet1d.diffusion.schedules import NoiseSchedule, check_prediction


@dataclass
class LossOutput:
    """loss: scalar to backpropagate (mean of weighted per-sample losses); per_sample: (B,)
    unweighted MSE per sample, detached, for per-timestep logging; t: (B,) long timesteps used."""

    loss: torch.Tensor
    per_sample: torch.Tensor
    t: torch.Tensor


def min_snr_weight(snr: torch.Tensor, gamma: float, prediction: str) -> torch.Tensor:
    """Min-SNR-gamma loss weights (Hang et al. 2023) for one parametrisation; snr (B,) -> (B,).

    The paper's weight min(SNR, gamma) applies to the x0-space error ||x0 - x0_hat||^2. The
    same error measured in another parametrisation is a fixed multiple of it:
    ||eps - eps_hat||^2 = SNR ||x0 - x0_hat||^2 and ||v - v_hat||^2 = (SNR + 1) ||x0 - x0_hat||^2,
    so the weights divide by those factors.
    """
    check_prediction(prediction)
    clipped = snr.clamp(max=gamma)
    if prediction == "x0":
        return clipped
    if prediction == "eps":
        return clipped / snr
    return clipped / (snr + 1.0)


def diffusion_loss(
    model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    *,
    prediction: str = "eps",
    min_snr_gamma: float | None = None,
    t: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> LossOutput:
    """Noise x0 (B, ...) to a random level, ask the model to undo it, and score it by MSE.

    t (B,) is drawn uniformly from [0, T) and noise ~ N(0, I) unless given; draws use
    ``generator`` (on x0's device) so a seed reproduces the batch. The MSE is computed in
    float32 even when the model runs under autocast.
    """
    check_prediction(prediction)
    batch = x0.shape[0]
    if t is None:
        t = torch.randint(0, schedule.num_timesteps, (batch,), generator=generator, device=x0.device)
    t = t.to(x0.device, torch.long)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    x_t = schedule.add_noise(x0, noise, t)
    output = model(x_t, t)
    target = schedule.target(x0, noise, t, prediction)
    if output.shape != target.shape:
        raise ValueError(f"model output has shape {tuple(output.shape)}, expected {tuple(target.shape)}")
    per_sample = (output.float() - target.float()).pow(2).reshape(batch, -1).mean(dim=1)
    if min_snr_gamma is None:
        loss = per_sample.mean()
    else:
        weights = min_snr_weight(schedule.snr(t), min_snr_gamma, prediction).to(per_sample.dtype)
        loss = (weights * per_sample).mean()
    return LossOutput(loss=loss, per_sample=per_sample.detach(), t=t)
