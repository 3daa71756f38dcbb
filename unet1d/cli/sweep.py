"""`unet1d sweep validate|create|local`: W&B sweeps over the config's fields."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer

from unet1d.cli.common import CONFIG_COMMAND, command_group
from unet1d.errors import UserError

app = command_group("Validate, create or run W&B sweeps (sweeps/*.yaml).")
SweepFile = Annotated[Path, typer.Argument(help="A W&B sweep YAML, e.g. sweeps/mid_structure.yaml.")]


@app.command(context_settings=CONFIG_COMMAND)
def validate(ctx: typer.Context, sweep_file: SweepFile) -> None:
    """Check every point of a sweep against the config (plus any --field overrides given after it)."""
    from unet1d.sweeps import validate_sweep

    checked = validate_sweep(sweep_file, ctx.args)
    typer.echo(f"{sweep_file}: all {len(checked)} points are valid configs")


@app.command()
def create(
    sweep_file: SweepFile,
    project: Annotated[str, typer.Option(help="W&B project.")] = "unet1d",
    entity: Annotated[str | None, typer.Option(help="W&B entity; default: yours.")] = None,
) -> None:
    """Validate, then register the sweep with W&B and print the `wandb agent` command to run."""
    from unet1d.sweeps import read_sweep, validate_sweep

    validate_sweep(sweep_file)
    import wandb

    try:
        sweep_id = wandb.sweep(read_sweep(sweep_file), project=project, entity=entity)
    except Exception as err:  # wandb raises many types for "no credentials" / "no network"
        raise UserError(
            f"W&B could not create the sweep ({type(err).__name__}: {err}); run `wandb login`, "
            f"or run it here without W&B: unet1d sweep local {sweep_file}"
        ) from None
    where = f"{entity}/{project}" if entity else project
    typer.echo(f"created sweep {sweep_id}; start agents with: wandb agent {where}/{sweep_id}")


@app.command(context_settings=CONFIG_COMMAND)
def local(
    ctx: typer.Context,
    sweep_file: SweepFile,
    output_root: Annotated[Path, typer.Option("--output-root", help="One run folder per point below it.")] = Path(
        "runs/sweeps"
    ),
    max_runs: Annotated[int | None, typer.Option("--max-runs", min=1, help="Stop after this many points.")] = None,
    parallel: Annotated[
        int,
        typer.Option("--parallel", min=1, help="Run K points at a time, each with cores/K threads."),
    ] = 1,
) -> None:
    """Run a grid sweep's points here, W&B offline; then compare them. Finished points are skipped.

    Extra --field overrides apply to every run (e.g. --max_steps 200 --base_channels 32 on a CPU).
    Running it again resumes unfinished points and leaves finished ones as they are.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from unet1d.sweeps import read_sweep, run_name, train_command, validate_sweep, varying_names
    from unet1d.training import rundir
    from unet1d.training.launch import available_cores

    checked = validate_sweep(sweep_file, ctx.args)
    if read_sweep(sweep_file)["method"] != "grid":
        raise UserError(f"{sweep_file}: `sweep local` runs grid sweeps; use `wandb agent` for random or bayes")
    root = output_root / sweep_file.stem
    varying, todo = varying_names(checked), []
    for index, point in enumerate(checked[:max_runs]):
        output_dir = root / run_name(point, index, varying)
        command = train_command(point, output_dir, ["--resume=auto", *ctx.args])
        try:
            finished = rundir.finished_run(rundir.resume_config(None, command[4:]))
        except UserError:  # the run itself will say what is wrong
            finished = None
        typer.echo(
            f"[{index + 1}/{len(checked[:max_runs])}] {output_dir}" + (": finished, skipped" if finished else "")
        )
        if not finished:
            todo.append((output_dir, command))
    # K runs at a time share the cores: more threads than a run's share only spin against the others.
    env = {"UNET1D_THREADS": str(max(1, available_cores() // parallel))} if parallel > 1 else {}
    with ThreadPoolExecutor(parallel) as pool:
        codes = list(pool.map(lambda job: subprocess.run(job[1], env={**env, **os.environ}).returncode, todo))
    failed = [str(output_dir) for (output_dir, _), code in zip(todo, codes, strict=True) if code != 0]
    if failed:
        typer.echo(f"{len(failed)} run(s) failed (resume them by running this command again): {', '.join(failed)}")
    from unet1d.cli.compare import compare_command

    compare_command([root], out=root / "compare.json")
    if failed:
        raise typer.Exit(1)
