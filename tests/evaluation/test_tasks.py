"""The prior's task scores: the baselines against closed forms and brute force, MPJPE against a hand-computed case."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from unet1d.body.skeleton import COMPLETION_PARTS, JOINT_NAMES, joint_names_for_width
from unet1d.evaluation import tasks
from unet1d.evaluation.tasks import GaussianPrior
from unet1d.paired_interval import paired_interval, t_quantile


def random_covariance(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A full-rank covariance with strong correlations (a random factor model plus a small diagonal)."""
    factors = rng.normal(size=(dim, 4))
    return factors @ factors.T + np.diag(rng.uniform(0.05, 0.3, dim))


def test_conditional_mean_is_the_gaussians_by_its_precision_matrix():
    """mu_h + S_ho S_oo^-1 (x_o - mu_o) in the code; here the same from the precision matrix P = S^-1:
    E[x_h | x_o] = mu_h - P_hh^-1 P_ho (x_o - mu_o), a different route to the same closed form."""
    rng = np.random.default_rng(0)
    dim = 12
    cov, mean = random_covariance(dim, rng), rng.normal(size=dim)
    hidden = np.zeros(dim, dtype=bool)
    hidden[[1, 4, 5, 9]] = True
    x = rng.multivariate_normal(mean, cov, size=5)
    precision = np.linalg.inv(cov)
    h, o = hidden, ~hidden
    expected = mean[h] - (x[:, o] - mean[o]) @ np.linalg.solve(precision[np.ix_(h, h)], precision[np.ix_(h, o)]).T

    completed = GaussianPrior(mean, cov).conditional_mean(x, hidden)

    np.testing.assert_allclose(completed[:, h], expected, rtol=1e-9, atol=1e-9)
    assert np.array_equal(completed[:, o], x[:, o])  # observed components untouched
    assert np.array_equal(GaussianPrior(mean, cov).conditional_mean(x, np.zeros(dim, bool)), x)  # nothing hidden


def test_a_fitted_gaussian_recovers_a_part_that_is_a_linear_function_of_the_rest():
    """Hidden components that are an exact linear function of the observed ones come back exactly, even
    with a component that never moves (its variance is 0: the fit is singular, the pseudo-inverse copes)."""
    rng = np.random.default_rng(1)
    free = rng.normal(size=(400, 6))
    mixing = rng.normal(size=(6, 3))
    data = np.concatenate([free, free @ mixing, np.full((400, 1), 0.25)], axis=1)
    hidden = np.zeros(10, dtype=bool)
    hidden[6:] = True  # the function and the constant
    gaussian = GaussianPrior.fit(data[:300])
    completed = gaussian.conditional_mean(data[300:], hidden)
    np.testing.assert_allclose(completed, data[300:], atol=1e-8)


def test_posterior_mean_is_the_gaussians_by_the_information_form():
    """(S^-1 + I/s^2)^-1 (S^-1 mu + y/s^2): the precision-weighted average of prior and observation."""
    rng = np.random.default_rng(2)
    dim, std = 9, 0.3
    cov, mean = random_covariance(dim, rng), rng.normal(size=dim)
    y = rng.normal(size=(4, dim))
    precision = np.linalg.inv(cov)
    expected = np.linalg.solve(precision + np.eye(dim) / std**2, (precision @ mean)[:, None] + y.T / std**2).T
    np.testing.assert_allclose(GaussianPrior(mean, cov).posterior_mean(y, std), expected, rtol=1e-9, atol=1e-10)


def test_posterior_mean_shrinks_to_the_mean_as_the_noise_grows_and_keeps_the_pose_as_it_vanishes():
    rng = np.random.default_rng(3)
    cov, mean = random_covariance(5, rng), rng.normal(size=5)
    y = rng.normal(size=(3, 5))
    gaussian = GaussianPrior(mean, cov)
    np.testing.assert_allclose(gaussian.posterior_mean(y, 1e4), np.broadcast_to(mean, y.shape), atol=1e-6)
    np.testing.assert_allclose(gaussian.posterior_mean(y, 1e-5), y, atol=1e-6)


