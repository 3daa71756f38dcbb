"""The `unet1d` console script and cli.py's entry: the CLI, with nothing to say of a Ctrl-C that comes while
Python loads it (a traceback from inside `import typer` was all a user saw)."""

from __future__ import annotations

try:
    from unet1d.cli import main
except KeyboardInterrupt:
    raise SystemExit(130) from None  # 128 + SIGINT, as a stop anywhere later exits

__all__ = ["main"]
