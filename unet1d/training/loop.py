"""The training loop: :meth:`Trainer.run` reads top to bottom; the components sit beside it.

The trainer is handed its components (:mod:`unet1d.training.components`), each owning its state
and its cadence: :meth:`Trainer.state_components` is the one table a checkpoint holds and restore
walks (the step and the EMA included), and each periodic component says when it is ``due``. The
quality probe is handed in by the command that builds the run (``probe=``), so this package
imports nothing of ``unet1d.evaluation``. :meth:`Trainer.train_until` is the loop without its
ending: the public way to drive it a number of steps at a time (the benchmark does).

Under ``accelerate launch`` (or ``torchrun``) every rank runs this same code on its own shard
of each global batch; Accelerate averages gradients. Only the main process logs, prints and
writes files other than Accelerate's own state. A step is one optimiser update over
``grad_accum_steps`` micro-batches; ``step`` counts steps taken (skipped ones included).
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import InitProcessGroupKwargs, TorchDynamoPlugin, set_seed

from unet1d import notices
from unet1d.config import Config
from unet1d.data import DeviceBatches, load_pose_data
from unet1d.data.representation import network_config
from unet1d.diffusion import EMA, NoiseSchedule, diffusion_loss
from unet1d.errors import UserError
from unet1d.metric_registry import VAL_LOSS, VAL_LOSS_EMA, evaluated_val_loss
from unet1d.model import UNet1D, count_parameters
from unet1d.precision import precision_label, resolve_precision, uses_cuda
from unet1d.store import checkpoint_files, checkpoints, rundir
from unet1d.store.summary import TrainResult
from unet1d.training.components import (
    Arithmetic,
    BatchNormGuard,
    Checkpointer,
    EMAState,
    LoopCounters,
    NoiseGenerator,
    NonFiniteGuard,
    ProbeFactory,
    StepOutcome,
    TrainingState,
    Validator,
)
from unet1d.training.console import Progress, warn
from unet1d.training.launch import apply_threads, launch_shortfall, with_launched_world
from unet1d.training.lock import hold_run_dir
from unet1d.training.metrics import StepMetrics, peak_memory_mb
from unet1d.training.optimization import build_optimizer, extension_note, schedule_concerns
from unet1d.training.signals import Interrupted, StopSignals, signals_raise
from unet1d.training.tracking import Tracking
from unet1d.wandb_access import resolve_run_id


def never() -> bool:
    return False


def train(config: Config, probe: ProbeFactory | None = None) -> TrainResult:
    """Train ``config``'s run to ``train.max_steps``, or until SIGTERM/SIGINT (then ``exit_code`` != 0).

    ``probe`` builds the quality probe (``unet1d train`` passes
    :class:`unet1d.evaluation.probe.QualityProbe`); without one there are no ``quality/*`` scores
    and no final evaluation. Resuming a run that already reached max_steps changes nothing and
    returns its summary.
    """
    shortfall = launch_shortfall()  # the CLI checks first; a library caller gets the same refusal
    if shortfall:
        raise UserError(shortfall)
    with hold_run_dir(Path(config.train.output_dir)):  # one writer per run folder, before anything reads it
        finished = rundir.finished_run(config)
        if finished is not None:
            return finished
        trainer = Trainer(config, probe)
        try:
            return trainer.run()
        finally:
            trainer.close()


class Trainer:
    """Everything one run holds; built from the config, restored from a checkpoint when resuming."""

    def __init__(self, config: Config, probe: ProbeFactory | None = None) -> None:
        self.config, train_cfg = config, config.train
        use_cpu = resolve_cpu(config)
        self.precision = resolve_precision(train_cfg.mixed_precision, "cpu" if use_cpu else "cuda")
        self.threads = apply_threads(config.train.threads)
        self.plan = rundir.plan_run(config)  # read-only: refuses on every rank alike
        self.config = config = with_launched_world(config)  # what it stores: `unet1d train --resume` relaunches it
        resume_from = self.plan.resume_from
        own = resume_from is not None and checkpoint_files.is_run_checkpoint(resume_from, self.plan.output_dir)
        self.forked = resume_from is not None and not own  # a new run from another's checkpoint: own dashboards
        resumed = checkpoints.stored_json_state(resume_from) if own else {}  # a fork gets a W&B run of its own
        self.run_id = resolve_run_id(resumed.get("counters", {}).get("wandb_run_id"))  # before W&B starts
        self.tracking = Tracking(config, run_id=self.run_id, resume_step=self.plan.resume_step)
        self.accelerator = Accelerator(
            cpu=use_cpu,
            mixed_precision=self.precision,
            step_scheduler_with_optimizer=False,  # we step it once per optimiser step, whatever the world size
            log_with=self.tracking.trackers or None,  # none: Accelerate warns of an empty list
            kwargs_handlers=[InitProcessGroupKwargs(timeout=timedelta(seconds=config.launch.collective_timeout_s))],
            **compile_options(config),
        )
        self.exit_code = 1  # until run() says otherwise: an exception is a failed run
        try:
            self._build(probe)
        except BaseException:
            self.close()
            raise

    def _build(self, probe: ProbeFactory | None) -> None:
        """Wiring: each component built from the config, then the table restored when resuming."""
        config, accelerator = self.config, self.accelerator
        self.device, self.is_main = accelerator.device, accelerator.is_main_process
        if self.is_main and self.plan.wipe:
            rundir.wipe_run(self.plan.output_dir)
        set_aside = rundir.set_aside(self.plan) if self.is_main else None
        accelerator.wait_for_everyone()
        set_seed(config.train.seed)  # identical initial weights on every rank
        # data.data_seed, not train.seed: runs that differ in seed still see the same poses.
        with notices.silenced(not self.is_main):  # the caches' lines, said by the main process for every rank
            splits = load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed)
        for concern in splits.report.concerns() if self.is_main else []:
            warn(f"data: {concern}")  # what `unet1d data check` would flag
        for concern in schedule_concerns(config) if self.is_main else []:
            warn(concern)
        self.stats = splits.stats
        rank, world = accelerator.process_index, accelerator.num_processes
        train_poses = torch.as_tensor(self.stats.normalize(splits.train), device=self.device)
        self.batches = DeviceBatches(train_poses, micro_batch_size(config), seed=config.train.seed, rank=rank,
                                     world_size=world)  # fmt: skip
        network = UNet1D.from_config(network_config(config))  # data.representation sets its length
        self.num_parameters = count_parameters(network)
        ema = EMA(network, config.optim.ema_decay, warmup=config.optim.ema_warmup) if config.optim.ema else None
        self.training = TrainingState(
            accelerator, network, *build_optimizer(network, config.optim, config.train.max_steps)
        )
        self.ema = EMAState(ema.to(self.device)) if ema is not None else None
        self.schedule = NoiseSchedule.from_config(config.diffusion)
        self.noise = NoiseGenerator(self.device, rank_seed(config.train.seed, accelerator))
        self.counters = LoopCounters(self.run_id)
        self.arithmetic = Arithmetic(self.threads, self.precision, self.device)
        self.nonfinite = NonFiniteGuard(config.train.max_nonfinite_steps, self.plan.output_dir)
        self.batch_norm = BatchNormGuard(self.network)
        val_poses = torch.as_tensor(self.stats.normalize(splits.val), device=self.device)
        self.validator = Validator(accelerator, val_poses, self.schedule, config)
        self.checkpointer = Checkpointer(accelerator, self.plan.output_dir, config, self.stats)
        self.probe = probe(config, splits, self.stats, self.device) if probe is not None and self.is_main else None
        self.metrics = StepMetrics(accelerator, self.network, self.schedule.num_timesteps, config)
        if self.plan.resume_from is not None:
            self.checkpointer.restore(self.plan.resume_from, self.state_components(dashboards=not self.forked))
        if self.is_main:
            damage = rundir.run_config_damage(self.plan.output_dir) if self.plan.resume_from is not None else None
            if damage is not None and not self.forked:
                warn(f"{damage}; it is written again from the run's checkpoint")
            rundir.write_run_config(self.plan.output_dir, config)
        self.tracking.start(accelerator, config.flat())
        self.progress = Progress(
            config.logging.progress, total_steps=config.train.max_steps, start_step=self.step, enabled=self.is_main
        )
        threads = f"{self.threads} CPU thread{'s' * (self.threads != 1)}"
        self.progress.note(
            f"training {config.model.mid_structure}-middle UNet1D ({self.num_parameters:,} parameters) on "
            f"world size {world} ({world} x {self.device.type}, {threads} each), "
            f"{self.metrics.global_batch} poses a step, {precision_label(self.precision)}, into {self.plan.output_dir}"
        )
        if self.plan.resume_from is not None:
            self.progress.note(f"resumed from {self.plan.resume_from} at step {self.step}")
            arithmetic = self.arithmetic.warning()
            if arithmetic is not None and self.is_main:
                warn(arithmetic)
            stored = checkpoints.read_config(self.plan.resume_from).train.max_steps
            note = extension_note(config.optim, self.step, stored, config.train.max_steps)
            if note is not None:
                self.progress.note(note)
                if self.counters.extended_from is None:  # the first length: what compare says it was
                    self.counters.extended_from = stored
        if set_aside is not None:
            self.progress.note(set_aside)

    def state_components(self, *, dashboards: bool = True) -> dict[str, checkpoints.Stateful]:
        """Every piece of state a checkpoint holds, by name: the one table save and restore both walk, in
        this order (:mod:`unet1d.store.checkpoints` says where each part goes). ``dashboards=False`` leaves out
        what describes the run's own dashboards (the last validation logged, the best checkpoint logged): a
        fork restores without them, and logs its first validation and best checkpoint to its own."""
        table: dict[str, checkpoints.Stateful] = {"model": self.training}
        if self.ema is not None:
            table["ema"] = self.ema
        table |= {"counters": self.counters, "nonfinite": self.nonfinite, "data": self.batches, "noise": self.noise,
                  "timestep_losses": self.metrics.timestep_losses, "arithmetic": self.arithmetic}  # fmt: skip
        return table | ({"validation": self.validator, "tracking": self.tracking} if dashboards else {})

    @property
    def step(self) -> int:
        """Optimiser steps taken (skipped ones included): the counters' own."""
        return self.counters.step

    @property
    def network(self) -> torch.nn.Module:
        """The bare network being trained (not the EMA; no DDP or compile wrapper)."""
        return self.training.network

    # ------------------------------------------------------------------------------ the loop

    def run(self) -> TrainResult:
        """Train to ``train.max_steps`` (or a stop signal), then validate and checkpoint the last step."""
        with StopSignals() as signals:
            if self.train_until(self.config.train.max_steps, stop=lambda: signals.requested):
                return self.preempt(signals)
            if self.validator.last_step != self.step:
                self.validate()
            self.save()
            if self.any_rank(signals.requested):  # came with the last step or its saving: not the evaluation's
                return self.preempt(signals)
        return self.finish()

    def train_until(self, last_step: int, *, stop: Callable[[], bool] = never) -> bool:
        """Steps up to ``last_step``, each component's periodic work as it falls due; True when a stop was
        asked for (``stop()``, polled before each step, on any rank). The loop without its ending."""
        started = self.counters.begin_session(self.batches.epoch)
        if started and (self.step == 0 or self.forked):  # a resumed run logged it already
            self.tracking.log({"train/num_parameters": self.num_parameters}, step=self.step)
        # a stop ended the session this checkpoint came from before them; a fork's own dashboards start where it does
        if self.counters.periodic_pending or (started and self.forked):
            self.periodic_work()
        while self.step < last_step:
            tick = time.perf_counter()
            outcome = self.train_step(stop=stop())
            self.counters.step += 1
            self.counters.window.add(outcome, time.perf_counter() - tick)
            self.check_finite(outcome)
            self.log_step(outcome)
            if self.nonfinite.diverged:  # after its step is logged: the dashboards show the step that ended it
                raise self.nonfinite.error(self.step)
            if outcome.stop:  # the step's validation and probe wait for the resumed run: a stop has seconds to save
                self.counters.periodic_pending = True
                return True
            self.periodic_work()
        return False

    def any_rank(self, flag: bool) -> bool:
        """Whether ``flag`` holds on any rank (collective: every rank asks, so all go the same way)."""
        if self.accelerator.num_processes == 1:
            return flag
        votes = self.accelerator.reduce(torch.tensor(float(flag), device=self.device), reduction="sum")
        return bool(votes.item() > 0)

    def periodic_work(self) -> None:
        """Whatever of validation, the quality probe and a checkpoint is due at this step, in that order."""
        if self.validator.due(self.step):
            self.validate()
        if self.probe is not None and self.probe.due(self.step):
            self.tracking.log(self.probe.probe(self.sampling_network()), step=self.step)
        if self.checkpointer.due(self.step):
            self.save()
        self.counters.periodic_pending = False

    def train_step(self, *, stop: bool) -> StepOutcome:
        """One optimiser step; the non-finite guard skips the update on every rank alike."""
        config, accelerator, training = self.config, self.accelerator, self.training
        accum = config.optim.grad_accum_steps
        loss_sum = torch.zeros((), device=self.device)
        self.batch_norm.keep()
        outputs = []
        for micro in range(accum):
            x0 = self.batches.next_batch()
            syncing = micro == accum - 1  # DDP all-reduces gradients on the last micro-batch only
            with nullcontext() if syncing else accelerator.no_sync(training.model):
                out = diffusion_loss(
                    training.model, self.schedule, x0, prediction=config.diffusion.prediction,
                    min_snr_gamma=config.diffusion.min_snr_gamma, generator=self.noise.generator,
                )  # fmt: skip
                accelerator.backward(out.loss / accum)
            loss_sum += out.loss.detach()
            outputs.append(out)
        block_norms = self.metrics.block_norms() if self.metrics.block_norms_due(self.step + 1) else {}
        grad_norm = accelerator.clip_grad_norm_(training.model.parameters(), config.optim.grad_clip or math.inf)
        # The step's one host sync: whether to apply the update is a host decision, as in GradScaler.
        # It also brings the loss and the pre-clipping norm for free, so both are logged every step.
        stop_vote = loss_sum.new_full((), float(stop))  # filled on the device: no copy from the host
        flags = torch.stack([loss_sum / accum, grad_norm.float().reshape(()), stop_vote])
        if accelerator.num_processes > 1:
            flags = accelerator.reduce(flags, reduction="mean")  # NaN anywhere -> NaN everywhere
        loss, norm, stop_votes = flags.tolist()
        finite = math.isfinite(loss) and math.isfinite(norm)
        lr = training.lr
        if finite or accelerator.scaler is not None:  # fp16: the scaler skips non-finite steps and lowers its scale
            training.optimizer.step()
        if finite and self.ema is not None:
            self.ema.update(training.network)
        for out in outputs if finite else ():
            self.metrics.timestep_losses.add(out.per_sample, out.t)
        if not finite:
            self.batch_norm.put_back()
        training.optimizer.zero_grad(set_to_none=True)
        training.scheduler.step()
        scaler_skip = not finite and accelerator.scaler is not None and math.isfinite(loss)
        return StepOutcome(loss, norm, lr, finite, stop_votes > 0, block_norms, scaler_skip)

    # ------------------------------------------------------------------------ around a step

    def check_finite(self, outcome: StepOutcome) -> None:
        """Count the step with the non-finite guard (too many skipped in a row end the run, once it is logged)."""
        note = self.nonfinite.record(outcome, self.step)
        if note is not None:
            self.progress.note(note)

    def log_step(self, outcome: StepOutcome) -> None:
        """Every step's norms; the window's metrics when logging is due and at the last step (collective); the
        epoch's time."""
        metrics = {"train/grad_norm": outcome.grad_norm, **outcome.block_norms}
        if self.metrics.window_due(self.step):  # collective; a new window begins
            window = self.counters.new_window()
            metrics |= self.metrics.window_metrics(
                window, lr=outcome.lr, epoch=self.batches.epoch, nonfinite=self.nonfinite
            )
            self.progress.report(self.step, metrics)
        epoch_time = self.counters.epoch_time_s(self.batches.epoch)
        if epoch_time is not None:
            metrics["train/epoch_time_s"] = epoch_time
        if self.nonfinite.diverged:  # the run ends here: its count, whether or not this is a log step
            metrics["train/nonfinite_steps"] = float(self.nonfinite.total)
        self.tracking.log(metrics, step=self.step)
        self.progress.advance(self.step)

    def validate(self) -> None:
        networks = {VAL_LOSS: self.network}
        if self.ema is not None:
            networks[VAL_LOSS_EMA] = self.ema.module
        metrics = self.validator.validate(networks, self.step)
        if metrics:
            self.tracking.log(metrics, step=self.step)
            self.progress.note(f"step {self.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))

    def sampling_network(self) -> torch.nn.Module:
        """The weights samples come from: the EMA's when there is one."""
        return self.ema.module if self.ema is not None else self.network

    def save(self) -> None:
        """Checkpoint this step, once: the end, a stop and the cadence may all ask for the same step (collective)."""
        if self.checkpointer.saved_step == self.step:
            return
        best = self.tracking.rank_checkpoint(self.step)  # before the save: the checkpoint keeps the best so far
        self.counters.peak_memory_mb = max(self.counters.peak_memory_mb, peak_memory_mb(self.device))  # and the peak
        path = self.checkpointer.save(self.step, self.state_components())
        if self.is_main:
            self.tracking.log({"train/model_size_mb": self.checkpointer.model_size_mb()}, step=self.step)
            self.tracking.log_checkpoint(path, self.step, self.checkpointer.eval_files(), best=best)

    # ------------------------------------------------------------------------------- ending

    def final_evaluation(self) -> dict[str, float] | None:
        """The full evaluation of the final weights (main process): eval/step-N.json and .png, eval/* metrics."""
        checkpoint = self.checkpointer.path
        if self.probe is None or checkpoint is None:
            return None
        val_loss = self.validator.last.get(evaluated_val_loss(self.ema is not None))
        final = self.probe.final(self.sampling_network(), checkpoint, self.step, val_loss)
        if final is None:
            return None
        scores = {f"eval/{name}": value for name, value in final.scores.items()}
        self.tracking.log(scores, step=self.step)
        self.tracking.summarise(scores)
        self.tracking.log_image("eval/poses", final.figure, step=self.step)
        self.progress.note(final.note)
        return dict(final.scores)

    def preempt(self, signals: StopSignals) -> TrainResult:
        """Stop requested (on any rank): checkpoint, tell W&B, and report a non-zero exit code."""
        reason = signals.name or "a stop signal on another rank"
        self.progress.note(f"{reason}: saving a checkpoint at step {self.step} and stopping")
        self.save()
        self.tracking.mark_preempting()
        return self.finish(exit_code=signals.exit_code if signals.requested else 128 + signal.SIGTERM)

    def finish(self, exit_code: int = 0) -> TrainResult:
        counters, quality = self.counters, None
        # training time and memory, read before the final evaluation: its sampling and scoring would count as
        # training, and `compare` would set runs apart by their evaluation's settings
        run_time, session_time = counters.run_time_s(), counters.session_s()  # run: all sessions
        peak_memory = max(peak_memory_mb(self.device), counters.peak_memory_mb)  # every session's, not this one's
        self.leave_process_group()
        if exit_code == 0:
            try:  # minutes of sampling and scoring that poll for no stop: a signal ends them, not the run's record
                with signals_raise():
                    quality = self.final_evaluation()
            except Interrupted as stop:
                self.progress.note(
                    f"{stop} during the final evaluation: stopping; step {self.step}'s checkpoint is saved and "
                    "--resume auto evaluates it"
                )
                self.tracking.mark_preempting()
                exit_code = stop.exit_code
            except OSError as err:  # a full disk: one line, not the writer's traceback
                raise self.unwritten("the final evaluation's report", err) from None
        checkpoint = self.checkpointer.path
        result = TrainResult(
            output_dir=str(self.plan.output_dir),
            final_step=self.step,
            train_loss=counters.recent_train_loss(),
            val_loss=self.validator.last.get(VAL_LOSS),
            val_loss_ema=self.validator.last.get(VAL_LOSS_EMA),
            steps_per_s=self.step / run_time if run_time > 0 else 0.0,
            samples_per_s=self.step * self.metrics.global_batch / run_time if run_time > 0 else 0.0,
            peak_memory_mb=peak_memory,
            num_parameters=self.num_parameters,
            model_size_mb=self.checkpointer.model_size_mb() if self.is_main else None,
            checkpoint=str(checkpoint) if checkpoint else None,
            nonfinite_steps=self.nonfinite.total,
            wall_time_s=run_time,
            session_steps=self.step - counters.session_start_step,
            session_time_s=session_time,
            preempted=exit_code != 0,
            exit_code=exit_code,
            quality=quality,
            compute_dtype=precision_label(self.precision),
            extended_from=counters.extended_from,
        )
        if self.is_main and exit_code == 0:
            try:
                result.write(self.plan.output_dir / rundir.SUMMARY_FILE)
            except OSError as err:
                raise self.unwritten(rundir.SUMMARY_FILE, err) from None
            self.tracking.summarise({f"run/{name}": getattr(result, name) for name in RUN_SUMMARY})
            loss = result.train_loss if result.train_loss is not None else math.nan
            self.progress.note(
                f"done: step {self.step}, train loss {loss:.4f}, {result.steps_per_s:.1f} steps/s; "
                f"checkpoint {result.checkpoint}"
            )
        self.exit_code = exit_code
        return result

    def unwritten(self, what: str, err: OSError) -> UserError:
        """A file of the run's end that could not be written, said in one line: its last checkpoint is whole."""
        return UserError(
            f"cannot write {what} in {self.plan.output_dir} ({err.strerror or err}); step {self.step}'s checkpoint "
            "is saved: free the space, then the same command with --resume auto evaluates it and writes the summary"
        )

    def leave_process_group(self) -> None:
        """Every rank leaves the process group together, after the last collective: the final evaluation is the
        main process's alone, and a rank that tore its group down while the main one still evaluated aborted
        at exit now and then ("terminate called without an active exception"; torchrun then stopped the run). The
        abort still came now and then after this, at the interpreter's teardown: `unet1d train` ends the other
        ranks without it (:func:`unet1d.training.launch.end_other_rank`)."""
        if self.accelerator.num_processes > 1 and torch.distributed.is_initialized():
            self.accelerator.wait_for_everyone()
            self.accelerator.state.destroy_process_group()

    def close(self) -> None:
        """Close trackers (W&B gets the exit code), stop the bar, and release Accelerate's state."""
        progress = getattr(self, "progress", None)
        if progress is not None:
            progress.close()
        if self.tracking.started:
            self.tracking.finish(exit_code=self.exit_code)
        distributed = self.accelerator.num_processes > 1
        self.accelerator.end_training()
        if not distributed:
            AcceleratorState._reset_state(reset_partial_state=True)  # a later run in this process may differ


# summary.json's whole-run figures, also in W&B's run summary as run/<name> (its train/ values are a window's)
RUN_SUMMARY = ("wall_time_s", "steps_per_s", "samples_per_s", "peak_memory_mb", "final_step")


def resolve_cpu(config: Config) -> bool:
    """Whether this run uses the CPU; refuses settings the hardware cannot honour."""
    device, precision = config.train.device, config.train.mixed_precision
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device=cuda but no CUDA device is available; use --device auto or cpu")
    use_cpu = not uses_cuda(device)
    if use_cpu and precision == "fp16":
        raise UserError("mixed_precision=fp16 needs a GPU; on the CPU use --mixed_precision bf16 (or no)")
    return use_cpu


def compile_options(config: Config) -> dict[str, Any]:
    """Accelerate's compile arguments: inductor with ``train.compile_mode`` when ``train.compile``, else none.

    Checkpoints hold the unwrapped network, so their keys and resume do not depend on the mode.
    """
    if not config.train.compile:
        return {"dynamo_backend": "no"}
    return {"dynamo_plugin": TorchDynamoPlugin(backend="inductor", mode=config.train.compile_mode)}


def micro_batch_size(config: Config) -> int:
    """Poses per micro-batch: batch_size (per process, per optimiser step) split over grad_accum_steps."""
    batch, accum = config.train.batch_size, config.optim.grad_accum_steps
    if batch % accum:
        raise UserError(f"train.batch_size={batch} must be a multiple of optim.grad_accum_steps={accum}")
    return batch // accum


def rank_seed(seed: int, accelerator: Accelerator) -> int:
    """Each rank's own seed for timesteps and noise (ranks must not draw the same noise)."""
    state = np.random.SeedSequence([seed, accelerator.process_index, 1]).generate_state(1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))
