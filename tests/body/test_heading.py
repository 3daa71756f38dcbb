"""The heading transform: removed idempotently, restored exactly, absent from body-only poses."""

from __future__ import annotations

import numpy as np

from unet1d.body.heading import (
    apply_heading,
    canonical_heading,
    change_up_axis,
    heading_of,
    random_heading,
    upright_share,
)
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


def test_a_change_of_up_axis_keeps_bodies_upright_and_facing_the_same_way_and_goes_back() -> None:
    from unet1d.data.builtin import generate_builtin_poses

    y_up = generate_builtin_poses(300, seed=3).poses.astype(np.float64)
    z_up = change_up_axis(y_up, "y", "z")
    assert z_up.dtype == np.float64 and change_up_axis(y_up.astype(np.float32), "y", "z").dtype == np.float32
    assert upright_share(y_up, "y") == upright_share(z_up, "z") > 0.9 and upright_share(z_up, "y") < 0.1
    turn = np.angle(np.exp(1j * (heading_of(z_up, "z") - heading_of(y_up, "y"))))
    assert np.abs(turn).max() < 1e-9  # the same heading in either world
    assert np.array_equal(z_up[:, 3:], y_up[:, 3:])  # only the root moves
    assert np.abs(change_up_axis(z_up, "z", "y") - y_up).max() < 1e-9
    body_only = y_up[:, 9:]  # 63 numbers: no root, nothing to turn
    assert np.array_equal(change_up_axis(body_only, "y", "z"), body_only)
