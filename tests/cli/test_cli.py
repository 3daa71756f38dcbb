"""The `unet1d` command line, run as users run it: in-process via main() and as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_architecture import HEAVY
from unet1d.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python cli.py ...` exactly as a sweep agent or a user would start it."""
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_config_show_prints_the_resolved_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "config", "show", "--mid_structure=attention", "--mid_num_heads=16")
    assert code == 0
    shown = yaml.safe_load(out)
    assert shown["model"]["mid_structure"] == "attention" and shown["model"]["mid_num_heads"] == 16
    assert shown["train"]["batch_size"] == 256  # untouched defaults are shown too


def test_config_show_layers_a_file_under_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file = tmp_path / "run.yaml"
    config_file.write_text("model:\n  mid_structure: attention\n  mid_num_heads: 4\n")
    code, out, _ = run_main(capsys, "config", "show", "--config", str(config_file), "--model.mid_num_heads", "2")
    assert code == 0 and yaml.safe_load(out)["model"] | {"mid_num_heads": 2} == yaml.safe_load(out)["model"]
    assert yaml.safe_load(out)["model"]["mid_structure"] == "attention"


def test_config_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("mid_structure: attention\nmid_num_heads: 8\n")
    code, out, _ = run_main(capsys, "config", "validate", str(good))
    assert code == 0 and out.strip() == f"{good}: valid (attention middle, 8 heads)"
    code, out, _ = run_main(capsys, "config", "validate", str(good), "--mid_structure", "conv")
    assert code == 0 and out.strip() == f"{good}: valid (conv middle)"  # heads mean nothing there
    bad = tmp_path / "bad.yaml"
    bad.write_text("mid_structure: attention\nmid_num_heads: 12\n")
    code, _, err = run_main(capsys, "config", "validate", str(bad))
    assert code == 2 and "mid_num_heads=12" in err and "valid head counts" in err


@pytest.mark.parametrize(("structure", "millions"), [("conv", "5.80M"), ("attention", "5.28M")])
def test_info_reports_the_parameter_count(structure: str, millions: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "info", "--mid_structure", structure)
    assert code == 0 and millions in out
    if structure == "attention":
        assert "18x18 = 324 floats per head, 2,592 for 8 heads" in out


def test_any_even_width_builds_the_output_heads_norm_taking_the_groups_that_divide_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_main(capsys, "info", "--base_channels", "12", "--mid", "attention-4")
    assert code == 0 and "attention" in out
    assert out.splitlines()[0] == "UNet1D: attention middle, 4 heads, base_channels 12"  # one line, never wrapped


def test_info_at_full_length_reports_the_seeds_72x72_attention(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "info", "--mid_structure=attention", "--downsample=false")
    assert code == 0 and "72x72 = 5,184 floats per head, 41,472 for 8 heads" in out


def test_info_reports_the_network_rot6d_poses_train(capsys: pytest.CaptureFixture[str]) -> None:
    """6D rotations make a pose 144 numbers, so the middle sees twice the positions (info showed axis-angle's)."""
    code, out, _ = run_main(capsys, "info", "--representation", "rot6d")
    assert code == 0 and out.splitlines()[0].endswith(", 144 numbers a pose (rot6d)")
    assert "512 channels x 36 positions" in out and "36x36 = 1,296 floats per head" in out


