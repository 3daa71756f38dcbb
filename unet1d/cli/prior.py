"""`unet1d complete` and `unet1d denoise`: a trained run used as a pose prior on the user's own poses.

Poses are read as ``--data`` reads them (AMASS ``.npz`` takes, ``.npy`` arrays, one-array ``.npz``,
folders of them) in the run's own pose format and frame rate; the answer is an ``.npz`` whose
``poses`` are (N, hypotheses, D) axis-angle radians in the data's own convention (up axis, heading),
beside what reading it back needs: the hidden joints, the joint names, the method, the noise.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer

from unet1d.allocator import keep_freed_memory
from unet1d.cli.common import check_environment
from unet1d.cli.evaluate import Device, Raw, RunArgument, Seed, checked_device
from unet1d.cli.output import save_npz, writable_output
from unet1d.errors import UserError

if TYPE_CHECKING:
    import numpy as np

    from unet1d.prior import PosePrior

PosesOption = Annotated[
    Path,
    typer.Option(
        "--poses",
        help="Pose file or folder, any format --data reads (.npz AMASS takes, .npy arrays, folders).",
        show_default=False,
    ),
]
AllFramesOption = Annotated[
    bool,
    typer.Option(
        "--all-frames",
        "--all_frames",
        help="Every frame of each take; default: the run's data.target_fps, as it trained (120 fps AMASS: every 4th).",
    ),
]
UpAxisOption = Annotated[
    str,
    typer.Option(
        "--up-axis",
        "--up_axis",
        help="The vertical the poses stand along: auto (AMASS takes z, plain arrays the run's own), y or z.",
    ),
]


class GivenPoses(NamedTuple):
    """What ``--poses`` holds, in the run's pose format: (N, D) float32 poses, the sequences' names, each row's
    sequence and frame in it (at the file's own rate), and the world they are in (``up_axis``: AMASS files are
    z-up, other files the run's own)."""

    poses: np.ndarray
    names: list[str]
    rows: np.ndarray
    frames: np.ndarray
    up_axis: str


MAX_HYPOTHESES = 1000  # every pose's answers are held at once: 10^11 ended in a 52 TiB allocation's traceback


def apart_from_input(out: Path, poses_path: Path) -> None:
    """Refuse an ``--out`` that would replace the poses read (an AMASS take overwritten by the answers) or land
    among them (a later call on the ``--poses`` folder would read the answers as poses). The answers replace the
    entry ``out`` names (a link there, not what it points to), in its folder as links lead there."""
    if not poses_path.exists():
        return  # reading it says so
    given = {Path(os.path.abspath(poses_path)), poses_path.resolve()}
    written = {Path(os.path.abspath(out)), out.parent.resolve() / out.name}
    if poses_path.is_file() and given & written:
        raise UserError(f"--out {out}: is the --poses file; it would be replaced by the answers: write them elsewhere")
    folders = set(given)
    for parent, subfolders, _ in os.walk(poses_path) if poses_path.is_dir() else ():
        # a folder linked in is read as part of the --poses folder: where it really is, the answers would be too
        folders |= {(Path(parent) / name).resolve() for name in subfolders if (Path(parent) / name).is_symlink()}
    if poses_path.is_dir() and any(folder in path.parents for folder in folders for path in written):
        raise UserError(
            f"--out {out}: is inside the --poses folder {poses_path}, where a later call would read it as poses: "
            "write it elsewhere"
        )


def read_poses(path: Path, prior: PosePrior, up_axis: str = "auto", all_frames: bool = False) -> GivenPoses:
    """Every pose under ``path`` in the run's pose format, and the world it is in.

    Read with the run's ``pose_format`` and ``target_fps``, as its training data was; a file the
    run cannot take (63 numbers for a 72-number run) is one line naming the file and the widths allowed.
    AMASS files are z-up: given to a y-up run (built-in poses), they are turned to its world for the
    network and the answers turned back, so the output is in their own convention. ``up_axis`` (y, z)
    overrides the guess; poses that look lying down in it, or in degrees, get a warning (as in ``data check``).
    ``all_frames`` keeps every frame of a take instead of subsampling it to the run's frame rate.
    """
    import numpy as np

    from unet1d.body.heading import has_root
    from unet1d.data.files import read_pose_path
    from unet1d.data.formats import subsample_indices
    from unet1d.data.sequences import said_otherwise, stated_up_axis
    from unet1d.prior.api import input_concerns

    if up_axis not in ("auto", "y", "z"):
        raise UserError(f"--up-axis {up_axis!r}: allowed: auto, y, z")
    if not path.exists():
        raise UserError(f"--poses {path}: no such file or folder")
    data = prior.config.data
    target_fps = math.inf if all_frames else data.target_fps  # no rate is above it: every frame is kept
    try:
        read = read_pose_path(path, data.pose_format, target_fps)
    except UserError as err:
        if data.pose_format == "smpl72" and "63 columns" in str(err):
            raise UserError(
                f"--poses {path}: body-only poses (63 numbers: no root orientation) cannot go to this run, whose "
                "poses are 72 numbers (SMPL); allowed: 72 (SMPL), 156 (SMPL-H) or 165 (SMPL-X) numbers per pose, "
                "or a run trained with --pose_format body63"
            ) from None
        raise
    poses = np.concatenate([sequence.poses for sequence in read.sequences]).astype(np.float32)
    if len(poses) == 0:
        raise UserError(f"--poses {path}: holds no poses")
    # each file's world: AMASS takes z, an array that says its up_axis (unet1d's own outputs) that, else the run's
    rooted = has_root(poses)  # body-only poses have no root: no world changes any of their numbers
    worlds = (
        {stated_up_axis(sequence.kind) or prior.up_axis for sequence in read.sequences} if rooted else {prior.up_axis}
    )
    if len(worlds) > 1 and up_axis == "auto":  # --up-axis says one world for all, as --up_axis does for training
        raise UserError(
            f"--poses {path}: mixes z-up files (AMASS takes, or arrays whose up_axis says z) with y-up ones (plain "
            f"arrays are taken in the run's {prior.up_axis}-up world); give them in separate calls, or --up-axis if "
            "every file is in one world"
        )
    up = up_axis if up_axis != "auto" else worlds.pop()
    contrary = [s.name for s in read.sequences if stated_up_axis(s.kind) not in (None, up)] if rooted else []
    if contrary:  # --up-axis against what the files say
        typer.echo(f"warning: --poses {path}: {said_otherwise(contrary, '--up-axis', up)}", err=True)
    no_rate = [sequence.name for sequence in read.sequences if sequence.kind == "amass" and sequence.source_fps is None]
    if no_rate and not all_frames:  # as `data check` notes: nothing to subsample them by
        typer.echo(
            f"--poses {path}: {len(no_rate)} AMASS take{'s' * (len(no_rate) != 1)} without a frame rate (e.g. "
            f"{no_rate[0]}): every frame kept, not subsampled to {target_fps:g} fps"
        )
    guessed = up_axis == "auto" and "array" in {sequence.kind for sequence in read.sequences}  # the run's world
    for concern in input_concerns(poses, up, guessed):
        typer.echo(f"warning: --poses {path}: {concern}", err=True)
    if up != prior.up_axis and rooted:
        kinds = {sequence.kind for sequence in read.sequences}
        given = (f"taken as {up}-up (--up-axis)" if up_axis != "auto" else "AMASS files are z-up" if "amass" in kinds
                 else f"the file says it is {up}-up (up_axis)")  # fmt: skip
        typer.echo(
            f"--poses {path}: {given} and this run's poses {prior.up_axis}-up: turned for the network and back; "
            f"the output is {up}-up like them"
        )
    names = [sequence.name for sequence in read.sequences]
    rows = np.repeat(np.arange(len(names)), [len(sequence.poses) for sequence in read.sequences])
    frames = np.concatenate([
        np.arange(len(s.poses)) if s.source_fps is None else subsample_indices(s.frames_in, s.source_fps, target_fps)
        for s in read.sequences
    ])  # fmt: skip
    return GivenPoses(poses, names, rows, frames, up)


def load_prior(run: Path, device: str, raw: bool) -> PosePrior:
    from unet1d.prior import PosePrior

    checked_device(device)
    check_environment()
    keep_freed_memory()
    prior = PosePrior.load(run, device=device, ema=not raw)
    prior.input_warnings = False  # read_poses prints each concern, naming the file and the flag
    return prior


def write(out: Path, poses: np.ndarray, prior: PosePrior, given: GivenPoses, **extra: object) -> None:
    """``out``.npz: ``poses`` (N, H, D) float32, in the given poses' world, and what reading them back needs."""
    import numpy as np

    save_npz(
        out,
        poses=poses.astype(np.float32),
        joint_names=np.array(prior.joint_names),
        up_axis=np.array(given.up_axis),
        sequence_names=np.array(given.names),
        sequence_index=given.rows.astype(np.int64),
        frame_index=given.frames.astype(np.int64),
        **{key: np.asarray(value) for key, value in extra.items()},
    )


def complete_command(
    run: RunArgument,
    poses_path: PosesOption,
    mask: Annotated[
        str,
        typer.Option(
            "--mask",
            help="What to complete: parts (left_leg, right_leg, legs, left_arm, right_arm, arms, trunk) "
            "and SMPL joint names, comma-separated, e.g. legs,left_wrist.",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the .npz (key 'poses', radians).")] = Path(
        "completed.npz"
    ),
    hypotheses: Annotated[
        int, typer.Option("--hypotheses", min=1, max=MAX_HYPOTHESES, help="Completions drawn per pose (at most 1,000).")
    ] = 10,
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            help="replace, repaint, dps, dposer, anneal or guided; default: guided, the measured pick "
            "(docs/quality.md).",
        ),
    ] = None,
    shrink: Annotated[
        float | None,
        typer.Option(
            "--shrink",
            help="Pull each pose's hypotheses towards their mean by this factor: 1 keeps the draws as drawn, "
            "0 makes every hypothesis their mean (one hypothesis is its own mean). Default: the measured pick, "
            "0.5 (docs/quality.md).",
        ),
    ] = None,
    up_axis: UpAxisOption = "auto",
    all_frames: AllFramesOption = False,
    seed: Seed = 0,
    device: Device = "auto",
    raw: Raw = False,
) -> None:
    """Complete the hidden joints of each pose; saves (N, hypotheses, D) radians, observed numbers untouched."""
    import numpy as np

    from unet1d.prior import DEFAULT_METHOD, DEFAULT_SHRINK, METHODS, parse_mask

    if method is not None and method not in METHODS:
        raise UserError(f"--method {method!r}: allowed: {', '.join(METHODS)}")
    if shrink is not None and not 0.0 <= shrink <= 1.0:
        raise UserError(f"--shrink {shrink}: must be between 0 (every hypothesis the mean) and 1 (plain draws)")
    if shrink is not None and shrink != 1.0 and hypotheses == 1:  # the output said shrink 0.5 of plain draws
        typer.echo(f"warning: --shrink {shrink:g} changes nothing with one hypothesis (its own mean)", err=True)
    shrink = 1.0 if hypotheses == 1 else DEFAULT_SHRINK if shrink is None else shrink  # what the output records
    apart_from_input(out, poses_path)  # before writable_output makes any folder
    writable_output(out, archive=True)
    prior = load_prior(run, device, raw)
    hidden = parse_mask(mask, prior.pose_dim)
    given = read_poses(poses_path, prior, up_axis, all_frames)
    poses = given.poses
    completed = prior.complete(
        poses, hidden, hypotheses=hypotheses, seed=seed, method=method, shrink=shrink, up_axis=given.up_axis
    )
    chosen = method or DEFAULT_METHOD
    write(out, completed, prior, given, hidden=hidden, method=chosen, mask=mask, seed=np.int64(seed),
          shrink=np.float64(shrink))  # fmt: skip
    shown = ", ".join(name for name, gone in zip(prior.joint_names, hidden, strict=True) if gone)
    typer.echo(
        f"wrote {len(poses)} pose{'s' * (len(poses) != 1)} x {hypotheses} completion{'s' * (hypotheses != 1)} "
        f"({prior.pose_dim} numbers each; {chosen}) of {shown} to {out}"
    )


