"""The diffusion package: schedule math, loss weighting, samplers against a known optimum, EMA.

Samplers are tested with the exact optimal denoiser for Gaussian data x0 ~ N(mu, diag(sd^2)),
for which E[x0 | x_t], E[eps | x_t] and E[v | x_t] have closed forms: no training needed, and
whatever the samples get wrong is the sampler's fault.
"""

from __future__ import annotations

import ast
import io
import itertools
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from unet1d.config import DiffusionConfig
from unet1d.diffusion import (
    EMA,
    NoiseSchedule,
    ddim_sample,
    ddim_timesteps,
    ddpm_sample,
    diffusion_loss,
    min_snr_weight,
    sample,
)

PREDICTIONS = ["eps", "x0", "v"]
SCHEDULES = {"linear": NoiseSchedule.linear(1000), "cosine": NoiseSchedule.cosine(1000)}


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------- schedules


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


# ------------------------------------------------------------------------------------ losses


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


# ------------------------------------------------------------------- samplers on Gaussian data

MU = torch.tensor([-2.0, -0.5, 0.0, 0.7, 1.5, 3.0], dtype=torch.float64)
SD = torch.tensor([0.5, 0.7, 1.0, 1.3, 2.0, 0.8], dtype=torch.float64)


def gaussian_denoiser(schedule: NoiseSchedule, prediction: str):
    """The exact minimiser of the diffusion loss for x0 ~ N(MU, diag(SD^2)).

    With x_t = a x0 + s eps, V = a^2 SD^2 + s^2 and c = x_t - a MU:
    E[x0 | x_t] = MU + a SD^2 c / V, E[eps | x_t] = s c / V, E[v | x_t] = a E[eps] - s E[x0].
    Each is affine in x_t, gain * x_t + offset, so one step costs one fused op.
    """

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert t.dtype == torch.long and t.shape == (x_t.shape[0],) and bool((t == t[0]).all())
        abar = schedule.alphas_cumprod[t[0]].item()  # samplers use one timestep per batch
        a, s = math.sqrt(abar), math.sqrt(1 - abar)
        variance = a**2 * SD**2 + s**2
        eps_gain, x0_gain = s / variance, a * SD**2 / variance  # (D,) float64
        gains = {"eps": eps_gain, "x0": x0_gain, "v": a * eps_gain - s * x0_gain}
        offsets = {"eps": -a * MU * eps_gain, "x0": MU - a * MU * x0_gain}
        offsets["v"] = a * offsets["eps"] - s * offsets["x0"]
        return torch.addcmul(offsets[prediction].to(x_t.dtype), x_t, gains[prediction].to(x_t.dtype))

    return denoise


def predicted_sample_std(schedule: NoiseSchedule, timesteps: list[int], eta: float) -> torch.Tensor:
    """Std of a DDIM(eta) sampler's output with the Gaussian denoiser, propagated exactly.

    Every step is linear: x_prev - a_prev MU = A (x_t - a MU) + sigma z, so the variance obeys
    var_prev = A^2 var + sigma^2. Few-step samplers come out narrower than the data (DDIM's
    discretisation error); with all T steps they match it.
    """
    abar = schedule.alphas_cumprod.tolist()
    variance = torch.ones_like(SD)  # x_T ~ N(0, I); a_T MU is negligible
    for index, step in enumerate(timesteps):
        abar_t, abar_prev = abar[step], (abar[timesteps[index + 1]] if index + 1 < len(timesteps) else 1.0)
        sigma_sq = eta**2 * (1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)
        direction = math.sqrt(max(1 - abar_prev - sigma_sq, 0.0))
        data_variance = abar_t * SD**2 + (1 - abar_t)
        gain = (math.sqrt(abar_prev * abar_t) * SD**2 + direction * math.sqrt(1 - abar_t)) / data_variance
        variance = gain**2 * variance + sigma_sq
    return variance.sqrt()