def test_info_takes_a_run_or_checkpoint_folder_as_eval_and_sample_do(tmp_path, capsys) -> None:
    """walk K: `unet1d info RUN` was "unexpected argument"; its config is the run folder's config.yaml."""
    run = tmp_path / "run"
    (run / "checkpoints" / "step-2").mkdir(parents=True)
    for folder in (run, run / "checkpoints" / "step-2"):
        (folder / "config.yaml").write_text("model:\n  base_channels: 12\n  mid_structure: conv\n")
    for folder in (run, run / "checkpoints" / "step-2"):
        code, out, err = run_main(capsys, "info", str(folder))
        assert code == 0 and out.splitlines()[0] == "UNet1D: conv middle, base_channels 12", err
    code, out, _ = run_main(capsys, "info", str(run), "--base_channels", "16")  # fields after it still apply
    assert code == 0 and out.splitlines()[0] == "UNet1D: conv middle, base_channels 16"
    code, _, err = run_main(capsys, "info", str(tmp_path))
    assert code == 2 and err.startswith(f"error: unexpected argument '{tmp_path}': not a run or checkpoint folder")
    code, _, err = run_main(capsys, "info", str(run / "config.yaml"))
    assert code == 2 and err.startswith(f"error: {run / 'config.yaml'}: a file; give a run or checkpoint folder")
    code, _, err = run_main(capsys, "info", str(tmp_path / "gone"))  # walk E: "not a run folder (no config.yaml)"
    assert code == 2 and err.startswith(f"error: unexpected argument '{tmp_path / 'gone'}': no such run folder")
    code, _, err = run_main(capsys, "sample", str(run / "config.yaml"))  # walk E: "does not exist" of a file
    assert code == 2 and err.startswith(f"error: {run / 'config.yaml'}: a file; give a run's folder, or one of its")


def test_info_reads_a_run_whose_config_yaml_was_cut_short_from_its_checkpoint(tiny_config, tmp_path, capsys) -> None:
    """Walk D: a run's config.yaml cut short before `mid_structure` still parsed, and `info RUN` said
    "attention middle, 8 heads" of a conv run (the lost fields took their defaults); --config of it trained so."""
    from unet1d.training import train

    run = Path(train(tiny_config("--max_steps", "2", "--mid_structure", "conv")).output_dir)
    capsys.readouterr()
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text[: text.index("  mid_structure:")])
    code, out, err = run_main(capsys, "info", str(run))
    assert code == 0 and out.splitlines()[0].startswith("UNet1D: conv middle"), (out, err)
    assert err.startswith(f"warning: {run / 'config.yaml'}: damaged run config (cut short") and "step-2" in err, err
    code, _, err = run_main(capsys, "config", "show", "--config", str(run / "config.yaml"))
    assert code == 2 and err.startswith(f"error: {run / 'config.yaml'}: cut short"), err
    (run / "config.yaml").write_text(text.split("\n", 1)[1])  # without its head line: a hand-made file, read as ever
    code, out, _ = run_main(capsys, "info", str(run))
    assert code == 0 and out.splitlines()[0].startswith("UNet1D: conv middle")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["train", "--mid_structure", "mlp"], "model.mid_structure='mlp' (from --mid_structure)"),
        (["train", "--mid_structure", "attention", "--mid_num_heads", "7"], "valid head counts: 1, 2, 4, 8"),
        (["info", "--mid_structur", "conv"], "did you mean 'mid_structure'"),
        (["config", "show", "--config", "nowhere.yaml"], "nowhere.yaml' does not exist"),
        (["eval", "no/such/run"], "no/such/run"),
        (["sweep", "validate", "no_such.yaml"], "no_such.yaml' does not exist"),
        (["info", "--base_channels", "7"], "base_channels=7 must be a positive even number"),
        (["train", "--seed", "4294967296"], "train.seed='4294967296' (from --seed): Input should be less than"),
        (["sample", "no/such/run", "--device", "gpu"], "--device gpu: not a device; use auto, cpu, cuda or cuda:N"),
        (["denoise", "no/such/run", "--poses", "p.npy", "--device", "cuda:99"], "--device cuda:99: "),
        (["eval", "no/such/run", "--device", "mps"], "--device mps: not a device"),
        (["train", "--machine_rank", "5", "--num_machines", "2"], "machine_rank=5 is not a machine of num_machines=2"),
        (["train", "--num_processes", "2", "--data", "no/such.npz"], "data path 'no/such.npz' does not exist"),
        (["train", "--lr", "inf"], "optim.lr='inf' (from --lr): Input should be a finite number"),
        (["train", "--final_eval_samples", "16"], "final_eval_samples='16' (from --final_eval_samples): must be 0"),
    ],
)
def test_user_errors_exit_2_with_one_message(argv: list[str], fragment: str, capsys) -> None:
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    assert fragment in err and err.startswith("error: ") and "Traceback" not in err + out