def test_nearest_rows_are_a_brute_force_searchs(monkeypatch: pytest.MonkeyPatch):
    """Block-wise search (blocks of 100 here, so the running best crosses blocks) against sorting every distance."""
    monkeypatch.setattr(tasks, "NEAREST_CHUNK", 100)
    rng = np.random.default_rng(4)
    pool, queries = rng.normal(size=(1050, 8)), rng.normal(size=(30, 8))
    columns = np.array([True, False, True, True, False, True, True, True])
    found = tasks.nearest_rows(queries, pool, 7, columns)
    distances = np.array([[np.sum((q[columns] - p[columns]) ** 2) for p in pool] for q in queries])
    assert np.array_equal(found, np.argsort(distances, axis=1, kind="stable")[:, :7])
    assert np.array_equal(
        tasks.nearest_rows(queries, pool, 1)[:, 0], np.argmin(((queries[:, None] - pool) ** 2).sum(-1), 1)
    )


def test_nearest_completions_take_only_the_hidden_components_from_the_neighbours():
    rng = np.random.default_rng(5)
    train, poses = rng.normal(size=(200, 6)), rng.normal(size=(10, 6))
    hidden = np.array([False, True, False, False, True, False])
    hypotheses = tasks.nearest_completions(poses, hidden, train, 3)
    assert hypotheses.shape == (10, 3, 6)
    assert np.array_equal(hypotheses[:, :, ~hidden], np.repeat(poses[:, None, ~hidden], 3, axis=1))
    nearest = tasks.nearest_rows(poses, train, 3, ~hidden)
    assert np.array_equal(hypotheses[:, :, hidden], train[nearest][:, :, hidden])


def knee_bent(angle: float) -> np.ndarray:
    """A rest pose with the left knee turned by ``angle`` about x (SMPL axis-angle, 72 numbers)."""
    pose = np.zeros(72)
    pose[3 * JOINT_NAMES.index("left_knee")] = angle
    return pose


def test_mpjpe_of_a_bent_knee_is_the_chord_its_children_sweep():
    """Turning the knee by theta about x moves the ankle (rest offset (-0.01, -0.40, -0.04) from the knee) and the
    foot (offset (0.02, -0.06, 0.12) from the ankle) on circles about the knee's x axis, of radius their distance
    from that axis (the y and z of their offsets): each by the chord 2 r sin(theta / 2). Hip and knee stay.
    Offsets typed here from the skeleton's table, not read from the code."""
    theta = 0.7
    ankle = math.hypot(-0.40, -0.04)
    foot = math.hypot(-0.40 - 0.06, -0.04 + 0.12)
    chord = lambda r: 100 * 2 * r * math.sin(theta / 2)  # noqa: E731  (cm)
    truth, estimate = knee_bent(0.0)[None], knee_bent(theta)[None]
    only_ankle = np.array([name == "left_ankle" for name in JOINT_NAMES])
    assert tasks.mpjpe_cm(estimate, truth, only_ankle)[0] == pytest.approx(chord(ankle), rel=1e-6)
    leg = tasks.skeleton_joints(tasks.part_mask("left_leg", 72), 72)
    assert tasks.mpjpe_cm(estimate, truth, leg)[0] == pytest.approx((chord(ankle) + chord(foot)) / 4, rel=1e-6)
    everything = (chord(ankle) + chord(foot)) / 24
    assert tasks.mpjpe_cm(estimate[:, None], truth)[0, 0] == pytest.approx(everything, rel=1e-6)  # (N, H) form


def test_mpjpe_ignores_heading_and_reads_body_only_poses():
    """A turn about the data's up axis is not an error (y-up, and AMASS's z-up whose standing root is +90 deg
    about x); a 63-wide pose scores like its 72-wide twin with no root."""
    from scipy.spatial.transform import Rotation

    theta = 0.4
    plain = tasks.mpjpe_cm(knee_bent(theta)[None], knee_bent(0.0)[None])[0]
    standing = {"y": Rotation.identity(), "z": Rotation.from_rotvec([math.pi / 2, 0.0, 0.0])}
    for up, rest in standing.items():
        truth, estimate = knee_bent(0.0), knee_bent(theta)
        truth[:3] = rest.as_rotvec()
        estimate[:3] = (Rotation.from_rotvec(2.0 * np.eye(3)["xyz".index(up)]) * rest).as_rotvec()
        assert tasks.mpjpe_cm(estimate[None], truth[None], up_axis=up)[0] == pytest.approx(plain, rel=1e-6), up
    body = tasks.mpjpe_cm(knee_bent(theta)[None, 3:66], knee_bent(0.0)[None, 3:66])[0]
    assert body == pytest.approx(plain, rel=1e-12)


