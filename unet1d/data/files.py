"""Reading pose files users bring: AMASS ``.npz`` (a file or a folder tree), ``.npy``, single-array ``.npz``.

Each file is one sequence. Everything wrong with a file raises :class:`UserError` naming it;
files in a folder that are not pose data (an AMASS ``shape.npz``, a README, hidden files) are
skipped and listed with the reason, never dropped silently. Nothing is unpickled: NumPy files
are opened with ``allow_pickle=False``, and a file that needs pickle is reported, not loaded.
"""

from __future__ import annotations

import errno
import os
import zipfile
from collections import deque
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np

from unet1d.data import cache
from unet1d.data.formats import INPUT_WIDTHS, output_fps, subsample_indices, to_pose_format
from unet1d.data.progress import file_progress
from unet1d.data.sequences import MAX_ANGLE, ReadResult, Sequence, Skipped
from unet1d.data.split import AMASS_TRAIN_DATASETS, amass_parts
from unet1d.errors import UserError

POSE_SUFFIXES = (".npz", ".npy")
FRAMERATE_KEYS = ("mocap_framerate", "mocap_frame_rate")  # SMPL-H and SMPL-X releases of AMASS
FRAMERATE_RANGE = (1.0, 10_000.0)  # frames per second a take may claim: beyond, another unit or damage
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_PROTOCOL = b"\x80"
# Arrays AMASS and SMPL tools store beside poses (body shape, gender, soft tissue, translation):
# a one-array .npz holding one of these is not a pose array.
NON_POSE_KEYS = frozenset({"betas", "gender", "dmpls", "trans", "surface_model_type", *FRAMERATE_KEYS})


class _NotPoseData(Exception):
    """A file that is fine but holds no poses: skipped inside a folder, an error when named directly."""


def require_pose_path(path: Path) -> None:
    """A UserError naming ``path`` when there is nothing there (checked before a launch starts its ranks too)."""
    if not path.exists():
        hints = [] if path.expanduser().is_absolute() else [f"relative to {Path.cwd()}; --data PATH says where it is"]
        if "/" not in str(path) and "." not in path.name:
            hints.append("'builtin' for the built-in poses")
        raise UserError(f"data path '{path}' does not exist" + (f" ({'; '.join(hints)})" if hints else ""))


def read_pose_path(
    path: Path, pose_format: str, target_fps: float, cache_dir: Path | None = None, *, amass_split: bool = False
) -> ReadResult:
    """Every sequence under ``path`` (a file or a folder searched recursively), in sorted order.

    With ``cache_dir``, a folder of :data:`~unet1d.data.cache.CACHE_MIN_FILES` or more files is read
    through the cache (:mod:`unet1d.data.cache`): the sequences' poses are then views of one array.
    ``amass_split``: the names will be split by AMASS's dataset names (:func:`_walk`).
    """
    require_pose_path(path)
    if path.is_dir():
        return _read_directory(path, pose_format, target_fps, cache_dir, amass_split)
    if path.suffix.lower() not in POSE_SUFFIXES:
        raise UserError(f"{path}: unsupported file type '{path.suffix}'; expected .npz (AMASS or one array) or .npy")
    if not path.is_file():  # a pipe or a device would block the read forever
        raise UserError(f"{path}: not a regular file; expected a .npz or .npy file, or a folder of them")
    try:
        sequence = read_pose_file(path, path.name, pose_format, target_fps)
    except _NotPoseData as reason:
        raise UserError(f"{path}: no pose data: {reason}") from None
    if sequence is None:
        raise UserError(f"{path}: contains 0 frames")
    return ReadResult(sequences=[sequence])


CACHE_PARTS = ("poses", "builtin", "baselines")  # what unet1d keeps under a cache_dir: never takes
# a name to read a take under must be one the system opens: at most 4,096 bytes and 40 links in one path
MAX_NAME, MAX_DEPTH = 3000, 30
LOST_AND_FOUND = "lost+found"  # a filesystem's own folder at a volume's root, readable by root alone


