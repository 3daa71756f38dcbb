"""The built-in pose set: deterministic, within limits, and structured the way its docstring says."""

from __future__ import annotations

import numpy as np
import pytest

from unet1d.body.kinematics import forward_kinematics, global_rotations
from unet1d.body.rotations import (
    axis_angle_to_quaternion,
    axis_quaternion,
    rotate_vectors,
)
from unet1d.data.builtin import (
    CLIP_FRAMES,
    FAMILY_NAMES,
    FAMILY_WEIGHTS,
    JOINT_LIMITS,
    JOINT_NAMES,
    generate_builtin_poses,
    joint_limit_violations,
)

J = {name: i for i, name in enumerate(JOINT_NAMES)}


@pytest.fixture(scope="module")
def data():
    return generate_builtin_poses(20000, seed=0)


def family(data, name: str) -> np.ndarray:
    return data.labels == FAMILY_NAMES.index(name)


def joint(poses: np.ndarray, name: str, axis: str) -> np.ndarray:
    return poses.reshape(-1, 24, 3)[:, J[name], "xyz".index(axis)]


def body_frame_positions(poses: np.ndarray) -> np.ndarray:
    """Joint positions with the random heading undone (y up, the body facing +z)."""
    positions = forward_kinematics(poses)
    forward = rotate_vectors(axis_angle_to_quaternion(poses[:, :3]), np.array([0.0, 0.0, 1.0]))
    heading = np.arctan2(forward[:, 0], forward[:, 2])
    undo = np.repeat(axis_quaternion(-heading, 1)[:, None], 24, axis=1)
    return rotate_vectors(undo, positions)


def test_shapes_and_types(data):
    assert data.poses.shape == (20000, 72) and data.poses.dtype == np.float32
    assert data.labels.shape == data.sequence_ids.shape == (20000,)
    assert data.family_names == list(FAMILY_NAMES) and len(JOINT_NAMES) == 24
    assert JOINT_LIMITS.shape == (24, 3, 2) and (JOINT_LIMITS[..., 0] < JOINT_LIMITS[..., 1]).all()


def test_deterministic_per_seed_and_different_across_seeds(data):
    again = generate_builtin_poses(20000, seed=0)
    np.testing.assert_array_equal(again.poses, data.poses)
    np.testing.assert_array_equal(again.labels, data.labels)
    other = generate_builtin_poses(20000, seed=1)
    assert np.abs(other.poses - data.poses).mean() > 0.05
    assert (other.labels != data.labels).mean() > 0.5


