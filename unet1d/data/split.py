"""The train/val split: whole sequences, chosen by name, the same for every run over the same files.

A sequence (an AMASS file, a .npy file, a built-in clip) goes wholly to one side, so no
near-duplicate neighbouring frames leak from training into validation. Which ones go to val is
decided by a hash of each sequence's name (its path relative to the data root), not by the run
seed: runs with different seeds, models or batch sizes are validated on the same poses.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
from collections.abc import Sequence

import numpy as np


def num_val_sequences(num_sequences: int, val_fraction: float) -> int:
    """round(val_fraction x sequences), at least 1 when val_fraction > 0, and always leaving one to train."""
    if val_fraction <= 0 or num_sequences < 2:
        return 0
    wanted = math.floor(val_fraction * num_sequences + 0.5)
    return min(max(wanted, 1), num_sequences - 1)


def split_sequences(names: Sequence[str], val_fraction: float) -> np.ndarray:
    """Boolean mask over ``names``: True for the sequences held out for validation.

    The held-out ones are those whose SHA-1 of the name sorts first: stable, seed-free, and
    spread evenly over datasets and subjects rather than taking the last folder.
    """
    count = num_val_sequences(len(names), val_fraction)
    order = sorted(
        range(len(names)), key=lambda i: hashlib.sha1(names[i].encode("utf-8", "surrogateescape")).hexdigest()
    )
    is_val = np.zeros(len(names), dtype=bool)
    is_val[order[:count]] = True
    return is_val


def tail_frames(num_frames: int, val_fraction: float) -> int:
    """For data that is a single sequence: how many frames at its end to hold out (contiguous)."""
    if val_fraction <= 0 or num_frames < 2:
        return 0
    return min(max(math.floor(val_fraction * num_frames + 0.5), 1), num_frames - 1)


# AMASS's standard split by sub-dataset (the AMASS paper's recommendation, used by VPoser and most pose
# priors), with the folder names of the current AMASS download beside the original ones.
AMASS_SPLIT: dict[str, tuple[str, ...]] = {
    "val": ("HumanEva", "MPI_HDM05", "HDM05", "SFU", "MPI_mosh", "MoSh"),
    "test": ("Transitions_mocap", "Transitions", "SSM_synced", "SSM"),
}
_AMASS_PART = {name.lower(): part for part, names in AMASS_SPLIT.items() for name in names}
# AMASS's training datasets, under the names its downloads and the papers use: a folder so named is a dataset
AMASS_TRAIN_DATASETS = frozenset(name.lower() for name in (
    "ACCAD", "BMLhandball", "BMLmovi", "BMLrub", "BioMotionLab_NTroje", "CMU", "CNRS", "DFaust", "DFaust_67",
    "DanceDB", "EKUT", "EyesJapanDataset", "Eyes_Japan_Dataset", "GRAB", "HUMAN4D", "KIT", "MPI_Limits", "PosePrior",
    "SOMA", "TCDHands", "TCD_handMocap", "TotalCapture", "WEIZMANN",
))  # fmt: skip


def amass_parts(names: Sequence[str]) -> np.ndarray:
    """Per sequence name (path relative to the data root): "val", "test" or "train" by the AMASS split.

    The sub-dataset is the first folder in the path named like one of :data:`AMASS_SPLIT`
    (case-insensitive), so a root above the datasets works too; every other file trains.
    """
    parts = []
    for name in names:
        folders = name.split("/")[:-1]
        parts.append(next((_AMASS_PART[f.lower()] for f in folders if f.lower() in _AMASS_PART), "train"))
    return np.array(parts, dtype="<U5")


def glob_parts(names: Sequence[str], pattern: str) -> np.ndarray:
    """Per sequence name: "val" where the name matches the glob ``pattern`` (``*`` spans folders), else "train"."""
    return np.array(["val" if fnmatch.fnmatchcase(n, pattern) else "train" for n in names], dtype="<U5")
