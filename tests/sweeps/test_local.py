"""`unet1d sweep local`: W&B's engine proposes and early-terminates real runs here, with no W&B server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY_RUN
from unet1d.sweeps.agent import run_command
from unet1d.sweeps.local import LocalRun, child_environment, engine_run
from unet1d.training.launch import available_cores

ROOT = Path(__file__).resolve().parents[2]
TINY_BUT_LR = [flag for i, flag in enumerate(TINY_RUN) if "--lr" not in TINY_RUN[max(0, i - 1) : i + 1]]  # lr is swept
SWEEP_ENGINE = {"metric": {"name": "val/loss", "goal": "minimize"}, "parameters": {"lr": {"values": [1e-3, 1e-2]}}}


def test_agent_macros_expand_as_wandb_agent_expands_them() -> None:
    sweep = {"program": "cli.py", "command": ["${env}", "${interpreter}", "${program}", "train", "${args}"]}
    assert run_command(sweep, {"mid": "attention-8", "channel_mults": [1, 2]}) == [
        "/usr/bin/env", sys.executable, "cli.py", "train", "--mid=attention-8", "--channel_mults=[1, 2]",
    ]  # fmt: skip
    # no command: W&B's default one
    assert run_command({"program": "cli.py"}, {"seed": 1}) == ["/usr/bin/env", sys.executable, "cli.py", "--seed=1"]


def test_the_engine_sees_the_metric_of_local_runs() -> None:
    """sweeps 0.2.0 drops metrics given by field name; ours arrive, so bayes and hyperband can use them."""
    import sweeps

    runs = [
        LocalRun("good", {"lr": 1e-3}, "finished", 0, [1.0, 0.5, 0.4]),
        LocalRun("fine", {"lr": 1e-3}, "finished", 0, [1.0, 0.6, 0.5]),
        LocalRun("bad", {"lr": 1e-2}, "running", None, [1.0, 0.9]),
    ]
    seen = [engine_run(run, "val/loss") for run in runs]
    assert seen[0].metric_extremum("val/loss", "minimum") == 0.4
    hyperband = {**SWEEP_ENGINE, "method": "bayes", "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2}}
    assert [run.name for run in sweeps.stop_runs(hyperband, seen)] == ["bad"]
    proposal = sweeps.next_run({**SWEEP_ENGINE, "method": "bayes"}, seen)
    assert "no valid samples" not in " ".join(proposal.search_info.get("warnings", []))


def run_sweep(
    tmp_path: Path, sweep: dict, *args: str, omp_threads: str | None = "1"
) -> subprocess.CompletedProcess[str]:
    """``unet1d sweep local`` on ``sweep`` with the tiny run's flags, then ``args`` (which win over them);
    ``omp_threads=None`` leaves threads to it."""
    import os

    sweep_file = tmp_path / "tiny.yaml"
    sweep_file.write_text(yaml.safe_dump({"program": "cli.py", **sweep}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNET1D_", "WANDB_"))}
    env = {k: v for k, v in env.items() if k != "OMP_NUM_THREADS"}
    env |= {"HOME": str(tmp_path / "home"), "WANDB_DIR": str(tmp_path / "wandb")}
    env |= {"OMP_NUM_THREADS": omp_threads} if omp_threads else {}
    command = [sys.executable, "-m", "unet1d.cli", "sweep", "local", str(sweep_file), "--output-root", str(tmp_path)]
    return subprocess.run(
        [*command, *TINY_BUT_LR, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
    )


@pytest.mark.slow
def test_bayes_with_hyperband_stops_the_worst_run_early(tmp_path: Path) -> None:
    """Three runs at once; the metric is the logged learning rate (constant, so the ranking is known):
    hyperband must stop the run with the highest, by SIGTERM, and record it as stopped."""
    sweep = {
        "method": "bayes",
        "metric": {"name": "train/lr", "goal": "minimize"},
        "parameters": {"lr": {"distribution": "uniform", "min": 1e-4, "max": 1e-2}},
        "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
        "command": ["${env}", "${interpreter}", "${program}", "train", "${args}"],
    }
    result = run_sweep(
        tmp_path, sweep, "--count", "3", "--parallel", "3",
        "--max_steps", "200", "--lr_schedule", "constant", "--warmup_steps", "0", "--log_every", "2",
        "--eval_every", "200", "--checkpoint_every", "200", "--grad_norm_every", "200",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = json.loads((tmp_path / "tiny" / "sweep.json").read_text())["runs"]
    assert len(runs) == 3 and len({r["config"]["lr"] for r in runs}) == 3
    worst = max(runs, key=lambda r: r["config"]["lr"])
    assert worst["state"] == "stopped" and worst["exit_code"] == 143
    assert worst["history"] and worst["history"][0] == pytest.approx(worst["config"]["lr"])
    assert [r["state"] for r in runs if r is not worst] == ["finished", "finished"]
    stopped_dir = tmp_path / "tiny" / worst["run_id"]
    # the trainer checkpointed on SIGTERM before step 200 and left an offline W&B run to sync (the worst run
    # was stopped near step 35 when the runs had 400 steps)
    assert [p.name for p in (stopped_dir / "checkpoints").iterdir()] != ["step-200"]
    assert list((stopped_dir / "wandb").glob(f"offline-run-*-{worst['run_id']}"))


@pytest.mark.slow
def test_a_grid_sweep_resumes_where_it_stopped_runs_in_parallel_and_leaves_finished_runs_alone(tmp_path: Path) -> None:
    """Three passes over one three-point grid (one pass per claim would start twice the processes): the first
    stops after --count 1; the second runs the other two side by side, the cores split between them; the
    third finds nothing to do and touches nothing."""
    sweep = {
        "method": "grid",
        "metric": {"name": "val/loss", "goal": "minimize"},
        "parameters": {"mid": {"values": ["conv", "attention-2", "attention-4"]}},
        "command": ["${env}", "${interpreter}", "${program}", "train", "${args}"],
    }
    args = ("--max_steps", "10", "--wandb_mode", "disabled")
    first = run_sweep(tmp_path, sweep, "--count", "1", *args)  # one thread: the split is the second pass's check
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert len(json.loads((tmp_path / "tiny" / "sweep.json").read_text())["runs"]) == 1

    second = run_sweep(tmp_path, sweep, "--parallel", "2", *args, omp_threads=None)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    runs = json.loads((tmp_path / "tiny" / "sweep.json").read_text())["runs"]
    assert [r["config"]["mid"] for r in runs] == ["conv", "attention-2", "attention-4"]  # the grid's order, once each
    assert all(r["state"] == "finished" and len(r["history"]) == 1 for r in runs)
    threads = max(1, available_cores() // 2)
    each = f"{threads} CPU thread{'s' * (threads != 1)} each"
    assert second.stdout.count(f"cpu, {each})") == 2  # the two runs the second pass started
    compared = json.loads((tmp_path / "tiny" / "compare.json").read_text())
    assert sorted(r["variant"] for r in compared["runs"]) == ["attention-2-c8", "attention-4-c8", "conv-c8"]
    loss = next(d for d in compared["differences"] if d["column"] == "final_val_loss")
    by_variant = {r["variant"]: r["final_val_loss"] for r in compared["runs"]}
    assert loss["difference"] == pytest.approx(by_variant[loss["variant"]] - by_variant[loss["reference"]])
    assert loss["low"] is None and loss["within_noise"] is None  # one seed each: no interval
    report = tmp_path / "tiny" / "report"
    assert (report / "losses.png").is_file() and "](losses.png)" in (report / "report.md").read_text()

    summaries = {run["run_id"]: (tmp_path / "tiny" / run["run_id"] / "summary.json").read_bytes() for run in runs}
    third = run_sweep(tmp_path, sweep, "--parallel", "2", *args, omp_threads=None)
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    assert "-middle UNet1D (" not in third.stdout  # no run started
    assert {r: (tmp_path / "tiny" / r / "summary.json").read_bytes() for r in summaries} == summaries


def refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], sweep: dict, *args: str) -> str:
    """``unet1d sweep local`` in this process on a sweep it must refuse before starting a run: its stderr."""
    from unet1d.cli import main

    sweep_file = tmp_path / "tiny.yaml"
    sweep_file.write_text(yaml.safe_dump({"program": "cli.py", **sweep}))
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "local", str(sweep_file), "--output-root", str(tmp_path), *TINY_BUT_LR, *args])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in err, err
    assert not (tmp_path / "tiny" / "sweep.json").exists()  # no run was started
    return err


def test_random_sweeps_need_a_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = {"method": "random", "parameters": {"lr": {"min": 1e-4, "max": 1e-3}}, "command": ["train", "${args}"]}
    assert "give --count N" in refused(tmp_path, capsys, sweep)


def test_overrides_may_not_replace_what_the_sweep_varies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = {"method": "grid", "parameters": {"lr": {"values": [1e-3, 1e-2]}}, "command": ["train", "${args}"]}
    assert "--lr given on the command line would override" in refused(tmp_path, capsys, sweep, "--lr", "1e-4")
    from unet1d.cli import main

    with pytest.raises(SystemExit) as exited:  # validate says so too: it checked the sweep's lr, not the flag's
        main(["sweep", "validate", str(tmp_path / "tiny.yaml"), "--lr", "1e-4"])
    assert exited.value.code == 2 and "--lr given on the command line would override" in capsys.readouterr().err


@pytest.mark.slow  # a sweep of two runs, stopped by SIGTERM
@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_sigterm_to_the_sweep_alone_stops_its_runs_which_checkpoint_and_are_recorded_for_resumption(
    tmp_path: Path, stop: str
) -> None:
    """A scheduler's SIGTERM, or a closed terminal's SIGHUP, reaches the sweep and not its runs (their own
    sessions): the sweep must pass it on and wait, not leave them training with no parent. Killed outright
    (an OOM kill), it cannot: its runs get SIGTERM from Linux (walk D: they trained on as orphans)."""
    import os
    import signal
    import time

    import psutil

    from unet1d.store.checkpoints import latest_checkpoint

    sweep = {"method": "grid", "parameters": {"lr": {"values": [1e-3, 2e-3]}}, "program": "cli.py",
             "command": ["${env}", "${interpreter}", "${program}", "train", "${args}"]}  # fmt: skip
    sweep_file = tmp_path / "tiny.yaml"
    sweep_file.write_text(yaml.safe_dump(sweep))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNET1D_", "WANDB_"))} | {"OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "unet1d.cli", "sweep", "local", str(sweep_file), "--output-root", str(tmp_path),
               "--parallel", "2", *TINY_BUT_LR, "--max_steps", "100000", "--wandb_mode", "disabled"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                               start_new_session=True)  # fmt: skip
    try:
        state = tmp_path / "tiny" / "sweep.json"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            runs = json.loads(state.read_text())["runs"] if state.is_file() else []
            if len(runs) == 2 and all(latest_checkpoint(tmp_path / "tiny" / r["run_id"]) for r in runs):
                break
            time.sleep(0.2)
        trainers = psutil.Process(process.pid).children()
        assert len(trainers) == 2, process.communicate(timeout=5)[0][-3000:]
        process.send_signal(getattr(signal, stop))  # the sweep alone
        output = process.communicate(timeout=120)[0]  # ends when the runs, which share its output, have ended
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(trainers, timeout=30)
    assert not alive  # no run left training without its sweep
    assert "Traceback" not in output, output[-3000:]
    assert output.count("SIGTERM: saving a checkpoint") == 2, output[-3000:]  # each run's own preemption path
    if stop == "SIGKILL":  # nothing of the sweep's own ran: its record says running, and a rerun resumes them
        assert process.returncode == -signal.SIGKILL
        return
    assert process.returncode == 128 + signal.SIGTERM, output[-3000:]
    assert "stopped by SIGTERM" in output and "run this command again to resume" in output
    runs = json.loads(state.read_text())["runs"]
    assert [(r["state"], r["exit_code"]) for r in runs] == [("interrupted", 143)] * 2
    assert not any((tmp_path / "tiny" / run["run_id"] / "run.lock").exists() for run in runs)


def test_a_data_path_that_is_not_here_is_refused_before_any_run(tmp_path: Path, capsys) -> None:
    sweep = {"method": "grid", "parameters": {"lr": {"values": [1e-3, 1e-2]}}, "command": ["train", "${args}"]}
    err = refused(tmp_path, capsys, sweep, "--data", str(tmp_path / "nowhere.npy"))
    assert f"data path '{tmp_path / 'nowhere.npy'}' does not exist; no run was started" in err


def test_a_reason_every_point_shares_is_said_once(tmp_path: Path) -> None:
    from unet1d.errors import UserError
    from unet1d.sweeps.schema import validate_sweep

    sweep_file = tmp_path / "tiny.yaml"
    sweep_file.write_text(yaml.safe_dump({"method": "grid", "command": ["train", "${args}"],
                                          "parameters": {"midd": {"values": ["conv", "attention-8"]}}}))  # fmt: skip
    with pytest.raises(UserError) as caught:
        validate_sweep(sweep_file)
    message = str(caught.value)
    assert "2 of 2 points are invalid" in message and message.count("unknown config field 'midd'") == 1
    assert "every point: " in message


def test_a_sweep_folder_refuses_runs_under_other_overrides_than_its_own(tmp_path: Path, capsys) -> None:
    """Runs of 30 and 60 steps in one sweep folder would sit side by side in its comparison as if the sweep
    had not changed their budget."""
    from unet1d.cli import main
    from unet1d.sweeps.local import LocalRun, save_state

    sweep = {"method": "grid", "parameters": {"lr": {"values": [1e-3, 1e-2]}}, "command": ["train", "${args}"]}
    sweep_file = tmp_path / "tiny.yaml"
    sweep_file.write_text(yaml.safe_dump({"program": "cli.py", **sweep}))
    save_state(tmp_path / "tiny", [LocalRun("abc", {"lr": 1e-3}, "finished", 0)], [*TINY_BUT_LR, "--max_steps", "30"])
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "local", str(sweep_file), "--output-root", str(tmp_path), *TINY_BUT_LR, "--max_steps=60"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1, err
    assert "holds runs started with other overrides (train.max_steps: 30 before, 60 now)" in err
    assert [r["run_id"] for r in json.loads((tmp_path / "tiny" / "sweep.json").read_text())["runs"]] == ["abc"]


@pytest.mark.slow  # a sweep as a process
def test_a_run_whose_command_trained_nothing_is_failed_not_finished(tmp_path: Path) -> None:
    # a `command` that never runs the program exited 0 and was recorded finished; compare then said "no finished
    # run with a summary.json (...: finished)"
    sweep = {"method": "grid", "parameters": {"mid": {"values": ["conv"]}}, "command": ["true", "train", "${args}"]}
    swept = run_sweep(tmp_path, sweep, "--wandb_mode", "disabled")
    (run,) = json.loads((tmp_path / "tiny" / "sweep.json").read_text())["runs"]
    assert run["state"] == "failed" and run["exit_code"] == 0
    assert "failed (exit code 0, but no summary.json: the sweep's command did not run training)" in swept.stdout


def test_a_sweep_whose_runs_trained_side_by_side_says_their_speeds_are_shared(tmp_path: Path, capsys) -> None:
    # with --parallel 2 a load spike on one variant's seeds gave "time s ... beyond seed noise" that a third seed
    # trained at another time undid
    from tests.run_folders import make_run
    from unet1d.sweeps.local import save_state, sweep_run_dirs

    run = LocalRun("r1", {"mid": "conv"}, state="finished", exit_code=0)
    make_run(tmp_path / "r1", "--seed", "0")
    save_state(tmp_path, [run], [], parallel=2)
    save_state(tmp_path, [run], [], parallel=1)  # a later pass alone: the record keeps the most side by side
    assert sweep_run_dirs(tmp_path) == [tmp_path / "r1"]
    assert (
        "its runs trained up to 2 side by side (--parallel 2), so their time and samples/s" in capsys.readouterr().err
    )


def test_a_thread_count_the_user_set_is_kept_and_otherwise_the_cores_are_shared(monkeypatch) -> None:
    """Walk A: `OMP_NUM_THREADS=1 unet1d sweep local ... --parallel 1` trained each run on 2 threads (and a
    UNET1D_THREADS of the user's was replaced): the sweep's fair share went over the user's own count."""
    run = LocalRun(run_id="abc", config={})
    for name in ("OMP_NUM_THREADS", "UNET1D_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    shared = child_environment(run, "local-x", parallel=2)
    assert shared["OMP_NUM_THREADS"] == "2" and shared["UNET1D_THREADS"] == "2"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert "UNET1D_THREADS" not in child_environment(run, "local-x", parallel=1)  # threads null follows OMP's 1
    assert child_environment(run, "local-x", parallel=1)["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("UNET1D_THREADS", "3")
    assert child_environment(run, "local-x", parallel=1)["UNET1D_THREADS"] == "3"
