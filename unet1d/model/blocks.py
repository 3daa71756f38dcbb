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
        args = t.float()[:, None] * self.freqs[None, :]
        return torch.cat([args.sin(), args.cos()], dim=-1)


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

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.norm1(self.conv1(x)))
        h = h + self.time_proj(time_emb)[:, :, None]
        h = F.gelu(self.norm2(self.conv2(self.dropout(h))))
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

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor) -> torch.Tensor:
        batch, channels, length = x.shape
        h = self.norm(x + self.time_proj(time_emb)[:, :, None])
        # (B, 3C, L) -> 3 x (B, heads, L, C/heads)
        qkv = self.qkv(h).view(batch, 3, self.num_heads, channels // self.num_heads, length)
        q, k, v = qkv.transpose(-1, -2).unbind(dim=1)
        attended = F.scaled_dot_product_attention(q, k, v)
        attended = attended.transpose(-1, -2).reshape(batch, channels, length)
        return x + self.out(attended)
