"""Building blocks of the 1D UNet. Inside the network a pose batch is (B, C, L)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SinusoidalTimeEmbedding(nn.Module):
    """Maps timesteps (B,) int or float to (B, dim) sin/cos features (Transformer-style)."""

    def __init__(self, dim: int, max_period: float = 10000.0) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"time embedding dim={dim} must be even")
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        # phases in float32 (t reaches 1,000), features in the network's dtype (bf16 after .to(torch.bfloat16))
        args = t.float()[:, None] * self.freqs.float()[None, :]
        return torch.cat([args.sin(), args.cos()], dim=-1).to(self.freqs.dtype)


def make_position_encoding(kind: str, channels: int, length: int) -> torch.Tensor:
    """A fixed (channels, length) signal naming each position, as a non-persistent buffer's value.

    Convolution kernels are shared along the pose, so without it a layer can tell a knee from an
    elbow only by the distance to the zero padding. 'sinusoidal': Transformer-style sin/cos of the
    position index, no parameters (the reference design's parameter counts stay). 'none': zeros.
    """
    if kind == "none":
        return torch.zeros(channels, length)
    if kind != "sinusoidal":
        raise ValueError(f"position={kind!r} is not allowed; choose 'none' or 'sinusoidal'")
    # The time embedding's sin/cos, with the position index as the "time"; an odd count leaves its last channel 0.
    code = SinusoidalTimeEmbedding(channels - channels % 2, max_period=float(length))(torch.arange(length)).T
    return torch.cat([code, torch.zeros(channels % 2, length)], dim=0)


def make_norm(kind: str, channels: int, groups: int = 32) -> nn.Module:
    """'batch' (the reference design's BatchNorm1d) or 'group' (GroupNorm: no running statistics, so sampling
    batches that hold one timestep are normalised exactly as in training). Same parameter count."""
    if kind == "batch":
        return nn.BatchNorm1d(channels)
    if kind == "group":
        return nn.GroupNorm(math.gcd(groups, channels), channels)
    raise ValueError(f"norm={kind!r} is not allowed; choose 'batch' or 'group'")


def halve_length(x: torch.Tensor) -> torch.Tensor:
    """Average pooling by 2 along the last axis (even lengths): ``F.avg_pool1d(x, 2)``'s values, as one
    reduction over a view, whose backward is a broadcast instead of the pooling kernel's scatter."""
    return x.unflatten(-1, (-1, 2)).mean(dim=-1)


def double_length(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour upsampling by 2 along the last axis (``F.interpolate(x, scale_factor=2)``'s values)
    as a broadcast copy, whose backward is one sum over pairs instead of the interpolation kernel's."""
    return x[..., None].expand(*x.shape, 2).flatten(-2)


def time_projections(blocks: list[nn.Module], time_emb: torch.Tensor) -> list[torch.Tensor]:
    """Every block's ``time_proj(time_emb)`` from one matrix product over their stacked weights.

    The blocks keep their own ``time_proj`` Linear (parameters and checkpoint keys unchanged); a step
    then runs one product and one split instead of one product (and its backward) per block.
    """
    projections = [block.time_proj for block in blocks]
    weight = torch.cat([p.weight for p in projections])
    bias = torch.cat([p.bias for p in projections])
    return list(F.linear(time_emb, weight, bias).split([p.out_features for p in projections], dim=1))


class ResBlock1D(nn.Module):
    """Two Conv1d(k=3) + norm + GELU layers, a time projection added in between, and a residual.

    (B, in_channels, L), (B, time_dim) -> (B, out_channels, L). A 1x1 convolution projects the
    residual when the channel count changes. ``norm``: 'batch' (the reference design's) or 'group'.
    """

    def __init__(
        self, in_channels: int, out_channels: int, time_dim: int, dropout: float = 0.0, norm: str = "batch"
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel_size=3, padding=1)
        self.norm1 = make_norm(norm, out_channels)
        self.time_proj = nn.Linear(time_dim, out_channels)
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel_size=3, padding=1)
        self.norm2 = make_norm(norm, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.residual = (
            nn.Conv1d(in_channels, out_channels, kernel_size=1) if in_channels != out_channels else nn.Identity()
        )

    def forward(
        self, x: torch.Tensor, time_emb: torch.Tensor | None, time_shift: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``time_shift`` (B, out_channels): ``time_proj(time_emb)`` already computed (UNet1D computes every
        block's in one matrix product); then ``time_emb`` is not read."""
        if time_shift is None:
            time_shift = self.time_proj(time_emb)
        h = F.gelu(self.norm1(self.conv1(x)))
        h = h + time_shift[:, :, None]
        if self.dropout.p > 0:  # dropout(p=0) is the identity, yet costs a pass and a mask in training
            h = self.dropout(h)
        h = F.gelu(self.norm2(self.conv2(h)))
        return h + self.residual(x)


class SelfAttention1D(nn.Module):
    """Multi-head self-attention over the length axis, conditioned on time, with a residual.

    (B, C, L), (B, time_dim) -> (B, C, L). Uses ``scaled_dot_product_attention`` so fused
    (flash / memory-efficient) kernels run where the device has them.
    """

    def __init__(self, channels: int, num_heads: int, time_dim: int, norm_groups: int = 32) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide channels={channels}")
        self.num_heads = num_heads
        self.time_proj = nn.Linear(time_dim, channels)
        self.norm = nn.GroupNorm(math.gcd(norm_groups, channels), channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, kernel_size=1)
        self.out = nn.Conv1d(channels, channels, kernel_size=1)

    def forward(
        self, x: torch.Tensor, time_emb: torch.Tensor | None, time_shift: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``time_shift``: ``time_proj(time_emb)`` already computed, as in :class:`ResBlock1D`."""
        if time_shift is None:
            time_shift = self.time_proj(time_emb)
        batch, channels, length = x.shape
        h = self.norm(x + time_shift[:, :, None])
        # (B, 3C, L) -> 3 x (B, heads, L, C/heads)
        qkv = self.qkv(h).view(batch, 3, self.num_heads, channels // self.num_heads, length)
        q, k, v = qkv.transpose(-1, -2).unbind(dim=1)
        attended = F.scaled_dot_product_attention(q, k, v)
        attended = attended.transpose(-1, -2).reshape(batch, channels, length)
        return x + self.out(attended)
