"""Issue 22's acceptance on the AMASS-convention fixture: a briefly trained model's samples stand upright in
the z-up world, with headings uniform about z, and the eval reports `upright` beside both baselines."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from unet1d.body.heading import heading_of, upright_share
from unet1d.data.synthetic_amass import write_amass_tree


@pytest.mark.slow
def test_samples_of_a_model_trained_on_z_up_amass_stand_upright(tmp_path) -> None:
    # Small and short: the steps were most of its CPU at 100 steps of 256 poses. Upright shares were 1.0 for
    # 30 and 100 steps of base_channels 16 and batch 256, and for 40 steps of batch 128 (seeds 0 and 1; the
    # threshold is 0.95), the heading KS p-values 0.69, 0.63, 0.68 and 0.57 on 300 samples (threshold 0.01).
    write_amass_tree(tmp_path / "amass", 100, clips_per_file=4, seed=0)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    cli = [sys.executable, "-m", "unet1d.cli"]
    subprocess.run(
        [*cli, "train", "--data", str(tmp_path / "amass"), "--split", "amass", "--base_channels", "16",
         "--max_steps", "40", "--batch_size", "128", "--threads", "1", "--output_dir", str(run),
         "--wandb_mode", "disabled", "--tensorboard", "false", "--quality_every", "0", "--final_eval_samples", "100",
         "--task_poses", "0", "--progress", "none"],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    subprocess.run([*cli, "sample", str(run), "--num-samples", "300", "--seed", "0", "-o", str(tmp_path / "s.npz")],
                   check=True, env=env, capture_output=True)  # fmt: skip
    poses = np.load(tmp_path / "s.npz")["poses"]
    assert upright_share(poses, "z") >= 0.95  # body up within 30 deg of +z, the data's own up
    headings = heading_of(poses, "z")
    assert stats.kstest(headings, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 0.01
    report = json.loads(next((run / "eval").glob("step-*.json")).read_text())
    assert report["upright"] >= 0.95 and report["limits"] == "human limits"
    assert report["baselines"]["data"]["upright"] > 0.95 and report["baselines"]["gaussian"]["upright"] is not None