SAMPLER_CASES = [
    # (sampler, steps, eta, prediction, schedule)
    ("ddpm", 1000, 1.0, "eps", "linear"),
    ("ddpm", 1000, 1.0, "x0", "cosine"),
    ("ddpm", 1000, 1.0, "v", "cosine"),
    ("ddim", 1000, 0.0, "eps", "cosine"),
    ("ddim", 1000, 1.0, "v", "linear"),
    ("ddim", 50, 0.0, "eps", "cosine"),
    ("ddim", 50, 0.0, "x0", "cosine"),
    ("ddim", 50, 0.0, "v", "linear"),
    ("ddim", 50, 1.0, "eps", "linear"),
    ("ddim", 50, 1.0, "x0", "cosine"),
    ("ddim", 50, 1.0, "v", "cosine"),
]


@pytest.mark.parametrize(("sampler", "steps", "eta", "prediction", "schedule_name"), SAMPLER_CASES)
def test_samplers_recover_gaussian_data(sampler: str, steps: int, eta: float, prediction: str, schedule_name: str):
    """The optimal denoiser in each sampler gives the data's mean, and the std the sampler's math predicts."""
    schedule, num = SCHEDULES[schedule_name], 8000
    denoiser = gaussian_denoiser(schedule, prediction)
    if sampler == "ddpm":
        samples = ddpm_sample(denoiser, schedule, (num, 6), prediction=prediction, generator=seeded(10))
    else:
        samples = ddim_sample(
            denoiser, schedule, (num, 6), steps=steps, eta=eta, prediction=prediction, generator=seeded(10)
        )
    assert samples.shape == (num, 6) and samples.dtype == torch.float32
    mean, std = samples.double().mean(0), samples.double().std(0)
    # Standard errors: SD / sqrt(n) = 1.1% of SD for the mean, 1 / sqrt(2n) = 0.8% for the std.
    assert bool(((mean - MU).abs() < 0.05 * SD).all()), (mean, MU)
    predicted = predicted_sample_std(schedule, ddim_timesteps(1000, steps), eta)
    assert bool(((std / predicted - 1).abs() < 0.04).all()), (std, predicted)
    if steps == 1000:  # with all steps the sampler is (nearly) exact: the data's own spread
        assert bool(((std / SD - 1).abs() < 0.05).all()), (std, SD)
    else:  # 50 steps: narrower than the data by DDIM's discretisation error, but not by much
        assert bool(((std / SD - 1).abs() < 0.15).all()), (std, SD)


def test_ddim_with_eta_one_and_all_steps_is_ddpm() -> None:
    schedule = NoiseSchedule.cosine(100)
    denoiser = gaussian_denoiser(schedule, "eps")
    x_T = torch.randn(64, 6, generator=seeded(11))
    ddpm = ddpm_sample(denoiser, schedule, (64, 6), generator=seeded(12), x_T=x_T)
    ddim = ddim_sample(denoiser, schedule, (64, 6), steps=100, eta=1.0, generator=seeded(12), x_T=x_T)
    assert torch.allclose(ddpm, ddim, atol=1e-4)
    fewer = ddim_sample(denoiser, schedule, (64, 6), steps=20, eta=1.0, generator=seeded(12), x_T=x_T)
    assert not torch.allclose(ddpm, fewer, atol=1e-2)


def test_ddim_determinism() -> None:
    schedule = NoiseSchedule.cosine(100)
    denoiser = gaussian_denoiser(schedule, "v")

    def run(x_T: torch.Tensor | None, eta: float, seed: int) -> torch.Tensor:
        return ddim_sample(
            denoiser, schedule, (32, 6), steps=10, eta=eta, prediction="v", generator=seeded(seed), x_T=x_T
        )

    x_T, other_x_T = torch.randn(32, 6, generator=seeded(13)), torch.randn(32, 6, generator=seeded(14))
    assert torch.equal(run(x_T, 0.0, 1), run(x_T, 0.0, 2)), "eta=0 must not depend on the generator"
    assert not torch.allclose(run(x_T, 0.0, 1), run(other_x_T, 0.0, 1), atol=1e-3)
    assert torch.equal(run(x_T, 0.5, 1), run(x_T, 0.5, 1))
    assert not torch.allclose(run(x_T, 0.5, 1), run(x_T, 0.5, 2), atol=1e-3)
    assert not torch.allclose(run(None, 0.0, 1), run(None, 0.0, 2), atol=1e-3), "x_T comes from the generator"


