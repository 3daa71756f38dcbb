"""Sweep files: every point of every sweep in sweeps/ is a valid config, spelled as `wandb agent` spells it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from unet1d.config_sources import load_config
from unet1d.errors import UserError
from unet1d.sweeps.schema import agent_args, points, read_sweep, search_points, validate_sweep

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = sorted((ROOT / "sweeps").glob("*.yaml"))


def test_the_structure_and_head_sweeps_exist() -> None:
    assert {path.name for path in SWEEPS} >= {"mid_structure.yaml", "mid_num_heads.yaml"}


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_sweep_file_runs_our_cli(path: Path) -> None:
    sweep = read_sweep(path)
    assert sweep["program"] == "cli.py"
    # each agent run gets its own folder, and a requeued (preempted) run resumes from it
    command = sweep["command"]
    train = command.index("train")
    assert command[train - 1] == "${program}" and command[-1] == "${args}"
    assert command[train + 1 : train + 3] == ["--output_dir=runs/sweeps/{sweep_id}/{run_id}", "--resume=auto"]
    assert sweep["metric"]["name"].startswith(("val/", "train/", "eval/", "quality/"))  # names runs log


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_every_point_validates_and_sets_what_it_names(path: Path) -> None:
    checked = validate_sweep(path)
    assert checked
    for point in checked:
        config = load_config(None, agent_args(point), environ={}).model_dump()
        for name, value in point.items():
            section = next(s for s, fields in config.items() if name in fields)
            assert config[section][name] == value


def test_points_are_the_full_grid() -> None:
    sweep = {"parameters": {"a": {"values": [1, 2, 3]}, "b": {"value": "x"}, "c": {"values": [True, False]}}}
    listed = points(sweep)
    assert len(listed) == 6 and {"a": 3, "b": "x", "c": False} in listed


def test_lists_travel_in_the_agents_spelling() -> None:
    point = {"channel_mults": [1, 2, 4, 8], "mid_structure": "conv"}
    assert agent_args(point) == ["--channel_mults=[1, 2, 4, 8]", "--mid_structure=conv"]
    assert load_config(None, agent_args(point), environ={}).model.channel_mults == [1, 2, 4, 8]


HEADS_SWEEP = {
    "method": "grid",
    "command": ["train", "${args}"],
    "parameters": {"mid_num_heads": {"values": [8, 7]}, "mid_structure": {"value": "attention"}},
}


def write(tmp_path: Path, sweep: dict) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"command": ["train", "${args}"], **sweep}))
    return path


@pytest.mark.parametrize(
    ("sweep", "fragment"),
    [
        (HEADS_SWEEP, "mid_num_heads=7"),
        ({"method": "grid", "parameters": {"mid_num_head": {"values": [8]}}}, "did you mean 'mid_num_heads'"),
        ({"method": "grid", "parameters": {"lr": {"min": 1e-4, "max": 1e-3}}}, "a grid cannot use ranges"),
        (
            {"method": "random", "parameters": {"optim": {"parameters": {"lr": {"values": [1e-3]}}}}},
            "parameter 'optim' nests parameters, which unet1d sweeps do not take; name each field flat (lr) or "
            "dotted (optim.lr)",
        ),
        ({"method": "random", "parameters": {"lr": {"min": -1.0, "max": 1e-3}}}, "'lr': -1.0"),
        ({"method": "hyperband", "parameters": {"lr": {"value": 1e-3}}}, "method='hyperband' is not allowed"),
        ({"method": "grid", "parameters": {}}, "'parameters' must map"),
        ({"method": "grid", "command": ["${program}", "train"], "program": "cli.py",
          "parameters": {"lr": {"value": 1}}},
         "passes no parameters: without ${args} every run would train the same config"),
        ({"method": "grid", "command": ["${program}", "train", "${args}"], "parameters": {"lr": {"value": 1}}},
         "'program' is missing"),
        ({"method": "bayes", "parameters": {"lr": {"min": 1e-4, "max": 1e-3}}}, "method: bayes needs a metric"),
        ({"method": "grid", "early_terminate": {"type": "hyperband", "min_iter": 3},
          "parameters": {"lr": {"value": 1e-3}}}, "early_terminate needs a metric"),
        ({"method": "bayes", "metric": {"name": "val/los", "goal": "minimize"},
          "parameters": {"lr": {"min": 1e-4, "max": 1e-3}}}, "metric.name='val/los' is not a metric a run logs; did "
         "you mean 'val/loss'?"),
        ({"method": "grid", "metric": {"name": "eval/c2st", "goal": "minimize"}, "parameters": {"lr": {"value": 1e-3}}},
         "did you mean 'eval/c2st_auc'?"),
        ({"method": "grid", "metric": {"name": "train/los", "goal": "minimize"}, "parameters": {"lr": {"value": 1}}},
         "did you mean 'train/loss'?"),  # any train/ name passed, and the engine searched on an empty history
        ({"method": "grid", "metric": {"name": "train/grad_norm/middle"}, "parameters": {"lr": {"value": 1}}},
         "metric.name='train/grad_norm/middle' is not a metric a run logs"),
        ({"method": "grid", "metric": {"name": "quality/completion_cm"}, "parameters": {"lr": {"value": 1}}},
         "metric.name='quality/completion_cm' is not a metric a run logs"),  # the probe scores no tasks
    ],
)  # fmt: skip
def test_bad_sweeps_are_refused_with_the_reason(tmp_path: Path, sweep: dict, fragment: str) -> None:
    with pytest.raises(UserError) as caught:
        validate_sweep(write(tmp_path, sweep))
    assert fragment in str(caught.value) and "sweep.yaml" in str(caught.value)


def test_a_metric_a_run_logs_and_no_metric_where_none_is_needed_pass(tmp_path: Path) -> None:
    for metric in ("train/grad_norm/mid", "train/loss_t0-249", "quality/c2st_auc", "eval/completion_cm", None):
        named = {"metric": {"name": metric, "goal": "minimize"}} if metric else {}
        validate_sweep(write(tmp_path, {"method": "grid", "parameters": {"lr": {"value": 1e-3}}, **named}))


def test_middles_sweep_trains_each_middle_and_seed_once() -> None:
    listed = points(read_sweep(next(path for path in SWEEPS if path.name == "middles.yaml")))
    built = [load_config(None, agent_args(point), environ={}) for point in listed]
    trained = [(c.model.mid_structure, c.model.mid_num_heads if c.model.mid_structure == "attention" else None,
                c.train.seed) for c in built]  # fmt: skip
    middles = {(s, h) for s, h, _ in trained}
    assert len(trained) == len(set(trained)) == 12
    assert middles == {("conv", None), ("attention", 4), ("attention", 8), ("attention", 16)}
    assert {seed for *_, seed in trained} == {0, 1, 2}


def test_every_invalid_grid_point_is_named(tmp_path: Path) -> None:
    sweep = {"method": "grid", "parameters": {"mid": {"values": ["attention-4", "attention-6", "attention-8",
             "attention-12"]}, "seed": {"values": [0, 1]}}}  # fmt: skip
    with pytest.raises(UserError) as caught:
        validate_sweep(write(tmp_path, sweep))
    message = str(caught.value)
    assert "4 of 8 points are invalid" in message
    for heads in (6, 12):
        assert message.count(f"'mid': 'attention-{heads}'") == 2  # once per seed
    assert "'attention-4'" not in message and "'attention-8'" not in message
    assert "does not divide the 512 middle channels" in message


def test_random_sweeps_check_both_bounds_and_a_sample(tmp_path: Path) -> None:
    sweep = {"method": "bayes", "metric": {"name": "val/loss", "goal": "minimize"},
             "parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-2},
                            "dropout": {"distribution": "uniform", "min": 0.0, "max": 1.0}}}  # fmt: skip
    listed = search_points(sweep)
    lrs = [p["lr"] for p in listed]
    assert min(lrs) == pytest.approx(1e-5) and max(lrs) == pytest.approx(1e-2)
    assert all(1e-5 * 0.999 <= lr <= 1e-2 * 1.001 for lr in lrs) and len(set(lrs)) > 10
    with pytest.raises(UserError) as caught:
        validate_sweep(write(tmp_path, sweep))
    # dropout must be < 1: the upper bound is named, and no sampled point below 1 is
    assert "'dropout': 1.0" in str(caught.value) and "data.dropout" not in str(caught.value)
    assert "model.dropout" in str(caught.value)


def test_an_integer_range_is_checked_at_the_values_w_and_b_draws(tmp_path: Path) -> None:
    # scipy's randint.ppf(0) is min - 1: seed 0..2 was refused for a seed of -1 no run ever gets
    seeds = {"distribution": "int_uniform", "min": 0, "max": 2}
    batches = {"distribution": "int_uniform", "min": 1, "max": 64}
    sweep = {"method": "random", "parameters": {"seed": seeds, "batch_size": batches}}
    checked = validate_sweep(write(tmp_path, sweep))
    assert min(p["seed"] for p in checked) == 0 and max(p["seed"] for p in checked) == 2
    assert min(p["batch_size"] for p in checked) == 1
    sweep["parameters"]["batch_size"]["min"] = 0
    with pytest.raises(UserError, match=r"'batch_size': 0"):
        validate_sweep(write(tmp_path, sweep))


def test_schema_problems_are_all_reported(tmp_path: Path) -> None:
    sweep = {"method": "random", "parameters": {"lr": {"min": 1e-2, "max": 1e-4}, "seed": {"valuez": [1]}}}
    with pytest.raises(UserError) as caught:
        validate_sweep(write(tmp_path, sweep))
    message = str(caught.value)
    assert "not a valid sweep" in message and "lr" in message and message.count("\n  ") >= 2


def test_the_multi_gpu_study_is_the_middles_study_on_every_gpu_with_a_free_port() -> None:
    single, multi = (read_sweep(ROOT / "sweeps" / name) for name in ("middles.yaml", "middles-multi-gpu.yaml"))
    assert points(multi) == points(single)
    launcher = multi["command"][: multi["command"].index("${program}")]
    assert launcher == [
        "${env}",
        "${interpreter}",
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=gpu",
    ]


def test_sweep_agent_runs_wandb_agent_for_the_sweep() -> None:
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "unet1d.cli", "sweep", *args], capture_output=True, text=True)

    shown = cli("agent", "team/unet1d/ab12cd34", "--count", "3", "--dry-run")
    assert shown.returncode == 0
    assert shown.stdout.split() == [sys.executable, "-m", "wandb", "agent", "--forward-signals", "--count", "3",
                                    "team/unet1d/ab12cd34"]  # fmt: skip
    bad = cli("agent", "team/unet1d/ab12cd34/extra")
    assert bad.returncode == 2 and "is not a W&B sweep id" in bad.stderr and "Traceback" not in bad.stderr


def test_sweep_agent_without_w_and_b_credentials_points_to_sweep_local(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")} | {"HOME": str(tmp_path)}
    root = Path(__file__).resolve().parents[2]  # where cli.py is
    refused = subprocess.run([sys.executable, "-m", "unet1d.cli", "sweep", "agent", "team/unet1d/ab12cd34"],
                             capture_output=True, text=True, env=env, cwd=root, timeout=120)  # fmt: skip
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "needs a W&B server and credentials" in refused.stderr and "unet1d sweep local" in refused.stderr


def test_every_train_metric_a_run_logs_is_a_sweep_metric(tiny_config, tmp_path: Path) -> None:
    """The train/ names are patterns (buckets and blocks follow the config): held to a real run's TensorBoard."""
    from tests.training.test_loop import tensorboard_scalars
    from unet1d.sweeps.schema import logged_metric, train_metrics
    from unet1d.training import train

    config = tiny_config("--max_steps", "4", "--log_every", "2", "--grad_norm_every", "2", "--checkpoint_every", "2")
    train(config)
    logged = [tag for tag in tensorboard_scalars(tmp_path / "run") if tag.startswith(("train/", "val/"))]
    assert {"train/grad_norm/mid", "train/loss_t75-99", "train/model_size_mb", "val/loss"} <= set(logged)
    assert [tag for tag in logged if not logged_metric(tag)] == []
    expected = train_metrics(config)  # each point's exact names: the blocks and buckets as this run has them
    assert {tag for tag in logged if tag.startswith("train/")} <= expected
    assert {tag for tag in logged if tag.startswith(("train/grad_norm/", "train/loss_t"))} == {
        tag for tag in expected if tag.startswith(("train/grad_norm/", "train/loss_t"))
    }


