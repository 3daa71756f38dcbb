"""Memorisation: are samples closer to training poses than training poses are to each other?

Definition (``--reference train``). In the evaluation's feature space, let ``d(x)`` be the
distance from a pose ``x`` to its nearest training pose. For a training pose ``t`` the same
distance is taken to the training poses of *other* sequences (frames of one take are
near-copies of each other, so its own take would make every distance tiny). The threshold ``tau``
is the :data:`QUANTILE` quantile of those training-to-training distances. The score is the share
of samples with ``d(sample) < tau``.

A sample drawn afresh from the data's distribution lands that close as often as a training pose
does, so the base rate is :data:`QUANTILE` (0.10); copies of training poses score 1.0. Well above
the base rate means samples sit on top of training poses more than new data would.
"""

from __future__ import annotations

import math

import numpy as np

QUANTILE = 0.1  # the base rate: what fresh draws from the data score
PROBES = 2000  # training poses whose nearest other-sequence distance sets the threshold
POOL = 20_000  # training poses searched
_CHUNK = 256


def nearest_distances(queries: np.ndarray, pool: np.ndarray, query_groups: np.ndarray | None = None,
                      pool_groups: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """(Q,) Euclidean distance from each query to its nearest pool row, skipping pool rows of the query's own group."""
    pool = np.asarray(pool, dtype=np.float64)
    pool_sq = (pool**2).sum(axis=1)
    out = np.empty(len(queries))
    for start in range(0, len(queries), _CHUNK):
        block = np.asarray(queries[start : start + _CHUNK], dtype=np.float64)
        squared = (block**2).sum(axis=1)[:, None] + pool_sq[None, :] - 2 * block @ pool.T
        if query_groups is not None and pool_groups is not None:
            squared[query_groups[start : start + _CHUNK, None] == pool_groups[None, :]] = np.inf
        out[start : start + _CHUNK] = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
    return out


def memorisation_threshold(train: np.ndarray, groups: np.ndarray | None = None, seed: int = 0) -> float:
    """``tau``: the :data:`QUANTILE` quantile of training poses' distances to other sequences' training poses.

    ``train`` (N, D) features; ``groups`` (N,) sequence ids (None: every pose its own sequence).
    """
    rng = np.random.default_rng(seed)
    groups = np.arange(len(train)) if groups is None else np.asarray(groups)
    pool = rng.choice(len(train), min(POOL, len(train)), replace=False)
    probes = pool[: min(PROBES, len(pool))]  # a random subset of the pool (the pool is a random permutation)
    distances = nearest_distances(train[probes], train[pool], groups[probes], groups[pool])
    finite = distances[np.isfinite(distances)]
    return float(np.quantile(finite, QUANTILE)) if len(finite) else math.nan  # one sequence: no other to be near


def memorisation_score(samples: np.ndarray, train: np.ndarray, tau: float, seed: int = 0) -> float:
    """Share of ``samples`` (features) closer than ``tau`` to a training pose (searched in a POOL-row subset)."""
    rng = np.random.default_rng(seed)
    pool = rng.choice(len(train), min(POOL, len(train)), replace=False)
    return float((nearest_distances(samples, train[pool]) < tau).mean())
