"""The eval command's processes: how many threads each one runs, and how a network travels to a fold process.

`unet1d eval` starts its classifier's fold processes before torch loads (:func:`c2st.start_fold_workers`)
and hands them more than folds: the task scores and half of the sampling. Every process then runs one
torch thread and one BLAS thread (:data:`THREADS`), so two processes fill two cores and none waits on a
thread the scheduler has put aside: on this project's 2-core VM, two torch threads beside any other busy
thread (a fold, a neighbour's job) waited at every barrier and ran a network call 6x slower than one
thread (docs/speed.md, "The evaluation"). A network's forward pass computes the same numbers on one thread
or two, and in pieces of :data:`PIECE_ROWS` rows (:class:`InPieces`) as in one batch, for less CPU. Its
backward pass does not quite: a completion method that takes gradients (the ``guided`` default's DPS
trajectories) sums in an order that follows the thread count, and its scores move by ~1e-5 cm.
On an idle machine the layout in turn is quicker, so ``unet1d eval`` looks first (:func:`machine_busy`).
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

THREADS = 1  # torch and BLAS threads of each process while an eval's work runs side by side
# Rows per network call in those processes. The samplers and completion batch 512 rows (their random draws are
# made for 512), but on one thread here the network took 0.72x the CPU per row in pieces of 256 (0.71x at 128):
# its activations at 512 rows outgrow the core's cache. Rows never meet in the network (group norm and attention
# are per pose), and on this machine's kernels any batch of 16 rows or more gives each row's output to the last
# bit (under 16 another kernel runs: ~1e-6 apart), so no piece is cut below MIN_PIECE_ROWS (tested).
PIECE_ROWS = 256
MIN_PIECE_ROWS = 32


# Where `unet1d eval` lays its work out side by side: "auto" (when the rest of the machine is busy), "always", "never".
# On two idle cores torch's two threads scale well and the in-turn layout was 5-7 s faster (less start-up in the
# fold processes); beside one busy neighbour it was 2-4x slower. Auto leans to side by side: wrong there costs ~15 %.
LAYOUT = "auto"
BUSY_CORES = 0.2  # the rest of the machine's CPU, in cores, from which the eval counts it busy
BUSY_WINDOW_S = 0.3  # how long it looks


def machine_busy(ours: Iterable[int] = (), window: float = BUSY_WINDOW_S) -> bool:
    """Whether processes other than this one and ``ours`` (pids) used :data:`BUSY_CORES` or more over ``window``
    seconds, read from ``/proc`` while this process sleeps; True where it cannot be read (the safe layout)."""
    if LAYOUT != "auto":
        return LAYOUT == "always"
    try:
        before = _cpu_seconds(ours)
        time.sleep(window)
        after = _cpu_seconds(ours)
    except (OSError, ValueError, IndexError):
        return True
    return (after[0] - before[0]) - (after[1] - before[1]) >= BUSY_CORES * window


def _cpu_seconds(ours: Iterable[int]) -> tuple[float, float]:
    """(every CPU's busy seconds, this process's and ``ours``' seconds) from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)  # all but idle and iowait
    mine = 0
    for pid in (os.getpid(), *ours):
        with Path(f"/proc/{pid}/stat").open() as stat:
            values = stat.read().rsplit(")", 1)[1].split()
        mine += int(values[11]) + int(values[12])  # utime, stime
    return busy / ticks, mine / ticks


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """torch's intra-op threads held at ``count`` inside (None: left as they are), restored after."""
    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def one_thread() -> Iterator[None]:
    """A fold process's share of an eval: torch, OpenMP and BLAS each on :data:`THREADS` thread."""
    with torch_threads(THREADS), threadpool_limits(limits=THREADS):
        yield


class InPieces(torch.nn.Module):
    """``network`` called on about ``rows`` rows at a time (:data:`PIECE_ROWS`), the outputs joined: the same
    numbers, a working set the cache holds. A last piece under :data:`MIN_PIECE_ROWS` joins the one before."""

    def __init__(self, network: torch.nn.Module, rows: int | None = None) -> None:
        super().__init__()
        self.network = network
        self.rows = max(rows or PIECE_ROWS, MIN_PIECE_ROWS)
        self.train(network.training)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        starts = list(range(0, len(x), self.rows))
        if len(starts) > 1 and len(x) - starts[-1] < MIN_PIECE_ROWS:
            starts.pop()
        if len(starts) <= 1:
            return self.network(x, t)
        ends = [*starts[1:], len(x)]
        per_row = t.dim() > 0
        return torch.cat([
            self.network(x[start:end], t[start:end] if per_row else t) for start, end in zip(starts, ends, strict=True)
        ])  # fmt: skip


def in_pieces(network: torch.nn.Module) -> torch.nn.Module:
    """``network`` called in pieces of :data:`PIECE_ROWS` rows where it runs on the CPU (a GPU wants its batch)."""
    on_cpu = all(parameter.device.type == "cpu" for parameter in network.parameters())
    return InPieces(network) if on_cpu and not isinstance(network, InPieces) else network


def pack(network: torch.nn.Module) -> bytes:
    """``network`` as bytes for a fold process (plain pickle: weights inline, no shared-memory handles)."""
    return pickle.dumps(network)


def unpack(network: bytes) -> torch.nn.Module:
    """The network :func:`pack` sent, in eval mode on the CPU, called in pieces (:func:`in_pieces`)."""
    return in_pieces(pickle.loads(network).eval())
