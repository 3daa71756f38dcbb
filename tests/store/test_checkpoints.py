"""Checkpoints: one table walked by save and restore, atomic writes, exact restore, format 1 still read, no pickle.

``format1/step-4`` is a checkpoint written by the code before the table (commit 75fe2e8, format 1):
step 4 of an 8-step tiny run (``format1/README.md``); ``format1/step-8-*.safetensors`` are that
run's final weights, what a resume from step 4 must reach.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from unet1d.data import DeviceBatches, NormStats
from unet1d.diffusion import EMA
from unet1d.errors import UserError
from unet1d.store import checkpoints
from unet1d.training.components import (
    EMAState,
    LoopCounters,
    NoiseGenerator,
    NonFiniteGuard,
    StepOutcome,
    TrainingState,
)
from unet1d.training.metrics import TimestepLosses

FORMAT_1 = Path(__file__).parent / "format1"
STATS = NormStats(mean=np.zeros(3), std=np.ones(3))


@pytest.fixture
def accelerator() -> Iterator[object]:
    """A real single-process CPU Accelerator; its shared state cleared after, for later tests in this process."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    yield Accelerator(cpu=True)
    AcceleratorState._reset_state(reset_partial_state=True)


def small_table(accelerator, seed: int = 0) -> dict[str, checkpoints.Stateful]:
    """A run's table in small: network + Adam + schedule, EMA, counters, the guard, data order, noise."""
    torch.manual_seed(seed)
    network = nn.Linear(3, 3)
    ema = EMAState(EMA(network, 0.9))
    optimizer = torch.optim.AdamW(network.parameters(), lr=0.1)
    training = TrainingState(accelerator, network, optimizer, torch.optim.lr_scheduler.StepLR(optimizer, 1, 0.5))
    data = DeviceBatches(torch.arange(30.0).reshape(10, 3), 2, seed=seed)
    return {
        "model": training, "ema": ema, "counters": LoopCounters(f"run-{seed}"),
        "nonfinite": NonFiniteGuard(3, Path(".")), "data": data, "noise": NoiseGenerator(torch.device("cpu"), seed),
    }  # fmt: skip


def advance(table: dict[str, checkpoints.Stateful], steps: int) -> None:
    """Train the small table ``steps`` steps: every part of its state moves."""
    training, ema, noise = table["model"], table["ema"], table["noise"]
    for _ in range(steps):
        x = table["data"].next_batch() + torch.randn(2, 3, generator=noise.generator)
        training.model(x).square().mean().backward()
        training.optimizer.step()
        training.optimizer.zero_grad()
        training.scheduler.step()
        ema.update(training.network)
        table["counters"].step += 1
        table["nonfinite"].record(StepOutcome(0.0, float("nan"), 0.1, finite=False, stop=False), 0)


def snapshot(table: dict[str, checkpoints.Stateful]) -> dict[str, dict]:
    """Every part's state, copied (tensors cloned; the counters' clock-dependent time left out)."""
    copied = {}
    for name, part in table.items():
        state = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in part.state_dict().items()}
        state.pop("train_time_s", None)
        copied[name] = state
    adam = table["model"].optimizer.state_dict()["state"]  # Accelerate's part: Adam's moments and step counts
    copied["optimizer"] = {
        f"{index}.{key}": value.clone() for index, state in adam.items() for key, value in state.items()
    }
    return copied


def assert_same(left: dict[str, dict], right: dict[str, dict]) -> None:
    assert left.keys() == right.keys()
    for name in left:
        assert left[name].keys() == right[name].keys(), name
        for key, value in left[name].items():
            other = right[name][key]
            same = torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other
            assert same, f"{name}.{key}: {value!r} != {other!r}"


def test_restore_gives_every_part_of_the_table_back_exactly(accelerator, tiny_config, tmp_path) -> None:
    table = small_table(accelerator)
    advance(table, 3)
    config = tiny_config(output_dir=tmp_path)
    saved = checkpoints.save_checkpoint(
        accelerator, tmp_path, step=3, components=table, config=config, stats=STATS, keep=2
    )
    before = snapshot(table)
    advance(table, 2)
    assert table["counters"].step == 5

    step = checkpoints.restore_checkpoint(accelerator, saved, table)
    assert step == 3
    assert_same(snapshot(table), before)


