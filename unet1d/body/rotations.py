"""Vectorised rotation conversions (numpy): Euler angles -> quaternions -> axis-angle.

The built-in generator describes joints with anatomical angles (flex, raise, twist) and must
hand out axis-angle vectors, as SMPL does. Composing through unit quaternions is exact for any
angle, including the +-pi yaw wrap, where going through matrices needs special cases.
Quaternions are ``(..., 4)`` as ``(w, x, y, z)``.
"""

from __future__ import annotations

import numpy as np

_AXIS = {"x": 0, "y": 1, "z": 2}


def axis_quaternion(angle: np.ndarray, axis: int) -> np.ndarray:
    """Rotation by ``angle`` (radians, any shape) about coordinate axis 0/1/2 -> ``(*angle.shape, 4)``."""
    angle = np.asarray(angle, dtype=np.float64)
    q = np.zeros((*angle.shape, 4))
    q[..., 0] = np.cos(angle / 2)
    q[..., 1 + axis] = np.sin(angle / 2)
    return q


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b``: the rotation that applies ``b`` first, then ``a``."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def euler_to_quaternion(angles: np.ndarray, order: str = "xyz") -> np.ndarray:
    """``angles[..., (x, y, z)]`` -> the rotation ``R_{order[0]} @ R_{order[1]} @ R_{order[2]}``.

    The last letter acts first: with "xyz" an arm is first raised/lowered (z), then twisted (y),
    then swung forward (x) about the parent's own axes. Closed form of the three-factor product
    (``order`` is a permutation of "xyz"), so the built-in set stays fast.
    """
    angles = np.asarray(angles, dtype=np.float64)
    i, j, k = (_AXIS[letter] for letter in order)
    parity = 1.0 if order in ("xyz", "yzx", "zxy") else -1.0  # e_i x e_j = parity * e_k
    half = np.moveaxis(angles, -1, 0) / 2  # (3, ...) contiguous planes: faster trig
    cos, sin = np.cos(half), np.sin(half)
    ca, cb, cc, sa, sb, sc = cos[i], cos[j], cos[k], sin[i], sin[j], sin[k]
    q = np.empty((4, *angles.shape[:-1]))
    q[0] = ca * cb * cc - parity * sa * sb * sc
    q[1 + i] = sa * cb * cc + parity * ca * sb * sc
    q[1 + j] = ca * sb * cc - parity * sa * cb * sc
    q[1 + k] = ca * cb * sc + parity * sa * sb * cc
    return np.moveaxis(q, 0, -1)


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """Unit quaternions -> axis-angle vectors with angle in [0, pi] (the short way round)."""
    sign = np.where(q[..., 0] < 0, -1.0, 1.0)  # q and -q are the same rotation; w >= 0 gives angle <= pi
    w, v = q[..., 0] * sign, q[..., 1:] * sign[..., None]
    norm = np.linalg.norm(v, axis=-1)
    angle = 2 * np.arctan2(norm, w)
    # Near identity angle/norm -> 2/w; the where() keeps the division away from zero.
    scale = np.where(norm > 1e-9, angle / np.maximum(norm, 1e-12), 2 / np.maximum(w, 1e-12))
    return v * scale[..., None]


def axis_angle_to_quaternion(aa: np.ndarray) -> np.ndarray:
    """Axis-angle vectors ``(..., 3)`` -> unit quaternions ``(..., 4)``."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    # sin(angle/2)/angle, with its limit 1/2 at zero.
    half_sinc = np.where(angle > 1e-9, np.sin(angle / 2) / np.maximum(angle, 1e-12), 0.5)
    return np.concatenate([np.cos(angle / 2), aa * half_sinc], axis=-1)


def euler_to_axis_angle(angles: np.ndarray, order: str = "xyz") -> np.ndarray:
    """Euler angles ``(..., 3)`` (x, y, z) composed in ``order`` -> axis-angle ``(..., 3)``."""
    return quaternion_to_axis_angle(euler_to_quaternion(angles, order))


def rotate_vectors(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Apply unit quaternions ``(..., 4)`` to vectors ``(..., 3)`` (used to read headings)."""
    w, u = q[..., :1], q[..., 1:]
    t = 2 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """Axis-angle ``(..., 3)`` -> rotation matrices ``(..., 3, 3)`` (Rodrigues)."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1)[..., None, None]
    x, y, z = np.moveaxis(aa, -1, 0)
    zero = np.zeros_like(x)
    skew = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(*aa.shape[:-1], 3, 3)
    safe = np.maximum(angle, 1e-12)
    a = np.where(angle > 1e-9, np.sin(angle) / safe, 1.0)  # sin(t)/t
    b = np.where(angle > 1e-9, (1 - np.cos(angle)) / safe**2, 0.5)  # (1-cos t)/t^2
    return np.eye(3) + a * skew + b * (skew @ skew)
