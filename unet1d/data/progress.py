"""A progress bar over files being read: on a terminal, for many files, on the first process only.

Reading 11,000 AMASS files the first time takes most of a minute; a silent minute looks like a
hang. Quiet elsewhere (logs, pipes, tests, the other ranks of a distributed run).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from typing import TypeVar

PROGRESS_MIN_FILES = 200

T = TypeVar("T")


def _wanted(count: int) -> bool:
    first_rank = os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("RANK", "0") == "0"
    return count >= PROGRESS_MIN_FILES and first_rank and sys.stderr.isatty()


def file_progress(items: Sequence[T], description: str) -> Iterator[T]:
    """Yield ``items``, advancing a transient rich bar on stderr when :func:`_wanted`."""
    if not _wanted(len(items)):
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=len(items))
        for item in items:
            yield item
            progress.advance(task)
