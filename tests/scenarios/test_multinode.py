"""Multi-node runs on one host: two launchers as machines 0 and 1 (gloo over 127.0.0.1, one process each).

This is the Slurm multi-node script's command (deploy/slurm/multinode.sbatch) with the
addresses of one host: the launchers must form one group that writes one run, and the loss of
one machine must stop the other instead of leaving it waiting.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from unet1d.store.checkpoints import latest_checkpoint


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_between(low: int, high: int) -> int:
    """A free port in [low, high), tried from a random start (other runs on this host use 29500)."""
    offset = random.randrange(high - low)
    for port in [low + (offset + i) % (high - low) for i in range(high - low)]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {low}-{high}")


def start_machines(
    launcher: list[str], train_args: list[str], env: dict[str, str], logs: Path
) -> list[subprocess.Popen]:
    """One ``accelerate launch`` per machine rank, each in its own session (so it can be killed whole), its
    output in ``logs/machine-R.txt``: a file, not a pipe, so a machine whose output nobody reads yet can
    never block on a full pipe and hold up its peer's collective."""
    port, started = str(free_port()), []
    logs.mkdir(parents=True, exist_ok=True)
    for rank in (0, 1):
        command = [sys.executable, "-m", "accelerate.commands.launch", *launcher, "--num_machines", "2"]
        command += ["--machine_rank", str(rank), "--main_process_ip", "127.0.0.1", "--main_process_port", port]
        command += ["--mixed_precision", "no", "--dynamo_backend", "no", "-m", "unet1d.cli", "train", *train_args]
        with open(logs / f"machine-{rank}.txt", "w") as log:
            process = subprocess.Popen(command, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
        process.log = logs / f"machine-{rank}.txt"  # type: ignore[attr-defined]
        started.append(process)
    return started


def outputs_within(launchers: list[subprocess.Popen], timeout: float) -> list[str]:
    """Each launcher's output once all have exited; a group still running at ``timeout`` fails the test with
    every rank's stacks (SIGUSR2, :func:`unet1d.training.signals.dump_stacks_on_request`) in the message."""
    deadline = time.monotonic() + timeout
    try:
        for process in launchers:
            process.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        for launcher in launchers:
            with contextlib.suppress(psutil.NoSuchProcess):
                for rank in psutil.Process(launcher.pid).children(recursive=True):
                    rank.send_signal(signal.SIGUSR2)
        time.sleep(3)
        kill_leftovers(launchers)
        shown = "\n".join(f"--- {process.log.name}:\n{process.log.read_text()[-6000:]}" for process in launchers)
        raise AssertionError(f"the group still ran after {timeout:.0f} s; stacks at the end:\n{shown}") from None
    return [process.log.read_text() for process in launchers]


def kill_leftovers(started: list[subprocess.Popen]) -> None:
    """Kill (with their process groups) the launchers a test left running."""
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def machines(isolated_wandb, tmp_path):
    """``machines(launcher_flags, train_args)`` -> the two launchers; any left running are killed afterwards."""
    started: list[subprocess.Popen] = []

    def start(launcher: list[str], train_args: list[str]) -> list[subprocess.Popen]:
        started.extend(start_machines(launcher, train_args, dict(isolated_wandb), tmp_path / f"logs-{len(started)}"))
        return started[-2:]

    yield start
    kill_leftovers(started)


@pytest.mark.slow
def test_two_machines_train_one_run_with_one_writer(machines, tiny_flags, tmp_path):
    run_dir = tmp_path / "run"
    args = [*tiny_flags, "--batch_size", "16", "--max_steps", "20", "--output_dir", str(run_dir)]
    launchers = machines(["--multi_gpu", "--num_processes", "2"], [*args, "--wandb_mode", "offline"])
    outputs = outputs_within(launchers, timeout=240)
    assert [process.returncode for process in launchers] == [0, 0], outputs
    assert "world size 2 (2 x cpu" in outputs[0]
    assert "".join(outputs).count("done: step 20") == 1  # one main process in the whole group

    checkpoints = sorted(path.name for path in (run_dir / "checkpoints").iterdir())
    assert checkpoints == ["step-10", "step-20"]  # one folder per save, no leftovers of a second writer
    assert all((run_dir / "checkpoints" / "step-20" / f"rank-{r}.safetensors").is_file() for r in (0, 1))
    assert len(list((run_dir / "wandb").glob("offline-run-*"))) == 1
    writers = {path.name.split(".")[-2] for path in (run_dir / "tensorboard").rglob("events.out.tfevents.*")}
    assert len(writers) == 1, writers  # every event file from one process id
    assert not (run_dir / "run.lock").exists()  # released at the end


@pytest.mark.slow
@pytest.mark.parametrize("lost", ["launcher", "machine"])
def test_losing_one_machine_stops_the_other_with_a_message(machines, tiny_flags, tmp_path, lost):
    """The launcher alone (its rank lives on in its own session), or the launcher and its rank."""
    run_dir = tmp_path / "run"
    args = [*tiny_flags, "--batch_size", "16", "--max_steps", "100000", "--output_dir", str(run_dir)]
    args += ["--wandb_mode", "disabled", "--collective_timeout_s", "20"]
    machine0, machine1 = machines(["--multi_gpu", "--num_processes", "2"], args)
    deadline = time.monotonic() + 180
    while latest_checkpoint(run_dir) is None and machine0.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert latest_checkpoint(run_dir) is not None, "the group never trained"
    ranks = psutil.Process(machine1.pid).children(recursive=True)
    assert ranks, "machine 1 has no rank process"
    for process in [psutil.Process(machine1.pid), *(ranks if lost == "machine" else [])]:
        process.kill()
    machine1.wait()
    started = time.monotonic()
    output = outputs_within([machine0], timeout=120)[0]  # bounded: a hang fails here, with the stacks
    assert machine0.returncode != 0, output
    assert time.monotonic() - started < 90
    if lost == "launcher":  # its rank stops itself; the group agrees to stop and saves a checkpoint
        assert "a stop signal on another rank: saving a checkpoint" in output, output[-3000:]
        psutil.wait_procs(ranks, timeout=60)
        assert not any(rank.is_running() and rank.status() != psutil.STATUS_ZOMBIE for rank in ranks)
    else:
        assert "error: another process of this distributed run stopped answering" in output, output[-3000:]


@pytest.mark.slow
def test_accelerate_cpu_launcher_across_machines_is_refused_not_raced(machines, tiny_flags, tmp_path):
    run_dir = tmp_path / "run"
    args = [*tiny_flags, "--max_steps", "20", "--output_dir", str(run_dir), "--wandb_mode", "disabled"]
    launchers = machines(["--cpu", "--num_processes", "2"], args)  # the form that used to train two runs
    outputs = outputs_within(launchers, timeout=120)
    assert all(process.returncode != 0 for process in launchers), outputs
    assert all("joined no process group" in output and "--multi_gpu" in output for output in outputs), outputs
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "config.yaml").exists()


