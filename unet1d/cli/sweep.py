"""`unet1d sweep validate|create|agent|local`: W&B sweeps over the config's fields."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from unet1d.cli.common import CONFIG_COMMAND, command_group
from unet1d.cli.compare import compare_command
from unet1d.config_sources import load_config, parse_overrides, resolve_name
from unet1d.errors import UserError
from unet1d.sweeps.agent import agent_command, agent_environment
from unet1d.training.signals import Interrupted, run_passing_signals
from unet1d.wandb_access import has_wandb_credentials

app = command_group("Validate, create or run W&B sweeps (sweeps/*.yaml), with or without a W&B server.")
SweepFile = Annotated[Path, typer.Argument(help="A W&B sweep YAML, e.g. sweeps/middles.yaml.")]


@app.command(context_settings=CONFIG_COMMAND)
def validate(ctx: typer.Context, sweep_file: SweepFile) -> None:
    """Check a sweep against W&B's schema and every point against the config (random/bayes: every bound
    and a sample of points), naming every invalid point; --field overrides given after it apply to all."""
    from unet1d.sweeps.schema import read_sweep, validate_sweep

    checked = validate_sweep(sweep_file, ctx.args)
    sweep = read_sweep(sweep_file)
    refuse_overridden(sweep_file, sweep, ctx.args)  # as `sweep local` would
    check_metric(sweep_file, sweep, checked, ctx.args, from_tensorboard=False)
    if program_not_found(sweep):  # where it runs may be elsewhere: said, not refused
        typer.echo(f"warning: {sweep_file}: {program_not_here(sweep)}", err=True)
    typer.echo(f"{sweep_file}: all {len(checked)} points checked are valid configs")


def check_metric(sweep_file: Path, sweep: dict, checked: list[dict], args: list[str], *, from_tensorboard: bool):
    """A metric the runs would not log: refused where the engine decides by it (bayes, early termination),
    else said, since W&B only shows it."""
    from unet1d.sweeps.schema import needs_metric, unlogged_metric

    reasons = unlogged_metric(sweep, checked, args, from_tensorboard=from_tensorboard)
    if reasons and needs_metric(sweep):
        raise UserError(f"{sweep_file}: the sweep decides by a metric its runs would not log: {'; '.join(reasons)}")
    for reason in reasons:
        typer.echo(f"warning: {sweep_file}: the sweep's metric will stay empty: {reason}", err=True)


def program_not_found(sweep: dict) -> bool:
    """Whether the sweep's command runs ``${program}`` and that is no file here (a command that starts,
    say, ``python -m unet1d.cli train`` needs none)."""
    return "${program}" in (sweep.get("command") or []) and not Path(str(sweep.get("program", ""))).is_file()


def program_not_here(sweep: dict) -> str:
    return (
        f"program={sweep.get('program')!r} is not a file here: `sweep local` and `wandb agent` run it from the folder "
        "they start in; run them from the repo root, or give program as an absolute path"
    )


def refuse_overridden(sweep_file: Path, sweep: dict, args: list[str]) -> None:
    """A UserError where a --field override names one of the sweep's own parameters (the sweep's value would
    win in the check, and the runs would record it)."""
    overridden = overridden_parameters(sweep, args)
    if overridden:
        raise UserError(
            f"{sweep_file}: {', '.join(overridden)} given on the command line would override the sweep's own "
            "parameters (its runs record the sweep's values); drop it there, or change it in a copy of the sweep file"
        )


@app.command()
def create(
    sweep_file: SweepFile,
    project: Annotated[str, typer.Option(help="W&B project.")] = "unet1d",
    entity: Annotated[str | None, typer.Option(help="W&B entity; default: yours.")] = None,
) -> None:
    """Validate, then register the sweep with W&B and print the `unet1d sweep agent` command to run."""
    from unet1d.sweeps.schema import point_config, read_sweep, validate_sweep

    checked = validate_sweep(sweep_file)
    sweep = read_sweep(sweep_file)
    check_metric(sweep_file, sweep, checked, [], from_tensorboard=False)
    modes = {point_config(sweep, point, []).logging.wandb_mode for point in checked}
    unseen = sorted(modes & {"offline", "disabled"})
    if unseen:  # its runs' metrics and states would never reach the server that runs the sweep
        raise UserError(
            f"{sweep_file}: its runs would log with wandb_mode={unseen[0]}, so the W&B server running the sweep "
            "would see none of their metrics or states; drop wandb_mode from its parameters (it suits "
            f"`unet1d sweep local {sweep_file}`)"
        )
    import wandb

    try:
        sweep_id = wandb.sweep(read_sweep(sweep_file), project=project, entity=entity)
    except Exception as err:  # wandb raises many types for "no credentials" / "no network"
        raise UserError(
            f"W&B could not create the sweep ({type(err).__name__}: {err}); run `wandb login`, "
            f"or run it here without W&B: unet1d sweep local {sweep_file}"
        ) from None
    where = f"{entity}/{project}" if entity else project
    typer.echo(f"created sweep {sweep_id}; start agents (from the repository root) with:")
    typer.echo(f"  unet1d sweep agent {where}/{sweep_id}")


@app.command()
def agent(
    sweep_id: Annotated[str, typer.Argument(help="ENTITY/PROJECT/ID as printed by `unet1d sweep create`.")],
    count: Annotated[int | None, typer.Option("--count", min=1, help="Runs this agent trains; default: all.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the agent command instead of running it.")] = False,
) -> None:
    """Run a W&B agent for a registered sweep, here (run it from the repository root: program is cli.py). It
    hands SIGTERM and Ctrl-C on to its run, which checkpoints."""
    command = agent_command(sweep_id, count)
    if dry_run:
        typer.echo(" ".join(command))
        return
    if not Path("cli.py").is_file():
        raise UserError("run `unet1d sweep agent` from the repository root: the sweeps' program is cli.py")
    if not has_wandb_credentials():  # wandb agent would stop on its own error line, with no way on
        raise UserError(
            "`unet1d sweep agent` needs a W&B server and credentials (WANDB_API_KEY, or `wandb login`); "
            "without them, run the sweep file here with `unet1d sweep local SWEEP.yaml`"
        )
    # wandb's agent (--forward-signals) in a session of its own: SIGTERM (Docker's stop, as PID 1 too; Slurm's),
    # SIGINT and SIGHUP reach this process only, which hands each on once (a second would make the agent kill its
    # run) and ends as the run's stop does: 128 + the signal
    stop = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    code, passed = run_passing_signals(command, passed=stop, ignored=(), env=agent_environment(dict(os.environ)),
                                       own_session=True, handed_as={signal.SIGHUP: signal.SIGTERM})  # fmt: skip
    # (the run stops on SIGTERM and SIGINT: a closed terminal's SIGHUP goes on as SIGTERM, or the run died unsaved)
    raise typer.Exit(128 + passed[0] if passed else code)


def missing_data(checked: list[dict], args: list[str]) -> str | None:
    """A data path the sweep's runs would read (the points' and the overrides') that is not here, if any.
    Runs start from this folder (sweep local checks that ``program`` is a file here)."""
    from unet1d.data.loading import is_builtin
    from unet1d.sweeps.schema import agent_args

    for point in checked:
        data = load_config(None, [*args, *agent_args(point)], environ={}).data.data
        if not is_builtin(data) and not Path(data).exists():
            return data
    return None


def overridden_parameters(sweep: dict, args: list[str]) -> list[str]:
    """Sweep parameters that ``--field`` overrides for every run would replace (they come after ${args})."""
    given = {path for path, _, _ in parse_overrides(args)}
    return [f"--{name}" for name in sweep["parameters"] if ".".join(resolve_name(name)) in given]


@app.command(context_settings=CONFIG_COMMAND)
def local(
    ctx: typer.Context,
    sweep_file: SweepFile,
    output_root: Annotated[
        Path, typer.Option("--output-root", help="Runs go to OUTPUT_ROOT/<sweep file's name without .yaml>/<run id>.")
    ] = Path("runs/sweeps"),
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Runs to start (resumed ones count); random/bayes need it.")
    ] = None,
    parallel: Annotated[int, typer.Option("--parallel", min=1, help="Runs at a time (CPU cores shared).")] = 1,
) -> None:
    """Run any sweep (grid, random, bayes, hyperband early termination) here on W&B's own engine, with
    no W&B server and W&B offline; then compare the runs (compare.json, report/). Run it again to resume
    unfinished runs.

    Extra --field overrides apply to every run (e.g. --max_steps 200 --base_channels 32 on a CPU).
    """
    from unet1d.sweeps.local import LocalSweep, sweep_id_for
    from unet1d.sweeps.schema import read_sweep, validate_sweep

    checked = validate_sweep(sweep_file, ctx.args)
    sweep = read_sweep(sweep_file)
    missing = missing_data(checked, ctx.args)
    if missing:  # every run would fail on it, one after another
        raise UserError(f"{sweep_file}: data path '{missing}' does not exist; no run was started")
    if sweep["method"] != "grid" and count is None:
        raise UserError(f"{sweep_file}: a {sweep['method']} sweep never runs out of points; give --count N")
    if program_not_found(sweep):
        raise UserError(f"{sweep_file}: {program_not_here(sweep)}")
    refuse_overridden(sweep_file, sweep, ctx.args)
    check_metric(sweep_file, sweep, checked, ctx.args, from_tensorboard=True)
    root = output_root / sweep_file.stem
    try:
        runs = LocalSweep(sweep, sweep_id_for(sweep_file), root, list(ctx.args), parallel, typer.echo).run(count)
    except Interrupted as stop:
        typer.echo(f"{root}: stopped by {stop}; its running runs saved checkpoints: run this command again to resume")
        raise typer.Exit(128 + stop.signum) from None
    failed = [run.run_id for run in runs if run.state == "failed"]
    stopped = [run.run_id for run in runs if run.state == "stopped"]
    typer.echo(f"{root}: {len(runs)} runs, {len(stopped)} early-terminated, {len(failed)} failed")
    if failed:
        typer.echo(f"failed (resume them by running this command again): {', '.join(failed)}")
    if any(run.state == "finished" for run in runs):
        compare_command(sweep=root, out=root / "compare.json", report=root / "report")
    if failed:
        raise typer.Exit(1)
