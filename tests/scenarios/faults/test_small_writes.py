"""The small files a run and a sweep keep beside their checkpoints: ``sweep.json`` (``sweep local``) and
``wandb_run_id``. Each is written under a temporary name of its own, flushed to disk, then renamed, so two
writers never share a temporary file and a full disk leaves the previous file whole."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import traceback
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scenarios.faults.conftest import said
from unet1d.sweeps.local import STATE_FILE, LocalRun, load_state, save_state

FIRST = [LocalRun("aaaa1111", {"optim.lr": 0.001}, state="finished", exit_code=0, history=[0.9, 0.5])]
SECOND = [LocalRun("bbbb2222", {"optim.lr": 0.002})]


def test_two_sweeps_saving_one_folder_at_once_never_share_a_temporary_file(tmp_path, monkeypatch) -> None:
    """The first writer's rename is held back while a second writer saves in full; with one fixed
    temporary name the second takes the first's file away (or, raced differently, renames it half written)."""
    root = tmp_path / "sweep"
    real_replace, held = os.replace, []

    def replace_after_another_writer(source, target) -> None:
        if not held:
            held.append(Path(source).name)
            save_state(root, SECOND)
            assert load_state(root) == SECOND
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace_after_another_writer)
    save_state(root, FIRST)

    assert load_state(root) == FIRST  # the later rename wins, whole
    assert sorted(p.name for p in root.iterdir()) == [STATE_FILE]  # no temporary file left behind
    said(f"two sweep.json writers interleaved (first held at its rename of {held[0]}): both renamed, last one whole")


def flushed_then_renamed(monkeypatch) -> tuple[list[int], list[int]]:
    """Spies on os.fsync and os.replace: the inode of every file flushed, and of every file renamed."""
    flushed: list[int] = []
    renamed: list[int] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        flushed.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    def replace(source, target) -> None:
        renamed.append(os.stat(source).st_ino)
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return flushed, renamed


def test_sweep_json_is_flushed_to_disk_before_it_is_renamed_into_place(tmp_path, monkeypatch) -> None:
    flushed, renamed = flushed_then_renamed(monkeypatch)
    save_state(tmp_path, FIRST)
    inode = (tmp_path / STATE_FILE).stat().st_ino
    assert inode in flushed and inode in renamed


