"""Welch intervals between variants, checked against the textbook formula, and what the seeds can decide,
checked against Cohen's power table, the normal approximation and simulation."""

from __future__ import annotations

import math
import statistics
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as scipy_stats

from unet1d.compare.stats import (
    MAX_SEEDS,
    POWER,
    default_reference,
    detectable_difference,
    differences,
    paired_power,
    poses_needed,
    power,
    seeds_needed,
    welch_interval,
)


def textbook_welch(a: list[float], b: list[float]) -> tuple[float, float]:
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = scipy_stats.t.ppf(0.975, dof) * math.sqrt(va + vb)
    diff = statistics.fmean(a) - statistics.fmean(b)
    return diff - half, diff + half


def test_the_interval_is_welchs() -> None:
    a, b = [0.50, 0.52, 0.49], [0.40, 0.47, 0.41, 0.44]
    assert welch_interval(a, b) == pytest.approx(textbook_welch(a, b))
    assert welch_interval([1.0], b) is None  # one seed: no variance, no interval


def test_differences_cover_every_column_and_mark_seed_noise() -> None:
    def row(variant: str, loss: float, fd: float | None) -> SimpleNamespace:
        return SimpleNamespace(variant=variant, final_val_loss=loss, frechet_distance=fd)

    rows = [row("conv", v, f) for v, f in [(0.50, 30.0), (0.51, 31.0), (0.52, 29.0)]]
    rows += [row("attention-8", v, f) for v, f in [(0.40, 30.5), (0.41, 29.5), (0.42, 31.5)]]
    rows += [row("attention-4", 0.45, None)]
    found = {(d.variant, d.column): d for d in differences(rows, ["final_val_loss", "frechet_distance"])}
    loss = found[("attention-8", "final_val_loss")]
    assert loss.reference == "conv" and loss.difference == pytest.approx(-0.10)
    assert loss.within_noise is False and loss.high < 0
    assert found[("attention-8", "frechet_distance")].within_noise is True
    assert found[("attention-4", "final_val_loss")].within_noise is None  # one seed
    assert ("attention-4", "frechet_distance") not in found  # no values: nothing to compare


def test_the_differences_are_measured_from_conv_whatever_order_the_runs_came_in() -> None:
    # a sweep's run ids are random: the first variant met made the signs of every difference follow them
    rows = [SimpleNamespace(variant=v, final_val_loss=x) for v, x in [("attention-8-c16", 0.4), ("conv-c16", 0.5)]]
    for ordered in (rows, rows[::-1]):
        (found,) = differences(ordered, ["final_val_loss"])
        assert found.reference == "conv-c16" and found.difference == pytest.approx(-0.1)
    assert differences(rows, ["final_val_loss"], "attention-8-c16")[0].difference == pytest.approx(0.1)
    assert default_reference(["attention-8 lr=2e-3", "attention-4 lr=2e-3"]) == "attention-4 lr=2e-3"  # by name
    assert default_reference(["attention-8", "conv lr=2e-4", "conv lr=1e-3"]) == "conv lr=1e-3"
    assert default_reference(["attention-8", "convex"]) == "attention-8"  # a middle named conv, not a prefix


def test_one_side_without_spread_gives_welchs_interval_without_a_warning(recwarn) -> None:
    """Every conv seed converging at step 1000 is an ordinary case: the interval is Welch's with a zero
    variance on that side (mean difference ± t * s_b / sqrt(n_b), df = n_b - 1), and nothing is printed."""
    a, b = [1000.0, 1000.0, 1000.0], [750.0, 1000.0, 1000.0]
    low, high = welch_interval(b, a)
    half = scipy_stats.t.ppf(0.975, df=2) * statistics.stdev(b) / math.sqrt(3)
    assert (low, high) == pytest.approx((statistics.mean(b) - 1000 - half, statistics.mean(b) - 1000 + half))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# --- what the seeds can decide: the minimum detectable difference and the seeds a difference needs ---


def pooled_t_power(difference: float, std: float, n_a: int, n_b: int) -> float:
    """The textbook power of the two-sided pooled t-test at 5 % (noncentral t, n_a + n_b - 2 dof)."""
    dof, noncentrality = n_a + n_b - 2, abs(difference) / (std * math.sqrt(1 / n_a + 1 / n_b))
    critical = scipy_stats.t.ppf(0.975, dof)
    return float(scipy_stats.nct.sf(critical, dof, noncentrality) + scipy_stats.nct.cdf(-critical, dof, noncentrality))


