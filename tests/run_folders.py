"""Run folders built by hand, as training leaves them: config.yaml, summary.json, TensorBoard events
(written by torch's SummaryWriter with chosen wall times) and eval/step-N.json. Faster than training
and every number is known, so compare, its plots and its reports can be checked against them."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from unet1d.config_sources import load_config


def make_run(
    folder: Path,
    *flags: str,
    summary: dict | None = None,
    scalars: dict[str, list[tuple[int, float, float]]] | None = None,
    evaluation: dict | None = None,
) -> Path:
    """A finished run in ``folder``: the config of ``flags``, ``summary``, ``scalars[tag] = [(step, wall, value)]``."""
    from torch.utils.tensorboard import SummaryWriter

    folder.mkdir(parents=True, exist_ok=True)
    final_step = max((step for points in (scalars or {}).values() for step, _, _ in points), default=100)
    given = (summary or {}).get("final_step", final_step)
    budget = [] if "--max_steps" in flags or not isinstance(given, int) else ["--max_steps", str(max(given, 1))]
    config = load_config(None, [*budget, *flags, "--output_dir", str(folder)], environ={})  # a finished run's
    (folder / "config.yaml").write_text(config.to_yaml())
    (folder / "summary.json").write_text(json.dumps({"final_step": final_step, **(summary or {})}))
    if scalars:
        writer = SummaryWriter(str(folder / "tensorboard"))
        for tag, points in scalars.items():
            for step, wall_time, value in points:
                writer.add_scalar(tag, value, step, walltime=wall_time)
        writer.close()
    if evaluation is not None:
        (folder / "eval").mkdir(exist_ok=True)
        (folder / "eval" / f"step-{final_step}.json").write_text(json.dumps(evaluation))
    return folder


def stored_config(folder: Path) -> dict:
    return yaml.safe_load((folder / "config.yaml").read_text())
