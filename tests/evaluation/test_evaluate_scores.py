"""`eval`'s scores mean what the README says: computed on normalised poses, and better for a trained checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import tiny_run_config
from unet1d.body.heading import canonical_heading
from unet1d.data import load_pose_data
from unet1d.evaluation import metrics, quality
from unet1d.evaluation.evaluate import draw_samples, evaluate
from unet1d.store import load_for_eval
from unet1d.training import train

pytestmark = pytest.mark.slow
NUM_SAMPLES, SEED = 256, 3


VAL_MAX_POSES = 20  # fewer than the tiny run holds out: validation scores a subset


def cadence(steps: str) -> list[str]:
    """``steps`` steps with one checkpoint and one validation, at the end: only the final weights are scored."""
    cap = ["--val_max_poses", str(VAL_MAX_POSES)]
    return ["--max_steps", steps, "--checkpoint_every", steps, "--eval_every", steps, *cap]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same tiny run trained for 150 steps and for 1 (barely moved from its initial weights).

    eps-prediction: its loss halves in 150 steps of this tiny network; v-prediction's moves less.
    """
    root = tmp_path_factory.mktemp("eval-runs")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {
            name: Path(train(tiny_run_config(root / name, *cadence(steps), "--prediction", "eps")).output_dir)
            for name, steps in (("trained", "150"), ("untrained", "1"))
        }
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scored(runs: dict[str, Path]) -> dict:
    """``evaluate`` of each run once, with the arrays that reached ``frechet_distance`` recorded (the real
    metric, its arguments kept): both tests read one evaluation of the trained run."""
    from accelerate.state import AcceleratorState

    recorded: list[tuple[np.ndarray, np.ndarray]] = []
    frechet_distance = metrics.frechet_distance

    def spy(samples: np.ndarray, reference: np.ndarray) -> float:
        recorded.append((samples, reference))
        return frechet_distance(samples, reference)

    with pytest.MonkeyPatch.context() as patch:
        # A 2,000-pose fresh reference instead of 10,000 (each drawn from a clip of 30 frames): same code, a fifth
        # of the generation, and still eight times the 256 samples.
        patch.setattr(quality, "REFERENCE_POSES", 2000)
        no_tasks = ["--task_poses", "0"]  # sample quality only: the task scores are tests/evaluation/test_tasks.py's
        untrained = evaluate(runs["untrained"], num_samples=NUM_SAMPLES, seed=SEED, device="cpu", overrides=no_tasks)[0]
        patch.setattr(metrics, "frechet_distance", spy)  # after the baselines were scored (and kept) above
        trained = evaluate(runs["trained"], num_samples=NUM_SAMPLES, seed=SEED, device="cpu", overrides=no_tasks)
    return {"trained": trained, "untrained": untrained, "fd_arguments": recorded,
            "accelerate_state_left": dict(AcceleratorState._shared_state)}  # fmt: skip


def test_a_trained_checkpoint_scores_better_than_an_untrained_one(scored: dict) -> None:
    trained, untrained = scored["trained"][0], scored["untrained"]
    assert not scored["accelerate_state_left"]  # eval leaves no Accelerate state for a later run in this process
    assert trained.step == 150 and untrained.step == 1
    assert trained.val_loss < 0.5 * untrained.val_loss, (trained.val_loss, untrained.val_loss)
    better, worse = trained.scores, untrained.scores
    assert better["frechet_distance"] < worse["frechet_distance"], (better, worse)
    assert better["dnn_rad"] < worse["dnn_rad"] and better["mmd"] < worse["mmd"], (better, worse)


def test_scores_are_computed_on_normalised_poses(runs: dict[str, Path], scored: dict) -> None:
    """The documented space: heading removed, standardised by the training split's statistics."""
    report, radians, reference_set = scored["trained"]
    (samples, reference), checkpoint = scored["fd_arguments"][0], load_for_eval(runs["trained"])

    poses = draw_samples(checkpoint, NUM_SAMPLES, seed=SEED, device=torch.device("cpu"))  # radians
    np.testing.assert_allclose(radians, poses, rtol=1e-6, atol=1e-6)
    config = checkpoint.config
    train = canonical_heading(load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed).train)
    mean, std = train.mean(axis=0), np.maximum(train.std(axis=0), 1e-3)
    np.testing.assert_allclose(samples, (canonical_heading(poses) - mean) / std, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(reference, (canonical_heading(reference_set.poses) - mean) / std, rtol=1e-4, atol=1e-4)

    frechet_distance = metrics.frechet_distance
    assert report.scores["frechet_distance"] == pytest.approx(frechet_distance(samples, reference), rel=1e-9)
    in_radians = frechet_distance(poses, reference_set.poses)
    assert abs(in_radians - report.scores["frechet_distance"]) > 0.1 * report.scores["frechet_distance"]


def test_eval_scores_the_held_out_subset_the_training_loop_validated(runs: dict[str, Path], scored: dict) -> None:
    """``train.val_max_poses`` caps validation at evenly spaced held-out poses; ``eval`` reports the loss of the
    same poses with the same draws: the training loop's last val/loss_ema, and not the loss of every held-out pose."""
    import json

    from unet1d.diffusion import NoiseSchedule
    from unet1d.diffusion.validation import validation_loss, validation_seed, validation_subset

    summary = json.loads((runs["trained"] / "summary.json").read_text())
    assert scored["trained"][0].val_loss == summary["val_loss_ema"]
    checkpoint = load_for_eval(runs["trained"])
    config = checkpoint.config
    held_out = load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed).val
    assert len(held_out) > VAL_MAX_POSES
    poses = torch.as_tensor(checkpoint.stats.normalize(held_out))
    every = validation_loss(
        checkpoint.build_model(ema=True, device=torch.device("cpu")), NoiseSchedule.from_config(config.diffusion),
        poses, prediction=config.diffusion.prediction, seed=validation_seed(config.train.seed),
    )  # fmt: skip
    assert every != summary["val_loss_ema"]
    subset = validation_subset(poses, VAL_MAX_POSES)
    assert len(subset) == VAL_MAX_POSES and torch.equal(subset[[0, -1]], poses[[0, -1]])


def test_a_run_trained_in_bf16_is_validated_in_bf16_by_eval_too(tiny_config, tmp_path) -> None:
    """The loop validates under the run's autocast; eval validated in fp32, 1e-4 away from val/loss_ema."""
    import json

    run = Path(train(tiny_config("--max_steps", "10", "--mixed_precision", "bf16")).output_dir)
    summary = json.loads((run / "summary.json").read_text())
    report, _, _ = evaluate(run, num_samples=32, device="cpu", overrides=["--task_poses", "0"])
    assert report.val_loss == summary["val_loss_ema"]