def test_chosen_frames_are_the_full_sets_rows(data):
    """Computing only some frames (an evaluation's one frame per clip) gives exactly the full set's rows,
    also where whole clips have no chosen frame (their random draws must still be taken)."""
    rng = np.random.default_rng(7)
    one_per_clip = np.arange(0, 20000, CLIP_FRAMES) + rng.integers(0, CLIP_FRAMES, 20000 // CLIP_FRAMES + 1)[:667]
    sparse = np.sort(rng.choice(20000, 150, replace=False))  # most clips without a frame
    for frames in (one_per_clip[one_per_clip < 20000], sparse, np.array([19999])):
        part = generate_builtin_poses(20000, seed=0, frames=frames)
        np.testing.assert_array_equal(part.poses, data.poses[frames])
        np.testing.assert_array_equal(part.labels, data.labels[frames])
        np.testing.assert_array_equal(part.sequence_ids, data.sequence_ids[frames])
    with pytest.raises(ValueError, match="frames must lie in"):
        generate_builtin_poses(100, seed=0, frames=np.array([100]))


def test_sequences_are_contiguous_single_family_clips(data):
    ids = data.sequence_ids
    assert (np.diff(ids) >= 0).all() and ids[-1] == 20000 // CLIP_FRAMES - (20000 % CLIP_FRAMES == 0)
    assert (np.bincount(ids)[:-1] == CLIP_FRAMES).all()
    for clip in np.unique(ids)[:50]:
        assert len(np.unique(data.labels[ids == clip])) == 1
    short = generate_builtin_poses(45, seed=3)  # one full clip and a 15-frame one
    assert np.bincount(short.sequence_ids).tolist() == [30, 15]


def test_all_poses_within_joint_limits_without_leaning_on_the_clip(data):
    assert joint_limit_violations(data.poses).max() == 0
    # The final clip is a safety net: values pinned exactly at a bound would show it doing the work.
    bounds = JOINT_LIMITS.astype(np.float32)
    poses = data.poses.reshape(-1, 24, 3)
    pinned = (poses == bounds[..., 0]) | (poses == bounds[..., 1])
    assert pinned.mean() < 1e-4


def test_joint_limit_violations_counts_components_and_accepts_body63():
    poses = np.zeros((3, 72), np.float32)
    poses[1, 3 * J["left_knee"]] = -1.0  # knee bent backwards
    poses[2, 3 * J["left_elbow"] + 1] = 1.0  # left elbow bent the wrong way
    poses[2, 3 * J["right_hip"]] = -3.0  # thigh through the chest
    assert joint_limit_violations(poses).tolist() == [0, 1, 2]
    assert joint_limit_violations(poses.reshape(3, 24, 3)).tolist() == [0, 1, 2]
    assert joint_limit_violations(poses[:, 3:66]).tolist() == [0, 1, 2]


def test_families_present_in_expected_proportions(data):
    shares = np.bincount(data.labels, minlength=len(FAMILY_NAMES)) / len(data.labels)
    np.testing.assert_allclose(shares, FAMILY_WEIGHTS, atol=0.005)
    assert FAMILY_WEIGHTS.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("gait", ["walking", "running"])
def test_gait_alternates_left_and_right(data, gait):
    poses = data.poses[family(data, gait)]
    left, right = joint(poses, "left_hip", "x"), joint(poses, "right_hip", "x")
    assert np.corrcoef(left, right)[0, 1] < -0.8  # one thigh forward while the other is back
    # Arms swing against the same-side leg: left shoulder and left hip flex in opposite phase.
    assert np.corrcoef(joint(poses, "left_shoulder", "x"), left)[0, 1] < -0.6
    # Sitting has no cycle: both thighs flexed, no anti-phase.
    sitting = data.poses[family(data, "sitting")]
    assert np.corrcoef(joint(sitting, "left_hip", "x"), joint(sitting, "right_hip", "x"))[0, 1] > -0.3


def test_running_has_larger_strides_than_walking(data):
    walk = joint(data.poses[family(data, "walking")], "left_hip", "x")
    run = joint(data.poses[family(data, "running")], "left_hip", "x")
    assert run.std() > 1.3 * walk.std()
    assert joint(data.poses[family(data, "running")], "left_knee", "x").max() > 1.4


def test_global_yaw_is_uniform(data):
    forward = rotate_vectors(axis_angle_to_quaternion(data.poses[:, :3]), np.array([0.0, 0.0, 1.0]))
    heading = np.arctan2(forward[:, 0], forward[:, 2])
    quarters = np.histogram(heading, bins=4, range=(-np.pi, np.pi))[0] / len(heading)
    np.testing.assert_allclose(quarters, 0.25, atol=0.04)


def test_poses_mean_what_the_family_says(data):
    """Forward kinematics on an approximate skeleton: the body parts end up where they should."""
    pos = body_frame_positions(data.poses)
    y, z = pos[..., 1], pos[..., 2]
    stand = family(data, "standing")
    assert (y[stand, J["left_ankle"]] < -0.75).all()  # legs straight under the pelvis
    assert (y[stand, J["left_wrist"]] < y[stand, J["left_shoulder"]] - 0.3).all()  # arms hang down
    raised = family(data, "arms_raised")
    assert (y[raised, J["left_wrist"]] > y[raised, J["head"]]).all()
    assert (y[raised, J["right_wrist"]] > y[raised, J["head"]]).all()
    sit = family(data, "sitting")
    assert (z[sit, J["left_knee"]] > 0.25).all()  # thighs forward...
    assert (np.abs(y[sit, J["left_knee"]] - y[sit, J["left_hip"]]) < 0.2).all()  # ...and roughly level
    crouch = family(data, "crouching")
    assert np.median(y[crouch, J["left_ankle"]]) > np.median(y[stand, J["left_ankle"]]) + 0.3  # pelvis low
    # Feet flat on the floor when standing, sitting and crouching: toe level with the ankle's drop.
    for name in ("standing", "sitting", "crouching"):
        rows = family(data, name)
        drop = y[rows, J["left_foot"]] - y[rows, J["left_ankle"]]
        assert np.abs(drop + 0.06).max() < 0.05, name
    walk = family(data, "walking")
    # The left foot is ahead exactly when the left hand is behind (counter-swing).
    assert np.corrcoef(z[walk, J["left_ankle"]], z[walk, J["left_wrist"]])[0, 1] < -0.5


def test_reaching_arm_ends_forward_and_the_head_turns_to_it(data):
    reach = family(data, "reaching")
    frame = np.arange(len(data.labels)) % CLIP_FRAMES
    first, last = reach & (frame == 0), reach & (frame == CLIP_FRAMES - 1)
    upright = data.poses.copy()
    upright[:, :3] = 0  # the body's own frame: facing +z, left = +x
    pos = forward_kinematics(upright)
    hand_forward = np.maximum(pos[:, J["left_wrist"], 2], pos[:, J["right_wrist"], 2])
    assert np.median(hand_forward[last]) > np.median(hand_forward[first]) + 0.2
    left_reaches = pos[last, J["left_wrist"], 2] > pos[last, J["right_wrist"], 2]
    gaze = global_rotations(upright[last])[:, J["head"]] @ np.array([0.0, 0.0, 1.0])
    assert (np.sign(gaze[:, 0]) == np.where(left_reaches, 1, -1)).mean() > 0.9
