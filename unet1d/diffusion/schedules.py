"""Noise schedules of the forward process q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I).

Timesteps are 0-based: t = 0 is the least noisy step and ``abar_t = prod_{s <= t} (1 - beta_s)``.
Every table is float64 (the cumulative product loses digits in float32 near t = T - 1) and is
cast to the caller's device and dtype only when gathered.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import torch

if TYPE_CHECKING:
    from unet1d.config import DiffusionConfig

Prediction = Literal["eps", "x0", "v"]
PREDICTIONS: tuple[str, ...] = ("eps", "x0", "v")


def check_prediction(prediction: str) -> None:
    """Fail early, naming the choices, instead of deep inside a formula."""
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction={prediction!r} is not one of {', '.join(map(repr, PREDICTIONS))}")


class NoiseSchedule:
    """The betas of a discrete forward process and every quantity derived from them.

    A plain class rather than an ``nn.Module``: it holds no parameters, so it never needs to
    travel with checkpoints or ``.to(device)`` calls; it is rebuilt from the config instead.
    """

    def __init__(self, betas: torch.Tensor) -> None:
        """betas: (T,), each in (0, 1); stored as float64 on the CPU."""
        betas = torch.as_tensor(betas).detach().to(device="cpu", dtype=torch.float64)
        if betas.dim() != 1 or betas.numel() == 0:
            raise ValueError(f"betas must be a non-empty 1-D tensor, got shape {tuple(betas.shape)}")
        if not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError(f"every beta must lie in (0, 1); got min {betas.min():.3g}, max {betas.max():.3g}")
        self.num_timesteps: int = betas.numel()
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.sqrt_alphas_cumprod = self.alphas_cumprod.sqrt()
        self.sqrt_one_minus_alphas_cumprod = (1.0 - self.alphas_cumprod).sqrt()
        self._cache: dict[tuple[str, torch.device, torch.dtype], torch.Tensor] = {}

    def __repr__(self) -> str:
        abar = self.alphas_cumprod
        return f"NoiseSchedule(T={self.num_timesteps}, abar_0={abar[0]:.6f}, abar_T-1={abar[-1]:.3g})"

    # ----------------------------------------------------------------------------- constructors

    @classmethod
    def linear(cls, num_timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
        """Ho et al. (2020): betas evenly spaced from ``beta_start`` to ``beta_end``, taken literally."""
        return cls(torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64))

    @classmethod
    def cosine(cls, num_timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
        """Nichol & Dhariwal (2021): abar_t follows cos^2; betas are clipped at ``max_beta`` near t = T."""

        def f(step: torch.Tensor) -> torch.Tensor:
            return torch.cos((step / num_timesteps + s) / (1 + s) * math.pi / 2) ** 2

        steps = torch.arange(num_timesteps + 1, dtype=torch.float64)
        abar = f(steps) / f(torch.zeros((), dtype=torch.float64))
        betas = (1.0 - abar[1:] / abar[:-1]).clamp(max=max_beta)
        return cls(betas)

    @classmethod
    def from_config(cls, cfg: DiffusionConfig) -> NoiseSchedule:
        """The schedule a run uses.

        The linear betas are scaled by 1000 / T (as in Nichol & Dhariwal's code), so the total
        noise added stays about the same when ``num_timesteps`` changes; at T = 1000 this is
        exactly Ho et al.'s 1e-4 .. 0.02. Without it, T = 100 would end at abar ~ 0.35 and
        sampling from N(0, I) would be wrong.
        """
        if cfg.schedule == "cosine":
            return cls.cosine(cfg.num_timesteps)
        scale = 1000.0 / cfg.num_timesteps
        return cls.linear(cfg.num_timesteps, beta_start=min(1e-4 * scale, 0.999), beta_end=min(0.02 * scale, 0.999))

    # ------------------------------------------------------------------------------- gathering

    def _table(self, name: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (name, device, dtype)
        if key not in self._cache:
            self._cache[key] = getattr(self, name).to(dtype=dtype).to(device)
        return self._cache[key]

    def _gather(self, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """table[t] as (B, 1, ..., 1) in ``like``'s device and dtype, ready to broadcast."""
        dtype = like.dtype if like.is_floating_point() else torch.float32
        values = self._table(name, like.device, dtype)[t.to(like.device, torch.long)]
        return values.view(-1, *([1] * (like.dim() - 1)))

    def _signal_and_sigma(self, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sqrt(abar_t), sqrt(1 - abar_t)), each (B, 1, ..., 1) in ``like``'s device and dtype."""
        return self._gather("sqrt_alphas_cumprod", t, like), self._gather("sqrt_one_minus_alphas_cumprod", t, like)

    # ------------------------------------------------------------------------ forward process

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Sample q(x_t | x0): x0, noise (B, ...); t (B,) in [0, T). Returns x_t, shaped like x0."""
        signal, sigma = self._signal_and_sigma(t, x0)
        return signal * x0 + sigma * noise.to(x0.dtype)

    def snr(self, t: torch.Tensor) -> torch.Tensor:
        """Signal-to-noise ratio abar_t / (1 - abar_t): t (B,) -> (B,) float64 on t's device."""
        abar = self._table("alphas_cumprod", t.device, torch.float64)[t.long()]  # the device's copy, kept
        return abar / (1.0 - abar)

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, prediction: str) -> torch.Tensor:
        """What the network should output for x_t = add_noise(x0, noise, t); shaped like x0.

        'eps' -> noise; 'x0' -> x0; 'v' -> sqrt(abar) noise - sqrt(1 - abar) x0 (Salimans & Ho 2022).
        """
        check_prediction(prediction)
        if prediction == "eps":
            return noise
        if prediction == "x0":
            return x0
        signal, sigma = self._signal_and_sigma(t, x0)
        return signal * noise.to(x0.dtype) - sigma * x0

    def split_prediction(
        self, model_output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, prediction: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Turn any parametrisation into (x0_hat, eps_hat), both shaped like x_t.

        Uses x_t = a x0 + s eps with a = sqrt(abar_t), s = sqrt(1 - abar_t), a^2 + s^2 = 1.
        """
        check_prediction(prediction)
        output = model_output.to(x_t.dtype)
        signal, sigma = self._signal_and_sigma(t, x_t)
        if prediction == "eps":
            return (x_t - sigma * output) / signal, output
        if prediction == "x0":
            return output, (x_t - signal * output) / sigma
        return signal * x_t - sigma * output, sigma * x_t + signal * output
