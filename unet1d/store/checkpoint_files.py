"""What a checkpoint is on disk, read without torch: its folder's name, its marker and config, and
whether its files are whole (sizes and CRC-32s against the marker).

`unet1d compare` and `unet1d sweep local` read runs through this module alone, so neither loads
torch (1.8 CPU s a process here); :mod:`unet1d.store.checkpoints` writes and loads the tensors.
"""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from unet1d import notices
from unet1d.config_sources import config_from_dict
from unet1d.errors import UserError

if TYPE_CHECKING:
    from unet1d.config import Config

FORMAT_VERSION = 2  # 2: one table of components under "state"; 1: "loop", "ema_updates", rank-<r>.safetensors
READABLE_FORMATS = (1, 2)
CHECKPOINTS_DIR = "checkpoints"
MARKER = "checkpoint.json"
MODEL_FILE = "model.safetensors"
EMA_FILE = "ema.safetensors"
STATS_FILE = "norm_stats.safetensors"
CONFIG_FILE = "config.yaml"
ACCELERATE_DIR = "accelerate"
EVAL_FILES = (MODEL_FILE, EMA_FILE, STATS_FILE, CONFIG_FILE, MARKER)
STEP_PATTERN = re.compile(r"^step-(\d+)$")
RETIRED_PATTERN = re.compile(r"^\.old-step-(\d+)$")  # a checkpoint being replaced by one of the same step


def warn(message: str) -> None:
    """One line on stderr, once per message per process (readers poll: a damaged file is met again and again)."""
    notices.warn(message, once=True)


def checkpoint_step(path: Path) -> int | None:
    match = STEP_PATTERN.match(path.name)
    return int(match.group(1)) if match else None


