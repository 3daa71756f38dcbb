"""The classifier two-sample test on pose sets with known answers, and its place in every evaluation."""

from __future__ import annotations

import os

import numpy as np
import pytest

from unet1d.body.skeleton import JOINT_NAMES
from unet1d.evaluation import c2st


def correlated_poses(n: int, seed: int) -> np.ndarray:
    """(n, 72) axis-angle poses whose joints move together: 4 shared factors drive every component."""
    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(1234).normal(size=(4, 72))  # one distribution for every seed
    return (0.25 * rng.normal(size=(n, 4)) @ mixing / 2 + 0.05 * rng.normal(size=(n, 72))).astype(np.float32)


def joint_columns(names: tuple[str, ...]) -> np.ndarray:
    return np.concatenate([np.arange(3 * JOINT_NAMES.index(n), 3 * JOINT_NAMES.index(n) + 3) for n in names])


@pytest.mark.slow  # 1,000 a side, five classifiers: several seconds
def test_two_draws_of_one_distribution_score_one_half() -> None:
    scores = c2st.c2st_scores(correlated_poses(1000, 0), correlated_poses(1000, 1))
    assert set(scores) == {"c2st_auc", *(f"c2st_auc_{part}" for part in c2st.BODY_PARTS)}
    for key, auc in scores.items():
        assert auc == pytest.approx(0.5, abs=0.05), key


@pytest.mark.slow
def test_a_shifted_copy_and_a_decorrelated_copy_are_told_apart() -> None:
    # 400 a side: both AUCs came out 0.996-0.999 at 300 a side (seeds 0, 2, 4), far above the 0.9 asked for.
    real, other = correlated_poses(400, 0), correlated_poses(400, 1)
    shifted = other + 0.1  # 0.1 rad on every component: well inside the data's spread of ~0.7
    decorrelated = other.reshape(len(other), 24, 3).copy()
    rng = np.random.default_rng(0)
    for joint in range(24):  # each joint's marginal kept exactly, its partners drawn from other poses
        decorrelated[:, joint] = decorrelated[rng.permutation(len(other)), joint]
    assert c2st.c2st_scores(shifted, real, parts=False)["c2st_auc"] > 0.9
    assert c2st.c2st_scores(decorrelated.reshape(len(other), 72), real, parts=False)["c2st_auc"] > 0.9


@pytest.mark.slow
def test_the_part_that_alone_was_altered_is_singled_out() -> None:
    # 600 a side: an unaltered part's AUC has a standard error of ~0.017 here, so 0.58 sits 4.8 of them above
    # chance (seeds 0, 2, 4 gave at most 0.53), while the legs scored 1.000.
    real, samples = correlated_poses(600, 0), correlated_poses(600, 1)
    samples[:, joint_columns(c2st.BODY_PARTS["legs"])] += 0.15
    scores = c2st.c2st_scores(samples, real)
    assert scores["c2st_auc_legs"] > 0.9 and scores["c2st_auc"] > 0.9
    for part in ("root", "arms", "spine_head"):
        assert scores[f"c2st_auc_{part}"] < 0.58, part


@pytest.mark.slow  # fifteen classifiers twice
def test_a_score_is_reproducible_and_jitter_is_seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    real, samples = correlated_poses(150, 0), correlated_poses(150, 1)  # equality needs no power: few poses
    first = c2st.c2st_scores(samples, real)
    # computed again, one test after another this time: the same numbers, so neither the run nor the order counts
    monkeypatch.setattr(c2st, "parallel_tests", lambda count: 1)  # the tests one after another, not side by side
    assert c2st.c2st_scores(samples, real) == first
    many = correlated_poses(1000, 2)  # 72,000 draws: the std within 2% is a 7-sigma check (the classifier needs none)
    np.testing.assert_array_equal(c2st.jittered(many, 0.03, 0), c2st.jittered(many, 0.03, 0))
    assert np.std(c2st.jittered(many, 0.03, 0) - many) == pytest.approx(0.03, rel=0.02)
    np.testing.assert_array_equal(c2st.jittered(many, 0.0, 0), many)


def test_folds_run_side_by_side_give_scikit_learns_cross_validated_auc() -> None:
    """Each fold fitted as its own task and the probabilities put back in place: cross_val_predict's answer exactly."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(150, 6)), rng.normal(size=(130, 6)) + np.eye(6)[0] * 0.6  # unequal sets, some signal
    x, y = np.concatenate([a, b]).astype(np.float32), np.r_[np.zeros(150), np.ones(130)]
    split = StratifiedKFold(n_splits=c2st.FOLDS, shuffle=True, random_state=c2st.CV_SEED)
    probability = cross_val_predict(HistGradientBoostingClassifier(**c2st.CLASSIFIER), x, y, cv=split,
                                    method="predict_proba")[:, 1]  # fmt: skip
    expected = roc_auc_score(y, probability)
    assert 0.55 < expected < 0.95  # a test with something to find, not a constant
    assert c2st.classifier_auc(a, b) == expected


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: OpenMP's default is one thread anyway")
def test_every_fold_fits_on_one_openmp_thread_in_the_pools_threads() -> None:
    """OpenMP's thread count is per thread: a limit set where the pool opens must still hold in its workers."""
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    with c2st.classifier_pool(2) as pool:
        seen = [pool.submit(c2st.fold_openmp_threads).result() for _ in range(2)]
    assert seen == [c2st.THREADS] * 2 and _openmp_effective_n_threads() > c2st.THREADS


