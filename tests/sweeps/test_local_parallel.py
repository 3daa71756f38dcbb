"""`unet1d sweep local`: K runs at a time with cores/K threads each; a second pass leaves finished runs alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sweeps.test_local import run_sweep
from unet1d.training.launch import available_cores


@pytest.mark.slow
def test_parallel_runs_share_the_cores_and_a_second_pass_leaves_finished_runs_alone(tmp_path: Path) -> None:
    sweep = {
        "method": "grid",
        "metric": {"name": "val/loss", "goal": "minimize"},
        "parameters": {"seed": {"values": [0, 1]}},
        "command": ["${env}", "${interpreter}", "${program}", "train", "${args}"],
    }
    args = ("--parallel", "2", "--max_steps", "5", "--wandb_mode", "disabled")
    first = run_sweep(tmp_path, sweep, *args, omp_threads=None)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    runs = json.loads((tmp_path / "tiny" / "sweep.json").read_text())["runs"]
    threads = max(1, available_cores() // 2)
    for run in runs:
        log = (tmp_path / "tiny" / run["run_id"] / "summary.json").read_bytes()
        assert log and run["state"] == "finished"
    assert first.stdout.count(f"cpu, {threads} CPU threads each)") == 2
    summaries = {run["run_id"]: (tmp_path / "tiny" / run["run_id"] / "summary.json").read_bytes() for run in runs}

    second = run_sweep(tmp_path, sweep, *args, omp_threads=None)

    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "training conv-middle" not in second.stdout
    assert {r: (tmp_path / "tiny" / r / "summary.json").read_bytes() for r in summaries} == summaries
