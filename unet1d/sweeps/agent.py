"""The agent's two command lines: ``wandb agent`` for a registered sweep, and the command it runs per run.

:func:`agent_command` is what ``unet1d sweep agent`` starts; :func:`run_command` is what that
agent (and ``unet1d sweep local``, standing in for it) starts for one run of the sweep: the
YAML's ``command`` with wandb's own macro expansion.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from typing import Any

from unet1d.errors import UserError
from unet1d.notices import warn

SWEEP_ID = re.compile(r"^([\w.-]+/){0,2}[a-z0-9]+$")


def agent_command(sweep_id: str, count: int | None = None) -> list[str]:
    """The `wandb agent` command for a registered sweep (``[entity/][project/]id``)."""
    if not SWEEP_ID.match(sweep_id):
        raise UserError(
            f"sweep id {sweep_id!r} is not a W&B sweep id; expected ID, PROJECT/ID or ENTITY/PROJECT/ID "
            "(as printed by `unet1d sweep create`)"
        )
    forward = ["--forward-signals"] if agent_forwards_signals() else []
    if not forward:
        warn("this wandb's agent cannot hand a stop signal on to its run (no --forward-signals; upgrade wandb): a "
             "stopped agent leaves its run training until it is killed, with no checkpoint", once=True)  # fmt: skip
    return [sys.executable, "-m", "wandb", "agent", *forward, *(["--count", str(count)] if count else []), sweep_id]


def agent_forwards_signals() -> bool:
    """Whether this wandb's agent can pass SIGTERM on to its run (``--forward-signals``). Without it the agent
    dies at the signal and leaves the run, in a process group of its own, training on until SIGKILL: no
    checkpoint, and W&B sees a crash rather than a preemption to requeue."""
    from wandb import wandb_agent

    return "forward_signals" in inspect.signature(wandb_agent.agent).parameters


def agent_environment(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with this Python's folder first on PATH: wandb's agent runs ``${interpreter}`` as the word
    ``python``, which must be this environment's (a venv never activated gave the system's, without torch)."""
    folder = os.path.dirname(sys.executable)
    return {**environ, "PATH": os.pathsep.join([folder, *filter(None, [environ.get("PATH")])])}


def run_command(sweep: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The command ``wandb agent`` would run for ``config``: the YAML's ``command`` (or W&B's default),
    macros expanded by wandb's own helpers; ``${interpreter}`` is this Python, so the venv is used."""
    from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

    template = [str(part) for part in sweep.get("command") or []]
    values = create_sweep_command_args({"args": {name: {"value": value} for name, value in config.items()}})
    values |= {"env": ["/usr/bin/env"], "interpreter": [sys.executable], "program": [str(sweep.get("program", ""))]}
    command: list[str] = []
    for part in create_sweep_command(template or None):
        part = str(part)
        if part.startswith("${") and part.endswith("}"):
            command += [str(v) for v in values.get(part[2:-1]) or []]
        else:
            command.append(part)
    return command
