"""Files a run, a sweep and the pose cache write are readable by whoever a plain ``open`` would let read
them: on a shared cluster, team members compare, evaluate and reuse each other's runs and caches.

Temporary files (``mkstemp``: summary.json, sweep.json, wandb_run_id, config.yaml) and safetensors'
writer (checkpoint weights) make files 0o600, and ``mkdtemp`` (a pose cache entry) folders 0o700; the
rename that publishes them keeps that mode. Each test compares against a file and a folder made the
plain way in the same place under the same umask, so the expected mode is the system's, not ours.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

UMASKS = [0o022, 0o027]  # the usual one, and a group-only one: the umask is respected, not replaced


@pytest.fixture(params=UMASKS, ids=lambda mask: f"umask-{mask:03o}")
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    before = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(before)


def plain_modes(folder: Path) -> tuple[int, int]:
    """(file mode, folder mode) that a plain ``open(..., "w")`` and ``mkdir`` give in ``folder`` now."""
    probe = folder / "plain-probe"
    probe.mkdir()
    (probe / "file").write_text("x")
    modes = mode(probe / "file"), mode(probe)
    (probe / "file").unlink()
    probe.rmdir()
    return modes


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_plain_modes_are_what_the_umask_leaves(tmp_path, umask) -> None:
    """The reference itself: 0o666 / 0o777 less the umask (no default ACL on the test folder)."""
    assert plain_modes(tmp_path) == (0o666 & ~umask, 0o777 & ~umask)


def test_summary_sweep_record_run_id_and_run_config_get_a_plain_file_mode(tmp_path, umask) -> None:
    from unet1d.config_sources import load_config
    from unet1d.store.rundir import record_run_id, write_run_config
    from unet1d.store.summary import TrainResult
    from unet1d.sweeps.local import STATE_FILE, LocalRun, save_state

    file_mode, _ = plain_modes(tmp_path)
    summary = TrainResult(str(tmp_path), 10, 0.5, 0.4, None, 1.0, 32.0, 0.0, 100, None, None, 0, 10.0)
    for _ in range(2):  # written new, then over an existing file
        summary.write(tmp_path / "summary.json")
        save_state(tmp_path, [LocalRun("aaaa1111", {"optim.lr": 0.001})])
        record_run_id(tmp_path, "abcd1234")
        write_run_config(tmp_path, load_config(None, ["--output_dir", str(tmp_path)], environ={}))
        found = {
            name: oct(mode(tmp_path / name)) for name in ("summary.json", STATE_FILE, "wandb_run_id", "config.yaml")
        }
        assert found == dict.fromkeys(found, oct(file_mode))
    assert TrainResult.read(tmp_path / "summary.json") == summary  # the content is untouched


@pytest.fixture
def accelerator() -> Iterator[object]:
    """A real single-process CPU Accelerator; its shared state cleared after, for later tests in this process."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    yield Accelerator(cpu=True)
    AcceleratorState._reset_state(reset_partial_state=True)


def test_every_checkpoint_file_gets_a_plain_mode_and_the_checkpoint_stays_whole(tmp_path, umask, accelerator) -> None:
    """safetensors writes the weights 0o600: a team member could not evaluate the run."""
    import torch

    from unet1d.config_sources import load_config
    from unet1d.data.normalization import NormStats
    from unet1d.store import checkpoints

    model = torch.nn.Linear(3, 3)
    config = load_config(None, ["--output_dir", str(tmp_path)], environ={})
    from unet1d.training.components import NoiseGenerator, TrainingState

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    training = TrainingState(accelerator, model, optimizer, torch.optim.lr_scheduler.StepLR(optimizer, 1))
    saved = checkpoints.save_checkpoint(
        accelerator, tmp_path, step=1, components={"model": training, "noise": NoiseGenerator(accelerator.device, 0)},
        config=config, stats=NormStats(mean=np.zeros(3), std=np.ones(3)), keep=2,
    )  # fmt: skip

    file_mode, folder_mode = plain_modes(tmp_path)
    written = sorted(saved.rglob("*"))
    assert any(p.name.endswith(".safetensors") for p in written)
    wrong = {
        str(p.relative_to(saved)): oct(mode(p))
        for p in written
        if mode(p) != (file_mode if p.is_file() else folder_mode)
    }
    assert wrong == {}, f"expected files {oct(file_mode)}, folders {oct(folder_mode)}"
    assert mode(saved) == folder_mode
    assert checkpoints.checkpoint_damage(saved) is None


def test_a_pose_cache_entry_gets_a_plain_folder_mode(tmp_path, umask) -> None:
    """The entry is a renamed staging folder: mkdtemp's 0o700 would lock everyone else out of a shared cache."""
    from unet1d.data.cache import CACHE_MIN_FILES
    from unet1d.data.files import read_pose_path
    from unet1d.data.synthetic_amass import write_amass_tree

    root, store = tmp_path / "tree", tmp_path / "cache"
    write_amass_tree(root, CACHE_MIN_FILES, clips_per_file=1, seed=3)
    first = read_pose_path(root, "smpl72", 30.0, store)

    file_mode, folder_mode = plain_modes(tmp_path)
    (entry,) = (store / "poses").iterdir()
    assert not entry.name.startswith(".")  # published, not a staging folder left behind
    assert oct(mode(entry)) == oct(folder_mode)
    assert {p.name: mode(p) for p in entry.iterdir()} == {"poses.f32": file_mode, "index.json": file_mode}
    again = read_pose_path(root, "smpl72", 30.0, store)  # served from the entry, whole
    assert [s.name for s in again.sequences] == [s.name for s in first.sequences]
    assert all(np.array_equal(a.poses, b.poses) for a, b in zip(again.sequences, first.sequences, strict=True))
