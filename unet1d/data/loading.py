"""``load_pose_data``: from a DataConfig to train/val pose arrays, statistics and a report.

Shapes: every array here is (N, pose_dim) float32 at the data boundary, not normalised; apply
``splits.stats.normalize`` before training and ``denormalize`` after sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unet1d.body.heading import UPRIGHT_DEGREES, canonical_heading, change_up_axis, has_root
from unet1d.body.heading import body_up as heading_body_up
from unet1d.body.limits import constant_components, frames_beyond, human_limits_for_width
from unet1d.body.skeleton import joint_limit_violations, limits_for_width
from unet1d.config import DataConfig
from unet1d.data.builtin import CLIP_FRAMES, FAMILY_NAMES
from unet1d.data.builtin_cache import cached_builtin_poses
from unet1d.data.cache import configured_cache_dir
from unet1d.data.files import ReadResult, read_pose_path
from unet1d.data.formats import BODY_COLUMNS, POSE_FORMAT_WIDTH
from unet1d.data.normalization import NormStats, envelope_of
from unet1d.data.report import FileEntry, LoadReport
from unet1d.data.representation import EncodedStats, encode
from unet1d.data.sequences import said_otherwise, stated_up_axis
from unet1d.data.split import amass_parts, glob_parts, split_sequences, tail_frames
from unet1d.data.up_axis import resolve_up_axis
from unet1d.errors import UserError

BUILTIN = "builtin"
DEGREES_HINT = 4 * np.pi  # axis-angle components beyond this are almost surely degrees


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
    up_axis: str = "y"  # the world up the poses are stored in (data.up_axis resolved)
    train_groups: np.ndarray | None = None  # (N,) sequence index of each training pose
    turned_from: str | None = None  # the up axis the files stood along, when they were turned into ``world``

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


def load_pose_data(
    cfg: DataConfig, pose_dim: int, *, seed: int, batch_size: int | None = None, world: str | None = None
) -> PoseSplits:
    """Load, validate, split and summarise the poses ``cfg`` names.

    ``seed`` drives the built-in generator (files do not depend on it; nor does the split).
    ``batch_size``, when given, must fit in the training split. ``world``: the up axis of the run the
    poses are for (an evaluation's, on data given with --data); poses of another world are turned
    into it. Raises :class:`UserError` for anything wrong with the data, naming the file.
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
        read = read_pose_path(path, cfg.pose_format, cfg.target_fps, configured_cache_dir(cfg),
                              amass_split=cfg.split == "amass")  # fmt: skip
        sequences = _Sequences([s.name for s in read.sequences], [s.poses for s in read.sequences])
        source = str(path)
    stated = [] if read is None else [stated_up_axis(s.kind) for s in read.sequences]
    z_up = stated.count("z")  # AMASS takes, and arrays that say so (unet1d's own outputs)
    rooted = cfg.pose_format != "body63"  # body-only poses have no root: the world changes none of their numbers
    if cfg.up_axis == "auto" and 0 < z_up < len(sequences.names) and rooted:
        raise UserError(mixed_worlds(source, read, stated, settable=world is None))  # an evaluation's is the run's
    up = resolve_up_axis(cfg.up_axis, builtin=read is None, z_up_files=z_up)
    parts = _split(sequences, cfg.val_fraction, cfg.split, cfg.val_files, source)
    turned_from = None
    if world is not None and world != up and has_root(parts.train):  # a run of the other world scores this data
        parts.train, parts.val = change_up_axis(parts.train, up, world), change_up_axis(parts.val, up, world)
        turned_from, up = up, world
    orientation = _orientation(cfg, up, read, parts)  # before heading is removed
    if cfg.heading == "canonical":  # train on poses at heading 0; samples get a random heading back
        parts.train, parts.val = canonical_heading(parts.train, up), canonical_heading(parts.val, up)
    encoded = encode(parts.train, cfg.representation)  # data/representation.py: what the network sees
    stats = NormStats.fit(encoded) if cfg.normalize else NormStats.identity(encoded.shape[1], envelope_of(encoded))
    stats.up_axis = up
    splits = PoseSplits(
        train=parts.train,
        val=parts.val,
        stats=stats if encoded is parts.train else EncodedStats(stats, envelope_of(parts.train)),
        report=_report(cfg, source, read, parts, orientation),
        train_labels=parts.train_labels,
        val_labels=parts.val_labels,
        family_names=list(FAMILY_NAMES) if read is None else None,
        up_axis=up,
        train_groups=parts.train_groups,
        turned_from=turned_from,
    )
    if batch_size is not None:
        check_batch_size(splits, batch_size)
    return splits


def mixed_worlds(source: str, read: ReadResult, stated: list[str | None], settable: bool = True) -> str:
    """Why ``--up_axis auto`` cannot take one world for a folder of z-up files and others (``settable``: whether
    the reader may pass --up_axis; an evaluation reads in its run's world)."""
    z_up = stated.count("z")
    others = [s.name for s, axis in zip(read.sequences, stated, strict=True) if axis != "z"]
    said = "AMASS takes" if "array-z" not in {s.kind for s in read.sequences} else "AMASS takes or arrays saying z"
    plain = stated.count(None) == len(others)
    many = len(others) != 1
    unsaid = "y-up unless told" if settable else "their world unsaid"  # an evaluation takes them in the run's
    what = (f"plain pose array{'s' * many} ({unsaid})" if plain
            else f"y-up file{'s' * many} (plain arrays, or arrays saying y)")  # fmt: skip
    advice = "pass --up_axis z if the arrays are z-up like AMASS (y if every file is y-up), or " if plain else ""
    taken = "--up_axis auto takes one world for all of them" if settable else "their worlds cannot both be read"
    return (
        f"{source}: mixes {z_up} z-up file{'s' * (z_up != 1)} ({said}) with {len(others)} {what}, e.g. "
        f"{others[0]}; {taken}: {advice if settable else ''}put the files of each world in a folder of their own"
    )


def check_batch_size(splits: PoseSplits, batch_size: int) -> None:
    """Refuse a training split smaller than one batch (shuffled batches drop incomplete tails)."""
    if splits.train.shape[0] < batch_size:
        raise UserError(
            f"{splits.report.source}: {splits.train.shape[0]} training poses (after subsampling and holding out "
            f"{splits.val.shape[0]} for validation) are fewer than one batch of {batch_size}; "
            "lower --batch_size or --val_fraction, or bring more data"
        )


def _builtin_sequences(cfg: DataConfig, seed: int) -> _Sequences:
    generated = cached_builtin_poses(cfg.builtin_samples, seed, configured_cache_dir(cfg))
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
    is_test: np.ndarray | None = None  # per sequence: AMASS's test sets, loaded by neither side
    train_groups: np.ndarray | None = None  # per training pose: the index of its sequence
    rule: str = ""  # how validation was chosen, for the report


def _split(seqs: _Sequences, val_fraction: float, split: str = "hash", val_files: str | None = None,
           source: str = "") -> _Parts:  # fmt: skip
    if val_files is not None or split == "amass":
        return _split_by_parts(seqs, val_files, source, amass=split == "amass")
    parts = _split_hash(seqs, val_fraction)
    train_lengths = [len(p) for p, v in zip(seqs.poses, parts.is_val, strict=True) if not v or parts.tail]
    parts.train_groups = np.repeat(np.arange(len(train_lengths)), train_lengths)[: len(parts.train)]
    noun = "clips" if seqs.labels is not None else "sequences"
    parts.rule = f"val_fraction {val_fraction:g}, whole {noun} chosen by a hash of the name"
    return parts


def _split_by_parts(seqs: _Sequences, val_files: str | None, source: str, amass: bool = False) -> _Parts:
    """Held-out files by a glob (``data.val_files``) or by AMASS's standard split (``data.split amass``). Both: the
    glob's files validate, and AMASS's test datasets stay out as the split keeps them (they trained before)."""
    if val_files is not None:
        labels, rule = glob_parts(seqs.names, val_files), f"val_files {val_files!r}"
        what = f"data.val_files={val_files!r}"
        if amass:
            test = amass_parts(seqs.names) == "test"
            chosen = np.flatnonzero(test & (labels == "val"))
            if chosen.size:  # test data choosing the best checkpoint: not what the split promises
                raise UserError(
                    f"{what} holds out {chosen.size} file{'s' * (chosen.size != 1)} of AMASS's test datasets for "
                    f"validation (e.g. {seqs.names[chosen[0]]}); data.split='amass' keeps them out: narrow the glob, "
                    "or leave out --split amass"
                )
            labels[test] = "test"
            rule += ", AMASS's test datasets left out (split amass)"
    else:
        labels, rule = amass_parts(seqs.names), "AMASS standard split by sub-dataset"
        what = "data.split='amass'"
    is_val, is_test = labels == "val", labels == "test"
    example = ", ".join(seqs.names[:3]) + (", ..." if len(seqs.names) > 3 else "")
    if not is_val.any():
        allowed = (
            "a glob over paths relative to the data folder, e.g. 'HumanEva/*'"
            if val_files is not None
            else "files under HumanEva, MPI_HDM05 (HDM05), SFU or MPI_mosh (MoSh) folders"
        )
        raise UserError(f"{what}: no file of {source} is held out for validation (files: {example}); needs {allowed}")
    is_train = ~is_val & ~is_test
    if not is_train.any():
        raise UserError(f"{what}: every file of {source} is held out; nothing is left to train on")

    def gather(parts: list[np.ndarray], take: np.ndarray) -> np.ndarray:
        chosen = [p for p, keep in zip(parts, take, strict=True) if keep]
        return np.concatenate(chosen) if chosen else np.zeros((0, *parts[0].shape[1:]), parts[0].dtype)

    lengths = [len(p) for p, keep in zip(seqs.poses, is_train, strict=True) if keep]
    labels_train = None if seqs.labels is None else gather(seqs.labels, is_train)
    labels_val = None if seqs.labels is None else gather(seqs.labels, is_val)
    return _Parts(
        gather(seqs.poses, is_train), gather(seqs.poses, is_val), labels_train, labels_val, is_val, 0,
        is_test, np.repeat(np.arange(len(lengths)), lengths), rule,
    )  # fmt: skip


def _split_hash(seqs: _Sequences, val_fraction: float) -> _Parts:
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


@dataclass
class _Orientation:
    """What the report says about the data's up axis and limits, measured before heading is removed."""

    up_axis: str
    up_reason: str
    mean_body_up: np.ndarray | None
    upright: float | None
    outside_human: float | None  # file data: share of frames past the human limits by > 0.05 rad
    constant: list[str]


def _orientation(cfg: DataConfig, up: str, read: ReadResult | None, parts: _Parts) -> _Orientation:
    arrays = [a for a in (parts.train, parts.val) if a.shape[0]]
    frames = sum(len(a) for a in arrays)
    kinds = set() if read is None else {s.kind for s in read.sequences}
    if cfg.up_axis != "auto":
        reason = "set"
    elif "amass" in kinds:
        reason = "auto: AMASS .npz files"
    elif kinds & {"array-y", "array-z"}:
        reason = "auto: the files' own up_axis"
    else:
        reason = "auto: built-in poses or plain arrays"
    body_up = upright = None
    if has_root(arrays[0]):  # one pass: the mean body up and the share within 30 deg of the up axis
        ups = [heading_body_up(a) for a in arrays]
        body_up = sum(u.sum(axis=0) for u in ups) / frames
        axis = "xyz".index(up)
        upright = sum(int((u[:, axis] >= np.cos(np.radians(UPRIGHT_DEGREES))).sum()) for u in ups) / frames
    width = arrays[0].shape[1]
    _, names = limits_for_width(width)
    still = constant_components(parts.train)
    constant = [f"{names[i // 3]} {'xyz'[i % 3]}" for i in np.flatnonzero(still)]
    outside = None
    if not is_builtin(cfg.data):
        limits = human_limits_for_width(width)
        outside = sum(int(frames_beyond(a, limits).sum()) for a in arrays) / frames
    return _Orientation(up, reason, body_up, upright, outside, constant)


def _report(
    cfg: DataConfig, source: str, read: ReadResult | None, parts: _Parts, orientation: _Orientation | None = None
) -> LoadReport:
    arrays = [a for a in (parts.train, parts.val) if a.shape[0]]  # no concatenated copy of all the data
    width = parts.train.shape[1]
    _, joint_names = limits_for_width(width)
    notes = []
    if parts.tail:
        notes.append(
            f"only one sequence, so validation is its last {parts.tail} frames (contiguous; whole-sequence "
            "splitting needs two or more files)"
        )
    contrary = (
        []
        if read is None or cfg.up_axis == "auto" or not has_root(arrays[0])
        else [s.name for s in read.sequences if stated_up_axis(s.kind) not in (None, cfg.up_axis)]
    )
    if contrary:
        notes.append(said_otherwise(contrary, "--up_axis", cfg.up_axis))
    peak = max(float(np.abs(a).max()) for a in arrays)
    if peak > DEGREES_HINT:
        notes.append(f"the largest |value| is {peak:.1f}: axis-angle poses are radians; is this data in degrees?")
    files: list[FileEntry] = []
    if read is not None:
        no_rate = sum(s.kind == "amass" and s.source_fps is None for s in read.sequences)
        if no_rate:
            notes.append(f"{no_rate} AMASS files have no mocap_framerate, so all their frames were kept")
        is_test = parts.is_test if parts.is_test is not None else np.zeros(len(read.sequences), dtype=bool)
        for s, held_out, test in zip(read.sequences, parts.is_val, is_test, strict=True):
            split = "train+val" if parts.tail else ("val" if held_out else "test" if test else "train")
            kept = s.poses.shape[0]
            files.append(FileEntry(s.name, s.kind, s.width_in, s.frames_in, kept, s.source_fps, s.fps, split))
    outside = sum(int((joint_limit_violations(a) > 0).sum()) for a in arrays)
    return LoadReport(
        source=source,
        pose_format=cfg.pose_format,
        pose_dim=width,
        target_fps=cfg.target_fps,
        val_fraction=cfg.val_fraction,
        train_sequences=int((~parts.is_val).sum()) - (0 if parts.is_test is None else int(parts.is_test.sum())),
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
        test_sequences=0 if parts.is_test is None else int(parts.is_test.sum()),
        test_frames=0
        if parts.is_test is None or read is None
        else sum(len(s.poses) for s, t in zip(read.sequences, parts.is_test, strict=True) if t),
        split_rule=parts.rule,
        up_axis=None if orientation is None else orientation.up_axis,
        up_reason="" if orientation is None else orientation.up_reason,
        mean_body_up=None if orientation is None else orientation.mean_body_up,
        upright=None if orientation is None else orientation.upright,
        outside_human=None if orientation is None else orientation.outside_human,
        constant_components=[] if orientation is None else orientation.constant,
    )


def _family_counts(train_labels: np.ndarray | None, val_labels: np.ndarray | None) -> dict[str, int]:
    labels = np.concatenate([x for x in (train_labels, val_labels) if x is not None])
    counts = np.bincount(labels, minlength=len(FAMILY_NAMES))
    return {name: int(count) for name, count in zip(FAMILY_NAMES, counts, strict=True)}