def _walk(
    root: Path, leave_out: Path | None = None, amass_split: bool = False
) -> tuple[list[Path], list[Skipped], dict[str, str]]:
    """Every file below ``root``, following linked folders (datasets are often symlinked into one tree) but
    reading each folder and file once (one inode: symlinks, hard links and bind mounts alike), under one of
    its names; the others are listed as skipped, as are broken and looping links. A take's name decides its
    split: with ``amass_split`` a take reachable under a name AMASS's split holds out (through a link to it
    or to a folder above it, inside the tree) is read under that name, so a held-out dataset linked in under
    another name never trains (one outside the tree, whose name only its real place says, is a UserError); a
    take reachable as val and as test is a UserError when it is read, the
    returned ``conflicts`` name them: a file that turns out to be no take is no conflict); otherwise, and
    without ``amass_split``, it is read under the first name met breadth first (the shallowest; in one
    folder the real entries before links), preferring a name with a pose suffix. A link back up the tree
    (to its own folder or one above) is listed, not followed. Hidden folders (``.git``, a cache), the pose
    caches under ``leave_out`` (the cache_dir) and ``lost+found`` (a volume's, at any depth: disks are
    linked in) are listed, not entered: their files are no takes, and a git-annex or DVC tree's links must
    not be taken for copies of them. Any other folder that cannot be read is a UserError naming it (its
    takes would vanish from the data unseen)."""
    folder_names: dict[tuple[int, int], list[str]] = {}  # inode -> the folder's names, in the order met
    file_names: dict[tuple[int, int], list[str]] = {}
    hidden: list[str] = []
    skipped: list[Skipped] = []
    left_out = (
        {_identity(leave_out / part) for part in CACHE_PARTS if (leave_out / part).is_dir()} if leave_out else set()
    )
    queue = deque([root])
    inside = os.path.realpath(root)
    from_outside: list[tuple[str, str, bool]] = []  # links out of the tree: (name, real place, a folder?)
    while queue:
        folder = queue.popleft()
        name_here = folder.relative_to(root).as_posix()
        identity = _identity(folder)
        if identity in folder_names:  # a second name for a folder (links back up are not followed)
            folder_names[identity].append(name_here)
            continue
        folder_names[identity] = [name_here]
        if identity in left_out:
            skipped.append(Skipped(name_here, "the pose cache (--cache_dir) inside the data: not read"))
            continue
        for entry, is_folder, is_file in _entries(folder, root):
            path = folder / entry.name
            relative = path.relative_to(root).as_posix()
            if amass_split and entry.is_symlink() and (is_folder or is_file):
                real = os.path.realpath(path)
                if not real.startswith(inside.rstrip(os.sep) + os.sep):
                    from_outside.append((relative, real, is_folder))
            if is_folder:
                if entry.is_symlink() and _points_up(path, folder):
                    skipped.append(Skipped(relative, "a link back up the tree: not followed"))
                elif entry.name.startswith("."):
                    skipped.append(Skipped(relative, "hidden folder: not read"))
                elif entry.name == LOST_AND_FOUND:
                    skipped.append(Skipped(relative, "the filesystem's lost+found: not read"))
                else:
                    queue.append(path)
            elif not is_file:
                skipped.append(Skipped(relative, "broken or looping link, or not a regular file"))
            elif entry.name.startswith("."):
                hidden.append(relative)  # listed as a hidden file; never the name a link's target is read under
            else:
                file_names.setdefault(_identity(path), []).append(relative)
    held_out = HeldOutNames(folder_names) if amass_split else None
    if held_out is not None:
        held_out.check_links_from_outside(from_outside, root)
    read, conflicts = [], {}
    for names in file_names.values():
        chosen, conflict = held_out.name_of(names) if held_out else (_first_pose_name(names), None)
        read.append(chosen)
        if conflict:
            conflicts[chosen] = conflict
        skipped += [Skipped(n, f"the same file as {chosen}, read under that name") for n in names if n != chosen]
    for names in folder_names.values():
        skipped += [Skipped(other, f"the same folder as {names[0]}: each file read once") for other in names[1:]]
    files = sorted((root / name for name in [*read, *hidden]), key=lambda p: p.relative_to(root).as_posix())
    return files, skipped, conflicts


