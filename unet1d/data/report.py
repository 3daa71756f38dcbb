"""What was loaded, what was skipped and why: the summary ``unet1d data check`` and training print."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from unet1d.body.heading import standing_axis
from unet1d.data.formats import INPUT_WIDTHS
from unet1d.data.sequences import Skipped


@dataclass(frozen=True)
class FileEntry:
    """One loaded file: its frames before and after subsampling and the split it went to."""

    name: str
    kind: str  # what the file is (unet1d.data.sequences.KINDS)
    width_in: int
    frames_in: int
    frames_kept: int
    source_fps: float | None
    fps: float | None
    split: str  # "train", "val", or "train+val" (a single sequence split at its tail)


@dataclass
class LoadReport:
    """Counts and ranges of a loaded data set; :meth:`lines` renders them for a person."""

    source: str
    pose_format: str
    pose_dim: int
    target_fps: float
    val_fraction: float
    train_sequences: int
    val_sequences: int
    train_frames: int
    val_frames: int
    joint_names: list[str]
    joint_min: np.ndarray  # (joints, 3) over all loaded poses
    joint_max: np.ndarray
    outside_limits: float  # share of poses with a component outside the generator's ranges (GENERATOR_RANGES)
    files: list[FileEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    is_directory: bool = False
    family_counts: dict[str, int] | None = None
    notes: list[str] = field(default_factory=list)
    test_sequences: int = 0  # AMASS's test sets under data.split amass: loaded by neither side
    test_frames: int = 0
    split_rule: str = ""
    up_axis: str | None = None  # data.up_axis resolved
    up_reason: str = ""
    mean_body_up: np.ndarray | None = None  # (3,) mean of the root's body-up vectors; None without a root
    upright: float | None = None  # share of frames with body up within 30 deg of the up axis
    outside_human: float | None = None  # file data: share of frames past the human limits by > 0.05 rad
    constant_components: list[str] = field(default_factory=list)  # "left_hand x", ...: never move in training

    @property
    def builtin(self) -> bool:
        return self.family_counts is not None

    @property
    def frames_before(self) -> int:
        """Frames in the files (before subsampling); for the built-in set, the poses generated."""
        return sum(f.frames_in for f in self.files) if self.files else self.frames_after

    @property
    def frames_after(self) -> int:
        return self.train_frames + self.val_frames + self.test_frames

    def lines(self, max_files: int | None = 20) -> list[str]:
        """A human summary; at most ``max_files`` per-file lines (None: all)."""
        out = [f"source: {self._describe_source()}"]
        out.append(f"pose format: {self.pose_format} ({self.pose_dim} numbers per pose)")
        if self.builtin:
            assert self.family_counts is not None
            total = max(sum(self.family_counts.values()), 1)
            shares = ", ".join(f"{n} {c} ({100 * c / total:.0f}%)" for n, c in self.family_counts.items())
            out.append(f"families: {shares}")
        if self.files:
            out += self._file_lines(max_files)
        if self.skipped:
            out += self._skipped_lines(max_files)
        if self.files:
            out.append(f"frames: {self.frames_before} in the files -> {self.frames_after} after subsampling")
        noun = "clip" if self.builtin else "sequence"
        rule = self.split_rule or f"val_fraction {self.val_fraction:g}, whole {noun}s"
        test = f", test {_count(self.test_sequences, noun)} / {self.test_frames} poses (not loaded)"
        out.append(
            f"split ({rule}): "
            f"train {_count(self.train_sequences, noun)} / {self.train_frames} poses, "
            f"val {_count(self.val_sequences, noun)} / {self.val_frames} poses{test if self.test_sequences else ''}"
        )
        out += self._orientation_lines()
        out.append("per-joint angle range, radians (axis-angle x / y / z; the data's envelope):")
        for j, name in enumerate(self.joint_names):
            axes = "  ".join(
                f"{axis} [{self.joint_min[j, a]:+6.2f}, {self.joint_max[j, a]:+6.2f}]" for a, axis in enumerate("xyz")
            )
            out.append(f"  {name:<15} {axes}")
        out += self._limit_lines()
        out += [f"note: {note}" for note in self.notes]
        return out

    def concerns(self) -> list[str]:
        """What `data check` flags that a run training on this data says too (bodies standing along another
        axis, values that look like degrees, one sequence, missing frame rates), each without its prefix."""
        flagged = [line.removeprefix("warning: ") for line in self._orientation_lines() if line.startswith("warning:")]
        return flagged + list(self.notes)

    def _orientation_lines(self) -> list[str]:
        if self.up_axis is None:
            return []
        line = f"up axis: {self.up_axis} ({self.up_reason})"
        if self.mean_body_up is None:
            return [line + "; body-only poses have no root, so heading and uprightness do not apply"]
        x, y, z = self.mean_body_up
        line += f"; mean body up ({x:+.2f}, {y:+.2f}, {z:+.2f})"
        if self.upright is not None:
            line += f", {100 * self.upright:.1f}% of frames upright (within 30 deg of +{self.up_axis})"
        out = [line]
        nearest = standing_axis(self.mean_body_up)
        if nearest is not None and nearest != self.up_axis:
            out.append(
                f"warning: the bodies stand along {nearest}, not the up axis {self.up_axis}: heading would turn them "
                f"about the wrong axis; set --up_axis {nearest}"
            )
        return out

    def _limit_lines(self) -> list[str]:
        if self.builtin or self.outside_human is None:
            return [f"poses outside the generator's ranges: {100 * self.outside_limits:.1f}%"]
        out = [
            f"frames outside the human joint limits by > 0.05 rad: {100 * self.outside_human:.1f}% "
            "(clinical ranges of motion on SMPL's axes; see docs/amass.md)"
        ]
        if self.constant_components:
            shown = ", ".join(self.constant_components[:8]) + (", ..." if len(self.constant_components) > 8 else "")
            out.append(
                f"components that never move in training ({len(self.constant_components)}; e.g. SMPL's hands after "
                f"SMPL-H -> SMPL): {shown}; left out of limit scores"
            )
        return out

    def _describe_source(self) -> str:
        if self.builtin:
            return f"builtin (procedural SMPL poses, {self.frames_after} generated)"
        if self.is_directory:
            folders = {f.name.split("/")[0] for f in self.files if "/" in f.name}
            where = f" in {len(folders)} top-level folders" if folders else ""
            return (
                f"{self.source} (directory: {_count(len(self.files), 'pose file')}{where}, {len(self.skipped)} skipped)"
            )
        return f"{self.source} (file)"

    def _file_lines(self, max_files: int | None) -> list[str]:
        out = [f"files ({len(self.files)}):"]
        width = min(max(len(f.name) for f in self.files), 60)
        shown = self.files if max_files is None else self.files[:max_files]
        for f in shown:
            rate = "no frame rate" if f.source_fps is None else f"{f.source_fps:g} -> {f.fps:g} fps"
            layout = f"{f.width_in} {INPUT_WIDTHS.get(f.width_in, '?')}"
            out.append(
                f"  {f.name:<{width}}  {f.kind:<7}  {layout:<14}  {rate:<18}  "
                f"{f.frames_in:>7} -> {f.frames_kept:>6} frames  {f.split}"
            )
        if len(shown) < len(self.files):
            out.append(f"  ... and {len(self.files) - len(shown)} more (--list-files shows all)")
        folders: dict[str, list[FileEntry]] = {}
        for f in self.files:
            if "/" in f.name:
                folders.setdefault(f.name.split("/")[0], []).append(f)
        if len(folders) > 1:
            out.append("by top-level folder:")
            for folder, entries in sorted(folders.items()):
                before, after = sum(e.frames_in for e in entries), sum(e.frames_kept for e in entries)
                val = sum(e.split == "val" for e in entries)
                out.append(f"  {folder}: {_count(len(entries), 'file')} ({val} val), {before} -> {after} frames")
        return out

    def _skipped_lines(self, max_files: int | None) -> list[str]:
        by_reason: dict[str, list[str]] = {}
        for item in self.skipped:
            by_reason.setdefault(item.reason, []).append(item.name)
        out = [f"skipped {_count(len(self.skipped), 'file')} (not loaded):"]
        for reason, names in by_reason.items():
            listed = names if max_files is None else names[:max_files]
            more = f", ... (+{len(names) - len(listed)})" if len(listed) < len(names) else ""
            out.append(f"  {len(names)} x {reason}: {', '.join(listed)}{more}")
        return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
