"""A cache of file data: a tree of pose files read once, then loaded as one float32 array.

Full AMASS is over 11,000 files; reading them takes most of a minute every run. The first read
streams each file's mapped, subsampled poses into one flat float32 file (memory stays flat: no
per-file arrays are kept) beside a small JSON index; later runs map that file into memory and
hand out views of it. The key is the list of files (relative name, size, mtime in ns), the
pose format, the target frame rate and :data:`CACHE_VERSION`: touch, add or remove a file, or
change either setting, and the tree is read again. Entries live under ``<cache_dir>/poses/<key>``
and are written to a temporary folder first, then renamed, so a crash or a second process
writing at once never leaves a half-written entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from unet1d.data.files import ReadResult, Sequence, Skipped, iter_directory

if TYPE_CHECKING:
    from unet1d.config import DataConfig

CACHE_VERSION = 1  # bump when what a file maps to changes (formats, subsampling)
CACHE_MIN_FILES = 100  # smaller trees read in well under a second: not worth an entry
POSES_FILE = "poses.f32"
INDEX_FILE = "index.json"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/unet1d``, else ``~/.cache/unet1d``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "unet1d"


def configured_cache_dir(data: DataConfig) -> Path | None:
    """Where ``data``'s cache lives (data.cache_dir, else :func:`default_cache_dir`); None with data.cache false."""
    if not data.cache:
        return None
    return Path(data.cache_dir).expanduser() if data.cache_dir else default_cache_dir()


def cache_key(root: Path, files: list[Path], pose_format: str, target_fps: float) -> str:
    """SHA-256 over the files (relative name, size, mtime), the format, the frame rate and the cache version."""
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, pose_format, float(target_fps)]).encode())
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def read_through_cache(
    root: Path, files: list[Path], unreadable: list[Skipped], pose_format: str, target_fps: float, cache_dir: Path
) -> ReadResult:
    """The tree under ``root`` from its cache entry, reading (and storing) it first if there is none."""
    entry = Path(cache_dir).expanduser() / "poses" / cache_key(root, files, pose_format, target_fps)
    if not (entry / INDEX_FILE).is_file():
        _write_entry(entry, root, files, pose_format, target_fps)
    return _load_entry(entry, unreadable)


def _write_entry(entry: Path, root: Path, files: list[Path], pose_format: str, target_fps: float) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        sequences, skipped, offset, width = [], [], 0, 0
        with open(staging / POSES_FILE, "wb") as out:
            for item in iter_directory(root, files, pose_format, target_fps):
                if isinstance(item, Skipped):
                    skipped.append([item.name, item.reason])
                    continue
                poses = np.ascontiguousarray(item.poses, dtype=np.float32)
                out.write(poses.tobytes())
                width = poses.shape[1]
                sequences.append([item.name, item.kind, item.width_in, item.frames_in, item.source_fps, item.fps,
                                  offset, offset + len(poses)])  # fmt: skip
                offset += len(poses)
        index = {"version": CACHE_VERSION, "frames": offset, "width": width, "sequences": sequences,
                 "skipped": skipped}  # fmt: skip
        (staging / INDEX_FILE).write_text(json.dumps(index))
        with contextlib.suppress(OSError):  # another process stored the same entry first: theirs is as good
            os.replace(staging, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _load_entry(entry: Path, unreadable: list[Skipped]) -> ReadResult:
    index = json.loads((entry / INDEX_FILE).read_text())
    frames, width = index["frames"], index["width"]
    poses = (
        np.memmap(entry / POSES_FILE, dtype=np.float32, mode="r", shape=(frames, width))
        if frames
        else np.zeros((0, width), np.float32)
    )
    result = ReadResult(skipped=list(unreadable), is_directory=True)
    for name, kind, width_in, frames_in, source_fps, fps, start, stop in index["sequences"]:
        result.sequences.append(Sequence(name, poses[start:stop], kind, width_in, frames_in, source_fps, fps))
    result.skipped += [Skipped(name, reason) for name, reason in index["skipped"]]
    return result
