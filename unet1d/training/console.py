"""What a person watching a run sees: a progress bar on a terminal, plain lines in a log file.

Only the main process gets an active :class:`Progress`; the other ranks get one that prints
nothing, so the loop never asks "am I rank 0?" itself.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from datetime import timedelta

from unet1d import notices

warn = notices.warn  # a problem training survives (W&B offline, a dashboard failing): one line on stderr


def say(message: str) -> None:
    """A plain status line on stdout."""
    print(message, flush=True)


def format_eta(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds))) if seconds == seconds and seconds >= 0 else "?"


class Progress:
    """Step, loss, samples/s and ETA: a rich bar when stdout is a terminal, else a line every log step.

    mode: 'auto' (bar on a TTY, plain otherwise), 'bar', 'plain' or 'none'.
    """

    def __init__(self, mode: str, *, total_steps: int, start_step: int, enabled: bool) -> None:
        if mode == "auto":
            mode = "bar" if sys.stdout.isatty() else "plain"
        self.mode = mode if enabled else "none"
        self.total_steps = total_steps
        self.start_step = start_step
        self.started = time.perf_counter()
        self._bar = None
        if self.mode == "bar":
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("step"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[speed]} samples/s"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            self._task = self._bar.add_task("train", total=total_steps, completed=start_step, loss="-", speed="-")
            self._bar.start()

    def advance(self, step: int) -> None:
        """Called every step: moves the bar (rich throttles redraws itself)."""
        if self._bar is not None:
            self._bar.update(self._task, completed=step)

    def report(self, step: int, metrics: Mapping[str, float]) -> None:
        """Called every log step with the logged metrics."""
        if self.mode == "none":
            return
        loss, speed = metrics.get("train/loss", float("nan")), metrics.get("train/samples_per_s", float("nan"))
        if self._bar is not None:
            self._bar.update(self._task, completed=step, loss=f"{loss:.4f}", speed=f"{speed:,.0f}")
            return
        elapsed = time.perf_counter() - self.started
        done = step - self.start_step
        eta = (self.total_steps - step) * elapsed / done if done > 0 else float("nan")
        parts = [f"step {step}/{self.total_steps}", f"loss {loss:.4f}"]
        if "train/lr" in metrics:
            parts.append(f"lr {metrics['train/lr']:.2e}")
        if "train/grad_norm" in metrics:
            parts.append(f"grad_norm {metrics['train/grad_norm']:.3f}")
        parts += [f"{speed:,.0f} samples/s", f"ETA {format_eta(eta)}"]
        say("  ".join(parts))

    def note(self, message: str) -> None:
        """A one-off line (validation, checkpoint) that does not break the bar."""
        if self.mode == "none":
            return
        if self._bar is not None:
            self._bar.console.print(message)
        else:
            say(message)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
