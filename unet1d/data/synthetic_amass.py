"""Built-in poses written as an AMASS tree: the conventions of real AMASS files, for tests, benches and demos.

AMASS itself cannot be shipped (its licence) or downloaded everywhere, but its conventions can be
reproduced exactly, so every path real AMASS takes is exercised: per-sequence ``.npz`` files in
``<dataset>/<subject>/`` folders, each with ``poses`` float64 (T, 156) SMPL-H (root 3 + body 63 +
two hands of 15 joints, here zero, as in AMASS's body-only captures), ``trans`` (T, 3),
``betas`` (16,), ``dmpls`` (T, 8), ``gender`` as a bytes scalar and ``mocap_framerate``; a
``shape.npz`` (betas and gender, no poses) per subject; a **z-up** world: each built-in root
(y-up, SMPL's frame) is turned by +90 deg about x, so a standing body's y axis points to world +z
and heading is a turn about z. Each built-in frame is held for ``fps / 30`` frames, so
subsampling back to 30 fps returns the built-in poses exactly (rotated).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unet1d.body.heading import change_up_axis
from unet1d.data.builtin import CLIP_FRAMES, FPS, generate_builtin_poses

SMPLH_WIDTH = 156
# Sub-datasets drawn on, so the AMASS split has training, validation and test files to find.
DEFAULT_DATASETS = ("CMU", "ACCAD", "BMLmovi", "KIT", "HumanEva", "SFU", "SSM_synced")


def to_z_up(poses: np.ndarray) -> np.ndarray:
    """(N, 72) y-up poses -> the same bodies in a z-up world (roots turned +90 deg about x); float64 copy."""
    return change_up_axis(np.asarray(poses, dtype=np.float64), "y", "z")


def amass_arrays(poses72: np.ndarray, rng: np.random.Generator, fps: float = 120.0) -> dict[str, np.ndarray]:
    """One AMASS file's arrays from (T, 72) y-up SMPL poses at 30 fps."""
    repeat = round(fps / FPS)
    body = to_z_up(poses72)[:, :66]
    frames = np.repeat(body, repeat, axis=0)
    smplh = np.concatenate([frames, np.zeros((len(frames), SMPLH_WIDTH - 66))], axis=1)
    walk = np.cumsum(rng.normal(0, 0.005, (len(frames), 3)), axis=0) * np.array([1.0, 1.0, 0.0])
    return {
        "poses": smplh,
        "trans": walk + np.array([0.0, 0.0, 0.93]),
        "betas": rng.normal(0, 1, 16),
        "dmpls": rng.normal(0, 0.1, (len(frames), 8)),
        "gender": np.array(rng.choice([b"female", b"male"])),
        "mocap_framerate": np.array(float(fps)),
    }


def write_amass_tree(
    root: Path,
    num_files: int,
    *,
    clips_per_file: int = 2,
    seed: int = 0,
    fps: float = 120.0,
    datasets: tuple[str, ...] = DEFAULT_DATASETS,
    subjects_per_dataset: int = 3,
) -> list[Path]:
    """Write ``num_files`` AMASS-format takes of ``clips_per_file`` built-in clips each under ``root``."""
    root = Path(root)
    poses = generate_builtin_poses(num_files * clips_per_file * CLIP_FRAMES, seed).poses
    rng = np.random.default_rng([seed, 22])
    written = []
    take = clips_per_file * CLIP_FRAMES
    for i in range(num_files):
        dataset = datasets[i % len(datasets)]
        subject = f"s{(i // len(datasets)) % subjects_per_dataset + 1:02d}"
        folder = root / dataset / subject
        if not folder.exists():
            folder.mkdir(parents=True)
            np.savez(folder / "shape.npz", betas=rng.normal(0, 1, 16), gender=np.array(b"neutral"))
        path = folder / f"take{i:05d}_poses.npz"
        np.savez(path, **amass_arrays(poses[i * take : (i + 1) * take], rng, fps))
        written.append(path)
    return written
