"""Samplers: turn a trained denoiser ``model(x_t, t)`` and its schedule into samples.

Every step uses the same timestep for the whole batch, so per-step coefficients are Python
floats computed in double precision from the float64 schedule; only the batch lives in the
model's dtype. Random draws all go through ``generator`` (which must live on ``device``), so a
seed reproduces a run. Samples are in the network's standardised space, and ``prediction`` must be
what the network predicts: for a run's network ``config.diffusion.prediction`` (``v`` by default;
the functions' own default ``eps`` is a plain DDPM's). :func:`sample` takes both from the config.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from unet1d.diffusion.schedules import NoiseSchedule, check_prediction

if TYPE_CHECKING:
    from unet1d.config import DiffusionConfig

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _resolve_device(
    model: Denoiser, device: torch.device | str | None, x_T: torch.Tensor | None, generator: torch.Generator | None
) -> torch.device:
    """Explicit device, else x_T's, else the model's parameters', else the generator's, else CPU."""
    if device is not None:
        return torch.device(device)
    if x_T is not None:
        return x_T.device
    if isinstance(model, nn.Module):
        parameter = next(model.parameters(), None)
        if parameter is not None:
            return parameter.device
    if generator is not None:
        return generator.device
    return torch.device("cpu")


def _start_noise(
    shape: Sequence[int], x_T: torch.Tensor | None, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """x_T ~ N(0, I) (q(x_T) for any schedule that ends near abar = 0), or the caller's x_T."""
    if x_T is None:
        return torch.randn(tuple(shape), generator=generator, device=device)
    if tuple(x_T.shape) != tuple(shape):
        raise ValueError(f"x_T has shape {tuple(x_T.shape)}, expected {tuple(shape)}")
    return x_T.to(device)


def _timestep_batch(step: int, batch: int, device: torch.device) -> torch.Tensor:
    return torch.full((batch,), step, dtype=torch.long, device=device)


@torch.no_grad()
def ddpm_sample(
    model: Denoiser,
    schedule: NoiseSchedule,
    shape: Sequence[int],
    *,
    prediction: str = "eps",
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    x_T: torch.Tensor | None = None,
    clip_x0: float | None = None,
) -> torch.Tensor:
    """Ancestral sampling (Ho et al. 2020) through all T steps; returns (shape) samples.

    Each step draws x_{t-1} from the forward posterior q(x_{t-1} | x_t, x0 = x0_hat) with its
    variance beta_tilde_t = beta_t (1 - abar_{t-1}) / (1 - abar_t); the last step (t = 0)
    returns x0_hat without noise. ``clip_x0`` clamps x0_hat to [-clip_x0, clip_x0] first.
    """
    check_prediction(prediction)
    device = _resolve_device(model, device, x_T, generator)
    x = _start_noise(shape, x_T, generator, device)
    abar = schedule.alphas_cumprod.tolist()
    betas = schedule.betas.tolist()
    for step in reversed(range(schedule.num_timesteps)):
        t = _timestep_batch(step, x.shape[0], device)
        x0_hat, _ = schedule.split_prediction(model(x, t), x, t, prediction)
        if clip_x0 is not None:
            x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
        abar_t, abar_prev = abar[step], (abar[step - 1] if step > 0 else 1.0)
        x0_coef = math.sqrt(abar_prev) * betas[step] / (1.0 - abar_t)
        xt_coef = math.sqrt(1.0 - betas[step]) * (1.0 - abar_prev) / (1.0 - abar_t)
        x = x0_coef * x0_hat + xt_coef * x
        if step > 0:
            posterior_std = math.sqrt(betas[step] * (1.0 - abar_prev) / (1.0 - abar_t))
            x = x + posterior_std * torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype)
    return x


def ddim_timesteps(num_timesteps: int, steps: int) -> list[int]:
    """``steps`` distinct timesteps from T - 1 down to 0, evenly spaced (both ends included).

    Starting at T - 1 means the first step sees the noise level x_T really has; ending at 0
    means the last step denoises from the least noisy level. ``steps = T`` is every timestep.
    """
    if not 1 <= steps <= num_timesteps:
        raise ValueError(f"DDIM steps={steps} must be between 1 and num_timesteps={num_timesteps}")
    if steps == 1:
        return [num_timesteps - 1]
    spacing = (num_timesteps - 1) / (steps - 1)
    # floor(x + 0.5), not round(): round-half-even could map two points 1 apart to one integer.
    return [math.floor((num_timesteps - 1) - i * spacing + 0.5) for i in range(steps)]


@torch.no_grad()
def ddim_sample(
    model: Denoiser,
    schedule: NoiseSchedule,
    shape: Sequence[int],
    *,
    steps: int,
    eta: float = 0.0,
    prediction: str = "eps",
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    x_T: torch.Tensor | None = None,
    clip_x0: float | None = None,
) -> torch.Tensor:
    """DDIM (Song et al. 2021) over ``steps`` timesteps (1..T); returns (shape) samples.

    x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps_hat + sigma z, with
    sigma = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev). eta = 0 is
    deterministic given x_T; eta = 1 with steps = T is DDPM ancestral sampling. For eta > 1
    the direction term is clamped at zero (more noise than the posterior; rarely useful).
    ``clip_x0`` clamps x0_hat to [-clip_x0, clip_x0] and re-derives eps_hat from the clamped
    x0_hat, so the step stays consistent with x_t.
    """
    check_prediction(prediction)
    if eta < 0:
        raise ValueError(f"eta={eta} must be >= 0")
    timesteps = ddim_timesteps(schedule.num_timesteps, steps)
    device = _resolve_device(model, device, x_T, generator)
    x = _start_noise(shape, x_T, generator, device)
    abar = schedule.alphas_cumprod.tolist()
    for index, step in enumerate(timesteps):
        t = _timestep_batch(step, x.shape[0], device)
        x0_hat, eps_hat = schedule.split_prediction(model(x, t), x, t, prediction)
        abar_t = abar[step]
        if clip_x0 is not None:
            x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
            eps_hat = (x - math.sqrt(abar_t) * x0_hat) / math.sqrt(1.0 - abar_t)
        abar_prev = abar[timesteps[index + 1]] if index + 1 < len(timesteps) else 1.0
        sigma = eta * math.sqrt((1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev))
        direction_coef = math.sqrt(max(1.0 - abar_prev - sigma**2, 0.0))
        x = math.sqrt(abar_prev) * x0_hat + direction_coef * eps_hat
        if sigma > 0:
            x = x + sigma * torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype)
    return x


