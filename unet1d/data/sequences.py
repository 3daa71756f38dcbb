"""What reading a tree of pose files yields, whether from the files themselves or from the cache.

The records sit below both readers (:mod:`unet1d.data.files` reads the files, :mod:`unet1d.data.cache`
stores and serves what it read), so neither needs the other's module for its types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# No pose is thousands of turns: beyond this a value is another unit or damage (and overflows float32 statistics)
MAX_ANGLE = 1e4


# What a file is: an AMASS take (z-up), or a plain pose array that says the world it stands in (`up_axis`, as
# unet1d's own sample, complete and denoise outputs do: "array-y", "array-z") or says nothing ("array").
KINDS = ("amass", "array", "array-y", "array-z")
_STATED_UP_AXIS = {"amass": "z", "array-y": "y", "array-z": "z"}


def said_otherwise(names: list[str], flag: str, up: str) -> str:
    """The line for files (``names``) that say another world than the ``up`` an explicit ``flag`` takes them in."""
    some = f"{len(names)} of the files say their poses stand" if len(names) != 1 else "1 file says its poses stand"
    return (
        f"{some} along the other axis (AMASS takes are z-up; an up_axis key says its own), e.g. {names[0]}, and "
        f"{flag} {up} takes {'them' if len(names) != 1 else 'it'} as {up}-up"
    )


def stated_up_axis(kind: str) -> str | None:
    """The up axis a file of ``kind`` says its poses stand along; None for a plain array that says none."""
    return _STATED_UP_AXIS.get(kind)


@dataclass
class Sequence:
    """One file's poses after mapping and subsampling. ``name`` is relative to the data root."""

    name: str
    poses: np.ndarray  # (T, D) float32
    kind: str  # one of KINDS: what the file is, and the world it says it stands in
    width_in: int
    frames_in: int
    source_fps: float | None = None
    fps: float | None = None


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass
class ReadResult:
    sequences: list[Sequence] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    is_directory: bool = False
