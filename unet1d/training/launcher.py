"""The launcher `unet1d train --num_processes N` starts: Accelerate's own, ending in the project's terms.

When a rank fails, torchrun raises ``ChildFailedError``, which Python prints as a 40-line traceback under
the ranks' own lines, and the launch exits 1 whatever the ranks said. Here a rank that stopped for a
reason it gives in one line (a :class:`~unet1d.errors.UserError`: exit 2; a stop signal, after its
checkpoint: 128 + the signal) ends the launch with that code and no traceback; any other failure gets
one line naming the rank and how it ended. The ranks leave their user errors in a folder this process
names (``RANK_ERRORS_VARIABLE``), and it prints each different one once: N ranks failing alike said it N times.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from accelerate.commands.launch import main as accelerate_main
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

from unet1d.errors import RANK_ERRORS_VARIABLE

# Exit codes of a rank that has already said why in one line: a user error, Ctrl-C and SIGTERM after the checkpoint.
SAID_WHY = (2, 128 + signal.SIGINT, 128 + signal.SIGTERM)


def main(argv: list[str]) -> int:
    sys.argv = ["accelerate launch", *argv]  # Accelerate's parser reads them there
    # torchrun logs each failed rank as an ERROR line with its pid; the line below says it in the run's terms
    logging.getLogger("torch.distributed.elastic.multiprocessing.api").setLevel(logging.CRITICAL)
    # and its agent warns "Received 15 death signal, shutting down workers" above the ranks' own stop line
    logging.getLogger("torch.distributed.elastic.agent.server.api").addFilter(
        lambda record: "death signal" not in str(record.msg)
    )
    with tempfile.TemporaryDirectory(prefix="unet1d-rank-errors-") as folder:
        os.environ[RANK_ERRORS_VARIABLE] = folder  # the ranks inherit it and leave their user errors there
        try:
            return launch()
        finally:
            for message in dict.fromkeys(path.read_text() for path in sorted(Path(folder).glob("rank-*.txt"))):
                print(f"error: {message}", file=sys.stderr)  # each different message once, in rank order


def launch() -> int:
    """Accelerate's launcher; its ending as an exit code and at most one line."""
    try:
        accelerate_main()
    except ChildFailedError as err:
        rank, failure = err.get_first_failure()
        if failure.exitcode in SAID_WHY:
            return failure.exitcode
        if failure.exitcode < 0:
            name = signal.Signals(-failure.exitcode).name
            print(f"error: rank {rank} was killed by {name}; its last lines are above", file=sys.stderr)
            return 128 - failure.exitcode
        print(f"error: rank {rank} failed with exit code {failure.exitcode}; its output is above", file=sys.stderr)
        return failure.exitcode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