FAKE_SRUN = """#!/bin/bash
# srun for one host: the command once per node with its SLURM_NODEID; SIGTERM passed on, like srun.
while [[ "$1" == -* ]]; do shift; done
pids=()
for ((node = 0; node < SLURM_NNODES; node++)); do SLURM_NODEID=$node "$@" & pids+=($!); done
trap 'kill -TERM "${pids[@]}" 2>/dev/null' TERM
code=0
for pid in "${pids[@]}"; do
  while true; do wait "$pid"; status=$?; kill -0 "$pid" 2>/dev/null || break; done
  [[ $status -ne 0 ]] && code=$status
done
exit $code
"""
FAKE_SCONTROL = """#!/bin/bash
# scontrol for one host: every node is 127.0.0.1; a requeue is written down.
case "$1 $2" in
  "show hostnames") echo 127.0.0.1 ;;
  "requeue "*) echo "$2" >> "$REQUEUED" ;;
esac
"""


@pytest.fixture
def slurm_job(isolated_wandb, tmp_path):
    """``slurm_job(*train_flags)`` -> deploy/slurm/multinode.sbatch running as a 2-node job on this host."""
    bin_dir = tmp_path / "fake-slurm"
    bin_dir.mkdir()
    for name, text in (("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    port = free_port_between(29501, 30500)  # the script derives its port from the job id: 29500 + id % 1000
    env = {**isolated_wandb, "PATH": f"{bin_dir}:{isolated_wandb['PATH']}", "SLURM_NNODES": "2",
           "SLURM_JOB_NODELIST": "node[0-1]", "SLURM_JOB_ID": str(port - 29500), "SLURM_GPUS_ON_NODE": "1",
           "SLURM_SUBMIT_DIR": str(tmp_path), "REQUEUED": str(tmp_path / "requeued"),
           "ACCELERATE": str(Path(sys.executable).parent / "accelerate")}  # fmt: skip
    script = Path(__file__).resolve().parents[2] / "deploy" / "slurm" / "multinode.sbatch"
    started: list[subprocess.Popen] = []

    def start(*flags: str) -> subprocess.Popen:
        """The job's output goes to a file, so a hang can be read with the ranks' stacks (outputs_within)."""
        log = tmp_path / f"job-{len(started)}.txt"
        with open(log, "w") as output:
            job = subprocess.Popen(["bash", str(script), *flags], env=env, start_new_session=True, stdout=output,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        job.log = log  # type: ignore[attr-defined]
        started.append(job)
        return job

    start.job_id = env["SLURM_JOB_ID"]
    yield start
    kill_leftovers(started)


@pytest.mark.slow
def test_multinode_slurm_script_checkpoints_requeues_and_resumes(slurm_job, tiny_flags, tmp_path):
    run_dir = tmp_path / "run"
    flags = [*tiny_flags, "--batch_size", "16", "--output_dir", str(run_dir), "--wandb_mode", "disabled"]
    job = slurm_job(*flags, "--max_steps", "100000")
    deadline = time.monotonic() + 180
    while latest_checkpoint(run_dir) is None and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert latest_checkpoint(run_dir) is not None, job.log.read_text()
    job.send_signal(signal.SIGTERM)  # Slurm's --signal=B:TERM to the batch shell
    output = outputs_within([job], timeout=120)[0]
    assert job.returncode == 143, output
    assert "world size 2 (2 x cpu" in output and "SIGTERM: saving a checkpoint" in output
    assert (tmp_path / "requeued").read_text().split() == [slurm_job.job_id]  # scontrol requeue <this job>
    stopped = latest_checkpoint(run_dir)
    step = int(stopped.name.split("-")[1])
    assert all((stopped / f"rank-{r}.safetensors").is_file() for r in (0, 1))

    requeued = slurm_job(*flags, "--max_steps", str(step + 4))  # the same job, started again by Slurm
    output = outputs_within([requeued], timeout=180)[0]
    assert requeued.returncode == 0, output
    assert f"resumed from {stopped} at step {step}" in output and f"done: step {step + 4}" in output