def denoise_command(
    run: RunArgument,
    poses_path: PosesOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the .npz (key 'poses', radians).")] = Path(
        "denoised.npz"
    ),
    noise_std: Annotated[
        float,
        typer.Option("--noise-std", "--noise_std", help="The noise's standard deviation per axis-angle number (rad)."),
    ] = 0.1,
    hypotheses: Annotated[
        int,
        typer.Option(
            "--hypotheses", min=1, max=MAX_HYPOTHESES, help="Clean poses drawn per noisy pose (at most 1,000)."
        ),
    ] = 1,
    up_axis: UpAxisOption = "auto",
    all_frames: AllFramesOption = False,
    seed: Seed = 0,
    device: Device = "auto",
    raw: Raw = False,
) -> None:
    """Denoise poses carrying Gaussian noise of --noise-std radians; saves (N, hypotheses, D) radians."""
    import numpy as np

    from unet1d.prior import DEFAULT_DENOISE_METHOD

    if not 0 < noise_std < math.inf:
        raise UserError(f"--noise-std {noise_std}: must be a finite number > 0 radians (the noise the poses carry)")
    apart_from_input(out, poses_path)  # before writable_output makes any folder
    writable_output(out, archive=True)
    prior = load_prior(run, device, raw)
    given = read_poses(poses_path, prior, up_axis, all_frames)
    poses = given.poses
    denoised = prior.denoise(poses, noise_std=noise_std, hypotheses=hypotheses, seed=seed, up_axis=given.up_axis)
    method = DEFAULT_DENOISE_METHOD
    write(out, denoised, prior, given, noise_std=np.float64(noise_std), method=method, seed=np.int64(seed))
    typer.echo(
        f"wrote {len(poses)} pose{'s' * (len(poses) != 1)} x {hypotheses} denoised ({prior.pose_dim} numbers each, "
        f"noise {noise_std:g} rad) to {out}"
    )