def test_the_table_decides_the_layout(accelerator, tiny_config, tmp_path) -> None:
    table = small_table(accelerator)
    advance(table, 2)
    config = tiny_config(output_dir=tmp_path)
    saved = checkpoints.save_checkpoint(
        accelerator, tmp_path, step=2, components=table, config=config, stats=STATS, keep=2
    )
    marker = json.loads((saved / "checkpoint.json").read_text())
    assert marker["format_version"] == checkpoints.FORMAT_VERSION == 2
    assert (marker["step"], marker["world_size"]) == (2, 1)
    assert marker["state"]["counters"]["step"] == 2 and marker["state"]["ema"] == {"num_updates": 2}
    assert marker["state"]["data"]["step"] == 2 and marker["state"]["nonfinite"]["nonfinite_total"] == 2
    assert marker["state"]["model"] == {} and marker["state"]["noise"] == {}
    network = table["model"].network
    assert set(load_file(str(saved / "model.safetensors"))) == set(network.state_dict())  # bare keys, for eval
    assert set(load_file(str(saved / "ema.safetensors"))) == set(network.state_dict())
    assert set(load_file(str(saved / "rank-0.safetensors"))) == {"noise/state"}
    assert (saved / "accelerate" / "optimizer.bin").is_file()
    assert set(marker["files"]) == {str(p.relative_to(saved)) for p in saved.rglob("*") if p.is_file()} - {
        "checkpoint.json"
    }


class FullDisk:
    """A component whose state cannot be written: the disk is full (or, with another errno, the folder refuses)."""

    def __init__(self, code: int = errno.ENOSPC) -> None:
        self.code = code

    def state_dict(self) -> dict:
        raise OSError(self.code, os.strerror(self.code))

    def load_state_dict(self, state: dict) -> None:
        pass


def test_a_save_that_fails_leaves_no_partial_checkpoint_and_the_last_one_latest(
    accelerator, tiny_config, tmp_path
) -> None:
    config = tiny_config(output_dir=tmp_path)
    first = checkpoints.save_checkpoint(
        accelerator, tmp_path, step=10, components={"model": nn.Linear(2, 2)}, config=config, stats=STATS, keep=2
    )
    with pytest.raises(UserError, match=r"cannot write checkpoint .*step-20 .*No space left.*still .*step-10. Free "
                       "some disk space"):  # fmt: skip
        checkpoints.save_checkpoint(
            accelerator, tmp_path, step=20, components={"model": nn.Linear(2, 2), "full": FullDisk()}, config=config,
            stats=STATS, keep=2,
        )  # fmt: skip
    for code, remedy in ((errno.EACCES, "Make the folder writable"), (errno.EROFS, "Make the folder writable"),
                         (errno.ENOTDIR, "Move away what is in the checkpoint's way")):  # fmt: skip
        with pytest.raises(UserError, match=f"still .*step-10. {remedy}"):  # not "free some disk space"
            checkpoints.save_checkpoint(
                accelerator, tmp_path, step=20, components={"full": FullDisk(code)}, config=config, stats=STATS, keep=2
            )
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-10"]
    assert checkpoints.latest_checkpoint(tmp_path) == first


def test_a_component_the_checkpoint_does_not_hold_is_named(accelerator, tiny_config, tmp_path) -> None:
    config = tiny_config(output_dir=tmp_path)
    saved = checkpoints.save_checkpoint(
        accelerator, tmp_path, step=1, components={"model": nn.Linear(2, 2)}, config=config, stats=STATS, keep=2
    )
    with pytest.raises(UserError, match=r"holds no state of 'ema'"):
        checkpoints.restore_checkpoint(accelerator, saved, {"model": nn.Linear(2, 2), "ema": nn.Linear(2, 2)})


def test_a_format_this_version_does_not_read_is_refused_by_name(tmp_path) -> None:
    checkpoint = tmp_path / "step-3"
    shutil.copytree(FORMAT_1 / "step-4", checkpoint)
    marker = json.loads((checkpoint / "checkpoint.json").read_text())
    (checkpoint / "checkpoint.json").write_text(json.dumps({**marker, "format_version": 9}))
    with pytest.raises(UserError, match=r"step-3: checkpoint format 9 is not one this version reads \(1, 2\)"):
        checkpoints.read_marker(checkpoint)


