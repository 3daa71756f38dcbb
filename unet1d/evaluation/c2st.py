"""Classifier two-sample test (C2ST): can a trained classifier tell generated poses from real ones?

Nearest-neighbour scores in 72 dimensions are lenient about how joints move together; a
classifier that is trained to separate the two sets and scored on poses it did not see is the
strict test (Lopez-Paz & Oquab 2017). The answer is its held-out ROC AUC: 0.5 means it cannot
tell them apart, 1.0 means it always can, and lower is better for a model.

Built so its numbers are comparable across runs and cheap enough for every evaluation:

* **Features.** Heading-free axis-angle poses (the caller removes heading; see
  :mod:`unet1d.evaluation.quality`) become one rotation matrix per joint (9 numbers, continuous
  where axis-angle wraps), so a pose is 216 numbers (SMPL, 24 joints) or 189 (body-only, 21).
* **Jitter.** Both sets get i.i.d. Gaussian noise of ``jitter`` radians on every axis-angle
  component (seeded, so a score is reproducible) before the features are taken. A procedural
  generator produces exact values no model needs to copy (the built-in pelvis tilt is exactly 0
  in more than half the poses); without jitter the classifier would score those tells instead
  of the pose structure. The default 0.03 rad (1.7 degrees) is well below any joint's spread.
* **Classifier.** One fixed model, scikit-learn's HistGradientBoostingClassifier with settings
  :data:`CLASSIFIER` (fixed random_state), stratified :data:`FOLDS`-fold cross-validation with
  shuffled folds (fixed seed), ROC AUC pooled over the out-of-fold predictions. Every fold is a
  task of one pool (:func:`classifier_pool`), so an evaluation's tests, and the other scores
  computed beside them, share the cores fold by fold. ``unet1d eval``'s and ``unet1d train``'s pool
  is of processes (:func:`start_fold_workers`): a fit hands Python's GIL back and forth thousands of
  times (around each histogram and split), and two fits in one process wait on each other for it
  (docs/speed.md, "The evaluation"); elsewhere it is of threads. Either gives the same numbers.
* **Body parts.** The same test on each part's joints alone (:data:`BODY_PARTS`, SMPL joint
  names) says which part gives the samples away.

Sets should be of equal size (chance is then 0.5 for accuracy; AUC does not need it, but the
classifier's power depends on the counts, so compare scores made at equal counts).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
from threadpoolctl import threadpool_limits  # scikit-learn's own dependency; imports no scikit-learn

from unet1d.body.rotations import axis_angle_to_matrix
from unet1d.body.skeleton import BODY_JOINT_NAMES, JOINT_NAMES

JITTER_RAD = 0.03  # default evaluation.c2st_jitter: Gaussian noise on both sets, radians per component
JITTER_SEED = 0  # the jitter's noise is the same draw for every run: a score moves with the samples only
FOLDS = 3  # stratified folds: 5 cost 1.8x the CPU for the same AUCs (docs/classifier-test.md)
CV_SEED = 0
# HistGradientBoostingClassifier as scikit-learn ships it (100 trees of 31 leaves, learning rate 0.1), early
# stopping off so every score uses all its trees: the classifier the issue measured with. Early stopping
# (200 trees, patience 10) halved the CPU but lost 0.01 AUC on hard pairs; see docs/classifier-test.md.
CLASSIFIER = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31, "early_stopping": False, "random_state": 0}
# One OpenMP thread for the classifier (THREADS): 11 CPU s for 2,000 against 2,000 with the parts. With two
# threads on a busy 2-core machine (a sweep's runs, a training probe beside torch's threads) OpenMP's
# spin-waiting took 14x the CPU and over 12 minutes without finishing (docs/classifier-test.md).
THREADS = 1
# Where `unet1d eval` runs the folds: "processes" (each fit its own GIL) or "threads" (one process). In threads, two
# fits wait on each other for the GIL hundreds of times a second (schedstat: 0.47 s blocked per 1.85 s fit, 320
# voluntary switches per fit, against 3 one at a time), which is how a fold pool that gains 1.32x on one 2-core
# machine loses (0.92x) on another. Processes only where start_fold_workers() forked them while the process was
# still one thread (the eval command does, before torch; the train command too, for its probes and final
# evaluation): elsewhere (the library, in-process callers) the folds run in threads, as safe to start at any point.
POOL = "processes"
# What a fold process imports as soon as it starts, on the core the eval's start-up leaves idle: ~1 CPU s.
PRELOAD = ("sklearn.ensemble", "sklearn.model_selection", "sklearn.metrics")
# Joint groups by SMPL joint name. The collars move the shoulder girdle and go with the arms.
BODY_PARTS: dict[str, tuple[str, ...]] = {
    "root": ("pelvis",),
    "legs": tuple(f"{side}_{joint}" for joint in ("hip", "knee", "ankle", "foot") for side in ("left", "right")),
    "arms": tuple(
        f"{side}_{joint}" for joint in ("collar", "shoulder", "elbow", "wrist", "hand") for side in ("left", "right")
    ),
    "spine_head": ("spine1", "spine2", "spine3", "neck", "head"),
}
KEY = "c2st_auc"  # the whole-body score; parts are f"{KEY}_{part}"
Pending = Callable[[], float]  # a started test: calling it waits for its folds and returns the AUC


def joint_names(pose_dim: int) -> list[str]:
    """The joints of a pose vector: SMPL's 24 for 72 numbers, the 21 body joints for 63."""
    if pose_dim == 72:
        return JOINT_NAMES
    if pose_dim == 63:
        return BODY_JOINT_NAMES
    raise ValueError(f"c2st needs SMPL poses of 72 or 63 numbers, got {pose_dim}")


