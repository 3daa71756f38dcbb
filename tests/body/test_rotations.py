"""Rotations: Euler angles in closed form, axis-angle round trips."""

from __future__ import annotations

import numpy as np

from unet1d.body.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    axis_quaternion,
    euler_to_axis_angle,
    euler_to_quaternion,
    quaternion_multiply,
    quaternion_to_axis_angle,
)


def test_euler_closed_form_matches_the_product_of_axis_rotations():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-np.pi, np.pi, (500, 3))
    for order in ("xyz", "yxz", "zyx", "xzy", "yzx", "zxy"):
        axes = ["xyz".index(letter) for letter in order]
        expected = axis_quaternion(angles[:, axes[0]], axes[0])
        for axis in axes[1:]:
            expected = quaternion_multiply(expected, axis_quaternion(angles[:, axis], axis))
        np.testing.assert_allclose(euler_to_quaternion(angles, order), expected, atol=1e-12)


def test_axis_angle_round_trip_and_single_axis_angles():
    rng = np.random.default_rng(1)
    axis = rng.normal(size=(1000, 3))
    aa = axis / np.linalg.norm(axis, axis=1, keepdims=True) * rng.uniform(0, np.pi - 1e-3, (1000, 1))
    aa[0] = 0.0
    np.testing.assert_allclose(quaternion_to_axis_angle(axis_angle_to_quaternion(aa)), aa, atol=1e-9)
    # A rotation about one axis is that axis's angle, and matches Rodrigues' matrix.
    np.testing.assert_allclose(euler_to_axis_angle(np.array([[0.0, 0.0, 1.2]])), [[0.0, 0.0, 1.2]], atol=1e-12)
    matrix = axis_angle_to_matrix(np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(matrix @ np.array([1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], atol=1e-12)
