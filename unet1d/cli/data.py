"""`unet1d data check`: show what training would load from a path, and refuse what it could not use."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from unet1d.cli.common import CONFIG_COMMAND, ConfigFileOption, command_group, fields_help
from unet1d.config_sources import build_section, given_values
from unet1d.errors import UserError

app = command_group("Inspect pose data.")


@app.command(context_settings=CONFIG_COMMAND, epilog=fields_help(["data"]), options_metavar="[PATH] [OPTIONS]")
def check(
    ctx: typer.Context,
    config: ConfigFileOption = None,
    list_files: Annotated[bool, typer.Option("--list-files", help="List every file, not just the first 20.")] = False,
) -> None:
    """Print what would be loaded (files, frames before/after subsampling, pose width, per-joint
    angle ranges, sequences per split) and validate it; exit code 2 naming the file if it is unusable.

    PATH: pose data, an AMASS .npz file or folder tree, a .npy (N, D), a one-array .npz, or 'builtin'
    (default: the config's data field, or --data). The data fields below follow as --name VALUE, as
    `unet1d train` takes them, and --batch_size, before or after PATH.
    """
    from unet1d.data.loading import check_batch_size, load_pose_data

    path, args = path_and_fields(ctx.args)
    if path is not None and any(word == "--data" or word.startswith("--data=") for word in args):
        raise UserError(f"data check {path} --data ...: give the data once, as PATH or as --data")
    layered = given_values(config, [*args, *(["--data", path] if path is not None else [])], os.environ)
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


def path_and_fields(args: list[str]) -> tuple[str | None, list[str]]:
    """PATH, the first word that is no ``--field`` and no field's value, and the rest as given: Click cannot
    tell PATH from a field's value (it took ``5`` of ``--data_seed 5`` for PATH), so the words come here."""
    path, fields, words = None, [], iter(args)
    for word in words:
        if word.startswith("-"):
            fields.append(word)
            value = None if "=" in word else next(words, None)
            if value is not None:
                fields.append(value)
        elif path is None:
            path = word
        else:
            fields.append(word)  # a second PATH: given_values names it
    return path, fields
