"""Sweep files: every point of every sweep in sweeps/ is a valid config, spelled as `wandb agent` spells it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from unet1d.config import load_config
from unet1d.errors import UserError
from unet1d.sweeps import agent_args, points, read_sweep, run_name, validate_sweep, varying_names

SWEEPS = sorted((Path(__file__).resolve().parents[1] / "sweeps").glob("*.yaml"))


def test_the_structure_and_head_sweeps_exist() -> None:
    assert {path.name for path in SWEEPS} >= {"mid_structure.yaml", "mid_num_heads.yaml"}


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_sweep_file_runs_our_cli(path: Path) -> None:
    sweep = read_sweep(path)
    assert sweep["program"] == "cli.py"
    # each agent run gets its own folder, and a requeued (preempted) run resumes from it
    assert sweep["command"][3:] == ["train", "--output_dir=runs/sweeps/{sweep_id}/{run_id}", "--resume=auto", "${args}"]
    assert sweep["metric"]["name"].startswith(("val/", "train/"))


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_every_point_validates_and_sets_what_it_names(path: Path) -> None:
    checked = validate_sweep(path)
    assert checked
    for point in checked:
        config = load_config(None, agent_args(point), environ={}).model_dump()
        for name, value in point.items():
            section = next(s for s, fields in config.items() if name in fields)
            assert config[section][name] == value


def test_points_are_the_full_grid() -> None:
    sweep = {"parameters": {"a": {"values": [1, 2, 3]}, "b": {"value": "x"}, "c": {"values": [True, False]}}}
    listed = points(sweep)
    assert len(listed) == 6 and {"a": 3, "b": "x", "c": False} in listed


def test_lists_travel_in_the_agents_spelling() -> None:
    point = {"channel_mults": [1, 2, 4, 8], "mid_structure": "conv"}
    assert agent_args(point) == ["--channel_mults=[1, 2, 4, 8]", "--mid_structure=conv"]
    assert load_config(None, agent_args(point), environ={}).model.channel_mults == [1, 2, 4, 8]


HEADS_SWEEP = {
    "method": "grid",
    "parameters": {"mid_num_heads": {"values": [8, 7]}, "mid_structure": {"value": "attention"}},
}


def write(tmp_path: Path, sweep: dict) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


@pytest.mark.parametrize(
    ("sweep", "fragment"),
    [
        (HEADS_SWEEP, "mid_num_heads=7"),
        ({"method": "grid", "parameters": {"mid_num_head": {"values": [8]}}}, "did you mean 'mid_num_heads'"),
        ({"method": "grid", "parameters": {"lr": {"min": 1e-4, "max": 1e-3}}}, "a grid cannot use ranges"),
        ({"method": "random", "parameters": {"lr": {"min": -1.0, "max": 1e-3}}}, "optim.lr"),
        ({"method": "hyperband", "parameters": {"lr": {"value": 1e-3}}}, "method='hyperband' is not allowed"),
        ({"method": "grid", "parameters": {}}, "'parameters' must map"),
    ],
)  # fmt: skip
def test_bad_sweeps_are_refused_with_the_reason(tmp_path: Path, sweep: dict, fragment: str) -> None:
    with pytest.raises(UserError) as caught:
        validate_sweep(write(tmp_path, sweep))
    assert fragment in str(caught.value) and "sweep.yaml" in str(caught.value)


def test_run_names_are_distinct_and_name_what_varies() -> None:
    listed = points(read_sweep(next(path for path in SWEEPS if path.name == "mid_structure.yaml")))
    varying = varying_names(listed)
    names = {run_name(point, i, varying) for i, point in enumerate(listed)}
    assert len(names) == len(listed) and not any("/" in n for n in names)
    assert (
        varying == {"mid_structure", "seed"}
        and "001-mid_structure=conv-seed=1" in names
        and "005-mid_structure=attention-seed=2" in names
    )
