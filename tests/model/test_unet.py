"""UNet1D: the seed's API, parameter counts, shapes, and argument errors."""

from __future__ import annotations

import pytest
import torch

from unet1d import UNet1D, count_parameters
from unet1d.model import ResBlock1D, SelfAttention1D

SEED_PARAMETERS = {"conv": 5.77e6, "attention": 5.24e6}


@pytest.mark.parametrize("structure", ["conv", "attention"])
def test_default_parameter_counts_match_the_seed_within_two_percent(structure: str) -> None:
    model = UNet1D(pose_dim=72, base_channels=128, mid_structure=structure, mid_num_heads=8)
    assert count_parameters(model) == pytest.approx(SEED_PARAMETERS[structure], rel=0.02)


@pytest.mark.parametrize(("structure", "expected"), [("conv", 5_799_425), ("attention", 5_275_137)])
def test_default_parameter_counts_are_the_readmes(structure: str, expected: int) -> None:
    """The exact counts the README's model table states (and `unet1d info` prints)."""
    model = UNet1D(pose_dim=72, base_channels=128, mid_structure=structure, mid_num_heads=8)
    assert count_parameters(model) == expected


def test_conv_and_attention_differ_exactly_by_their_middle_blocks() -> None:
    conv, attention = UNet1D(mid_structure="conv"), UNet1D(mid_structure="attention")
    assert isinstance(conv.mid_block, ResBlock1D) and isinstance(attention.mid_block, SelfAttention1D)
    difference = count_parameters(conv) - count_parameters(attention)
    assert difference == count_parameters(conv.mid_block) - count_parameters(attention.mid_block)
    # two 512x512x3 convs (+bias, +2 BatchNorms) versus qkv + out 1x1 convs + GroupNorm
    assert difference == 2 * (512 * 512 * 3 + 512) + 2 * 1024 - (512 * 1536 + 1536 + 512 * 512 + 512 + 1024)


def test_head_count_does_not_change_parameters() -> None:
    counts = {heads: count_parameters(UNet1D(mid_structure="attention", mid_num_heads=heads)) for heads in (4, 8, 16)}
    assert len(set(counts.values())) == 1


@pytest.mark.parametrize("structure", ["conv", "attention"])
@pytest.mark.parametrize("downsample", [True, False])
def test_forward_keeps_the_input_shape(structure: str, downsample: bool) -> None:
    model = UNet1D(base_channels=16, mid_structure=structure, mid_num_heads=4, downsample=downsample)
    flat = torch.randn(5, 72)
    assert model(flat, torch.randint(0, 1000, (5,))).shape == (5, 72)
    assert model(flat[:, None, :], torch.rand(5) * 999).shape == (5, 1, 72)
    assert model(flat, torch.tensor(3)).shape == (5, 72)


def test_time_conditioning_changes_the_output() -> None:
    model = UNet1D(base_channels=16).eval()
    x = torch.randn(3, 72)
    assert not torch.allclose(model(x, torch.zeros(3)), model(x, torch.full((3,), 500.0)))


def test_output_depends_on_every_input_position() -> None:
    """The receptive field covers the whole pose (so joints can inform each other)."""
    model = UNet1D(base_channels=16, mid_structure="attention", mid_num_heads=4).eval()
    x = torch.randn(1, 72, requires_grad=True)
    model(x, torch.tensor([10]))[0, 0].backward()
    assert (x.grad.abs() > 0).all()


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"mid_structure": "mlp"}, ["mid_structure='mlp'", "'conv' or 'attention'"]),
        ({"mid_structure": "attention", "mid_num_heads": 7}, ["mid_num_heads=7", "1, 2, 4, 8, 16"]),
        ({"pose_dim": 0}, ["pose_dim=0", "positive"]),
        ({"pose_dim": -72}, ["pose_dim=-72", "positive"]),
        ({"pose_dim": 70}, ["pose_dim=70", "multiple of 4", "68 or 72", "downsample=false"]),
        ({"channel_mults": (1, 0)}, ["channel_mults=[1, 0]"]),
    ],
)
def test_invalid_arguments_raise_value_error_naming_value_and_allowed(kwargs: dict, fragments: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        UNet1D(**kwargs)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_odd_length_works_without_downsampling() -> None:
    model = UNet1D(pose_dim=63, base_channels=8, downsample=False)
    assert model(torch.randn(2, 63), torch.tensor([1, 2])).shape == (2, 63)


def test_wrong_input_width_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"\(B, 72\)"):
        UNet1D(base_channels=8)(torch.randn(2, 70), torch.tensor([1, 2]))
