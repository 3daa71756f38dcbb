"""The training loop on tiny CPU runs: it learns, writes self-describing checkpoints, and refuses
what it cannot do well (a directory holding another run, fp16 on a CPU, a diverging run)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from unet1d.cli import main
from unet1d.data import load_pose_data
from unet1d.errors import UserError
from unet1d.store import load_for_eval
from unet1d.store.checkpoints import list_checkpoints
from unet1d.training import TrainingDiverged, train
from unet1d.training.optimization import lr_factor


def tensorboard_scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_loss_falls_on_builtin_data(tiny_config, tmp_path):
    # eps: its loss starts at 1 and halves within 60 steps; v's optimum here is ~0.86, too close to its start
    config = tiny_config("--max_steps", "60", "--log_every", "10", "--prediction", "eps")
    result = train(config)
    losses = [value for _, value in tensorboard_scalars(tmp_path / "run")["train/loss"]]
    assert len(losses) == 6
    assert losses[-1] < 0.8 * losses[0], losses
    assert result.final_step == 60 and result.exit_code == 0
    assert result.val_loss is not None and math.isfinite(result.val_loss)
    assert result.steps_per_s > 0 and result.peak_memory_mb > 0 and result.num_parameters > 0
    # mutation walk: train/epoch was logged as 0 throughout, and step_time_s as the window's whole time (10 steps)
    logged = tensorboard_scalars(tmp_path / "run")
    train_poses = len(load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed).train)
    per_epoch = train_poses // config.train.batch_size
    epochs = logged["train/epoch"]
    assert epochs == [(step, step // per_epoch) for step in range(10, 61, 10)] and epochs[-1][1] >= 2, epochs
    times = dict(logged["train/step_time_s"])
    for step, rate in logged["train/samples_per_s"]:
        assert rate * times[step] == pytest.approx(config.train.batch_size, rel=1e-5), step


def test_checkpoints_are_self_describing_and_pruned(tiny_config, tmp_path):
    config = tiny_config("--max_steps", "35", "--keep_checkpoints", "2")
    result = train(config)
    run_dir = tmp_path / "run"
    assert [p.name for p in list_checkpoints(run_dir)] == ["step-30", "step-35"]  # keep 2, plus the final one
    assert not list((run_dir / "checkpoints").glob(".tmp-*"))

    loaded = load_for_eval(run_dir)  # the run directory alone is enough
    assert loaded.step == 35 and loaded.path.name == "step-35"
    assert loaded.config == config
    assert loaded.ema_weights is not None
    model = loaded.build_model(ema=True)
    with torch.no_grad():
        out = model(torch.zeros(4, 72), torch.tensor([0, 10, 50, 99]))
    assert out.shape == (4, 72) and torch.isfinite(out).all()
    raw = load_file(str(loaded.path / "model.safetensors"))
    assert raw.keys() == model.state_dict().keys()
    assert loaded.stats.mean.shape == (72,)

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["final_step"] == 35 and summary["checkpoint"] == str(loaded.path)
    assert summary["model_size_mb"] == pytest.approx((loaded.path / "model.safetensors").stat().st_size / 2**20)
    assert summary["train_loss"] == pytest.approx(result.train_loss)


def test_each_step_is_checkpointed_once_when_the_cadence_and_the_end_meet(tiny_config, monkeypatch):
    """mutation walk: without save()'s guard the last step, due by the cadence and by the end, was written twice."""
    from unet1d.training.components import Checkpointer

    saved, save = [], Checkpointer.save

    def recording_save(self, step, *args, **kwargs):
        saved.append(step)
        return save(self, step, *args, **kwargs)

    monkeypatch.setattr(Checkpointer, "save", recording_save)
    train(tiny_config("--max_steps", "4", "--checkpoint_every", "2", "--eval_every", "100"))
    assert saved == [2, 4]


def test_refuses_an_output_dir_holding_another_run(tiny_config):
    train(tiny_config("--max_steps", "10"))
    with pytest.raises(
        UserError, match=r"holds a different run.*\n  optim.lr: the run has 0.002, this config gives 0\.001"
    ):
        train(tiny_config("--max_steps", "10", "--lr", "1e-3"))
    with pytest.raises(UserError, match="--resume auto to continue it"):
        train(tiny_config("--max_steps", "10"))  # the same run again: it would clobber its checkpoints
    result = train(tiny_config("--max_steps", "10", "--lr", "1e-3", "--overwrite"))
    assert result.exit_code == 0


def test_cli_reports_user_errors_with_exit_code_2(tmp_path, isolated_wandb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--output_dir", str(tmp_path), "--mixed_precision", "fp16", "--device", "cpu"])
    assert exit_info.value.code == 2
    assert "fp16 needs a GPU" in capsys.readouterr().err


def test_batch_must_split_into_micro_batches(tiny_config):
    with pytest.raises(UserError, match=r"multiple of optim\.grad_accum_steps"):
        train(tiny_config("--grad_accum_steps", "3"))


def test_a_diverging_run_stops_with_a_clear_message_and_keeps_its_good_checkpoint(tiny_config, tmp_path):
    config = tiny_config(
        "--max_steps", "40", "--lr", "1e30", "--warmup_steps", "0", "--grad_clip", "none",
        "--max_nonfinite_steps", "3", "--checkpoint_every", "1",
    )  # fmt: skip
    with pytest.raises(TrainingDiverged, match=r"3 steps in a row had a non-finite loss.*last good checkpoint") as err:
        train(config)
    kept = list_checkpoints(tmp_path / "run")
    assert [p.name for p in kept] == ["step-1", "step-2", "step-3"]  # step 1 was finite; 2, 3 and 4 were not
    assert str(kept[-1]) in str(err.value)
    good, after_skips = (load_file(str(p / "model.safetensors")) for p in (kept[0], kept[-1]))
    assert all(torch.isfinite(w).all() for w in after_skips.values())
    assert all(torch.equal(good[k], after_skips[k]) for k in good)  # skipped steps changed nothing, BN stats included
    logged = tensorboard_scalars(tmp_path / "run")  # the step that ended the run too (it went unlogged)
    assert [step for step, _ in logged["train/grad_norm"]] == [1, 2, 3, 4]
    assert logged["train/nonfinite_steps"] == [(4, 3.0)]  # once, at the step that ended the run


def test_lr_warms_up_then_decays_to_the_floor():
    schedule = {"warmup_steps": 10, "max_steps": 110, "schedule": "cosine", "min_lr_ratio": 0.1}
    assert lr_factor(0, **schedule) == pytest.approx(0.1)
    assert lr_factor(9, **schedule) == pytest.approx(1.0)
    assert lr_factor(60, **schedule) == pytest.approx(0.55)
    assert lr_factor(110, **schedule) == pytest.approx(0.1)
    assert lr_factor(50, **{**schedule, "schedule": "constant"}) == 1.0


def test_training_on_data_that_data_check_would_flag_says_so(tiny_config, tmp_path, capsys):
    from unet1d.data.builtin import generate_builtin_poses

    degrees = np.degrees(generate_builtin_poses(400, 2).poses)  # radians are expected; nothing stopped this before
    np.save(tmp_path / "degrees.npy", degrees)
    train(tiny_config("--data", str(tmp_path / "degrees.npy"), "--max_steps", "2"))
    err = capsys.readouterr().err
    assert "warning: data: the largest |value| is" in err and "is this data in degrees?" in err
    assert "warning: data: only one sequence" in err
