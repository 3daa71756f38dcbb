"""Sample-quality metrics for pose sets: pure functions of arrays, shape (N, D) unless stated.

Computed in float64 numpy so results do not depend on the training device or precision.
"""

from __future__ import annotations

import numpy as np


def _as_float64(poses: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(poses, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2:
        raise ValueError(f"{name} must have shape (N, D) with N >= 2, got {array.shape}")
    return array


def frechet_distance(samples: np.ndarray, reference: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of two pose sets (FID's formula, on poses).

    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. The trace of the matrix square root
    is computed as the sum of square roots of the eigenvalues of ``S_a^(1/2) S_b S_a^(1/2)``,
    which is symmetric positive semi-definite, so no complex arithmetic is needed.
    """
    a, b = _as_float64(samples, "samples"), _as_float64(reference, "reference")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"samples have {a.shape[1]} dims but reference has {b.shape[1]}")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eigvals, eigvecs = np.linalg.eigh(cov_a)
    sqrt_a = (eigvecs * np.sqrt(np.clip(eigvals, 0, None))) @ eigvecs.T
    middle = sqrt_a @ cov_b @ sqrt_a
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    distance = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return float(max(distance, 0.0))


def mmd_rbf(samples: np.ndarray, reference: np.ndarray, bandwidth: float | None = None) -> float:
    """Unbiased squared maximum mean discrepancy with a Gaussian kernel.

    ``bandwidth`` defaults to the median pairwise distance of the reference set (median heuristic).
    Near 0 (it can dip slightly below) when both sets come from one distribution.
    """
    a, b = _as_float64(samples, "samples"), _as_float64(reference, "reference")

    def squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.clip((x**2).sum(1)[:, None] + (y**2).sum(1)[None, :] - 2 * x @ y.T, 0, None)

    if bandwidth is None:
        reference_distances = squared_distances(b, b)
        bandwidth = float(np.sqrt(np.median(reference_distances[np.triu_indices(len(b), k=1)])))
    gamma = 1.0 / (2 * bandwidth**2)
    k_aa, k_bb = np.exp(-gamma * squared_distances(a, a)), np.exp(-gamma * squared_distances(b, b))
    k_ab = np.exp(-gamma * squared_distances(a, b))
    n, m = len(a), len(b)
    within_a = (k_aa.sum() - np.trace(k_aa)) / (n * (n - 1))
    within_b = (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
    return float(within_a + within_b - 2 * k_ab.mean())


def nearest_labels(samples: np.ndarray, reference: np.ndarray, reference_labels: np.ndarray) -> np.ndarray:
    """Label each sample with the label of its nearest reference pose (Euclidean)."""
    a, b = np.asarray(samples, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    distances = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return np.asarray(reference_labels)[distances.argmin(axis=1)]


def family_coverage(labels: np.ndarray, num_families: int) -> tuple[float, np.ndarray]:
    """Share of families that appear at all, and each family's share of the samples."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_families)[:num_families]
    return float((counts > 0).mean()), counts / max(len(labels), 1)


def mean_pairwise_distance(poses: np.ndarray) -> float:
    """Diversity: average Euclidean distance between distinct poses (collapse drives it to 0)."""
    x = _as_float64(poses, "poses")
    squared = np.clip((x**2).sum(1)[:, None] + (x**2).sum(1)[None, :] - 2 * x @ x.T, 0, None)
    n = len(x)
    return float(np.sqrt(squared).sum() / (n * (n - 1)))
