"""Files written whole or not at all, with the mode a plain ``open`` gives: what every writer of a run,
a cache or a sweep record shares (the data cache below the run folder, so neither imports the other).

A temporary file in the same folder, flushed to disk, then renamed over the target: a reader sees
the old file or the new one, never half of one. ``mkstemp`` makes files 0o600, readable by their
owner alone; a run's files and the caches are read by others on a shared machine, so they get
0o666 less the umask, as a plain ``open`` would.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path


def current_umask() -> int:
    """This process's umask, read without changing it where the system says it (Linux: /proc), since
    setting it to read it back would leave other threads' files unmasked for that moment."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def plain_file_mode() -> int:
    """The permissions a plain ``open(path, "w")`` gives a new file (0o644 under the usual umask)."""
    return 0o666 & ~current_umask()


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` whole, or what it held before; an OSError where it is no regular file (a device or
    a pipe: the rename would put a file in its place)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), plain_file_mode())
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staging, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging)


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's entries (what makes a rename in it durable), to disk; a no-op where the
    system cannot open it (folders, on some)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_path(path: Path) -> None:
    """Remove whatever ``path`` is (a file, a link, a folder tree) if it can; a damaged cache entry in the way of
    its rebuild may have become any of them."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


def write_text_atomically(path: Path, text: str) -> None:
    """``path`` holds ``text`` (UTF-8) whole, or what it held before."""
    write_bytes_atomically(path, text.encode())


def folder_problem(folder: Path) -> str | None:
    """Make ``folder`` (and its parents) and check a file can be created in it; why not, for a person, or
    None. Said before the work, so a command does not fail on its first write minutes later."""
    blocker = next((path for path in (folder, *folder.parents) if path.exists() and not path.is_dir()), None)
    if blocker is not None:
        return f"{blocker} is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, trial = tempfile.mkstemp(prefix=".write-check-", suffix=".tmp", dir=folder)
        os.close(handle)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(trial)
    except OSError as err:
        return f"cannot write there ({err.strerror or err})"
    return None
