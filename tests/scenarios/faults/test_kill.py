"""kill -9 at random points of a run and of a sweep: whatever moment the kill lands on, every checkpoint left
is whole, the run folder reads back, and starting again finishes the work.

The moments are random (printed with their seed; set UNET1D_FAULTS_SEED to replay one). Checkpoints are
written every few steps, so a good share of the moments fall inside a save.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY_RUN
from tests.scenarios.faults.conftest import ROOT, environment, said, show, train, train_command
from unet1d.store import checkpoints

SEED = int(os.environ.get("UNET1D_FAULTS_SEED", time.time_ns() % 100_000))


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, ppid in parents.items() if ppid == parent]
        found += kids
        frontier += kids
    return found


def kill_all(process: subprocess.Popen) -> None:
    """kill -9 of a process and everything it started (sweep runs live in sessions of their own)."""
    family = [process.pid, *children(process.pid)]
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()


def assert_whole(run_dir: Path) -> dict[str, object]:
    found = show(run_dir)
    assert all(state == "whole" for state in found["checkpoints"].values()), found
    assert all(found.get(name, "reads back") == "reads back" for name in ("config.yaml", "summary.json")), found
    return found


@pytest.mark.slow  # three runs as processes
def test_kill_9_at_random_points_of_a_run_then_resume_finishes_it(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    run = tmp_path / "run"
    flags = ["--max_steps", "30", "--checkpoint_every", "2", "--keep_checkpoints", "2", "--eval_every", "30"]
    for _ in range(2):
        process = subprocess.Popen(
            train_command(run, *flags, "--resume", "auto"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=environment(tmp_path), cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        before = checkpoints.latest_checkpoint(run)

        def saved(before: Path | None = before, process: subprocess.Popen = process) -> bool:
            return checkpoints.latest_checkpoint(run) not in (None, before) or process.poll() is not None

        wait_for(saved)
        delay = rng.uniform(0.0, 1.5)
        time.sleep(delay)
        ended = process.poll() is not None
        kill_all(process)
        said(f"seed {SEED}: kill -9 of the run {delay:.2f} s after a new checkpoint appeared (had ended: {ended})")
        assert "Traceback" not in process.stderr.read()
        found = assert_whole(run)
        assert found["checkpoints"], "no checkpoint survived"
    result = train(tmp_path, run, *flags, "--resume", "auto")
    said(f"resume after the kills: exit {result.returncode}")
    assert result.returncode == 0, result.stderr[-3000:]
    found = assert_whole(run)
    assert "step-30" in found["checkpoints"] and json.loads((run / "summary.json").read_text())["final_step"] == 30


@pytest.mark.slow  # a sweep of two runs, killed and started again
def test_kill_9_of_a_sweep_and_its_runs_then_the_sweep_finishes(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    tiny = [flag for i, flag in enumerate(TINY_RUN) if "--lr" not in TINY_RUN[max(0, i - 1) : i + 1]]
    sweep_file = tmp_path / "tiny.yaml"
    sweep = {
        "program": "cli.py", "method": "grid", "metric": {"name": "val/loss", "goal": "minimize"},
        "parameters": {"lr": {"values": [1e-3, 2e-3]}},
        "command": ["${env}", "${interpreter}", "${program}", "train", "${args}"],
    }  # fmt: skip
    sweep_file.write_text(yaml.safe_dump(sweep))
    command = [sys.executable, "-m", "unet1d.cli", "sweep", "local", str(sweep_file), "--output-root", str(tmp_path),
               "--parallel", "2", *tiny, "--max_steps", "20", "--checkpoint_every", "2", "--eval_every", "20",
               "--wandb_mode", "disabled"]  # fmt: skip
    root = tmp_path / "tiny"

    def runs() -> list[dict]:
        path = root / "sweep.json"
        return json.loads(path.read_text())["runs"] if path.is_file() else []

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=environment(tmp_path), cwd=ROOT, start_new_session=True)  # fmt: skip
    wait_for(lambda: len(runs()) == 2 and all(checkpoints.latest_checkpoint(root / r["run_id"]) for r in runs()))
    delay = rng.uniform(0.0, 1.0)
    time.sleep(delay)
    kill_all(process)
    said(f"seed {SEED + 1}: kill -9 of a sweep and its two runs {delay:.2f} s after both had a checkpoint")
    assert "Traceback" not in process.stderr.read()
    recorded = runs()  # sweep.json reads back: it is written atomically
    said(f"sweep.json after the kill: {[(r['run_id'], r['state']) for r in recorded]}")
    for run in recorded:
        assert_whole(root / run["run_id"])

    again = subprocess.run(command, capture_output=True, text=True, env=environment(tmp_path), cwd=ROOT, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    final = runs()
    said(f"the sweep started again: exit 0, runs {[(r['run_id'], r['state']) for r in final]}")
    assert [r["run_id"] for r in final] == [r["run_id"] for r in recorded]  # resumed, not proposed anew
    assert all(r["state"] == "finished" for r in final)
    for run in final:
        assert "step-20" in assert_whole(root / run["run_id"])["checkpoints"]
