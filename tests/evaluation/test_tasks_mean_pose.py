"""The denoising estimate: the rotation mean of draws, right across the +-pi wrap of axis-angle."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from unet1d.evaluation.tasks import mean_pose


def test_draws_symmetric_about_a_rotation_average_to_it():
    rng = np.random.default_rng(0)
    base = Rotation.from_rotvec(rng.normal(size=(6, 3)))  # two poses of three joints
    offset = Rotation.from_rotvec(rng.normal(scale=0.2, size=(6, 3)))
    draws = np.stack([(base * offset).as_rotvec(), (base * offset.inv()).as_rotvec()], axis=1)  # (6, 2, 3)
    draws = draws.reshape(2, 3, 2, 3).transpose(0, 2, 1, 3).reshape(2, 2, 9)  # (N=2, H=2, D=9)
    mean = Rotation.from_rotvec(mean_pose(draws).reshape(-1, 3).astype(np.float64))
    # the chordal mean of q*o and q*o^-1 is q exactly (their quaternion sum is parallel to q)
    assert (mean.inv() * base).magnitude().max() < 1e-5


def test_draws_on_both_sides_of_the_wrap_average_to_pi_not_to_zero():
    near_pi = np.array([[[3.1, 0.0, 0.0], [-3.1, 0.0, 0.0]]])  # 3.1 rad each way about x: 0.08 rad apart
    mean = Rotation.from_rotvec(mean_pose(near_pi)[0].astype(np.float64))
    assert abs(mean.magnitude() - np.pi) < 1e-5  # the plain average of the vectors would be the identity
    assert np.isclose(abs(mean.as_rotvec()[0]), np.pi, atol=1e-5)


def test_one_draw_is_its_own_mean():
    draws = np.random.default_rng(1).normal(size=(4, 1, 72)).astype(np.float32)
    same = Rotation.from_rotvec(mean_pose(draws).reshape(-1, 3).astype(np.float64))
    assert (same.inv() * Rotation.from_rotvec(draws.reshape(-1, 3).astype(np.float64))).magnitude().max() < 1e-5
