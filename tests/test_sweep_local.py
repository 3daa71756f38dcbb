"""`unet1d sweep local`: K points at a time with cores/K threads each; a second pass leaves finished runs alone."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from unet1d.training.launch import available_cores


@pytest.mark.slow
def test_parallel_points_share_the_cores_and_a_second_pass_skips_finished_runs(isolated_wandb, tiny_flags, tmp_path):
    sweep = {"method": "grid", "parameters": {"seed": {"values": [0, 1]}}}
    sweep_file = tmp_path / "pair.yaml"
    sweep_file.write_text(yaml.safe_dump(sweep))
    env = {k: v for k, v in isolated_wandb.items() if k != "OMP_NUM_THREADS"}  # threads come from --parallel alone
    command = [sys.executable, "-m", "unet1d.cli", "sweep", "local", str(sweep_file), "--output-root", str(tmp_path)]
    command += ["--parallel", "2", *tiny_flags, "--max_steps", "5", "--wandb_mode", "disabled"]

    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count(f"cpu, {max(1, available_cores() // 2)} CPU threads each)") == 2
    runs = [tmp_path / "pair" / name for name in ("000-seed=0", "001-seed=1")]
    summaries = [(run / "summary.json").read_bytes() for run in runs]

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count(": finished, skipped") == 2 and "training conv-middle" not in second.stdout
    assert [(run / "summary.json").read_bytes() for run in runs] == summaries
