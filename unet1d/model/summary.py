"""Size and cost of a configured UNet1D, for `unet1d info` and the compare report.

The network is built on the ``meta`` device: shapes and parameter counts without allocating
or initialising any weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unet1d.config import ModelConfig
from unet1d.model.unet import UNet1D, count_parameters

BYTES_PER_FLOAT32 = 4


@dataclass(frozen=True)
class MidBlockCost:
    """Per-sample cost of the middle block at its input resolution."""

    structure: str
    channels: int
    length: int
    num_heads: int
    attention_floats_per_head: int  # L x L scores per head (0 for conv)
    attention_floats: int  # all heads
    activation_floats: int  # the block's input, C x L
    macs: int  # multiply-accumulates per sample


@dataclass(frozen=True)
class ModelSummary:
    total_parameters: int
    parameters_per_block: dict[str, int]
    mid: MidBlockCost

    @property
    def fp32_megabytes(self) -> float:
        return self.total_parameters * BYTES_PER_FLOAT32 / 2**20


def mid_block_cost(config: ModelConfig) -> MidBlockCost:
    """Closed-form cost of the middle block for one sample (C channels, L positions, k=3 convs)."""
    channels = config.mid_channels
    length = config.pose_dim // 2**config.num_downsamples
    if config.mid_structure == "attention":
        heads = config.mid_num_heads
        per_head = length * length
        # qkv + output projections, then QK^T and attention x V over all heads.
        macs = 4 * channels * channels * length + 2 * length * length * channels
        return MidBlockCost("attention", channels, length, heads, per_head, heads * per_head, channels * length, macs)
    macs = 2 * 3 * channels * channels * length
    return MidBlockCost("conv", channels, length, 0, 0, 0, channels * length, macs)


def summarize(config: ModelConfig) -> ModelSummary:
    with torch.device("meta"):
        model = UNet1D.from_config(config)
    per_block = {name: count_parameters(module) for name, module in model.block_groups().items()}
    return ModelSummary(count_parameters(model), per_block, mid_block_cost(config))
