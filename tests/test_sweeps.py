"""Every point of every sweep in sweeps/ is a valid config, spelled the way `wandb agent` spells it."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from unet1d.config import load_config

SWEEPS = sorted((Path(__file__).resolve().parents[1] / "sweeps").glob("*.yaml"))


def agent_args(point: dict[str, object]) -> list[str]:
    """`${args}` in a sweep command: `--name=value`, lists as their Python repr (`[1, 2, 4]`)."""
    return [f"--{name}={value}" for name, value in point.items()]


def grid_points(parameters: dict[str, dict]) -> list[dict[str, object]]:
    names = list(parameters)
    choices = [spec["values"] if "values" in spec else [spec["value"]] for spec in parameters.values()]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def test_there_are_sweeps() -> None:
    assert {path.name for path in SWEEPS} >= {"mid_structure.yaml", "mid_num_heads.yaml"}


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_sweep_file_runs_our_cli(path: Path) -> None:
    sweep = yaml.safe_load(path.read_text())
    assert sweep["program"] == "cli.py"
    assert sweep["command"][3:] == ["train", "${args}"]
    assert sweep["metric"]["name"].startswith(("val/", "train/"))


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_every_grid_point_validates(path: Path) -> None:
    sweep = yaml.safe_load(path.read_text())
    assert sweep["method"] == "grid"
    points = grid_points(sweep["parameters"])
    assert points
    for point in points:
        config = load_config(None, agent_args(point), environ={})
        for name, value in point.items():
            section = next(s for s, v in config.model_dump().items() if name in v)
            assert config.model_dump()[section][name] == value
