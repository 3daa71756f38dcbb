"""The training loss: min-SNR weighting in closed form, uniform timestep draws, and a loss that falls."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from unet1d.diffusion import (
    NoiseSchedule,
    diffusion_loss,
    min_snr_weight,
)

PREDICTIONS = ["eps", "x0", "v"]
SCHEDULES = {"linear": NoiseSchedule.linear(1000), "cosine": NoiseSchedule.cosine(1000)}


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_min_snr_weights_closed_form() -> None:
    snr = torch.tensor([0.01, 1.0, 5.0, 100.0], dtype=torch.float64)
    expected = {
        "x0": [0.01, 1.0, 5.0, 5.0],  # min(SNR, gamma)
        "eps": [1.0, 1.0, 1.0, 0.05],  # min(SNR, gamma) / SNR
        "v": [0.01 / 1.01, 0.5, 5.0 / 6.0, 5.0 / 101.0],  # min(SNR, gamma) / (SNR + 1)
    }
    for prediction, weights in expected.items():
        assert torch.allclose(min_snr_weight(snr, 5.0, prediction), torch.tensor(weights, dtype=torch.float64))


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_min_snr_loss_is_the_same_x0_space_objective_for_every_prediction(prediction: str) -> None:
    """Weighted loss == mean(min(SNR, gamma) * ||x0 - x0_hat||^2) whatever the network predicts."""
    schedule, gamma = SCHEDULES["cosine"], 5.0
    x0 = torch.randn(16, 8, generator=seeded(5), dtype=torch.float64)
    noise = torch.randn(16, 8, generator=seeded(6), dtype=torch.float64)
    output = torch.randn(16, 8, generator=seeded(7), dtype=torch.float64)  # an arbitrary, wrong, "model"
    t = torch.linspace(0, 999, 16).long()

    result = diffusion_loss(
        lambda x, tt: output, schedule, x0, prediction=prediction, min_snr_gamma=gamma, t=t, noise=noise
    )
    x0_hat, _ = schedule.split_prediction(output, schedule.add_noise(x0, noise, t), t, prediction)
    x0_error = (x0_hat - x0).pow(2).mean(1)
    expected = (schedule.snr(t).clamp(max=gamma) * x0_error).mean()
    assert result.loss.item() == pytest.approx(expected.item(), rel=1e-5)

    target = schedule.target(x0, noise, t, prediction)
    assert torch.allclose(result.per_sample.double(), (output - target).pow(2).mean(1), rtol=1e-5)
    assert torch.equal(result.t, t)
    plain = diffusion_loss(lambda x, tt: output, schedule, x0, prediction=prediction, t=t, noise=noise)
    assert plain.loss.item() == pytest.approx(result.per_sample.mean().item(), rel=1e-6)


def test_diffusion_loss_draws_are_uniform_and_reproducible() -> None:
    schedule = NoiseSchedule.cosine(10)
    x0 = torch.zeros(20000, 4)
    seen = []

    def spy(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(x_t)
        return torch.zeros_like(x_t)

    first = diffusion_loss(spy, schedule, x0, generator=seeded(8))
    again = diffusion_loss(spy, schedule, x0, generator=seeded(8))
    other = diffusion_loss(spy, schedule, x0, generator=seeded(9))
    assert torch.equal(first.t, again.t) and torch.equal(seen[0], seen[1])
    assert not torch.equal(first.t, other.t)
    assert first.t.dtype == torch.long and first.loss.dim() == 0 and first.per_sample.shape == (20000,)
    counts = torch.bincount(first.t, minlength=10)
    assert counts.numel() == 10 and bool((counts - 2000).abs().max() < 250), counts  # ~5.6 sigma
    # x0 = 0 so x_t = sqrt(1 - abar) * noise: the noise must be standard normal.
    noise = seen[0] / schedule.sqrt_one_minus_alphas_cumprod[first.t].float()[:, None]
    assert abs(noise.mean().item()) < 0.01 and noise.std().item() == pytest.approx(1.0, abs=0.01)


def tiny_unet(mid_structure: str = "conv", seed: int = 0) -> nn.Module:
    from unet1d.model import UNet1D

    torch.manual_seed(seed)
    return UNet1D(pose_dim=72, base_channels=16, mid_structure=mid_structure, mid_num_heads=4)


def pose_batch(num: int = 64, seed: int = 0) -> torch.Tensor:
    """Smooth, structured stand-ins for normalised poses: a few random sinusoids per sample."""
    generator = seeded(seed)
    position = torch.linspace(0, 2 * math.pi, 72)
    freq = torch.randint(1, 4, (num, 1), generator=generator).float()
    phase = torch.rand(num, 1, generator=generator) * 2 * math.pi
    return torch.sin(freq * position + phase) + 0.1 * torch.randn(num, 72, generator=generator)


def train_steps(
    model: nn.Module, steps: int, *, prediction: str, min_snr_gamma: float | None, fixed: bool
) -> list[float]:
    """AdamW on one batch; with ``fixed`` the same (t, noise) every step. Returns the loss per step."""
    schedule = SCHEDULES["cosine"]
    x0 = pose_batch()
    t = torch.linspace(0, 999, x0.shape[0]).long()
    noise = torch.randn(x0.shape, generator=seeded(17))
    generator = seeded(18)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    model.train()
    for _ in range(steps):
        kwargs = {"t": t, "noise": noise} if fixed else {"generator": generator}
        result = diffusion_loss(model, schedule, x0, prediction=prediction, min_snr_gamma=min_snr_gamma, **kwargs)
        optimizer.zero_grad()
        result.loss.backward()
        optimizer.step()
        losses.append(result.loss.item())
    return losses


@pytest.mark.parametrize(
    ("prediction", "min_snr_gamma"),
    [("eps", None), *(pytest.param(p, 5.0, marks=pytest.mark.slow) for p in ("x0", "v", "eps"))],
)
def test_a_few_steps_on_a_fixed_batch_lower_the_loss(prediction: str, min_snr_gamma: float | None) -> None:
    losses = train_steps(tiny_unet(), 8, prediction=prediction, min_snr_gamma=min_snr_gamma, fixed=True)
    assert losses[-1] < 0.6 * losses[0], losses


@pytest.mark.slow  # a hundred steps of a small UNet: tens of seconds on a loaded CPU
@pytest.mark.parametrize("mid_structure", ["conv", "attention"])
def test_both_middle_blocks_train(mid_structure: str) -> None:
    """With fresh t and noise each step, the loss on a fixed held-out draw still falls clearly."""
    model = tiny_unet(mid_structure)
    schedule, x0 = SCHEDULES["cosine"], pose_batch(seed=1)
    held_out = {"t": torch.linspace(0, 999, 64).long(), "noise": torch.randn(64, 72, generator=seeded(19))}

    def held_out_loss() -> float:
        with torch.no_grad():  # train-mode BatchNorm: batch statistics, no dependence on running stats
            return diffusion_loss(model, schedule, x0, prediction="eps", **held_out).loss.item()

    model.train()
    before = held_out_loss()
    train_steps(model, 40, prediction="eps", min_snr_gamma=None, fixed=False)
    model.train()
    after = held_out_loss()
    assert after < 0.5 * before and after < 0.5, (before, after)  # predicting 0 would score ~1
