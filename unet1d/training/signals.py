"""Preemption: SIGTERM or SIGINT asks the loop to stop once every rank knows: after the next step.

A cluster preempting a job, ``wandb agent`` stopping a run, and Ctrl-C all arrive as signals.
The handler only records which signal came; the loop agrees on it across ranks, saves a
checkpoint, marks the W&B run as preempting and exits with ``128 + signal`` (143 for SIGTERM,
130 for SIGINT), so a sweep requeues the run and ``--resume auto`` continues it. A second
Ctrl-C stops at once, for a person who does not want to wait for the checkpoint; one within
``DUPLICATE_WINDOW_S`` of the first is the same press delivered twice (by the terminal and by
torchrun's agent, which forwards signals to its workers) and is ignored.

A run that seems stuck (a distributed rank waiting on a peer, a tracker that does not return) is
asked where it is with SIGUSR2: every thread's Python stack goes to stderr and training goes on
(:func:`dump_stacks_on_request`). Neither Slurm nor torchrun uses that signal for its own ends.

A process that starts another to do the work (`unet1d train --num_processes N`'s launcher, `unet1d sweep
agent`'s `wandb agent`) hands the stop signals on to it with :func:`run_passing_signals`.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import FrameType, TracebackType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
DUPLICATE_WINDOW_S = 2.0
STACKS_SIGNAL = signal.SIGUSR2


class Interrupted(Exception):
    """A stop signal came during work that cannot poll for one (:func:`signals_raise`)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextlib.contextmanager
def signals_raise(signums: tuple[int, ...] = STOP_SIGNALS) -> Iterator[None]:
    """While inside, the first of ``signums`` raises :class:`Interrupted` in the main thread, for work that
    cannot poll for a stop (the final evaluation, a sweep's wait on its runs). It puts the previous handlers
    back as it raises, so a second signal acts as it would have; outside the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():  # handlers live in the main thread only
        yield
        return
    previous: dict[int, object] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        raise Interrupted(signum)

    for number in signums:
        previous[number] = signal.signal(number, handle)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]


def dump_stacks_on_request() -> bool:
    """``kill -USR2 <pid>`` prints every thread's stack to the process's stderr (file descriptor 2, even
    where ``sys.stderr`` was swapped for a capture), without stopping it; False where there is no such file.

    faulthandler writes from C, so a process whose main thread is blocked in a collective or on a
    lock still answers, and py-spy need not be installed on the cluster.
    """
    if sys.__stderr__ is None:  # no stderr at all (pythonw, some embedding hosts)
        return False
    try:
        faulthandler.register(STACKS_SIGNAL, file=sys.__stderr__, all_threads=True)
    except (ValueError, OSError):  # a stderr without a file descriptor
        return False
    return True


class StopSignals:
    """Context manager: while inside, SIGTERM/SIGINT set :attr:`received` instead of killing us."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._received_at = 0.0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # signal handlers live there only
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self.received is not None:
            if signum == signal.SIGINT and now - self._received_at > DUPLICATE_WINDOW_S:
                print("a second Ctrl-C: stopping now, without a checkpoint", file=sys.stderr, flush=True)
                raise KeyboardInterrupt  # a second Ctrl-C: no checkpoint, stop now
            return
        self.received, self._received_at = signum, now

    @property
    def requested(self) -> bool:
        return self.received is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""

    @property
    def exit_code(self) -> int:
        """The shell's convention for death by signal: 128 + its number."""
        return 128 + (self.received or 0)


def run_passing_signals(
    command: list[str],
    *,
    passed: Sequence[signal.Signals] = (signal.SIGTERM,),
    ignored: Sequence[signal.Signals] = (signal.SIGINT,),
    env: dict[str, str] | None = None,
    own_session: bool = False,
    handed_as: dict[int, int] | None = None,
) -> tuple[int, list[int]]:
    """Run ``command`` to its end, handing on to it each of ``passed`` this process gets and ignoring ``ignored``
    here (a terminal's Ctrl-C reaches a child of the same session itself); -> (its exit code as a shell gives it,
    128 + the signal for one a signal ended, and the signals handed on).
    ``own_session``: the child is out of reach of the terminal's and a process group's signals, so this process
    hands on every one. ``handed_as`` maps a signal to the one the child gets instead. Where Linux allows, the
    child gets SIGTERM when this process dies, however it dies."""
    process = subprocess.Popen(command, env=env, preexec_fn=terminate_with_parent(), start_new_session=own_session)
    forwarded: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        forwarded.append(signum)
        process.send_signal((handed_as or {}).get(signum, signum))

    previous = {signum: signal.signal(signum, forward) for signum in passed}
    previous |= {signum: signal.signal(signum, signal.SIG_IGN) for signum in ignored}
    try:
        code = process.wait()
        return (128 - code if code < 0 else code), forwarded
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def terminate_with_parent() -> Callable[[], None] | None:
    """For ``Popen(preexec_fn=...)``: the child asks Linux for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``);
    None where there is no such call. libc is looked up here, in the parent: the child only makes the call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    set_parent_death_signal = 1  # PR_SET_PDEATHSIG, <linux/prctl.h>

    def ask() -> None:
        prctl(set_parent_death_signal, int(signal.SIGTERM), 0, 0, 0)

    return ask
