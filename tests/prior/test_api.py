"""PosePrior speaks the data's convention: observed components bit for bit, heading restored, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unet1d.body.heading import apply_heading, canonical_heading, heading_of
from unet1d.body.skeleton import COMPLETION_PARTS, JOINT_NAMES
from unet1d.config import Config
from unet1d.data import NormStats
from unet1d.data.builtin import generate_builtin_poses
from unet1d.data.representation import encode, network_config, wrap_stats
from unet1d.errors import UserError
from unet1d.model import UNet1D
from unet1d.prior import PosePrior, parse_mask


def tiny_prior(**data: object) -> tuple[PosePrior, np.ndarray]:
    """An untrained 8-channel network: what is tested here is the plumbing around it, not its skill."""
    config = Config.model_validate({"model": {"base_channels": 8, "mid_num_heads": 2}, "data": data})
    torch.manual_seed(0)
    poses = generate_builtin_poses(600, 3).poses
    network = UNet1D.from_config(network_config(config))
    stats = wrap_stats(NormStats.fit(encode(canonical_heading(poses), config.data.representation)),
                       config.data.representation)  # fmt: skip
    return PosePrior(network, config, stats, "cpu"), poses[::60]


def test_parse_mask_takes_parts_and_joints_and_names_what_is_allowed():
    legs = parse_mask("legs", 72)
    assert [JOINT_NAMES[j] for j in np.flatnonzero(legs)] == sorted(COMPLETION_PARTS["legs"], key=JOINT_NAMES.index)
    both = parse_mask(" Left_Arm , head", 72)
    assert set(np.flatnonzero(both)) == {JOINT_NAMES.index(n) for n in (*COMPLETION_PARTS["left_arm"], "head")}
    assert parse_mask("trunk", 63).shape == (21,)  # body-only: no pelvis, no hands
    with pytest.raises(UserError, match=r"'tail' is no part or joint of a 72-number pose; allowed: parts left_leg"):
        parse_mask("legs,tail", 72)
    with pytest.raises(UserError, match="left_hand"):
        parse_mask("left_hand", 63)  # a 63-number pose has no SMPL hand joints
    with pytest.raises(UserError, match="hides nothing; allowed: parts"):
        parse_mask(" , ", 72)
    everything = ",".join(JOINT_NAMES)
    with pytest.raises(UserError, match="hides every joint"):
        parse_mask(everything, 72)


@pytest.mark.parametrize("representation", ["axis_angle", "rot6d"])
def test_observed_components_come_back_bit_for_bit_and_hidden_ones_are_drawn(representation):
    prior, poses = tiny_prior(representation=representation)
    hidden = parse_mask("left_arm", 72)
    out = prior.complete(poses, hidden, hypotheses=3, steps=4)
    assert out.shape == (len(poses), 3, 72) and out.dtype == np.float32
    columns = np.repeat(hidden, 3)
    assert np.array_equal(out[:, :, ~columns], np.broadcast_to(poses[:, None, ~columns], out[:, :, ~columns].shape))
    assert not np.allclose(out[:, 0, columns], poses[:, columns])
    assert not np.allclose(out[:, 0, columns], out[:, 1, columns])  # hypotheses differ


def test_a_turned_input_gets_the_same_completion_turned():
    """Canonical-heading runs see poses at heading 0: turning the input about the up axis must not change the
    completed joints (local rotations), and the output must face where the input faced."""
    prior, poses = tiny_prior(heading="canonical")
    hidden = parse_mask("legs", 72)
    turned = apply_heading(poses, np.full(len(poses), 1.3), prior.up_axis)
    first = prior.complete(poses, hidden, hypotheses=2, steps=4, seed=7)
    second = prior.complete(turned, hidden, hypotheses=2, steps=4, seed=7)
    columns = np.repeat(hidden, 3)
    np.testing.assert_allclose(first[:, :, columns], second[:, :, columns], atol=2e-4)
    np.testing.assert_allclose(heading_of(second[:, 0], prior.up_axis), heading_of(turned, prior.up_axis), atol=1e-5)


def test_denoise_checks_its_inputs_and_keeps_the_width():
    prior, poses = tiny_prior()
    out = prior.denoise(poses, noise_std=0.1, hypotheses=2, steps=4)
    assert out.shape == (len(poses), 2, 72) and np.isfinite(out).all()
    with pytest.raises(UserError, match="must be > 0"):
        prior.denoise(poses, noise_std=0.0)
    with pytest.raises(UserError, match=r"\(N, 72\)"):
        prior.complete(poses[:, :63], parse_mask("legs", 72))
    with pytest.raises(UserError, match="NaN"):
        prior.denoise(np.full_like(poses, np.nan), noise_std=0.1)
    with pytest.raises(UserError, match="allowed: replace, repaint, dps, dposer"):
        prior.complete(poses, parse_mask("legs", 72), method="guess")


def test_shrink_pulls_hypotheses_to_their_mean_and_keeps_the_observed_numbers():
    """shrink=1 returns the draws; 0 makes every hypothesis their mean; 0.5 lies halfway (in the network's
    space, here standardised axis-angle: a linear map of the pose, so halfway in radians too)."""
    prior, poses = tiny_prior()
    hidden = parse_mask("right_arm", 72)
    columns = np.repeat(hidden, 3)
    draws = prior.complete(poses, hidden, hypotheses=4, steps=4, seed=3, shrink=1.0)
    half = prior.complete(poses, hidden, hypotheses=4, steps=4, seed=3, shrink=0.5)
    mean = prior.complete(poses, hidden, hypotheses=4, steps=4, seed=3, shrink=0.0)
    expected_mean = draws[:, :, columns].mean(axis=1, keepdims=True)
    np.testing.assert_allclose(
        mean[:, :, columns], np.broadcast_to(expected_mean, mean[:, :, columns].shape), atol=1e-5
    )
    np.testing.assert_allclose(half[:, :, columns], (draws[:, :, columns] + expected_mean) / 2, atol=1e-5)
    for out in (half, mean):
        assert np.array_equal(out[:, :, ~columns], draws[:, :, ~columns])
    with pytest.raises(UserError, match="--shrink 2"):
        prior.complete(poses, hidden, shrink=2.0)
