"""data.representation rot6d: the 6D map round-trips, the network sees 144 numbers, everything else axis-angle."""

from __future__ import annotations

import numpy as np
import torch

from unet1d.body.rotations import axis_angle_to_matrix
from unet1d.config_sources import load_config
from unet1d.data.representation import (
    EncodedStats,
    encoded_width,
    from_rot6d,
    network_config,
    rot6d_to_matrix,
    to_rot6d,
)


def rotations_below_pi(n: int, seed: int) -> np.ndarray:
    """(n, 72) axis-angle with every joint's angle in [0, 3): a unique axis-angle per rotation."""
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(n, 24, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    return (axes * rng.uniform(0, 3.0, size=(n, 24, 1))).reshape(n, 72)


def test_axis_angle_round_trips_through_6d_and_identity_is_the_first_two_unit_columns() -> None:
    poses = rotations_below_pi(500, 0)
    sixd = to_rot6d(poses)
    assert sixd.shape == (500, 144) and encoded_width(72, "rot6d") == 144 and encoded_width(63, "axis_angle") == 63
    np.testing.assert_allclose(from_rot6d(sixd), poses, atol=2e-5)
    np.testing.assert_array_equal(to_rot6d(np.zeros((1, 6)))[0], [1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0])


def test_any_6d_vector_maps_to_a_rotation_and_a_rotation_maps_to_itself() -> None:
    noisy = to_rot6d(rotations_below_pi(200, 1)) + np.random.default_rng(2).normal(0, 0.3, (200, 144))
    matrices = rot6d_to_matrix(noisy)
    identity = np.broadcast_to(np.eye(3), matrices.shape)
    np.testing.assert_allclose(matrices.swapaxes(-1, -2) @ matrices, identity, atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(matrices), 1.0, atol=1e-9)
    clean = rotations_below_pi(50, 3)
    np.testing.assert_allclose(
        rot6d_to_matrix(to_rot6d(clean)), axis_angle_to_matrix(clean.reshape(50, 24, 3)), atol=1e-6
    )


def test_rot6d_runs_load_144_long_statistics_but_keep_axis_angle_poses() -> None:
    from unet1d.data import load_pose_data

    config = load_config(None, ["--representation", "rot6d", "--builtin_samples", "2000"], environ={})
    splits = load_pose_data(config.data, 72, seed=0)
    assert splits.train.shape[1] == 72 and isinstance(splits.stats, EncodedStats) and splits.stats.dim == 144
    normalised = splits.stats.normalize(splits.train[:100])
    assert normalised.shape == (100, 144) and abs(float(normalised.mean())) < 0.5
    np.testing.assert_allclose(splits.stats.denormalize(normalised), splits.train[:100], atol=1e-4)
    assert splits.stats.envelope.shape == (72, 2)  # file data's limits stay in axis-angle
    assert network_config(config).pose_dim == 144 and config.model.pose_dim == 72


def test_a_rot6d_network_samples_axis_angle_poses() -> None:
    from unet1d.data import load_pose_data
    from unet1d.evaluation.sampling import sample_poses
    from unet1d.model import UNet1D

    flags = ["--representation", "rot6d", "--base_channels", "8", "--builtin_samples", "500", "--sample_steps", "3"]
    config = load_config(None, flags, environ={})
    splits = load_pose_data(config.data, 72, seed=0)
    network = UNet1D.from_config(network_config(config)).eval()
    poses = sample_poses(network, config, splits.stats, 20, seed=0, device=torch.device("cpu"))
    assert poses.shape == (20, 72) and np.linalg.norm(poses.reshape(20, 24, 3), axis=-1).max() <= np.pi + 1e-5
    body = ["--representation", "rot6d", "--pose_format", "body63", "--pose_dim", "63", "--downsample", "false"]
    assert network_config(load_config(None, body, environ={})).pose_dim == 126
