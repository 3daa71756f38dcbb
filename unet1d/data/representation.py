"""What the network sees of a pose: axis-angle as loaded, or continuous 6D rotations (``data.representation``).

Axis-angle wraps at pi and is discontinuous as a map from rotations; most pose-generation models
use the 6D representation of Zhou et al. (2019, "On the Continuity of Rotation Representations
in Neural Networks"): the first two columns of each joint's rotation matrix. A 72-number SMPL
pose becomes a 144-number sequence (each joint's six numbers side by side, in joint order, so
positions along the sequence still follow the joints), and a generated sequence goes back by
Gram-Schmidt (the nearest rotation of the paper's map) and then to axis-angle. Everything outside
the network (data loading, evaluation, ``unet1d sample``) keeps speaking axis-angle radians:
:class:`EncodedStats` wraps the training statistics so that ``normalize`` takes axis-angle in and
``denormalize`` hands axis-angle back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from unet1d.body.rotations import axis_angle_to_matrix

if TYPE_CHECKING:
    from unet1d.config import Config, ModelConfig
    from unet1d.data.normalization import NormStats

NUMBERS_PER_JOINT = {"axis_angle": 3, "rot6d": 6}


def encoded_width(pose_dim: int, representation: str) -> int:
    """Numbers per pose the network sees: ``pose_dim`` for axis-angle, twice it for 6D."""
    return pose_dim // 3 * NUMBERS_PER_JOINT[representation]


def to_rot6d(poses: np.ndarray) -> np.ndarray:
    """(N, 3J) axis-angle radians -> (N, 6J) float32: per joint the rotation matrix's first two columns."""
    joints = np.asarray(poses, dtype=np.float64).reshape(len(poses), -1, 3)
    matrices = axis_angle_to_matrix(joints)  # (N, J, 3, 3)
    columns = np.concatenate([matrices[..., :, 0], matrices[..., :, 1]], axis=-1)  # (N, J, 6)
    return columns.reshape(len(poses), -1).astype(np.float32)


def rot6d_to_matrix(sixd: np.ndarray) -> np.ndarray:
    """(N, 6J) -> (N, J, 3, 3) rotations by Gram-Schmidt: any 6 numbers with independent halves map to one."""
    pairs = np.asarray(sixd, dtype=np.float64).reshape(len(sixd), -1, 6)
    first = pairs[..., :3] / np.maximum(np.linalg.norm(pairs[..., :3], axis=-1, keepdims=True), 1e-12)
    second = pairs[..., 3:] - (first * pairs[..., 3:]).sum(-1, keepdims=True) * first
    second /= np.maximum(np.linalg.norm(second, axis=-1, keepdims=True), 1e-12)
    return np.stack([first, second, np.cross(first, second)], axis=-1)  # columns b1, b2, b3


def from_rot6d(sixd: np.ndarray) -> np.ndarray:
    """(N, 6J) 6D rotations -> (N, 3J) float32 axis-angle radians (angles in [0, pi])."""
    from scipy.spatial.transform import Rotation

    matrices = rot6d_to_matrix(sixd)
    rotvec = Rotation.from_matrix(matrices.reshape(-1, 3, 3)).as_rotvec()
    return rotvec.reshape(len(matrices), -1).astype(np.float32)


@dataclass
class EncodedStats:
    """Training statistics of the 6D sequences, speaking axis-angle at both ends (NormStats' interface)."""

    inner: NormStats  # mean/std of the encoded training poses: what the checkpoint stores
    envelope: Any = None  # limits come from the axis-angle training poses (quality falls back to them)

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def up_axis(self) -> str | None:
        """The world up the poses were fitted in, as the inner statistics record it (body/heading.py)."""
        return self.inner.up_axis

    def normalize(self, poses: np.ndarray) -> np.ndarray:
        """(N, D) axis-angle -> (N, 2D) standardised 6D."""
        return self.inner.normalize(to_rot6d(poses))

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        """(N, 2D) standardised 6D -> (N, D) axis-angle radians."""
        return from_rot6d(self.inner.denormalize(np.asarray(x)))

    def to_tensors(self) -> dict[str, Any]:
        return self.inner.to_tensors()


def wrap_stats(stats: NormStats, representation: str) -> NormStats | EncodedStats:
    """``stats`` of the encoded poses as the run's pose-level statistics (unchanged for axis-angle)."""
    return stats if representation == "axis_angle" else EncodedStats(stats)


def encode(poses: np.ndarray, representation: str) -> np.ndarray:
    """Axis-angle poses in the network's representation (what statistics are fitted on)."""
    return np.asarray(poses) if representation == "axis_angle" else to_rot6d(poses)


def network_config(config: Config) -> ModelConfig:
    """``config.model`` with ``pose_dim`` the length of the sequence the network sees."""
    width = encoded_width(config.model.pose_dim, config.data.representation)
    # twice a length the model's validator accepted halves as often: no new shape check needed
    return config.model if width == config.model.pose_dim else config.model.model_copy(update={"pose_dim": width})
