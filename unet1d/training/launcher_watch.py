"""A distributed run that loses a machine stops, on every machine, instead of waiting for it.

Two ways a machine goes: its launcher dies (its ranks live on: torchrun starts them in their
own session, so they would train on without it), or its ranks die. :func:`watch_launcher`
turns the first into the second's clean form: a rank whose launcher is gone sends itself
SIGTERM, and the run's preemption path (every rank agrees to stop, checkpoint, exit 143) ends
the whole group. When ranks die outright, the others' next collective fails at once (the
connection resets) or after ``launch.collective_timeout_s``; :func:`lost_peer_message` turns
that backend error into one line for the person reading the log.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping

from unet1d.training.launch import inside_distributed_launch

POLL_S = 1.0
# Words gloo and NCCL use when the other side of a collective is gone or silent; not the bare backend names,
# which head their other errors too ("NCCL error: unhandled cuda error" is no lost machine).
PEER_ERRORS = ("connection reset", "connection closed", "connection refused", "timed out", "broken pipe",
               "remote process exited", "communicator was aborted")  # fmt: skip


def watch_launcher(environ: Mapping[str, str] | None = None) -> threading.Thread | None:
    """In a launched rank: SIGTERM ourselves once our launcher (our parent process) is gone."""
    if not inside_distributed_launch(environ):
        return None
    launcher = os.getppid()

    def watch() -> None:
        while os.getppid() == launcher:  # re-parented once the launcher dies
            time.sleep(POLL_S)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="unet1d-launcher-watch", daemon=True)
    thread.start()
    return thread


def lost_peer_message(err: BaseException, environ: Mapping[str, str] | None = None) -> str | None:
    """A one-line explanation if ``err`` is a collective that failed because another rank is gone.

    Read from the launch's environment, not the process group: the trainer has already closed it.
    """
    env = os.environ if environ is None else environ
    world = int(env.get("WORLD_SIZE", "1") or 1)
    text = str(err).strip()
    first_line = text.splitlines()[0] if text else type(err).__name__
    if world < 2 or not any(word in first_line.lower() for word in PEER_ERRORS):
        return None
    return (
        f"another process of this distributed run stopped answering ({first_line[:300]}); this rank "
        f"(rank {env.get('RANK', '?')} of {world}) stops too. Start all machines again with --resume auto "
        "to continue from the last checkpoint"
    )
