"""The pieces a :class:`~unet1d.training.loop.Trainer` orchestrates that own their state or their cadence.

Each stateful component says what a checkpoint must hold (``state_dict`` / ``load_state_dict``)
and each periodic one when it is due (``due(step)``), so the loop neither unpicks state by hand
nor decides cadence by modulo. The quality probe is handed in (:class:`Probe`): ``training``
imports nothing of ``evaluation``; the command that builds a run builds the probe.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

    from unet1d.config import Config
    from unet1d.data import NormStats
    from unet1d.data.loading import PoseSplits


@dataclass
class StepOutcome:
    """Host-side numbers of one step (the step's single device sync)."""

    loss: float
    grad_norm: float
    lr: float
    finite: bool
    stop: bool
    block_norms: dict[str, float] = field(default_factory=dict)


@dataclass
class Window:
    """Running sums between two log steps."""

    seconds: float = 0.0  # spent in training steps (validation and checkpoints excluded)
    steps: int = 0
    finite_steps: int = 0
    loss_sum: float = 0.0

    def add(self, outcome: StepOutcome, seconds: float) -> None:
        self.seconds += seconds
        self.steps += 1
        if outcome.finite:
            self.finite_steps += 1
            self.loss_sum += outcome.loss

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.finite_steps if self.finite_steps else math.nan


@dataclass
class LoopCounters:
    """The loop's own numbers a resumed run continues: non-finite steps, training time, the last loss.

    Its ``state_dict`` is the top level of ``checkpoint.json``'s ``loop`` (checkpoint format 1).
    """

    wandb_run_id: str
    nonfinite_total: int = 0
    nonfinite_in_a_row: int = 0
    earlier_sessions_s: float = 0.0  # training time before the checkpoint we resumed from
    session_started: float = field(default_factory=time.perf_counter)
    last_train_loss: float | None = None  # the last logged window's mean loss
    window: Window = field(default_factory=Window)

    def recent_train_loss(self) -> float | None:
        """Mean loss of the steps since the last log step, or the last logged value."""
        return self.window.mean_loss if self.window.finite_steps else self.last_train_loss

    def run_time_s(self) -> float:
        """Training time of all sessions: each earlier one up to its checkpoint, and this one so far."""
        return self.earlier_sessions_s + time.perf_counter() - self.session_started

    def count(self, finite: bool) -> None:
        if finite:
            self.nonfinite_in_a_row = 0
        else:
            self.nonfinite_total += 1
            self.nonfinite_in_a_row += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "nonfinite_total": self.nonfinite_total,
            "nonfinite_in_a_row": self.nonfinite_in_a_row,
            "wandb_run_id": self.wandb_run_id,
            "train_time_s": self.run_time_s(),
            "train_loss": self.recent_train_loss(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.nonfinite_total = int(state["nonfinite_total"])
        self.nonfinite_in_a_row = int(state["nonfinite_in_a_row"])
        self.wandb_run_id = state.get("wandb_run_id") or self.wandb_run_id
        self.earlier_sessions_s = float(state.get("train_time_s", 0.0))
        self.last_train_loss = state.get("train_loss")


class FinalEvaluation(Protocol):
    """What the end-of-training evaluation gives the loop to log and print."""

    scores: dict[str, float]  # the numeric scores, logged as eval/<name>
    figure: Path  # the samples-beside-reference picture, logged as eval/poses
    note: str  # one line for the console


class Probe(Protocol):
    """Sample quality while a run trains (main process only); built by the command, handed to the loop."""

    def due(self, step: int) -> bool:
        """Whether to probe after ``step``."""

    def probe(self, network: torch.nn.Module) -> dict[str, float]:
        """``quality/*`` scalars of poses drawn from ``network`` now."""

    def final(
        self, network: torch.nn.Module, checkpoint: Path, step: int, val_loss: float | None
    ) -> FinalEvaluation | None:
        """The full evaluation of the final weights (None when the run asks for none)."""


# How a run builds its probe once its data is loaded: (config, data splits, statistics, device) -> Probe.
ProbeFactory = Callable[["Config", "PoseSplits", "NormStats", "torch.device"], Probe]
