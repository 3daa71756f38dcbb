"""`unet1d info`'s summary against a real model."""

from __future__ import annotations

from unet1d import UNet1D, count_parameters


def test_summary_counts_match_a_real_model() -> None:
    from unet1d.config import ModelConfig
    from unet1d.model.summary import summarize

    config = ModelConfig(mid_structure="attention", mid_num_heads=16)
    summary = summarize(config)
    real = UNet1D.from_config(config)
    assert summary.total_parameters == count_parameters(real)
    assert sum(summary.parameters_per_block.values()) == summary.total_parameters
    assert summary.mid.length == 18 and summary.mid.attention_floats == 16 * 18 * 18