def test_ddim_timesteps() -> None:
    assert ddim_timesteps(1000, 1000) == list(range(999, -1, -1))
    assert ddim_timesteps(1000, 1) == [999]
    assert ddim_timesteps(10, 3) == [9, 5, 0]
    for total, steps in [(1000, 50), (1000, 999), (7, 6), (100, 33), (5, 2)]:
        chosen = ddim_timesteps(total, steps)
        assert len(chosen) == steps and chosen[0] == total - 1 and chosen[-1] == 0
        assert all(a > b for a, b in itertools.pairwise(chosen)), chosen
    for bad in [0, 1001]:
        with pytest.raises(ValueError):
            ddim_timesteps(1000, bad)


def test_one_step_ddim_returns_the_denoisers_x0() -> None:
    schedule = NoiseSchedule.cosine(50)
    x_T = torch.randn(8, 6, generator=seeded(15))
    out = ddim_sample(gaussian_denoiser(schedule, "x0"), schedule, (8, 6), steps=1, prediction="x0", x_T=x_T)
    expected = gaussian_denoiser(schedule, "x0")(x_T, torch.full((8,), 49))
    assert torch.allclose(out, expected, atol=1e-5)


# ------------------------------------------------------------------- with the real network


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


@pytest.mark.parametrize(("mode", "sampler"), [("train", "ddim"), ("eval", "ddpm")])
def test_sample_dispatches_uses_eval_mode_and_restores_it(mode: str, sampler: str) -> None:
    model = tiny_unet()
    model.train(mode == "train")
    model.mid_block.train()  # a mixed state must come back exactly
    modes_before = [m.training for m in model.modules()]
    cfg = DiffusionConfig(num_timesteps=20, sampler=sampler, sample_steps=4, eta=0.5, prediction="v")
    schedule = NoiseSchedule.from_config(cfg)

    out = sample(model, schedule, cfg, 5, 72, generator=seeded(16))
    assert [m.training for m in model.modules()] == modes_before
    assert out.shape == (5, 72) and bool(torch.isfinite(out).all())
    assert torch.equal(out, sample(model, schedule, cfg, 5, 72, generator=seeded(16)))

    model.eval()  # the same run by hand, in eval mode (BatchNorm on running stats)
    if sampler == "ddim":
        by_hand = ddim_sample(
            model, schedule, (5, 72), steps=4, eta=0.5, prediction="v", generator=seeded(16), clip_x0=cfg.clip_x0
        )
    else:
        by_hand = ddpm_sample(model, schedule, (5, 72), prediction="v", generator=seeded(16), clip_x0=cfg.clip_x0)
    assert torch.equal(out, by_hand)
    model.train()  # train-mode BatchNorm would give different samples, so eval mode really was used
    with torch.no_grad():
        in_train_mode = ddim_sample(model, schedule, (5, 72), steps=4, eta=0.5, prediction="v", generator=seeded(16))
    assert sampler == "ddpm" or not torch.allclose(out, in_train_mode, atol=1e-4)


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


@pytest.mark.parametrize(("prediction", "min_snr_gamma"), [("eps", None), ("x0", 5.0), ("v", 5.0), ("eps", 5.0)])
def test_a_few_steps_on_a_fixed_batch_lower_the_loss(prediction: str, min_snr_gamma: float | None) -> None:
    losses = train_steps(tiny_unet(), 8, prediction=prediction, min_snr_gamma=min_snr_gamma, fixed=True)
    assert losses[-1] < 0.6 * losses[0], losses


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