def test_part_masks_follow_the_completion_parts_in_both_widths():
    for part, names in COMPLETION_PARTS.items():
        for width in (72, 63):
            mask = tasks.part_mask(part, width)
            assert mask.shape == (width // 3,)
            assert sorted(np.array(joint_names_for_width(width))[mask]) == sorted(names)
            assert set(np.array(JOINT_NAMES)[tasks.skeleton_joints(mask, width)]) == set(names)


class PartZeroingPrior:
    """A stand-in prior with a known answer: completion sets the hidden joints to rest (0), denoising returns its
    input. It records the masks it was handed, so the test sees which rows were asked for which part."""

    def __init__(self) -> None:
        self.hidden: np.ndarray | None = None

    def complete(self, poses: np.ndarray, hidden: np.ndarray, *, hypotheses: int, seed: int) -> np.ndarray:
        self.hidden = hidden
        rested = np.where(np.repeat(hidden, 3, axis=1), 0.0, poses)
        return np.repeat(rested[:, None], hypotheses, axis=1).astype(np.float32)

    def denoise(self, poses: np.ndarray, *, noise_std: float, hypotheses: int, seed: int) -> np.ndarray:
        return np.repeat(poses[:, None], hypotheses, axis=1)


@pytest.fixture(scope="module")
def small_reference():
    """A reference of 300 fresh built-in poses over 2,000 training poses (72 numbers, y up)."""
    from unet1d.body.skeleton import limits_for_width
    from unet1d.data.builtin import generate_builtin_poses
    from unet1d.evaluation.quality import Reference

    train = generate_builtin_poses(2000, seed=1).poses
    held_out = generate_builtin_poses(3000, seed=2).poses[::10]
    return Reference("test", held_out, "train", train, train, limits_for_width(72)[0].reshape(-1, 2), "ranges")


def test_score_tasks_asks_each_part_of_the_same_poses_and_scores_the_answers(small_reference):
    """Each part's completion scored on that part's joints; the per-part keys average to the headline; denoising
    that returns the noisy pose scores the noise itself; the baselines' keys are the model's."""
    prior = PartZeroingPrior()
    ours, baselines = tasks.score_tasks(prior, small_reference, 20, hypotheses=3, seed=4)
    intervals, per_pose, digest = ours.pop("task_intervals"), ours.pop("task_errors"), ours.pop("task_poses_digest")
    assert set(ours) == set(baselines["gaussian"]) == set(baselines["nearest"]) == set(tasks.task_keys())
    # per pose: each key's 20 errors (mean and best of the hypotheses: compare pairs both), which average to the
    # key; the digest names the poses
    assert set(per_pose) == set(ours)
    for key, errors in per_pose.items():
        assert len(errors) == 20 and np.mean(errors) == pytest.approx(ours[key], abs=1e-4)
    assert digest == tasks.poses_digest(tasks.task_poses(small_reference, 20, seed=4))
    assert digest != tasks.poses_digest(tasks.task_poses(small_reference, 20, seed=5))
    # each mean-of-hypotheses key against both baselines: the mean of the paired differences is the difference
    # of the means, inside its interval
    assert set(intervals) == {key for key in ours if "best" not in key}
    for key, gaps in intervals.items():
        assert set(gaps) == {"gaussian", "nearest"}
        for name, (difference, low, high) in gaps.items():
            assert difference == pytest.approx(ours[key] - baselines[name][key]) and low <= difference <= high
    poses = tasks.task_poses(small_reference, 20, seed=4)
    assert len(np.unique(poses, axis=0)) == 20
    assert prior.hidden is not None and prior.hidden.shape == (7 * 20, 24)
    for index, (part, names) in enumerate(COMPLETION_PARTS.items()):
        rows = prior.hidden[index * 20 : (index + 1) * 20]
        assert (rows == rows[0]).all() and set(np.array(JOINT_NAMES)[rows[0]]) == set(names)
        joints = np.isin(JOINT_NAMES, names)
        rested = np.where(np.repeat(joints, 3), 0.0, poses)
        expected = tasks.mpjpe_cm(rested, poses, joints).mean()
        assert ours[f"completion_cm_{part}"] == pytest.approx(expected) == ours[f"completion_best_cm_{part}"]
    assert ours["completion_cm"] == pytest.approx(np.mean([ours[f"completion_cm_{p}"] for p in COMPLETION_PARTS]))
    for std in tasks.NOISE_LEVELS:
        noisy = tasks.noisy_poses(poses, std, seed=4)
        assert np.std(noisy - poses) == pytest.approx(std, rel=0.05)
        assert ours[tasks.noise_key(std)] == pytest.approx(tasks.mpjpe_cm(noisy, poses).mean())
    assert ours["denoise_cm"] == pytest.approx((ours["denoise_cm_010"] + ours["denoise_cm_020"]) / 2)
    # the nearest baseline's best of 3 is never worse than its mean; the Gaussian's one answer is both
    for part in COMPLETION_PARTS:
        near, gauss = baselines["nearest"], baselines["gaussian"]
        assert near[f"completion_best_cm_{part}"] <= near[f"completion_cm_{part}"]
        assert gauss[f"completion_best_cm_{part}"] == gauss[f"completion_cm_{part}"]


def test_with_the_training_poses_as_reference_the_nearest_baseline_never_looks_a_pose_up(small_reference):
    """--reference train: each task pose is a row of the nearest baseline's pool. Its scores must be those of
    the pool without that pose (leave one out), not the 0 cm of looking the answer up."""
    from dataclasses import replace

    from unet1d.evaluation.tasks import TaskPoses

    on_train = replace(TaskPoses.of(small_reference, 12, 0), poses=small_reference.train[:12])
    own = tasks.own_rows(on_train.poses, on_train.train)
    assert {i: list(rows) for i, rows in own.items()} == {i: [i] for i in range(12)}
    assert tasks.own_rows(small_reference.poses[:12], small_reference.train) == {}  # held out: none
    _, baselines = tasks.score_tasks(None, on_train, 12, hypotheses=3)
    left_out = {}
    for i in range(12):  # each pose alone against the pool without its own row
        alone = TaskPoses(on_train.poses[i : i + 1], np.delete(on_train.train, i, axis=0), on_train.up_axis)
        left_out[i] = tasks.score_tasks(None, alone, 1, hypotheses=3)[1]["nearest"]
    nearest = baselines["nearest"]
    assert nearest["completion_best_cm_trunk"] > 0 and nearest["denoise_cm_010"] > 0
    for key in ("completion_cm_legs", "completion_best_cm_trunk", "completion_cm_arms"):  # (noise draws differ)
        assert nearest[key] == pytest.approx(np.mean([left_out[i][key] for i in range(12)]))
    barely_noisy = on_train.poses + 1e-4  # its own row is by far the nearest: excluded, the next one answers
    chosen = tasks.nearest_denoised(barely_noisy, on_train.train, own)
    assert not (chosen == on_train.poses).all(axis=1).any()


def test_the_gaussian_denoises_better_than_leaving_the_noise(small_reference):
    """On the built-in poses the posterior mean must remove part of the noise (a sign error or a wrong noise
    variance would not), and a part's conditional mean must beat putting the part at rest."""
    ours, baselines = tasks.score_tasks(PartZeroingPrior(), small_reference, 40, hypotheses=2)
    for key in ("denoise_cm_010", "denoise_cm_020", "completion_cm_legs", "completion_cm_arms"):
        assert baselines["gaussian"][key] < ours[key], key


@pytest.mark.slow  # a 20-step run, then two evaluations
def test_the_eval_report_carries_the_task_scores_and_task_poses_0_leaves_them_out(tiny_config, monkeypatch):
    """A real tiny run through evaluate(): the model's keys at the top level, the Gaussian's merged beside its
    cached sample-quality scores, a nearest baseline with task keys only; none of it with task_poses 0."""
    from unet1d.evaluation import quality
    from unet1d.evaluation.evaluate import evaluate
    from unet1d.metric_registry import task_metrics
    from unet1d.training import train

    monkeypatch.setattr(quality, "REFERENCE_POSES", 300)
    config = tiny_config("--max_steps", "20", "--checkpoint_every", "20", "--eval_every", "20")
    train(config)
    keys = {m.name for m in task_metrics()}
    report, _, _ = evaluate(config.train.output_dir, num_samples=64, device="cpu", overrides=["--task_poses", "6"])
    payload = report.to_dict()
    assert keys <= set(payload) and all(np.isfinite(payload[k]) and payload[k] > 0 for k in keys)
    assert keys <= set(report.baselines["gaussian"]) and "precision" in report.baselines["gaussian"]
    assert set(report.baselines["nearest"]) == keys and not keys & set(report.baselines["data"])
    assert report.task_seconds > 0
    stages = report.stage_seconds  # consecutive, in the order they ran, within the evaluation's wall time
    assert list(stages) == ["load, reference, val loss", "sampling", "scores", "baselines", "classifier wait", "tasks"]
    assert stages["tasks"] == report.task_seconds and stages["sampling"] == report.sample_seconds
    assert 0 < sum(stages.values()) <= report.eval_seconds

    report, _, _ = evaluate(config.train.output_dir, num_samples=64, device="cpu", overrides=["--task_poses", "0"])
    payload = report.to_dict()
    assert not keys & set(payload) and not keys & set(report.baselines["gaussian"])
    assert "nearest" not in report.baselines and report.task_seconds == 0


def test_t_quantile_is_scipys_at_every_degree_of_freedom():
    """The series and bisection against scipy's inverse of the t distribution (another route: the incomplete
    beta function), odd and even degrees, tails and centre; and the closed forms at 1 and 2 degrees."""
    from scipy.special import stdtrit

    for dof in [*range(1, 120), 499, 2000]:
        for probability in (0.5, 0.6, 0.9, 0.975, 0.995):
            assert t_quantile(probability, dof) == pytest.approx(stdtrit(dof, probability), rel=1e-10, abs=1e-12)
    assert t_quantile(0.975, 1) == pytest.approx(math.tan(0.95 * math.pi / 2), rel=1e-12)  # Cauchy
    assert t_quantile(0.975, 2) == pytest.approx(0.95 / math.sqrt((1 - 0.95**2) / 2), rel=1e-12)


def test_paired_interval_is_scipys_paired_t_test_and_covers_the_true_gap_95_percent_of_the_time():
    """The interval by hand (mean, std, t quantile) against scipy's paired t-test; then on draws whose true
    mean difference is known, the share of intervals holding it is 95 % (within its binomial spread)."""
    from scipy import stats

    rng = np.random.default_rng(5)
    model, baseline = rng.normal(3.0, 1.0, 32), rng.normal(3.2, 1.0, 32) + 0.5 * rng.normal(size=32)
    difference, low, high = paired_interval(model, baseline)
    expected = stats.ttest_rel(model, baseline).confidence_interval(0.95)
    assert difference == pytest.approx(np.mean(model - baseline))
    assert (low, high) == pytest.approx((expected.low, expected.high), rel=1e-12)
    assert paired_interval(np.array([1.0]), np.array([3.0])) == [-2.0, None, None]  # one pose: no spread

    trials, true_gap = 4000, -0.3
    shared = rng.exponential(2.0, (trials, 8))  # the poses' own difficulty cancels in the pairs
    held = sum(
        low <= true_gap <= high
        for low, high in (paired_interval(row + true_gap + rng.normal(0, 0.2, 8), row)[1:] for row in shared)
    )
    assert abs(held / trials - 0.95) < 3 * math.sqrt(0.95 * 0.05 / trials)


def test_evals_task_lines_give_the_errors_and_where_the_model_is_ahead_beyond_the_poses_noise():
    from unet1d.cli.evaluate import task_summary, task_verdict

    keys = tasks.task_keys()
    model = dict.fromkeys(keys, 3.0)
    gaussian, nearest = dict.fromkeys(keys, 4.0), dict.fromkeys(keys, 5.0)
    nearest["completion_cm_trunk"] = 2.0  # the nearest pose wins one part
    gaussian["denoise_cm"] = 1.0  # and the Gaussian denoising
    baselines = {"gaussian": gaussian, "nearest": nearest, "data": {}}
    line = task_summary(model, baselines)
    assert line.startswith("completion 3.00 cm (gaussian 4.00, nearest 5.00), best of hypotheses 3.00")
    assert line.endswith("denoising 3.00 cm (gaussian 1.00, nearest 5.00)")

    ahead = {"gaussian": [-1.0, -1.5, -0.5], "nearest": [-2.0, -2.4, -1.6]}
    intervals = {f"completion_cm_{part}": ahead for part in COMPLETION_PARTS} | {"denoise_cm": ahead}
    intervals["completion_cm_trunk"] = {"gaussian": [0.04, -0.02, 0.10], "nearest": [-0.5, -0.9, 0.05]}
    intervals["completion_cm_legs"] = {"gaussian": [-0.3, -0.6, -0.1], "nearest": [0.2, 0.1, 0.3]}
    per_pose = dict.fromkeys(intervals, [3.0] * 32)
    line = task_verdict({**model, "task_intervals": intervals, "task_errors": per_pose})
    assert line == (
        "ahead of both baselines beyond the task poses' noise (paired 95 %, 32 poses) on 5 of 7 parts and on "
        "denoising; "
        "within noise: trunk +0.04 [-0.02, +0.10] cm against gaussian; behind: legs +0.20 [+0.10, +0.30] cm "
        "against nearest"
    )
    one_pose = {"gaussian": [-1.0, None, None], "nearest": [-2.0, None, None]}  # --task_poses 1: no interval
    line = task_verdict({**model, "task_intervals": dict.fromkeys(intervals, one_pose)})
    assert line.startswith("ahead of both baselines beyond the task poses' noise (paired 95 %) on 0 of 7 parts")
    assert "within noise: left_leg (one pose, no interval)" in line
    intervals["denoise_cm"] = {"gaussian": [-0.1, -0.3, 0.1], "nearest": ahead["nearest"]}
    assert "5 of 7 parts, not on denoising; within noise: trunk" in task_verdict({**model, "task_intervals": intervals})


SIDE_BY_SIDE = """
import json, sys
from unet1d.evaluation import c2st, quality
started = c2st.start_fold_workers()
import torch
from unet1d.evaluation import sampling
from unet1d.evaluation.evaluate import evaluate
quality.REFERENCE_POSES = 300
sampling.SAMPLE_CHUNK = 64  # two chunks: one sampled here (in 32-row pieces), one in a fold process
from unet1d.evaluation import side_by_side
side_by_side.PIECE_ROWS = 32  # here (the processes keep 256: the tasks call 420 rows, cut 256 + 164)
side_by_side.LAYOUT = "always"  # whatever the machine's load
threads = torch.get_num_threads()
report, _, _ = evaluate(sys.argv[1], num_samples=128, device="cpu", overrides=["--task_poses", "6"])
print(json.dumps({"started": started, "report": report.to_dict(), "threads_after": torch.get_num_threads(),
                  "threads_before": threads}))
"""


def _numbers(payload: dict) -> dict:
    """A report without its timings: every score, the baselines' included."""
    return {key: value for key, value in payload.items() if "seconds" not in key}


@pytest.mark.slow  # a 20-step run, an evaluation here and one in a fresh interpreter with its fold processes
def test_the_eval_commands_side_by_side_layout_gives_the_numbers_of_the_layout_in_turn(tiny_config, monkeypatch):
    """`unet1d eval` (fold processes started) sends the task scores to one fold process and the later half of
    the sampling (its generator's state after this process's chunks) to the other, and keeps torch on one
    thread here; the report must be the in-turn one to the last bit, its stages the side-by-side ones, and
    torch's thread count given back."""
    import json
    import subprocess
    import sys

    from unet1d.evaluation import quality, sampling
    from unet1d.evaluation.evaluate import evaluate
    from unet1d.training import train

    monkeypatch.setattr(quality, "REFERENCE_POSES", 300)
    config = tiny_config("--max_steps", "20", "--checkpoint_every", "20", "--eval_every", "20")
    train(config)
    monkeypatch.setattr(sampling, "SAMPLE_CHUNK", 64)
    in_turn, _, _ = evaluate(config.train.output_dir, num_samples=128, device="cpu", overrides=["--task_poses", "6"])
    run = subprocess.run([sys.executable, "-c", SIDE_BY_SIDE, str(config.train.output_dir)], capture_output=True,
                         text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "2"})  # fmt: skip
    got = json.loads(run.stdout.splitlines()[-1])
    assert got["started"] and got["threads_before"] == got["threads_after"] == 2
    side_by_side = got["report"]
    assert _numbers(side_by_side) == json.loads(json.dumps(_numbers(in_turn.to_dict())))
    assert side_by_side["completion_cm"] > 0 and side_by_side["task_seconds"] > 0
    stages = ["load, reference, val loss", "sampling", "baselines", "sampling wait", "scores", "classifier wait",
              "tasks wait"]  # fmt: skip
    assert list(side_by_side["stage_seconds"]) == stages


