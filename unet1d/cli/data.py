"""`unet1d data check`: show what training would load from a path, and refuse what it could not use."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from unet1d.cli.common import CONFIG_COMMAND, ConfigFileOption, command_group, fields_help
from unet1d.config_sources import build_section, given_values
from unet1d.errors import UserError

app = command_group("Inspect pose data.")


@app.command(context_settings=CONFIG_COMMAND, epilog=fields_help(["data"]))
def check(
    ctx: typer.Context,
    path: Annotated[
        str | None,
        typer.Argument(
            help="Pose data: an AMASS .npz file or folder tree, a .npy (N, D), a one-array .npz, or 'builtin'. "
            "Default: the config's data field. The data fields below follow as --name VALUE, as `unet1d train` "
            "takes them, and --batch_size.",
            show_default=False,
        ),
    ] = None,
    config: ConfigFileOption = None,
    list_files: Annotated[bool, typer.Option("--list-files", help="List every file, not just the first 20.")] = False,
) -> None:
    """Print what would be loaded (files, frames before/after subsampling, pose width, per-joint
    angle ranges, sequences per split) and validate it; exit code 2 naming the file if it is unusable."""
    from unet1d.data.loading import check_batch_size, load_pose_data

    layered = given_values(config, [*ctx.args, *(["--data", path] if path is not None else [])], os.environ)
    others = sorted({source for field, _, source in layered if source.startswith("--") and not field.startswith(
        ("data.", "train.batch_size"))})  # fmt: skip
    if others:
        raise UserError(f"{', '.join(others)}: not a data field; data check takes the data fields and --batch_size")
    data_cfg, batch = build_section(layered, "data"), build_section(layered, "train").batch_size
    pose_dim = {"smpl72": 72, "body63": 63}[data_cfg.pose_format]
    splits = load_pose_data(data_cfg, pose_dim, seed=data_cfg.data_seed)  # as training and eval load it
    for line in splits.report.lines(max_files=None if list_files else 20):
        typer.echo(line)
    try:
        check_batch_size(splits, batch)
    except UserError as err:  # what was found is still worth reporting; only `train` must refuse it
        typer.echo(f"warning: {err}", err=True)
        return
    fits = splits.train.shape[0] // batch
    typer.echo(
        f"ok: {splits.train.shape[0]} training and {splits.val.shape[0]} validation poses of "
        f"{pose_dim} numbers; a batch of {batch} fits {fits} time{'s' * (fits != 1)} per epoch"
    )