@pytest.mark.parametrize(
    ("metric", "overrides", "reason"),
    [
        ("eval/c2st_auc", ["--final_eval_samples", "0"], "final_eval_samples=0 turns it off"),
        ("eval/completion_cm", ["--task_poses", "0"], "task_poses=0 turns them off"),
        ("quality/c2st_auc", ["--quality_every", "0"], "quality_every=0 runs none"),
        ("val/loss_ema", ["--ema", "false"], "ema=false keeps none"),
        ("val/loss", ["--val_fraction", "0"], "val_fraction=0 holds out nothing"),
        ("train/grad_norm/down9", [], "train/grad_norm/down9 is not logged by a run of this config"),
        ("train/loss_t0-250", [], "train/loss_t0-250 is not logged"),  # the buckets are t0-249 ...
        ("train/scaler_skips", [], "train/scaler_skips is not logged"),  # fp16 only
        (
            "val/loss",
            [
                "--tensorboard",
                "false",
                "--max_steps",
                "2",
                "--base_channels",
                "8",
                "--builtin_samples",
                "512",
                "--final_eval_samples",
                "0",
                "--quality_every",
                "0",
            ],  # tiny, should the check ever let it run
            "`sweep local` reads val/loss from TensorBoard",
        ),
    ],
)
def test_a_metric_the_runs_would_not_log_is_refused_where_the_engine_decides_by_it(
    tmp_path: Path, capsys, metric: str, overrides: list[str], reason: str
) -> None:
    """Each validated, and `sweep local`'s bayes engine then proposed blind on an empty history, silently."""
    from unet1d.cli import main

    def run(method: str, command: str) -> tuple[int, str]:
        sweep = {"method": method, "metric": {"name": metric, "goal": "minimize"}, "program": "cli.py",
                 "parameters": {"lr": {"min": 1e-4, "max": 1e-3} if method == "bayes" else {"value": 1e-3}},
                 "command": ["${env}", "${interpreter}", "${program}", "train", "${args}"]}  # fmt: skip
        with pytest.raises(SystemExit) as exited:
            main(
                [
                    "sweep",
                    command,
                    str(write(tmp_path, sweep)),
                    *overrides,
                    *(["--count", "1"] if command == "local" else []),
                ]
            )
        return int(exited.value.code or 0), capsys.readouterr().err

    command = "local" if "TensorBoard" in reason else "validate"
    code, err = run("bayes", command)
    assert code == 2 and reason in err and "decides by a metric its runs would not log" in err
    if command == "validate":
        code, err = run("grid", "validate")  # a grid only shows it: said, not refused
        assert code == 0 and err.startswith("warning:") and reason in err