def test_seeds_needed_matches_cohens_table() -> None:
    """Cohen (1988), table 2.4.1: a two-sided t-test at 5 % with 80 % power needs 26 per group for a
    standardised difference of 0.8, 64 for 0.5 and 393 for 0.2 (more than 100 here). With that many
    seeds Welch's degrees of freedom are the pooled test's, so its counts are Cohen's."""
    assert seeds_needed(0.8, 1.0) == 26 and seeds_needed(-0.8, 1.0) == 26  # the sign does not matter
    assert seeds_needed(5.0, 10.0) == 64  # only difference / spread does
    assert seeds_needed(0.2, 1.0) is None  # 394 > MAX_SEEDS
    assert seeds_needed(0.0, 1.0) is None  # no difference is never resolved
    assert seeds_needed(0.2, 1.0, max_seeds=400) == 394  # Cohen's 393, rounded from the normal approximation


def test_with_many_seeds_welchs_power_is_the_pooled_t_tests() -> None:
    for difference in (0.3, 0.7, 1.2):
        assert power(difference, 1.0, 30, 40) == pytest.approx(pooled_t_power(difference, 1.0, 30, 40), abs=3e-3)


def test_the_detectable_difference_tends_to_the_normal_approximation() -> None:
    """With many seeds the t-quantiles are the normal ones: (z_0.975 + z_0.80) * s * sqrt(1/n_a + 1/n_b),
    z_0.975 = 1.959964, z_0.80 = 0.841621 (printed tables)."""
    by_hand = (1.959964 + 0.841621) * 2.0 * math.sqrt(1 / 2000 + 1 / 3000)
    assert detectable_difference(2.0, 2000, 3000) == pytest.approx(by_hand, rel=1e-3)
    assert power(by_hand, 2.0, 2000, 3000) == pytest.approx(0.80, abs=2e-3)


@pytest.mark.parametrize("n_a, n_b", [(2, 2), (3, 4), (5, 3)])
def test_the_detectable_difference_is_detected_four_times_in_five_by_simulation(n_a: int, n_b: int) -> None:
    """Draw seeds from normals whose means differ by the detectable difference: compare's own rule, scipy's
    Welch test, rejects at 5 % in 80 % of 40,000 experiments; at half of it, far less."""
    rng = np.random.default_rng(31)
    std, experiments = 0.02, 40_000
    detectable = detectable_difference(std, n_a, n_b)
    for shift, expected in [(detectable, POWER), (detectable / 2, None)]:
        a = rng.normal(shift, std, size=(experiments, n_a))
        b = rng.normal(0.0, std, size=(experiments, n_b))
        rejected = float(np.mean(scipy_stats.ttest_ind(a, b, axis=1, equal_var=False).pvalue < 0.05))
        if expected is None:
            assert rejected < 0.45
        else:
            assert rejected == pytest.approx(expected, abs=0.01)  # binomial sd 0.002


def test_with_few_seeds_welchs_rule_needs_more_than_the_pooled_t_test() -> None:
    """At the pooled t-test's detectable difference, Welch's interval (whose dof fall with the sample
    variances) resolves two seeds a side about half the time: the pooled figure would overstate them."""
    pooled_detectable = 5.6530  # pooled_t_power(5.6530, 1, 2, 2) = 0.80
    assert pooled_t_power(pooled_detectable, 1.0, 2, 2) == pytest.approx(0.80, abs=1e-3)
    assert power(pooled_detectable, 1.0, 2, 2) == pytest.approx(0.48, abs=0.01)
    assert detectable_difference(1.0, 2, 2) > 1.5 * pooled_detectable


def test_the_detectable_difference_shrinks_with_seeds_and_scales_with_the_spread() -> None:
    by_seeds = [detectable_difference(1.0, n, n) for n in (*range(2, 9), 12, 20)]
    assert np.all(np.diff(by_seeds) < 0)
    assert detectable_difference(3.0, 3, 5) == pytest.approx(3 * detectable_difference(1.0, 3, 5), rel=1e-9)
    assert detectable_difference(1.0, 3, 5) == pytest.approx(detectable_difference(1.0, 5, 3), rel=1e-9)
    assert detectable_difference(1.0, 3, 3, target_power=0.9) > detectable_difference(1.0, 3, 3)
    needed = [seeds_needed(d, 1.0) for d in (0.4, 0.6, 1.0, 2.0, 4.0)]
    assert needed == sorted(needed, reverse=True) and needed[-1] == 3  # 2 seeds with df 2 are not enough
    with pytest.raises(ValueError):
        detectable_difference(0.0, 3, 3)


