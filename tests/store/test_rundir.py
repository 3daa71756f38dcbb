"""The run folder: what a run may do with its output_dir, what wiping removes, the W&B run id kept there."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from unet1d.errors import UserError
from unet1d.store import rundir


def test_a_fresh_folder_is_planned_as_a_new_run(tiny_config, tmp_path) -> None:
    plan = rundir.plan_run(tiny_config(output_dir=tmp_path / "new"))
    assert plan == rundir.RunPlan(tmp_path / "new", resume_from=None, resume_step=None, wipe=False)
    assert rundir.plan_run(tiny_config("--overwrite", "true", output_dir=tmp_path / "new")).wipe


def test_overwrite_and_resume_together_are_refused(tiny_config, tmp_path) -> None:
    config = tiny_config("--overwrite", "true", "--resume", "auto", output_dir=tmp_path)
    with pytest.raises(UserError, match="--overwrite starts the run again and --resume continues it"):
        rundir.plan_run(config)


def test_a_folder_that_holds_another_run_is_refused_naming_the_difference(tiny_config, tmp_path) -> None:
    rundir.write_run_config(tmp_path, tiny_config("--lr", "0.001", output_dir=tmp_path))
    with pytest.raises(UserError, match=r"holds a different run; its config differs in\n  optim.lr: the run has 0.001"):
        rundir.plan_run(tiny_config("--lr", "0.002", output_dir=tmp_path))
    same = rundir.plan_run(tiny_config("--lr", "0.001", "--log_every", "7", output_dir=tmp_path))
    assert same.resume_from is None  # a setting that cannot change what is learnt is no other run


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--mid_structure", "conv"], "model.mid: the run has 'attention-8', --mid_structure gives 'conv'"),
        (["--mid_num_heads", "4"], "model.mid: the run has 'attention-8', --mid_num_heads gives 'attention-4'"),
        (["--mid", "conv"], "model.mid: the run has 'attention-8', --mid gives 'conv'"),
        (["--mid_structure", "conv", "--mid_num_heads", "4"], "model.mid: the run has 'attention-8', --mid_structure"),
        (["--mid_num_heads", "8", "--mid_structure", "conv"], "model.mid: the run has 'attention-8', --mid_structure"),
    ],
)
def test_a_resume_that_changes_the_middle_names_the_change_once(tiny_config, tmp_path, flags, named) -> None:
    # the stored config spells the middle twice (mid and the pair); the given spelling must not clash with the other
    stored = tiny_config("--mid", "attention-8", output_dir=tmp_path)
    rundir.write_run_config(tmp_path, stored)
    args = ["--output_dir", str(tmp_path), "--resume", "auto", "--wandb_mode", "disabled"]
    with pytest.raises(UserError, match="settings given differ") as refused:
        rundir.resume_config(None, [*args, *flags], environ={})
    assert refused.value.args[0].splitlines()[1].startswith(f"  {named}")
    assert "conflicts with" not in refused.value.args[0] and "mid_structure:" not in refused.value.args[0]
    for same in (["--mid", "attention-8"], ["--mid_num_heads", "8"], ["--mid_structure", "attention"]):
        assert rundir.resume_config(None, [*args, *same], environ={}).model.mid == "attention-8"


def test_wiping_removes_the_run_outputs_and_nothing_else(tiny_config, tmp_path) -> None:
    tmp_path = tmp_path / "run"
    rundir.write_run_config(tmp_path, tiny_config(output_dir=tmp_path))
    (tmp_path / rundir.SUMMARY_FILE).write_text("{}")
    (tmp_path / rundir.EVAL_DIR).mkdir()
    (tmp_path / rundir.EVAL_DIR / "step-3.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    rundir.wipe_run(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_wiping_removes_a_linked_output_and_leaves_what_it_points_to(tiny_config, tmp_path) -> None:
    # rmtree refused the link with an OSError traceback
    (kept := tmp_path / "elsewhere").mkdir()
    (kept / "mine.txt").write_text("mine")
    run = tmp_path / "run"
    rundir.write_run_config(run, tiny_config(output_dir=run))
    (run / rundir.EVAL_DIR).symlink_to(kept, target_is_directory=True)
    rundir.wipe_run(run)
    assert not (run / rundir.EVAL_DIR).exists() and (kept / "mine.txt").read_text() == "mine"


@pytest.mark.parametrize("overwrite", [[], ["--overwrite", "true"]])
def test_a_folder_whose_config_yaml_is_no_runs_is_refused_before_anything_is_replaced(
    tiny_config, tmp_path, overwrite
) -> None:
    # its config.yaml and summary.json were replaced after one warning, and --overwrite deleted its eval/
    for other in ("services: {web: {image: nginx}}\n", "model: {name: resnet50}\ntrainer: {max_epochs: 90}\n",
                  "model: {name: resnet50}\n"):  # fmt: skip
        (tmp_path / "config.yaml").write_text(other)
        with pytest.raises(UserError, match=r"is not a unet1d run's folder: its config.yaml holds .*, not a run's"):
            rundir.plan_run(tiny_config(*overwrite, output_dir=tmp_path))


def test_the_run_id_round_trips_and_a_damaged_one_is_named(tmp_path: Path) -> None:
    assert rundir.read_run_id(tmp_path) is None
    rundir.record_run_id(tmp_path, "abc123")
    assert rundir.read_run_id(tmp_path) == "abc123"
    path = tmp_path / rundir.RUN_ID_FILE
    path.write_text("")
    with pytest.raises(UserError, match=rf"{path}: damaged W&B run id \(the file is empty\)"):
        rundir.read_run_id(tmp_path)
    path.write_text("abc/def\n")
    with pytest.raises(UserError, match="holds '/', never in a run id"):
        rundir.read_run_id(tmp_path)


def test_a_checkpoints_file_is_refused_before_any_step(tiny_config, tmp_path) -> None:
    """Before, the whole run trained and then failed at its first save ("free some disk space")."""
    folder = tmp_path / "run" / "checkpoints"
    folder.parent.mkdir()
    folder.write_text("not a folder\n")
    with pytest.raises(UserError, match=f"{folder} is a file, not a folder: the run's checkpoints go there"):
        rundir.plan_run(tiny_config())


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to a read-only folder: nothing to refuse")
def test_a_checkpoints_folder_this_user_cannot_write_is_refused_before_any_step(tiny_config, tmp_path) -> None:
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(UserError, match="this user cannot write there"):
            rundir.plan_run(tiny_config())
    finally:
        folder.chmod(stat.S_IRWXU)
