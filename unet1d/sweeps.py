"""W&B sweep files: read them, list their points, and check every point against the config.

A sweep parameter name is a config field name (flat or dotted), and ``wandb agent`` passes each
as ``--name=value`` to ``cli.py train``; lists arrive as their Python repr (``[1, 2, 4]``),
which the config parser accepts.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from unet1d.config import load_config
from unet1d.errors import ConfigError, UserError

METHODS = ("grid", "random", "bayes")


def read_sweep(path: Path) -> dict[str, Any]:
    """Load a sweep YAML and check its shape: method, parameters, and a command that runs `train`."""
    from unet1d.config import read_yaml

    sweep = read_yaml(path)
    method = sweep.get("method")
    if method not in METHODS:
        raise UserError(f"{path}: method={method!r} is not allowed; choose one of {', '.join(METHODS)}")
    parameters = sweep.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise UserError(f"{path}: 'parameters' must map config field names to value specs")
    for name, spec in parameters.items():
        if not isinstance(spec, dict) or not ({"value", "values", "min", "max"} & set(spec)):
            raise UserError(f"{path}: parameter {name!r} needs 'value', 'values' or 'min'/'max', got {spec!r}")
        if method == "grid" and not ({"value", "values"} & set(spec)):
            raise UserError(f"{path}: grid parameter {name!r} needs 'value' or 'values' (a grid cannot use ranges)")
    command = sweep.get("command")
    if command is not None and "train" not in command:
        raise UserError(f"{path}: command {command} does not run the `train` subcommand")
    return sweep


def points(sweep: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of listed values; ranges contribute their two ends (enough to validate them)."""
    names = list(sweep["parameters"])
    choices = []
    for spec in sweep["parameters"].values():
        if "values" in spec:
            choices.append(list(spec["values"]))
        elif "value" in spec:
            choices.append([spec["value"]])
        else:
            choices.append([spec["min"], spec["max"]])
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def agent_args(point: dict[str, Any]) -> list[str]:
    """The flags `wandb agent` builds for one run: ``--name=value``."""
    return [f"--{name}={value}" for name, value in point.items()]


def validate_sweep(path: Path, base_args: list[str] | None = None) -> list[dict[str, Any]]:
    """Check every point of the sweep as a full config; the first invalid one is a :class:`UserError`."""
    sweep = read_sweep(path)
    checked = points(sweep)
    for point in checked:
        try:
            load_config(None, [*(base_args or []), *agent_args(point)])
        except ConfigError as err:
            raise UserError(f"{path}: the point {point} is invalid: {err}") from None
    return checked


def run_name(point: dict[str, Any], index: int, varying: set[str] | None = None) -> str:
    """A folder name for a local run, naming only what varies: ``003-mid_structure=attention-seed=1``."""
    shown = {name: value for name, value in point.items() if varying is None or name in varying}
    parts = [f"{name.split('.')[-1]}={value}" for name, value in shown.items()]
    text = "-".join(parts).replace("/", "_").replace(" ", "")
    return f"{index:03d}-{text}".rstrip("-")[:120]


def varying_names(listed: list[dict[str, Any]]) -> set[str]:
    """Parameters that take more than one value across the points."""
    return {name for name in listed[0] if len({repr(p[name]) for p in listed}) > 1} if listed else set()


def train_command(point: dict[str, Any], output_dir: Path, extra: list[str]) -> list[str]:
    """The subprocess a local sweep runs for one point (W&B offline unless `extra` says otherwise)."""
    import sys

    return [
        sys.executable, "-m", "unet1d.cli", "train", *agent_args(point),
        "--wandb_mode=offline", f"--output_dir={output_dir}", *extra,
    ]  # fmt: skip


__all__ = ["agent_args", "points", "read_sweep", "run_name", "train_command", "validate_sweep", "varying_names"]
