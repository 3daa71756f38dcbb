"""A cache of file data: a tree of pose files read once, then loaded as one float32 array.

Full AMASS is over 11,000 files; reading them takes most of a minute every run. The first read
streams each file's mapped, subsampled poses into one flat float32 file (memory stays flat: no
per-file arrays are kept) beside a small JSON index; later runs map that file into memory and
hand out views of it. The key is the list of files (relative name, size, mtime in ns), the
pose format, the target frame rate and :data:`CACHE_VERSION`: touch, add or remove a file, or
change either setting, and the tree is read again. Entries live under ``<cache_dir>/poses/<key>``.

What keeps a damaged entry from ever being served (docs/faults.md):

- **Written whole or not at all.** An entry is written into a temporary folder, flushed to disk
  (``fsync``), then renamed into place in one step. A crash, a kill or a full disk mid-write
  leaves only the temporary folder (removed by a later write once stale), never a half entry.
  Two processes writing the same entry at once both finish; the first rename wins and the
  second process reads the winner's entry (the same poses: the same files read the same way).
- **Checked before use.** The index carries the format version, the entry's key, a SHA-256 of
  itself, the pose array's byte count and its CRC-32. Any mismatch (a cut-short index, a
  cut-short or overwritten array, an entry copied under another key) is a damaged entry: one
  warning line naming it, the entry is set aside and the tree read and stored again.
- **Never fatal.** A cache that cannot be written (read-only, full disk) costs only the time it
  would have saved: one warning line, and the tree is read without it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import mmap
import os
import secrets
import shutil
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from unet1d.atomic_files import fsync_path, remove_path
from unet1d.data.formats import POSE_FORMAT_WIDTH
from unet1d.data.sequences import KINDS, MAX_ANGLE, ReadResult, Sequence, Skipped
from unet1d.notices import warn  # the cache never stops a run, but a user should know it was not used

if TYPE_CHECKING:
    from unet1d.config import DataConfig

# Bump when what a file maps to changes (formats, subsampling, kinds) or the entry layout does; 3: arrays' up_axis.
CACHE_VERSION = 3
CACHE_MIN_FILES = 100  # smaller trees read in well under a second: not worth an entry
POSES_FILE = "poses.f32"
INDEX_FILE = "index.json"
STAGING_SUFFIX = ".tmp"  # <cache_dir>/poses/.<key>-XXXX.tmp: an entry being written
DAMAGED_PREFIX = ".damaged-"  # a damaged entry moved aside, about to be removed
STALE_STAGING_S = 3600.0  # a staging folder untouched this long belongs to a writer that died
_CRC_BLOCK = 64 << 20  # bytes checked per step: memory stays flat however large the entry


class DamagedEntry(Exception):
    """A cache entry that is not whole; the message says what does not match."""


class UnreadableEntry(Exception):
    """A cache entry this user may not read (another's, on a shared cache): not damage, so left where it is."""


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
        line = f"{file.relative_to(root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
        digest.update(line.encode("utf-8", "surrogateescape"))  # a name that is not UTF-8: its own bytes
    return digest.hexdigest()[:32]


def read_through_cache(
    root: Path,
    files: list[Path],
    unreadable: list[Skipped],
    pose_format: str,
    target_fps: float,
    cache_dir: Path,
    items: Callable[[], Iterable[Sequence | Skipped]],
) -> ReadResult | None:
    """The tree under ``root`` from its cache entry, storing ``items()`` (the files read, in order) first if
    there is none; None when the cache cannot be written, so the caller reads the tree without it.

    A damaged entry is reported in one line and rebuilt; a cache that cannot be written is reported in
    one line. Errors in the pose files themselves (:class:`~unet1d.errors.UserError`) pass through unchanged.
    """
    key = cache_key(root, files, pose_format, target_fps)
    entry = Path(cache_dir).expanduser() / "poses" / key
    try:
        if entry.parent.is_file():  # the entries' folder itself
            warn(f"pose cache folder {entry.parent} is a file, not a folder (damaged); storing the cache anew")
            set_aside(entry.parent)
        return load_entry(entry, key, unreadable, POSE_FORMAT_WIDTH[pose_format])
    except FileNotFoundError:
        pass  # no entry yet
    except UnreadableEntry as reason:
        warn(f"cannot read pose cache entry {entry} ({reason}); reading {root} without the cache")
        return None
    except PermissionError as err:  # the cache_dir itself, or its poses/ folder, not ours to search
        warn(f"cannot read the pose cache at {cache_dir} ({err.strerror or err}); reading {root} without it")
        return None
    except DamagedEntry as damage:
        warn(f"pose cache entry {entry} is damaged ({damage}); reading {root} again and storing it anew")
        set_aside(entry)
    try:
        write_entry(entry, items())
        return load_entry(entry, key, unreadable, POSE_FORMAT_WIDTH[pose_format])
    except (OSError, DamagedEntry) as err:
        reason = (err.strerror or str(err)) if isinstance(err, OSError) else str(err)
        warn(f"cannot store {root} in the pose cache at {entry} ({reason}); reading it without the cache")
    return None


def write_entry(entry: Path, items: Iterable[Sequence | Skipped]) -> None:
    """Stream ``items`` (a tree read in order) into a staging folder, make it durable, then rename it to
    ``entry`` (unless another process got there first: its entry holds the same poses). Raises OSError when
    the cache cannot be written."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(entry.parent)
    staging = new_staging_folder(entry)
    try:
        sequences, skipped, offset, width, crc = [], [], 0, 0, 0
        with open(staging / POSES_FILE, "wb") as out:
            for item in items:
                if isinstance(item, Skipped):
                    skipped.append([item.name, item.reason])
                    continue
                data = np.ascontiguousarray(item.poses, dtype=np.float32).tobytes()
                out.write(data)
                crc = zlib.crc32(data, crc)
                width = item.poses.shape[1]
                sequences.append([item.name, item.kind, item.width_in, item.frames_in, item.source_fps, item.fps,
                                  offset, offset + len(item.poses)])  # fmt: skip
                offset += len(item.poses)
            out.flush()
            os.fsync(out.fileno())
        index = {"version": CACHE_VERSION, "key": entry.name, "frames": offset, "width": width,
                 "poses_bytes": offset * width * 4, "poses_crc32": crc, "sequences": sequences,
                 "skipped": skipped}  # fmt: skip
        with open(staging / INDEX_FILE, "w") as out:
            out.write(json.dumps({"sha256": _index_digest(index), "index": index}))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.replace(staging, entry)
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            return  # another process stored the same entry first
        fsync_path(entry.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def new_staging_folder(entry: Path) -> Path:
    """An empty folder of this writer's own beside ``entry``, ``.<key>-XXXXXXXX.tmp``, to write the entry in.

    Made with a plain mkdir's mode (0o777 less the umask), not mkdtemp's 0o700: the entry keeps its
    staging folder's mode when renamed, and others on a shared machine read the same cache."""
    while True:
        staging = entry.parent / f".{entry.name}-{secrets.token_hex(4)}{STAGING_SUFFIX}"
        try:
            staging.mkdir(mode=0o777)
            return staging
        except FileExistsError:
            continue  # another writer drew the same name


_FINITE_BLOCK = 1 << 18  # poses per finiteness check (18 MB of 72-number poses)


def load_entry(entry: Path, key: str, unreadable: list[Skipped], width: int) -> ReadResult:
    """The entry's sequences (poses ``width`` numbers wide) as views of its mapped pose array, once every check
    passes.

    Raises FileNotFoundError when there is no entry, :class:`DamagedEntry` when it is not whole and
    :class:`UnreadableEntry` when this user may not read it (or the folders above it).
    """
    try:
        if not entry.is_dir():
            if entry.exists() or entry.is_symlink():
                raise DamagedEntry("not a folder")
            raise FileNotFoundError(entry)
        index = _checked_index(entry, key)
        frames = index["frames"]
        if index["width"] != width:
            raise _Damage(f"{INDEX_FILE} says poses of {index['width']} numbers, not this format's {width}")
        _check_poses(entry / POSES_FILE, index)
        poses = (
            np.memmap(entry / POSES_FILE, dtype=np.float32, mode="r", shape=(frames, width))
            if frames
            else np.zeros((0, width), np.float32)
        )
        _check_finite(poses)
        result = ReadResult(skipped=list(unreadable), is_directory=True)
        for name, kind, width_in, frames_in, source_fps, fps, start, stop in index["sequences"]:
            result.sequences.append(Sequence(name, poses[start:stop], kind, width_in, frames_in, source_fps, fps))
        result.skipped += [Skipped(name, reason) for name, reason in index["skipped"]]
        return result
    except FileNotFoundError:
        raise
    except PermissionError as err:  # whole, perhaps, but not ours to read: no damage to set aside
        raise UnreadableEntry(err.strerror or str(err)) from None
    except (DamagedEntry, OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        if not entry.exists():  # set aside by another process meanwhile: as if there were none
            raise FileNotFoundError(entry) from None
        if isinstance(err, DamagedEntry):
            raise
        raise DamagedEntry(f"{type(err).__name__}: {err}") from None


def _sequence_entry(sequence: Any) -> bool:
    """[name, kind, width_in, frames_in, source_fps, fps, start, stop] of the kinds write_entry stores."""
    if not isinstance(sequence, list) or len(sequence) != 8:
        return False
    name, kind, width_in, frames_in, source_fps, fps, start, stop = sequence
    whole = all(isinstance(x, int) and not isinstance(x, bool) for x in (width_in, frames_in, start, stop))
    rates = all(x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)) for x in (source_fps, fps))
    return isinstance(name, str) and kind in KINDS and whole and rates


