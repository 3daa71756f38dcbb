"""The `unet1d` command line: one Typer app, one module per command group.

Commands parse, call the library and report. :func:`main` is the only place that turns a
:class:`~unet1d.errors.UserError` into exit code 2 and a one-line message.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from unet1d.cli import compare, config_cmd, data, evaluate, info, prior, sweep, train
from unet1d.cli.common import CONFIG_COMMAND, fields_help
from unet1d.errors import RANK_ERRORS_VARIABLE, UserError

app = typer.Typer(
    name="unet1d",
    help="Train and compare 1D UNet diffusion models over SMPL body poses (conv vs attention middle block).",
    no_args_is_help=True,
    add_completion=False,
    epilog=fields_help(),
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command(context_settings=CONFIG_COMMAND, epilog=fields_help())(train.train)
app.command(context_settings=CONFIG_COMMAND, epilog=fields_help(["model"]))(info.info)
app.command(name="eval", context_settings=CONFIG_COMMAND)(evaluate.eval_command)
app.command(name="sample")(evaluate.sample_command)
app.command(name="complete")(prior.complete_command)
app.command(name="denoise")(prior.denoise_command)
app.command(name="compare")(compare.compare_command)
app.add_typer(config_cmd.app, name="config")
app.add_typer(data.app, name="data")
app.add_typer(sweep.app, name="sweep")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exit 2 with ``error: <message>`` for anything a user got wrong.

    Click's own usage errors (unknown command, missing argument) already exit 2 with a usage
    line; everything else a user can cause is a :class:`UserError`.
    """
    try:
        app(args=argv)
    except UserError as err:
        report_user_error(str(err))
        sys.exit(2)


def report_user_error(message: str) -> None:
    """``error: <message>`` on stderr; a rank of `unet1d train --num_processes N` leaves it to its launcher
    instead, which prints each different message once (N ranks failing alike printed N copies)."""
    folder = os.environ.get(RANK_ERRORS_VARIABLE)
    rank = os.environ.get("RANK")
    if folder and rank is not None:
        try:
            (Path(folder) / f"rank-{int(rank):05d}.txt").write_text(message)
            return
        except (OSError, ValueError):
            pass  # the launcher cannot be told: say it here
    typer.echo(f"error: {message}", err=True)