def rotation_features(poses: np.ndarray) -> np.ndarray:
    """(N, D) axis-angle radians -> (N, J, 9) rotation matrices, flattened per joint."""
    joints = np.asarray(poses, dtype=np.float64).reshape(len(poses), -1, 3)
    return axis_angle_to_matrix(joints).reshape(len(poses), joints.shape[1], 9)


def jittered(poses: np.ndarray, jitter: float, seed: int) -> np.ndarray:
    """``poses`` plus i.i.d. N(0, jitter^2) radians per component from ``seed``'s generator."""
    poses = np.asarray(poses, dtype=np.float64)
    if jitter <= 0:
        return poses
    return poses + np.random.default_rng(seed).normal(0.0, jitter, poses.shape)


def _fold_probability(x: np.ndarray, y: np.ndarray, folds: int, index: int, threads: int) -> np.ndarray:
    """Fold ``index`` of :func:`_folds`: :data:`CLASSIFIER` fitted on its training rows on ``threads`` OpenMP
    threads, its probability of class 1 on its test rows.

    Runs in a pool's worker (process or thread); the split is computed there too, so with fold processes
    the process that scores never imports scikit-learn. The OpenMP limit is set here, in the worker:
    OpenMP's thread count is a per-thread setting, so a limit set where the pool opened does not reach it.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    train, test = _folds(y, folds)[index]
    with threadpool_limits(limits=threads, user_api="openmp"):
        return HistGradientBoostingClassifier(**CLASSIFIER).fit(x[train], y[train]).predict_proba(x[test])[:, 1]


def _folds(y: np.ndarray, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The stratified shuffled folds (fixed seed) of labels ``y``: (train rows, test rows) each."""
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=CV_SEED).split(np.zeros(len(y)), y))


def _pooled_auc(y: np.ndarray, folds: int, probabilities: list[np.ndarray]) -> float:
    """ROC AUC of the out-of-fold ``probabilities`` (in fold order) put back in place (a pool's task too)."""
    from sklearn.metrics import roc_auc_score

    probability = np.empty(len(y))
    for (_, test), fold in zip(_folds(y, folds), probabilities, strict=True):
        probability[test] = fold
    return float(roc_auc_score(y, probability))


