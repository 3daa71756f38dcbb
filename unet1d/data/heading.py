"""Global heading: where the body faces, as a rotation about the vertical (y) axis.

Heading is a nuisance for a pose model: in the built-in set it is uniform by construction, and
in motion capture it depends on where the camera stood. Written as axis-angle it also wraps at
+-pi, so a network has to learn a distribution with a seam. :func:`canonical_heading` removes it
(the root then holds only lean, tilt and the small in-stride twist) and :func:`apply_heading`
puts one back. Poses are (N, 72) SMPL axis-angle with the root in columns 0:3; body-only (N, 63)
poses have no root and pass through unchanged.
"""

from __future__ import annotations

import numpy as np

from unet1d.data.rotations import (
    axis_angle_to_quaternion,
    axis_quaternion,
    quaternion_multiply,
    quaternion_to_axis_angle,
    rotate_vectors,
)

_UP_AXIS = 1  # SMPL: y up
_FORWARD = np.array([0.0, 0.0, 1.0])  # SMPL: the body faces +z


def has_root(poses: np.ndarray) -> bool:
    return poses.shape[-1] == 72


def heading_of(poses: np.ndarray) -> np.ndarray:
    """(N,) heading in radians: the angle about y that takes +z to the body's forward axis, projected."""
    forward = rotate_vectors(axis_angle_to_quaternion(np.asarray(poses, dtype=np.float64)[:, :3]), _FORWARD)
    return np.arctan2(forward[:, 0], forward[:, 2])


def apply_heading(poses: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """Turn each pose about the vertical axis by ``heading`` (N,) radians; returns new float32 poses."""
    out = np.array(poses, dtype=np.float32, copy=True)
    if not has_root(out):
        return out
    root = axis_angle_to_quaternion(np.asarray(poses, dtype=np.float64)[:, :3])
    turned = quaternion_multiply(axis_quaternion(np.asarray(heading, dtype=np.float64), _UP_AXIS), root)
    out[:, :3] = quaternion_to_axis_angle(turned)
    return out


def canonical_heading(poses: np.ndarray) -> np.ndarray:
    """Poses turned to face +z (heading 0); idempotent. Body-only poses come back unchanged."""
    if not has_root(np.asarray(poses)):
        return np.array(poses, dtype=np.float32, copy=True)
    return apply_heading(poses, -heading_of(poses))


def random_heading(poses: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Canonical poses given a uniform random heading, the built-in set's (and a camera's) prior."""
    return apply_heading(poses, rng.uniform(-np.pi, np.pi, len(poses)))
