"""The quality module: the baselines' promises on the built-in reference, and file data's limits."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.slow
def test_builtin_reference_baselines_meet_their_promises() -> None:
    """Two draws of the built-in data are nearly indistinguishable; the Gaussian is told apart by structure,
    the classifier test included (whole body and every part)."""
    from unet1d.config import Config
    from unet1d.data import load_pose_data
    from unet1d.evaluation.c2st import BODY_PARTS
    from unet1d.evaluation.quality import baselines, beats, build_reference, score
    from unet1d.metric_registry import BY_NAME

    config = Config()
    reference = build_reference(config, load_pose_data(config.data, 72, seed=0))
    assert reference.name == "builtin-fresh" and len(reference.poses) == 10_000
    scores = baselines(reference, 2000)  # the eval default; FD carries a bias ~ 1/N
    data, gauss = scores["data"], scores["gaussian"]
    assert data["frechet_distance"] < 1 and data["precision"] > 0.95 and data["recall"] > 0.95
    assert data["one_nn_accuracy"] == pytest.approx(0.5, abs=0.05) and data["poses_outside_limits"] == 0.0
    assert gauss["precision"] < 0.7 and gauss["poses_outside_limits_tol"] > 0.15
    assert all(beats(data, gauss).values())
    assert data["c2st_auc"] == pytest.approx(0.5, abs=0.05) and gauss["c2st_auc"] > 0.9
    assert not any(key.startswith("c2st_auc_") for key in (*data, *gauss))  # baselines: whole body only
    parts = score(reference.floor[-1000:], reference)  # real poses against the reference, 1,000 a side
    assert all(parts[f"c2st_auc_{part}"] < 0.56 for part in BODY_PARTS)  # the floor, part by part (SE ~0.013)
    assert BY_NAME["c2st_auc"].structure and BY_NAME["c2st_auc"].better == "lower"


def test_file_data_limits_are_human_limits(tmp_path) -> None:
    """Recorded data outside the generator's ranges (a collar held low) is not condemned: human limits apply."""
    from unet1d.config_sources import load_config
    from unet1d.data import load_pose_data
    from unet1d.data.builtin import generate_builtin_poses
    from unet1d.evaluation.quality import build_reference, limit_scores

    poses = generate_builtin_poses(3000, seed=1).poses
    poses[:, 13 * 3 + 2] = -0.65 + 0.02 * np.random.default_rng(0).normal(size=len(poses))  # left collar z
    for index, part in enumerate(np.array_split(poses, 20)):
        np.save(tmp_path / f"take{index:02d}.npy", part)
    config = load_config(None, ["--data", str(tmp_path)], environ={})
    reference = build_reference(config, load_pose_data(config.data, 72, seed=0))
    assert reference.limits_kind == "human limits" and reference.name == "val"
    assert limit_scores(reference.poses, reference.limits)["poses_outside_limits_tol"] < 0.05
    assert np.all(reference.limits[:3] == [[-np.pi, np.pi]] * 3)  # heading free


def test_score_without_the_classifier_leaves_only_its_keys_out(tmp_path) -> None:
    """``classifier=False`` (the bench's rows) drops c2st_auc and its parts; every other score is the same."""
    from unet1d.config_sources import load_config
    from unet1d.data import load_pose_data
    from unet1d.data.builtin import generate_builtin_poses
    from unet1d.evaluation.quality import build_reference, score

    for index, part in enumerate(np.array_split(generate_builtin_poses(2000, seed=1).poses, 10)):
        np.save(tmp_path / f"take{index:02d}.npy", part)
    config = load_config(None, ["--data", str(tmp_path)], environ={})
    reference = build_reference(config, load_pose_data(config.data, 72, seed=0))
    samples = generate_builtin_poses(200, seed=2).poses
    full, light = score(samples, reference), score(samples, reference, classifier=False)
    classifier_keys = {key for key in full if key.startswith("c2st_auc")}
    assert "c2st_auc" in classifier_keys and len(classifier_keys) == 5
    assert set(light) == set(full) - classifier_keys
    assert all(
        np.all(light[key] == full[key]) if not isinstance(full[key], dict) else light[key] == full[key] for key in light
    )


def test_a_reference_too_small_to_score_against_is_refused_or_replaced_by_the_training_poses(tmp_path) -> None:
    """The classifier test needs 32 poses a side (MIN_EVAL_SAMPLES): fewer failed deep in it, after training."""
    import dataclasses

    from unet1d.config_sources import load_config
    from unet1d.data import load_pose_data
    from unet1d.data.builtin import generate_builtin_poses
    from unet1d.errors import UserError
    from unet1d.evaluation.quality import build_reference, score

    np.save(tmp_path / "one_take.npy", generate_builtin_poses(40, seed=0).poses)  # one sequence: 36 train, 4 val
    np.save(tmp_path / "five.npy", generate_builtin_poses(5, seed=1).poses)
    config = load_config(None, ["--data", str(tmp_path / "one_take.npy")], environ={})
    splits = load_pose_data(config.data, 72, seed=0)
    assert len(splits.val) < 32 <= len(splits.train)
    reference = build_reference(config, splits)  # auto: the training poses, named as such in the report
    assert reference.name == "train" and len(reference.poses) == len(splits.train)
    scores = score(generate_builtin_poses(32, seed=2).poses, reference)
    assert 0 <= scores["c2st_auc"] <= 1 and scores["memorisation"] is None  # one sequence: nothing to be near
    with pytest.raises(UserError, match=r"--reference val: this run holds out 4 validation poses; .* at least 32"):
        build_reference(config, splits, "val")
    with pytest.raises(UserError, match=r"five\.npy'?: holds 5 poses; scores need at least 32"):
        build_reference(config, splits, str(tmp_path / "five.npy"))
    with pytest.raises(UserError, match=r"reference \(train\) holds 20 poses; scores need at least 32"):
        build_reference(config, dataclasses.replace(splits, train=splits.train[:20]), "train")
