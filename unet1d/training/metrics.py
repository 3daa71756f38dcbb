"""Numbers the dashboards show besides the loss: gradient and parameter norms, memory, loss by timestep.

Everything that runs every step stays on the device (no host sync); values reach the host only
on the steps that log them. :class:`StepMetrics` is the trainer's component for them: it says
which of them a step logs and gathers them.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from unet1d.cadence import Every
from unet1d.metric_registry import TIMESTEP_BUCKETS, timestep_bucket_names

if TYPE_CHECKING:
    from accelerate import Accelerator

    from unet1d.config import Config
    from unet1d.training.components import NonFiniteGuard, Window


def _norm_of(tensors: list[torch.Tensor], device: torch.device) -> torch.Tensor:
    """L2 norm of several tensors taken together, in float32 (one foreach pass, then the norm of the norms)."""
    if not tensors:
        return torch.zeros((), device=device)
    floats = [t if t.dtype == torch.float32 else t.float() for t in tensors]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(floats)))


def block_grad_norms(groups: Mapping[str, nn.Module], device: torch.device) -> torch.Tensor:
    """(G,) gradient norm of each named block (``model.block_groups()``), on the device.

    Call after backward and before clipping, so the norms are the ones clipping acts on.
    """
    norms = [_norm_of([p.grad for p in block.parameters() if p.grad is not None], device) for block in groups.values()]
    return torch.stack(norms)


def parameter_norm(module: nn.Module) -> torch.Tensor:
    """L2 norm of all parameters (a slow drift up often precedes instability)."""
    params = [p.detach() for p in module.parameters()]
    return _norm_of(params, params[0].device if params else torch.device("cpu"))


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this process in MiB: CUDA's max allocated on a GPU, the peak RSS on a CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


class TimestepLosses:
    """Mean unweighted training MSE per timestep bucket (equal slices of [0, T)), summed on the device.

    Which noise levels the middle block helps with is exactly what a conv/attention comparison
    wants to see; the total loss hides it.
    """

    per_rank = True  # each rank's own sums until a log step adds them up
    newer_than_format = True  # checkpoints from before it resume with empty buckets

    def __init__(self, num_timesteps: int, num_buckets: int, device: torch.device) -> None:
        self.num_timesteps = num_timesteps
        self.num_buckets = min(num_buckets, num_timesteps)
        self.names = timestep_bucket_names(num_timesteps, num_buckets)  # bucket b: floor(t * buckets / T) == b
        self.sums = torch.zeros(self.num_buckets, device=device, dtype=torch.float64)
        self.counts = torch.zeros(self.num_buckets, device=device, dtype=torch.float64)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The sums since the last log step: a stopped run's next log covers the steps before the stop too."""
        return {"sums": self.sums.clone(), "counts": self.counts.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if not state:
            self.sums.zero_()
            self.counts.zero_()
            return
        self.sums.copy_(state["sums"])
        self.counts.copy_(state["counts"])

    def add(self, per_sample: torch.Tensor, t: torch.Tensor) -> None:
        """per_sample: (B,) unweighted losses; t: (B,) timesteps."""
        bucket = (t.long() * self.num_buckets) // self.num_timesteps
        self.sums.index_add_(0, bucket, per_sample.detach().to(torch.float64))
        self.counts.index_add_(0, bucket, torch.ones_like(self.sums[bucket]))

    def state(self) -> torch.Tensor:
        """(2, buckets): sums and counts, for a cross-rank sum before :meth:`means`."""
        return torch.stack([self.sums, self.counts])

    def means(self, totals: torch.Tensor) -> dict[str, float]:
        """Named means from (possibly rank-summed) :meth:`state`; empty buckets are left out. Resets."""
        sums, counts = totals.tolist()
        self.sums.zero_()
        self.counts.zero_()
        return {name: s / c for name, s, c in zip(self.names, sums, counts, strict=True) if c > 0}


class StepMetrics:
    """What the dashboards get of each step, and when: the gradient norm every step, each block's every
    ``logging.grad_norm_every`` steps, and the window's figures (loss, speed, norms, loss by timestep) every
    ``logging.log_every`` steps and at the run's last step. Its state in checkpoints is the timestep losses'."""

    def __init__(self, accelerator: Accelerator, network: nn.Module, num_timesteps: int, config: Config) -> None:
        self.accelerator, self.network, self.device = accelerator, network, accelerator.device
        self.blocks = network.block_groups()
        self.timestep_losses = TimestepLosses(num_timesteps, TIMESTEP_BUCKETS, self.device)
        self.log_every, self.block_norm_every = Every(config.logging.log_every), Every(config.logging.grad_norm_every)
        self.last_step = config.train.max_steps
        self.global_batch = config.train.batch_size * accelerator.num_processes

    def block_norms_due(self, step: int) -> bool:
        return self.block_norm_every.due(step)

    def block_norms(self) -> dict[str, float]:
        """Pre-clipping gradient norm of each block (fp16 gradients are still scaled here: unscaled)."""
        norms = block_grad_norms(self.blocks, self.device)
        if self.accelerator.scaler is not None:
            norms = norms / self.accelerator.scaler.get_scale()
        return {f"train/grad_norm/{name}": value for name, value in zip(self.blocks, norms.tolist(), strict=True)}

    def window_due(self, step: int) -> bool:
        return self.log_every.due(step) or step == self.last_step  # the last window too

    def window_metrics(self, window: Window, *, lr: float, epoch: int, nonfinite: NonFiniteGuard) -> dict[str, float]:
        """The log step's figures over ``window`` (the steps since the last one). Collective: the timestep losses
        are summed over ranks, and their sums start again."""
        bucket_totals = self.timestep_losses.state()
        if self.accelerator.num_processes > 1:
            bucket_totals = self.accelerator.reduce(bucket_totals, reduction="sum")
        return {
            "train/loss": window.mean_loss,
            "train/lr": lr,
            "train/samples_per_s": window.steps * self.global_batch / window.seconds,
            "train/step_time_s": window.seconds / window.steps,
            "train/param_norm": parameter_norm(self.network).item(),
            "train/peak_memory_mb": peak_memory_mb(self.device),
            "train/epoch": float(epoch),
            "train/nonfinite_steps": float(nonfinite.total),
            **({"train/scaler_skips": float(nonfinite.scaler_skips)} if self.accelerator.scaler else {}),
            **self.timestep_losses.means(bucket_totals),
        }
