"""Pose data: the built-in procedural set, AMASS and array loaders, splits, statistics, batches.

Heavy modules load on first use (``DeviceBatches`` needs torch; the rest only numpy), so the CLI
can import this package without paying for torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_getattr

_LAZY = {
    "BuiltinPoses": "unet1d.data.builtin",
    "FAMILY_NAMES": "unet1d.data.builtin",
    "FAMILY_WEIGHTS": "unet1d.data.builtin",
    "generate_builtin_poses": "unet1d.data.builtin",
    "JOINT_LIMITS": "unet1d.data.skeleton",
    "JOINT_NAMES": "unet1d.data.skeleton",
    "joint_limit_violations": "unet1d.data.skeleton",
    "forward_kinematics": "unet1d.data.kinematics",
    "global_rotations": "unet1d.data.kinematics",
    "NormStats": "unet1d.data.normalization",
    "LoadReport": "unet1d.data.report",
    "PoseSplits": "unet1d.data.loading",
    "load_pose_data": "unet1d.data.loading",
    "is_builtin": "unet1d.data.loading",
    "DeviceBatches": "unet1d.data.batching",
}

if TYPE_CHECKING:
    from unet1d.data.batching import DeviceBatches
    from unet1d.data.builtin import FAMILY_NAMES, FAMILY_WEIGHTS, BuiltinPoses, generate_builtin_poses
    from unet1d.data.kinematics import forward_kinematics, global_rotations
    from unet1d.data.loading import PoseSplits, is_builtin, load_pose_data
    from unet1d.data.normalization import NormStats
    from unet1d.data.report import LoadReport
    from unet1d.data.skeleton import JOINT_LIMITS, JOINT_NAMES, joint_limit_violations


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "FAMILY_NAMES",
    "FAMILY_WEIGHTS",
    "JOINT_LIMITS",
    "JOINT_NAMES",
    "BuiltinPoses",
    "DeviceBatches",
    "LoadReport",
    "NormStats",
    "PoseSplits",
    "forward_kinematics",
    "generate_builtin_poses",
    "global_rotations",
    "is_builtin",
    "joint_limit_violations",
    "load_pose_data",
]
