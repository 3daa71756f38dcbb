"""The heading transform: removed idempotently, restored exactly, absent from body-only poses."""

from __future__ import annotations

import numpy as np

from unet1d.body.heading import apply_heading, canonical_heading, heading_of, random_heading
from unet1d.body.rotations import axis_angle_to_quaternion


def test_heading_is_removed_idempotently_and_restored_exactly() -> None:
    from unet1d.data.builtin import generate_builtin_poses

    poses = generate_builtin_poses(600, seed=3).poses
    canonical = canonical_heading(poses)
    assert np.abs(heading_of(canonical)).max() < 1e-6
    np.testing.assert_allclose(canonical_heading(canonical), canonical, atol=1e-6)
    np.testing.assert_array_equal(canonical[:, 3:], poses[:, 3:])  # only the root turns
    back = apply_heading(canonical, heading_of(poses))
    dots = np.abs((axis_angle_to_quaternion(back[:, :3]) * axis_angle_to_quaternion(poses[:, :3])).sum(-1))
    assert dots.min() > 1 - 1e-6  # the same rotation (axis-angle may differ by the +-pi wrap)
    turned = random_heading(canonical, np.random.default_rng(0))
    headings = heading_of(turned)
    assert np.abs(headings).max() <= np.pi and np.histogram(headings, bins=4)[0].min() > 100  # spread round
    assert np.abs(np.linalg.norm(turned[:, :3], axis=1)).max() <= np.pi + 1e-5  # never past the wrap


def test_body_only_poses_have_no_heading() -> None:
    body = np.random.default_rng(0).normal(scale=0.5, size=(10, 72)).astype(np.float32)[:, 3:66]
    np.testing.assert_array_equal(canonical_heading(body), body)
