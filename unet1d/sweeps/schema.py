"""W&B sweep files: read them, check them against W&B's schema, list their points, and check every
point against the config.

A sweep parameter name is a config field name (flat or dotted), and ``wandb agent`` passes each
as ``--name=value`` to ``cli.py train``; lists arrive as their Python repr (``[1, 2, 4]``),
which the config parser accepts. W&B's own ``sweeps`` package (the engine the W&B server runs)
supplies the schema, the parameter distributions and the grid, so what passes here passes there.
"""

from __future__ import annotations

import difflib
import itertools
import math
import random
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unet1d.config import Config
from unet1d.config_sources import load_config, read_yaml
from unet1d.errors import ConfigError, UserError
from unet1d.metric_registry import (
    BY_NAME,
    TRAIN_SCALARS,
    VAL_LOSS,
    VAL_LOSS_EMA,
    block_names,
    eval_metrics,
    timestep_bucket_names,
)
from unet1d.sweeps.agent import run_command

with warnings.catch_warnings():  # W&B's sweep engine declares pydantic-v1-style models: its import warns
    warnings.simplefilter("ignore")
    from sweeps.params import HyperParameter, HyperParameterSet

    import sweeps

METHODS = ("grid", "random", "bayes")
SAMPLED_POINTS = 32  # random/bayes: random points checked besides every bound


@dataclass
class InvalidPoint:
    """A point of a sweep that is not a valid config, and why."""

    point: dict[str, Any]
    reason: str


EXAMPLE_COMMAND = (
    "[${env}, ${interpreter}, ${program}, train, --output_dir=runs/sweeps/{sweep_id}/{run_id}, --resume=auto, ${args}]"
)
# W&B's macros that pass a point's parameters as --name=value (booleans too, or all but booleans).
ARGUMENT_MACROS = ("${args}", "${args_no_boolean_flags}")


def read_sweep(path: Path) -> dict[str, Any]:
    """Load a sweep YAML and check it against W&B's sweep schema and our command; every problem at once."""
    sweep = read_yaml(path)
    problems = schema_problems(sweep) + command_problems(sweep) + metric_problems(sweep)
    if problems:
        raise UserError(f"{path}: not a valid sweep:\n  " + "\n  ".join(problems))
    return sweep


def command_problems(sweep: dict[str, Any]) -> list[str]:
    """Whether the sweep's command runs ``train`` with each point's parameters, from a program it names."""
    command = sweep.get("command")
    if not isinstance(command, list) or "train" not in command:
        return [
            f"command={command} must run the `train` subcommand, e.g. {EXAMPLE_COMMAND} "
            "(W&B's default command would pass the arguments to cli.py without it)"
        ]
    problems = []
    if not any(macro in command for macro in ARGUMENT_MACROS):
        problems.append(
            f"command={command} passes no parameters: without ${{args}} every run would train the same "
            f"config; e.g. {EXAMPLE_COMMAND}"
        )
    if "${program}" in command and not sweep.get("program"):
        problems.append("'program' is missing: the command runs ${program}; this project's sweeps use program: cli.py")
    return problems


