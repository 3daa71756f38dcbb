"""One writer per run folder: the lock names a live holder, is taken over from a dead one, and `train` honours it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from unet1d.errors import UserError
from unet1d.store.checkpoints import latest_checkpoint
from unet1d.training.lock import LOCK_FILE, RunLock, hold_run_dir, is_main_process

HOLD = "import sys, time; from pathlib import Path; from unet1d.training.lock import RunLock; "
HOLD += "RunLock.acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(120)"


@pytest.fixture
def holder(tmp_path):
    """A separate process holding tmp_path/run's lock until killed."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait()


def test_a_live_holder_is_named_and_refused_then_its_stale_lock_is_taken_over(holder, tmp_path):
    with pytest.raises(UserError, match=rf"in use by another training run \(pid {holder.pid} on host "):
        RunLock.acquire(tmp_path / "run")
    holder.send_signal(signal.SIGKILL)  # dies without releasing: the lock file stays behind
    holder.wait()
    assert json.loads((tmp_path / "run" / LOCK_FILE).read_text())["pid"] == holder.pid

    lock = RunLock.acquire(tmp_path / "run")
    assert lock.previous is not None and lock.previous.pid == holder.pid
    recorded = json.loads((tmp_path / "run" / LOCK_FILE).read_text())
    assert recorded["pid"] == os.getpid() and recorded["host"] and recorded["started"]
    lock.release()
    assert not (tmp_path / "run" / LOCK_FILE).exists()


def test_the_lock_is_exclusive_within_a_process_and_free_again_after_the_block(tmp_path):
    with hold_run_dir(tmp_path / "run") as lock:
        assert lock is not None
        with pytest.raises(UserError, match=f"pid {os.getpid()}"):
            RunLock.acquire(tmp_path / "run")
    with hold_run_dir(tmp_path / "run"):
        pass
    with hold_run_dir(tmp_path / "other", environ={"RANK": "1"}) as lock:  # other ranks write no lock
        assert lock is None and not (tmp_path / "other").exists()


def test_a_file_in_the_way_is_refused_and_a_folder_made_for_a_run_that_failed_is_not_left_behind(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a run folder\n")
    for output_dir in (blocker, blocker / "run"):
        with pytest.raises(UserError, match=f"train.output_dir {output_dir}: {blocker} is a file, not a folder"):
            RunLock.acquire(output_dir)

    new, kept = tmp_path / "new", tmp_path / "kept"
    kept.mkdir()
    for output_dir in (new, kept):
        with pytest.raises(UserError), hold_run_dir(output_dir, environ={}):
            raise UserError("the data could not be read")  # what a refused run raises inside the hold
    assert not new.exists() and kept.is_dir()  # only the folder the hold itself made goes


def test_only_rank_0_is_the_main_process():
    assert is_main_process({}) and is_main_process({"RANK": "0", "LOCAL_RANK": "0"})
    assert not is_main_process({"RANK": "1"}) and not is_main_process({"OMPI_COMM_WORLD_RANK": "3"})


@pytest.mark.slow
def test_a_second_train_into_a_live_runs_folder_exits_2_naming_the_holder(start_cli, tiny_flags, tmp_path):
    run_dir = tmp_path / "run"
    flags = [*tiny_flags, "--output_dir", str(run_dir), "--wandb_mode", "disabled"]
    first = start_cli("train", *flags, "--max_steps", "100000")
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoints").is_dir() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    for extra in ([], ["--resume", "auto"]):  # a second start, and a requeued copy of the same run
        second = start_cli("train", *flags, "--max_steps", "100000", *extra)
        output, _ = second.communicate(timeout=120)
        assert second.returncode == 2, output
        assert f"in use by another training run (pid {first.pid} on host" in output and "Traceback" not in output
    assert first.poll() is None  # the first run never noticed
    # Ctrl-C ends it as SIGTERM would (tests/scenarios/test_resume.py): a checkpoint at the step it stopped at,
    # exit code 130, no summary (unfinished), and the lock released.
    first.send_signal(signal.SIGINT)
    output, _ = first.communicate(timeout=120)
    assert first.returncode == 128 + signal.SIGINT == 130, output
    step = int(re.search(r"SIGINT: saving a checkpoint at step (\d+)", output).group(1))
    stopped_at = latest_checkpoint(run_dir)
    assert stopped_at.name == f"step-{step}"
    assert json.loads((stopped_at / "checkpoint.json").read_text())["step"] == step
    assert not (run_dir / "summary.json").exists()
    assert not (run_dir / LOCK_FILE).exists()
