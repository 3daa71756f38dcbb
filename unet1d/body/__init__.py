"""The human body, apart from any data set: SMPL's skeleton and its parts, rotations, forward
kinematics, the joint limits real people keep, and heading about an up axis.

Numpy only, below ``data/`` (which loads and generates poses), ``evaluation/`` (which scores
them) and ``prior/`` (which completes them): each asks the body for geometry, none owns it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_exports

if TYPE_CHECKING:
    from unet1d.body.kinematics import forward_kinematics, global_rotations
    from unet1d.body.skeleton import (
        COMPLETION_PARTS,
        GENERATOR_RANGES,
        JOINT_LIMITS,
        JOINT_NAMES,
        joint_limit_violations,
    )

__getattr__, __all__ = lazy_exports(__name__, __file__)
