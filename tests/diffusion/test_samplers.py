"""DDPM and DDIM against a known optimum.

Samplers are tested with the exact optimal denoiser for Gaussian data x0 ~ N(mu, diag(sd^2)),
for which E[x0 | x_t], E[eps | x_t] and E[v | x_t] have closed forms: no training needed, and
whatever the samples get wrong is the sampler's fault.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from tests.diffusion.test_losses import tiny_unet
from unet1d.config import DiffusionConfig
from unet1d.diffusion import (
    NoiseSchedule,
    ddim_sample,
    ddim_timesteps,
    ddpm_sample,
    sample,
)

SCHEDULES = {"linear": NoiseSchedule.linear(1000), "cosine": NoiseSchedule.cosine(1000)}


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


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


SLOW = pytest.mark.slow  # 1,000 steps over 8,000 samples: seconds each; the 50-step cases stay in the inner loop
SAMPLER_CASES = [
    # (sampler, steps, eta, prediction, schedule)
    pytest.param("ddpm", 1000, 1.0, "eps", "linear", marks=SLOW),
    pytest.param("ddpm", 1000, 1.0, "x0", "cosine", marks=SLOW),
    pytest.param("ddpm", 1000, 1.0, "v", "cosine", marks=SLOW),
    pytest.param("ddim", 1000, 0.0, "eps", "cosine", marks=SLOW),
    pytest.param("ddim", 1000, 1.0, "v", "linear", marks=SLOW),
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
