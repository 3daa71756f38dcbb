"""``load_pose_data``: from a DataConfig to train/val pose arrays, statistics and a report.

Shapes: every array here is (N, pose_dim) float32 at the data boundary, not normalised; apply
``splits.stats.normalize`` before training and ``denormalize`` after sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unet1d.config import DataConfig
from unet1d.data.builtin import CLIP_FRAMES, FAMILY_NAMES, generate_builtin_poses
from unet1d.data.files import ReadResult, read_pose_path
from unet1d.data.formats import BODY_COLUMNS, POSE_FORMAT_WIDTH
from unet1d.data.heading import canonical_heading
from unet1d.data.normalization import NormStats, envelope_of
from unet1d.data.report import FileEntry, LoadReport
from unet1d.data.representation import EncodedStats, encode
from unet1d.data.skeleton import joint_limit_violations, limits_for_width
from unet1d.data.split import split_sequences, tail_frames
from unet1d.errors import UserError

BUILTIN = "builtin"
_DEGREES_HINT = 4 * np.pi  # axis-angle components beyond this are almost surely degrees


@dataclass
class PoseSplits:
    """Training and validation poses (not normalised), their statistics and what was loaded."""

    train: np.ndarray  # (N, D) float32
    val: np.ndarray  # (M, D) float32; M may be 0 (val_fraction 0)
    stats: NormStats  # fitted on train (identity when normalize is off)
    report: LoadReport
    train_labels: np.ndarray | None = None  # built-in family id per pose
    val_labels: np.ndarray | None = None
    family_names: list[str] | None = None

    @property
    def pose_dim(self) -> int:
        return int(self.train.shape[1])


def is_builtin(source: str) -> bool:
    return source.strip().lower() == BUILTIN


@dataclass
class _Sequences:
    """Sequences ready to split: arrays in load order, their names, optional labels."""

    names: list[str]
    poses: list[np.ndarray]
    labels: list[np.ndarray] | None = None


def load_pose_data(cfg: DataConfig, pose_dim: int, *, seed: int, batch_size: int | None = None) -> PoseSplits:
    """Load, validate, split and summarise the poses ``cfg`` names.

    ``seed`` drives the built-in generator (files do not depend on it; nor does the split).
    ``batch_size``, when given, must fit in the training split. Raises :class:`UserError` for
    anything wrong with the data, naming the file.
    """
    width = POSE_FORMAT_WIDTH[cfg.pose_format]
    if pose_dim != width:
        raise UserError(
            f"pose_dim={pose_dim} does not match pose_format={cfg.pose_format!r}, which gives {width} numbers per pose"
        )
    if is_builtin(cfg.data):
        sequences, read = _builtin_sequences(cfg, seed), None
        source = BUILTIN
    else:
        path = Path(cfg.data).expanduser()
        read = read_pose_path(path, cfg.pose_format, cfg.target_fps)
        sequences = _Sequences([s.name for s in read.sequences], [s.poses for s in read.sequences])
        source = str(path)
    parts = _split(sequences, cfg.val_fraction)
    if cfg.heading == "canonical":  # train on poses facing +z; samples get a random heading back
        parts.train, parts.val = canonical_heading(parts.train), canonical_heading(parts.val)
    encoded = encode(parts.train, cfg.representation)  # data/representation.py: what the network sees
    stats = NormStats.fit(encoded) if cfg.normalize else NormStats.identity(encoded.shape[1], envelope_of(encoded))
    splits = PoseSplits(
        train=parts.train,
        val=parts.val,
        stats=stats if encoded is parts.train else EncodedStats(stats, envelope_of(parts.train)),
        report=_report(cfg, source, read, parts),
        train_labels=parts.train_labels,
        val_labels=parts.val_labels,
        family_names=list(FAMILY_NAMES) if read is None else None,
    )
    if batch_size is not None:
        check_batch_size(splits, batch_size)
    return splits


def check_batch_size(splits: PoseSplits, batch_size: int) -> None:
    """Refuse a training split smaller than one batch (shuffled batches drop incomplete tails)."""
    if splits.train.shape[0] < batch_size:
        raise UserError(
            f"{splits.report.source}: {splits.train.shape[0]} training poses (after subsampling and holding out "
            f"{splits.val.shape[0]} for validation) are fewer than one batch of {batch_size}; "
            "lower --batch_size or --val_fraction, or bring more data"
        )


def _builtin_sequences(cfg: DataConfig, seed: int) -> _Sequences:
    generated = generate_builtin_poses(cfg.builtin_samples, seed)
    poses = generated.poses if cfg.pose_format == "smpl72" else generated.poses[:, BODY_COLUMNS]
    cuts = np.arange(CLIP_FRAMES, poses.shape[0], CLIP_FRAMES)  # clips are consecutive runs of frames
    names = [f"builtin/clip{i:06d}" for i in range(len(cuts) + 1)]
    return _Sequences(names, np.split(poses, cuts), np.split(generated.labels, cuts))


@dataclass
class _Parts:
    train: np.ndarray
    val: np.ndarray
    train_labels: np.ndarray | None
    val_labels: np.ndarray | None
    is_val: np.ndarray  # per sequence
    tail: int  # frames held out of a lone sequence's end (0 when split by sequence)


def _split(seqs: _Sequences, val_fraction: float) -> _Parts:
    if len(seqs.poses) == 1:
        poses = seqs.poses[0]
        tail = tail_frames(poses.shape[0], val_fraction)
        cut = poses.shape[0] - tail
        labels = seqs.labels[0] if seqs.labels else None
        return _Parts(
            poses[:cut],
            poses[cut:],
            None if labels is None else labels[:cut],
            None if labels is None else labels[cut:],
            np.zeros(1, dtype=bool),
            tail,
        )
    is_val = split_sequences(seqs.names, val_fraction)

    def gather(parts: list[np.ndarray], take: np.ndarray) -> np.ndarray:
        chosen = [p for p, keep in zip(parts, take, strict=True) if keep]
        return np.concatenate(chosen) if chosen else np.zeros((0, *parts[0].shape[1:]), parts[0].dtype)

    train, val = gather(seqs.poses, ~is_val), gather(seqs.poses, is_val)
    if seqs.labels is None:
        return _Parts(train, val, None, None, is_val, 0)
    return _Parts(train, val, gather(seqs.labels, ~is_val), gather(seqs.labels, is_val), is_val, 0)


def _report(cfg: DataConfig, source: str, read: ReadResult | None, parts: _Parts) -> LoadReport:
    arrays = [a for a in (parts.train, parts.val) if a.shape[0]]  # no concatenated copy of all the data
    width = parts.train.shape[1]
    _, joint_names = limits_for_width(width)
    notes = []
    if parts.tail:
        notes.append(
            f"only one sequence, so validation is its last {parts.tail} frames (contiguous; whole-sequence "
            "splitting needs two or more files)"
        )
    peak = max(float(np.abs(a).max()) for a in arrays)
    if peak > _DEGREES_HINT:
        notes.append(f"the largest |value| is {peak:.1f}: axis-angle poses are radians; is this data in degrees?")
    files: list[FileEntry] = []
    if read is not None:
        no_rate = sum(s.kind == "amass" and s.source_fps is None for s in read.sequences)
        if no_rate:
            notes.append(f"{no_rate} AMASS files have no mocap_framerate, so all their frames were kept")
        for s, held_out in zip(read.sequences, parts.is_val, strict=True):
            split = "train+val" if parts.tail else ("val" if held_out else "train")
            kept = s.poses.shape[0]
            files.append(FileEntry(s.name, s.kind, s.width_in, s.frames_in, kept, s.source_fps, s.fps, split))
    outside = sum(int((joint_limit_violations(a) > 0).sum()) for a in arrays)
    return LoadReport(
        source=source,
        pose_format=cfg.pose_format,
        pose_dim=width,
        target_fps=cfg.target_fps,
        val_fraction=cfg.val_fraction,
        train_sequences=int((~parts.is_val).sum()),
        val_sequences=int(parts.is_val.sum()) + (1 if parts.tail else 0),  # a lone sequence counts on both sides
        train_frames=int(parts.train.shape[0]),
        val_frames=int(parts.val.shape[0]),
        joint_names=joint_names,
        joint_min=np.min([a.min(axis=0) for a in arrays], axis=0).reshape(-1, 3),
        joint_max=np.max([a.max(axis=0) for a in arrays], axis=0).reshape(-1, 3),
        outside_limits=outside / sum(a.shape[0] for a in arrays),
        files=files,
        skipped=[] if read is None else read.skipped,
        is_directory=read is not None and read.is_directory,
        family_counts=_family_counts(parts.train_labels, parts.val_labels) if read is None else None,
        notes=notes,
    )


def _family_counts(train_labels: np.ndarray | None, val_labels: np.ndarray | None) -> dict[str, int]:
    labels = np.concatenate([x for x in (train_labels, val_labels) if x is not None])
    counts = np.bincount(labels, minlength=len(FAMILY_NAMES))
    return {name: int(count) for name, count in zip(FAMILY_NAMES, counts, strict=True)}
