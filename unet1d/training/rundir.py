"""The output directory: whose run it holds, and whether we may train into it.

Checked read-only on every rank before anything starts, so a refusal reaches all ranks alike
(no rank is left waiting at a barrier for one that raised).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from unet1d.config import Config, config_from_dict
from unet1d.errors import UserError
from unet1d.training import checkpoints
from unet1d.training.tracking import RUN_ID_FILE

RUN_CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
# Fields that may differ between a run and its continuation without changing what it trains.
NOT_THE_RUN = {
    "train.output_dir",
    "train.resume",
    "train.overwrite",
    "train.max_steps",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.eval_every",
    "train.max_nonfinite_steps",
    "launch.machine_rank",
    "launch.main_process_ip",
    "launch.main_process_port",
    "launch.collective_timeout_s",
}
NOT_THE_RUN_SECTIONS = {"logging"}
# What a run writes into output_dir; --overwrite removes exactly these.
RUN_OUTPUTS = (checkpoints.CHECKPOINTS_DIR, "tensorboard", "wandb", "eval", RUN_CONFIG_FILE, SUMMARY_FILE, RUN_ID_FILE)


def run_differences(before: Config, after: Config) -> list[str]:
    """``["optim.lr: 0.0002 -> 0.001", ...]`` over the fields that define a run."""
    old, new = before.flat(), after.flat()
    return [
        f"{key}: {old[key]!r} -> {new[key]!r}"
        for key in new
        if old.get(key) != new[key] and key not in NOT_THE_RUN and key.split(".")[0] not in NOT_THE_RUN_SECTIONS
    ]


def _listing(differences: list[str]) -> str:
    shown = differences[:6] + ([f"... and {len(differences) - 6} more"] if len(differences) > 6 else [])
    return "\n  " + "\n  ".join(shown)


@dataclass
class RunPlan:
    """What this invocation does with output_dir: resume from a checkpoint, wipe it first, or neither."""

    output_dir: Path
    resume_from: Path | None
    resume_step: int | None
    wipe: bool


def plan_run(config: Config) -> RunPlan:
    """Decide (without writing anything) how this run may use its output directory."""
    train = config.train
    output_dir = Path(train.output_dir)
    if train.overwrite and train.resume:
        raise UserError("--overwrite starts the run again and --resume continues it; give one of them")
    if train.overwrite:
        return RunPlan(output_dir, None, None, wipe=True)
    resume_from = _resume_source(config)
    if resume_from is not None:
        differences = run_differences(checkpoints.read_config(resume_from), config)
        if differences:
            raise UserError(
                f"cannot resume {resume_from}: the run's config differs from this one in"
                f"{_listing(differences)}\nresume with the same settings, or start a new run "
                "(another --output_dir, or --overwrite)"
            )
        step = int(checkpoints.read_marker(resume_from)["step"])
        return RunPlan(output_dir, resume_from, step, wipe=False)
    stored = output_dir / RUN_CONFIG_FILE
    if stored.is_file():
        differences = run_differences(config_from_dict(yaml.safe_load(stored.read_text()), str(stored)), config)
        if differences:
            raise UserError(
                f"{output_dir} holds a different run; its config differs in{_listing(differences)}\n"
                "choose another --output_dir, or pass --overwrite to replace that run"
            )
        latest = checkpoints.latest_checkpoint(output_dir)
        if latest is not None:
            raise UserError(
                f"{output_dir} already holds this run's checkpoints (up to {latest.name}); "
                "pass --resume auto to continue it, or --overwrite to start it again"
            )
    return RunPlan(output_dir, None, None, wipe=False)


def _resume_source(config: Config) -> Path | None:
    """``--resume auto``: the latest checkpoint in output_dir, if any; ``--resume PATH``: that one."""
    resume = config.train.resume
    if not resume:
        return None
    if resume.strip().lower() == "auto":
        return checkpoints.latest_checkpoint(Path(config.train.output_dir))
    return checkpoints.find_checkpoint(resume)


def wipe_run(output_dir: Path) -> None:
    """Remove a previous run's outputs (and nothing else a user may keep in the directory)."""
    for name in RUN_OUTPUTS:
        target = output_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def write_run_config(output_dir: Path, config: Config) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / RUN_CONFIG_FILE).write_text(config.to_yaml())