def _points_up(link: Path, folder: Path) -> bool:
    """Whether a link in ``folder`` leads to it or to a folder above it: a loop, whose names name nothing new (a
    link to the root from inside HumanEva would otherwise name every dataset a HumanEva one)."""
    target, here = os.path.realpath(link), os.path.realpath(folder)
    return here == target or here.startswith(target.rstrip(os.sep) + os.sep)


def _identity(path: Path) -> tuple[int, int]:
    """(device, inode): one file or folder whatever names it has (a symlink, a hard link, a bind mount)."""
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def _entries(folder: Path, root: Path) -> list[tuple[os.DirEntry, bool, bool]]:
    """(entry, is a folder, is a regular file) for what ``folder`` holds, links followed (a looping link is
    neither); a UserError naming the folder when it cannot be read (listed, or its entries looked at: a folder
    without the x permission)."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: (entry.is_symlink(), entry.name))
        return [(entry, *_kind(folder, entry)) for entry in entries]
    except OSError as err:
        raise UserError(
            f"{folder}: cannot read this folder ({err.strerror or err}); its takes would be left out of the "
            f"data: make it readable, or move it out of {root}"
        ) from None


def _kind(folder: Path, entry: os.DirEntry) -> tuple[bool, bool]:
    try:
        return entry.is_dir(), (folder / entry.name).is_file()
    except OSError as err:
        if err.errno != errno.ELOOP:
            raise
        if os.path.exists(os.path.realpath(folder / entry.name)):  # no loop: a route through over 40 links
            raise UserError(
                f"{folder / entry.name}: reached through more links than the system follows in one path; link "
                "its folder in by a shorter way (a held-out take found only that way would otherwise train)"
            ) from None
        return False, False  # a link to itself, or two to each other


def _first_pose_name(names: list[str]) -> str:
    """The first name met with a pose file's suffix (a link named without one would leave the take unread)."""
    return next((name for name in names if name.lower().endswith(POSE_SUFFIXES)), names[0])