FOLD_PROCESSES = """
import json, sys
from concurrent.futures import ProcessPoolExecutor
import numpy as np
from unet1d.evaluation import c2st
started = c2st.start_fold_workers()
rng = np.random.default_rng(0)
samples, real = rng.normal(size=(200, 72)) * 0.5 + 0.08, rng.normal(size=(200, 72)) * 0.5
scores = c2st.c2st_scores(samples, real)
with c2st.classifier_pool() as pool:
    kind = type(pool).__name__
    threads = [pool.submit(c2st.fold_openmp_threads).result() for _ in range(2)]
print(json.dumps({"started": started, "kind": kind, "threads": threads, "scores": scores,
                  "sklearn_here": "sklearn" in sys.modules}))
"""


@pytest.mark.slow  # a fresh interpreter forking two workers that import scikit-learn, and fifteen classifiers twice
def test_fold_processes_give_the_threads_scores_on_one_openmp_thread_and_leave_scikit_learn_to_them(tmp_path) -> None:
    """`unet1d eval`'s fold processes: forked at start-up, each fit on one OpenMP thread (a forked worker's
    default is every core), the same scores to the last bit as folds in threads, and the process that scores
    never imports scikit-learn (~1 CPU s its workers pay on a core it leaves idle)."""
    import json
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", FOLD_PROCESSES], capture_output=True, text=True, check=True,
                         cwd=tmp_path)  # fmt: skip
    got = json.loads(run.stdout)
    assert got["started"] and got["kind"] == "ProcessPoolExecutor"
    assert got["threads"] == [c2st.THREADS] * 2 and not got["sklearn_here"]
    rng = np.random.default_rng(0)
    samples, real = rng.normal(size=(200, 72)) * 0.5 + 0.08, rng.normal(size=(200, 72)) * 0.5
    assert got["scores"] == c2st.c2st_scores(samples, real)  # here: threads (this process started no workers)
    assert got["scores"]["c2st_auc"] > 0.6  # something to find, so equal scores are not two constants


def test_body_only_poses_have_no_root_part_and_bad_shapes_are_refused() -> None:
    body = correlated_poses(60, 0)[:, 3:66]
    scores = c2st.c2st_scores(body, correlated_poses(60, 1)[:, 3:66])
    assert "c2st_auc_root" not in scores and "c2st_auc_legs" in scores
    with pytest.raises(ValueError, match="72 or 63"):
        c2st.c2st_scores(np.zeros((50, 30)), np.zeros((50, 30)))
    with pytest.raises(ValueError, match="one width"):
        c2st.c2st_scores(np.zeros((50, 72)), np.zeros((50, 63)))


def test_the_body_parts_cover_every_joint_once() -> None:
    listed = [name for members in c2st.BODY_PARTS.values() for name in members]
    assert sorted(listed) == sorted(JOINT_NAMES)


def test_eval_and_compare_list_every_body_part() -> None:
    """The registry (which imports no numpy, so it names the parts itself) lists exactly c2st.BODY_PARTS."""
    from unet1d.compare.runs import EVAL_KEYS, ROW_KEYS
    from unet1d.metric_registry import compare_columns, eval_table

    keys = {f"c2st_auc_{part}" for part in c2st.BODY_PARTS} | {"c2st_auc"}
    registered = {m.name for m in eval_table() if m.name.startswith("c2st_auc")}
    assert registered == keys
    assert keys <= {m.name for m in compare_columns()} and keys <= set(EVAL_KEYS) and keys <= set(ROW_KEYS)


def test_the_fewest_poses_an_evaluation_takes_are_enough_for_the_classifier_to_tell_two_sets_apart() -> None:
    """Below ~30 poses a side the folds' trees never split and the AUC is one number for any pair (0.46 at 16):
    MIN_EVAL_SAMPLES must stay where far-apart sets score near 1 and one set against itself near 0.5."""
    from unet1d.config import MIN_EVAL_SAMPLES

    rng = np.random.default_rng(0)
    n = MIN_EVAL_SAMPLES
    apart = c2st.classifier_auc(rng.normal(0, 1, (n, 10)), rng.normal(5, 1, (n, 10)))
    alike = c2st.classifier_auc(rng.normal(0, 1, (n, 10)), rng.normal(0, 1, (n, 10)))
    assert apart > 0.9 and abs(alike - 0.5) < 0.25
    stuck = c2st.classifier_auc(rng.normal(0, 1, (16, 10)), rng.normal(5, 1, (16, 10)))
    assert stuck < 0.6  # what 16 poses gave: the reason for the floor


def test_the_callers_warning_filters_survive_the_folds_run_in_threads() -> None:
    # scikit-learn's workers each enter warnings.catch_warnings; side by side in threads they left the process's
    # filters changed (12 runs in 15), and once emptied, every fit warned that `delayed` wants its `Parallel`
    import warnings

    assert c2st._fold_processes is None  # a library caller: the folds run in threads
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="a filter of the caller's own")
        before = list(warnings.filters)
        for seed in range(4):
            c2st.c2st_scores(correlated_poses(300, seed), correlated_poses(300, seed + 10))
            assert warnings.filters == before, seed
