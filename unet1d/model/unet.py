"""The 1D UNet over pose vectors. Network only: noise schedules live in ``unet1d.diffusion``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import nn

from unet1d.config import ModelConfig
from unet1d.model.blocks import (
    ResBlock1D,
    SelfAttention1D,
    SinusoidalTimeEmbedding,
    double_length,
    halve_length,
    make_position_encoding,
    time_projections,
)
from unet1d.network_arguments import model_argument_problem


class UNet1D(nn.Module):
    """Denoiser ``(x_t, t) -> prediction`` for pose vectors.

    The pose is a one-channel sequence of length ``pose_dim``. Down stages widen the channels by
    ``channel_mults`` (128, 256, 512) and, with ``downsample``, halve the length between stages
    by average pooling (72 -> 36 -> 18), so the middle block sees 18 positions of 512 channels.
    The up path mirrors it: nearest-neighbour x2, concatenate the skip, a ResBlock1D. Resampling
    has no parameters, so ``downsample=False`` (middle at full length 72) has the same count.
    Called with the reference design's arguments it builds the reference design's network (BatchNorm, no position code);
    :meth:`from_config` builds what the config asks for (its defaults: GroupNorm, sinusoidal).
    """

    def __init__(
        self,
        pose_dim: int = 72,
        base_channels: int = 128,
        mid_structure: str = "conv",
        mid_num_heads: int = 8,
        channel_mults: Sequence[int] = (1, 2, 4),
        downsample: bool = True,
        dropout: float = 0.0,
        norm: str = "batch",
        position: str = "none",
    ) -> None:
        super().__init__()
        problem = model_argument_problem(
            pose_dim, base_channels, channel_mults, mid_structure, mid_num_heads, downsample
        )
        if problem:
            raise ValueError(problem)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be a number in [0, 1)")
        self.pose_dim = pose_dim
        self.mid_structure = mid_structure
        self.downsample = downsample
        time_dim = 4 * base_channels
        widths = [base_channels * m for m in channel_mults]

        self.time_embed = nn.Sequential(
            SinusoidalTimeEmbedding(base_channels),
            nn.Linear(base_channels, time_dim),
            nn.GELU(),
            nn.Linear(time_dim, time_dim),
        )
        self.input_conv = nn.Conv1d(1, base_channels, kernel_size=3, padding=1)
        self.register_buffer(
            "position_signal", make_position_encoding(position, base_channels, pose_dim), persistent=False
        )

        self.down_blocks = nn.ModuleList()
        channels = base_channels
        for width in widths:
            self.down_blocks.append(ResBlock1D(channels, width, time_dim, dropout, norm))
            channels = width

        if mid_structure == "conv":
            self.mid_block: nn.Module = ResBlock1D(channels, channels, time_dim, dropout, norm)
        else:
            self.mid_block = SelfAttention1D(channels, mid_num_heads, time_dim)

        self.up_blocks = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.up_blocks.append(ResBlock1D(channels + width, width, time_dim, dropout, norm))
            channels = width
        self.output = nn.Sequential(
            # 8 groups where they divide the channels (every width a multiple of 8: the same layer as always)
            nn.GroupNorm(math.gcd(8, channels), channels),
            nn.GELU(),
            nn.Conv1d(channels, 1, kernel_size=3, padding=1),
        )

    @classmethod
    def from_config(cls, config: ModelConfig) -> UNet1D:
        """The network a run's ``model`` section describes (GroupNorm and a position code by default, where the
        plain constructor keeps the reference design's BatchNorm and none)."""
        return cls(
            pose_dim=config.pose_dim,
            base_channels=config.base_channels,
            mid_structure=config.mid_structure,
            mid_num_heads=config.mid_num_heads,
            channel_mults=config.channel_mults,
            downsample=config.downsample,
            dropout=config.dropout,
            norm=config.norm,
            position=config.position,
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x: (B, pose_dim) or (B, 1, pose_dim); t: (B,) or scalar, int or float. Returns x's shape."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape (B, {self.pose_dim}), not {type(x).__name__}")
        flat = x.dim() == 2
        if flat:
            x = x[:, None, :]
        if x.dim() != 3 or x.shape[1] != 1 or x.shape[2] != self.pose_dim:
            raise ValueError(
                f"expected x of shape (B, {self.pose_dim}) or (B, 1, {self.pose_dim}), got {tuple(x.shape)}"
            )
        weights = self.input_conv.weight.dtype
        if x.dtype != weights and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f"x is {x.dtype} and the network's weights {weights}: cast one to the other "
                f"(x.to({weights}) or model.to({x.dtype})), or run under torch.autocast"
            )
        t = torch.as_tensor(t, device=x.device)
        if t.dim() == 0 or t.shape == (1,):
            t = t.reshape(()).expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(
                f"expected t of shape ({x.shape[0]},) (one timestep per row) or a scalar, got {tuple(t.shape)}"
            )
        time_emb = self.time_embed(t)
        blocks = [*self.down_blocks, self.mid_block, *self.up_blocks]
        shifts = iter(time_projections(blocks, time_emb))

        h = self.input_conv(x) + self.position_signal
        skips = []
        for index, block in enumerate(self.down_blocks):
            if index > 0:
                skips.append(h)
                if self.downsample:
                    h = halve_length(h)
            h = block(h, None, next(shifts))
        h = self.mid_block(h, None, next(shifts))
        for block in self.up_blocks:
            if self.downsample:
                h = double_length(h)
            h = block(torch.cat([h, skips.pop()], dim=1), None, next(shifts))
        out = self.output(h)
        return out[:, 0, :] if flat else out

    def block_groups(self) -> dict[str, nn.Module]:
        """Named parts for per-block gradient norms: time embedding, each stage, the middle."""
        groups: dict[str, nn.Module] = {"time_embed": self.time_embed, "input": self.input_conv}
        groups.update({f"down{i}": block for i, block in enumerate(self.down_blocks)})
        groups["mid"] = self.mid_block
        groups.update({f"up{i}": block for i, block in enumerate(self.up_blocks)})
        groups["output"] = self.output
        return groups


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not); buffers excluded."""
    return sum(p.numel() for p in module.parameters())
