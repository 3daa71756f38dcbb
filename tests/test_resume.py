"""Exact resume: a run killed with SIGKILL and resumed ends bit-identical to one never stopped;
SIGTERM saves a checkpoint, exits non-zero, and the resumed run continues the same W&B run."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from unet1d.errors import UserError
from unet1d.training import train
from unet1d.training.checkpoints import latest_checkpoint, list_checkpoints


def wait_for_checkpoint(run_dir: Path, process: subprocess.Popen, timeout: float = 120) -> Path:
    """Poll until the run has published a complete checkpoint."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = latest_checkpoint(run_dir)
        if found is not None:
            return found
        if process.poll() is not None:
            raise AssertionError(f"the run ended before its first checkpoint:\n{process.stdout.read()}")
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared in time")


def assert_same_weights(a: Path, b: Path) -> None:
    for name in ("model.safetensors", "ema.safetensors"):
        left, right = load_file(str(a / name)), load_file(str(b / name))
        assert left.keys() == right.keys()
        different = [key for key in left if not torch.equal(left[key], right[key])]
        assert not different, f"{name}: {different[:5]} differ"


@pytest.mark.slow
def test_sigkill_then_resume_ends_bit_identical_to_an_uninterrupted_run(tiny_config, start_cli, tiny_flags, tmp_path):
    steps = ["--max_steps", "160", "--checkpoint_every", "20"]
    victim_dir = tmp_path / "killed"
    victim = start_cli("train", *tiny_flags, *steps, "--output_dir", str(victim_dir), "--wandb_mode", "disabled")
    first = wait_for_checkpoint(victim_dir, victim)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    killed_at = latest_checkpoint(victim_dir)
    assert killed_at is not None and int(killed_at.name.split("-")[1]) < 160, "the run was not killed mid-way"

    resumed = train(tiny_config(*steps, "--resume", "auto", output_dir=victim_dir))
    uninterrupted = train(tiny_config(*steps, output_dir=tmp_path / "reference"))

    assert resumed.final_step == uninterrupted.final_step == 160
    assert_same_weights(Path(resumed.checkpoint), Path(uninterrupted.checkpoint))
    assert first.name.startswith("step-")
    assert not list((victim_dir / "checkpoints").glob(".tmp-*"))  # a write the kill cut short is cleaned away


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_exits_nonzero_and_resume_continues_the_wandb_run(
    tiny_config, start_cli, tiny_flags, tmp_path
):
    run_dir = tmp_path / "run"
    flags = [*tiny_flags, "--output_dir", str(run_dir), "--wandb_mode", "offline", "--checkpoint_every", "20"]
    process = start_cli("train", *flags, "--max_steps", "100000")
    wait_for_checkpoint(run_dir, process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, output
    assert "SIGTERM: saving a checkpoint at step" in output

    stopped_at = latest_checkpoint(run_dir)
    step = json.loads((stopped_at / "checkpoint.json").read_text())["step"]
    assert stopped_at.name == f"step-{step}"
    assert not (run_dir / "summary.json").exists()  # not finished
    run_id = (run_dir / "wandb_run_id").read_text().strip()
    first_log = next((run_dir / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"))
    inspected = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(first_log)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    records = [json.loads(line) for line in inspected.stdout.splitlines() if line.startswith("{")]
    assert any(r["type"] == "preempting" for r in records)  # a sweep requeues a preempted run

    resumed = train(tiny_config("--wandb_mode", "offline", "--resume", "auto", "--max_steps", str(step + 10),
                                output_dir=run_dir))  # fmt: skip
    assert resumed.exit_code == 0 and resumed.final_step == step + 10
    assert len(list((run_dir / "wandb").glob(f"offline-run-*-{run_id}"))) == 2  # the same W&B run, continued


@pytest.mark.slow
def test_sigint_saves_a_checkpoint_and_the_process_exits_130(start_cli, tiny_flags, tmp_path):
    run_dir = tmp_path / "run"
    flags = [*tiny_flags, "--output_dir", str(run_dir), "--wandb_mode", "disabled", "--checkpoint_every", "20"]
    process = start_cli("train", *flags, "--max_steps", "100000")
    periodic = wait_for_checkpoint(run_dir, process)
    process.send_signal(signal.SIGINT)  # what Ctrl-C delivers
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGINT == 130, output
    step = int(re.search(r"SIGINT: saving a checkpoint at step (\d+)", output).group(1))
    stopped_at = latest_checkpoint(run_dir)
    assert stopped_at.name == f"step-{step}" and step >= int(periodic.name.split("-")[1])
    assert json.loads((stopped_at / "checkpoint.json").read_text())["step"] == step
    assert not (run_dir / "summary.json").exists()


def test_an_interrupted_checkpoint_write_never_looks_complete(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    train(tiny_config("--max_steps", "10"))
    good = latest_checkpoint(run_dir)
    partial = run_dir / "checkpoints" / ".tmp-step-20"  # what a kill during a save leaves behind
    shutil.copytree(good, partial)
    (partial / "checkpoint.json").unlink()
    assert latest_checkpoint(run_dir) == good

    result = train(tiny_config("--max_steps", "20", "--resume", "auto"))
    assert result.final_step == 20
    assert [p.name for p in list_checkpoints(run_dir)] == ["step-10", "step-20"]
    assert not partial.exists()


def test_resume_refuses_what_it_cannot_continue_exactly(tiny_config, tmp_path):
    train(tiny_config("--max_steps", "10"))
    with pytest.raises(UserError, match=r"config differs from this one in\n  model\.base_channels: 8 -> 16"):
        train(tiny_config("--max_steps", "20", "--resume", "auto", "--base_channels", "16"))
    with pytest.raises(UserError, match="does not exist"):
        train(tiny_config("--resume", str(tmp_path / "nowhere")))
    with pytest.raises(UserError, match="give one of them"):
        train(tiny_config("--resume", "auto", "--overwrite"))
    fresh = train(tiny_config("--max_steps", "10", "--resume", "auto", output_dir=tmp_path / "empty"))
    assert fresh.final_step == 10  # --resume auto with nothing to resume starts the run