@torch.no_grad()
def dpmpp_2m_sample(
    model: Denoiser,
    schedule: NoiseSchedule,
    shape: Sequence[int],
    *,
    steps: int,
    prediction: str = "eps",
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    x_T: torch.Tensor | None = None,
    clip_x0: float | None = None,
) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022) over ``steps`` timesteps (1..T); returns (shape) samples.

    A deterministic second-order multistep solver of the probability-flow ODE in
    lambda = log(alpha / sigma), working on the data prediction x0_hat. Same timesteps and the
    same number of network calls as DDIM, but the error shrinks as 1/steps^2 instead of 1/steps,
    so 20-25 steps do what DDIM needs ~50 for. Update from lambda_s to lambda_t, h = lambda_t - lambda_s:
    x_t = (sigma_t / sigma_s) x_s - alpha_t (e^-h - 1) D, with D = x0_hat for the first step and
    D = (1 + 1/(2r)) x0_hat - 1/(2r) x0_hat_prev, r = h_prev / h, after it. The step into t = 0 is
    first order too: it is the longest in lambda (r ~ 1/3), where extrapolating D overshoots the
    spread (diffusers' ``lower_order_final`` for the same reason); one first-order step keeps the
    global order two. The last call returns x0_hat, as DDIM does, so steps <= 3 is exactly DDIM
    with eta = 0.
    ``clip_x0`` clamps each x0_hat to [-clip_x0, clip_x0] (thresholding the data prediction).
    """
    check_prediction(prediction)
    timesteps = ddim_timesteps(schedule.num_timesteps, steps)
    device = _resolve_device(model, device, x_T, generator)
    x = _start_noise(shape, x_T, generator, device)
    abar = schedule.alphas_cumprod.tolist()
    previous: tuple[torch.Tensor, float] | None = None  # (x0_hat, h) of the step before
    for index, step in enumerate(timesteps):
        t = _timestep_batch(step, x.shape[0], device)
        x0_hat, _ = schedule.split_prediction(model(x, t), x, t, prediction)
        if clip_x0 is not None:
            x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
        if index + 1 == len(timesteps):
            return x0_hat
        abar_s, abar_t = abar[step], abar[timesteps[index + 1]]
        alpha_t, sigma_s, sigma_t = math.sqrt(abar_t), math.sqrt(1.0 - abar_s), math.sqrt(1.0 - abar_t)
        h = 0.5 * (math.log(abar_t / (1.0 - abar_t)) - math.log(abar_s / (1.0 - abar_s)))
        direction = x0_hat
        if previous is not None and index + 2 < len(timesteps):
            half_inverse_r = 0.5 * h / previous[1]
            direction = (1.0 + half_inverse_r) * x0_hat - half_inverse_r * previous[0]
        x = (sigma_t / sigma_s) * x - alpha_t * math.expm1(-h) * direction
        previous = (x0_hat, h)
    return x


@contextlib.contextmanager
def evaluating(model: Denoiser) -> Iterator[None]:
    """``model`` in eval mode (BatchNorm on its running statistics, not the batch's) and every submodule's mode
    restored after; a plain callable is left as it is."""
    modes = [(module, module.training) for module in model.modules()] if isinstance(model, nn.Module) else []
    if isinstance(model, nn.Module):
        model.eval()
    try:
        yield
    finally:
        for module, was_training in modes:
            module.training = was_training


def sample(
    model: Denoiser,
    schedule: NoiseSchedule,
    cfg: DiffusionConfig,
    num_samples: int,
    pose_dim: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """(num_samples, pose_dim) samples with the run's sampler settings.

    ``cfg.sampler`` picks DDPM (all T steps; ``sample_steps`` and ``eta`` unused), DDIM
    (``sampling_steps``, ``eta``) or DPM-Solver++ 2M (``sampling_steps``; ``eta`` unused). The model
    is switched to eval mode (BatchNorm must use its running statistics, not the sample batch's)
    and every submodule's mode is restored after.
    """
    with evaluating(model):
        shape = (num_samples, pose_dim)
        if cfg.sampler == "ddpm":
            return ddpm_sample(
                model,
                schedule,
                shape,
                prediction=cfg.prediction,
                generator=generator,
                device=device,
                clip_x0=cfg.clip_x0,
            )
        if cfg.sampler == "dpmpp_2m":
            return dpmpp_2m_sample(
                model,
                schedule,
                shape,
                steps=cfg.sampling_steps,
                prediction=cfg.prediction,
                generator=generator,
                device=device,
                clip_x0=cfg.clip_x0,
            )
        return ddim_sample(
            model,
            schedule,
            shape,
            steps=cfg.sampling_steps,
            eta=cfg.eta,
            prediction=cfg.prediction,
            generator=generator,
            device=device,
            clip_x0=cfg.clip_x0,
        )