def test_with_the_training_poses_as_reference_the_nearest_baseline_leaves_out_the_poses_whole_take(small_reference):
    """A take's neighbouring frames answer for a training pose almost as its own row does: an independent scorer
    found the nearest baseline at 1.5 cm on --reference train against 5.1 on held-out poses (walk I)."""
    from dataclasses import replace

    from unet1d.data.builtin import generate_builtin_poses
    from unet1d.evaluation.tasks import TaskPoses

    groups = generate_builtin_poses(2000, seed=1).sequence_ids
    on_train = replace(TaskPoses.of(small_reference, 12, 0), poses=small_reference.train[:12])
    own = tasks.own_rows(on_train.poses, on_train.train, groups)
    assert all(set(rows) == set(np.flatnonzero(groups == groups[i])) for i, rows in own.items()) and len(own) == 12
    assert len(own[0]) > 1  # the take is more than the pose itself
    taken = tasks.score_tasks(None, replace(on_train, train_groups=groups), 12, hypotheses=3)[1]["nearest"]
    by_row = tasks.score_tasks(None, on_train, 12, hypotheses=3)[1]["nearest"]
    assert taken["completion_cm"] > by_row["completion_cm"]  # its own take no longer answers for it


def test_the_task_poses_sent_to_the_scorer_carry_the_training_takes():
    """T03: evaluate.py sends TaskPoses.of(reference); without train_groups the nearest baseline on --reference
    train looks a pose's neighbouring frames up again (1.5 cm against 5.1)."""
    from unet1d.body.skeleton import limits_for_width
    from unet1d.data.builtin import generate_builtin_poses
    from unet1d.evaluation.quality import Reference
    from unet1d.evaluation.tasks import TaskPoses

    built = generate_builtin_poses(600, seed=1)
    reference = Reference(
        "train",
        built.poses,
        "train",
        built.poses,
        built.poses,
        limits_for_width(72)[0].reshape(-1, 2),
        "ranges",
        train_groups=built.sequence_ids,
    )
    sent = TaskPoses.of(reference, 12, 0)
    assert sent.train_groups is not None and np.array_equal(sent.train_groups, built.sequence_ids)


def test_rows_left_out_of_the_nearest_search_stay_out_in_a_last_block_of_another_length(monkeypatch):
    """T05: blocks of 7 over 31 rows (the last one 3 long, starting at 28): an excluded row is never returned."""
    from unet1d.evaluation import tasks

    monkeypatch.setattr(tasks, "NEAREST_CHUNK", 7)
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(31, 4))
    queries = pool[[28, 30, 15]] + 1e-6
    exclude = {0: np.array([28]), 1: np.array([30]), 2: np.array([15])}
    found = tasks.nearest_rows(queries, pool, 3, exclude=exclude)
    for query, rows in exclude.items():
        assert not np.isin(found[query], rows).any()
        distances = ((pool - queries[query]) ** 2).sum(1)
        distances[rows] = np.inf
        assert np.array_equal(found[query], np.argsort(distances, kind="stable")[:3])
