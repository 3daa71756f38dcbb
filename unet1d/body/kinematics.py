"""Joint positions from pose vectors, on an approximate SMPL skeleton (no body model needed).

Good enough to check that a pose means what it should (feet below the pelvis, hands above the
head) and to draw stick figures; not a substitute for the SMPL body model and its shape betas.
"""

from __future__ import annotations

import numpy as np

from unet1d.body.rotations import axis_angle_to_matrix
from unet1d.body.skeleton import JOINT_NAMES, NUM_JOINTS

PARENTS: list[int] = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
"""SMPL kinematic tree: the parent of each joint (the pelvis has none)."""

# Bone vectors (metres, SMPL rest frame: y up, x to the body's left, z forward) from each joint's
# parent, rounded from an average adult; right joints mirror the left (x negated).
_LEFT_AND_CENTRE_OFFSETS: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, 0.0, 0.0),
    "left_hip": (0.06, -0.09, 0.0),
    "spine1": (0.0, 0.11, -0.01),
    "left_knee": (0.04, -0.38, 0.0),
    "spine2": (0.0, 0.13, 0.0),
    "left_ankle": (-0.01, -0.40, -0.04),
    "spine3": (0.0, 0.05, 0.0),
    "left_foot": (0.02, -0.06, 0.12),
    "neck": (0.0, 0.21, -0.03),
    "left_collar": (0.08, 0.11, -0.01),
    "head": (0.0, 0.09, 0.05),
    "left_shoulder": (0.12, 0.05, -0.01),
    "left_elbow": (0.26, -0.01, -0.02),
    "left_wrist": (0.25, 0.0, 0.0),
    "left_hand": (0.08, -0.01, -0.01),
}


def _build_offsets() -> np.ndarray:
    offsets = np.zeros((NUM_JOINTS, 3))
    for name, offset in _LEFT_AND_CENTRE_OFFSETS.items():
        offsets[JOINT_NAMES.index(name)] = offset
        if name.startswith("left_"):
            x, y, z = offset
            offsets[JOINT_NAMES.index("right_" + name.removeprefix("left_"))] = (-x, y, z)
    return offsets


REST_OFFSETS: np.ndarray = _build_offsets()
"""(24, 3): each joint's rest position relative to its parent."""


def global_rotations(poses: np.ndarray) -> np.ndarray:
    """SMPL-order axis-angle poses (N, 72) -> each joint's rotation in the world (N, 24, 3, 3)."""
    poses = np.asarray(poses, dtype=np.float64)
    world = axis_angle_to_matrix(poses.reshape(poses.shape[0], NUM_JOINTS, 3))
    for joint, parent in enumerate(PARENTS[1:], start=1):  # parents always come first in SMPL order
        world[:, joint] = world[:, parent] @ world[:, joint]
    return world


def forward_kinematics(poses: np.ndarray) -> np.ndarray:
    """SMPL-order axis-angle poses (N, 72) -> joint positions (N, 24, 3), pelvis at the origin."""
    world = global_rotations(poses)
    positions = np.zeros((world.shape[0], NUM_JOINTS, 3))
    for joint, parent in enumerate(PARENTS[1:], start=1):
        positions[:, joint] = positions[:, parent] + world[:, parent] @ REST_OFFSETS[joint]
    return positions


# World -> SMPL's y-up frame: identity for y-up data; for AMASS's z-up world a -90 deg turn about x
# (z -> y, -y -> z), so a person standing in either world stands along +y, facing +z at heading 0.
TO_Y_UP: dict[str, np.ndarray] = {
    "y": np.eye(3),
    "z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
}


def upright_positions(poses: np.ndarray, up: str = "y") -> np.ndarray:
    """Joint positions (N, 24, 3) of poses stored in a world whose vertical is ``up``, expressed with y up
    (what figures and height checks expect), pelvis at the origin."""
    return forward_kinematics(poses) @ TO_Y_UP[up].T
