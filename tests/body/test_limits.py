"""Human joint limits (clinical ranges of motion on SMPL's axes) against what real people and the generator do."""

from __future__ import annotations

import numpy as np
import pytest

from unet1d.body.limits import (
    CLINICAL_RANGES,
    constant_components,
    frames_beyond,
    human_limits,
    human_limits_for_width,
)
from unet1d.body.rotations import euler_to_axis_angle
from unet1d.body.skeleton import GENERATOR_RANGES, JOINT_LIMITS, JOINT_NAMES, joint_index
from unet1d.data.builtin import generate_builtin_poses


def _pose(joint: str, axis: str, value: float) -> np.ndarray:
    pose = np.zeros((1, 72))
    pose[0, joint_index(joint) * 3 + "xyz".index(axis)] = value
    return pose


LIMITS72 = human_limits_for_width(72)


@pytest.mark.parametrize(
    ("joint", "axis", "value"),
    [
        ("left_collar", "z", -0.66),  # issue 22: real takes drop the collar this far (generator range: -0.4)
        ("right_collar", "z", 0.66),  # its mirror
        ("spine1", "x", 1.40),  # issue 22: a real deep bend (generator range: 0.8)
        ("left_knee", "x", np.radians(150)),  # full knee flexion
        ("left_hip", "x", -np.radians(120)),  # full hip flexion
        ("left_shoulder", "z", -np.pi / 2),  # arm at the side (SMPL's zero is the T-pose)
        ("left_elbow", "y", -np.radians(150)),  # full elbow flexion
    ],
)
def test_real_ranges_are_inside(joint, axis, value) -> None:
    assert not frames_beyond(_pose(joint, axis, value), LIMITS72)[0]


@pytest.mark.parametrize(
    ("joint", "axis", "value"),
    [
        ("left_knee", "x", -1.0),  # knee bent 57 deg backwards
        ("left_elbow", "y", 1.0),  # left elbow bent 57 deg backwards
        ("right_elbow", "y", -1.0),  # its mirror
        ("spine1", "x", -1.5),  # 86 deg of back extension in one joint
        ("head", "y", 2.5),  # head turned 143 deg
    ],
)
def test_impossible_poses_are_outside(joint, axis, value) -> None:
    assert frames_beyond(_pose(joint, axis, value), LIMITS72)[0]


def test_every_clinical_extreme_and_combination_is_inside() -> None:
    """Axis-angle of any Euler combination of a joint's clinical ranges (random, any order) stays inside."""
    rng = np.random.default_rng(0)
    limits = human_limits()
    for name, (*ranges, _) in CLINICAL_RANGES.items():
        low, high = np.radians([r[0] for r in ranges]), np.radians([r[1] for r in ranges])
        euler = rng.uniform(low, high, (2000, 3))
        for order in ("xyz", "zyx", "yxz"):
            vectors = euler_to_axis_angle(euler, order)
            joint = limits[JOINT_NAMES.index(name)]
            assert ((vectors >= joint[:, 0] - 1e-9) & (vectors <= joint[:, 1] + 1e-9)).all(), name


def test_right_joints_mirror_the_left() -> None:
    limits = human_limits()
    for name in CLINICAL_RANGES:
        if name.startswith("left_"):
            left, right = limits[JOINT_NAMES.index(name)], limits[JOINT_NAMES.index("right_" + name[5:])]
            assert np.allclose(right[0], left[0]) and np.allclose(right[1:], -left[1:, ::-1])


def test_the_generators_poses_are_human() -> None:
    poses = generate_builtin_poses(20_000, seed=0).poses
    assert frames_beyond(poses, LIMITS72).mean() <= 0.001
    assert JOINT_LIMITS is GENERATOR_RANGES  # the old name stays for code that imported it


def test_body_only_limits_are_the_body_rows() -> None:
    assert np.array_equal(human_limits_for_width(63), human_limits()[1:22].reshape(-1, 2))
    with pytest.raises(ValueError, match="width 50"):
        human_limits_for_width(50)


def test_zero_variance_components_get_their_own_line_not_an_off_limits_verdict() -> None:
    """Issue 22: hands exactly zero in training (SMPL-H -> SMPL), samples carry 1e-3 there."""
    from unet1d.evaluation.quality import limit_scores

    train = generate_builtin_poses(2000, seed=1).poses
    train[:, 66:] = 0.0
    still = constant_components(train)
    assert np.flatnonzero(still).tolist() == list(range(66, 72))
    samples = train[:500].copy()
    samples[:, 66:] = 1e-3
    samples[:100, 67] = 0.3  # a fifth of the samples wave a hand the data never moves
    envelope = np.stack([train.min(0), train.max(0)], axis=-1)  # zero-width where the hands are
    scores = limit_scores(samples, envelope, still, train)
    assert scores["poses_outside_limits"] == 0.0
    assert scores["constant_components"] == 6 and scores["constant_off"] == pytest.approx(0.2)
    naive = limit_scores(samples, envelope)
    assert naive["poses_outside_limits"] == 1.0  # what the report said before
