"""Pictures of samples beside real poses: a table hides what a skeleton shows in a second.

``pose_figure`` draws stick figures (forward kinematics on the fixed skeleton, heading turned to
face the viewer about the data's own up axis, and drawn with that axis up, so people stand) in
front and side view, samples above real poses, and under them the distribution of each joint's
rotation angle, samples over data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unet1d.body.heading import canonical_heading
from unet1d.body.kinematics import PARENTS, upright_positions
from unet1d.body.skeleton import BODY_JOINT_NAMES, JOINT_NAMES
from unet1d.data.formats import BODY_COLUMNS

FIGURES_SHOWN = 8


def _full_poses(poses: np.ndarray) -> np.ndarray:
    """(N, 72) poses: body-only (N, 63) ones get a zero root and zero hands."""
    if poses.shape[1] == 72:
        return np.asarray(poses, dtype=np.float64)
    full = np.zeros((len(poses), 72))
    full[:, BODY_COLUMNS] = poses
    return full


def _bones(positions: np.ndarray, horizontal: int) -> np.ndarray:
    """(bones, 2, 2) segments parent -> joint of one body, ``horizontal`` across and y up."""
    pairs = np.array([(parent, joint) for joint, parent in enumerate(PARENTS) if parent >= 0])
    return positions[pairs][:, :, [horizontal, 1]]


def _draw_skeleton(ax: object, positions: np.ndarray, horizontal: int, colour: str) -> None:
    from matplotlib.collections import LineCollection

    ax.add_collection(LineCollection(_bones(positions, horizontal), colors=colour, linewidths=1.5))
    ax.set_xlim(-1.0, 1.0)
    ax.set_ylim(-1.2, 0.9)
    ax.set_aspect("equal")
    ax.axis("off")


def pose_figure(samples: np.ndarray, real: np.ndarray, path: Path, title: str = "", up_axis: str = "y") -> Path:
    """Write a PNG: 8 samples and 8 real poses (front and side views), then per-joint angle histograms.

    Drawn to be cheap, since every evaluation writes one: a fixed layout (a constrained layout
    measured its 56 axes for half the drawing time), one line collection per body and one filled
    outline per histogram (not a line per bone and a rectangle per bin).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = min(FIGURES_SHOWN, len(samples), len(real))
    sets = [("sample", samples, "tab:blue"), ("real", real, "tab:gray")]
    figure = plt.figure(figsize=(16, 15))
    top, bottom = figure.subfigures(2, 1, height_ratios=[1.15, 1])
    margins = {"left": 0.01, "right": 0.99, "top": 0.93, "bottom": 0.01, "hspace": 0.15, "wspace": 0.05}
    axes = top.subplots(4, shown, squeeze=False, gridspec_kw=margins)
    for row, (name, poses, colour) in enumerate(sets):
        facing = canonical_heading(_full_poses(poses[:shown]).astype(np.float32), up_axis)
        positions = upright_positions(facing, up_axis)
        for column in range(shown):
            _draw_skeleton(axes[2 * row, column], positions[column], 0, colour)  # front: x across
            _draw_skeleton(axes[2 * row + 1, column], positions[column], 2, colour)  # side: z across
        axes[2 * row, 0].set_title(f"{name}s (front, then side)", loc="left", fontsize=10)
    top.suptitle(title)
    names = JOINT_NAMES if samples.shape[1] == 72 else BODY_JOINT_NAMES
    angles = {name: np.linalg.norm(poses.reshape(len(poses), -1, 3), axis=2) for name, poses, _ in sets}
    margins = {"left": 0.01, "right": 0.99, "top": 0.9, "bottom": 0.03, "hspace": 0.45, "wspace": 0.05}
    grid = bottom.subplots(4, int(np.ceil(len(names) / 4)), squeeze=False, gridspec_kw=margins).ravel()
    for joint, name in enumerate(names):
        ax = grid[joint]
        edges = np.linspace(0, max(np.pi, float(angles["sample"][:, joint].max())), 40)
        for kind, _, colour in sets:
            ax.hist(angles[kind][:, joint], bins=edges, density=True, alpha=0.5, color=colour, label=kind,
                    histtype="stepfilled")  # fmt: skip
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_yticks([])
    for ax in grid[len(names) :]:
        ax.axis("off")
    grid[0].legend(fontsize=7)
    bottom.suptitle("rotation angle per joint (radians): samples over data")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=72)
    plt.close(figure)
    return path