class _Damage(DamagedEntry, ValueError):
    """Raised inside the checks (a ValueError, so the loader's one handler sees every failure)."""


def _index_digest(index: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(index, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _checked_index(entry: Path, key: str) -> dict[str, Any]:
    """The index, parsed and checked against itself, the format version, the key and its own layout."""
    path = entry / INDEX_FILE
    try:
        stored = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise _Damage(f"{INDEX_FILE} is missing") from None
    except ValueError as err:
        raise _Damage(f"{INDEX_FILE} is not valid JSON, cut short? ({err})") from None
    if not isinstance(stored, dict) or not isinstance(stored.get("index"), dict):
        raise _Damage(f"{INDEX_FILE} does not hold an index")
    index = stored["index"]
    if stored.get("sha256") != _index_digest(index):
        raise _Damage(f"{INDEX_FILE} does not match its own checksum")
    if index.get("version") != CACHE_VERSION:
        raise _Damage(f"{INDEX_FILE} has format {index.get('version')!r}, not {CACHE_VERSION}")
    if index.get("key") != key:
        raise _Damage(f"{INDEX_FILE} belongs to entry {index.get('key')!r}")
    stop, names = 0, set()
    for sequence in index["sequences"]:  # in file order, each of one frame or more (no reader stores an empty one)
        if not _sequence_entry(sequence) or sequence[6] != stop or sequence[7] <= stop:
            raise _Damage(f"{INDEX_FILE} lists sequence {str(sequence)[:80]} out of place or of the wrong kinds")
        if sequence[0] in names:  # one take once: a repeat would train twice on it, or split it both ways
            raise _Damage(f"{INDEX_FILE} lists sequence {sequence[0][:80]!r} twice")
        stop = sequence[7]
        names.add(sequence[0])
    if not all(isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
               for item in index["skipped"]):  # fmt: skip
        raise _Damage(f"{INDEX_FILE} lists skipped files that are no [name, reason] pairs")
    if stop != index["frames"] or index["poses_bytes"] != index["frames"] * index["width"] * 4:
        raise _Damage(f"{INDEX_FILE} counts {index['frames']} frames but its sequences end at {stop}")
    return index


def _check_poses(path: Path, index: dict[str, Any]) -> None:
    """The pose array has the index's byte count and CRC-32 (0.4 s for 500 MB, measured on a busy 2-core machine)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _Damage(f"{POSES_FILE} is missing") from None
    if size != index["poses_bytes"]:
        raise _Damage(f"{POSES_FILE} holds {size:,} bytes, its index says {index['poses_bytes']:,} bytes; cut short?")
    crc = 0
    if size:  # mapped, not read: no copy (3x faster than reading blocks), and the pages serve the memmap next
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                for start in range(0, size, _CRC_BLOCK):
                    crc = zlib.crc32(view[start : start + _CRC_BLOCK], crc)
            finally:
                view.release()
    if crc != index["poses_crc32"]:
        raise _Damage(f"{POSES_FILE} does not match the checksum in its index; overwritten or damaged")


def _check_finite(poses: np.ndarray) -> None:
    """Every stored number finite, as every file read was: an entry rewritten with its checksum made anew
    would otherwise reach the statistics (a traceback there). In blocks: no mask the size of the data."""
    for start in range(0, len(poses), _FINITE_BLOCK):
        block = poses[start : start + _FINITE_BLOCK]
        if not np.isfinite(block).all() or (np.abs(block) > MAX_ANGLE).any():
            raise _Damage(f"{POSES_FILE} holds NaN, infinite or values beyond +-{MAX_ANGLE:g}: no pose file had")


def set_aside(entry: Path) -> None:
    """Move a damaged entry out of the way (one rename, so no reader sees it half removed), then delete it."""
    aside = entry.with_name(f"{DAMAGED_PREFIX}{entry.name}-{os.getpid()}")
    try:
        os.replace(entry, aside)
    except OSError:
        return  # already moved by another process, or not ours to move: the write below decides
    remove_path(aside)


def remove_leftovers(folder: Path) -> None:
    """Staging folders of writers that died (untouched for :data:`STALE_STAGING_S`) and damaged entries set aside."""
    now = time.time()
    for path in folder.glob(".*"):
        if path.name.startswith(DAMAGED_PREFIX):
            remove_path(path)
        elif path.name.endswith(STAGING_SUFFIX):
            with contextlib.suppress(OSError):
                newest = max([path.stat().st_mtime, *(p.stat().st_mtime for p in path.iterdir())])
                if now - newest > STALE_STAGING_S:
                    shutil.rmtree(path, ignore_errors=True)