@contextlib.contextmanager
def disk_full_after(limit: int) -> Iterator[None]:
    """Writes in this process past ``limit`` bytes of a file fail with EFBIG, as on a full disk (SIGXFSZ ignored)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def tracking_for(output_dir: Path, run_id: str):
    """The trainer's Tracking with W&B on (offline) and an accelerator that starts no tracker: what
    ``start`` itself writes is all that happens."""
    from unet1d.config_sources import load_config
    from unet1d.training.tracking import Tracking

    flags = ["--output_dir", str(output_dir), "--wandb_mode", "offline", "--tensorboard", "false"]
    tracking = Tracking(load_config(None, flags, environ={}), run_id=run_id, resume_step=None)
    accelerator = types.SimpleNamespace(is_main_process=True, init_trackers=lambda *args, **kwargs: None)
    return tracking, accelerator


def test_a_full_disk_while_the_wandb_run_id_is_written_warns_once_and_keeps_the_previous_id(tmp_path, capsys) -> None:
    """W&B never stops a run: the failed write is one warning line naming the file, and start returns."""
    (tmp_path / "wandb_run_id").write_text("oldid123\n")
    tracking, accelerator = tracking_for(tmp_path, "newid456")
    with disk_full_after(4):
        tracking.start(accelerator, {})
    err = capsys.readouterr().err
    (line,) = err.splitlines()
    assert line.startswith(f"warning: cannot write the W&B run id to {tmp_path / 'wandb_run_id'} (File too large)")
    assert "training goes on" in line and "newid456" in line
    kept = (tmp_path / "wandb_run_id").read_text()
    assert kept == "oldid123\n", kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wandb_run_id"]
    said(f"wandb_run_id rewritten under a full disk: {line!r}; it still reads {kept.strip()!r}, no temporary file left")

    tracking.start(accelerator, {})  # room again: the new id lands
    assert (tmp_path / "wandb_run_id").read_text() == "newid456\n"


def test_the_wandb_run_id_is_flushed_to_disk_before_it_is_renamed_into_place(tmp_path, monkeypatch) -> None:
    tracking, accelerator = tracking_for(tmp_path, "newid456")
    flushed, renamed = flushed_then_renamed(monkeypatch)
    tracking.start(accelerator, {})
    inode = (tmp_path / "wandb_run_id").stat().st_ino
    assert inode in flushed and inode in renamed


def test_a_safetensors_file_the_disk_cannot_take_is_a_failed_write(tmp_path) -> None:
    """safetensors 0.8 says "I/O error: ..." (before: "IoError"): a full disk as a checkpoint's weights were
    written ended in its traceback, exit 1, and a .tmp-step-N folder left behind."""
    import torch
    from safetensors.torch import save_file

    from unet1d.store.checkpoints import is_write_failure

    with disk_full_after(1000), pytest.raises(Exception) as failed:
        save_file({"weights": torch.zeros(1000)}, str(tmp_path / "model.safetensors"))
    said(f"safetensors on a full disk: {failed.value!r}")
    assert is_write_failure(failed.value)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the writer thread's end
def test_a_moment_of_full_disk_does_not_end_tensorboard_for_the_rest_of_the_run(tmp_path, capsys) -> None:
    """TensorBoard's writer thread ends for good on its first failed write: the run went on, exit 0, with its
    curves stopped at that step and nothing to resume (walk A: 120 of 300 steps)."""
    from accelerate import Accelerator

    from tests.conftest import tiny_run_config
    from unet1d.store.curves import read_curves
    from unet1d.training.tracking import Tracking

    config = tiny_run_config(tmp_path / "run")
    tracking = Tracking(config, run_id="full1", resume_step=None)
    tracking.start(Accelerator(cpu=True, log_with=tracking.trackers), config.flat())
    for step in (1, 2):
        tracking.log({"train/loss": float(step)}, step=step)
    written = sum(path.stat().st_size for path in (tmp_path / "run" / "tensorboard").iterdir())
    with disk_full_after(written):  # no byte more fits in the event file
        tracking.log({"train/loss": 3.0}, step=3)
    for step in (4, 5):  # the space is back
        tracking.log({"train/loss": float(step)}, step=step)
    tracking.finish()
    logged = [step for step, _, _ in read_curves(tmp_path / "run").points["train/loss"]]
    said(
        f"TensorBoard after a moment of full disk: steps {logged}; {capsys.readouterr().err.count('warning')} warnings"
    )
    assert logged[:2] == [1, 2] and logged[-2:] == [4, 5]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_disk_that_stays_full_opens_one_new_event_file_per_interval(tmp_path, capsys, monkeypatch) -> None:
    """Each failed log opened a new event file, whose thread died with a traceback: 30,000 lines of stderr."""
    import time

    from accelerate import Accelerator

    from tests.conftest import tiny_run_config
    from unet1d.store.curves import read_curves
    from unet1d.training import tracking as tracking_module
    from unet1d.training.tracking import Tracking

    monkeypatch.setattr(tracking_module, "REOPEN_EVERY_S", 1.0)
    config = tiny_run_config(tmp_path / "run")
    tracking = Tracking(config, run_id="full2", resume_step=None)
    tracking.start(Accelerator(cpu=True, log_with=tracking.trackers), config.flat())
    tracking.log({"train/loss": 1.0}, step=1)
    with disk_full_after(1):  # no file takes a byte more
        for step in range(2, 12):
            tracking.log({"train/loss": float(step)}, step=step)
        board = next(tracker for tracker in tracking.trackers if tracker.name == "tensorboard")
        for step in range(12, 500):  # each failure is a fresh error: re-raising the dead writer's grew without end
            with pytest.raises(OSError) as failed:
                board.log({"train/loss": 0.0}, step=step)
        assert len(traceback.extract_tb(failed.value.__traceback__)) < 10 and failed.value.__context__ is None
    files = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    time.sleep(1.1)  # the space is back, and the interval over
    for step in (20, 21):
        tracking.log({"train/loss": float(step)}, step=step)
    tracking.finish()
    said(f"a disk full for 10 logs: {len(files)} event files then")
    assert len(files) <= 2 and capsys.readouterr().err.count("logging to tensorboard failed") == 1
    assert [step for step, _, _ in read_curves(tmp_path / "run").points["train/loss"]][-2:] == [20, 21]
