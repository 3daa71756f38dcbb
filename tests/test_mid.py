"""`model.mid`: the middle block as one value, equal to the mid_structure/mid_num_heads pair."""

from __future__ import annotations

import pytest

from unet1d import UNet1D
from unet1d.config_sources import load_config
from unet1d.errors import ConfigError


def resolve(*flags: str):
    return load_config(None, list(flags), environ={}).model


@pytest.mark.parametrize(
    ("flags", "pair"),
    [
        (["--mid", "conv"], ("conv", 8)),
        (["--mid", "attention-16"], ("attention", 16)),
        (["--model.mid=attention-4", "--mid_structure=attention"], ("attention", 4)),  # agreeing: fine
        (["--mid", "conv", "--mid_num_heads", "4"], ("conv", 4)),  # heads mean nothing to a conv middle
    ],
)
def test_mid_sets_the_pair(flags: list[str], pair: tuple[str, int]) -> None:
    model = resolve(*flags)
    assert (model.mid_structure, model.mid_num_heads) == pair


def test_the_pair_names_mid_and_follows_later_changes() -> None:
    model = resolve("--mid_structure", "attention", "--mid_num_heads", "8")  # the seed's flags, verbatim
    assert model.mid == "attention-8"
    model.mid_num_heads = 16
    assert model.mid == "attention-16"
    assert resolve().mid == "conv"


def test_mid_builds_the_same_network_as_the_pair() -> None:
    by_mid = UNet1D.from_config(resolve("--mid", "attention-8", "--base_channels", "16"))
    by_pair = UNet1D(base_channels=16, mid_structure="attention", mid_num_heads=8)
    assert type(by_mid.mid_block) is type(by_pair.mid_block)
    assert sum(p.numel() for p in by_mid.parameters()) == sum(p.numel() for p in by_pair.parameters())


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--mid", "attention-8", "--mid_structure", "conv"], ["mid='attention-8'", "mid_structure='conv'"]),
        (["--mid", "attention-8", "--mid_num_heads", "4"], ["mid='attention-8'", "mid_num_heads=4"]),
        (["--mid", "conv", "--mid_structure", "attention"], ["mid='conv'", "mid_structure='attention'"]),
        (["--mid", "attention-6"], ["mid='attention-6'", "does not divide the 512", "valid head counts"]),
        (["--mid", "attn8"], ["mid='attn8'", "allowed: conv, or attention-H", "attention-8"]),
    ],
)
def test_bad_or_conflicting_mid_names_both_values(flags: list[str], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(*flags)
    assert all(fragment in str(caught.value) for fragment in fragments), str(caught.value)