def test_a_difference_within_seed_noise_says_what_its_seeds_detect_and_how_many_would_resolve_it() -> None:
    def row(variant: str, auc: float) -> SimpleNamespace:
        return SimpleNamespace(variant=variant, c2st_auc=auc)

    conv, attention = [0.62, 0.60, 0.65], [0.61, 0.58, 0.60, 0.57]
    rows = [row("conv", v) for v in conv] + [row("attention-8", v) for v in attention]
    (found,) = differences(rows, ["c2st_auc"])
    assert found.within_noise is True
    by_hand = math.sqrt((2 * statistics.variance(conv) + 3 * statistics.variance(attention)) / 5)
    assert found.pooled_std == pytest.approx(by_hand)
    assert found.detectable == pytest.approx(detectable_difference(by_hand, 4, 3))
    assert power(found.detectable, by_hand, 4, 3) == pytest.approx(POWER)
    assert abs(found.difference) < found.detectable  # what the interval could not resolve is below it
    n = found.seeds_needed
    assert n is not None and n > 4 and found.seeds_needed_more_than is None
    assert power(found.difference, by_hand, n, n) >= POWER > power(found.difference, by_hand, n - 1, n - 1)

    far = [row("conv", v) for v in conv] + [row("attention-8", v - 0.2) for v in attention]
    (beyond,) = differences(far, ["c2st_auc"])
    assert beyond.within_noise is False and beyond.detectable == pytest.approx(found.detectable)
    assert beyond.seeds_needed is None and beyond.seeds_needed_more_than is None  # already resolved

    level = [row("conv", v) for v in conv] + [row("attention-8", v) for v in [0.63, 0.59, 0.62, 0.63]]
    (tie,) = differences(level, ["c2st_auc"])
    assert tie.within_noise is True and tie.seeds_needed is None and tie.seeds_needed_more_than == MAX_SEEDS

    (one_seed,) = differences([*rows, row("conv-lone", 0.6)], ["c2st_auc"], reference="conv-lone")[1:]
    assert one_seed.within_noise is None and one_seed.detectable is None and one_seed.seeds_needed is None


def test_power_is_finite_and_rises_from_the_tests_size_to_one() -> None:
    """At no difference the power is the rate of false "beyond seed noise": 5 % with many seeds, less with
    few (Welch's interval is conservative when both spreads are equal: 2.3 % at two seeds a side,
    by 400,000 simulated experiments)."""
    differences_ = np.linspace(0.0, 60.0, 31)
    for n in (2, 3, 5, 100):
        values = power(differences_, 1.0, n, n)
        assert np.all(np.isfinite(values)) and np.all(np.diff(values) >= 0) and np.diff(values)[0] > 0
        assert 0.02 < values[0] <= 0.0501 and values[-1] == pytest.approx(1.0, abs=1e-3)
    assert power(0.0, 1.0, 2, 2) == pytest.approx(0.023, abs=2e-3)
    assert power(0.0, 1.0, 100, 100) == pytest.approx(0.05, abs=1e-3)


def test_a_task_scores_difference_carries_its_interval_over_the_poses_the_runs_share() -> None:
    """Seeds that agree on per-pose errors that scatter: the difference is beyond seed noise and within the
    poses' noise. The pose interval is the one-sample t-interval of the per-pose differences of the seed
    means, by hand; on other poses (another digest), a missing column or a run without errors there is none."""
    from unet1d.compare.runs import PoseErrors

    rng = np.random.default_rng(3)
    difficulty = rng.exponential(2.0, 12)  # each pose's own difficulty, shared by every run
    scatter = rng.normal(size=12)
    gap = 0.1 + scatter - scatter.mean()  # b minus a per pose: 0.1 on average, ~1 either way

    def row(variant: str, seed: int, errors: np.ndarray, digest: str = "same-poses") -> SimpleNamespace:
        pose_errors = PoseErrors(digest, {"completion_cm": [float(e) for e in errors]})
        return SimpleNamespace(variant=variant, completion_cm=float(errors.mean()), pose_errors=pose_errors)

    rows = [row("a", seed, difficulty + 0.001 * seed) for seed in range(3)]
    rows += [row("b", seed, difficulty + gap + 0.002 * seed) for seed in range(3)]
    (found,) = differences(rows, ["completion_cm"])
    assert found.difference == pytest.approx(0.1 + 0.001) and found.within_noise is False  # b - a, seeds agree
    per_pose = gap + 0.001  # b's seed mean minus a's, pose by pose
    half = scipy_stats.t.ppf(0.975, 11) * per_pose.std(ddof=1) / math.sqrt(12)
    assert (found.pose_low, found.pose_high) == pytest.approx((per_pose.mean() - half, per_pose.mean() + half))
    assert found.poses == 12 and found.within_pose_noise is True
    assert found.pose_std == pytest.approx(per_pose.std(ddof=1))
    assert found.poses_needed == poses_needed(found.difference, found.pose_std) and found.poses_needed > 12

    other_poses = [*rows[:-1], row("b", 2, difficulty + gap, digest="other-poses")]
    assert differences(other_poses, ["completion_cm"])[0].within_pose_noise is None
    without = [*rows[:-1], SimpleNamespace(variant="b", completion_cm=1.0)]
    assert differences(without, ["completion_cm"])[0].pose_low is None
    for member in rows:  # a column no run has per-pose errors of
        member.precision = 0.9
    assert differences(rows, ["precision"])[0].pose_low is None


