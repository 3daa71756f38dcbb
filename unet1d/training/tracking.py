"""Dashboards: W&B and TensorBoard through Accelerate's trackers, behind one small interface.

Accelerate decides which rank talks to trackers (``init_trackers`` and ``log`` run on the main
process only); :class:`Tracking` adds what Accelerate leaves to us: choosing W&B's mode, keeping
the run id (a resumed run continues the same W&B run with the id its checkpoint carries; ``output_dir``'s
``wandb_run_id`` names it for ``unet1d compare --wandb-report``), falling back to offline when W&B
cannot start or its server takes no connection, and marking a run as preempted. No secret is ever logged.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accelerate.tracking import GeneralTracker, TensorBoardTracker, WandBTracker

from unet1d.metric_registry import VAL_LOSS, VAL_LOSS_EMA, compare_columns, evaluated_val_loss
from unet1d.store.rundir import RUN_ID_FILE, TENSORBOARD_DIR, record_run_id
from unet1d.training.console import warn
from unet1d.wandb_access import (
    has_wandb_credentials,
    resolve_wandb_mode,
    server_address,
    unreachable_reason,
    wandb_base_url,
)

if TYPE_CHECKING:
    from accelerate import Accelerator

    from unet1d.config import Config


def _tensorboard_safe(values: Mapping[str, Any]) -> dict[str, Any]:
    """TensorBoard hparams take only scalars and strings: lists and nulls become text."""
    return {key: value if isinstance(value, (bool, int, float, str)) else str(value) for key, value in values.items()}


# The scalars TensorBoard's HParams table shows beside each run's settings: what `unet1d compare` compares.
HPARAMS_METRICS = (
    VAL_LOSS,
    VAL_LOSS_EMA,
    *(f"eval/{metric.name}" for metric in compare_columns() if metric.source == "eval"),
)


REOPEN_EVERY_S = 5.0  # at most one new TensorBoard event file this often while its writes fail


class TensorBoard(TensorBoardTracker):
    """Accelerate's TensorBoard tracker, with the run's settings in the run's own event file.

    Accelerate's ``add_hparams`` writes them to a new timestamped sub-run each session (with a
    ``hparams.yml`` beside it): TensorBoard lists those as extra runs with no scalars, so its HParams
    table cannot show a run's middle beside its scores. Here one run holds both (lists and nulls as
    text, the only values hparams take), and the table's columns are :data:`HPARAMS_METRICS`.
    """

    reopened_at = -math.inf  # when a new event file last replaced a dead writer (time.monotonic)

    def log(self, values: dict, step: int | None = None, **kwargs: Any) -> None:
        """Log; once the event file's writer has died (its thread ends for good on its first failed write: a
        full disk), a new event file takes the values from then on, so a moment of full disk does not blank the
        rest of the run. At most one new file each ``REOPEN_EVERY_S``: a disk that stays full made one a step,
        each dying thread printing its traceback. A failure in between loses its values and raises a fresh
        error for :class:`Tracking` to report once (re-raising the dead writer's own grew its traceback by a
        call's frames each time: hundreds of MB over a long outage)."""
        try:
            super().log(values, step, **kwargs)
            return
        except Exception as err:
            failure = f"{type(err).__name__}: {_first_line(err)}"
        if time.monotonic() - self.reopened_at < REOPEN_EVERY_S:
            raise OSError(f"TensorBoard's event file cannot be written ({failure})")
        self.reopened_at = time.monotonic()
        self._reopen()
        super().log(values, step, **kwargs)

    def _reopen(self) -> None:
        """A new event file in the run's folder (outside any ``except``: the new writer's errors chain nothing)."""
        from torch.utils.tensorboard import SummaryWriter

        with contextlib.suppress(Exception):
            self.writer.close()
        resumed = {name: value for name, value in self.init_kwargs.items() if name != "purge_step"}
        self.writer = SummaryWriter(self.logging_dir, **resumed)  # purging again would drop this run's steps

    def finish(self) -> None:
        if getattr(self, "writer", None) is not None:  # a Ctrl-C while W&B started comes before this one's start
            super().finish()

    def store_init_configuration(self, values: dict) -> None:
        from torch.utils.tensorboard.summary import hparams

        experiment, session_start, _ = hparams(_tensorboard_safe(values), dict.fromkeys(HPARAMS_METRICS, 0.0))
        self.writer.file_writer.add_summary(experiment)
        self.writer.file_writer.add_summary(session_start)
        self.writer.flush()


class WandB(WandBTracker):
    """Accelerate's W&B tracker that survives W&B: if ``wandb.init`` fails (no network, bad key,
    unknown entity) it warns and starts the same run offline, to ``wandb sync`` later; if even
    that fails, it warns and logs nothing."""

    def __init__(self, run_name: str, **kwargs: Any) -> None:
        super().__init__(run_name, **kwargs)
        self.run = None

    def start(self) -> None:
        # Our own W&B service rather than one a parent process shares through WANDB_SERVICE: recovering
        # from a failed start tears the service down, which must never stop someone else's runs.
        os.environ.pop("WANDB_SERVICE", None)
        if self.init_kwargs.get("mode") == "online" and has_wandb_credentials():
            self._offline_if_unreachable()
        try:
            super().start()
            return
        except Exception as err:  # any wandb failure must not stop training
            if self.init_kwargs.get("mode") == "offline":
                self._give_up(err)
                return
            warn(f"W&B could not start ({type(err).__name__}: {_first_line(err)}); continuing with W&B offline")
        import wandb

        wandb.teardown()  # the failed run still holds its id in W&B's service; start afresh
        self.init_kwargs["mode"] = "offline"
        try:
            super().start()
        except Exception as err:
            self._give_up(err)

    def _offline_if_unreachable(self) -> None:
        """Start offline at once when the W&B server takes no connection, rather than after
        ``wandb.init``'s ~100 s of retries (see :func:`unreachable_reason`)."""
        url = wandb_base_url()
        reason = unreachable_reason(url)
        if reason is not None:
            warn(
                f"W&B server {server_address(url)} is unreachable ({reason}); logging offline: "
                "`wandb sync` uploads the run later"
            )
            self.init_kwargs["mode"] = "offline"

    def _give_up(self, err: Exception) -> None:
        warn(f"W&B is unavailable ({type(err).__name__}: {_first_line(err)}); training goes on without it")
        self.run = None

    def store_init_configuration(self, values: dict) -> None:
        if self.run is not None:
            self.run.config.update(values, allow_val_change=True)

    def log(self, values: dict, step: int | None = None, **kwargs: Any) -> None:
        if self.run is not None:
            self.run.log(values, step=step, **kwargs)

    def finish(self, exit_code: int | None = None) -> None:
        if self.run is not None:
            self.run.finish(exit_code=exit_code)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else "no message"


def default_run_name(config: Config) -> str:
    """``attention-8-s3``: the middle and the seed, what a comparison's runs differ in."""
    return f"{config.model.mid}-s{config.train.seed}"


class Tracking:
    """The one object the loop logs through; only the main process reaches the dashboards."""

    def __init__(self, config: Config, *, run_id: str, resume_step: int | None) -> None:
        logging = config.logging
        self.output_dir = Path(config.train.output_dir)
        self.run_id = run_id
        self.log_checkpoints = logging.wandb_log_checkpoints
        # the loss the best checkpoint is picked by: the EMA weights', which evaluation and sampling load
        self.best_by = evaluated_val_loss(config.optim.ema)
        self.val_losses: dict[int, float] = {}  # that loss by step
        self.best_val_loss: float | None = None  # in checkpoints (state_dict): a resume keeps what "best" means
        self.last_checkpoint: tuple[Path, int, list[str]] | None = None
        self.trackers: list[GeneralTracker] = []
        self._failed: set[str] = set()  # the trackers whose failure was said
        self.wandb_mode = resolve_wandb_mode(logging.wandb_mode)
        if self.wandb_mode != "disabled":
            self.trackers.append(
                WandB(
                    logging.wandb_project,
                    entity=logging.wandb_entity,
                    # a name a dashboard reader can tell runs apart by (W&B's own are random words); WANDB_NAME wins,
                    # and a resumed run keeps the one W&B has (given one now, it takes that)
                    name=logging.wandb_run_name
                    or os.environ.get("WANDB_NAME")
                    or (None if resume_step else default_run_name(config)),
                    tags=[config.model.mid],  # a dashboard's filter: conv runs carry an unused mid_num_heads
                    id=run_id,
                    resume="allow",
                    mode=self.wandb_mode,
                    dir=str(self.output_dir),
                )
            )
        if logging.tensorboard:
            # purge_step drops events a killed run logged after the checkpoint we resume from; a run that starts
            # at step 0 in a folder of its own earlier events (killed before its first checkpoint, or every
            # checkpoint damaged) drops them all, or its curves would run twice over the same steps.
            extra = {"purge_step": resume_step + 1 if resume_step else 0}
            self.trackers.append(TensorBoard(TENSORBOARD_DIR, str(self.output_dir), **extra))

    @property
    def started(self) -> bool:
        """Whether :meth:`start` ran (a run that failed while it was built has nothing to finish)."""
        return hasattr(self, "accelerator")

    def start(self, accelerator: Accelerator, run_config: dict[str, Any]) -> None:
        """Start every tracker with the resolved config as the run config; record the W&B run id."""
        self.accelerator = accelerator
        if not accelerator.is_main_process:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        accelerator.init_trackers("unet1d", config=run_config)
        if self.wandb_mode != "disabled":
            try:
                record_run_id(self.output_dir, self.run_id)
            except OSError as err:  # a full disk or a read-only folder: W&B never stops a run
                warn(
                    f"cannot write the W&B run id to {self.output_dir / RUN_ID_FILE} ({err.strerror or err}); "
                    f"training goes on: the file only names W&B run {self.run_id} for `unet1d compare "
                    "--wandb-report` (a resumed run takes the id from its checkpoint)"
                )

    @property
    def wandb_run(self) -> Any | None:
        for tracker in self.trackers:
            if isinstance(tracker, WandB):
                return getattr(tracker, "run", None)
        return None

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Log scalars at ``step``; a failing dashboard warns once and training goes on."""
        if not self.accelerator.is_main_process:
            return
        if self.best_by in metrics:
            self.val_losses[step] = float(metrics[self.best_by])
        for tracker in self.accelerator.trackers:  # each on its own: one failing left the others blank
            try:
                tracker.log(dict(metrics), step=step)
            except Exception as err:
                if tracker.name not in self._failed:
                    warn(f"logging to {tracker.name} failed ({type(err).__name__}: {_first_line(err)}); "
                         "training goes on, and so does logging to the other dashboards")  # fmt: skip
                    self._failed.add(tracker.name)

    def log_image(self, name: str, path: Path, step: int) -> None:
        """Log a PNG to W&B and TensorBoard (main process); a failure warns and training goes on."""
        if not (self.accelerator.is_main_process and path.is_file()):
            return
        for tracker in self.accelerator.trackers:  # each on its own, as log: one failing kept the other blank
            try:
                if isinstance(tracker, WandB) and tracker.run is not None:  # None: W&B gave up, and said so
                    import wandb

                    tracker.run.log({name: wandb.Image(str(path))}, step=step)
                elif isinstance(tracker, TensorBoard):
                    import matplotlib.image

                    tracker.writer.add_image(name, matplotlib.image.imread(str(path))[..., :3], step, dataformats="HWC")
            except Exception as err:
                warn(f"could not log {path.name} to {tracker.name} ({_first_line(err)})")

    def rank_checkpoint(self, step: int) -> bool:
        """Whether the checkpoint about to be saved at ``step`` is the best so far by :attr:`best_by`; remembered
        first, so that checkpoint holds it and a resumed run goes on judging against it."""
        val_loss = self.val_losses.get(step)
        if val_loss is None or (self.best_val_loss is not None and val_loss >= self.best_val_loss):
            return False
        self.best_val_loss = val_loss
        return True

    def log_checkpoint(self, checkpoint_dir: Path, step: int, files: list[str], *, best: bool) -> None:
        """A checkpoint was saved: log it as the ``best`` model artifact when :meth:`rank_checkpoint` said so, and
        remember it, so :meth:`finish` logs the last one as ``final``."""
        self.last_checkpoint = (checkpoint_dir, step, list(files))
        if best:
            self._log_model(checkpoint_dir, step, files, ["best"], self.val_losses.get(step))

    def _log_model(self, checkpoint_dir: Path, step: int, files: list[str], aliases: list[str], val_loss: float | None):
        """The checkpoint's eval files (not the optimiser state) as a version of the run's model artifact,
        if asked to; offline runs keep it for `wandb sync`."""
        run = self.wandb_run
        if not (self.log_checkpoints and run is not None and self.accelerator.is_main_process):
            return
        try:
            import wandb

            metadata = {"step": step, "val_loss": val_loss}
            artifact = wandb.Artifact(f"{run.id}-model", type="model", metadata=metadata)
            for name in files:
                artifact.add_file(str(checkpoint_dir / name), name=name)
            run.log_artifact(artifact, aliases=[*aliases, f"step-{step}"])
        except Exception as err:
            warn(f"could not log checkpoint {checkpoint_dir.name} to W&B ({_first_line(err)})")

    newer_than_format = True  # a checkpoint table part since 7 December: older ones start with no best

    def state_dict(self) -> dict[str, Any]:
        return {"best_val_loss": self.best_val_loss}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        best = state.get("best_val_loss")
        self.best_val_loss = None if best is None else float(best)

    def summarise(self, values: Mapping[str, float]) -> None:
        """Set W&B run summary values (main process): what a sweep and a runs table read, whatever the step. A
        resumed run's final scores land at a step W&B has passed, where it drops history."""
        run = self.wandb_run
        if run is None or not self.accelerator.is_main_process:
            return
        try:
            run.summary.update(dict(values))
        except Exception as err:
            warn(f"could not set the W&B summary ({_first_line(err)}); training goes on")

    def mark_preempting(self) -> None:
        """Tell W&B this run stops early on purpose, so a sweep requeues it."""
        run = self.wandb_run
        if run is not None and self.accelerator.is_main_process:
            run.mark_preempting()

    def finish(self, exit_code: int = 0) -> None:
        """Close every tracker; W&B gets the exit code (non-zero after preemption: state 'preempted')."""
        if not self.accelerator.is_main_process:
            return
        if exit_code == 0 and self.last_checkpoint is not None:
            checkpoint_dir, step, files = self.last_checkpoint
            self._log_model(checkpoint_dir, step, files, ["final", "latest"], self.val_losses.get(step))
        for tracker in self.accelerator.trackers:
            try:
                if isinstance(tracker, WandB):
                    tracker.finish(exit_code=exit_code)
                else:
                    tracker.finish()
            except Exception as err:
                warn(f"closing the {tracker.name} tracker failed ({_first_line(err)})")
        self.accelerator.trackers = []
