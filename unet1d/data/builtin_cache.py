"""The built-in poses, generated once and then read back from disk.

Generating the default 100,000 built-in poses takes ~1.6 CPU s, and every ``unet1d train``,
``eval``, ``sample``, ``complete`` and ``denoise`` of a built-in run did it again at start-up (an
evaluation twice more: the reference's fresh draws). The set is a pure function of its size, its
seed, the frames asked for, the generator's code and numpy, so it is kept under
``<cache_dir>/builtin/<key>.npz``, the key a SHA-256 over all of those: change the generator or
numpy and the set is generated again.

An entry is written to a temporary file, flushed to disk and renamed, so no reader sees half of
one. Reading it back checks what the zip format carries (each array's CRC-32), the key stored in
the entry, and the arrays' shapes and types; a damaged entry is reported in one line naming it and
written again. A cache that cannot be written costs only the time it would have saved (one line).
Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from functools import cache
from pathlib import Path

import numpy as np

from unet1d.atomic_files import remove_path, write_bytes_atomically
from unet1d.data import builtin
from unet1d.data.builtin import FAMILY_NAMES, NUM_JOINTS, BuiltinPoses, generate_builtin_poses
from unet1d.data.sequences import MAX_ANGLE
from unet1d.notices import warn

BUILTIN_CACHE_VERSION = 1  # bump when the entry's layout changes
GENERATOR_SOURCES = ("data/builtin.py", "body/rotations.py", "body/skeleton.py")  # what the poses are a function of
PACKAGE_ROOT = Path(builtin.__file__).resolve().parents[1]  # unet1d/


@cache
def generator_fingerprint() -> str:
    """SHA-256 of the generator's source files and numpy's version (once per process)."""
    digest = hashlib.sha256(f"{BUILTIN_CACHE_VERSION}\0numpy=={np.__version__}\n".encode())
    for name in GENERATOR_SOURCES:
        digest.update(name.encode() + b"\0" + (PACKAGE_ROOT / name).read_bytes())
    return digest.hexdigest()


def builtin_key(num_samples: int, seed: int, frames: np.ndarray | None) -> str:
    """The entry's name: the generator's fingerprint, the set's size and seed, and the frames asked for."""
    digest = hashlib.sha256(json.dumps([generator_fingerprint(), int(num_samples), int(seed)]).encode())
    if frames is not None:
        digest.update(np.ascontiguousarray(frames, dtype=np.int64).tobytes())
    return digest.hexdigest()[:32]


def cached_builtin_poses(
    num_samples: int, seed: int, cache_dir: Path | None, frames: np.ndarray | None = None
) -> BuiltinPoses:
    """:func:`~unet1d.data.builtin.generate_builtin_poses` of these arguments, read from ``cache_dir`` when an
    entry is there (generated and stored when not); ``cache_dir`` None generates without the cache."""
    if cache_dir is None:
        return generate_builtin_poses(num_samples, seed, frames)
    rows, key = (num_samples if frames is None else len(frames)), builtin_key(num_samples, seed, frames)
    entry = Path(cache_dir).expanduser() / "builtin" / f"{key}.npz"
    try:
        return _read(entry, key, rows)
    except (FileNotFoundError, NotADirectoryError):
        pass  # no entry yet (or no folder for one: the write below says why)
    except PermissionError as err:  # another user's entry on a shared cache: whole, perhaps, and not ours to replace
        warn(f"cannot read built-in pose cache entry {entry} ({_reason(err)}); generating the poses without it")
        return generate_builtin_poses(num_samples, seed, frames)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        warn(f"built-in pose cache entry {entry} is damaged ({_reason(err)}); generating the poses again")
        if entry.is_dir():  # a file's place taken by a folder: the rename below cannot replace it
            remove_path(entry)
    poses = generate_builtin_poses(num_samples, seed, frames)
    if entry.parent.is_file():  # the entries' folder itself, damaged into a file: every run would fail to store
        warn(f"built-in pose cache folder {entry.parent} is a file, not a folder (damaged); storing the cache anew")
        remove_path(entry.parent)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(entry, _pack(poses, key))
    except OSError as err:
        warn(f"cannot store the built-in poses in the cache at {entry} ({_reason(err)}); generated without it")
    return poses


def _pack(poses: BuiltinPoses, key: str) -> bytes:
    out = io.BytesIO()
    np.savez(out, key=np.array(key), poses=poses.poses, labels=poses.labels, sequence_ids=poses.sequence_ids,
             family_names=np.array(poses.family_names, dtype=str))  # fmt: skip
    return out.getvalue()


def _read(entry: Path, key: str, rows: int) -> BuiltinPoses:
    """The entry's arrays, each checked against its CRC-32 (zipfile reads them whole), its key and shape."""
    with np.load(entry, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in ("key", "poses", "labels", "sequence_ids", "family_names")}
    if str(arrays["key"]) != key:
        raise ValueError("it holds the poses of another size, seed or generator (an entry copied over this one)")
    poses = arrays["poses"]
    if poses.dtype != np.float32 or poses.shape != (rows, NUM_JOINTS * 3):
        raise ValueError(f"poses of {poses.dtype} {poses.shape}, expected float32 ({rows}, {NUM_JOINTS * 3})")
    if not np.isfinite(poses).all() or (np.abs(poses) > MAX_ANGLE).any():
        raise ValueError(f"its poses hold NaN, infinite or values beyond +-{MAX_ANGLE:g}")
    names = [str(n) for n in arrays["family_names"]]
    if names != list(FAMILY_NAMES):
        raise ValueError(f"family names {names}, expected {list(FAMILY_NAMES)}")
    for name in ("labels", "sequence_ids"):
        if arrays[name].shape != (rows,) or arrays[name].dtype.kind not in "iu":
            raise ValueError(f"{name} of {arrays[name].dtype} {arrays[name].shape}, expected whole numbers ({rows},)")
    if rows and not (arrays["labels"].min() >= 0 and arrays["labels"].max() < len(FAMILY_NAMES)):
        raise ValueError(f"labels outside 0-{len(FAMILY_NAMES) - 1} (one per family)")
    return BuiltinPoses(poses, arrays["labels"], arrays["sequence_ids"], names)


def _reason(err: BaseException) -> str:
    text = (err.strerror if isinstance(err, OSError) and err.strerror else str(err)) or type(err).__name__
    if "allow_pickle" in text:  # numpy's reading of bytes that are no array: its advice to unpickle does not apply
        return "not a NumPy archive: unreadable bytes"
    return text.splitlines()[0]