def format_1_table(accelerator) -> tuple[dict[str, checkpoints.Stateful], object]:
    """The table the Trainer builds for the format-1 fixture's run (its network, optimiser, schedule, EMA...)."""
    from unet1d.data.representation import network_config
    from unet1d.model import UNet1D
    from unet1d.training.optimization import build_optimizer

    config = checkpoints.read_config(FORMAT_1 / "step-4")
    network = UNet1D.from_config(network_config(config))
    ema = EMAState(EMA(network, config.optim.ema_decay, warmup=config.optim.ema_warmup))
    training = TrainingState(accelerator, network, *build_optimizer(network, config.optim, config.train.max_steps))
    data = DeviceBatches(torch.zeros(226, 72), config.train.batch_size, seed=config.train.seed)
    table = {
        "model": training, "ema": ema, "counters": LoopCounters("new-id"),
        "nonfinite": NonFiniteGuard(3, Path(".")), "data": data, "noise": NoiseGenerator(torch.device("cpu"), 1),
        "timestep_losses": TimestepLosses(config.diffusion.num_timesteps, 4, torch.device("cpu")),
    }  # fmt: skip
    return table, config


def test_a_format_1_checkpoint_restores_every_component(accelerator) -> None:
    checkpoint = FORMAT_1 / "step-4"
    marker = json.loads((checkpoint / "checkpoint.json").read_text())
    assert marker["format_version"] == 1 and "loop" in marker and "state" not in marker
    table, _ = format_1_table(accelerator)
    table["timestep_losses"].add(torch.ones(3), torch.tensor([0, 1, 2]))  # a window the restore must empty

    assert checkpoints.restore_checkpoint(accelerator, checkpoint, table) == 4
    assert not table["timestep_losses"].counts.any()  # state newer than the format: empty, not refused
    assert table["counters"].window.steps == 0 and not table["counters"].periodic_pending
    assert table["counters"].step == 4
    assert table["counters"].last_train_loss == marker["loop"]["train_loss"]
    assert table["counters"].earlier_sessions_s == marker["loop"]["train_time_s"]
    assert (table["nonfinite"].total, table["nonfinite"].in_a_row) == (0, 0)
    assert table["data"].state_dict()["step"] == 4
    assert table["ema"].ema.num_updates == 4
    assert torch.equal(
        table["noise"].generator.get_state(), load_file(str(checkpoint / "rank-0.safetensors"))["generator"]
    )
    raw, averaged = load_file(str(checkpoint / "model.safetensors")), load_file(str(checkpoint / "ema.safetensors"))
    assert all(torch.equal(value, raw[name]) for name, value in table["model"].network.state_dict().items())
    assert all(torch.equal(value, averaged[name]) for name, value in table["ema"].module.state_dict().items())
    assert table["model"].scheduler.scheduler.last_epoch == 4  # four LR steps taken, from Accelerate's folder
    assert {int(s["step"]) for s in table["model"].optimizer.state_dict()["state"].values()} == {4}
    assert checkpoints.stored_json_state(checkpoint)["counters"]["wandb_run_id"] == marker["loop"]["wandb_run_id"]


