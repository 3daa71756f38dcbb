"""Sample-quality metrics (pure functions) against closed forms, known distributions and brute force."""

from __future__ import annotations

import numpy as np
import pytest

from unet1d.evaluation import metrics
from unet1d.evaluation.metrics import (
    family_coverage,
    frechet_distance,
    mean_pairwise_distance,
    mmd_rbf,
    nearest_labels,
)


def gaussian(rng: np.random.Generator, mean: np.ndarray, cov: np.ndarray, n: int) -> np.ndarray:
    return rng.multivariate_normal(mean, cov, size=n)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians() -> None:
    """For diagonal covariances FD = |mu_a - mu_b|^2 + sum (sigma_a - sigma_b)^2."""
    rng = np.random.default_rng(0)
    mean_a, mean_b = np.array([0.0, 1.0, -1.0]), np.array([0.5, 1.0, 0.0])
    std_a, std_b = np.array([1.0, 2.0, 0.5]), np.array([1.5, 1.0, 0.5])
    a = gaussian(rng, mean_a, np.diag(std_a**2), 200_000)
    b = gaussian(rng, mean_b, np.diag(std_b**2), 200_000)
    expected = ((mean_a - mean_b) ** 2).sum() + ((std_a - std_b) ** 2).sum()
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02)


def test_frechet_distance_sees_correlation_not_only_marginals() -> None:
    """Same marginals, opposite correlation: FD = 2 tr(S) - 2 tr((S_a S_b)^1/2) > 0 in closed form."""
    rng = np.random.default_rng(1)
    rho = 0.8
    cov_a, cov_b = np.array([[1, rho], [rho, 1]]), np.array([[1, -rho], [-rho, 1]])
    a, b = gaussian(rng, np.zeros(2), cov_a, 200_000), gaussian(rng, np.zeros(2), cov_b, 200_000)
    # S_a S_b = (1 - rho^2) I, so tr((S_a S_b)^1/2) = 2 sqrt(1 - rho^2).
    expected = 4 - 4 * np.sqrt(1 - rho**2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_mmd_is_near_zero_for_one_distribution_and_positive_for_two() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(800, 4)), rng.normal(size=(800, 4))
    shifted = rng.normal(loc=0.7, size=(800, 4))
    same, different = mmd_rbf(a, b), mmd_rbf(shifted, b)
    assert abs(same) < 0.005 and different > 0.05


def test_nearest_labels_and_coverage() -> None:
    reference = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    labels = nearest_labels(np.array([[1.0, 1.0], [9.0, -1.0], [0.5, 0.0]]), reference, np.array([0, 1, 2]))
    assert labels.tolist() == [0, 1, 0]
    covered, shares = family_coverage(labels, 3)
    assert covered == pytest.approx(2 / 3) and shares.tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])


def test_nearest_labels_in_chunks_agree_with_the_full_distance_matrix() -> None:
    rng = np.random.default_rng(0)
    samples, reference, labels = rng.normal(size=(50, 6)), rng.normal(size=(300, 6)), np.arange(300)
    distances = ((samples[:, None, :] - reference[None, :, :]) ** 2).sum(-1)
    expected = distances.argmin(axis=1)
    assert nearest_labels(samples, reference, labels, chunk=7).tolist() == expected.tolist()  # 8 chunks, the last short
    assert nearest_labels(samples[:0], reference, labels).tolist() == []


def test_mean_pairwise_distance_closed_form_and_collapse() -> None:
    """For N(0, I_d) pairs, |x - y| ~ sqrt(2) chi_d; E = 2 Gamma((d+1)/2) / Gamma(d/2)."""
    from math import gamma

    rng = np.random.default_rng(3)
    d = 3
    expected = 2 * gamma((d + 1) / 2) / gamma(d / 2)
    assert mean_pairwise_distance(rng.normal(size=(3000, d))) == pytest.approx(expected, rel=0.02)
    assert mean_pairwise_distance(np.ones((10, d))) == pytest.approx(0.0, abs=1e-6)


def test_shape_errors_are_clear() -> None:
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        frechet_distance(np.zeros(5), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="3 dims but reference has 2"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 2)))


def normal_cloud(n: int, dim: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)) + shift


def test_knn_scores_of_two_draws_of_one_distribution_are_near_one() -> None:
    scores = metrics.knn_precision_recall(normal_cloud(1000, 4, 0), normal_cloud(1000, 4, 1), k=10)
    assert scores["precision"] > 0.9 and scores["recall"] > 0.9 and scores["coverage"] > 0.95
    assert scores["density"] == pytest.approx(1.0, abs=0.1)


def test_knn_scores_of_disjoint_sets_are_zero() -> None:
    scores = metrics.knn_precision_recall(normal_cloud(300, 4, 0, shift=100.0), normal_cloud(300, 4, 1), k=5)
    assert scores == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_knn_precision_falls_with_the_share_of_samples_off_the_data() -> None:
    real = normal_cloud(1000, 3, 0)
    samples = np.concatenate([normal_cloud(700, 3, 1), normal_cloud(300, 3, 2, shift=50.0)])
    scores = metrics.knn_precision_recall(samples, real, k=10)
    assert scores["precision"] == pytest.approx(
        0.7 * metrics.knn_precision_recall(samples[:700], real, k=10)["precision"], abs=0.02
    )


def test_one_nn_accuracy_is_one_half_for_one_distribution_one_for_disjoint_sets_zero_for_copies() -> None:
    assert metrics.one_nn_accuracy(normal_cloud(1000, 5, 0), normal_cloud(1000, 5, 1)) == pytest.approx(0.5, abs=0.04)
    assert metrics.one_nn_accuracy(normal_cloud(200, 5, 0, shift=100.0), normal_cloud(200, 5, 1)) == 1.0
    copies = normal_cloud(200, 5, 0)
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
