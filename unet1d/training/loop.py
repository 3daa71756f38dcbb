"""The training loop: :meth:`Trainer.run` reads top to bottom; the components sit beside it.

The components own their state and cadence (:mod:`unet1d.training.components`): a checkpoint
gathers each one's ``state_dict`` from :meth:`Trainer.state_components`, which restore walks too,
and each periodic one says when it is ``due``. The quality probe is handed in by the command
that builds the run (``probe=``), so this package imports nothing of ``unet1d.evaluation``.

Under ``accelerate launch`` (or ``torchrun``) every rank runs this same code on its own shard
of each global batch; Accelerate averages gradients. Only the main process logs, prints and
writes files other than Accelerate's own state. A step is one optimiser update over
``grad_accum_steps`` micro-batches; ``step`` counts steps taken (skipped ones included).
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import InitProcessGroupKwargs, TorchDynamoPlugin, set_seed

from unet1d.cadence import Every
from unet1d.config import Config
from unet1d.data import DeviceBatches, load_pose_data
from unet1d.data.representation import network_config
from unet1d.diffusion import EMA, NoiseSchedule, diffusion_loss, validation_loss
from unet1d.errors import UserError
from unet1d.model import UNet1D, count_parameters
from unet1d.precision import precision_label, resolve_precision
from unet1d.store import checkpoints, rundir
from unet1d.store.summary import TrainResult
from unet1d.training.components import LoopCounters, ProbeFactory, StepOutcome, Window
from unet1d.training.console import Progress
from unet1d.training.launch import apply_threads, launch_shortfall
from unet1d.training.lock import hold_run_dir
from unet1d.training.metrics import TimestepLosses, block_grad_norms, parameter_norm, peak_memory_mb
from unet1d.training.optimization import build_optimizer
from unet1d.training.signals import StopSignals
from unet1d.training.tracking import Tracking
from unet1d.wandb_access import resolve_run_id

TIMESTEP_BUCKETS = 4


class TrainingDiverged(UserError):
    """Too many non-finite steps in a row: the run cannot go on as configured."""


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
        resume_loop = checkpoints.read_marker(self.plan.resume_from)["loop"] if self.plan.resume_from else {}
        self.run_id = resolve_run_id(resume_loop.get("wandb_run_id"))
        self.tracking = Tracking(config, run_id=self.run_id, resume_step=self.plan.resume_step)
        self.accelerator = Accelerator(
            cpu=use_cpu,
            mixed_precision=self.precision,
            step_scheduler_with_optimizer=False,  # we step it once per optimiser step, whatever the world size
            log_with=self.tracking.trackers,
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
        config, accelerator = self.config, self.accelerator
        self.device, self.is_main = accelerator.device, accelerator.is_main_process
        if self.is_main and self.plan.wipe:
            rundir.wipe_run(self.plan.output_dir)
        accelerator.wait_for_everyone()
        set_seed(config.train.seed)  # identical initial weights on every rank
        # data.data_seed, not train.seed: runs that differ in seed still see the same poses.
        splits = load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed)
        self.stats = splits.stats
        self.val = torch.as_tensor(self.stats.normalize(splits.val), device=self.device)
        micro_batch = micro_batch_size(config)
        train_poses = torch.as_tensor(self.stats.normalize(splits.train), device=self.device)
        self.batches = DeviceBatches(
            train_poses, micro_batch, seed=config.train.seed, rank=accelerator.process_index,
            world_size=accelerator.num_processes,
        )  # fmt: skip
        network = UNet1D.from_config(network_config(config))  # data.representation sets its length
        self.num_parameters = count_parameters(network)
        self.ema = EMA(network, config.optim.ema_decay, warmup=config.optim.ema_warmup) if config.optim.ema else None
        optimizer, scheduler = build_optimizer(network, config.optim, config.train.max_steps)
        self.model, self.optimizer, self.scheduler = accelerator.prepare(network, optimizer, scheduler)
        self.network = accelerator.unwrap_model(self.model, keep_torch_compile=False)
        if self.ema is not None:
            self.ema.to(self.device)
        self.blocks = self.network.block_groups()
        self.probe = probe(config, splits, self.stats, self.device) if probe is not None and self.is_main else None
        self.buffers = batch_norm_buffers(self.network)  # running statistics a skipped step must not change
        self.buffers_before = [b.clone() for b in self.buffers]
        self.schedule = NoiseSchedule.from_config(config.diffusion)
        self.generator = torch.Generator(device=self.device).manual_seed(rank_seed(config.train.seed, accelerator))
        self.timestep_losses = TimestepLosses(self.schedule.num_timesteps, TIMESTEP_BUCKETS, self.device)
        self.global_batch = config.train.batch_size * accelerator.num_processes
        self.every = {
            "log": Every(config.logging.log_every), "grad_norms": Every(config.logging.grad_norm_every),
            "validate": Every(config.train.eval_every), "checkpoint": Every(config.train.checkpoint_every),
        }  # fmt: skip
        self.step = self.saved_step = 0
        self.counters = LoopCounters(self.run_id)
        self.last_val: dict[str, float] = {}
        self.model_size_mb: float | None = None
        self.checkpoint_path: Path | None = None
        if self.plan.resume_from is not None:
            self._restore(self.plan.resume_from)
        if self.is_main:
            rundir.write_run_config(self.plan.output_dir, config)
        self.tracking.start(accelerator, config.flat())
        self.progress = Progress(
            config.logging.progress, total_steps=config.train.max_steps, start_step=self.step, enabled=self.is_main
        )
        world = accelerator.num_processes
        self.progress.note(
            f"training {config.model.mid_structure}-middle UNet1D ({self.num_parameters:,} parameters) on "
            f"world size {world} ({world} x {self.device.type}, {self.threads} CPU threads each), "
            f"{self.global_batch} poses a step, {precision_label(self.precision)}, into {self.plan.output_dir}"
        )
        if self.plan.resume_from is not None:
            self.progress.note(f"resumed from {self.plan.resume_from} at step {self.step}")

    # ------------------------------------------------------------------------------ the loop

    def run(self) -> TrainResult:
        self.tracking.log({"train/num_parameters": self.num_parameters}, step=self.step)
        self.counters.session_started, self.start_step = time.perf_counter(), self.step
        epoch, epoch_started = self.batches.epoch, time.perf_counter()
        with StopSignals() as signals:
            while self.step < self.config.train.max_steps:
                tick = time.perf_counter()
                outcome = self.train_step(stop=signals.requested)
                self.step += 1
                self.counters.window.add(outcome, time.perf_counter() - tick)
                self.count_nonfinite(outcome)
                metrics = {"train/grad_norm": outcome.grad_norm, **outcome.block_norms}
                if self.every["log"].due(self.step):
                    metrics.update(self.window_metrics(outcome))  # and starts a new window
                    self.progress.report(self.step, metrics)
                if self.batches.epoch != epoch:
                    metrics.update({"train/epoch_time_s": time.perf_counter() - epoch_started})
                    epoch, epoch_started = self.batches.epoch, time.perf_counter()
                self.tracking.log(metrics, step=self.step)
                self.progress.advance(self.step)
                if outcome.stop:
                    return self.preempt(signals)
                if self.every["validate"].due(self.step):
                    self.validate()
                if self.probe is not None and self.probe.due(self.step):
                    self.tracking.log(self.probe.probe(self.sampling_network()), step=self.step)
                if self.every["checkpoint"].due(self.step):
                    self.save()
        if self.last_val.get("step") != self.step:
            self.validate()
        if self.saved_step != self.step or self.checkpoint_path is None:
            self.save()
        return self.finish()

    def train_step(self, *, stop: bool) -> StepOutcome:
        """One optimiser step; the non-finite guard skips the update on every rank alike."""
        config, accelerator = self.config, self.accelerator
        accum = config.optim.grad_accum_steps
        loss_sum = torch.zeros((), device=self.device)
        if self.buffers:  # a skipped step must not leave NaN statistics behind (one fused copy)
            torch._foreach_copy_(self.buffers_before, self.buffers)
        outputs = []
        for micro in range(accum):
            x0 = self.batches.next_batch()
            syncing = micro == accum - 1  # DDP all-reduces gradients on the last micro-batch only
            with nullcontext() if syncing else accelerator.no_sync(self.model):
                out = diffusion_loss(
                    self.model, self.schedule, x0, prediction=config.diffusion.prediction,
                    min_snr_gamma=config.diffusion.min_snr_gamma, generator=self.generator,
                )  # fmt: skip
                accelerator.backward(out.loss / accum)
            loss_sum += out.loss.detach()
            outputs.append(out)
        block_norms = self.block_norms() if self.every["grad_norms"].due(self.step + 1) else {}
        grad_norm = accelerator.clip_grad_norm_(self.model.parameters(), config.optim.grad_clip or math.inf)
        # The step's one host sync: whether to apply the update is a host decision, as in GradScaler.
        # It also brings the loss and the pre-clipping norm for free, so both are logged every step.
        stop_vote = torch.tensor(float(stop), device=self.device)
        flags = torch.stack([loss_sum / accum, grad_norm.float().reshape(()), stop_vote])
        if accelerator.num_processes > 1:
            flags = accelerator.reduce(flags, reduction="mean")  # NaN anywhere -> NaN everywhere
        loss, norm, stop_votes = flags.tolist()
        finite = math.isfinite(loss) and math.isfinite(norm)
        lr = self.optimizer.param_groups[0]["lr"]
        if finite or accelerator.scaler is not None:  # fp16: the scaler skips non-finite steps and lowers its scale
            self.optimizer.step()
        if finite and self.ema is not None:
            self.ema.update(self.network)
        for out in outputs if finite else ():
            self.timestep_losses.add(out.per_sample, out.t)
        if self.buffers and not finite:
            torch._foreach_copy_(self.buffers, self.buffers_before)
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        return StepOutcome(loss, norm, lr, finite, stop_votes > 0, block_norms)

    # --------------------------------------------------------------------------- components

    def block_norms(self) -> dict[str, float]:
        """Pre-clipping gradient norm of each block (fp16 gradients are still scaled here)."""
        norms = block_grad_norms(self.blocks, self.device)
        if self.accelerator.scaler is not None:
            norms = norms / self.accelerator.scaler.get_scale()
        return {f"train/grad_norm/{name}": value for name, value in zip(self.blocks, norms.tolist(), strict=True)}

    def count_nonfinite(self, outcome: StepOutcome) -> None:
        counters = self.counters
        counters.count(outcome.finite)
        if outcome.finite:
            return
        limit = self.config.train.max_nonfinite_steps
        self.progress.note(
            f"step {self.step}: non-finite loss ({outcome.loss}) or gradient norm ({outcome.grad_norm}); "
            f"update skipped ({counters.nonfinite_in_a_row} in a row, limit {limit})"
        )
        if counters.nonfinite_in_a_row >= limit:
            self.tracking.log({"train/nonfinite_steps": counters.nonfinite_total}, step=self.step)
            last_good = checkpoints.latest_checkpoint(self.plan.output_dir)
            kept = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint was written yet"
            raise TrainingDiverged(
                f"training diverged: {limit} steps in a row had a non-finite loss or gradient norm "
                f"(last at step {self.step}); {kept}. Try a lower --lr, a --grad_clip, more --warmup_steps, "
                "or --mixed_precision no"
            )

    def window_metrics(self, outcome: StepOutcome) -> dict[str, float]:
        """The log-step metrics, then a new window. Collective (timestep losses are summed over ranks)."""
        window, self.counters.window = self.counters.window, Window()
        self.counters.last_train_loss = window.mean_loss
        bucket_totals = self.timestep_losses.state()
        if self.accelerator.num_processes > 1:
            bucket_totals = self.accelerator.reduce(bucket_totals, reduction="sum")
        return {
            "train/loss": window.mean_loss,
            "train/lr": outcome.lr,
            "train/samples_per_s": window.steps * self.global_batch / window.seconds,
            "train/step_time_s": window.seconds / window.steps,
            "train/param_norm": parameter_norm(self.network).item(),
            "train/peak_memory_mb": peak_memory_mb(self.device),
            "train/epoch": float(self.batches.epoch),
            "train/nonfinite_steps": float(self.counters.nonfinite_total),
            **self.timestep_losses.means(bucket_totals),
        }

    def validate(self) -> None:
        if len(self.val) == 0:  # val_fraction 0: nothing held out
            return
        args = (self.accelerator, self.network, self.schedule, self.val, self.config)
        metrics = {"val/loss": validation_loss(*args)}
        if self.ema is not None:
            metrics["val/loss_ema"] = validation_loss(self.accelerator, self.ema.module, *args[2:])
        self.last_val = {**metrics, "step": self.step}
        self.tracking.log(metrics, step=self.step)
        self.progress.note(f"step {self.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))

    def sampling_network(self) -> torch.nn.Module:
        """The weights samples come from: the EMA's when there is one."""
        return self.ema.module if self.ema is not None else self.network

    def final_evaluation(self) -> dict[str, float] | None:
        """The full evaluation of the final weights (main process): eval/step-N.json and .png, eval/* metrics."""
        if self.probe is None or self.checkpoint_path is None:
            return None
        val_loss = self.last_val.get("val/loss_ema" if self.ema is not None else "val/loss")
        final = self.probe.final(self.sampling_network(), self.checkpoint_path, self.step, val_loss)
        if final is None:
            return None
        self.tracking.log({f"eval/{name}": value for name, value in final.scores.items()}, step=self.step)
        self.tracking.log_image("eval/poses", final.figure, step=self.step)
        self.progress.note(final.note)
        return dict(final.scores)

    def state_components(self) -> dict[str, Any]:
        """Every component whose state a checkpoint holds besides Accelerate's own (network, optimiser, LR
        schedule, grad scaler, global RNGs) and the EMA's weights: save and restore both walk this one table.

        ``loop`` parts are JSON (``checkpoint.json``, the same on every rank; the counters sit at the top
        level of ``loop``, checkpoint format 1), ``rank`` parts this rank's generators (``rank-<r>.safetensors``).
        """
        return {"loop": {"data": self.batches, "": self.counters}, "rank": {"generator": self.generator}}

    def save(self) -> None:
        parts = self.state_components()
        loop_state: dict[str, Any] = {}
        for name, part in parts["loop"].items():
            loop_state.update(part.state_dict() if name == "" else {name: part.state_dict()})
        self.checkpoint_path = checkpoints.save_checkpoint(
            self.accelerator, self.plan.output_dir, step=self.step, model=self.network, ema=self.ema,
            config=self.config, stats=self.stats, loop_state=loop_state,
            rank_tensors={name: generator.get_state() for name, generator in parts["rank"].items()},
            keep=self.config.train.keep_checkpoints,
        )  # fmt: skip
        self.saved_step = self.step
        if self.is_main:
            self.model_size_mb = (self.checkpoint_path / checkpoints.MODEL_FILE).stat().st_size / 2**20
            self.tracking.log({"train/model_size_mb": self.model_size_mb}, step=self.step)
            self.tracking.log_checkpoint(self.checkpoint_path, self.step, self._eval_files())

    def _eval_files(self) -> list[str]:
        return [name for name in checkpoints.EVAL_FILES if (self.checkpoint_path / name).is_file()]

    def _restore(self, checkpoint: Path) -> None:
        restored = checkpoints.restore_checkpoint(self.accelerator, checkpoint, ema=self.ema)
        self.step = self.saved_step = restored.step
        self.checkpoint_path = checkpoint
        parts = self.state_components()
        for name, part in parts["loop"].items():
            part.load_state_dict(restored.loop if name == "" else restored.loop[name])
        for name, generator in parts["rank"].items():
            generator.set_state(restored.rank_tensors[name])

    # ------------------------------------------------------------------------------- ending

    def preempt(self, signals: StopSignals) -> TrainResult:
        """Stop requested (on any rank): checkpoint, tell W&B, and report a non-zero exit code."""
        reason = signals.name or "a stop signal on another rank"
        self.progress.note(f"{reason}: saving a checkpoint at step {self.step} and stopping")
        if self.saved_step != self.step:
            self.save()
        self.tracking.mark_preempting()
        return self.finish(exit_code=signals.exit_code if signals.requested else 128 + signal.SIGTERM)

    def finish(self, exit_code: int = 0) -> TrainResult:
        elapsed = time.perf_counter() - self.counters.session_started
        run_time = self.counters.run_time_s()  # all sessions; each earlier one up to its checkpoint
        result = TrainResult(
            output_dir=str(self.plan.output_dir),
            final_step=self.step,
            train_loss=self.counters.recent_train_loss(),
            val_loss=self.last_val.get("val/loss"),
            val_loss_ema=self.last_val.get("val/loss_ema"),
            steps_per_s=self.step / run_time if run_time > 0 else 0.0,
            samples_per_s=self.step * self.global_batch / run_time if run_time > 0 else 0.0,
            peak_memory_mb=peak_memory_mb(self.device),
            num_parameters=self.num_parameters,
            model_size_mb=self.model_size_mb,
            checkpoint=str(self.checkpoint_path) if self.checkpoint_path else None,
            nonfinite_steps=self.counters.nonfinite_total,
            wall_time_s=run_time,
            session_steps=self.step - self.start_step,
            session_time_s=elapsed,
            preempted=exit_code != 0,
            exit_code=exit_code,
            quality=self.final_evaluation() if exit_code == 0 else None,
            compute_dtype=precision_label(self.precision),
        )
        if self.is_main and exit_code == 0:
            result.write(self.plan.output_dir / rundir.SUMMARY_FILE)
            loss = result.train_loss if result.train_loss is not None else math.nan
            self.progress.note(
                f"done: step {self.step}, train loss {loss:.4f}, {result.steps_per_s:.1f} steps/s; "
                f"checkpoint {result.checkpoint}"
            )
        self.exit_code = exit_code
        return result

    def close(self) -> None:
        """Close trackers (W&B gets the exit code), stop the bar, and release Accelerate's state."""
        progress = getattr(self, "progress", None)
        if progress is not None:
            progress.close()
        if hasattr(self.tracking, "accelerator"):
            self.tracking.finish(exit_code=self.exit_code)
        distributed = self.accelerator.num_processes > 1
        self.accelerator.end_training()
        if not distributed:
            AcceleratorState._reset_state(reset_partial_state=True)  # a later run in this process may differ


def resolve_cpu(config: Config) -> bool:
    """Whether this run uses the CPU; refuses settings the hardware cannot honour."""
    device, precision = config.train.device, config.train.mixed_precision
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device=cuda but no CUDA device is available; use --device auto or cpu")
    use_cpu = device == "cpu" or not torch.cuda.is_available()
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


def batch_norm_buffers(network: torch.nn.Module) -> list[torch.Tensor]:
    """The BatchNorm running statistics and counters: the only buffers a training step changes (the
    position code and time embedding are constant buffers). Empty for GroupNorm networks."""
    norms = [m for m in network.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    return [buffer for module in norms for buffer in module.buffers()]


def rank_seed(seed: int, accelerator: Accelerator) -> int:
    """Each rank's own seed for timesteps and noise (ranks must not draw the same noise)."""
    state = np.random.SeedSequence([seed, accelerator.process_index, 1]).generate_state(1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))