def test_poses_needed_is_the_paired_t_tests_sample_size_table() -> None:
    """The paired (one-sample) t-test's sample sizes at 80 % power, two-sided 5 % (Cohen's d = difference / std;
    the values G*Power and Cohen's tables give), and the normal approximation far out."""
    assert [poses_needed(d, 1.0) for d in (0.2, 0.3, 0.5, 0.8, 1.0)] == [199, 90, 34, 15, 10]
    assert poses_needed(0.05, 2.0) == poses_needed(0.025, 1.0)  # only the ratio counts
    assert abs(poses_needed(0.05, 1.0) - ((1.959964 + 0.841621) / 0.05) ** 2) < 5
    assert poses_needed(0.001, 1.0) is None and poses_needed(0.0, 1.0) is None  # past MAX_POSES
    with pytest.raises(ValueError):
        poses_needed(0.1, 0.0)


def test_paired_power_is_the_share_of_simulated_intervals_that_exclude_zero() -> None:
    rng = np.random.default_rng(11)
    trials, poses, difference = 20_000, 34, 0.5
    draws = rng.normal(difference, 1.0, (trials, poses))
    half = scipy_stats.t.ppf(0.975, poses - 1) * draws.std(axis=1, ddof=1) / math.sqrt(poses)
    excluded = np.mean(np.abs(draws.mean(axis=1)) > half)
    expected = paired_power(difference, 1.0, poses)
    assert abs(excluded - expected) < 3 * math.sqrt(expected * (1 - expected) / trials)
    assert 0.8 <= expected < paired_power(difference, 1.0, 60)


def test_a_share_differences_interval_stays_within_plus_minus_one_and_other_columns_are_not_clipped() -> None:
    from unet1d.compare.stats import differences

    rows = [SimpleNamespace(variant=v, poses_outside_limits_tol=x, final_val_loss=x) for v, x in
            (("conv", 0.0), ("conv", 0.9), ("attention-8", 0.1), ("attention-8", 0.7))]  # fmt: skip
    found = {d.column: d for d in differences(rows, ["poses_outside_limits_tol", "final_val_loss"])}
    share, loss = found["poses_outside_limits_tol"], found["final_val_loss"]
    assert loss.low < -1 and loss.high > 1  # two seeds each: t with ~1.5 degrees of freedom is wide
    assert (share.low, share.high) == (-1.0, 1.0) and share.difference == loss.difference


@pytest.mark.parametrize(("value", "fmt", "text"), [(-0.01, "{:.1f}", "0.0"), (-0.0, "{:.1%}", "0.0%"),
                                                    (-0.05, "{:.1f}", "-0.1"), (0.0, "{:.3f}", "0.000")])  # fmt: skip
def test_a_value_that_rounds_to_zero_shows_no_minus(value: float, fmt: str, text: str) -> None:
    from unet1d.metric_registry import format_number

    assert format_number(fmt, value) == text


def test_a_difference_over_some_of_the_runs_says_how_many() -> None:
    # steps to common: a seed that never reached the threshold has no value; the mean is over the others
    rows = [SimpleNamespace(variant="conv", steps_to_common=v) for v in (100.0, 120.0)]
    rows += [SimpleNamespace(variant="attention-8", steps_to_common=v) for v in (40.0, None)]
    (found,) = differences(rows, ["steps_to_common"])
    assert found.difference == pytest.approx(-70.0) and found.counted == (1, 2, 2, 2)
    assert found.partial == " (1/2 vs 2/2 runs)"
    rows[-1].steps_to_common = 60.0
    assert differences(rows, ["steps_to_common"])[0].partial == ""
