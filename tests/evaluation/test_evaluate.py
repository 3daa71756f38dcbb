"""`unet1d eval`, `sample`, `compare` and `sweep local` on real tiny runs trained in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from unet1d.body import joint_limit_violations
from unet1d.metric_registry import structure_metrics

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def unet1d(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "unet1d.cli", *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A conv and an attention run of 30 tiny steps each, W&B disabled, trained in this process (the commands
    under test run as subprocesses; `unet1d train` itself is tested as one in tests/training)."""
    import os

    import torch

    from tests.conftest import isolate_wandb, tiny_run_config
    from unet1d.training import train

    root = tmp_path_factory.mktemp("runs")
    threads = torch.get_num_threads()
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        isolate_wandb(patch, root / "home")
        for structure in ("conv", "attention"):
            flags = ("--max_steps", "30", "--mid_structure", structure, "--mid_num_heads", "4")
            runs[structure] = Path(train(tiny_run_config(root / structure, *flags)).output_dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNET1D_")}
    torch.set_num_threads(threads)
    runs["env"] = {**env, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}  # type: ignore[assignment]
    return runs


def test_eval_writes_a_report_consistent_with_sample(two_runs: dict, tmp_path: Path) -> None:
    env, run = two_runs["env"], two_runs["attention"]
    eval_args = ("eval", str(run), "--num-samples", "120", "--seed", "5", "--device", "cpu", "--task_poses", "2")
    printed = unet1d(*eval_args, env=env).stdout  # 2 task poses: enough for the nearest baseline the tasks add
    report = json.loads((run / "eval" / "step-30.json").read_text())
    assert (
        "vs Gaussian    beats the Gaussian baseline on" in printed
        and report["step"] == 30
        and report["weights"] == "ema"
    )
    assert report["reference"] == "builtin-fresh" and report["num_samples"] == 120 and report["sample_steps"] == 20
    assert (run / "eval" / "step-30.png").stat().st_size > 10_000
    assert set(report["baselines"]) == {"data", "gaussian", "nearest"}  # nearest: the task scores' baseline
    assert set(report["beats_gaussian"]) == {m.name for m in structure_metrics()}
    for key in ("val_loss", "frechet_distance", "diversity_ratio"):
        assert np.isfinite(report[key]) and report[key] > 0
    assert 0 <= report["family_coverage"] <= 1 and abs(sum(report["family_shares"].values()) - 1) < 1e-9

    # `unet1d sample` with the same seed and count draws exactly the poses eval scored.
    out = tmp_path / "poses.npz"
    unet1d("sample", str(run), "--num-samples", "120", "--seed", "5", "--device", "cpu", "-o", str(out), env=env)
    poses = np.load(out)["poses"]
    assert poses.shape == (120, 72) and poses.dtype == np.float32
    violations = joint_limit_violations(poses.astype(np.float64))
    assert report["limit_violation_rate"] == pytest.approx(violations.sum() / poses.size, abs=1e-6)


def test_sample_is_reproducible_by_seed(two_runs: dict, tmp_path: Path) -> None:
    """One draw as a subprocess, the others through the same command in this process: a seed gives the same
    poses in any process, another seed others."""
    from typer.testing import CliRunner

    from unet1d.cli import app

    env, run = two_runs["env"], two_runs["conv"]
    paths = [tmp_path / f"{name}.npz" for name in ("a", "b", "c")]
    common = ["--num-samples", "16", "--device", "cpu"]
    unet1d("sample", str(run), *common, "--seed", "1", "-o", str(paths[0]), env=env)
    for path, seed in zip(paths[1:], ("1", "2"), strict=True):
        result = CliRunner().invoke(app, ["sample", str(run), *common, "--seed", seed, "-o", str(path)])
        assert result.exit_code == 0, result.output
    a, b, c = (np.load(path)["poses"] for path in paths)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_compare_lines_up_both_runs(two_runs: dict, tmp_path: Path) -> None:
    from unet1d.store.curves import read_curves

    env = two_runs["env"]
    out = tmp_path / "compare.json"
    printed = unet1d("compare", str(two_runs["conv"].parent), "--out", str(out), env=env).stdout
    table = json.loads(out.read_text())
    assert {v["variant"] for v in table["variants"]} == {"conv-c8", "attention-4-c8"}
    assert "attention-4-c8" in printed
    for row in table["runs"]:
        summary = json.loads((Path(row["run"]) / "summary.json").read_text())
        assert row["final_val_loss"] == summary["val_loss"] and row["num_parameters"] == summary["num_parameters"]
        curves = read_curves(Path(row["run"]))
        assert curves.steps("val/loss") == [10, 20, 30]
        assert row["best_val_loss"] == pytest.approx(min(curves.values("val/loss")))


def test_a_run_without_validation_poses_has_no_val_loss_in_eval_either(tiny_config, capsys) -> None:
    """Training logs no val loss with val_fraction 0; eval used to report the loss on training poses as one."""
    from unet1d.cli import main
    from unet1d.training import train

    run = Path(train(tiny_config("--val_fraction", "0", "--max_steps", "4", "--eval_every", "4")).output_dir)
    assert json.loads((run / "summary.json").read_text())["val_loss"] is None
    with pytest.raises(SystemExit) as exited:
        main(["eval", str(run), "--num-samples", "32", "--task_poses", "0", "--device", "cpu"])
    printed = capsys.readouterr().out
    assert exited.value.code == 0 and "val loss of the ema weights - (the run holds no validation poses)" in printed, (
        printed
    )
    assert "turned into" not in printed  # the run's own data: nothing turned, nothing said
    assert np.isnan(json.loads((run / "eval" / "step-4.json").read_text())["val_loss"])


def test_eval_on_data_of_the_other_world_turns_it_into_the_runs(two_runs: dict, tmp_path: Path) -> None:
    """Verification walk: a y-up run evaluated with `--data <AMASS tree>` scored z-up poses as they were (the
    reference and the validation poses lying down: upright 0 %), exit 0."""
    from unet1d.body.heading import upright_share
    from unet1d.data.synthetic_amass import write_amass_tree
    from unet1d.evaluation.evaluate import evaluate

    write_amass_tree(tmp_path / "amass", 24, clips_per_file=3, seed=6)
    overrides = ["--data", str(tmp_path / "amass"), "--task_poses", "0", "--cache", "false"]
    report, _, reference = evaluate(two_runs["conv"], num_samples=64, device="cpu", overrides=overrides)
    assert reference.up_axis == "y" and upright_share(reference.poses, "y") == pytest.approx(1.0)
    assert np.isfinite(report.val_loss) and report.val_loss < 10  # the run's statistics fit the turned poses
    # said, as complete and denoise say it (it was silent)
    assert report.notes == [f"--data {tmp_path / 'amass'}: z-up, turned into this run's y-up world"]
    printed = unet1d("eval", str(two_runs["conv"]), "--num-samples", "64", "--device", "cpu", "-o",
                     str(tmp_path / "e.json"), *overrides, env=two_runs["env"]).stdout  # fmt: skip
    assert report.notes[0] in printed.splitlines(), printed


def test_eval_scores_a_z_up_run_on_builtin_and_an_explicit_y_run_on_amass_in_each_runs_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second verification walk: a z-up run with `--data builtin` was scored against the generator's y-up poses
    (data upright 0 %, C2ST 0.99), and a run trained with an explicit `--up_axis y` took an AMASS tree as y-up."""
    import torch

    from tests.conftest import isolate_wandb, tiny_run_config
    from unet1d.body.heading import upright_share
    from unet1d.data.synthetic_amass import write_amass_tree
    from unet1d.evaluation.evaluate import evaluate
    from unet1d.training import train

    isolate_wandb(monkeypatch, tmp_path / "home")
    amass = tmp_path / "amass"
    write_amass_tree(amass, 24, clips_per_file=3, seed=6)
    threads = torch.get_num_threads()
    z_run = train(tiny_run_config(tmp_path / "z", "--max_steps", "4", "--data", str(amass), "--cache", "false"))
    y_run = train(tiny_run_config(tmp_path / "y", "--max_steps", "4", "--up_axis", "y"))
    torch.set_num_threads(threads)
    for run, data, world in ((z_run, "builtin", "z"), (y_run, str(amass), "y")):
        overrides = ["--data", data, "--task_poses", "0", "--cache", "false"]
        _, _, reference = evaluate(run.output_dir, num_samples=64, device="cpu", overrides=overrides)
        assert reference.up_axis == world and upright_share(reference.poses, world) == pytest.approx(1.0), data
        assert upright_share(reference.floor, world) == pytest.approx(1.0)
