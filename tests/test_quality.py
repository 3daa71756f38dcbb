"""Sample-quality scores on inputs with known answers, the heading transform, and the baselines' promises."""

from __future__ import annotations

import numpy as np
import pytest

from unet1d.data.heading import apply_heading, canonical_heading, heading_of, random_heading
from unet1d.data.rotations import axis_angle_to_quaternion
from unet1d.evaluation import metrics


def gaussian(n: int, dim: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)) + shift


def test_knn_scores_of_two_draws_of_one_distribution_are_near_one() -> None:
    scores = metrics.knn_precision_recall(gaussian(1000, 4, 0), gaussian(1000, 4, 1), k=10)
    assert scores["precision"] > 0.9 and scores["recall"] > 0.9 and scores["coverage"] > 0.95
    assert scores["density"] == pytest.approx(1.0, abs=0.1)


def test_knn_scores_of_disjoint_sets_are_zero() -> None:
    scores = metrics.knn_precision_recall(gaussian(300, 4, 0, shift=100.0), gaussian(300, 4, 1), k=5)
    assert scores == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_knn_precision_falls_with_the_share_of_samples_off_the_data() -> None:
    real = gaussian(1000, 3, 0)
    samples = np.concatenate([gaussian(700, 3, 1), gaussian(300, 3, 2, shift=50.0)])
    scores = metrics.knn_precision_recall(samples, real, k=10)
    assert scores["precision"] == pytest.approx(
        0.7 * metrics.knn_precision_recall(samples[:700], real, k=10)["precision"], abs=0.02
    )


def test_one_nn_accuracy_is_one_half_for_one_distribution_one_for_disjoint_sets_zero_for_copies() -> None:
    assert metrics.one_nn_accuracy(gaussian(1000, 5, 0), gaussian(1000, 5, 1)) == pytest.approx(0.5, abs=0.04)
    assert metrics.one_nn_accuracy(gaussian(200, 5, 0, shift=100.0), gaussian(200, 5, 1)) == 1.0
    copies = gaussian(200, 5, 0)
    assert metrics.one_nn_accuracy(copies, copies.copy()) == 0.0  # memorised: every nearest point is the twin


def random_poses(n: int, seed: int, scale: float = 0.5) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=scale, size=(n, 72)).astype(np.float32)


def test_nearest_geodesic_distance_matches_brute_force_and_closed_forms() -> None:
    from unet1d.evaluation.quality import body_quaternions

    reference, samples = random_poses(400, 0), random_poses(50, 1)
    fast = metrics.nearest_geodesic_distance(body_quaternions(samples), body_quaternions(reference))
    q_s, q_r = body_quaternions(samples), body_quaternions(reference)
    dots = np.abs(np.einsum("ajq,bjq->abj", q_s, q_r)).clip(max=1.0)
    brute = (2 * np.arccos(dots)).mean(axis=2).min(axis=1)
    np.testing.assert_allclose(fast, brute, atol=1e-4)
    # A training pose itself is at distance 0; one joint turned by 0.3 rad more is at 0.3 / 23.
    turned = reference[:1].copy()
    turned[0, 3 * 5 : 3 * 5 + 3] = 0.0
    base = turned.copy()
    turned[0, 3 * 5] = 0.3
    distance = metrics.nearest_geodesic_distance(body_quaternions(turned), body_quaternions(base))
    assert distance[0] == pytest.approx(0.3 / 23, rel=1e-4)
    assert metrics.nearest_geodesic_distance(q_r[:5], q_r)[:5] == pytest.approx(0.0, abs=1e-3)


def test_average_pairwise_distance_against_a_direct_sum() -> None:
    positions = np.random.default_rng(0).normal(size=(7, 4, 3))
    direct = np.mean(
        [np.linalg.norm(positions[i] - positions[j], axis=1).mean() for i in range(7) for j in range(7) if i != j]
    )
    assert metrics.average_pairwise_distance(positions) == pytest.approx(direct, rel=1e-12)


def test_limit_excess_is_the_distance_outside_the_bounds() -> None:
    limits = np.array([[-1.0, 1.0], [0.0, 0.5]])
    values = np.array([[0.0, 0.7], [-1.5, 0.25], [2.0, -0.1]])
    np.testing.assert_allclose(metrics.limit_excess(values, limits), [[0.0, 0.2], [0.5, 0.0], [1.0, 0.1]])


def test_heading_is_removed_idempotently_and_restored_exactly() -> None:
    from unet1d.data.builtin import generate_builtin_poses

    poses = generate_builtin_poses(600, seed=3).poses
    canonical = canonical_heading(poses)
    assert np.abs(heading_of(canonical)).max() < 1e-6
    np.testing.assert_allclose(canonical_heading(canonical), canonical, atol=1e-6)
    np.testing.assert_array_equal(canonical[:, 3:], poses[:, 3:])  # only the root turns
    back = apply_heading(canonical, heading_of(poses))
    dots = np.abs((axis_angle_to_quaternion(back[:, :3]) * axis_angle_to_quaternion(poses[:, :3])).sum(-1))
    assert dots.min() > 1 - 1e-6  # the same rotation (axis-angle may differ by the +-pi wrap)
    turned = random_heading(canonical, np.random.default_rng(0))
    headings = heading_of(turned)
    assert np.abs(headings).max() <= np.pi and np.histogram(headings, bins=4)[0].min() > 100  # spread round
    assert np.abs(np.linalg.norm(turned[:, :3], axis=1)).max() <= np.pi + 1e-5  # never past the wrap


def test_body_only_poses_have_no_heading() -> None:
    body = random_poses(10, 0)[:, 3:66]
    np.testing.assert_array_equal(canonical_heading(body), body)


@pytest.mark.slow
def test_builtin_reference_baselines_meet_their_promises() -> None:
    """Two draws of the built-in data are nearly indistinguishable; the Gaussian is told apart by structure."""
    from unet1d.config import Config
    from unet1d.data import load_pose_data
    from unet1d.evaluation.quality import baselines, beats, build_reference

    config = Config()
    reference = build_reference(config, load_pose_data(config.data, 72, seed=0))
    assert reference.name == "builtin-fresh" and len(reference.poses) == 10_000
    scores = baselines(reference, 2000)  # the eval default; FD carries a bias ~ 1/N
    data, gauss = scores["data"], scores["gaussian"]
    assert data["frechet_distance"] < 1 and data["precision"] > 0.95 and data["recall"] > 0.95
    assert data["one_nn_accuracy"] == pytest.approx(0.5, abs=0.05) and data["poses_outside_limits"] == 0.0
    assert gauss["precision"] < 0.7 and gauss["poses_outside_limits_tol"] > 0.15
    assert all(beats(data, gauss).values())


def test_file_data_limits_are_human_limits(tmp_path) -> None:
    """Recorded data outside the generator's ranges (a collar held low) is not condemned: human limits apply."""
    from unet1d.config import load_config
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


def test_the_scoring_modules_the_training_probe_imports_do_not_import_training() -> None:
    """training/probe.py imports evaluation.quality and evaluation.sampling: they must stay free of training."""
    import subprocess
    import sys

    check = (
        "import sys, unet1d.evaluation.quality, unet1d.evaluation.sampling;"
        "print(sorted(m for m in sys.modules if m.startswith(('unet1d.training', 'unet1d.cli'))))"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
