"""Warnings for people: one ``warning: ...`` line on stderr each, printed and collected in one place.

A problem the program survives (a dashboard failing, a cache it cannot use, a damaged file it reads
around) is one line, never a traceback. ``once`` keeps a line a reader may meet again and again (a
damaged checkpoint a poll reads each time) to its first time in the process. :func:`collected_warnings`
gathers every line said inside a block, printed or not, so `unet1d compare` can carry its caveats into
its JSON and report; :func:`silenced` keeps a block's lines to itself (a launch's other ranks).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

_said: set[str] = set()
_collectors: list[list[str]] = []
_silenced = 0  # open silenced() blocks


def warn(message: str, *, once: bool = False) -> None:
    """``warning: message`` on stderr (with ``once``, only its first time in this process), and in every
    :func:`collected_warnings` block open."""
    for collector in _collectors:
        if message not in collector:
            collector.append(message)
    if (once and message in _said) or _silenced:
        return
    _said.add(message)
    print(f"warning: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def collected_warnings() -> Iterator[list[str]]:
    """The warnings :func:`warn` gives inside the block, each once, whether printed now or before."""
    collector: list[str] = []
    _collectors.append(collector)
    try:
        yield collector
    finally:
        _collectors.remove(collector)


@contextlib.contextmanager
def silenced(silent: bool = True) -> Iterator[None]:
    """Warnings inside the block are collected but not printed (when ``silent``): a launch's other ranks read
    the same data as its main process, which says each line once for all of them."""
    global _silenced
    _silenced += silent
    try:
        yield
    finally:
        _silenced -= silent