def test_neither_restore_nor_evaluation_unpickles(accelerator, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    table, _ = format_1_table(accelerator)
    checkpoints.restore_checkpoint(accelerator, FORMAT_1 / "step-4", table)  # Accelerate's files: weights_only
    loaded = checkpoints.load_for_eval(FORMAT_1 / "step-4")
    assert loaded.step == 4 and loaded.ema_weights is not None


@pytest.mark.slow  # two short training runs
def test_a_format_1_checkpoint_resumes_to_the_weights_the_old_code_reached(tiny_config, tmp_path) -> None:
    from unet1d.training import train

    # --threads 2 as the fixture's run had: the thread count changes the order of float sums
    flags = ["--base_channels", "8", "--channel_mults", "1", "--builtin_samples", "256", "--max_steps", "8",
             "--eval_every", "4", "--log_every", "2", "--keep_checkpoints", "3", "--tensorboard", "false",
             "--threads", "2"]  # fmt: skip
    old = tmp_path / "old"
    shutil.copytree(FORMAT_1 / "step-4", old / "checkpoints" / "step-4")
    resumed = train(tiny_config(*flags, "--checkpoint_every", "2", "--resume", "auto", output_dir=old))
    assert resumed.final_step == 8
    again = tmp_path / "again"  # format 2 at step 6, written by the resumed run, resumed in turn
    shutil.copytree(old / "checkpoints" / "step-6", again / "checkpoints" / "step-6")
    assert json.loads((again / "checkpoints" / "step-6" / "checkpoint.json").read_text())["format_version"] == 2
    twice = train(tiny_config(*flags, "--checkpoint_every", "4", "--resume", "auto", output_dir=again))

    for name in ("model", "ema"):
        ours, theirs = (
            load_file(f"{resumed.checkpoint}/{name}.safetensors"),
            load_file(f"{twice.checkpoint}/{name}.safetensors"),
        )
        assert all(torch.equal(ours[key], theirs[key]) for key in ours), name  # bit-identical on one machine
        # The old code's own run to step 8: the same trajectory, up to float rounding that Adam's first steps
        # amplify (a network computed in another order moved weights 3e-4 at most), well inside the ~5e-3
        # each weight moves from step 4 to 8, which a resume that lost its place would not retrace.
        before = load_file(str(FORMAT_1 / f"step-8-{name}.safetensors"))
        assert ours.keys() == before.keys()
        for key in ours:
            torch.testing.assert_close(ours[key], before[key], rtol=0, atol=1e-3)


def test_a_prune_killed_midway_leaves_no_damaged_checkpoint(accelerator, tiny_config, tmp_path, monkeypatch) -> None:
    """kill -9 during a prune: the checkpoint being removed is already out of sight (renamed first), so what is
    left is whole checkpoints and a leftover the next prune removes (seen as step-8 'rank-0.safetensors is missing'
    in the fault suite before)."""
    config = tiny_config(output_dir=tmp_path)

    def save(step: int) -> Path:
        return checkpoints.save_checkpoint(
            accelerator, tmp_path, step=step, components={"model": nn.Linear(2, 2)}, config=config, stats=STATS,
            keep=10,
        )  # fmt: skip

    for step in (2, 4, 6):
        save(step)

    def killed(path: Path, ignore_errors: bool = False) -> None:  # one file removed, then the process dies
        next(p for p in Path(path).iterdir() if p.is_file()).unlink()
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(checkpoints.shutil, "rmtree", killed)
        with pytest.raises(KeyboardInterrupt):
            checkpoints.prune_checkpoints(tmp_path, keep=2)
    left = checkpoints.list_checkpoints(tmp_path)
    assert [p.name for p in left] == ["step-4", "step-6"]
    assert all(checkpoints.checkpoint_damage(p) is None for p in left)
    save(8)  # the next save's prune removes the leftover
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-4", "step-6", "step-8"]


def test_a_device_out_of_memory_while_restoring_is_not_called_damage(tmp_path) -> None:
    """A CUDA out-of-memory during a resume read "checkpoint ... is damaged": a user may delete a good one."""
    with pytest.raises(torch.OutOfMemoryError), checkpoints._damaged_file_is_a_user_error(tmp_path / "step-10"):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    damaged = pytest.raises(UserError, match="step-10 is damaged: RuntimeError: bad header")
    with damaged, checkpoints._damaged_file_is_a_user_error(tmp_path / "step-10"):
        raise RuntimeError("bad header")


def test_a_checkpoint_pruned_while_it_is_read_is_not_called_damaged(tiny_config, tmp_path, monkeypatch) -> None:
    """Walk D: `sample RUN` beside a run still training (keep_checkpoints 1, saving often) failed 4 times in 6 with
    "checkpoint ... is damaged: FileNotFoundError": the run had pruned a whole checkpoint while it was read."""
    from unet1d.training import train

    run = Path(train(tiny_config("--max_steps", "4", "--checkpoint_every", "2")).output_dir)
    real_load = checkpoints.load_file
    pruned = []

    def pruning_meanwhile(filename: str, *args, **kwargs):  # the run's prune, between the lookup and the read
        newest = Path(filename).parent
        if not pruned and newest.name == "step-4":
            pruned.append(newest.rename(newest.with_name(".pruned-step-4")))
        return real_load(filename, *args, **kwargs)

    monkeypatch.setattr(checkpoints, "load_file", pruning_meanwhile)
    assert checkpoints.load_for_eval(run).step == 2  # looked up again: the run's latest now
    pruned[0].rename(run / "checkpoints" / "step-4")
    pruned.clear()
    with pytest.raises(UserError, match=r"step-4 was removed while it was read: a run still training keeps only"):
        checkpoints.load_for_eval(run / "checkpoints" / "step-4")  # asked for by name: said so, not "damaged"
