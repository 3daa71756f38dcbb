"""The pieces a :class:`~unet1d.training.loop.Trainer` is made of, each owning its state and its cadence.

A stateful component says what a checkpoint holds of it (``state_dict`` / ``load_state_dict``:
tensors and JSON, see :mod:`unet1d.store.checkpoints`), so the trainer's one table
(:meth:`~unet1d.training.loop.Trainer.state_components`) is all that save and restore walk; a
periodic one says when it is ``due(step)``, so the loop decides no cadence by modulo.

- :class:`TrainingState`: network, optimiser, LR schedule (Accelerate's prepared objects)
- :class:`EMAState`: the EMA weights and their update count
- :class:`NoiseGenerator`: this rank's timestep and noise draws
- :class:`LoopCounters`: the step, training time, the last loss, the W&B run id
- :class:`NonFiniteGuard` and :class:`BatchNormGuard`: a non-finite step is skipped, and too many stop the run
- :class:`Validator` and :class:`Checkpointer`: periodic work with a cadence of its own
- :class:`Probe`: the quality probe, handed in (``training`` imports nothing of ``evaluation``)
- :class:`unet1d.training.metrics.StepMetrics`: what each step logs, and at which steps

The data order is :class:`unet1d.data.DeviceBatches`, a component as it stands.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
from accelerate.utils import load as accelerate_load

from unet1d.cadence import Every
from unet1d.diffusion.validation import loss_from_sums, validation_seed, validation_subset, validation_sums
from unet1d.errors import UserError
from unet1d.store import checkpoint_files, checkpoints

if TYPE_CHECKING:
    from accelerate import Accelerator
    from torch import nn

    from unet1d.config import Config
    from unet1d.data import NormStats
    from unet1d.data.loading import PoseSplits
    from unet1d.diffusion import EMA, NoiseSchedule


class TrainingDiverged(UserError):
    """Too many non-finite steps in a row: the run cannot go on as configured."""


@dataclass
class StepOutcome:
    """Host-side numbers of one step (the step's single device sync)."""

    loss: float
    grad_norm: float
    lr: float
    finite: bool
    stop: bool
    block_norms: dict[str, float] = field(default_factory=dict)
    scaler_skip: bool = False  # fp16: a finite loss whose scaled gradients overflowed; the scaler lowers its scale


# ------------------------------------------------------------------------------------ state


class TrainingState:
    """The network, its optimiser and LR schedule as Accelerate prepared them.

    Its ``state_dict`` is the bare network's weights (``model.safetensors``, what evaluation loads);
    the optimiser, LR schedule, grad scaler and every rank's global RNGs are Accelerate's to write,
    in ``accelerate/`` (:meth:`save_state`, :meth:`load_state`).
    """

    folder = checkpoint_files.ACCELERATE_DIR

    def __init__(
        self,
        accelerator: Accelerator,
        network: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
    ) -> None:
        self.accelerator = accelerator
        self.model, self.optimizer, self.scheduler = accelerator.prepare(network, optimizer, scheduler)
        self.network: nn.Module = accelerator.unwrap_model(self.model, keep_torch_compile=False)  # the bare network

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict[str, Any]:
        return dict(self.network.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state)  # the same weights Accelerate's folder restored; the file is eval's

    def save_state(self, folder: Path) -> None:
        self.accelerator.save_state(str(folder), safe_serialization=True)

    def load_state(self, folder: Path) -> None:
        # Accelerate passes over random states it cannot read with one info line: the resume would not be exact.
        # A file pickled another way than torch.save's also made torch warn twice before the one error line.
        with warnings.catch_warnings():  # the optimiser's and scheduler's files too
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            accelerate_load(folder / f"random_states_{self.accelerator.process_index}.pkl")
            self.accelerator.load_state(str(folder))


class EMAState:
    """The EMA of the weights: bare network keys (``ema.safetensors``) and the update count (JSON)."""

    def __init__(self, ema: EMA) -> None:
        self.ema = ema

    @property
    def module(self) -> nn.Module:
        return self.ema.module

    def update(self, network: nn.Module) -> None:
        self.ema.update(network)

    def state_dict(self) -> dict[str, Any]:
        return {"num_updates": self.ema.num_updates, **self.ema.module.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        weights = {f"module.{name}": value for name, value in state.items() if name != "num_updates"}
        weights["n_averaged"] = torch.tensor(int(state["num_updates"]), dtype=torch.long)
        self.ema.load_state_dict(weights)


class NoiseGenerator:
    """This rank's generator of timesteps and noise (each rank its own: ranks must not draw alike)."""

    per_rank = True

    def __init__(self, device: torch.device, seed: int) -> None:
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        here = self.generator.device.type
        if state["state"].numel() != self.generator.get_state().numel():  # a CPU generator's state is not a GPU's
            there = "cpu" if state["state"].numel() == CPU_GENERATOR_STATE_BYTES else "cuda"
            raise UserError(
                f"the checkpoint's noise generator drew on the {there}, and this run trains on the {here}: "
                f"resume it with --device {there}, where its draws continue"
            )
        self.generator.set_state(state["state"])


CPU_GENERATOR_STATE_BYTES = torch.Generator().get_state().numel()  # a CUDA generator's: 16 (seed and offset)


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
    """The loop's own numbers a resumed run continues: the step, training time, the last loss, the W&B run.

    ``step`` counts optimiser steps taken (skipped ones included). A session starts when the loop
    first steps (:meth:`begin_session`), so building the run is not training time.
    """

    wandb_run_id: str
    step: int = 0
    earlier_sessions_s: float = 0.0  # training time before the checkpoint we resumed from
    session_started: float | None = None
    session_start_step: int = 0
    epoch: int = 0  # the epoch the loop is in, and since when (this session)
    epoch_started: float = 0.0
    last_train_loss: float | None = None  # the last logged window's mean loss
    periodic_pending: bool = False  # the step's validation, probe and save were not run (a stop came first)
    extended_from: int | None = None  # the max_steps a resume lengthened, once that moved the learning rate
    window: Window = field(default_factory=Window)
    epoch_before_s: float = 0.0  # time the epoch in progress had taken before the checkpoint we resumed from
    peak_memory_mb: float = 0.0  # the highest peak of the sessions before, as of their last checkpoint

    def begin_session(self, epoch: int) -> bool:
        """Start this session's clock once (in ``epoch``); whether this call started it."""
        if self.session_started is not None:
            return False
        self.session_started, self.session_start_step = time.perf_counter(), self.step
        # a resumed epoch goes on from the time it had taken (its first end after a resume read a part of it)
        self.epoch, self.epoch_started = epoch, self.session_started - self.epoch_before_s
        return True

    def epoch_time_s(self, epoch: int) -> float | None:
        """When the loop has moved on to ``epoch``: how long the one it left took (this session), else None."""
        if epoch == self.epoch:
            return None
        now = time.perf_counter()
        elapsed, self.epoch, self.epoch_started = now - self.epoch_started, epoch, now
        return elapsed

    def session_s(self) -> float:
        return time.perf_counter() - self.session_started if self.session_started is not None else 0.0

    def new_window(self) -> Window:
        """The window since the last log step (its mean loss kept as the last one); a fresh one begins."""
        window, self.window = self.window, Window()
        self.last_train_loss = window.mean_loss
        return window

    def recent_train_loss(self) -> float | None:
        """Mean loss of the steps since the last log step, or the last logged value."""
        return self.window.mean_loss if self.window.finite_steps else self.last_train_loss

    def run_time_s(self) -> float:
        """Training time of all sessions: each earlier one up to its checkpoint, and this one so far."""
        return self.earlier_sessions_s + self.session_s()

    def state_dict(self) -> dict[str, Any]:
        now = time.perf_counter()
        session_s = now - self.session_started if self.session_started is not None else 0.0
        return {
            "step": self.step,
            "wandb_run_id": self.wandb_run_id,
            "train_time_s": self.earlier_sessions_s + session_s,
            "epoch_time_s": now - self.epoch_started if self.session_started is not None else self.epoch_before_s,
            "peak_memory_mb": self.peak_memory_mb,
            "train_loss": self.recent_train_loss(),
            "periodic_pending": self.periodic_pending,
            "extended_from": self.extended_from,
            "window": asdict(self.window),  # the log window so far: a resumed run's next log covers it
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.earlier_sessions_s = float(state.get("train_time_s", 0.0))
        self.last_train_loss = state.get("train_loss")
        self.periodic_pending = bool(state.get("periodic_pending", False))  # absent from checkpoints before it
        self.window = Window(**state.get("window", {}))
        self.extended_from = state.get("extended_from")
        self.epoch_before_s = float(state.get("epoch_time_s", 0.0))  # 0 in checkpoints before it: a part, as then
        self.peak_memory_mb = float(state.get("peak_memory_mb", 0.0))


# ----------------------------------------------------------------------------------- guards


class Arithmetic:
    """What the run's numbers were computed with that the config may leave to the machine: the CPU threads
    (``threads: null`` follows OMP_NUM_THREADS or the cores) and the autocast ``auto`` resolves to. A resume
    that resolves them otherwise is no longer bit-identical to a run never stopped: it is said, not refused
    (a requeued job may land on another machine)."""

    newer_than_format = True  # checkpoints before it stored neither: nothing to compare

    def __init__(self, threads: int, precision: str, device: torch.device) -> None:
        self.now = {"threads": threads if device.type == "cpu" else None, "precision": precision}
        self.stored: dict[str, Any] = {}

    def state_dict(self) -> dict[str, Any]:
        return dict(self.now)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stored = dict(state)

    def changes(self) -> list[str]:
        """``"threads 1 -> 2"`` for each setting this session computes with otherwise than the stored one."""
        return [f"{name} {self.stored[name]} -> {value}" for name, value in self.now.items()
                if self.stored.get(name) is not None and value is not None and self.stored[name] != value]  # fmt: skip

    def warning(self) -> str | None:
        """What a resume that computes otherwise is told, and what keeps it exact; None when nothing changed."""
        changed = self.changes()
        if not changed:
            return None
        keep = []
        if any(change.startswith("threads") for change in changed):
            keep.append(f"--threads {self.stored['threads']} keeps the threads")
        if any(change.startswith("precision") for change in changed):
            keep.append("the autocast follows this machine's CPU (mixed_precision auto): resume on one like the first")
        return (f"this session computes with {', '.join(changed)}: from here the run is not bit-identical to one "
                f"never stopped ({'; '.join(keep)})")  # fmt: skip


@dataclass
class NonFiniteGuard:
    """Counts steps whose loss or gradient norm was not finite (their update is skipped); ``limit`` in a row
    stop the run with :class:`TrainingDiverged`, naming the last good checkpoint in ``output_dir``."""

    limit: int
    output_dir: Path
    total: int = 0
    in_a_row: int = 0
    scaler_skips: int = 0  # fp16 steps the gradient scaler skipped as it searched its scale: no divergence

    def record(self, outcome: StepOutcome, step: int) -> str | None:
        """Count ``step``; the line to print when it was skipped."""
        if outcome.finite:
            self.in_a_row = 0
            return None
        if outcome.scaler_skip:  # a few at the start, then one every ~2,000 steps as the scale grows
            self.scaler_skips += 1
            return None
        self.total += 1
        self.in_a_row += 1
        return (
            f"step {step}: non-finite loss ({outcome.loss}) or gradient norm ({outcome.grad_norm}); "
            f"update skipped ({self.in_a_row} in a row, limit {self.limit})"
        )

    @property
    def diverged(self) -> bool:
        return self.in_a_row >= self.limit

    def error(self, step: int) -> TrainingDiverged:
        last_good = checkpoint_files.latest_checkpoint(self.output_dir)
        kept = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint was written yet"
        return TrainingDiverged(
            f"training diverged: {self.limit} steps in a row had a non-finite loss or gradient norm "
            f"(last at step {step}); {kept}. Try a lower --lr, a --grad_clip, more --warmup_steps, "
            "or --mixed_precision no"
        )

    def state_dict(self) -> dict[str, Any]:
        return {"nonfinite_total": self.total, "nonfinite_in_a_row": self.in_a_row, "scaler_skips": self.scaler_skips}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total = int(state["nonfinite_total"])
        self.in_a_row = int(state["nonfinite_in_a_row"])
        self.scaler_skips = int(state.get("scaler_skips", 0))  # absent from checkpoints before it


class BatchNormGuard:
    """A skipped step must not leave NaN BatchNorm statistics behind: :meth:`keep` before the step's
    forward passes, :meth:`put_back` when it is skipped (one fused copy each; nothing for GroupNorm)."""

    def __init__(self, network: nn.Module) -> None:
        self.buffers = batch_norm_buffers(network)
        self.kept = [buffer.clone() for buffer in self.buffers]

    def keep(self) -> None:
        if self.buffers:
            torch._foreach_copy_(self.kept, self.buffers)

    def put_back(self) -> None:
        if self.buffers:
            torch._foreach_copy_(self.buffers, self.kept)


def batch_norm_buffers(network: nn.Module) -> list[torch.Tensor]:
    """The BatchNorm running statistics and counters: the only buffers a training step changes (the
    position code and time embedding are constant buffers). Empty for GroupNorm networks."""
    norms = [m for m in network.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    return [buffer for module in norms for buffer in module.buffers()]


# ------------------------------------------------------------------------- periodic work


class Validator:
    """The validation loss (:mod:`unet1d.diffusion.validation`) every ``train.eval_every`` steps.

    Each rank scores every ``world_size``-th held-out pose (of at most ``train.val_max_poses``) with its own
    fixed draws, under the run's autocast, and the sums are added across ranks. Remembers the last step it
    validated and its losses, in checkpoints too: a run resumed at that step neither validates it again nor
    logs it twice (W&B drops a step it has passed; TensorBoard showed two points).
    """

    newer_than_format = True  # checkpoints before it hold no state of it: they start with none

    def __init__(self, accelerator: Accelerator, poses: torch.Tensor, schedule: NoiseSchedule, config: Config) -> None:
        self.accelerator = accelerator
        rank, world = accelerator.process_index, accelerator.num_processes
        poses = validation_subset(poses, config.train.val_max_poses)  # the same subset `unet1d eval` scores
        self.poses, self.held_out = poses[rank::world], len(poses)
        self.schedule, self.prediction = schedule, config.diffusion.prediction
        self.seed = validation_seed(config.train.seed, rank)
        self.every = Every(config.train.eval_every)
        self.last: dict[str, float] = {}
        self.last_step: int | None = None

    def due(self, step: int) -> bool:
        return self.every.due(step)

    def loss(self, network: nn.Module) -> float:
        """Collective: every rank calls it."""
        sums = validation_sums(
            network, self.schedule, self.poses, prediction=self.prediction, seed=self.seed,
            autocast=self.accelerator.autocast,
        )  # fmt: skip
        if self.accelerator.num_processes > 1:
            sums = self.accelerator.reduce(sums, "sum")
        return loss_from_sums(sums)

    def validate(self, networks: Mapping[str, nn.Module], step: int) -> dict[str, float]:
        """``{metric: loss}`` of each named network at ``step``; empty when nothing is held out."""
        if self.held_out == 0:  # val_fraction 0
            return {}
        self.last = {name: self.loss(network) for name, network in networks.items()}
        self.last_step = step
        return dict(self.last)

    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "last": dict(self.last)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_step = state.get("last_step")
        self.last = {name: float(value) for name, value in state.get("last", {}).items()}


class Checkpointer:
    """Saves the run's table of state every ``train.checkpoint_every`` steps (keeping the last
    ``train.keep_checkpoints``) and restores it; knows the checkpoint the run last wrote or resumed."""

    def __init__(self, accelerator: Accelerator, output_dir: Path, config: Config, stats: NormStats) -> None:
        self.accelerator, self.output_dir, self.config, self.stats = accelerator, output_dir, config, stats
        self.every = Every(config.train.checkpoint_every)
        self.path: Path | None = None
        self.saved_step: int | None = None

    def due(self, step: int) -> bool:
        return self.every.due(step)

    def save(self, step: int, components: dict[str, checkpoints.Stateful]) -> Path:
        """Collective: every rank calls it."""
        self.path = checkpoints.save_checkpoint(
            self.accelerator, self.output_dir, step=step, components=components, config=self.config,
            stats=self.stats, keep=self.config.train.keep_checkpoints,
        )  # fmt: skip
        self.saved_step = step
        return self.path

    def restore(self, checkpoint: Path, components: dict[str, checkpoints.Stateful]) -> None:
        """The table from ``checkpoint``. One of another run's folder (``--resume PATH`` with another output_dir)
        is not this run's: the run saves its own, at the end at the latest, so its folder holds what it reports."""
        step = checkpoints.restore_checkpoint(self.accelerator, checkpoint, components)
        own = checkpoint_files.is_run_checkpoint(checkpoint, self.output_dir)
        self.saved_step, self.path = (step, checkpoint) if own else (None, None)

    def model_size_mb(self) -> float | None:
        """Size of the last checkpoint's raw weights."""
        return (self.path / checkpoint_files.MODEL_FILE).stat().st_size / 2**20 if self.path is not None else None

    def eval_files(self) -> list[str]:
        """The files of the last checkpoint evaluation reads (what W&B keeps of it)."""
        return [name for name in checkpoint_files.EVAL_FILES if self.path is not None and (self.path / name).is_file()]


# ---------------------------------------------------------------------------------- probe


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
