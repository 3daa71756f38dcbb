"""Every scalar a run logged to TensorBoard, with wall times: the one TensorBoard reader.

Compare (best val loss, plots, convergence on one scale) and ``sweep local`` (the metric the
sweep engine sees) read runs through it. Each event folder is read once; a resumed run writes
more event files, and for a step logged twice the later write wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from unet1d.store.rundir import TENSORBOARD_DIR


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
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tensorboard = Path(run) / TENSORBOARD_DIR
    by_tag: dict[str, dict[int, tuple[float, float]]] = {}
    folders = sorted({p.parent for p in tensorboard.rglob("events.out.tfevents*")}) if tensorboard.is_dir() else []
    for folder in folders:
        accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags().get("scalars", []):
            seen = by_tag.setdefault(tag, {})
            for event in accumulator.Scalars(tag):
                if event.step not in seen or event.wall_time >= seen[event.step][0]:
                    seen[event.step] = (event.wall_time, event.value)
    return Curves({tag: sorted((s, w, v) for s, (w, v) in steps.items()) for tag, steps in by_tag.items()})
