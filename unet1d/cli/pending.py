"""Commands whose machinery has not landed yet: they say so plainly instead of pretending."""

from __future__ import annotations

from collections.abc import Callable

import typer

from unet1d.errors import UserError

COMMANDS = {
    "sweep": "Create, run or check W&B sweeps (not yet available).",
}
COMMAND_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def not_yet(name: str) -> Callable[[typer.Context], None]:
    def command(ctx: typer.Context) -> None:
        raise UserError(f"`unet1d {name}` is not yet available in this version")

    return command
