"""`unet1d train`: resolve the config and run training (placeholder until the training loop lands)."""

from __future__ import annotations

import typer

from unet1d.cli.common import CONFIG_COMMAND, ConfigFileOption, resolve_config
from unet1d.errors import UserError

COMMAND_SETTINGS = CONFIG_COMMAND


def train(ctx: typer.Context, config: ConfigFileOption = None) -> None:
    """Train a UNet1D diffusion model; every config field is a flag (see below)."""
    resolve_config(config, ctx.args)
    raise UserError("`unet1d train` is not yet available in this version")