def metric_problems(sweep: dict[str, Any]) -> list[str]:
    """A metric that bayes search and early termination need, named as a run logs it."""
    metric = sweep.get("metric")
    name = metric.get("name") if isinstance(metric, dict) else None
    needs = [why for why, needed in (("method: bayes", sweep.get("method") == "bayes"),
                                     ("early_terminate", bool(sweep.get("early_terminate")))) if needed]  # fmt: skip
    if name is None and needs:
        verb = "needs" if len(needs) == 1 else "need"
        return [f"{' and '.join(needs)} {verb} a metric: e.g. metric: {{name: val/loss, goal: minimize}}"]
    if name is None:
        return []
    if not isinstance(name, str) or not logged_metric(name):
        close = difflib.get_close_matches(str(name), [*TRAIN_EXAMPLES, *known_metrics()], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return [
            f"metric.name={name!r} is not a metric a run logs{hint} ({', '.join(TRAIN_EXAMPLES)} and the rest of "
            "docs/usage.md's train/ list, val/loss, val/loss_ema, or quality/NAME and eval/NAME for a score of "
            "eval/step-N.json)"
        ]
    return []


# The train/ names a run logs (docs/usage.md's list): the timestep buckets and network blocks take their
# numbers from the config, so by name they are patterns; each point's config gives the exact ones.
_BLOCKS = "|".join(dict.fromkeys(re.sub(r"\d+$", r"\\d+", name) for name in block_names(2)))  # down\d+ ...
TRAIN_METRIC = re.compile(rf"train/({'|'.join(TRAIN_SCALARS)}|loss_t\d+-\d+|grad_norm/({_BLOCKS}))")
TRAIN_EXAMPLES = ["train/loss", "train/lr", "train/grad_norm", "train/param_norm", "train/samples_per_s"]


def known_metrics() -> list[str]:
    """The val/, quality/ and eval/ names a run logs: the probe's quality/ scores leave the prior's tasks out."""
    probed = [metric.name for metric in eval_metrics() if not metric.task]
    return [VAL_LOSS, VAL_LOSS_EMA, *(f"quality/{name}" for name in probed),
            *(f"eval/{metric.name}" for metric in eval_metrics())]  # fmt: skip


def logged_metric(name: str) -> bool:
    return TRAIN_METRIC.fullmatch(name) is not None or name in known_metrics()


def train_metrics(config: Config) -> set[str]:
    """The train/ names a run of ``config`` logs."""
    scalars = {f"train/{name}" for name in TRAIN_SCALARS if name != "scaler_skips" or
               config.train.mixed_precision == "fp16"}  # fmt: skip
    blocks = {f"train/grad_norm/{name}" for name in block_names(len(config.model.channel_mults))}
    return scalars | blocks | set(timestep_bucket_names(config.diffusion.num_timesteps))


def metric_unlogged(name: str, config: Config) -> str | None:
    """Why a run of ``config`` would not log the metric ``name`` (a valid name), or None when it would."""
    evaluation, data = config.evaluation, config.data
    if name.startswith("train/") and name not in train_metrics(config):
        return f"{name} is not logged by a run of this config (its names: docs/usage.md's train/ list)"
    if name.startswith("train/grad_norm/") and config.logging.grad_norm_every > config.train.max_steps:
        return f"{name} is logged every grad_norm_every={config.logging.grad_norm_every} steps, past max_steps"
    if name.startswith("val/") and data.val_fraction == 0 and data.val_files is None and data.split == "hash":
        return f"{name} is a validation loss, and val_fraction=0 holds out nothing"
    if name == VAL_LOSS_EMA and not config.optim.ema:
        return f"{name} is the EMA weights' loss, and ema=false keeps none"
    if name.startswith("quality/") and not 0 < evaluation.quality_every <= config.train.max_steps:
        return f"{name} is logged by the quality probe, and quality_every={evaluation.quality_every} runs none"
    if name.startswith("eval/") and evaluation.final_eval_samples == 0:
        return f"{name} is logged by the final evaluation, and final_eval_samples=0 turns it off"
    if name.startswith("eval/") and BY_NAME[name.removeprefix("eval/")].task and evaluation.task_poses == 0:
        return f"{name} is a task score, and task_poses=0 turns them off"
    return None


def engine() -> Any:
    """W&B's ``sweeps`` package (its engine: ``next_run``, ``stop_runs``, ``RunState``, ``SweepRun``)."""
    return sweeps


def schema_problems(sweep: dict[str, Any]) -> list[str]:
    """What W&B's schema (and its min < max checks) says is wrong with ``sweep``; [] when nothing."""
    schema_violations_from_proposed_config = engine().schema_violations_from_proposed_config

    method = sweep.get("method")
    problems = []
    if method not in METHODS:
        problems.append(f"method={method!r} is not allowed; choose one of {', '.join(METHODS)}")
    parameters = sweep.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        return [*problems, "'parameters' must map config field names to value specs"]
    bad_specs = [name for name, spec in parameters.items() if not isinstance(spec, dict)]
    if bad_specs:
        return [*problems, *(f"parameter {name!r} must be a mapping such as {{values: [...]}}" for name in bad_specs)]
    nested = [name for name, spec in parameters.items() if "parameters" in spec]
    if nested:  # W&B nests them under a key of its own, which would reach the config as a field name
        return [
            *problems,
            *(
                f"parameter {name!r} nests parameters, which unet1d sweeps do not take; name each field flat "
                f"({field}) or dotted ({name}.{field})"
                for name in nested
                for field in [next(iter(parameters[name]["parameters"] or {}), "FIELD")]
            ),
        ]
    try:
        problems += schema_violations_from_proposed_config(sweep)
    except ValueError as err:
        problems.append(str(err))
    if method == "grid":
        for name, spec in parameters.items():
            if not ({"value", "values"} & set(spec)) and spec.get("distribution") != "int_uniform":
                problems.append(f"grid parameter {name!r} needs 'value' or 'values' (a grid cannot use ranges)")
    return list(dict.fromkeys(problems))


def _plain(value: Any) -> Any:
    """numpy scalars (what the engine's distributions return) as Python values."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, dict)) else value


def points(sweep: dict[str, Any]) -> list[dict[str, Any]]:
    """Every grid point (the engine's grid: listed values, int ranges expanded), in the engine's order."""
    names, choices = [], []
    for parameter in HyperParameterSet.from_config(sweep["parameters"]):
        names.append(parameter.name)
        if parameter.type == HyperParameter.CONSTANT:
            choices.append([parameter.config["value"]])
        elif parameter.type == HyperParameter.INT_UNIFORM:
            choices.append(list(range(parameter.config["min"], parameter.config["max"] + 1)))
        elif "values" in parameter.config:
            choices.append(list(parameter.config["values"]))
        else:
            raise UserError(f"parameter {parameter.name!r} is a range; a grid needs listed values")
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def search_points(sweep: dict[str, Any], samples: int = SAMPLED_POINTS, seed: int = 0) -> list[dict[str, Any]]:
    """Points enough to validate a random/bayes sweep: every listed value and every range bound (the
    others at their medians), then ``samples`` points drawn by the engine's own distributions."""
    parameters = list(HyperParameterSet.from_config(sweep["parameters"]))
    edges = {p.name: _edges(p) for p in parameters}
    middle = {p.name: _plain(p.ppf(0.5)) for p in parameters}
    listed = [{**middle, name: value} for name, values in edges.items() for value in values]
    state = random.getstate()
    random.seed(seed)
    try:
        listed += [{p.name: _plain(p.sample()) for p in parameters} for _ in range(samples)]
    finally:
        random.setstate(state)
    unique = {repr(sorted(point.items())): point for point in listed}
    return list(unique.values())


# Distributions whose min and max are values a run gets (log_uniform's are exponents, normal's absent)
VALUE_BOUNDS = frozenset(
    {"int_uniform", "uniform", "q_uniform", "log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"}
)


def _edges(parameter: Any) -> list[Any]:
    """Every value of a listed parameter; the two ends of a range (0.1% / 99.9% of an unbounded one)."""
    if "values" in parameter.config:
        return list(parameter.config["values"])
    if "value" in parameter.config:
        return [parameter.config["value"]]
    if parameter.config.get("distribution") in VALUE_BOUNDS and {"min", "max"} <= set(parameter.config):
        # the values W&B draws lie in [min, max]; an integer distribution's ppf(0) is min - 1, never drawn
        return [parameter.config["min"], parameter.config["max"]]
    ends = [_plain(parameter.ppf(0.0)), _plain(parameter.ppf(1.0))]
    if not all(isinstance(end, (int, float)) and math.isfinite(end) for end in ends):
        ends = [_plain(parameter.ppf(0.001)), _plain(parameter.ppf(0.999))]
    return ends


def agent_args(point: dict[str, Any]) -> list[str]:
    """The flags `wandb agent` builds for one run: ``--name=value``."""
    return [f"--{name}={value}" for name, value in point.items()]


def invalid_points(checked: list[dict[str, Any]], base_args: list[str] | None = None) -> list[InvalidPoint]:
    """Every point that is not a valid config, with the config's reason."""
    invalid = []
    for point in checked:
        try:
            load_config(None, [*(base_args or []), *agent_args(point)], environ={})
        except ConfigError as err:
            invalid.append(InvalidPoint(point, str(err).removeprefix("invalid configuration: ")))
    return invalid


def validate_sweep(path: Path, base_args: list[str] | None = None) -> list[dict[str, Any]]:
    """The points checked (every grid point; bounds and a sample for random/bayes); any invalid one is
    a :class:`UserError` naming every invalid point and its reason."""
    sweep = read_sweep(path)
    checked = points(sweep) if sweep["method"] == "grid" else search_points(sweep)
    invalid = invalid_points(checked, base_args)
    if invalid:
        reasons = {bad.reason for bad in invalid}
        if len(invalid) == len(checked) > 1 and len(reasons) == 1:  # one reason for all (a misspelt name): once
            lines = [f"every point: {reasons.pop()}"]
        else:
            lines = [f"{bad.point}: {bad.reason}" for bad in invalid]
        raise UserError(f"{path}: {len(invalid)} of {len(checked)} points are invalid:\n  " + "\n  ".join(lines))
    return checked


def unlogged_metric(
    sweep: dict[str, Any], checked: list[dict[str, Any]], base_args: list[str], *, from_tensorboard: bool
) -> list[str]:
    """Why runs of the points checked would not give the engine the sweep's metric, each reason once: the
    probe or evaluation that logs it turned off, or (``sweep local``, whose engine reads TensorBoard) no
    TensorBoard. Before, every point validated and the engine searched on an empty history without a word."""
    name = sweep.get("metric", {}).get("name") if isinstance(sweep.get("metric"), dict) else None
    if not name:
        return []
    reasons: list[str] = []
    for point in checked:
        config = point_config(sweep, point, base_args)
        reason = metric_unlogged(name, config)
        if reason is None and from_tensorboard and not config.logging.tensorboard:
            reason = f"`sweep local` reads {name} from TensorBoard, and tensorboard=false writes none"
        if reason is not None and reason not in reasons:
            reasons.append(reason)
    return reasons


def point_config(sweep: dict[str, Any], point: dict[str, Any], base_args: list[str]) -> Config:
    """The config a run of ``point`` trains with: the words after ``train`` in the command ``wandb agent`` runs
    for it (:func:`~unet1d.sweeps.agent.run_command`: a ``--final_eval_samples=0`` or ``--ema false`` in the
    command counts, ``${args_no_boolean_flags}`` leaves false booleans out), ``--config FILE`` read where the
    file is here, then the overrides. Words the check cannot read leave the point's own config: the points
    themselves were checked without them."""
    command = run_command(sweep, point)
    words = command[command.index("train") + 1 :] if "train" in command else []
    config_file = None
    for index, word in enumerate(words):
        if word in ("--config", "-c") and index + 1 < len(words):
            config_file, words = words[index + 1], [*words[:index], *words[index + 2 :]]
            break
        if word.startswith("--config="):
            config_file, words = word.split("=", 1)[1], [*words[:index], *words[index + 1 :]]
            break
    if config_file is not None and not Path(config_file).is_file():
        config_file = None  # where it runs, perhaps: not here
    try:
        return load_config(config_file, [*words, *base_args], environ={})
    except (ConfigError, UserError):
        return load_config(None, [*agent_args(point), *base_args], environ={})


def needs_metric(sweep: dict[str, Any]) -> bool:
    """Whether the engine decides by the metric (bayes search, early termination), not only shows it."""
    return sweep.get("method") == "bayes" or bool(sweep.get("early_terminate"))


def varying_names(listed: list[dict[str, Any]]) -> set[str]:
    """Parameters that take more than one value across the points."""
    return {name for name in listed[0] if len({repr(p[name]) for p in listed}) > 1} if listed else set()


__all__ = [
    "InvalidPoint",
    "agent_args",
    "invalid_points",
    "needs_metric",
    "point_config",
    "points",
    "read_sweep",
    "schema_problems",
    "search_points",
    "unlogged_metric",
    "validate_sweep",
    "varying_names",
]
