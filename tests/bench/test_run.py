"""bench/run.py's plumbing at its --smoke size: every key the README quotes is written (nothing is timed here)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_smoke_run_writes_every_key(tmp_path, isolated_wandb):
    out = tmp_path / "run.json"
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--device", "cpu", "--json", str(out)],
        capture_output=True, text=True, env=isolated_wandb, timeout=600, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    for key in (
        "harness_efficiency",
        "ddim50_speedup",
        "ddim50_fd_ratio",
        "help_s",
        "c2st_parallel_speedup",
        "c2st_threads_speedup",
    ):
        assert math.isfinite(result[key]) and result[key] > 0, key
    assert set(result["vs_peers"]) == {"lucidrains", "diffusers"}
    assert set(result["sampling"]["samplers"]) == {"ddpm1000", "ddim50", "ddim20", "dpm20", "dpm20-bf16"}
    for row in result["sampling"]["samplers"].values():
        assert set(row["scores"]) == {"frechet_distance", "precision", "recall", "poses_outside_limits_tol"}
        assert row["poses_per_s"] > 0
    # DDPM takes every one of the 1000 steps, DDIM-50 only 50: anything near 1 means the samplers were mixed up.
    assert result["ddim50_speedup"] > 5
    assert {"ours conv", "ours attention-8"} <= set(result["quality_per_compute"]["rows"])
    lengths = {(row["block"], row["length"]) for row in result["mid_block"]}
    assert lengths == {(block, length) for block in ("conv", "attention") for length in (18, 36)}
    # read back, not scored again (that would be ~1): a bound with room for a busy machine, not a speed target,
    # which the bench's own table reports (10x was missed at 9.86 on a loaded CI run)
    assert result["baselines_cached_speedup"] > 3
    assert result["scoring"]["c2st_pool"] == "processes"  # timed where unet1d eval runs its folds (Linux forks)
    assert "| harness_efficiency" in done.stdout and "| ddim50_speedup" in done.stdout
