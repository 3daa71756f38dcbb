"""The eval command's processes: how many threads each one runs, and how a network travels to a fold process.

`unet1d eval` starts its classifier's fold processes before torch loads (:func:`c2st.start_fold_workers`)
and hands them more than folds: the task scores and half of the sampling. Every process then runs one
torch thread and one BLAS thread (:data:`THREADS`), so two processes fill two cores and none waits on a
thread the scheduler has put aside: on this project's 2-core VM, two torch threads beside any other busy
thread (a fold, a neighbour's job) waited at every barrier and ran a network call 6x slower than one
thread (docs/speed.md, "The evaluation"). A network computes the same numbers on one thread or two.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits

THREADS = 1  # torch and BLAS threads of each process while an eval's work runs side by side


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


def pack(network: torch.nn.Module) -> bytes:
    """``network`` as bytes for a fold process (plain pickle: weights inline, no shared-memory handles)."""
    return pickle.dumps(network)


def unpack(network: bytes) -> torch.nn.Module:
    """The network :func:`pack` sent, in eval mode on the CPU."""
    return pickle.loads(network).eval()
