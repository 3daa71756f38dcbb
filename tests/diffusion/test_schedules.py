"""Noise schedules: closed forms, the forward marginal, prediction targets and SNR."""

from __future__ import annotations

import math

import pytest
import torch

from unet1d.config import DiffusionConfig
from unet1d.diffusion import (
    NoiseSchedule,
)

PREDICTIONS = ["eps", "x0", "v"]
SCHEDULES = {"linear": NoiseSchedule.linear(1000), "cosine": NoiseSchedule.cosine(1000)}


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_schedule_properties(name: str) -> None:
    schedule = SCHEDULES[name]
    betas, abar = schedule.betas, schedule.alphas_cumprod
    assert schedule.num_timesteps == 1000
    assert betas.dtype == abar.dtype == schedule.alphas.dtype == torch.float64
    assert bool(((betas > 0) & (betas < 1)).all())
    assert torch.allclose(schedule.alphas, 1 - betas)
    assert torch.allclose(abar, torch.cumprod(1 - betas, 0))
    assert bool((abar[1:] < abar[:-1]).all()), "abar must strictly decrease"
    assert abar[0] > 0.9999 - 1e-12
    assert abar[-1] < (1e-6 if name == "cosine" else 1e-3), "the last step must be (nearly) pure noise"


def test_linear_and_cosine_closed_forms() -> None:
    linear = NoiseSchedule.linear(1000, beta_start=1e-4, beta_end=0.02)
    assert linear.betas[0].item() == pytest.approx(1e-4) and linear.betas[-1].item() == pytest.approx(0.02)
    assert torch.allclose(linear.betas[1:] - linear.betas[:-1], torch.full((999,), 0.0199 / 999, dtype=torch.float64))

    # Nichol & Dhariwal: abar_t = f(t+1) / f(0), f(u) = cos^2((u/T + s) / (1 + s) * pi/2), until beta hits the clip.
    cosine, s, T = NoiseSchedule.cosine(1000, s=0.008), 0.008, 1000
    f = [math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2 for u in range(T + 1)]
    for t in [0, 1, 250, 500, 900, 990]:
        assert cosine.alphas_cumprod[t].item() == pytest.approx(f[t + 1] / f[0], rel=1e-9)
    assert cosine.betas.max().item() == pytest.approx(0.999)  # clipped at the end


def test_schedule_from_config() -> None:
    assert torch.equal(NoiseSchedule.from_config(DiffusionConfig(schedule="cosine")).betas, SCHEDULES["cosine"].betas)
    assert torch.allclose(
        NoiseSchedule.from_config(DiffusionConfig(schedule="linear")).betas, SCHEDULES["linear"].betas
    )
    short = NoiseSchedule.from_config(DiffusionConfig(schedule="linear", num_timesteps=100))
    assert short.num_timesteps == 100
    assert short.betas[0].item() == pytest.approx(1e-3) and short.betas[-1].item() == pytest.approx(0.2)
    assert short.alphas_cumprod[-1] < 1e-3, "fewer steps must still end at (nearly) pure noise"


@pytest.mark.parametrize("betas", [[0.1, 1.0], [0.0, 0.1], [[0.1]], []])
def test_schedule_rejects_bad_betas(betas: list) -> None:
    with pytest.raises(ValueError):
        NoiseSchedule(torch.tensor(betas, dtype=torch.float64))


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_forward_marginal_matches_closed_form(name: str) -> None:
    """Over many noise draws, x_t | x0 has mean sqrt(abar_t) x0 and variance 1 - abar_t."""
    schedule, draws = SCHEDULES[name], 20000
    x0 = torch.tensor([-2.0, -0.5, 0.0, 1.0, 3.0])
    generator = seeded(0)
    for step in [0, 100, 500, 999]:
        t = torch.full((draws,), step, dtype=torch.long)
        noise = torch.randn(draws, 5, generator=generator)
        x_t = schedule.add_noise(x0.expand(draws, 5), noise, t).double()
        abar = schedule.alphas_cumprod[step].item()
        mean_se, var_se = math.sqrt((1 - abar) / draws), (1 - abar) * math.sqrt(2 / draws)
        assert torch.allclose(x_t.mean(0), math.sqrt(abar) * x0.double(), atol=5 * mean_se + 1e-6), step
        assert torch.allclose(x_t.var(0), torch.full((5,), 1 - abar, dtype=torch.float64), atol=5 * var_se + 1e-9)


def test_add_noise_per_row_timesteps_shapes_and_dtypes() -> None:
    schedule = SCHEDULES["cosine"]
    x0, noise = torch.randn(4, 1, 6, generator=seeded(1)), torch.randn(4, 1, 6, generator=seeded(2))
    t = torch.tensor([0, 10, 500, 999])
    abar = schedule.alphas_cumprod[t].float().view(4, 1, 1)
    expected = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    assert torch.allclose(schedule.add_noise(x0, noise, t), expected, atol=1e-6)
    assert torch.allclose(schedule.add_noise(x0[:, 0], noise[:, 0], t), expected[:, 0], atol=1e-6)
    assert schedule.add_noise(x0.double(), noise.double(), t).dtype == torch.float64
    assert schedule.add_noise(x0.bfloat16(), noise.bfloat16(), t).dtype == torch.bfloat16


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_target_and_split_prediction_round_trip(prediction: str) -> None:
    """split_prediction(target) gives back exactly (x0, noise); v follows Salimans & Ho."""
    schedule = SCHEDULES["cosine"]
    x0 = torch.randn(6, 8, generator=seeded(3), dtype=torch.float64)
    noise = torch.randn(6, 8, generator=seeded(4), dtype=torch.float64)
    t = torch.tensor([0, 1, 300, 700, 998, 999])
    x_t = schedule.add_noise(x0, noise, t)
    target = schedule.target(x0, noise, t, prediction)

    a = schedule.alphas_cumprod[t].sqrt()[:, None]
    s = (1 - schedule.alphas_cumprod[t]).sqrt()[:, None]
    closed_form = {"eps": noise, "x0": x0, "v": a * noise - s * x0}[prediction]
    assert torch.allclose(target, closed_form, atol=1e-12)

    x0_hat, eps_hat = schedule.split_prediction(target, x_t, t, prediction)
    assert torch.allclose(x0_hat, x0, atol=1e-6)
    assert torch.allclose(eps_hat, noise, atol=1e-6)


def test_snr_closed_form() -> None:
    schedule = SCHEDULES["linear"]
    t = torch.tensor([0, 250, 999])
    abar = schedule.alphas_cumprod[t]
    assert torch.allclose(schedule.snr(t), abar / (1 - abar))
    assert schedule.snr(t).shape == (3,)
