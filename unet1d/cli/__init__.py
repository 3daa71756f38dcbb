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
    """Run the CLI; exit 2 with one ``error: <message>`` line for anything a user got wrong.

    Click runs outside its standalone mode so that its own usage errors (an unknown command or
    option, a value out of range, a missing argument) end in the same one line as a
    :class:`UserError`, naming the value given, instead of Click's four-line usage box.
    ``typer.TyperException`` is the public base of the Click exceptions Typer carries.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    printable_file_names()
    try:
        # argv given (a caller in Python): the command is unet1d, not the caller's own program (`python -m pytest`)
        outcome = app(args=args, prog_name=None if argv is None else "unet1d", standalone_mode=False)
    except UserError as err:
        report_user_error(str(err))
        sys.exit(2)
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    except typer.TyperException as err:
        message = err.format_message()
        if message.startswith("Usage:"):  # a command group given no command: its help, as Click shows it
            typer.echo(message, err=True)
        else:
            report_user_error(usage_error_line(err, args))
        sys.exit(err.exit_code)
    except BrokenPipeError:  # `unet1d compare ... | head` closed the pipe: nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(outcome if isinstance(outcome, int) and not isinstance(outcome, bool) else 0)  # typer.Exit(code)


def printable_file_names() -> None:
    """A file name that is not UTF-8 reaches Python as surrogate escapes; where the streams encode strictly
    (``PYTHONIOENCODING=utf-8``, common in images and CI) printing one ended in a UnicodeEncodeError
    traceback. Such streams write the bytes escaped instead (``bad\\udcffname.npz``)."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def usage_error_line(err: typer.TyperException, args: list[str]) -> str:
    """Click's message, the value given where Click leaves it out, and where to read what is allowed."""
    message = err.format_message().rstrip(".")
    option_names = getattr(getattr(err, "param", None), "opts", None)
    given = given_value(args, option_names) if option_names and option_names[0].startswith("-") else None
    if given is not None and f"'{given}'" not in message:  # Click quotes a value it names
        message = f"{message}, given {given!r}"
    context = getattr(err, "ctx", None)
    if context is not None:
        message = f"{message} (`{context.command_path} --help` lists what is allowed)"
    return message


def given_value(args: list[str], names: list[str]) -> str | None:
    """The last value given on the command line for an option called any of ``names``."""
    value = None
    for index, arg in enumerate(args):
        if arg in names and index + 1 < len(args):
            value = args[index + 1]
        elif arg.split("=", 1)[0] in names and "=" in arg:
            value = arg.split("=", 1)[1]
    return value


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
