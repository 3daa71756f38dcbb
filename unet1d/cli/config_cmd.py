"""`unet1d config show|validate`: print or check a resolved configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unet1d.cli.common import CONFIG_COMMAND, ConfigFileOption, command_group, fields_help, resolve_config

app = command_group("Show or validate a configuration.")


@app.command(context_settings=CONFIG_COMMAND, epilog=fields_help())
def show(ctx: typer.Context, config: ConfigFileOption = None) -> None:
    """Print the resolved config (defaults < YAML < env < flags) as YAML."""
    typer.echo(resolve_config(config, ctx.args).to_yaml(), nl=False)


@app.command(context_settings=CONFIG_COMMAND)
def validate(
    ctx: typer.Context,
    config_file: Annotated[Path, typer.Argument(help="YAML config file to check.", show_default=False)],
) -> None:
    """Check a config file (plus any overrides); exit code 2 and the problem if it is invalid."""
    args = list(ctx.args)
    if str(config_file) in ("--config", "-c") and args:  # spelt as `config show` and `train` take the file
        config_file, args = Path(args[0]), args[1:]
    resolved = resolve_config(config_file, args)
    model = resolved.model
    heads = f", {model.mid_num_heads} heads" if model.mid_structure == "attention" else ""  # a conv middle has none
    typer.echo(f"{config_file}: valid ({model.mid_structure} middle{heads})")
