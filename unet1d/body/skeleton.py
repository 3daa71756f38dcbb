"""The SMPL skeleton as pose vectors see it: joint names, layouts per width, the generator's ranges.

A pose is axis-angle per joint in SMPL order, radians. SMPL-H and SMPL-X share SMPL's first 22
joints (root + 21 body joints); SMPL's last two joints are the hands, which SMPL-H/X replace
by 15 finger joints each.
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES: list[str] = [
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
]
NUM_JOINTS = len(JOINT_NAMES)
BODY_JOINT_NAMES = JOINT_NAMES[1:22]  # the 21 joints of the body-only 63-number vector

_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

# The parts a pose prior is asked to complete, by SMPL joint name: DPoser's protocol (Lu et al. 2024), whose
# trunk includes both shoulders. The root (global orientation) and SMPL's hand joints are in none of them.
_LEFT_LEG = ("left_hip", "left_knee", "left_ankle", "left_foot")
_LEFT_ARM = ("left_collar", "left_shoulder", "left_elbow", "left_wrist")


def _right(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("right_" + name.removeprefix("left_") for name in names)


COMPLETION_PARTS: dict[str, tuple[str, ...]] = {
    "left_leg": _LEFT_LEG,
    "right_leg": _right(_LEFT_LEG),
    "legs": _LEFT_LEG + _right(_LEFT_LEG),
    "left_arm": _LEFT_ARM,
    "right_arm": _right(_LEFT_ARM),
    "arms": _LEFT_ARM + _right(_LEFT_ARM),
    "trunk": ("spine1", "spine2", "spine3", "left_shoulder", "right_shoulder"),
}


def joint_index(name: str) -> int:
    return _INDEX[name]


# Per-axis bounds of the axis-angle components, radians. Left and centre joints are written out;
# right joints mirror their left twin (x kept, y and z negated and swapped). Signs in SMPL's rest
# frame: hip/shoulder flexion and ankle dorsiflexion are -x, knee flexion +x, spine flexion +x,
# left elbow flexion -y, left arm raised +z. These are the built-in generator's ranges (a little past
# what it draws), not human anatomy: real people go further; see unet1d.body.limits for human limits.
_LIMITS_LEFT_AND_CENTRE: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "pelvis": ((-np.pi, np.pi), (-np.pi, np.pi), (-np.pi, np.pi)),  # global orientation: free
    "left_hip": ((-2.4, 0.7), (-0.8, 0.8), (-0.5, 1.0)),
    "spine1": ((-0.4, 0.8), (-0.5, 0.5), (-0.4, 0.4)),
    "left_knee": ((-0.15, 2.6), (-0.3, 0.3), (-0.3, 0.3)),
    "spine2": ((-0.4, 0.7), (-0.5, 0.5), (-0.4, 0.4)),
    "left_ankle": ((-0.8, 0.9), (-0.5, 0.5), (-0.5, 0.5)),
    "spine3": ((-0.4, 0.6), (-0.5, 0.5), (-0.4, 0.4)),
    "left_foot": ((-0.8, 0.5), (-0.3, 0.3), (-0.3, 0.3)),
    "neck": ((-0.6, 0.8), (-0.8, 0.8), (-0.5, 0.5)),
    "left_collar": ((-0.4, 0.4), (-0.5, 0.5), (-0.4, 0.7)),
    "head": ((-0.7, 0.8), (-1.0, 1.0), (-0.5, 0.5)),
    "left_shoulder": ((-2.2, 1.2), (-1.6, 1.6), (-1.8, 1.7)),
    "left_elbow": ((-0.6, 0.6), (-2.7, 0.3), (-0.6, 0.6)),
    "left_wrist": ((-1.0, 1.0), (-0.7, 0.7), (-1.2, 1.2)),
    "left_hand": ((-0.5, 0.5), (-0.5, 0.5), (-0.8, 0.5)),
}


def _build_limits() -> np.ndarray:
    limits = np.zeros((NUM_JOINTS, 3, 2))
    for name, bounds in _LIMITS_LEFT_AND_CENTRE.items():
        limits[_INDEX[name]] = bounds
        if name.startswith("left_"):
            x, (y_lo, y_hi), (z_lo, z_hi) = bounds
            limits[_INDEX["right_" + name.removeprefix("left_")]] = (x, (-y_hi, -y_lo), (-z_hi, -z_lo))
    return limits


GENERATOR_RANGES: np.ndarray = _build_limits()
"""(24, 3, 2): ``[joint, axis, (min, max)]`` in radians: the range the built-in generator draws in."""
GENERATOR_RANGES.setflags(write=False)
JOINT_LIMITS = GENERATOR_RANGES  # the name before it was clear these are the generator's, not anatomy's


def joint_names_for_width(width: int) -> list[str]:
    """The joints of a 72-number (all 24 SMPL joints) or 63-number (the 21 body joints) pose, in order."""
    return limits_for_width(width)[1]


def limits_for_width(width: int) -> tuple[np.ndarray, list[str]]:
    """Limits and joint names for a 72-number (all joints) or 63-number (body-only) pose."""
    if width == NUM_JOINTS * 3:
        return JOINT_LIMITS, JOINT_NAMES
    if width == len(BODY_JOINT_NAMES) * 3:
        return JOINT_LIMITS[1:22], BODY_JOINT_NAMES
    raise ValueError(f"poses of width {width} have no joint layout; expected 72 (SMPL) or 63 (body-only)")


def joint_limit_violations(poses: np.ndarray, *, atol: float = 1e-6) -> np.ndarray:
    """How many of each pose's axis-angle components lie outside :data:`GENERATOR_RANGES` -> (N,) int.

    ``poses``: (N, 72) / (N, 24, 3), or the body-only (N, 63) / (N, 21, 3). Divide by the
    component count (72 or 63) for a fraction.
    """
    poses = np.asarray(poses)
    flat = poses.reshape(poses.shape[0], -1)
    limits, _ = limits_for_width(flat.shape[1])
    joints = flat.reshape(flat.shape[0], -1, 3)
    outside = (joints < limits[..., 0] - atol) | (joints > limits[..., 1] + atol)
    return outside.reshape(flat.shape[0], -1).sum(axis=1)