class HeldOutNames:
    """Which of AMASS's held-out parts (val, test) each folder is reachable under through the names the walk met
    (links inside the tree; links back up are not followed), each with one name that spells it (a path that
    exists: the takes are read under it, and the split reads the name). Worked out as a fixpoint over the
    folders, no route listed: a part reaches a folder from any name's parent that has it, so a stray link can
    hold more out, never less, and a take reached as val and as test is refused when read."""

    def __init__(self, folder_names: dict[tuple[int, int], list[str]]) -> None:
        folder_of = {name: identity for identity, names in folder_names.items() for name in names}
        self.folder_of, root = folder_of, folder_of["."]
        self.parts: dict[tuple[int, int], dict[str | None, str]] = {root: {None: "."}}
        below: dict[tuple[int, int], list[tuple[tuple[int, int], str]]] = {}  # folder -> (a folder in it, its name)
        for identity, names in folder_names.items():
            for name in names:
                if name != ".":
                    parent, _, last = name.rpartition("/")
                    below.setdefault(folder_of[parent or "."], []).append((identity, last))
        pending = deque([root])
        while pending:  # a worklist: each (folder, part) is added once, so each folder is taken at most 3 times
            parent = pending.popleft()
            for identity, last in below.get(parent, []):
                for part, spelled in list(self.parts[parent].items()):
                    here = part if part is not None else held_out_part(last)
                    if here not in self.parts.setdefault(identity, {}):
                        self.parts[identity][here] = last if spelled == "." else f"{spelled}/{last}"
                        pending.append(identity)

    def check_links_from_outside(self, links: list[tuple[str, str, bool]], root: Path) -> None:
        """A UserError for a link out of the tree to a dataset AMASS's split holds out (say ``B -> ../SSM_synced``)
        that no name in the tree holds out as it: its takes would train, the split reading names only."""
        for name, real, is_folder in links:
            if not is_folder and not name.lower().endswith(POSE_SUFFIXES):
                continue  # a LICENSE kept once for several datasets: no take
            places = _link_places(root / name, Path(real))
            dataset = next(filter(None, (_dataset_of(place if is_folder else place.parent) for place in places)), None)
            if dataset is None:
                continue
            part = held_out_part(dataset)
            folder = name if is_folder else name.rpartition("/")[0] or "."
            if part not in self.parts.get(self.folder_of[folder], {}):
                raise UserError(
                    f"{root / name}: a link to {real}, in {dataset}, which AMASS's split holds out ({part}); "
                    f"under this name its takes would not be: link it in under its own name ({dataset}), or leave it "
                    f"out of {root}"
                )

    def name_of(self, names: list[str]) -> tuple[str, str | None]:
        """A file's name to read it under, and what conflicts if it is a take (val and test both), else None."""
        own = _first_pose_name(names)
        reached: dict[str | None, list[str]] = {}
        for name in names:
            parent, _, last = name.rpartition("/")
            for part, spelled in self.parts.get(self.folder_of[parent or "."], {}).items():
                reached.setdefault(part, []).append(last if spelled == "." else f"{spelled}/{last}")
        held = {part: _first_pose_name(spelled) for part, spelled in reached.items() if part is not None}
        if not held:
            return own, None
        conflict = None
        if len(held) > 1:
            shown = " and ".join(f"{name} ({part})" for part, name in held.items())
            conflict = f"one take is reached as {shown}; remove the link that names it wrongly"
        chosen = next(iter(held.values()))
        if len(chosen) > MAX_NAME or chosen.count("/") > MAX_DEPTH:  # a route the system would not open
            return own, conflict or (
                f"{own} is reached as {next(iter(held))} only through {chosen.count('/')} folders of links, a path "
                "the system cannot open; link it in by a shorter way, or remove the links"
            )
        if not chosen.lower().endswith(POSE_SUFFIXES) and own.lower().endswith(POSE_SUFFIXES):
            conflict = conflict or (
                f"{own} is reached as {chosen} ({next(iter(held))}) only under a name without .npz/.npy: name that "
                "link with the file's suffix, or remove it"
            )
            chosen = own
        return chosen, conflict


def _link_places(link: Path, real: Path) -> list[Path]:
    """Where ``link`` leads: each hop's target as written (a store's `HumanEva -> objects/abc123` names the dataset
    only there), then its real place."""
    places, current = [], link
    for _ in range(MAX_DEPTH):
        if not current.is_symlink():
            break
        current = Path(os.path.normpath(current.parent / os.readlink(current)))
        places.append(current)
    return [*places, real]


def _dataset_of(folder: Path) -> str | None:
    """The held-out dataset ``folder`` is or lies in: the nearest folder up named like an AMASS dataset decides (a
    training one, `/x/sfu/KIT`, is no held-out one's), and a hidden folder ends the search (a store's `.git/annex`
    or `.dvc/cache` objects: no dataset's)."""
    for place in (folder, *folder.parents):
        if place.name.startswith("."):
            return None
        if held_out_part(place.name):
            return place.name
        if place.name.lower() in AMASS_TRAIN_DATASETS:
            return None
    return None


def held_out_part(folder: str) -> str | None:
    """ "val" or "test" where ``folder`` is named like a dataset AMASS's split holds out, else None."""
    part = amass_parts([f"{folder}/take"])[0]
    return None if part == "train" else part