# ----------------------------------------------------------------------------------------- EMA


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def set_weights(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Give every parameter and float buffer new random values; return a copy of them."""
    generator = seeded(seed)
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=generator))
            else:
                tensor.add_(1)  # num_batches_tracked
    return {name: value.clone() for name, value in model.state_dict().items()}


def test_ema_equals_the_closed_form_geometric_average() -> None:
    decay, model = 0.9, small_net()
    ema = EMA(model, decay=decay)
    history = []
    for step in range(6):
        history.append(set_weights(model, seed=100 + step))
        ema.update(model)
    n = len(history)
    assert ema.num_updates == n
    averaged = ema.module.state_dict()
    for name, _ in model.named_parameters():
        # w_ema = d^(n-1) w_1 + sum_{k=2..n} (1 - d) d^(n-k) w_k  (the first update copies)
        expected = decay ** (n - 1) * history[0][name]
        expected = expected + sum((1 - decay) * decay ** (n - k) * history[k - 1][name] for k in range(2, n + 1))
        assert torch.allclose(averaged[name], expected, atol=1e-6), name
    for name, buffer in model.named_buffers():  # BatchNorm statistics: copied, not averaged
        assert torch.equal(averaged[name], buffer), name


def test_ema_warmup_decay() -> None:
    model = small_net()
    ema = EMA(model, decay=0.99, warmup=True)
    first = set_weights(model, seed=1)
    ema.update(model)
    assert ema.current_decay() == pytest.approx(2 / 11)  # (1 + n) / (10 + n) after n = 1 update
    second = set_weights(model, seed=2)
    ema.update(model)
    expected = 2 / 11 * first["0.weight"] + 9 / 11 * second["0.weight"]
    assert torch.allclose(ema.module.state_dict()["0.weight"], expected, atol=1e-6)
    for _ in range(498):
        ema.update(model)
    assert ema.current_decay() == pytest.approx(501 / 510)  # n = 500: still warming up
    for _ in range(500):
        ema.update(model)
    assert ema.current_decay() == 0.99


def test_ema_state_dict_resumes_exactly() -> None:
    model = small_net()
    ema = EMA(model, decay=0.8)
    for step in range(3):
        set_weights(model, seed=200 + step)
        ema.update(model)
    buffer = io.BytesIO()
    torch.save(ema.state_dict(), buffer)
    buffer.seek(0)

    resumed = EMA(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)), decay=0.8)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert resumed.num_updates == 3, "the step counter must survive (or the next update would copy)"
    for step in range(3, 5):
        set_weights(model, seed=200 + step)
        ema.update(model)
        resumed.update(model)
    for (name, value), (_, other) in zip(ema.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(value, other), name


def test_ema_module_is_a_frozen_eval_copy_usable_for_sampling() -> None:
    model = tiny_unet()
    ema = EMA(model, decay=0.999)
    assert not ema.module.training and not any(p.requires_grad for p in ema.module.parameters())
    assert all(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    assert not torch.equal(next(model.parameters()), next(ema.module.parameters())), "a copy, not an alias"
    schedule = NoiseSchedule.cosine(10)
    out = ddim_sample(ema.module, schedule, (3, 72), steps=3, generator=seeded(20))
    assert out.shape == (3, 72) and bool(torch.isfinite(out).all())


# ----------------------------------------------------------------------------------- layering


def test_diffusion_package_does_not_import_the_network() -> None:
    package = Path(__file__).resolve().parents[2] / "unet1d" / "diffusion"
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(name.startswith("unet1d.model") for name in names), source.name


# ------------------------------------------------------------------------------- x0 clipping


def test_clipping_bounds_a_bad_denoisers_samples_and_leaves_a_good_one_alone() -> None:
    """An eps-predictor that is slightly wrong at high noise explodes x0_hat = (x - s eps) / a; clipping stops it."""
    schedule = SCHEDULES["cosine"]
    exact = gaussian_denoiser(schedule, "eps")

    def biased(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return exact(x_t, t) + 0.05  # a small constant error, amplified by 1 / sqrt(abar) near t = T

    wild = ddim_sample(biased, schedule, (500, 6), steps=50, generator=seeded(20))
    tamed = ddim_sample(biased, schedule, (500, 6), steps=50, generator=seeded(20), clip_x0=6.0)
    assert wild.abs().max() > 20 and tamed.abs().max() <= 6.0  # the data lie within about +-5.4
    for sampler in ("ddim", "ddpm"):
        draw = ddim_sample if sampler == "ddim" else ddpm_sample
        kwargs = {"steps": 50} if sampler == "ddim" else {}
        plain = draw(exact, schedule, (2000, 6), generator=seeded(21), **kwargs)
        clipped = draw(exact, schedule, (2000, 6), generator=seeded(21), clip_x0=6.0, **kwargs)
        # MU +- 3 SD lies within +-6 for these Gaussians, so clipping at 6 barely changes anything.
        assert torch.allclose(plain.mean(0), clipped.mean(0), atol=0.05)
        assert torch.allclose(plain.std(0), clipped.std(0), rtol=0.05)