def fold_openmp_threads(threads: int = THREADS) -> int:
    """The OpenMP threads a fold's fit uses in a pool's worker (what its own prange loops read): a check."""
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    with threadpool_limits(limits=threads, user_api="openmp"):
        return int(_openmp_effective_n_threads())


def _stacked(features_a: np.ndarray, features_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of both sets as one float32 matrix, and labels 0 / 1."""
    x = np.concatenate([features_a, features_b]).astype(np.float32)
    y = np.concatenate([np.zeros(len(features_a), np.int8), np.ones(len(features_b), np.int8)])
    return x, y


def submit_auc(pool: Executor, features_a: np.ndarray, features_b: np.ndarray, folds: int | None = None) -> Pending:
    """Start the held-out ROC AUC of :data:`CLASSIFIER` telling rows of ``features_a`` (N, F) from ``features_b``.

    Each fold is its own task in ``pool``, so the tests of one evaluation (and its baselines') share
    the cores fold by fold instead of waiting on the largest test. Calling the result waits and
    returns the AUC of the out-of-fold probabilities pooled, which is what scikit-learn's
    ``cross_val_predict`` gives (tests/evaluation/test_c2st.py checks they agree).
    """
    folds = folds or FOLDS
    x, y = _stacked(features_a, features_b)
    futures = [pool.submit(_fold_probability, x, y, folds, index, THREADS) for index in range(folds)]

    def auc() -> float:
        return pool.submit(_pooled_auc, y, folds, [future.result() for future in futures]).result()

    return auc


def classifier_auc(features_a: np.ndarray, features_b: np.ndarray, folds: int | None = None) -> float:
    """:func:`submit_auc`, waited for: one test's folds side by side on this process's cores."""
    with classifier_pool(folds or FOLDS) as pool:
        return submit_auc(pool, features_a, features_b, folds)()


def submit_c2st(
    pool: Executor, samples: np.ndarray, reference: np.ndarray, *, jitter: float = JITTER_RAD, parts: bool = True
) -> Callable[[], dict[str, float]]:
    """Start :func:`c2st_scores` in ``pool``; calling the result waits for it (see :func:`classifier_pool`).

    The whole-body test's folds go first: the largest tasks first keeps the cores evenly busy.
    """
    samples, reference = np.asarray(samples), np.asarray(reference)
    if samples.ndim != 2 or samples.shape[1] != reference.shape[1] or min(len(samples), len(reference)) < 2 * FOLDS:
        raise ValueError(f"need (N, D) sets of one width, >= {2 * FOLDS} rows, got {samples.shape}, {reference.shape}")
    names = joint_names(samples.shape[1])
    a = rotation_features(jittered(samples, jitter, JITTER_SEED))
    b = rotation_features(jittered(reference, jitter, JITTER_SEED + 1))
    tests = {KEY: (a.reshape(len(a), -1), b.reshape(len(b), -1))}
    if parts:
        for part, members in BODY_PARTS.items():
            index = [names.index(name) for name in members if name in names]
            if index:
                tests[f"{KEY}_{part}"] = (a[:, index].reshape(len(a), -1), b[:, index].reshape(len(b), -1))
    pending = {key: submit_auc(pool, *pair) for key, pair in tests.items()}
    return lambda: {key: auc() for key, auc in pending.items()}


def c2st_scores(
    samples: np.ndarray, reference: np.ndarray, *, jitter: float = JITTER_RAD, parts: bool = True
) -> dict[str, float]:
    """``c2st_auc`` of heading-free ``samples`` against heading-free real ``reference`` poses, both (N, D) radians.

    With ``parts``, also ``c2st_auc_<part>`` for each of :data:`BODY_PARTS` present in the pose
    (body-only poses have no root). Both sets are jittered by ``jitter`` radians (fixed seeds).
    """
    with classifier_pool(FOLDS * (1 + len(BODY_PARTS) * parts)) as pool:
        return submit_c2st(pool, samples, reference, jitter=jitter, parts=parts)()


@contextmanager
def classifier_pool(tasks: int | None = None) -> Iterator[Executor]:
    """Workers for classifier folds, :func:`parallel_tests` of them, each fit on one OpenMP thread (:data:`THREADS`).

    The fold processes :func:`start_fold_workers` started, where it did (they stay open for the next
    pool); else threads. ``tasks`` (how many folds will run; None: many) only caps the threads. While
    the pool is open the caller's BLAS and OpenMP are held at :data:`THREADS` too, so its own numpy
    work beside the folds does not spin against them (each fold sets its own limit).
    """

    with threadpool_limits(limits=THREADS):
        if _fold_processes is not None:
            yield _fold_processes
            return
        with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=parallel_tests(tasks or 1 << 16)) as pool:
            # scikit-learn's workers each enter warnings.catch_warnings, which swaps the process's one filter
            # list: in threads side by side they leave it changed (a caller's filters lost, then a warning per
            # fit that its Parallel saw no filters). catch_warnings here gives the caller its own list back.
            warnings.filterwarnings("ignore", message=SKLEARN_THREADS_WARNING, category=UserWarning)
            yield pool


SKLEARN_THREADS_WARNING = r"`sklearn.utils.parallel.delayed` should be used with"
_fold_processes: ProcessPoolExecutor | None = None  # started by start_fold_workers, closed at exit


def fold_processes() -> ProcessPoolExecutor | None:
    """The fold processes :func:`start_fold_workers` started (None where it did not): fresh interpreters'
    children forked before torch, so an evaluation may hand them other work that loads torch itself."""
    return _fold_processes


def fold_process_ids() -> list[int]:
    """The fold processes' pids (none where they do not run)."""
    return list(getattr(_fold_processes, "_processes", None) or {})


def start_fold_workers() -> bool:
    """Fork the fold processes (:func:`parallel_tests` of them) now and have them import scikit-learn
    (:data:`PRELOAD`) while the caller goes on: ``unet1d eval`` calls this first, so that import runs on
    the core its own start-up (torch) leaves idle. Forked only while this process is one thread
    (nothing to inherit half-locked, no re-import of a main module) and where fork exists; returns
    whether they run. Later calls reuse them."""
    global _fold_processes
    if _fold_processes is not None:
        return True
    if POOL != "processes" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if threading.active_count() > 1 or multiprocessing.current_process().daemon:  # a daemon may have no children
        return False
    _fold_processes = ProcessPoolExecutor(
        max_workers=parallel_tests(1 << 16), mp_context=multiprocessing.get_context("fork"),
        initializer=_fold_process_start, initargs=(os.getpid(),),
    )  # fmt: skip
    _fold_processes.submit(int)  # the first task forks them all at once (fork context)
    return True


def _fold_process_start(parent: int) -> None:
    """A fold process's first act: leave Ctrl-C and SIGTERM to the parent (which closes the pool; a training run
    finishes its step, checkpoints and exits, the probe's folds done), end when the parent is gone however it
    ended (a SIGKILL skips the parent's clean-up), and import scikit-learn."""
    for stop in (signal.SIGINT, signal.SIGTERM):  # a Ctrl-C or a cluster's SIGTERM reaches the whole group
        signal.signal(stop, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
    for module in PRELOAD:
        importlib.import_module(module)


def parallel_tests(count: int) -> int:
    """How many classifier folds run at once: one per core this process may use, one thread each.

    Each fold holds one OpenMP thread (:data:`THREADS`), so on a busy machine they share the cores
    without spin-waiting on each other; the work is the same, only spread.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(count, cores))
