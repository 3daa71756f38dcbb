"""Pose layouts users bring, mapped to the two the model trains on; frame-rate subsampling.

Accepted input widths (numbers per frame):

* 156 SMPL-H (AMASS): root 3 + 21 body joints 63 + 2 x 15 hand joints 90
* 165 SMPL-X (AMASS "SMPL-X N"): root 3 + body 63 + jaw 3 + eyes 6 + hands 90
* 72 SMPL: root 3 + 21 body joints 63 + the 2 SMPL hand joints 6
* 63 body-only: the 21 body joints (what many pose priors use)

Targets: ``smpl72`` (root + body + the 2 SMPL hand joints, zero-filled when the source is SMPL-H/X,
whose hands are finger joints instead) and ``body63`` (columns 3:66 of any of the first three).
"""

from __future__ import annotations

import math

import numpy as np

POSE_FORMAT_WIDTH: dict[str, int] = {"smpl72": 72, "body63": 63}
INPUT_WIDTHS: dict[int, str] = {
    156: "SMPL-H",
    165: "SMPL-X",
    72: "SMPL",
    63: "body-only",
}
BODY_COLUMNS = slice(3, 66)  # the 21 body joints, same place in SMPL, SMPL-H and SMPL-X
ROOT_AND_BODY = slice(0, 66)


def describe_widths() -> str:
    return ", ".join(f"{width} ({name})" for width, name in INPUT_WIDTHS.items())


def to_pose_format(poses: np.ndarray, pose_format: str) -> np.ndarray:
    """(T, width) -> (T, 72 or 63) float32. Raises ValueError with a reason a person can act on."""
    width = poses.shape[1]
    target = POSE_FORMAT_WIDTH[pose_format]
    if width not in INPUT_WIDTHS:
        raise ValueError(f"poses have {width} columns; expected one of {describe_widths()}")
    if pose_format == "body63":
        out = poses if width == 63 else poses[:, BODY_COLUMNS]
    elif width == 72:
        out = poses
    elif width in (156, 165):
        out = np.concatenate([poses[:, ROOT_AND_BODY], np.zeros((poses.shape[0], 6), poses.dtype)], axis=1)
    else:  # 63 -> smpl72: the root and hands are not in the data
        raise ValueError(
            "poses have 63 columns (body-only: no root orientation or hands), which cannot make "
            "smpl72 poses; use --pose_format body63 (and --pose_dim 63)"
        )
    assert out.shape[1] == target
    return np.ascontiguousarray(out, dtype=np.float32)


def subsample_indices(num_frames: int, source_fps: float, target_fps: float) -> np.ndarray:
    """Which frames to keep to bring ``source_fps`` down to ``target_fps``.

    An integer ratio (within 2 %, so 59.94 -> 30 counts as 2) keeps every ratio-th frame from the
    first: 120 -> 30 fps keeps frames 0, 4, 8, ... (ceil(T / 4) of them). Otherwise each kept
    frame is the one nearest to the target time k / target_fps, so 100 -> 30 fps spaces them 3 or
    4 apart. A source at or below the target keeps every frame (no upsampling).
    """
    ratio = source_fps / target_fps
    if ratio <= 1.0 + 1e-9:
        return np.arange(num_frames)
    if ratio >= num_frames:  # only frame 0 falls before the end (and a huge ratio overflows the arithmetic below)
        return np.arange(min(num_frames, 1))
    nearest = round(ratio)
    if abs(ratio - nearest) <= 0.02 * nearest:
        return np.arange(0, num_frames, nearest)
    count = math.ceil(num_frames / ratio - 1e-9)
    picks = np.floor(np.arange(count) * ratio + 0.5).astype(np.int64)
    return picks[picks < num_frames]


def output_fps(source_fps: float, target_fps: float) -> float:
    """The frame rate :func:`subsample_indices` actually delivers (for the report)."""
    ratio = source_fps / target_fps
    if ratio <= 1.0 + 1e-9:
        return source_fps
    nearest = round(ratio)
    return source_fps / nearest if abs(ratio - nearest) <= 0.02 * nearest else target_fps
