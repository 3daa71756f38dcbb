"""DPM-Solver++ 2M against closed forms: the exact Gaussian denoiser, the exact ODE solution, DDIM.

For Gaussian data x0 ~ N(MU, diag(SD^2)) the optimal denoiser is affine in x_t and the
probability-flow ODE is solved exactly by keeping (x_t - a_t MU) / sqrt(a_t^2 SD^2 + s_t^2)
constant, so a sampler's error can be measured, not guessed.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from unet1d.config import Config, DiffusionConfig
from unet1d.diffusion import NoiseSchedule, ddim_sample, dpmpp_2m_sample, sample

MU = torch.tensor([-2.0, -0.5, 0.0, 0.7, 1.5, 3.0], dtype=torch.float64)
SD = torch.tensor([0.5, 0.7, 1.0, 1.3, 2.0, 0.8], dtype=torch.float64)
COSINE = NoiseSchedule.cosine(1000)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def gaussian_denoiser(schedule: NoiseSchedule, prediction: str):
    """E[eps | x_t], E[x0 | x_t] or E[v | x_t] for x0 ~ N(MU, diag(SD^2)): the loss's exact minimiser."""

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        abar = schedule.alphas_cumprod[t[0]].item()
        a, s = math.sqrt(abar), math.sqrt(1 - abar)
        centred = x_t.double() - a * MU
        variance = a**2 * SD**2 + s**2
        eps, x0 = s * centred / variance, MU + a * SD**2 * centred / variance
        return {"eps": eps, "x0": x0, "v": a * eps - s * x0}[prediction].to(x_t.dtype)

    return denoise


def exact_ode_solution(schedule: NoiseSchedule, x_T: torch.Tensor) -> torch.Tensor:
    """The probability-flow ODE from t = T - 1 to t = 0, then x0_hat there: what every step count approximates."""
    abar_T, abar_0 = schedule.alphas_cumprod[-1].item(), schedule.alphas_cumprod[0].item()
    a_T, a_0 = math.sqrt(abar_T), math.sqrt(abar_0)
    z = (x_T - a_T * MU) / (a_T**2 * SD**2 + 1 - abar_T).sqrt()
    return MU + a_0 * SD**2 * z / (a_0**2 * SD**2 + 1 - abar_0).sqrt()


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_twenty_steps_recover_gaussian_data_better_than_ddim(prediction: str) -> None:
    """The mean, and a spread within 3% of the data's at 20 steps, where DDIM-20 is 6-8% narrow."""
    denoiser, num = gaussian_denoiser(COSINE, prediction), 8000
    samples = dpmpp_2m_sample(denoiser, COSINE, (num, 6), steps=20, prediction=prediction, generator=seeded(10))
    assert samples.shape == (num, 6) and samples.dtype == torch.float32
    mean, std = samples.double().mean(0), samples.double().std(0)
    assert bool(((mean - MU).abs() < 0.05 * SD).all()), (mean, MU)  # standard error 1.1% of SD
    assert bool(((std / SD - 1).abs() < 0.035).all()), std / SD  # standard error 0.8%
    ddim = ddim_sample(denoiser, COSINE, (num, 6), steps=20, prediction=prediction, generator=seeded(10)).double()
    assert bool(((std / SD - 1).abs() < (ddim.std(0) / SD - 1).abs()).all()), (std / SD, ddim.std(0) / SD)


def test_error_against_the_exact_ode_solution_falls_as_one_over_steps_squared() -> None:
    """Doubling the steps divides DPM-Solver++ 2M's error by ~4 (second order) and DDIM's by ~2 (first)."""
    x_T = torch.randn(2000, 6, generator=seeded(11), dtype=torch.float64)
    exact = exact_ode_solution(COSINE, x_T)
    denoiser = gaussian_denoiser(COSINE, "v")

    def error(sampler, steps: int) -> float:
        out = sampler(denoiser, COSINE, x_T.shape, steps=steps, prediction="v", x_T=x_T)
        return (out - exact).pow(2).mean().sqrt().item()

    dpm = [error(dpmpp_2m_sample, steps) for steps in (20, 40, 80)]
    ddim = [error(ddim_sample, steps) for steps in (20, 40, 80)]
    for coarse, fine in itertools.pairwise(dpm):
        assert 0.15 < fine / coarse < 0.36, dpm
    for coarse, fine in itertools.pairwise(ddim):
        assert 0.4 < fine / coarse < 0.6, ddim
    assert dpm[0] < 0.5 * ddim[0], (dpm, ddim)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_up_to_three_steps_it_is_ddim(steps: int) -> None:
    """First, into-t=0 and final steps are first order: with <= 3 steps that is DDIM(eta=0) exactly."""
    x_T = torch.randn(64, 6, generator=seeded(12))
    denoiser = gaussian_denoiser(COSINE, "eps")
    dpm = dpmpp_2m_sample(denoiser, COSINE, (64, 6), steps=steps, x_T=x_T)
    ddim = ddim_sample(denoiser, COSINE, (64, 6), steps=steps, x_T=x_T)
    assert torch.allclose(dpm, ddim, atol=1e-5)
    if steps == 3:
        four = dpmpp_2m_sample(denoiser, COSINE, (64, 6), steps=4, x_T=x_T)
        assert not torch.allclose(four, ddim_sample(denoiser, COSINE, (64, 6), steps=4, x_T=x_T), atol=1e-3)


def test_deterministic_given_x_T_and_clipping_bounds_a_bad_denoiser() -> None:
    x_T = torch.randn(500, 6, generator=seeded(13))
    denoiser = gaussian_denoiser(COSINE, "eps")
    first = dpmpp_2m_sample(denoiser, COSINE, (500, 6), steps=10, x_T=x_T, generator=seeded(1))
    assert torch.equal(first, dpmpp_2m_sample(denoiser, COSINE, (500, 6), steps=10, x_T=x_T, generator=seeded(2)))

    def biased(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return denoiser(x_t, t) - 3.0  # eps too low everywhere: x0_hat runs far above the data

    wild = dpmpp_2m_sample(biased, COSINE, (500, 6), steps=10, x_T=x_T)
    tamed = dpmpp_2m_sample(biased, COSINE, (500, 6), steps=10, x_T=x_T, clip_x0=6.0)
    assert wild.abs().max() > 10 and tamed.abs().max() <= 6.0 + 1e-5


def test_config_selects_it_with_any_step_count() -> None:
    """``sampler: dpmpp_2m`` goes through :func:`sample` with ``sample_steps``; more steps than T is refused."""
    cfg = DiffusionConfig(num_timesteps=100, sampler="dpmpp_2m", sample_steps=7, prediction="x0", clip_x0=None)
    schedule = NoiseSchedule.from_config(cfg)
    denoiser = gaussian_denoiser(schedule, "x0")
    via_config = sample(denoiser, schedule, cfg, 16, 6, generator=seeded(14))
    by_hand = dpmpp_2m_sample(denoiser, schedule, (16, 6), steps=7, prediction="x0", generator=seeded(14))
    assert torch.equal(via_config, by_hand)
    with pytest.raises(ValueError, match="sample_steps=101 exceeds"):
        Config.model_validate({"diffusion": {"num_timesteps": 100, "sampler": "dpmpp_2m", "sample_steps": 101}})
