"""`unet1d data check`: show what training would load from a path, and refuse what it could not use."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError

from unet1d.cli.common import ConfigFileOption, command_group, resolve_config
from unet1d.config import SEED_MAX, DataConfig, TrainConfig
from unet1d.errors import ConfigError, UserError

app = command_group("Inspect pose data.")


def _describe(section: type, name: str) -> str:
    """Help text for an option straight from the config field, so the two never drift apart."""
    info = section.model_fields[name]
    default = "null" if info.default is None else info.default  # as the YAML and `config show` spell it
    return f"{info.description} [config default: {default}]"


@app.command()
def check(
    path: Annotated[
        str | None,
        typer.Argument(
            help="Pose data: an AMASS .npz file or folder tree, a .npy (N, D), a one-array .npz, or 'builtin'. "
            "Default: the config's data field.",
            show_default=False,
        ),
    ] = None,
    config: ConfigFileOption = None,
    pose_format: Annotated[
        str | None, typer.Option("--pose-format", "--pose_format", help=_describe(DataConfig, "pose_format"))
    ] = None,
    target_fps: Annotated[
        float | None, typer.Option("--target-fps", "--target_fps", help=_describe(DataConfig, "target_fps"))
    ] = None,
    val_fraction: Annotated[
        float | None, typer.Option("--val-fraction", "--val_fraction", help=_describe(DataConfig, "val_fraction"))
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", "--batch_size", help=_describe(TrainConfig, "batch_size"))
    ] = None,
    builtin_samples: Annotated[
        int | None,
        typer.Option("--builtin-samples", "--builtin_samples", help=_describe(DataConfig, "builtin_samples")),
    ] = None,
    up_axis: Annotated[
        str | None, typer.Option("--up-axis", "--up_axis", help=_describe(DataConfig, "up_axis"))
    ] = None,
    split: Annotated[str | None, typer.Option("--split", help=_describe(DataConfig, "split"))] = None,
    val_files: Annotated[
        str | None, typer.Option("--val-files", "--val_files", help=_describe(DataConfig, "val_files"))
    ] = None,
    data_seed: Annotated[
        int | None,
        typer.Option(
            "--data-seed", "--data_seed", "--seed", min=0, max=SEED_MAX, help=_describe(DataConfig, "data_seed")
        ),
    ] = None,
    cache: Annotated[bool | None, typer.Option("--cache/--no-cache", help=_describe(DataConfig, "cache"))] = None,
    cache_dir: Annotated[
        str | None, typer.Option("--cache-dir", "--cache_dir", help=_describe(DataConfig, "cache_dir"))
    ] = None,
    list_files: Annotated[bool, typer.Option("--list-files", help="List every file, not just the first 20.")] = False,
) -> None:
    """Print what would be loaded (files, frames before/after subsampling, pose width, per-joint
    angle ranges, sequences per split) and validate it; exit code 2 naming the file if it is unusable."""
    from unet1d.data.loading import check_batch_size, load_pose_data

    resolved = resolve_config(config, [])
    given = {
        "data": path,
        "pose_format": pose_format,
        "target_fps": target_fps,
        "val_fraction": val_fraction,
        "builtin_samples": builtin_samples,
        "up_axis": up_axis,
        "split": split,
        "val_files": val_files,
        "data_seed": data_seed,
        "cache": cache,
        "cache_dir": cache_dir,
    }
    data_cfg = _data_config(resolved.data.model_dump(), {k: v for k, v in given.items() if v is not None})
    batch = resolved.train.batch_size if batch_size is None else batch_size
    if batch <= 0:
        raise ConfigError(f"--batch-size={batch}: must be a positive integer")
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


def _data_config(base: dict[str, Any], given: dict[str, Any]) -> DataConfig:
    """Validate the data section with the command-line values on top, naming the offending option."""
    try:
        return DataConfig.model_validate({**base, **given})
    except ValidationError as err:
        problems = []
        for problem in err.errors(include_url=False):
            name = str(problem["loc"][0]) if problem["loc"] else "data"
            value = given.get(name, base.get(name))
            problems.append(f"--{name.replace('_', '-')}={value!r}: {problem['msg'].removeprefix('Value error, ')}")
        raise ConfigError("; ".join(problems)) from None