def _read_directory(
    root: Path, pose_format: str, target_fps: float, cache_dir: Path | None = None, amass_split: bool = False
) -> ReadResult:
    files, unreadable, conflicts = _walk(root, leave_out=cache_dir, amass_split=amass_split)
    if not files and not unreadable:
        raise UserError(f"{root}: directory is empty (no files in it or its subfolders)")
    result = None
    if cache_dir is not None and len(files) >= cache.CACHE_MIN_FILES:
        items = partial(iter_directory, root, files, pose_format, target_fps)
        result = cache.read_through_cache(root, files, unreadable, pose_format, target_fps, cache_dir, items)
    if result is None:  # no cache, a small tree, or a cache that cannot be written
        result = read_directory_uncached(root, files, unreadable, pose_format, target_fps)
    if not result.sequences:
        reasons = _summarise_skips(result.skipped)
        raise UserError(f"{root}: no pose files found ({len(result.skipped)} files skipped: {reasons})")
    taken = [sequence.name for sequence in result.sequences if sequence.name in conflicts]
    if taken:  # a take (not a shape.npz or a LICENSE the names also reach) that AMASS's split cannot place
        raise UserError(f"{root}: {conflicts[taken[0]]}")
    return result


def read_directory_uncached(
    root: Path, files: list[Path], unreadable: list[Skipped], pose_format: str, target_fps: float
) -> ReadResult:
    """Every file under ``root`` read into memory (small trees, ``--cache false``, a cache that cannot be written)."""
    result = ReadResult(skipped=list(unreadable), is_directory=True)
    for item in iter_directory(root, files, pose_format, target_fps):
        (result.skipped if isinstance(item, Skipped) else result.sequences).append(item)
    return result


def iter_directory(root: Path, files: list[Path], pose_format: str, target_fps: float) -> Iterator[Sequence | Skipped]:
    """Each file under ``root`` read (a :class:`Sequence`) or set aside (a :class:`Skipped`), in order,
    with a progress bar on a terminal when there are many."""
    for file in file_progress(files, f"reading {root}"):
        name = file.relative_to(root).as_posix()
        if any(part.startswith(".") for part in file.relative_to(root).parts):
            yield Skipped(name, "hidden file")
        elif file.suffix.lower() not in POSE_SUFFIXES:
            yield Skipped(name, "not a .npz/.npy file")
        else:
            try:
                sequence = read_pose_file(file, name, pose_format, target_fps)
            except _NotPoseData as reason:
                yield Skipped(name, str(reason))
                continue
            yield Skipped(name, "0 frames") if sequence is None else sequence


def _summarise_skips(skipped: list[Skipped]) -> str:
    counts: dict[str, int] = {}
    for item in skipped:
        counts[item.reason] = counts.get(item.reason, 0) + 1
    return "; ".join(f"{count} {reason}" for reason, count in counts.items())


def read_pose_file(file: Path, name: str, pose_format: str, target_fps: float) -> Sequence | None:
    """Read, validate, map and subsample one file; None if it has no frames."""
    kind, key, raw, source_fps = _load_raw(file)
    poses = _validated(raw, file, key)
    if poses.shape[0] == 0:
        return None
    try:
        mapped = to_pose_format(poses, pose_format)
    except ValueError as err:
        raise UserError(
            f"{file}: `{key}` {str(err).replace('poses have', 'has', 1)}"
        ) from None  # not "`poses` poses have"
    fps = None
    if source_fps is not None:
        mapped = mapped[subsample_indices(mapped.shape[0], source_fps, target_fps)]
        fps = output_fps(source_fps, target_fps)
    return Sequence(name, mapped, kind, poses.shape[1], poses.shape[0], source_fps, fps)


def _load_raw(file: Path) -> tuple[str, str, np.ndarray, float | None]:
    """(kind, array name, array, frame rate or None) from a .npy or .npz, without unpickling anything."""
    try:
        with open(file, "rb") as handle:
            head = handle.read(8)
    except OSError as err:
        raise UserError(f"{file}: cannot read: {err.strerror or err}") from None
    if not head:
        raise UserError(f"{file}: empty file (0 bytes)")
    if head.startswith(_NPY_MAGIC):
        return "array", "array", _load_npy(file), None
    if head.startswith(_ZIP_MAGIC):
        return _load_npz(file)
    if head.startswith(_PICKLE_PROTOCOL):
        raise UserError(
            f"{file}: a Python pickle, not a NumPy .npy/.npz file; unet1d does not load pickles "
            "(unpickling can run code). Save the poses with numpy.save or numpy.savez"
        )
    raise UserError(f"{file}: not a valid {file.suffix or 'NumPy'} file (corrupt, or a different format)")