def test_bad_input_in_a_real_subprocess_has_no_traceback() -> None:
    result = run_cli("train", "--mid_structure", "attention", "--mid_num_heads", "7")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "mid_num_heads=7" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_environment_variable_in_a_real_subprocess() -> None:
    result = run_cli("config", "show", env={"UNET1D_LR": "-0.1"})
    assert result.returncode == 2 and "UNET1D_LR" in result.stderr and "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli("trian")
    assert result.returncode == 2 and result.stderr == (
        "error: No such command 'trian'. Did you mean 'train'? (`cli.py --help` lists what is allowed)\n"
    )


@pytest.mark.parametrize(
    ("argv", "line"),
    [  # each was Click's four-line usage box, the value given named nowhere
        (
            ["complete", "r", "--hypotheses", "0"],
            "Invalid value for '--hypotheses': Input should be greater than or "
            "equal to 1, given '0' (`unet1d complete --help` lists what is allowed)",
        ),
        (
            ["denoise", "r", "--hypotheses=many"],
            "Invalid value for '--hypotheses': Input should be a valid integer, "
            "unable to parse string as an integer, given 'many' (`unet1d denoise --help` lists what is allowed)",
        ),
        (["complete"], "Missing argument 'run' (`unet1d complete --help` lists what is allowed)"),
        (
            ["compare", "--num-samples", "3"],
            "Invalid value for '--num-samples' / '--num_samples': Input should be "
            "greater than or equal to 32, given '3'",
        ),  # '3' in '32'
        (["sample", "r", "--num", "3"], "No such option: --num (Possible options: --out) (`unet1d sample --help`"),
    ],
)
def test_clicks_usage_errors_are_one_error_line_naming_the_value(argv: list[str], line: str, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["unet1d"])
    code, out, err = run_main(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {line}") and err.count("\n") == 1


def test_a_group_without_its_command_shows_its_help_and_help_exits_0(capsys) -> None:
    code, out, err = run_main(capsys, "sweep")
    assert code == 2 and "Usage:" in err and "local" in err and "error:" not in err
    code, out, err = run_main(capsys, "sweep", "--help")
    assert code == 0 and "Usage:" in out


def test_help_lists_config_fields_with_defaults_and_descriptions() -> None:
    for argv in (["--help"], ["train", "--help"]):
        result = run_cli(*argv)
        assert result.returncode == 0
        assert "--mid_structure conv|attention [attention]" in result.stdout
        assert "--mid_num_heads int [8] (x > 0)  Attention heads in the middle block" in result.stdout
        assert "--lr float [0.001] (x > 0)" in result.stdout
        assert "--dropout float [0.0] (0 <= x < 1)" in result.stdout  # the validator's limits (walk F)


def test_help_does_not_import_torch_wandb_or_accelerate() -> None:
    """`unet1d --help` must answer fast: the heavy libraries (tests/test_architecture.py's list, from numpy and
    yaml to torch, wandb and sklearn) load only when a command needs them."""
    probe = (
        "import sys\nfrom unet1d.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {sorted(HEAVY)} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_launched_rank_leaves_its_user_error_to_the_launcher_and_a_lone_process_prints_it(
    tmp_path, monkeypatch, capsys
) -> None:
    """Under `unet1d train --num_processes N` every rank hit the same bad file and printed the same line."""
    from unet1d.cli import report_user_error
    from unet1d.errors import RANK_ERRORS_VARIABLE

    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv(RANK_ERRORS_VARIABLE, str(tmp_path))
    report_user_error("bad.npy: not a valid .npy file")
    assert capsys.readouterr().err == "error: bad.npy: not a valid .npy file\n"  # not a launched rank: its own line
    monkeypatch.setenv("RANK", "1")
    report_user_error("bad.npy: not a valid .npy file")
    assert capsys.readouterr().err == ""
    assert (tmp_path / "rank-00001.txt").read_text() == "bad.npy: not a valid .npy file"
    monkeypatch.setenv(RANK_ERRORS_VARIABLE, str(tmp_path / "gone"))
    report_user_error("another")
    assert capsys.readouterr().err == "error: another\n"  # the launcher cannot be told: said here


def test_a_sweeps_program_that_is_not_here_is_said_by_validate_and_refused_by_local(tmp_path, capsys, monkeypatch):
    # validate said "all points are valid"; `sweep local` from the same folder then refused the file
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text((ROOT / "sweeps" / "quick.yaml").read_text())
    code, out, err = run_main(capsys, "sweep", "validate", "tiny.yaml")
    assert code == 0 and "points checked are valid configs" in out
    assert err.startswith("warning: tiny.yaml: program='cli.py' is not a file here: `sweep local` and `wandb agent`")
    code, _, err = run_main(capsys, "sweep", "local", "tiny.yaml", "--count", "1")
    assert code == 2 and "run them from the repo root, or give program as an absolute path" in err


def test_a_sweep_whose_command_runs_no_program_needs_none_here(tmp_path, capsys, monkeypatch) -> None:
    from unet1d.cli.sweep import program_not_found

    monkeypatch.chdir(tmp_path)  # `sweep local` refused it for a cli.py its command never ran
    sweep = yaml.safe_load((ROOT / "sweeps" / "quick.yaml").read_text())
    sweep["command"] = ["${env}", "${interpreter}", "-m", "unet1d.cli", "train", "${args}"]
    (tmp_path / "module.yaml").write_text(yaml.safe_dump(sweep))
    code, out, err = run_main(capsys, "sweep", "validate", "module.yaml")
    assert code == 0 and err == "" and "points checked are valid configs" in out
    assert not program_not_found(sweep) and program_not_found({**sweep, "command": ["${program}", "train"]})


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [  # each ran for minutes until memory ran out, or ended in a 52 TiB allocation's traceback
        (["eval", "no/such/run", "--num_samples", "100000000000"], "less than or equal to 1000000"),
        (["complete", "no/such/run", "--poses", "p.npy", "--mask", "legs", "--hypotheses", "10000000"], "to 1000"),
        (["denoise", "no/such/run", "--poses", "p.npy", "--hypotheses", "10000000"], "less than or equal to 1000"),
    ],
)
def test_counts_beyond_what_memory_holds_are_refused_before_any_work(argv: list[str], fragment: str, capsys) -> None:
    code, out, err = run_main(capsys, *argv)
    assert code == 2 and fragment in err and "Traceback" not in err + out


