"""The quality probe the `train` command hands the loop: quality/* during training, the final evaluation at its end."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import isolate_wandb, tiny_run_config
from tests.training.test_loop import tensorboard_scalars
from unet1d.evaluation import quality
from unet1d.evaluation.probe import QualityProbe
from unet1d.evaluation.quality import gaussian_verdict
from unet1d.store import load_for_eval
from unet1d.training import train


@pytest.fixture(scope="module")
def probed_run(tmp_path_factory: pytest.TempPathFactory):
    """A 10-step tiny run with a probe every 5 steps and a 48-pose final evaluation (a 400-pose reference)."""
    root = tmp_path_factory.mktemp("probed")
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        isolate_wandb(patch, root / "home")
        patch.setattr(quality, "REFERENCE_POSES", 400)  # a smaller fresh reference: same code, faster
        torch.set_num_threads(1)
        config = tiny_run_config(
            root / "run", "--max_steps", "10", "--quality_every", "5", "--quality_samples", "32",
            "--final_eval_samples", "48", "--task_poses", "0",
        )  # fmt: skip
        result = train(config, probe=QualityProbe)
        yield root / "run", config, result
        torch.set_num_threads(threads)


@pytest.mark.slow  # the fixture: one tiny run with probes and a final evaluation (~10 s on a loaded CPU)
def test_quality_probes_and_the_final_evaluation_reach_dashboards_and_summary(probed_run):
    """quality/* every quality_every steps; at the end eval/step-N.json + .png, eval/* scalars, summary quality."""
    run_dir, _, result = probed_run
    report = json.loads((run_dir / "eval" / "step-10.json").read_text())
    assert report["num_samples"] == 48 and report["reference"] == "builtin-fresh"
    assert (run_dir / "eval" / "step-10.png").stat().st_size > 10_000
    scalars = tensorboard_scalars(run_dir)
    assert [step for step, _ in scalars["quality/precision"]] == [5, 10]
    assert scalars["eval/precision"] == [(10, pytest.approx(report["precision"]))]
    assert result.quality["one_nn_accuracy"] == pytest.approx(report["one_nn_accuracy"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["quality"]["poses_outside_limits_tol"] == pytest.approx(report["poses_outside_limits_tol"])


@pytest.mark.slow
def test_the_final_evaluation_scores_the_ema_weights(probed_run):
    """The eval JSON `compare` reads comes from the EMA weights: re-scoring the checkpoint's ema.safetensors
    reproduces it, and the raw weights (which a ten-step EMA is still far from) do not."""
    from unet1d.data import load_pose_data
    from unet1d.evaluation.sampling import sample_poses

    run_dir, config, _ = probed_run
    report = json.loads((run_dir / "eval" / "step-10.json").read_text())
    assert report["weights"] == "ema"
    checkpoint = load_for_eval(run_dir)
    assert checkpoint.step == 10 and checkpoint.ema_weights is not None
    splits = load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quality, "REFERENCE_POSES", 400)
        reference = quality.build_reference(config, splits, "auto")
    cpu = torch.device("cpu")

    def scores(ema: bool) -> dict:
        network = checkpoint.build_model(ema=ema, device=cpu)
        return quality.score(sample_poses(network, config, checkpoint.stats, 48, seed=0, device=cpu), reference)

    from_ema, from_raw = scores(ema=True), scores(ema=False)
    for key in ("frechet_distance", "mmd", "dnn_rad", "apd_cm"):
        assert from_ema[key] == pytest.approx(report[key], rel=1e-4), key
    assert all(from_raw[key] != pytest.approx(report[key], rel=1e-3) for key in ("frechet_distance", "dnn_rad"))


def test_without_a_probe_the_loop_scores_nothing(tiny_config, tmp_path):
    """`training` gets its probe from the command; a library caller that passes none gets no quality numbers."""
    result = train(tiny_config("--max_steps", "5", "--quality_every", "5", "--final_eval_samples", "48"))
    assert result.quality is None and not (tmp_path / "run" / "eval").exists()
    assert not any(tag.startswith("quality/") for tag in tensorboard_scalars(tmp_path / "run"))


def test_the_final_evaluations_line_says_when_the_model_loses_on_every_metric() -> None:
    assert gaussian_verdict({"precision": True, "c2st_auc": True}).endswith("on every structure-aware metric")
    assert gaussian_verdict({"precision": True, "c2st_auc": False, "recall": False}) == (
        "beats the Gaussian baseline on 1 of 3 structure-aware metrics (precision); not on c2st_auc, recall"
    )  # it read "beats the Gaussian baseline except on c2st_auc, recall": a pass, when it lost most
    # on recorded takes real poses lose 1-NN to the Gaussian (a take's frames are each other's neighbours): a model's
    # only "win" was there
    assert gaussian_verdict({"precision": False, "one_nn_accuracy": True}, ["one_nn_accuracy"]) == (
        "beats the Gaussian baseline on none of the structure-aware metrics; left out: one_nn_accuracy (real poses "
        "do not beat the Gaussian there)"
    )
    assert gaussian_verdict({"one_nn_accuracy": True}, ["one_nn_accuracy"]).startswith(  # not a pass: none counted
        "no structure-aware metric counts against this reference"
    )
    assert gaussian_verdict({"precision": False, "c2st_auc": False}).endswith("on none of the structure-aware metrics")


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--eval_reference", "/nowhere/poses.npy"], "--eval_reference '/nowhere/poses.npy': no such file or folder"),
        (["--val_fraction", "0", "--eval_reference", "val"], "--eval_reference val: this run holds out 0 validation"),
    ],
)
def test_a_reference_that_cannot_be_scored_against_stops_the_run_before_its_first_step(
    tiny_config, tmp_path, flags, named
):
    from unet1d.errors import UserError

    config = tiny_config("--max_steps", "20", "--quality_every", "0", "--final_eval_samples", "48", *flags)
    with pytest.raises(UserError, match=named):
        train(config, probe=QualityProbe)  # it stopped at the final evaluation, after all the training
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_runs_training_time_leaves_its_final_evaluation_out(tiny_config, tmp_path):
    # compare's "time s" set two runs of one config apart by their --final_eval_samples
    import time

    started = time.perf_counter()
    result = train(
        tiny_config("--max_steps", "5", "--final_eval_samples", "48", "--task_poses", "4"), probe=QualityProbe
    )
    elapsed = time.perf_counter() - started
    evaluation = json.loads((tmp_path / "run" / "eval" / "step-5.json").read_text())
    assert evaluation["eval_seconds"] > 0
    assert result.wall_time_s + evaluation["eval_seconds"] <= elapsed  # the two spans do not overlap
    assert result.steps_per_s == pytest.approx(5 / result.wall_time_s)


def test_the_runs_peak_memory_leaves_its_final_evaluation_out(tiny_config, monkeypatch):
    # summary.json's peak MiB was read after the final evaluation: ~95 MiB over TensorBoard's and W&B's, and
    # `compare` set two runs of one config apart by their --final_eval_samples
    from unet1d.training import loop

    evaluated = []
    final_evaluation = loop.Trainer.final_evaluation
    monkeypatch.setattr(loop.Trainer, "final_evaluation", lambda self: evaluated.append(1) or final_evaluation(self))
    monkeypatch.setattr(loop, "peak_memory_mb", lambda device: 2000.0 if evaluated else 100.0)  # the RSS high-water
    result = train(
        tiny_config("--max_steps", "5", "--final_eval_samples", "48", "--task_poses", "4"), probe=QualityProbe
    )
    assert evaluated and result.quality is not None
    assert result.peak_memory_mb == 100.0
