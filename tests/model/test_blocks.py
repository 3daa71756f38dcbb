"""The blocks: attention against explicit softmax attention, the sinusoidal and position codes in closed form."""

from __future__ import annotations

import pytest
import torch

from unet1d import UNet1D, count_parameters
from unet1d.model import SelfAttention1D, SinusoidalTimeEmbedding, make_position_encoding


def test_attention_matches_explicit_softmax_attention() -> None:
    """SelfAttention1D equals the textbook multi-head formula computed by hand."""
    torch.manual_seed(0)
    block = SelfAttention1D(channels=16, num_heads=4, time_dim=8).eval()
    x, time_emb = torch.randn(2, 16, 6), torch.randn(2, 8)
    h = block.norm(x + block.time_proj(time_emb)[:, :, None])
    q, k, v = block.qkv(h).view(2, 3, 4, 4, 6).unbind(dim=1)  # (B, heads, dim, L)
    weights = torch.softmax(torch.einsum("bhdi,bhdj->bhij", q, k) / 4**0.5, dim=-1)
    attended = torch.einsum("bhij,bhdj->bhdi", weights, v).reshape(2, 16, 6)
    torch.testing.assert_close(block(x, time_emb), x + block.out(attended))


def test_sinusoidal_embedding_closed_form() -> None:
    embed = SinusoidalTimeEmbedding(8)
    out = embed(torch.tensor([0.0, 2.0]))
    assert torch.equal(out[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    freqs = torch.exp(-torch.log(torch.tensor(10000.0)) * torch.arange(4) / 4)
    torch.testing.assert_close(out[1], torch.cat([torch.sin(2 * freqs), torch.cos(2 * freqs)]))


def test_position_encoding_closed_form() -> None:
    """Channel i < C/2 holds sin(p * L^(-i/(C/2))), channel C/2 + i the cosine; 'none' is all zeros."""
    signal = make_position_encoding("sinusoidal", 8, 72)
    assert signal.shape == (8, 72)
    positions = torch.arange(72, dtype=torch.float32)
    for i in range(4):
        freq = 72.0 ** (-i / 4)
        torch.testing.assert_close(signal[i], torch.sin(freq * positions))
        torch.testing.assert_close(signal[4 + i], torch.cos(freq * positions))
    assert len({tuple(column.tolist()) for column in signal.T}) == 72  # every position has its own code
    assert torch.equal(make_position_encoding("none", 8, 72), torch.zeros(8, 72))
    assert torch.equal(make_position_encoding("sinusoidal", 9, 72)[8], torch.zeros(72))  # odd C: last stays 0
    with pytest.raises(ValueError, match=r"position='learned' is not allowed; choose 'none' or 'sinusoidal'"):
        make_position_encoding("learned", 8, 72)


@pytest.mark.parametrize("structure", ["conv", "attention"])
def test_position_encoding_adds_no_parameters_and_no_checkpoint_keys(structure: str) -> None:
    plain = UNet1D(mid_structure=structure, position="none")
    placed = UNet1D(mid_structure=structure, position="sinusoidal")
    assert count_parameters(plain) == count_parameters(placed)
    assert plain.state_dict().keys() == placed.state_dict().keys()  # checkpoints load either way


def test_position_encoding_lets_shared_kernels_tell_positions_apart() -> None:
    """A constant pose: without the encoding, interior positions (far from the zero padding) get
    the same output; with it, they differ."""
    outputs = {}
    for position in ("none", "sinusoidal"):
        torch.manual_seed(0)
        model = UNet1D(base_channels=16, downsample=False, norm="group", position=position).eval()
        outputs[position] = model(torch.full((1, 72), 0.5), torch.tensor([100]))[0, 30:42]
    torch.testing.assert_close(outputs["none"], outputs["none"][:1].expand(12))
    assert outputs["sinusoidal"].std() > 1e-3


def test_halve_and_double_length_are_pooling_and_nearest_upsampling() -> None:
    import torch.nn.functional as F

    from unet1d.model.blocks import double_length, halve_length

    x = torch.arange(2 * 3 * 8, dtype=torch.float32).reshape(2, 3, 8)
    assert torch.equal(halve_length(x)[0, 0], torch.tensor([0.5, 2.5, 4.5, 6.5]))  # means of neighbours
    assert torch.equal(halve_length(x), F.avg_pool1d(x, kernel_size=2))
    assert torch.equal(double_length(x)[0, 0, :4], torch.tensor([0.0, 0.0, 1.0, 1.0]))  # each value twice
    assert torch.equal(double_length(x), F.interpolate(x, scale_factor=2.0, mode="nearest"))


def test_time_projections_equal_each_blocks_own_linear() -> None:
    from unet1d.model.blocks import ResBlock1D, SelfAttention1D, time_projections

    torch.manual_seed(0)
    blocks = [ResBlock1D(4, 8, 12, norm="group"), SelfAttention1D(16, 4, 12), ResBlock1D(8, 6, 12, norm="group")]
    emb = torch.randn(5, 12)
    shifts = time_projections(blocks, emb)
    assert [s.shape for s in shifts] == [(5, 8), (5, 16), (5, 6)]
    for block, shift in zip(blocks, shifts, strict=True):
        torch.testing.assert_close(shift, block.time_proj(emb))
    x = torch.randn(5, 4, 10)
    torch.testing.assert_close(blocks[0](x, None, shifts[0]), blocks[0](x, emb))  # precomputed = computed inside
