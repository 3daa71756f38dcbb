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
        ({"mid_structure": "attention", "mid_num_heads": "8"}, ["mid_num_heads='8'", "whole number", "not str"]),
        ({"mid_structure": "attention", "mid_num_heads": True}, ["mid_num_heads=True", "not bool"]),
        ({"mid_structure": "attention", "mid_num_heads": 0}, ["mid_num_heads=0 must be positive", "1, 2, 4, 8"]),
        ({"base_channels": 128.0}, ["base_channels=128.0", "not float"]),
        ({"downsample": "no"}, ["downsample='no' must be True or False"]),
        ({"dropout": "0.1"}, ["dropout='0.1' must be a number in [0, 1)"]),
        ({"dropout": 1.5}, ["dropout=1.5"]),
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


def test_wrong_timesteps_input_types_and_dtypes_are_named() -> None:
    model = UNet1D(base_channels=8).eval()
    x = torch.randn(3, 72)
    with pytest.raises(ValueError, match=r"expected t of shape \(3,\) .* got \(3, 1\)"):
        model(x, torch.zeros(3, 1))
    with pytest.raises(ValueError, match=r"got \(2,\)"):
        model(x, torch.zeros(2))
    with pytest.raises(TypeError, match=r"must be a torch\.Tensor"):
        model(x.numpy(), 5)
    with pytest.raises(TypeError, match=r"x is torch\.float64 and the network's weights torch\.float32"):
        model(x.double(), 5)
    assert torch.equal(model(x, torch.tensor([5])), model(x, torch.full((3,), 5)))  # one timestep for every row


def test_a_network_cast_to_bf16_runs_and_keeps_its_time_phases_in_float32() -> None:
    model = UNet1D(base_channels=8, norm="group").eval()
    x, t = torch.randn(3, 72), torch.tensor([1, 500, 999])
    expected = model(x, t)
    cast = model.to(torch.bfloat16)(x.bfloat16(), t)
    assert cast.dtype == torch.bfloat16
    torch.testing.assert_close(cast.float(), expected, atol=0.1, rtol=0.1)  # bf16 weights: a coarser answer


def reference_forward(model: UNet1D, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The network as first written, op by op: each block projects the time itself, pooling and upsampling by
    torch's own kernels, dropout always called. The fast forward must agree with it."""
    import torch.nn.functional as F

    def res(block: ResBlock1D, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        inner = F.gelu(block.norm1(block.conv1(h))) + block.time_proj(emb)[:, :, None]
        return F.gelu(block.norm2(block.conv2(block.dropout(inner)))) + block.residual(h)

    def attend(block: SelfAttention1D, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        batch, channels, length = h.shape
        normed = block.norm(h + block.time_proj(emb)[:, :, None])
        q, k, v = block.qkv(normed).view(batch, 3, block.num_heads, -1, length).transpose(-1, -2).unbind(1)
        weights = torch.softmax(q @ k.transpose(-1, -2) / (channels // block.num_heads) ** 0.5, dim=-1)
        return h + block.out((weights @ v).transpose(-1, -2).reshape(batch, channels, length))

    emb = model.time_embed(t)
    h = model.input_conv(x[:, None, :]) + model.position_signal
    skips = []
    for index, block in enumerate(model.down_blocks):
        if index > 0:
            skips.append(h)
            h = F.avg_pool1d(h, kernel_size=2) if model.downsample else h
        h = res(block, h, emb)
    h = res(model.mid_block, h, emb) if isinstance(model.mid_block, ResBlock1D) else attend(model.mid_block, h, emb)
    for block in model.up_blocks:
        h = F.interpolate(h, scale_factor=2.0, mode="nearest") if model.downsample else h
        h = res(block, torch.cat([h, skips.pop()], dim=1), emb)
    return model.output(h)[:, 0, :]


@pytest.mark.parametrize("structure", ["conv", "attention"])
@pytest.mark.parametrize(("norm", "downsample"), [("group", True), ("batch", True), ("group", False)])
def test_fast_forward_and_gradients_equal_the_reference_formulation(structure: str, norm: str, downsample: bool):
    """Merged time projections, pooling/upsampling as views and skipped p=0 dropout change no value: outputs and
    every parameter's gradient equal the op-by-op network's within float32 rounding (train mode, batch norms
    on batch statistics)."""
    torch.manual_seed(0)
    model = UNet1D(
        base_channels=16, mid_structure=structure, mid_num_heads=4, norm=norm, downsample=downsample,
        position="sinusoidal",
    )  # fmt: skip
    x, t = torch.randn(6, 72), torch.randint(0, 1000, (6,))
    fast = model(x, t)
    fast_grads = torch.autograd.grad(fast.square().sum(), list(model.parameters()))
    slow = reference_forward(model, x, t)
    slow_grads = torch.autograd.grad(slow.square().sum(), list(model.parameters()))
    assert fast.shape == slow.shape == (6, 72)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    for (name, _), a, b in zip(model.named_parameters(), fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_dropout_still_applies_when_asked_for() -> None:
    """Skipping dropout at p=0 must not skip it at p>0: two training-mode calls then differ, eval-mode ones not."""
    model = UNet1D(base_channels=16, dropout=0.5)
    x, t = torch.randn(4, 72), torch.full((4,), 10)
    assert not torch.allclose(model(x, t), model(x, t))
    model.eval()
    assert torch.equal(model(x, t), model(x, t))