def test_flags_the_sweeps_command_fixes_count_as_parameters_would(tmp_path: Path, capsys) -> None:
    """--final_eval_samples=0 or --wandb_mode=offline written into the command passed every check."""
    from unet1d.cli import main

    sweep = {
        "method": "bayes",
        "metric": {"name": "eval/c2st_auc", "goal": "minimize"},
        "program": "cli.py",
        "parameters": {"lr": {"min": 1e-4, "max": 1e-3}},
        "command": ["${env}", "${interpreter}", "${program}", "train", "--final_eval_samples=0", "${args}"],
    }
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "validate", str(write(tmp_path, sweep))])
    assert exited.value.code == 2 and "final_eval_samples=0 turns it off" in capsys.readouterr().err
    sweep["command"][4] = "--wandb_mode=offline"
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "create", str(write(tmp_path, sweep))])
    assert exited.value.code == 2 and "its runs would log with wandb_mode=offline" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "parameters", "metric", "refused"),
    [  # the verification walk's: each refused a sweep that works, or passed one whose runs log no metric
        (["--max_steps", "200"], {"lr": {"min": 1e-4, "max": 1e-3}}, "val/loss", None),
        (["--output_dir", "runs/{sweep_id}/{run_id}"], {"lr": {"min": 1e-4, "max": 1e-3}}, "val/loss", None),
        (["--ema", "false"], {"lr": {"min": 1e-4, "max": 1e-3}}, "val/loss_ema", "ema=false keeps none"),
        (["${args_no_boolean_flags}"], {"ema": {"values": [True, False]}}, "val/loss_ema", None),  # false: left out
        (["--max_steps=20"], {"lr": {"min": 1e-4, "max": 1e-3}}, "train/grad_norm/mid", "grad_norm_every=50"),
    ],
)
def test_the_commands_own_words_count_as_the_run_reads_them(tmp_path, capsys, command, parameters, metric, refused):
    from unet1d.cli import main

    macro = [] if "${args_no_boolean_flags}" in command else ["${args}"]
    sweep = {
        "method": "bayes",
        "metric": {"name": metric, "goal": "minimize"},
        "program": "cli.py",
        "parameters": parameters,
        "command": ["${env}", "${interpreter}", "${program}", "train", *command, *macro],
    }
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "validate", str(write(tmp_path, sweep))])
    err = capsys.readouterr().err
    assert (exited.value.code, refused is not None and refused in err) == ((2, True) if refused else (0, False)), err
