"""Sample-quality metrics against closed forms and known distributions."""

from __future__ import annotations

import numpy as np
import pytest

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