def test_task_poses_beyond_ten_thousand_are_refused_by_name() -> None:
    from unet1d.config_sources import load_config
    from unet1d.errors import ConfigError

    with pytest.raises(ConfigError, match=r"evaluation.task_poses='100000000000' \(from --task_poses\)"):
        load_config(None, ["--task_poses", "100000000000"], environ={})


def test_config_validate_takes_the_file_as_config_show_and_train_do(tmp_path: Path, capsys) -> None:
    # `config validate --config X` said "config file '--config' does not exist"
    good = tmp_path / "run.yaml"
    good.write_text("model:\n  mid_structure: conv\n")
    code, out, _ = run_main(capsys, "config", "validate", "--config", str(good), "--lr", "1e-3")
    assert code == 0 and out.strip() == f"{good}: valid (conv middle)"


def test_sweep_create_refuses_runs_that_would_not_report_to_the_server(tmp_path, capsys) -> None:
    # quick.yaml pinned wandb_mode offline: a W&B-server sweep of it would have seen no run's metrics or state
    sweep = yaml.safe_load((ROOT / "sweeps" / "quick.yaml").read_text())
    sweep["parameters"]["wandb_mode"] = {"value": "offline"}
    (tmp_path / "offline.yaml").write_text(yaml.safe_dump(sweep))
    code, _, err = run_main(capsys, "sweep", "create", str(tmp_path / "offline.yaml"))
    assert code == 2 and "its runs would log with wandb_mode=offline, so the W&B server running the sweep" in err


def test_a_ctrl_c_while_python_loads_the_cli_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """Walk D: SIGINT in the first second of `python cli.py train` printed a KeyboardInterrupt traceback from
    `import typer`. Here the interrupt comes from the import itself, so it lands there every time."""
    (tmp_path / "sitecustomize.py").write_text(
        "import builtins\nreal = builtins.__import__\n"
        "def interrupted(name, *args, **kwargs):\n"
        "    if name == 'typer':\n        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = interrupted\n"
    )
    pythonpath = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    result = run_cli("info", env={"PYTHONPATH": pythonpath})
    assert result.returncode == 130 and "Traceback" not in result.stderr, result.stderr
