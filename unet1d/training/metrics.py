"""Numbers the dashboards show besides the loss: gradient and parameter norms, memory, loss by timestep.

Everything that runs every step stays on the device (no host sync); values reach the host only
on the steps that log them.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Mapping

import torch
from torch import nn

from unet1d.metric_registry import timestep_bucket_names


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
