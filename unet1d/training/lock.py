"""One writer per run folder: ``<output_dir>/run.lock`` names the process training into it.

Two ``unet1d train`` into one folder (a requeued run whose old process still lives, a second
launch by mistake, two launchers that never formed one group) would write the same checkpoints
and dashboards. The main process of a run holds an exclusive ``flock`` on the lock file for as
long as it trains; the file records the holder's host, pid and start time for the refusal
message. The kernel (or the NFS lock manager) drops the lock when its holder dies, however it
dies, so a lock file left by a dead process is simply taken over. Only the main process locks:
the other ranks of the same run write nothing but their part of each checkpoint.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from unet1d.atomic_files import folder_problem
from unet1d.errors import UserError

LOCK_FILE = "run.lock"
# The global rank, as torchrun / accelerate (RANK) or MPI set it; absent in a single process.
GLOBAL_RANK_VARIABLES = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
# flock on a filesystem that cannot lock: fall back to asking whether the recorded pid lives.
NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a run folder."""

    host: str
    pid: int
    started: str  # ISO 8601, UTC

    @classmethod
    def me(cls) -> Holder:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(socket.gethostname(), os.getpid(), now)

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}, started {self.started}"

    def alive_here(self) -> bool:
        """Without flock: a process on this host is alive if the pid exists; elsewhere we cannot tell."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, owned by someone else
            return True
        return True


class RunLock:
    """An exclusive hold on one run folder; :meth:`release` (or process death) gives it up."""

    def __init__(self, path: Path, fd: int, holder: Holder, previous: Holder | None) -> None:
        self.path, self._fd, self.holder, self.previous = path, fd, holder, previous

    @classmethod
    def acquire(cls, output_dir: Path) -> RunLock:
        """Lock ``output_dir`` for this process, or raise :class:`UserError` naming the live holder."""
        problem = folder_problem(output_dir)  # makes it, or says why it cannot be written
        if problem is not None:
            raise UserError(f"train.output_dir {output_dir}: {problem}")
        path = output_dir / LOCK_FILE
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise UserError(_refusal(output_dir, holder)) from None
            except OSError as err:
                if err.errno not in NO_FLOCK:
                    os.close(fd)
                    raise
                holder = _read(fd)
                if holder is not None and holder != Holder.me() and holder.alive_here():
                    os.close(fd)
                    raise UserError(_refusal(output_dir, holder)) from None
            # A releasing holder may have removed the file between our open and our flock.
            if _same_file(fd, path):
                break
            os.close(fd)
        previous, me = _read(fd), Holder.me()
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(asdict(me)) + "\n").encode(), 0)
        os.fsync(fd)
        return cls(path, fd, me, previous)

    def release(self) -> None:
        """Remove the lock file, then drop the lock (in that order, so no one locks a removed file)."""
        if self._fd < 0:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = -1


def is_main_process(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process is rank 0 of its launch (or not part of one)."""
    env = os.environ if environ is None else environ
    for name in GLOBAL_RANK_VARIABLES:
        if name in env:
            return env[name].strip() == "0"
    return True


@contextmanager
def hold_run_dir(output_dir: Path, environ: Mapping[str, str] | None = None) -> Iterator[RunLock | None]:
    """Hold ``output_dir`` while the block runs, on the main process; other ranks hold nothing."""
    if not is_main_process(environ):
        yield None
        return
    created = not output_dir.exists()
    lock = RunLock.acquire(output_dir)
    if lock.previous is not None:
        print(f"{output_dir}: took over the lock of a process that has ended ({lock.previous.describe()})",
              file=sys.stderr)  # fmt: skip
    try:
        yield lock
    finally:
        lock.release()
        if created:  # a run refused before it wrote anything leaves no empty folder behind
            with suppress(OSError):
                output_dir.rmdir()


def _refusal(output_dir: Path, holder: Holder | None) -> str:
    who = holder.describe() if holder else "a process that has not recorded itself yet"
    return (
        f"{output_dir} is in use by another training run ({who}); one run folder takes one writer. "
        "Wait for it to end, stop it (SIGTERM saves a checkpoint; then --resume auto continues it), "
        "or choose another --output_dir"
    )


def _read(fd: int) -> Holder | None:
    """The holder recorded in the lock file, or None if it is empty or unreadable (a crash mid-write)."""
    raw = os.pread(fd, 4096, 0)
    try:
        return Holder(**json.loads(raw))
    except (ValueError, TypeError):
        return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)
