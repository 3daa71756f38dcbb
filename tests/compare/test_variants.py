"""`compare` puts runs in one variant only when they are repeats: same resolved config but the seed
(and fields that cannot change results); anything else is its own variant, named by what differs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from unet1d.compare.runs import compare_runs, variant_names
from unet1d.config_sources import load_config
from unet1d.training import train


def stored(*flags: str) -> dict:
    """A config as a run stores it in config.yaml."""
    return yaml.safe_load(load_config(None, list(flags), environ={}).to_yaml())


def test_repeats_share_a_variant_and_other_differences_name_their_own():
    conv = ("--mid_structure", "conv")
    configs = [
        stored(*conv, "--seed", "0"),
        stored(*conv, "--seed", "1", "--output_dir", "elsewhere", "--log_every", "3", "--checkpoint_every", "7"),
        stored(*conv, "--seed", "0", "--max_steps", "500"),
        stored("--mid_structure", "attention", "--mid_num_heads", "4"),
        stored(*conv, "--mid_num_heads", "16"),  # heads mean nothing to a conv middle: a repeat of the first
    ]
    assert variant_names(configs) == [
        "conv max_steps=2000",
        "conv max_steps=2000",
        "conv max_steps=500",
        "attention-h4 max_steps=2000",
        "conv max_steps=2000",
    ]
    assert variant_names([stored("--seed", "0"), stored("--seed", "5")]) == ["attention-h8", "attention-h8"]
    evaluated_apart = [stored("--final_eval_samples", "0", "--task_poses", "50"), stored("--task_poses", "200")]
    assert variant_names(evaluated_apart) == ["attention-h8", "attention-h8"]  # evaluation-only: same training
    lists = variant_names([stored(*conv), stored(*conv, "--channel_mults", "1,2")])
    assert lists == ["conv channel_mults=[1,2,4]", "conv channel_mults=[1,2]"]


def test_a_difference_the_short_name_would_hide_is_spelled_out():
    # base_channels shows as -c64 only away from the default; pose_dim only at full length: both named anyway
    names = variant_names([stored("--channel_mults", "1", "--pose_dim", "72"), stored("--channel_mults", "1")])
    assert names[0] == names[1]  # identical configs
    a, b = stored("--channel_mults", "1"), stored("--channel_mults", "1")
    b["model"]["pose_dim"] = 70  # not a valid config (pose_format says 72), as a run of another version might store
    assert len(set(variant_names([a, b]))) == 2


@pytest.mark.slow
def test_compare_on_runs_differing_in_lr_shows_two_variants(tiny_config, tmp_path: Path):
    for name, flags in {
        "lr-a-seed0": ["--seed", "0"],
        "lr-a-seed1": ["--seed", "1", "--log_every", "2"],
        "lr-b-seed0": ["--seed", "0", "--lr", "1e-3"],
    }.items():
        assert train(tiny_config("--max_steps", "5", *flags, output_dir=tmp_path / name)).exit_code == 0

    rows, variants = compare_runs([tmp_path])

    assert {v.variant: v.runs for v in variants} == {"attention-h8-c8 lr=0.002": 2, "attention-h8-c8 lr=0.001": 1}
    assert {Path(r.run).name: r.variant for r in rows}["lr-b-seed0"] == "attention-h8-c8 lr=0.001"
    together = next(v for v in variants if v.runs == 2)
    losses = [r.final_train_loss for r in rows if r.variant == "attention-h8-c8 lr=0.002"]
    assert together.mean["final_train_loss"] == pytest.approx(sum(losses) / 2)
