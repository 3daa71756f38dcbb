"""Exact resume: a run killed with SIGKILL and resumed ends bit-identical to one never stopped;
SIGTERM saves a checkpoint, exits non-zero, and the resumed run continues the same W&B run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.training.test_loop import tensorboard_scalars
from unet1d.errors import UserError
from unet1d.store.checkpoints import latest_checkpoint, list_checkpoints
from unet1d.training import train


def wait_for_checkpoint(run_dir: Path, process: subprocess.Popen, timeout: float = 120) -> Path:
    """Poll until the run has published a complete checkpoint."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = latest_checkpoint(run_dir)
        if found is not None:
            return found
        if process.poll() is not None:
            raise AssertionError(f"the run ended before its first checkpoint:\n{process.stdout.read()}")
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared in time")


def assert_same_weights(a: Path, b: Path) -> None:
    for name in ("model.safetensors", "ema.safetensors"):
        left, right = load_file(str(a / name)), load_file(str(b / name))
        assert left.keys() == right.keys()
        different = [key for key in left if not torch.equal(left[key], right[key])]
        assert not different, f"{name}: {different[:5]} differ"


@pytest.mark.slow
def test_sigkill_then_resume_ends_bit_identical_to_an_uninterrupted_run(tiny_config, start_cli, tiny_flags, tmp_path):
    steps = ["--max_steps", "80", "--checkpoint_every", "20"]  # killed just after step 20, far from the end
    victim_dir = tmp_path / "killed"
    victim = start_cli("train", *tiny_flags, *steps, "--output_dir", str(victim_dir), "--wandb_mode", "disabled")
    first = wait_for_checkpoint(victim_dir, victim)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    killed_at = latest_checkpoint(victim_dir)
    assert killed_at is not None and int(killed_at.name.split("-")[1]) < 80, "the run was not killed mid-way"

    resumed = train(tiny_config(*steps, "--resume", "auto", output_dir=victim_dir))
    uninterrupted = train(tiny_config(*steps, output_dir=tmp_path / "reference"))

    assert resumed.final_step == uninterrupted.final_step == 80
    assert_same_weights(Path(resumed.checkpoint), Path(uninterrupted.checkpoint))
    assert first.name.startswith("step-")
    assert not list((victim_dir / "checkpoints").glob(".tmp-*"))  # a write the kill cut short is cleaned away


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_exits_nonzero_and_resume_continues_the_wandb_run(
    tiny_config, start_cli, tiny_flags, tmp_path
):
    run_dir = tmp_path / "run"
    flags = [*tiny_flags, "--output_dir", str(run_dir), "--wandb_mode", "offline", "--checkpoint_every", "20"]
    process = start_cli("train", *flags, "--max_steps", "100000")
    wait_for_checkpoint(run_dir, process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, output
    assert "SIGTERM: saving a checkpoint at step" in output

    stopped_at = latest_checkpoint(run_dir)
    step = json.loads((stopped_at / "checkpoint.json").read_text())["step"]
    assert stopped_at.name == f"step-{step}"
    assert not (run_dir / "summary.json").exists()  # not finished
    run_id = (run_dir / "wandb_run_id").read_text().strip()
    first_log = next((run_dir / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"))
    inspected = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(first_log)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    records = [json.loads(line) for line in inspected.stdout.splitlines() if line.startswith("{")]
    assert any(r["type"] == "preempting" for r in records)  # a sweep requeues a preempted run

    resumed = train(tiny_config("--wandb_mode", "offline", "--resume", "auto", "--max_steps", str(step + 10),
                                output_dir=run_dir))  # fmt: skip
    assert resumed.exit_code == 0 and resumed.final_step == step + 10
    assert len(list((run_dir / "wandb").glob(f"offline-run-*-{run_id}"))) == 2  # the same W&B run, continued


@pytest.mark.slow
def test_sigterm_during_the_final_evaluation_says_so_and_resume_auto_evaluates_the_saved_last_step(
    tiny_config, start_cli, tiny_flags, tmp_path
):
    run_dir = tmp_path / "run"
    flags = [*tiny_flags, "--output_dir", str(run_dir), "--wandb_mode", "disabled", "--max_steps", "10"]
    process = start_cli("train", *flags, "--final_eval_samples", "4000", "--task_poses", "64")  # seconds of scoring
    deadline = time.monotonic() + 120
    while latest_checkpoint(run_dir) != run_dir / "checkpoints" / "step-10" and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.05)
    time.sleep(0.5)  # into the evaluation
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, output
    assert "SIGTERM during the final evaluation: stopping; step 10's checkpoint is saved" in output, output[-2000:]
    assert "Traceback" not in output and not (run_dir / "summary.json").exists()
    assert not (run_dir / "run.lock").exists()  # released on the way out, not left for the next run to take over

    from unet1d.evaluation.probe import QualityProbe

    again = tiny_config("--resume", "auto", "--max_steps", "10", "--final_eval_samples", "64", output_dir=run_dir)
    resumed = train(again, probe=QualityProbe)  # the probe `unet1d train` hands the loop: it evaluates
    assert resumed.exit_code == 0 and resumed.final_step == 10 and resumed.session_steps == 0
    assert resumed.quality is not None and (run_dir / "eval" / "step-10.json").is_file()


@pytest.mark.slow
def test_a_run_that_probes_forks_fold_processes_and_a_sigterm_to_its_group_still_checkpoints(
    start_cli, tiny_flags, tmp_path
):
    """`unet1d train` with a quality probe runs the classifier's folds in processes of their own; a cluster's
    SIGTERM reaches the whole process group, probes in flight included (a probe every 2 steps), and must still
    end in a checkpoint and exit 143 (the fold processes leave the signal to the run), leaving no process."""
    import psutil

    run_dir = tmp_path / "run"
    flags = [*tiny_flags, "--output_dir", str(run_dir), "--wandb_mode", "disabled", "--checkpoint_every", "20",
             "--quality_every", "2", "--quality_samples", "32", "--max_steps", "100000"]  # fmt: skip
    process = start_cli("train", *flags)
    wait_for_checkpoint(run_dir, process)
    family = psutil.Process(process.pid).children(recursive=True)
    assert family and all(child.cmdline() == psutil.Process(process.pid).cmdline() for child in family)  # forked
    deadline = time.monotonic() + 60
    while not any(child.status() == psutil.STATUS_RUNNING for child in family):  # a probe's fold is being fitted
        assert time.monotonic() < deadline, "no fold process ever ran"
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, output
    assert "SIGTERM: saving a checkpoint at step" in output and "Traceback" not in output
    _, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, f"fold processes outlived the run: {alive}"
    assert latest_checkpoint(run_dir) is not None


def test_a_stop_at_a_validation_step_leaves_that_validation_to_the_resumed_run(tiny_config, tmp_path):
    """The stop's step returns before its periodic work (a cluster's grace period is for the checkpoint); the
    resumed run does it first, so the dashboards keep val/loss at the step the run stopped on, as never stopped."""
    from unet1d.training.loop import Trainer
    from unet1d.training.signals import StopSignals

    steps = ["--max_steps", "20", "--eval_every", "10"]
    trainer = Trainer(tiny_config(*steps))
    try:
        with StopSignals() as signals:
            assert trainer.train_until(20, stop=lambda: trainer.step == 9)  # step 10 carries the stop
            signal.raise_signal(signal.SIGTERM)
            assert trainer.preempt(signals).exit_code == 128 + signal.SIGTERM
    finally:
        trainer.close()
    assert latest_checkpoint(tmp_path / "run").name == "step-10"
    assert 10 not in dict(tensorboard_scalars(tmp_path / "run").get("val/loss", []))

    time.sleep(1.1)  # event files are named by the second they start: TensorBoard reads them in that order
    resumed = train(tiny_config(*steps, "--resume", "auto"))
    train(tiny_config(*steps, output_dir=tmp_path / "reference"))
    stopped, never_stopped = tensorboard_scalars(tmp_path / "run"), tensorboard_scalars(tmp_path / "reference")
    assert resumed.final_step == 20
    assert dict(stopped["val/loss"]) == dict(never_stopped["val/loss"])  # steps 10 and 20, the same losses
    assert_same_weights(Path(resumed.checkpoint), tmp_path / "reference" / "checkpoints" / "step-20")


def test_a_stop_during_the_last_steps_validation_saves_stops_and_leaves_the_evaluation_to_the_resume(
    tiny_config, tmp_path, monkeypatch
):
    """A SIGTERM while the last step validated was recorded and never read: the run went on into its final
    evaluation (minutes, past a scheduler's grace period), exit 0; and one during the last save killed it."""
    from unet1d.training import components

    validate = components.Validator.validate

    def validate_then_signal(self, networks, step):
        metrics = validate(self, networks, step)
        if step == 10:
            signal.raise_signal(signal.SIGTERM)
        return metrics

    monkeypatch.setattr(components.Validator, "validate", validate_then_signal)
    # no TensorBoard: nothing here reads it, and two sessions within one second name their event files alike
    steps = ["--max_steps", "10", "--eval_every", "5", "--tensorboard", "false"]
    stopped = train(tiny_config(*steps))
    assert stopped.exit_code == 128 + signal.SIGTERM and stopped.preempted
    assert latest_checkpoint(tmp_path / "run").name == "step-10" and not (tmp_path / "run" / "summary.json").exists()
    monkeypatch.setattr(components.Validator, "validate", validate)
    resumed = train(tiny_config(*steps, "--resume", "auto"))
    assert resumed.exit_code == 0 and resumed.final_step == 10 and (tmp_path / "run" / "summary.json").exists()


def test_a_run_resumed_at_its_last_validated_step_validates_it_once(tiny_config, tmp_path):
    """Stopped during its final evaluation, the resumed run validated its last step again: TensorBoard held two
    val/loss points at it, and W&B, past that step already, would drop it and the evaluation's eval/*."""
    from unet1d.training.loop import Trainer

    steps = ["--max_steps", "10", "--eval_every", "5"]
    trainer = Trainer(tiny_config(*steps))
    try:  # what a stop during the final evaluation leaves: step 10 validated and saved, no summary
        trainer.train_until(10)
        assert trainer.validator.last_step == trainer.checkpointer.saved_step == 10
    finally:
        trainer.close()
    resumed = train(tiny_config(*steps, "--resume", "auto"))
    assert [step for step, _ in tensorboard_scalars(tmp_path / "run")["val/loss"]] == [5, 10]
    assert resumed.val_loss is not None and resumed.val_loss_ema is not None  # the summary keeps them


def test_a_run_stopped_mid_window_logs_what_a_run_never_stopped_logs(tiny_config, tmp_path):
    """The log window a stop cuts (steps 11-12 of 11-15) travels in the checkpoint, so the resumed run's next
    log covers it: the same train/loss and per-timestep losses as a run never stopped, and the last steps of a
    run whose max_steps is no multiple of log_every are logged too (step 22)."""
    from unet1d.training.loop import Trainer
    from unet1d.training.signals import StopSignals

    steps = ["--max_steps", "22", "--log_every", "5"]
    trainer = Trainer(tiny_config(*steps))
    try:
        with StopSignals() as signals:
            assert trainer.train_until(22, stop=lambda: trainer.step == 11)
            signal.raise_signal(signal.SIGTERM)
            trainer.preempt(signals)
    finally:
        trainer.close()
    assert latest_checkpoint(tmp_path / "run").name == "step-12"

    time.sleep(1.1)  # event files are named by the second they start: TensorBoard reads them in that order
    resumed = train(tiny_config(*steps, "--resume", "auto"))
    uninterrupted = train(tiny_config(*steps, output_dir=tmp_path / "reference"))
    stopped, never_stopped = tensorboard_scalars(tmp_path / "run"), tensorboard_scalars(tmp_path / "reference")
    assert [step for step, _ in never_stopped["train/loss"]] == [5, 10, 15, 20, 22]
    logged = [tag for tag in never_stopped if tag == "train/loss" or tag.startswith("train/loss_t")]
    assert len(logged) == 5  # the loss and its four timestep buckets
    for tag in logged:
        assert stopped[tag] == never_stopped[tag], tag
    assert resumed.train_loss == uninterrupted.train_loss  # summary.json's, which compare reads
    assert uninterrupted.train_loss == pytest.approx(never_stopped["train/loss"][-1][1], rel=1e-6)  # float32


def test_resuming_another_runs_checkpoint_into_a_new_folder_gives_that_folder_its_own_checkpoint(tiny_config, tmp_path):
    """`--resume PATH --output_dir NEW` forks a run: NEW must hold the checkpoint its summary names (before, the
    summary pointed into the other folder, NEW held none, and `--resume auto` there started again at step 0)."""
    train(tiny_config("--max_steps", "10"))
    source = tmp_path / "run" / "checkpoints" / "step-10"
    fork = train(tiny_config("--max_steps", "10", "--resume", str(source), output_dir=tmp_path / "fork"))
    assert fork.exit_code == 0 and Path(fork.checkpoint) == tmp_path / "fork" / "checkpoints" / "step-10"
    assert latest_checkpoint(tmp_path / "fork") == Path(fork.checkpoint)
    assert_same_weights(Path(fork.checkpoint), source)
    # its own dashboards get the validation of the step it starts from (the source's state said "done")
    assert [step for step, _ in tensorboard_scalars(tmp_path / "fork")["val/loss"]] == [10]
    from unet1d.evaluation.probe import QualityProbe

    more = ["--max_steps", "20", "--quality_every", "10", "--quality_samples", "32", "--resume", str(source)]
    further = train(tiny_config(*more, output_dir=tmp_path / "further"), probe=QualityProbe)
    scalars = tensorboard_scalars(tmp_path / "further")  # a fork that trains on: its start step too, and its size
    assert [step for step, _ in scalars["val/loss"]] == [10, 20] and further.final_step == 20
    probed = [tag for tag in scalars if tag.startswith("quality/")]  # the probe too (walk A: it began a step late)
    assert probed and all([step for step, _ in scalars[tag]] == [10, 20] for tag in probed)
    assert [step for step, _ in scalars["train/num_parameters"]] == [10]
    # its own W&B run: with the source's id both logged into one run, W&B dropping the fork's steps <= its last
    run_ids = [json.loads((checkpoint / "checkpoint.json").read_text())["state"]["counters"]["wandb_run_id"]
               for checkpoint in (source, Path(fork.checkpoint))]  # fmt: skip
    assert run_ids[0] != run_ids[1]
    resumed = train(tiny_config("--max_steps", "12", "--resume", "auto", output_dir=tmp_path / "fork"))
    stored = json.loads((Path(resumed.checkpoint) / "checkpoint.json").read_text())["state"]["counters"]
    assert stored["wandb_run_id"] == run_ids[1]  # the fork's own, resumed


def test_a_run_started_again_at_step_0_replaces_its_earlier_curves(tiny_config, tmp_path):
    """Killed before its first checkpoint (or every checkpoint damaged), the run starts again at step 0: its
    TensorBoard curves ran twice over steps 0-N, going backwards, in TensorBoard and in compare."""
    train(tiny_config("--max_steps", "10"))
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    (tmp_path / "run" / "summary.json").unlink()
    time.sleep(1.1)  # event files are named by the second they start: TensorBoard reads them in that order
    train(tiny_config("--max_steps", "10", "--resume", "auto"))
    assert [step for step, _ in tensorboard_scalars(tmp_path / "run")["train/loss"]] == [5, 10]


def test_a_resume_that_computes_with_other_threads_or_precision_says_it_is_no_longer_exact(
    tiny_config, tmp_path, capsys
):
    """threads null follows OMP_NUM_THREADS or the cores, and mixed_precision auto the CPU: a requeued run
    resumed with 2 threads where it trained with 1 and differed from step 201 on, without a word."""
    steps = ["--checkpoint_every", "5"]
    train(tiny_config(*steps, "--max_steps", "10", "--threads", "1"))
    (tmp_path / "run" / "summary.json").unlink()
    shutil.rmtree(tmp_path / "run" / "checkpoints" / "step-10")  # killed after step 5's checkpoint
    capsys.readouterr()
    train(tiny_config(*steps, "--max_steps", "10", "--resume", "auto", "--threads", "2"))
    err = capsys.readouterr().err
    assert "warning: this session computes with threads 1 -> 2: from here the run is not bit-identical" in err


def test_an_interrupted_checkpoint_write_never_looks_complete(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    train(tiny_config("--max_steps", "10"))
    good = latest_checkpoint(run_dir)
    partial = run_dir / "checkpoints" / ".tmp-step-20"  # what a kill during a save leaves behind
    shutil.copytree(good, partial)
    (partial / "checkpoint.json").unlink()
    assert latest_checkpoint(run_dir) == good

    result = train(tiny_config("--max_steps", "20", "--resume", "auto"))
    assert result.final_step == 20
    assert [p.name for p in list_checkpoints(run_dir)] == ["step-10", "step-20"]
    assert not partial.exists()


def test_going_back_to_an_earlier_checkpoint_moves_the_later_ones_out_of_resume_autos_way(tiny_config, capsys):
    run = Path(train(tiny_config("--max_steps", "40", "--checkpoint_every", "10")).output_dir)
    back = train(tiny_config("--max_steps", "30", "--resume", str(run / "checkpoints" / "step-20")))
    assert back.final_step == 30
    superseded = run / "checkpoints" / "superseded"
    assert "the later step-30, step-40 moved to" in capsys.readouterr().out
    assert sorted(p.name for p in superseded.iterdir()) == ["step-30", "step-40"]  # the abandoned branch, kept
    assert latest_checkpoint(run) == run / "checkpoints" / "step-30"  # the new branch's own step 30
    again = train(tiny_config("--max_steps", "35", "--resume", "auto", "--checkpoint_every", "10"))
    assert again.final_step == 35 and again.session_steps == 5  # forward from the new branch, not from step 40


def test_resume_refuses_what_it_cannot_continue_exactly(tiny_config, tmp_path):
    train(tiny_config("--max_steps", "10"))
    with pytest.raises(
        UserError, match=r"config differs from this one in\n  model\.base_channels: the run has 8, this config gives 16"
    ):
        train(tiny_config("--max_steps", "20", "--resume", "auto", "--base_channels", "16"))
    with pytest.raises(UserError, match="does not exist"):
        train(tiny_config("--resume", str(tmp_path / "nowhere")))
    (tmp_path / "run" / "summary.json").unlink()  # stopped before it finished: it trained no step, exit 0
    with pytest.raises(UserError, match=r"with max_steps=5: it is at step 10 already; give --max_steps 10 or more"):
        train(tiny_config("--max_steps", "5", "--resume", "auto"))
    with pytest.raises(UserError, match="give one of them"):
        train(tiny_config("--resume", "auto", "--overwrite"))
    fresh = train(tiny_config("--max_steps", "10", "--resume", "auto", output_dir=tmp_path / "empty"))
    assert fresh.final_step == 10  # --resume auto with nothing to resume starts the run


def unet1d_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The installed ``unet1d`` command, as a user types it."""
    command = [str(Path(sys.executable).parent / "unet1d"), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def interrupted_run(tiny_config, run_dir: Path, *flags: str) -> Path:
    """A run trained to step 20, then put back in the state a kill after its step-10 checkpoint leaves.

    Returns a copy of the uninterrupted step-20 checkpoint to check the resumed run against.
    """
    result = train(tiny_config("--max_steps", "20", *flags, output_dir=run_dir))
    reference = run_dir.parent / "reference-step-20"
    shutil.copytree(result.checkpoint, reference)
    shutil.rmtree(result.checkpoint)
    (run_dir / "summary.json").unlink()
    return reference


def snapshot(run_dir: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Every file below run_dir: size, mtime, and the bytes of the small ones."""
    files = [p for p in sorted(run_dir.rglob("*")) if p.is_file()]
    return {
        str(p.relative_to(run_dir)): (
            p.stat().st_size,
            p.stat().st_mtime_ns,
            p.read_bytes() if p.stat().st_size < 1e5 else None,
        )
        for p in files
    }


@pytest.mark.slow
def test_the_readme_resume_line_continues_the_stored_run_verbatim(tiny_config, isolated_wandb, tmp_path):
    run_dir = tmp_path / "runs" / "attn8"
    reference = interrupted_run(tiny_config, run_dir, "--mid_structure", "attention", "--mid_num_heads", "8")

    done = unet1d_cli("train", "--output_dir", "runs/attn8", "--resume", "auto", cwd=tmp_path, env=isolated_wandb)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "resumed from runs/attn8/checkpoints/step-10 at step 10" in done.stdout
    assert "world size 1 (1 x cpu, 1 CPU thread each)" in done.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["final_step"] == 20 and summary["session_steps"] == 10
    # the stored config (attention, 8 heads, the tiny network), not the defaults, trained on: bit-identical weights
    assert_same_weights(run_dir / "checkpoints" / "step-20", reference)


@pytest.mark.slow  # a run, then `unet1d train` as a subprocess
def test_a_flag_that_contradicts_the_stored_run_exits_2_naming_both_values(tiny_config, isolated_wandb, tmp_path):
    run_dir = tmp_path / "run"
    interrupted_run(tiny_config, run_dir)
    before = snapshot(run_dir)

    refused = unet1d_cli("train", "--output_dir", str(run_dir), "--resume", "auto", "--lr", "1e-3",
                         "--batch_size", "32", cwd=tmp_path, env=isolated_wandb)  # fmt: skip

    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "optim.lr: the run has 0.002, --lr gives 0.001" in refused.stderr
    assert "batch_size" not in refused.stderr  # given, but equal to the stored value
    assert "may change on resume: " in refused.stderr and "max_steps" in refused.stderr
    assert snapshot(run_dir) == before


@pytest.mark.slow
def test_resuming_a_finished_run_changes_nothing_and_a_larger_max_steps_extends_it(
    tiny_config, isolated_wandb, tiny_flags, tmp_path, capsys
):
    run_dir = tmp_path / "run"
    first = unet1d_cli("train", *tiny_flags, "--max_steps", "10", "--wandb_mode", "offline",
                       "--output_dir", str(run_dir), cwd=tmp_path, env=isolated_wandb)  # fmt: skip
    assert first.returncode == 0, first.stderr  # its process has ended: W&B wrote all it will write
    before = snapshot(run_dir)
    assert any(name.startswith("wandb/") for name in before)

    again = unet1d_cli("train", "--output_dir", str(run_dir), "--resume", "auto", cwd=tmp_path, env=isolated_wandb)

    assert again.returncode == 0, again.stderr
    assert "already finished at step 10" in again.stdout and "nothing to do" in again.stdout
    assert snapshot(run_dir) == before  # summary.json byte-identical; checkpoints and the W&B run untouched
    assert json.loads((run_dir / "summary.json").read_text())["extended_from"] is None

    extended = train(tiny_config("--max_steps", "20", "--resume", "auto", output_dir=run_dir))
    assert extended.final_step == 20 and extended.session_steps == 10
    printed = capsys.readouterr().out
    assert "max_steps 10 -> 20: the cosine schedule now spans 20 steps, so at step 10 the learning rate" in printed
    scalars = tensorboard_scalars(run_dir)
    assert [step for step, _ in scalars["train/num_parameters"]] == [0]  # not again at the resume step W&B has
    lrs = dict(scalars["train/lr"])
    assert lrs[10] < lrs[15]  # the schedule, rebuilt over 20 steps, rises again: what the note says
    summary = json.loads((run_dir / "summary.json").read_text())
    # throughput and time cover one span, the whole run: both sessions
    assert summary["wall_time_s"] > summary["session_time_s"] > 0
    assert summary["steps_per_s"] == pytest.approx(20 / summary["wall_time_s"])
    assert summary["samples_per_s"] == pytest.approx(20 * 32 / summary["wall_time_s"])
    assert summary["train_loss"] is not None
    assert summary["extended_from"] == 10  # not a 20-step run: compare says so
    from unet1d.compare.runs import comparability_warnings, read_run

    warnings = comparability_warnings([read_run(run_dir)])
    assert any("was trained for 10 steps, then resumed to 20: its learning-rate schedule" in w for w in warnings)


def test_the_fields_resume_may_change_are_real_fields_and_listed_in_help():
    from unet1d.cli.common import fields_help
    from unet1d.config import RESUMABLE_FIELDS
    from unet1d.config_sources import resolve_name

    assert all(resolve_name(name) == tuple(name.split(".")) for name in RESUMABLE_FIELDS)
    assert {"train.max_steps", "train.checkpoint_every", "logging.wandb_mode"} <= RESUMABLE_FIELDS
    assert not {"optim.lr", "train.seed", "train.batch_size", "launch.num_processes"} & RESUMABLE_FIELDS
    listed = fields_help().split("only these may differ:")[1]
    assert all(name.split(".")[1] in listed for name in RESUMABLE_FIELDS)


def test_a_full_disk_at_the_runs_end_is_one_line_and_resume_auto_finishes_it(tiny_config, tmp_path, monkeypatch):
    """summary.json (or the final evaluation's report) on a full disk ended in the writer's traceback, exit 1."""
    import errno

    from unet1d.store import summary

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch, pytest.raises(UserError) as failed:
        patch.setattr(summary, "write_text_atomically", full)
        train(tiny_config("--max_steps", "10"))
    assert f"cannot write summary.json in {tmp_path / 'run'} (No space left on device); step 10's checkpoint is " \
           "saved: free the space, then the same command with --resume auto" in str(failed.value)  # fmt: skip
    finished = train(tiny_config("--max_steps", "10", "--resume", "auto"))
    assert finished.exit_code == 0 and (tmp_path / "run" / "summary.json").is_file()


def test_the_summarys_peak_memory_is_every_sessions_not_the_last_ones(tiny_config, tmp_path):
    """A resumed run reported its last session's peak only (a session that only evaluates far less)."""
    train(tiny_config("--max_steps", "10", "--checkpoint_every", "5"))
    (tmp_path / "run" / "summary.json").unlink()
    shutil.rmtree(tmp_path / "run" / "checkpoints" / "step-10")
    marker = tmp_path / "run" / "checkpoints" / "step-5" / "checkpoint.json"
    stored = json.loads(marker.read_text())
    assert 0 < stored["state"]["counters"]["peak_memory_mb"] < 100_000
    stored["state"]["counters"]["peak_memory_mb"] = 100_000.0  # as if the first session had peaked there
    marker.write_text(json.dumps(stored))
    resumed = train(tiny_config("--max_steps", "10", "--checkpoint_every", "5", "--resume", "auto"))
    assert resumed.peak_memory_mb == 100_000.0
