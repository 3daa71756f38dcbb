"""Global heading: where the body faces, as a rotation about the world's vertical axis.

Heading is a nuisance for a pose model: in the built-in set it is uniform by construction, and
in motion capture it depends on where the camera stood. Written as axis-angle it also wraps at
+-pi, so a network has to learn a distribution with a seam. :func:`canonical_heading` removes it
(the root then holds only lean, tilt and the small in-stride twist) and :func:`apply_heading`
puts one back. Poses are (N, 72) SMPL axis-angle with the root in columns 0:3; body-only (N, 63)
poses have no root and pass through unchanged.

The vertical is the data's own up axis (``up``): ``"y"`` for SMPL's frame and the built-in poses,
``"z"`` for AMASS, whose world is z-up (a standing person's root maps the body's y axis to +z).
Heading 0 faces +z in a y-up world and -y in a z-up one: both are the root orientation of a
person standing in that world's rest pose (identity, or +90 deg about x for AMASS).
"""

from __future__ import annotations

import numpy as np

from unet1d.body.rotations import (
    axis_angle_to_quaternion,
    axis_quaternion,
    quaternion_multiply,
    quaternion_to_axis_angle,
    rotate_vectors,
)

_FORWARD = np.array([0.0, 0.0, 1.0])  # SMPL: the body faces +z in its own frame
_BODY_UP = np.array([0.0, 1.0, 0.0])  # SMPL: the body's up is its y axis
# Per world up axis: (index of the vertical, heading-0 forward direction in that world).
WORLDS: dict[str, tuple[int, np.ndarray]] = {
    "y": (1, np.array([0.0, 0.0, 1.0])),
    "z": (2, np.array([0.0, -1.0, 0.0])),
}
UPRIGHT_DEGREES = 30.0  # a pose is upright when its body up is within this of the world's up


def has_root(poses: np.ndarray) -> bool:
    return poses.shape[-1] == 72


def _root(poses: np.ndarray) -> np.ndarray:
    """(N, 3) float64 root orientations, without a float64 copy of the whole (N, 72) array."""
    return np.asarray(poses)[:, :3].astype(np.float64)


def _world(up: str) -> tuple[int, np.ndarray]:
    if up not in WORLDS:
        raise ValueError(f"up axis {up!r} is not one of {', '.join(WORLDS)}")
    return WORLDS[up]


def heading_of(poses: np.ndarray, up: str = "y") -> np.ndarray:
    """(N,) heading in radians: the turn about the ``up`` axis from heading 0 to the body's forward, projected."""
    axis, zero = _world(up)
    forward = rotate_vectors(axis_angle_to_quaternion(_root(poses)), _FORWARD)
    side = np.cross(np.eye(3)[axis], zero)  # where a +90 deg turn about up takes heading 0
    return np.arctan2(forward @ side, forward @ zero)


def apply_heading(poses: np.ndarray, heading: np.ndarray, up: str = "y") -> np.ndarray:
    """Turn each pose about the ``up`` axis by ``heading`` (N,) radians; returns new float32 poses."""
    out = np.array(poses, dtype=np.float32, copy=True)
    if not has_root(out):
        return out
    axis, _ = _world(up)
    root = axis_angle_to_quaternion(_root(poses))
    turned = quaternion_multiply(axis_quaternion(np.asarray(heading, dtype=np.float64), axis), root)
    out[:, :3] = quaternion_to_axis_angle(turned)
    return out


def change_up_axis(poses: np.ndarray, source: str, target: str) -> np.ndarray:
    """Poses of a world whose vertical is ``source`` re-expressed in one whose vertical is ``target``: the root
    turned +-90 deg about x (AMASS's z-up world is SMPL's y-up one turned +90 deg about x); new poses, float32
    or float64 as given. A person standing upright stays upright, facing the other world's heading 0 when they
    faced its own."""
    _world(source), _world(target)
    out = np.array(poses, dtype=np.result_type(np.asarray(poses).dtype, np.float32), copy=True)
    if source == target or not has_root(out):
        return out
    turn = axis_quaternion(np.full(len(out), np.pi / 2 if target == "z" else -np.pi / 2), 0)
    out[:, :3] = quaternion_to_axis_angle(quaternion_multiply(turn, axis_angle_to_quaternion(_root(poses))))
    return out


def canonical_heading(poses: np.ndarray, up: str = "y") -> np.ndarray:
    """Poses turned to heading 0 about ``up``; idempotent. Body-only poses come back unchanged."""
    if not has_root(np.asarray(poses)):
        return np.array(poses, dtype=np.float32, copy=True)
    return apply_heading(poses, -heading_of(poses, up), up)


def random_heading(poses: np.ndarray, rng: np.random.Generator, up: str = "y") -> np.ndarray:
    """Canonical poses given a uniform random heading about ``up``, the built-in set's (and a camera's) prior."""
    return apply_heading(poses, rng.uniform(-np.pi, np.pi, len(poses)), up)


def standing_axis(mean_body_up: np.ndarray) -> str | None:
    """The vertical (y or z) bodies whose mean :func:`body_up` is ``mean_body_up`` clearly stand along; None when
    they lie along x or their ups point every way (a mean shorter than 0.5)."""
    nearest = "xyz"[int(np.argmax(np.abs(mean_body_up)))]
    return nearest if np.linalg.norm(mean_body_up) > 0.5 and nearest in "yz" else None


def body_up(poses: np.ndarray) -> np.ndarray:
    """(N, 3) unit vectors: where each root orientation sends the body's up (SMPL's y axis) in the world."""
    return rotate_vectors(axis_angle_to_quaternion(_root(poses)), _BODY_UP)


def tilt_degrees(poses: np.ndarray, up: str = "y") -> np.ndarray:
    """(N,) angle in degrees between each pose's body up and the world's ``up`` axis (0 = standing straight)."""
    axis, _ = _world(up)
    return np.degrees(np.arccos(np.clip(body_up(poses)[:, axis], -1.0, 1.0)))


def upright_share(poses: np.ndarray, up: str = "y", degrees: float = UPRIGHT_DEGREES) -> float | None:
    """Share of poses whose body up is within ``degrees`` of ``up``; None for body-only poses (no root)."""
    if not has_root(np.asarray(poses)) or len(poses) == 0:
        return None
    return float((tilt_degrees(poses, up) <= degrees).mean())