def list_checkpoints(output_dir: Path) -> list[Path]:
    """Published checkpoints in ``output_dir`` (a marker present; not yet checked for damage), oldest first.

    A checkpoint set aside by a same-step save that was killed before it finished (``.old-step-<N>``
    with no ``step-<N>``) still counts: it is whole, and nothing else holds that step.
    """
    root = Path(output_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        retired = RETIRED_PATTERN.match(path.name)
        if retired and (root / f"step-{retired.group(1)}").exists():
            continue
        if (checkpoint_step(path) is not None or retired) and (path / MARKER).is_file():
            found.append(path)
    return sorted(found, key=step_of)


def is_run_checkpoint(checkpoint: Path, output_dir: Path) -> bool:
    """Whether ``checkpoint`` lies in ``output_dir``'s own checkpoints, not another run's (a fork,
    ``--resume PATH`` into a new folder, starts a run of its own: its own checkpoints and W&B run)."""
    return Path(checkpoint).resolve().parent.parent == Path(output_dir).resolve()


def step_of(path: Path) -> int:
    match = STEP_PATTERN.match(path.name) or RETIRED_PATTERN.match(path.name)
    return int(match.group(1)) if match else 0


def unmarked_checkpoints(output_dir: Path) -> list[Path]:
    """``step-N`` folders without ``checkpoint.json``: a save publishes its folder whole, marker included, so
    one without is damaged (its marker deleted or lost), never a save in progress (that is ``.tmp-step-N``)."""
    root = Path(output_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    return sorted(
        (p for p in root.iterdir() if checkpoint_step(p) is not None and not (p / MARKER).exists()), key=step_of
    )


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest whole checkpoint (what ``--resume auto`` continues); newer damaged ones are reported, passed over."""
    passed = unmarked_checkpoints(output_dir)
    for checkpoint in reversed(list_checkpoints(output_dir)):
        if checkpoint_damage(checkpoint) is None:
            for damaged in passed:
                if step_of(damaged) > step_of(checkpoint) and damaged.exists():  # gone: pruned while it was looked at
                    warn(f"checkpoint {damaged} is damaged ({damage_of(damaged)}); using {checkpoint} instead")
            return checkpoint
        passed.append(checkpoint)
    for damaged in passed:
        if damaged.exists():
            warn(f"checkpoint {damaged} is damaged ({damage_of(damaged)}); no whole checkpoint is left")
    return None


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint directory, or the latest one of a run's output directory (for ``unet1d eval DIR``)."""
    path = Path(path).expanduser()
    if (path / MARKER).is_file():
        damage = checkpoint_damage(path)
        if damage is not None:
            raise UserError(f"checkpoint {path} is damaged: {damage}; use another checkpoint of the run")
        return path
    if path.is_dir():
        latest = latest_checkpoint(path)
        if latest is not None:
            return latest
        raise UserError(f"{path} holds no complete checkpoint (looked for {CHECKPOINTS_DIR}/step-<N>/{MARKER})")
    if path.exists():
        raise UserError(f"{path}: a file; give a run's folder, or one of its checkpoints/step-<N> folders")
    raise UserError(f"checkpoint {str(path)!r} does not exist")


def read_marker(checkpoint: Path) -> dict[str, Any]:
    """``checkpoint.json``, or a :class:`UserError` naming it when it is unreadable or of another format."""
    path = checkpoint / MARKER
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: unreadable checkpoint marker ({reason_of(err)}); the checkpoint is damaged") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a checkpoint marker (a JSON object); the checkpoint is damaged")
    version = data.get("format_version")
    if version not in READABLE_FORMATS:
        readable = ", ".join(str(v) for v in READABLE_FORMATS)
        raise UserError(f"{checkpoint}: checkpoint format {version!r} is not one this version reads ({readable})")
    state = data.get("state", {})
    if not isinstance(state, dict) or not all(isinstance(part, dict) for part in state.values()):
        raise UserError(f"{path}: its state is not a table of components; the checkpoint is damaged")
    return data


def read_config(checkpoint: Path) -> Config:

    path = checkpoint / CONFIG_FILE
    try:
        stored = yaml.safe_load(path.read_text())
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise UserError(f"{path}: unreadable ({reason_of(err)}); the checkpoint is damaged") from None
    if not isinstance(stored, dict):
        raise UserError(f"{path}: does not hold a config (a YAML mapping); the checkpoint is damaged")
    return config_from_dict(stored, origin=str(checkpoint))


def reason_of(err: BaseException) -> str:
    """The first line of what went wrong, with the error's kind where the text alone is cryptic."""
    lines = str(err).splitlines()
    text = getattr(err, "strerror", None) or (lines[0] if lines else "")
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while block := handle.read(16 << 20):
            crc = zlib.crc32(block, crc)
    return crc


def file_manifest(folder: Path) -> dict[str, list[int]]:
    """``{relative path: [size, CRC-32]}`` of every file below ``folder`` but the marker."""
    return {
        path.relative_to(folder).as_posix(): [path.stat().st_size, _crc32(path)]
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MARKER
    }


_verified: dict[tuple[str, tuple[tuple[str, int, int], ...]], str | None] = {}


def checkpoint_damage(checkpoint: Path) -> str | None:
    """What is wrong with ``checkpoint`` (None when whole): its marker, and each file against the marker's
    size and CRC-32 (checkpoints written before the marker listed its files: the files evaluation needs
    exist). Checked once per process while no file of it changes (name, size, mtime)."""
    try:
        files = tuple(
            (p.relative_to(checkpoint).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(checkpoint.rglob("*"))
            if p.is_file()
        )
    except OSError as err:
        return f"unreadable: {err.strerror or err}"
    key = (str(checkpoint), files)
    if key not in _verified:
        _verified[key] = _damage(checkpoint)
    return _verified[key]


def damage_of(checkpoint: Path) -> str:
    return checkpoint_damage(checkpoint) or "whole"


def _damage(checkpoint: Path) -> str | None:
    if not (checkpoint / MARKER).exists():
        return f"no {MARKER}"
    try:
        marker = read_marker(checkpoint)
    except UserError as err:
        return str(err).split(": ", 1)[-1]
    named = STEP_PATTERN.match(checkpoint.name) or RETIRED_PATTERN.match(checkpoint.name)
    if not isinstance(marker.get("step"), int) or (named and int(named.group(1)) != marker["step"]):
        return f"{MARKER} names step {marker.get('step')!r}, the folder {checkpoint.name}"
    files = marker.get("files")
    if not isinstance(files, dict):  # before manifests: at least what evaluation needs
        missing = [name for name in (MODEL_FILE, STATS_FILE, CONFIG_FILE) if not (checkpoint / name).is_file()]
        return f"{', '.join(missing)} missing" if missing else None
    if not all(
        isinstance(entry, list) and len(entry) == 2 and all(type(number) is int for number in entry)
        for entry in files.values()
    ):
        return f"{MARKER} lists its files in a form this version does not know"
    present = sorted(path.relative_to(checkpoint).as_posix() for path in checkpoint.rglob("*") if path.is_file())
    # evaluation's files, and any no save wrote: a save lists every file below the folder
    needed = dict.fromkeys([MODEL_FILE, STATS_FILE, CONFIG_FILE, *present])
    unlisted = [name for name in needed if name not in files and name != MARKER]
    if unlisted:
        return f"{MARKER} does not list {', '.join(unlisted)}: the files were changed after the save"
    for name, (size, crc) in files.items():
        path = checkpoint / name
        try:
            found = path.stat().st_size
        except OSError:
            return f"{name} is missing"
        if found != size:
            return f"{name} holds {found:,} bytes, {MARKER} says {size:,}; cut short?"
        if _crc32(path) != crc:
            return f"{name} does not match the checksum in {MARKER}; overwritten or damaged"
    return None
