"""argparse types the benchmarks share: a count or a length that must be positive, or a JSON path that cannot be
written, is refused by argparse itself, in one line with exit code 2, before any work (instead of a StatisticsError
or a hang minutes later); and :func:`run_main`, which ends a benchmark's own errors in one line too."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from unet1d.atomic_files import folder_problem
from unet1d.errors import UserError


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: must be a whole number > 0")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be a whole number >= 0")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: must be a finite number > 0")
    return value


def json_path(text: str) -> Path:
    """A file the results (or a figure) can be written to, checked before the work (a folder, or one under a file,
    ended the benchmark in a traceback after its minutes of measuring)."""
    path = Path(text)
    if path.is_dir() or (path.exists() and not path.is_file()):
        raise argparse.ArgumentTypeError(f"{text}: not a file to write (a folder, device or pipe)")
    problem = folder_problem(path.parent)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text}: {problem}")
    return path


def run_main(main: Callable[[], object]) -> None:
    """``main()`` as a command: the project's errors (a missing run, a bad field) are one ``error:`` line and exit
    2, a failed child command (its own output above) one line and its exit code, not a traceback."""
    try:
        main()
    except UserError as err:  # ConfigError and the prior's ArgumentError too
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except subprocess.CalledProcessError as err:
        parts = [str(part).splitlines()[0][:40] for part in (err.cmd if isinstance(err.cmd, list) else [err.cmd])]
        command = " ".join(parts[:4])
        captured = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else err.stderr or ""
        lines = [line for line in captured.splitlines() if line.strip()]
        said = f": {lines[-1]}" if lines else "; its output is above"
        print(f"error: {command} ... failed with exit code {err.returncode}{said}", file=sys.stderr)
        sys.exit(err.returncode if 0 < err.returncode < 128 else 1)
