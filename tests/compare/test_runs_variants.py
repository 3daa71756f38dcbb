"""`compare` puts runs in one variant only when they are repeats: same resolved config but the seed
(and fields that cannot change results); anything else is its own variant, named by what differs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.run_folders import make_run
from unet1d.compare.runs import compare_runs, short_value, variant_key, variant_name, variant_names
from unet1d.config import ModelConfig
from unet1d.config_sources import load_config
from unet1d.errors import UserError
from unet1d.training import train


def stored(*flags: str) -> dict:
    """A config as a run stores it in config.yaml."""
    return yaml.safe_load(load_config(None, list(flags), environ={}).to_yaml())


def test_repeats_share_a_variant_and_other_differences_name_their_own():
    conv = ("--mid_structure", "conv")
    configs = [
        stored(*conv, "--seed", "0"),
        stored(*conv, "--seed", "1", "--output_dir", "elsewhere", "--log_every", "3", "--checkpoint_every", "7"),
        stored(*conv, "--seed", "0", "--max_steps", "500"),
        stored("--mid_structure", "attention", "--mid_num_heads", "4"),
        stored(*conv, "--mid_num_heads", "16"),  # heads mean nothing to a conv middle: a repeat of the first
    ]
    assert variant_names(configs) == [
        "conv max_steps=2000",
        "conv max_steps=2000",
        "conv max_steps=500",
        "attention-4 max_steps=2000",
        "conv max_steps=2000",
    ]
    assert variant_names([stored("--seed", "0"), stored("--seed", "5")]) == ["attention-8", "attention-8"]
    evaluated_apart = [stored("--final_eval_samples", "0", "--task_poses", "50"), stored("--task_poses", "200")]
    assert variant_names(evaluated_apart) == ["attention-8", "attention-8"]  # evaluation-only: same training
    lists = variant_names([stored(*conv), stored(*conv, "--channel_mults", "1,2")])
    assert lists == ["conv channel_mults=[1,2,4]", "conv channel_mults=[1,2]"]


def test_a_difference_the_short_name_would_hide_is_spelled_out():
    # base_channels shows as -c64 only away from the default; pose_dim only at full length: both named anyway
    names = variant_names([stored("--channel_mults", "1", "--pose_dim", "72"), stored("--channel_mults", "1")])
    assert names[0] == names[1]  # identical configs
    a, b = stored("--channel_mults", "1"), stored("--channel_mults", "1")
    b["model"]["pose_dim"] = 70  # not a valid config (pose_format says 72), as a run of another version might store
    assert len(set(variant_names([a, b]))) == 2


@pytest.mark.parametrize("mid", ["conv", "attention-4", "attention-16"])
def test_a_variant_names_its_middle_as_the_config_spells_it(mid: str):
    config = stored("--mid", mid)
    assert config["model"]["mid"] == mid and variant_name(config) == mid


def test_the_width_is_named_only_away_from_the_configs_default():
    default = ModelConfig.model_fields["base_channels"].default
    assert variant_name(stored("--base_channels", str(default))) == "attention-8"
    assert variant_name(stored("--base_channels", str(default // 2))) == f"attention-8-c{default // 2}"
    older = stored()
    del older["model"]["base_channels"], older["model"]["downsample"]  # a run from before either field
    assert variant_name(older) == "attention-8"
    assert variant_name(stored("--downsample", "false")) == "attention-8-L72"


def test_up_axis_auto_is_what_the_data_module_makes_of_it():
    # built-in poses are y-up, so auto and y train the same; for file data auto depends on the files: kept apart
    assert variant_key(stored("--up_axis", "auto"))["data.up_axis"] == "y"
    assert variant_names([stored("--up_axis", "auto"), stored("--up_axis", "y")]) == ["attention-8"] * 2
    assert variant_names([stored("--up_axis", "auto"), stored("--up_axis", "z")]) == [
        "attention-8 up_axis=y",
        "attention-8 up_axis=z",
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.002, "2e-3"),
        (0.0005, "5e-4"),
        (0.0019337995529, "0.00193"),  # a log-uniform sweep's draw: 3 significant digits, not its tail
        (0.05, "0.05"),
        (0.25, "0.25"),
        (1.0, "1"),
        (12345.6, "12300"),
        (-0.002, "-2e-3"),
        (4, "4"),
        (False, "False"),
        ([1, 2, 4], "[1,2,4]"),
    ],
)
def test_numbers_in_a_variant_name_are_short(value: object, shown: str):
    assert short_value(value) == shown
    if isinstance(value, float):
        assert float(short_value(value)) == pytest.approx(value, rel=5e-3)


def test_sweep_draws_are_named_short_and_close_ones_get_every_digit():
    lrs = [0.0019337995529, 0.000712]
    named = variant_names([stored("--lr", str(lr)) for lr in lrs])
    assert named == ["attention-8 lr=0.00193", "attention-8 lr=7.12e-4"]
    close = [0.0019337995529, 0.0019341]  # alike at 3 digits: spelled out rather than merged
    assert variant_names([stored("--lr", str(lr)) for lr in close]) == [f"attention-8 lr={lr!r}" for lr in close]


@pytest.mark.slow
def test_compare_on_runs_differing_in_lr_shows_two_variants(tiny_config, tmp_path: Path):
    for name, flags in {
        "lr-a-seed0": ["--seed", "0"],
        "lr-a-seed1": ["--seed", "1", "--log_every", "2"],
        "lr-b-seed0": ["--seed", "0", "--lr", "1e-3"],
    }.items():
        assert train(tiny_config("--max_steps", "5", *flags, output_dir=tmp_path / name)).exit_code == 0

    rows, variants = compare_runs([tmp_path])

    assert {v.variant: v.runs for v in variants} == {"attention-8-c8 lr=2e-3": 2, "attention-8-c8 lr=1e-3": 1}
    assert {Path(r.run).name: r.variant for r in rows}["lr-b-seed0"] == "attention-8-c8 lr=1e-3"
    together = next(v for v in variants if v.runs == 2)
    losses = [r.final_train_loss for r in rows if r.variant == "attention-8-c8 lr=2e-3"]
    assert together.mean["final_train_loss"] == pytest.approx(sum(losses) / 2)


def test_a_run_named_twice_counts_once_and_a_repeated_seed_or_unlike_evaluations_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.run_folders import make_run

    evaluation = {"num_samples": 1000, "reference": "builtin-fresh", "weights": "ema", "c2st_auc": 0.7}
    one = make_run(tmp_path / "runs" / "one", "--seed", "0", evaluation=evaluation)
    make_run(tmp_path / "runs" / "two", "--seed", "1", evaluation=evaluation)
    rows, variants = compare_runs([one, tmp_path / "runs", tmp_path / "runs" / ".." / "runs" / "one"])
    assert [Path(row.run).name for row in rows] == ["one", "two"] and variants[0].runs == 2
    assert capsys.readouterr().err == ""  # two seeds of one variant, evaluated alike: nothing to say

    copy = make_run(tmp_path / "copy", "--seed", "0", evaluation={**evaluation, "num_samples": 64})
    rows, variants = compare_runs([tmp_path / "runs", copy])
    warned = capsys.readouterr().err
    assert f"{copy} and {one} are both seed 0 of" in warned and f"only {one} is counted" in warned
    assert [Path(row.run).name for row in rows] == ["one", "two"] and variants[0].runs == 2  # the copy not counted
    assert warned.count("warning: ") == 1, warned  # left out before anything else is said of it

    odd = make_run(tmp_path / "odd", "--seed", "5", evaluation={**evaluation, "num_samples": 64})
    compare_runs([tmp_path / "runs", odd])
    warned = capsys.readouterr().err
    assert "the evaluations differ in num_samples: 1000 (one, two); 64 (odd)" in warned
    assert "evaluate the odd runs again alike, e.g. `unet1d eval RUN --num_samples N`" in warned  # how to mend it
    assert warned.count("warning: ") == 1, warned

    tasked = make_run(tmp_path / "tasked", "--seed", "2", evaluation={**evaluation, "task_poses_digest": "abc"})
    compare_runs([tmp_path / "runs", tasked])
    warned = capsys.readouterr().err  # an evaluation from before the task scores: only those do not compare
    assert "scored the prior's tasks on other poses (None (one, two); abc (tasked)" in warned
    assert "their task scores do not compare; `unet1d eval` them again" in warned


def test_runs_alike_in_what_they_learn_but_not_in_what_they_measure_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # one variant, as their weights are alike; but the probes count in the time and the memory, and a validation
    # subset moves the val loss: seed noise 6x too wide, with no word said
    from tests.run_folders import make_run

    make_run(tmp_path / "a", "--seed", "0", "--quality_every", "20")
    make_run(tmp_path / "b", "--seed", "1", "--quality_every", "20")
    make_run(tmp_path / "c", "--seed", "2", "--quality_every", "1000", "--val_max_poses", "64")
    _, variants = compare_runs([tmp_path])
    warned = capsys.readouterr().err
    assert len(variants) == 1 and variants[0].runs == 3
    assert (
        "the runs differ in evaluation.quality_every: 20 (a, b); 1000 (c); their time, samples/s and peak MiB do not "
        "compare: the quality probes count in them" in warned
    )
    assert "the runs differ in train.val_max_poses: 2048 (a, b); 64 (c); their val loss" in warned
    assert warned.count("warning: ") == 2, warned


def test_an_unfinished_run_is_named_not_dropped_unsaid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a seed that crashed or was killed (config.yaml, no summary.json) vanished from its variant when its folder's
    # parent was given
    from tests.run_folders import make_run

    make_run(tmp_path / "runs" / "seed0", "--seed", "0")
    killed = make_run(tmp_path / "runs" / "seed1", "--seed", "1")
    (killed / "summary.json").unlink()
    rows, _ = compare_runs([tmp_path / "runs"])
    assert [Path(row.run).name for row in rows] == ["seed0"]
    assert "'" + str(tmp_path / "runs") + "' holds unfinished runs, left out: seed1 (no summary.json)" in (
        capsys.readouterr().err
    )
    with pytest.raises(UserError, match=r"holds an unfinished run \(no summary.json\): stopped, crashed"):
        compare_runs([killed])


def test_a_run_without_an_evaluation_beside_evaluated_ones_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.run_folders import make_run

    evaluation = {"num_samples": 1000, "reference": "builtin-fresh", "weights": "ema", "c2st_auc": 0.7}
    make_run(tmp_path / "a", "--seed", "0", evaluation=evaluation)
    bare = make_run(tmp_path / "b", "--seed", "1")
    compare_runs([tmp_path])
    warned = capsys.readouterr().err
    assert f"{bare} has no evaluation" in warned and f"`unet1d eval {bare}`" in warned


def test_runs_that_no_baseline_loses_to_or_that_the_classifier_tells_all_apart_are_said_undecidable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a team lead ranked 14.0 against 14.2 cm: the Gaussian and the nearest poses did 5.9 and 4.8 in the same JSON
    from tests.run_folders import make_run

    baselines = {"gaussian": {"completion_cm": 5.91, "denoise_cm": 5.4}, "nearest": {"completion_cm": 4.82}}
    for seed, (completion, c2st) in enumerate([(14.02, 0.9994), (14.22, 0.9999)]):
        evaluation = {"completion_cm": completion, "denoise_cm": 3.0, "c2st_auc": c2st, "baselines": baselines}
        make_run(tmp_path / "runs" / f"s{seed}", "--seed", str(seed), evaluation=evaluation)
    compare_runs([tmp_path / "runs"])
    warned = capsys.readouterr().err
    assert "no run beats a baseline that needs no network on completion_cm (runs 14.02–14.22; nearest 4.82)" in warned
    assert "on denoise_cm" not in warned  # the runs beat the Gaussian's 5.4 there
    assert "c2st_auc is at its ceiling in every run (0.999–1.000)" in warned

    better = {"completion_cm": 4.5, "denoise_cm": 3.0, "c2st_auc": 0.7, "baselines": baselines}
    make_run(tmp_path / "runs" / "s2", "--seed", "2", evaluation=better)
    compare_runs([tmp_path / "runs"])
    warned = capsys.readouterr().err
    assert "no run beats" not in warned and "ceiling" not in warned


def test_a_run_being_resumed_to_a_longer_budget_is_named_and_left_out(tmp_path: Path, capsys) -> None:
    """A resume rewrites config.yaml as it starts and summary.json as it ends: compare read such a run as a
    finished "max_steps=300" variant with the step-150 numbers (walk G)."""
    make_run(tmp_path / "done", "--max_steps", "150", "--seed", "0", summary={"val_loss": 0.5, "final_step": 150})
    going = make_run(tmp_path / "going", "--max_steps", "300", "--seed", "1", summary={"final_step": 150})
    rows, _ = compare_runs([tmp_path])
    assert [Path(row.run).name for row in rows] == ["done"]
    err = capsys.readouterr().err
    assert f"'{going}' ended at step 150 and its config now asks for 300" in err and "left out" in err


def test_a_summary_holding_nan_is_named_not_written_as_bare_nan(tmp_path: Path, capsys) -> None:
    run = make_run(tmp_path / "run", summary={"val_loss": float("nan"), "train_loss": 0.8})
    (row,), _ = compare_runs([run])
    assert row.final_val_loss is None and "val_loss is nan, not a finite number" in capsys.readouterr().err


def test_an_evaluation_holding_nan_or_infinity_is_named_and_compared_without_it(tmp_path: Path, capsys) -> None:
    """Verification walk: an infinite precision was a statistics traceback, a NaN one bare NaN in --out."""
    for seed, value in ((0, float("inf")), (1, float("nan")), (2, 0.9)):
        make_run(tmp_path / f"s{seed}", "--seed", str(seed), evaluation={"precision": value})
    rows, (variant,) = compare_runs([tmp_path])
    err = capsys.readouterr().err
    assert "its evaluation's precision is inf" in err and "its evaluation's precision is nan" in err
    assert [row.precision for row in rows] == [None, None, 0.9] and variant.mean["precision"] == 0.9


def test_a_repeated_seed_is_left_out_before_the_threshold_and_the_caveats_are_made(tmp_path: Path) -> None:
    """The copy (val loss 1.5) was not counted in the means but still set the common threshold (verification)."""
    from tests.compare.test_convergence import val_curve
    from unet1d.compare.convergence import common_threshold

    for name, seed, values in (("a", 0, [1.0, 0.6]), ("copy", 0, [1.0, 1.5]), ("b", 1, [1.0, 0.7])):
        make_run(tmp_path / name, "--seed", str(seed), "--max_steps", "10", summary={"val_loss": values[-1]},
                 scalars={"val/loss": val_curve(60.0, values)})  # fmt: skip
    rows, _ = compare_runs([tmp_path])
    assert sorted(Path(row.run).name for row in rows) == ["a", "b"]
    assert common_threshold(rows) == pytest.approx(0.65)


def test_a_non_finite_baseline_score_is_no_baseline_to_beat() -> None:
    from types import SimpleNamespace

    from unet1d.compare.runs import worse_prior_warnings

    nan = float("nan")
    baselines = {"gaussian": {"completion_cm": nan}, "nearest": {"completion_cm": 4.0}}
    rows = [SimpleNamespace(completion_cm=5.0, denoise_cm=None, baselines=baselines)]
    (line,) = worse_prior_warnings(rows)  # the nearest baseline's 4.0 is beaten by none: NaN did not hide it
    assert "nearest 4.00" in line