def _pickle_message(file: Path, key: str) -> str:
    return (
        f"{file}: `{key}` is stored as pickled Python objects; not loaded (unpickling can run code). "
        "Re-save it as a numeric array"
    )


def _header_message(file: Path, err: ValueError) -> str:
    """numpy's refusal of a header longer than it reads safely (it, too, mentions allow_pickle: no pickle here)."""
    return (
        f"{file}: its .npy header is longer than numpy reads without trusting the file ({str(err).split('.')[0]}); "
        "save the array again with numpy.save (a plain array's header is a few hundred bytes)"
    )


def _load_npy(file: Path) -> np.ndarray:
    try:
        return np.load(file, allow_pickle=False)
    except ValueError as err:
        if "max_header_size" in str(err):
            raise UserError(_header_message(file, err)) from None
        if "allow_pickle" in str(err):
            raise UserError(_pickle_message(file, "array")) from None
        raise UserError(f"{file}: corrupt or truncated .npy file ({err})") from None
    except (OSError, EOFError, MemoryError) as err:  # MemoryError: a header promising more than the file holds
        raise UserError(f"{file}: corrupt or truncated .npy file ({type(err).__name__}: {err})") from None


def _load_npz(file: Path) -> tuple[str, str, np.ndarray, float | None]:
    try:
        archive = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise UserError(f"{file}: corrupt or truncated .npz file ({err})") from None
    with archive:
        keys = list(archive.files)
        if "poses" in keys:
            poses = _member(archive, "poses", file)
            # AMASS stores its frame rate, shape and translation beside the poses; a lone `poses` is a plain array
            # (np.savez(f, poses=...)), in the run's world rather than AMASS's z-up one unless it says its own
            kind = "amass" if NON_POSE_KEYS & set(keys) else _array_kind(archive, keys, file)
            if kind in ("array-y", "array-z") and poses.ndim == 3 and poses.shape[2] != 3:
                poses = poses.reshape(-1, poses.shape[2])  # complete's or denoise's (N, hypotheses, D): each a pose
            return kind, "poses", poses, _framerate(archive, keys, file)
        if len(keys) == 1 and keys[0] in NON_POSE_KEYS:
            raise _NotPoseData(f"no `poses` array, only `{keys[0]}` (body shape or metadata, not poses)")
        if len(keys) == 1:
            return "array", keys[0], _member(archive, keys[0], file), None
        if not keys:
            raise _NotPoseData("the .npz holds no arrays")
        listed = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
        raise _NotPoseData(f"no `poses` array and more than one array (keys: {listed})")


def _array_kind(archive: np.lib.npyio.NpzFile, keys: list[str], file: Path) -> str:
    """ "array", or "array-y" / "array-z" for a `poses` array that says the world it stands in (`up_axis`, as
    unet1d's own sample, complete and denoise outputs do): read back, it keeps that world."""
    if "up_axis" not in keys:
        return "array"
    value = _member(archive, "up_axis", file)
    axis = value.reshape(()).item() if value.dtype.kind in "US" and value.size == 1 else None
    axis = axis.decode("ascii", "replace") if isinstance(axis, bytes) else axis  # bytes, as AMASS keeps `gender`
    if axis not in ("y", "z"):
        raise UserError(f"{file}: `up_axis` is {value!r}; allowed: 'y' or 'z' (the axis its poses stand along)")
    return f"array-{axis}"


