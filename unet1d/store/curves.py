"""Every scalar a run logged to TensorBoard, with wall times: the one TensorBoard reader.

Compare (best val loss, plots, convergence on one scale) and ``sweep local`` (the metric the
sweep engine sees) read runs through it. Each event folder is read once; a resumed run writes
more event files, and for a step logged twice the later write wins.

TensorBoard's reader stops at the first record that fails its checksum and says so only in a debug
log line; :func:`read_curves` keeps the values read before it and names the file in one warning. A
file that merely ends inside a record is not warned about: that is what a run still writing looks
like (``sweep local`` reads live runs), and nothing after the cut exists to be lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tb_logging

from unet1d.store.checkpoint_files import warn
from unet1d.store.rundir import TENSORBOARD_DIR

# The debug line TensorBoard's event file loader writes when a record cannot be read (path, error).
_UNREADABLE_RECORD = "Truncated record in %s (%s)"
# What the reader says when a later session logs steps an earlier one had passed (a resume from a checkpoint
# before the kill): it drops the killed session's later values, as the dashboards do, and warns for each tag.
_RESUMED_RUN = "Detected out of order event.step"


@dataclass
class Curves:
    """One run's scalars: ``points[tag]`` is a step-sorted list of (step, wall time s, value)."""

    points: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)

    @property
    def start_time(self) -> float | None:
        """Wall time of the run's first logged event: the zero of its time axis."""
        return min((p[0][1] for p in self.points.values() if p), default=None)

    def steps(self, tag: str) -> list[int]:
        return [step for step, _, _ in self.points.get(tag, [])]

    def values(self, tag: str) -> list[float]:
        return [value for _, _, value in self.points.get(tag, [])]

    def tags(self, prefix: str) -> list[str]:
        return sorted(tag for tag in self.points if tag.startswith(prefix))


def read_curves(run: Path) -> Curves:
    """Every scalar tag under ``<run>/tensorboard`` (empty when the run has none)."""
    tensorboard = Path(run) / TENSORBOARD_DIR
    by_tag: dict[str, dict[int, tuple[float, float]]] = {}
    folders = sorted({p.parent for p in tensorboard.rglob("events.out.tfevents*")}) if tensorboard.is_dir() else []
    for folder in folders:
        accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        with _damaged_records() as damaged:
            accumulator.Reload()
        for path, reason in damaged.items():
            warn(f"TensorBoard events file {path} is damaged ({reason}); its values after the damage are left out")
        for tag in accumulator.Tags().get("scalars", []):
            seen = by_tag.setdefault(tag, {})
            for event in accumulator.Scalars(tag):
                if event.step not in seen or event.wall_time >= seen[event.step][0]:
                    seen[event.step] = (event.wall_time, event.value)
    return Curves({tag: sorted((s, w, v) for s, (w, v) in steps.items()) for tag, steps in by_tag.items()})


@contextlib.contextmanager
def _damaged_records() -> Iterator[dict[str, str]]:
    """Collect, per events file, the error at which TensorBoard's reader stopped on a damaged record.

    The reader reports it only as a debug record; a filter on its logger catches that record and
    lets through exactly what the logger's own level would have, so nothing new reaches any handler,
    less the purge warnings of a resumed run (:data:`_RESUMED_RUN`).
    """
    logger = tb_logging.get_logger()
    shown_from = logger.getEffectiveLevel()
    damaged: dict[str, str] = {}

    def catch(record: logging.LogRecord) -> bool:
        if record.msg == _UNREADABLE_RECORD and len(record.args or ()) == 2:
            path, error = str(record.args[0]), record.args[1]
            reason = str(getattr(error, "message", None) or error)
            for named in (repr(os.fsencode(path)), path):  # the reader's message starts with the file's name
                reason = reason.removeprefix(named).strip()
            if "truncated" not in reason.lower():  # cut short at the end: a file still being written
                damaged.setdefault(path, reason)
        if str(record.msg).startswith(_RESUMED_RUN):  # a resumed run's later session: its purge is expected
            return False
        return record.levelno >= shown_from

    previous_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addFilter(catch)
    try:
        yield damaged
    finally:
        logger.removeFilter(catch)
        logger.setLevel(previous_level)
