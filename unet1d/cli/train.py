"""`unet1d train`: resolve the config, start more processes if asked to, train, report.

The same command runs from a shell, as each rank of ``accelerate launch`` / ``torchrun``, and as
a ``wandb agent`` run. With ``--num_processes N`` (or ``--num_machines M``) outside a launch, it
re-runs itself under Accelerate's launcher. With ``--resume``, the run's stored config is the
base and the flags given must agree with it (except those that may change on resume). Exit
codes: 0 done (or already finished: nothing is touched), 2 a user error (including a run that
diverged or a launch that started fewer processes than asked), 128 + signal when preempted (a
checkpoint was saved: ``--resume auto`` continues), 1 when another process of a distributed run
stopped answering (one line; ``--resume auto`` on every machine continues).
"""

from __future__ import annotations

from pathlib import Path

import typer

from unet1d.cli.common import ConfigFileOption
from unet1d.config import Config
from unet1d.errors import UserError
from unet1d.training.lock import is_main_process
from unet1d.training.signals import dump_stacks_on_request


def train(ctx: typer.Context, config: ConfigFileOption = None) -> None:
    """Train a UNet1D diffusion model; every config field is a flag (see below)."""
    from unet1d.store import rundir
    from unet1d.training.launch import end_other_rank, launch_shortfall, needs_launcher, run_launcher

    dump_stacks_on_request()  # here too when this process only launches the ranks: USR2 must not end it
    shortfall = launch_shortfall()
    if shortfall:
        raise UserError(shortfall)
    resolved = rundir.resume_config(config, ctx.args)
    finished = rundir.finished_run(resolved)
    if finished is not None:
        typer.echo(
            f"{resolved.train.output_dir}: the run already finished at step {finished.final_step} "
            f"(max_steps {resolved.train.max_steps}); nothing to do, its summary and checkpoints are left as they "
            "were. To train further, resume with a larger --max_steps"
        )
        return
    if needs_launcher(resolved):  # what every rank would refuse, refused once here, before any rank starts
        from unet1d.data.files import require_pose_path
        from unet1d.data.loading import is_builtin

        if not is_builtin(resolved.data.data):
            require_pose_path(Path(resolved.data.data))
        rundir.plan_run(resolved)
        forwarded = [*(["--config", str(config)] if config is not None else []), *ctx.args]
        code = run_launcher(resolved, forwarded)
        if code:
            raise typer.Exit(code)
        return

    if probes_here(resolved):
        from unet1d.evaluation.c2st import start_fold_workers

        start_fold_workers()  # before any thread: the probe's and final evaluation's classifier folds in processes

    from unet1d.evaluation.probe import QualityProbe
    from unet1d.training import train as run_training
    from unet1d.training.launcher_watch import lost_peer_message, watch_launcher

    watch_launcher()
    try:
        result = run_training(resolved, probe=QualityProbe)  # the loop's quality probe, built here
    except RuntimeError as err:  # a collective failed: say that another machine is gone, not a traceback
        message = lost_peer_message(err)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(1) from None
    end_other_rank(result.exit_code)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def probes_here(config: Config) -> bool:
    """Whether this process scores sample quality (the main one of a launch, a probe or final evaluation on).

    There the classifier's folds are worth processes of their own: in threads of the training process two fits
    wait on each other for the GIL (docs/speed.md, "How `unet1d eval` lays out its work").
    """
    quality = config.evaluation.quality_every > 0 or config.evaluation.final_eval_samples > 0
    return quality and is_main_process()