def _member(archive: np.lib.npyio.NpzFile, key: str, file: Path) -> np.ndarray:
    try:
        value = archive[key]
        if not isinstance(value, np.ndarray):  # numpy hands a member that is no .npy back as its bytes
            raise UserError(f"{file}: `{key}` is not a NumPy array (a .zip that numpy.savez did not write?)")
        return value
    except UserError:
        raise
    except ValueError as err:
        if "max_header_size" in str(err):
            raise UserError(_header_message(file, err)) from None
        if "allow_pickle" in str(err):
            raise UserError(_pickle_message(file, key)) from None
        raise UserError(f"{file}: corrupt `{key}` in .npz ({err})") from None
    except Exception as err:  # zlib.error, BadZipFile (CRC), EOFError, OSError: the archive is damaged
        raise UserError(f"{file}: corrupt or truncated .npz file: cannot read `{key}` ({err})") from None


def _framerate(archive: np.lib.npyio.NpzFile, keys: list[str], file: Path) -> float | None:
    """The take's frame rate; one of FRAMERATE_KEYS, both only when they agree, within FRAMERATE_RANGE."""
    rates = {key: _one_framerate(archive, key, file) for key in FRAMERATE_KEYS if key in keys}
    if len(rates) > 1 and not np.isclose(*rates.values(), rtol=1e-6, atol=0):  # one stored as float32: alike
        both = " and ".join(f"`{key}` {fps:g}" for key, fps in rates.items())
        raise UserError(f"{file}: {both} disagree; a take has one frame rate: keep the right one")
    return next(iter(rates.values()), None)


def _one_framerate(archive: np.lib.npyio.NpzFile, key: str, file: Path) -> float:
    value = _member(archive, key, file)
    if value.dtype.kind not in "fiu" or value.size != 1:
        raise UserError(f"{file}: `{key}` should be one number (frames per second), got {value.dtype} {value.shape}")
    fps = float(value.reshape(()))
    low, high = FRAMERATE_RANGE
    if not np.isfinite(fps) or fps <= 0:
        raise UserError(f"{file}: `{key}` is {fps}; a frame rate must be a positive number")
    if not low <= fps <= high:  # 1e-300 kept every frame, 1e9 one in 240: another unit or damage
        raise UserError(f"{file}: `{key}` is {fps:g} frames per second; allowed: {low:g} to {high:,g} (motion capture)")
    return fps


def _validated(array: np.ndarray, file: Path, key: str) -> np.ndarray:
    """Numbers, (frames, width) (or (frames, joints, 3), flattened), all finite, a known width."""
    if array.dtype.kind not in "fiu":
        raise UserError(f"{file}: `{key}` holds {array.dtype} values, not numbers (non-numeric array)")
    if array.ndim == 3 and array.shape[2] == 3:
        array = array.reshape(array.shape[0], -1)
    if array.ndim != 2:
        raise UserError(
            f"{file}: `{key}` has shape {array.shape}; expected (frames, width) with width one of "
            f"{', '.join(map(str, INPUT_WIDTHS))}"
        )
    if array.shape[0] and array.shape[1] not in INPUT_WIDTHS:
        accepted = ", ".join(f"{w} ({n})" for w, n in INPUT_WIDTHS.items())
        raise UserError(
            f"{file}: `{key}` has {array.shape[1]} columns (shape {array.shape}); expected one of {accepted}"
        )
    if array.size:  # numbers by now; integers can be absurd too
        bad = ~np.isfinite(array) | (np.abs(array) > MAX_ANGLE)
        if bad.any():
            nan = int(np.isnan(array).sum())
            rows = np.flatnonzero(bad.any(axis=1))
            first = rows[0]
            raise UserError(
                f"{file}: `{key}` has {int(bad.sum())} values that are not finite or beyond +-{MAX_ANGLE:g} radians "
                f"({nan} NaN) in {rows.size} of {array.shape[0]} frames (first at frame {first}: "
                f"{array[first][bad[first]][0]:.6g}); allowed: finite axis-angle radians within +-{MAX_ANGLE:g}"
            )
    return array
