"""Pose data: the built-in procedural set, AMASS and array loaders, splits, statistics, batches
(the body's geometry they use is :mod:`unet1d.body`); the caches of both (``builtin_cache``, ``cache``),
the up-axis rule (``up_axis``), the 6D-rotation encoding (``representation``) and the AMASS-convention
fixture (``synthetic_amass``).

Heavy modules load on first use (``DeviceBatches`` needs torch; the rest only numpy), so the CLI
can import this package without paying for torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_exports

if TYPE_CHECKING:
    from unet1d.data.batching import DeviceBatches
    from unet1d.data.builtin import FAMILY_NAMES, FAMILY_WEIGHTS, BuiltinPoses, generate_builtin_poses
    from unet1d.data.loading import PoseSplits, is_builtin, load_pose_data
    from unet1d.data.normalization import NormStats
    from unet1d.data.report import LoadReport

__getattr__, __all__ = lazy_exports(__name__, __file__)
