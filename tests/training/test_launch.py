"""Two CPU processes (gloo) under Accelerate: ranks split every global batch and end with the same weights.

Run as a script, this file is one rank of that run: it records which poses its rank trained on
and the weights it ended with (by wrapping, not replacing, the real batch source and finish),
then runs the real ``unet1d train`` command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from unet1d.config_sources import load_config
from unet1d.errors import UserError
from unet1d.store.checkpoints import latest_checkpoint
from unet1d.training.launch import (
    apply_threads,
    available_cores,
    default_threads,
    inside_distributed_launch,
    launch_shortfall,
    launcher_command,
    needs_launcher,
    rendezvous_port,
)

PROBE_DIR_VARIABLE = "PROBE_DIR_FOR_TEST_DISTRIBUTED"  # not UNET1D_*: those are config fields


def probe_rank(argv: list[str]) -> None:
    """One rank: record each batch's poses (by content hash) and the final parameters, then train."""
    from unet1d.cli import main
    from unet1d.data.batching import DeviceBatches
    from unet1d.training.loop import Trainer

    probe_dir, rank = Path(os.environ[PROBE_DIR_VARIABLE]), int(os.environ["RANK"])
    seen: list[list[str]] = []
    next_batch, finish = DeviceBatches.next_batch, Trainer.finish

    def recording_next_batch(self: DeviceBatches) -> torch.Tensor:
        batch = next_batch(self)
        seen.append([hashlib.sha1(row.cpu().numpy().tobytes()).hexdigest() for row in batch])
        return batch

    def finish_and_record(self: Trainer, exit_code: int = 0):
        params = {name: p.detach().cpu().contiguous() for name, p in self.network.named_parameters()}
        save_file(params, str(probe_dir / f"params-rank{rank}.safetensors"))
        (probe_dir / f"batches-rank{rank}.json").write_text(json.dumps(seen))
        return finish(self, exit_code)

    DeviceBatches.next_batch = recording_next_batch
    Trainer.finish = finish_and_record
    main(["train", *argv])


def test_the_cli_relaunches_itself_only_outside_a_launch():
    config = load_config(None, ["--num_processes", "2", "--mixed_precision", "bf16"], environ={})
    assert needs_launcher(config, {})
    assert not needs_launcher(config, {"LOCAL_RANK": "0", "WORLD_SIZE": "2"})  # each rank trains
    assert not needs_launcher(load_config(None, [], environ={}), {})
    assert inside_distributed_launch({"RANK": "1"}) and not inside_distributed_launch({})

    command = launcher_command(config, ["--config", "run.yaml", "--lr", "1e-3"])
    assert command[1:4] == ["-m", "unet1d.training.launcher", "--multi_gpu"]
    assert command[command.index("--num_processes") + 1] == "2"
    assert command[command.index("--mixed_precision") + 1] == "bf16"
    assert command[-7:] == ["-m", "unet1d.cli", "train", "--config", "run.yaml", "--lr", "1e-3"]

    nodes = load_config(None, ["--num_processes", "4", "--num_machines", "2", "--main_process_ip", "10.0.0.1"], {})
    multi = launcher_command(nodes, [])
    assert multi[multi.index("--num_processes") + 1] == "8"  # Accelerate counts processes on all machines
    assert multi[multi.index("--main_process_ip") + 1] == "10.0.0.1"
    with pytest.raises(UserError, match="main_process_ip"):
        launcher_command(load_config(None, ["--num_machines", "2"], environ={}), [])


def test_more_processes_than_gpus_are_refused_naming_the_count(monkeypatch):
    # each rank takes cuda:LOCAL_RANK: the ranks past the last GPU died on "CUDA error: invalid device ordinal"
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(UserError, match=r"--num_processes 2: this machine has 1 GPU, one per process; give at most 1"):
        launcher_command(load_config(None, ["--num_processes", "2"], environ={}), [])
    assert launcher_command(load_config(None, ["--num_processes", "2", "--device", "cpu"], environ={}), [])


def test_one_machine_at_the_default_port_takes_a_free_one_and_a_set_port_or_machines_keep_theirs():
    """Two `--num_processes 2` runs started at once both took 29500 and the second died in EADDRINUSE."""
    import socket

    ports = {rendezvous_port(load_config(None, ["--num_processes", "2"], environ={})) for _ in range(5)}
    assert 29500 not in ports and len(ports) > 1  # the OS's free ones, another each time
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports.pop()))  # no longer free: never handed out while held
        assert rendezvous_port(load_config(None, ["--num_processes", "2"], environ={})) != taken.getsockname()[1]
    assert rendezvous_port(load_config(None, ["--num_processes", "2", "--main_process_port", "29611"], {})) == 29611
    nodes = load_config(None, ["--num_machines", "2", "--main_process_ip", "10.0.0.1"], environ={})
    assert rendezvous_port(nodes) == 29500  # every machine must agree on it


@pytest.mark.slow
def test_two_cpu_processes_split_the_data_and_end_with_identical_weights(
    isolated_wandb, tiny_flags, tmp_path, free_port
):
    run_dir = tmp_path / "run"
    args = [*tiny_flags, "--batch_size", "16", "--max_steps", "20", "--output_dir", str(run_dir)]
    blocker = tmp_path / "a-file"
    blocker.write_text("where the cache folder would go")  # every rank's cache fails alike
    args += ["--wandb_mode", "disabled", "--cache_dir", str(blocker / "cache")]
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launcher += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launcher += ["--main_process_port", str(free_port)]
    env = {**isolated_wandb, PROBE_DIR_VARIABLE: str(tmp_path)}
    done = subprocess.run([*launcher, __file__, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("done: step 20") == 1  # only the main process prints
    assert done.stderr.count("warning: cannot store the built-in poses") == 1, done.stderr  # its warnings too

    batches = [json.loads((tmp_path / f"batches-rank{r}.json").read_text()) for r in (0, 1)]
    assert len(batches[0]) == len(batches[1]) == 20 and all(len(b) == 16 for b in batches[0] + batches[1])
    for step, (mine, theirs) in enumerate(zip(*batches, strict=True)):
        assert not set(mine) & set(theirs), f"step {step}: both ranks trained on the same poses"
    per_epoch = 480 // 32  # 480 training poses, global batch 2 x 16
    first_epoch = [pose for rank in batches for batch in rank[:per_epoch] for pose in batch]
    assert len(set(first_epoch)) == len(first_epoch)  # together, the ranks see each pose once an epoch

    params = [load_file(str(tmp_path / f"params-rank{r}.safetensors")) for r in (0, 1)]
    assert params[0].keys() == params[1].keys()
    assert all(torch.equal(params[0][k], params[1][k]) for k in params[0])
    saved = load_file(str(run_dir / "checkpoints" / "step-20" / "model.safetensors"))
    assert all(torch.equal(saved[k], params[0][k]) for k in params[0])
    generators = [load_file(str(run_dir / "checkpoints" / "step-20" / f"rank-{r}.safetensors")) for r in (0, 1)]
    assert not torch.equal(generators[0]["noise/state"], generators[1]["noise/state"])  # ranks draw their own noise

    # accelerate launch left launch.num_processes at 1: the run stores the world it ran in, so `unet1d train
    # --resume auto` starts the two processes its checkpoints need, with no flag repeated but a free port
    stored = yaml.safe_load((run_dir / "config.yaml").read_text())["launch"]
    assert (stored["num_processes"], stored["num_machines"]) == (2, 1)
    resume = ["--output_dir", str(run_dir), "--resume", "auto", "--max_steps", "24", "--main_process_port"]
    with socket.socket() as sock:  # another free port: the first launch's may linger in TIME_WAIT
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    again = subprocess.run([sys.executable, "-m", "unet1d.cli", "train", *resume, str(port)],
                           env=isolated_wandb, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert again.returncode == 0 and again.stdout.count("done: step 24") == 1, again.stdout + again.stderr


def two_processes_past_a_checkpoint(start_cli, tiny_flags, run_dir: Path, port: int):
    """`unet1d train --num_processes 2` into ``run_dir``, running on once its first checkpoint is there; -> (the
    process, its flags without --max_steps)."""
    flags = [*tiny_flags, "--batch_size", "16", "--output_dir", str(run_dir), "--wandb_mode", "disabled"]
    flags += ["--num_processes", "2", "--checkpoint_every", "20", "--main_process_port", str(port)]
    process = start_cli("train", *flags, "--max_steps", "100000")
    deadline = time.monotonic() + 240
    while latest_checkpoint(run_dir) is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return process, flags


@pytest.mark.slow
def test_train_num_processes_2_launches_its_ranks_which_checkpoint_together_on_sigterm(
    start_cli, tiny_flags, tmp_path, free_port
):
    run_dir = tmp_path / "run"
    process, flags = two_processes_past_a_checkpoint(start_cli, tiny_flags, run_dir, free_port)
    process.send_signal(signal.SIGTERM)  # to `unet1d train`, which passes it on to the launcher and the ranks
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, output
    assert "death signal" not in output  # torchrun's agent line above the ranks' own (walk A)
    stopped = json.loads((latest_checkpoint(run_dir) / "checkpoint.json").read_text())
    assert stopped["world_size"] == 2 and stopped["step"] >= 20
    assert all((latest_checkpoint(run_dir) / f"rank-{r}.safetensors").is_file() for r in (0, 1))

    resumed = start_cli("train", *flags, "--max_steps", str(stopped["step"] + 4), "--resume", "auto")
    output, _ = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, output
    assert json.loads((run_dir / "summary.json").read_text())["final_step"] == stopped["step"] + 4


@pytest.mark.slow
def test_a_launch_whose_unet1d_train_is_killed_checkpoints_and_stops_instead_of_training_on(
    start_cli, tiny_flags, tmp_path, free_port
):
    """kill -9 of `unet1d train --num_processes 2` (an OOM kill, a scheduler's): its launcher gets SIGTERM from
    Linux and passes it to the ranks, which checkpoint and exit; before, they trained on headless, holding run.lock."""
    import psutil

    run_dir = tmp_path / "run"
    process, _ = two_processes_past_a_checkpoint(start_cli, tiny_flags, run_dir, free_port)
    family = psutil.Process(process.pid).children(recursive=True)
    assert len(family) >= 3, family  # the launcher and its two ranks
    process.kill()
    process.communicate(timeout=30)
    _, alive = psutil.wait_procs(family, timeout=120)
    assert not alive, f"still running after their unet1d train was killed: {alive}"
    stopped = json.loads((latest_checkpoint(run_dir) / "checkpoint.json").read_text())
    assert stopped["world_size"] == 2 and not (run_dir / "run.lock").exists()


@pytest.mark.slow
def test_a_user_error_inside_the_ranks_ends_the_launch_with_exit_2_and_no_traceback(
    isolated_wandb, tiny_flags, tmp_path, free_port
):
    """A data file only the ranks read: each says why in one line, and the launch exits 2 as one process would
    (before: torchrun's ChildFailedError traceback under them, and exit 1)."""
    bad = tmp_path / "bad.npy"
    bad.write_text("not numpy\n")
    flags = [*tiny_flags, "--output_dir", str(tmp_path / "run"), "--wandb_mode", "disabled", "--data", str(bad)]
    flags += ["--num_processes", "2", "--main_process_port", str(free_port)]
    result = subprocess.run([sys.executable, "-m", "unet1d.cli", "train", *flags], env=isolated_wandb,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert output.count(f"error: {bad}: not a valid .npy file") == 1  # once, not once per rank
    assert "Traceback" not in output and "ChildFailedError" not in output and "failed (exitcode" not in output


def test_a_single_process_launch_asked_for_several_is_recognised():
    simple = {"ACCELERATE_USE_CPU": "False", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    assert "unet1d train --num_processes N" in launch_shortfall(simple)
    assert launch_shortfall({"ACCELERATE_USE_CPU": "False"}) is None  # `accelerate launch` of one process
    assert launch_shortfall({**simple, "RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}) is None  # torchrun ranks
    assert launch_shortfall({"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "1"}) is None  # not started by accelerate


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.device_count() > 1, reason="with several GPUs accelerate launches them all")
def test_accelerate_launch_that_starts_one_of_two_processes_is_refused(isolated_wandb, tiny_flags, tmp_path):
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1"]
    launcher += ["--mixed_precision", "no", "--dynamo_backend", "no", "-m", "unet1d.cli", "train"]
    args = [*tiny_flags, "--max_steps", "5", "--output_dir", str(tmp_path / "run"), "--wandb_mode", "disabled"]
    done = subprocess.run([*launcher, *args], env=isolated_wandb, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "error: accelerate launch was asked for several processes or machines" in done.stderr
    assert "joined no process group" in done.stderr
    assert "unet1d train --num_processes N" in done.stderr and "--multi_gpu" in done.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_threads_default_to_the_cores_shared_by_the_processes_on_them():
    cores = available_cores()
    assert default_threads({}) == cores
    assert default_threads({"LOCAL_WORLD_SIZE": "2"}) == max(1, cores // 2)
    assert default_threads({"OMP_NUM_THREADS": "3", "LOCAL_WORLD_SIZE": "2"}) == 3  # the user's own setting wins
    assert load_config(None, [], environ={"UNET1D_THREADS": "1"}).train.threads == 1  # how sweep local passes it
    before = torch.get_num_threads()
    try:
        assert apply_threads(None, {"OMP_NUM_THREADS": "2"}) == 2 and torch.get_num_threads() == 2
        assert apply_threads(1, {"OMP_NUM_THREADS": "2"}) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


if __name__ == "__main__":
    probe_rank(sys.argv[1:])


def test_a_simple_launcher_process_that_joined_no_group_is_refused():
    simple = {"ACCELERATE_USE_CPU": "True", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    assert "joined no process group" in launch_shortfall(simple)
    assert "joined no process group" in launch_shortfall({k: v for k, v in simple.items() if k != "MASTER_PORT"})
    assert launch_shortfall({**simple, "PMI_SIZE": "2"}) is None  # MPI joined them
    assert launch_shortfall({**simple, "RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}) is None  # torchrun
    assert launch_shortfall({"ACCELERATE_USE_CPU": "True"}) is None  # one process, nothing to join
    assert launch_shortfall({}) is None


def test_a_run_another_launcher_started_records_the_world_it_ran_in() -> None:
    from unet1d.training.launch import with_launched_world

    config = load_config(None, [], environ={})
    one_machine = with_launched_world(config, {"LOCAL_WORLD_SIZE": "2", "WORLD_SIZE": "2"})
    assert (one_machine.launch.num_processes, one_machine.launch.num_machines) == (2, 1)
    two_machines = with_launched_world(config, {"LOCAL_WORLD_SIZE": "4", "WORLD_SIZE": "8"})
    assert (two_machines.launch.num_processes, two_machines.launch.num_machines) == (4, 2)
    assert with_launched_world(config, {}) is config and config.launch.num_processes == 1  # not launched: as given


def test_a_launch_our_sigterm_stopped_exits_128_plus_it_and_a_clean_end_stays_0(monkeypatch) -> None:
    """mutation walk: torchrun's 1 for ranks stopped by the forwarded SIGTERM was returned as is, not 143."""
    from unet1d.training import launch

    config = load_config(None, ["--num_processes", "2"], environ={})
    for ended, expected in (((1, [signal.SIGTERM]), 143), ((0, [signal.SIGTERM]), 0), ((1, []), 1)):
        monkeypatch.setattr(launch, "run_passing_signals", lambda command, ended=ended: ended)
        assert launch.run_launcher(config, []) == expected, ended


def test_a_rank_other_than_the_main_one_ends_with_its_code_and_its_output_flushed() -> None:
    """Resumed 2-process runs ended now and then with rank 1's SIGABRT at teardown (exit 134 for a finished run):
    other ranks now leave without it; the main rank (and a process outside a launch) returns as before."""
    program = (
        "import sys\nfrom unet1d.training.launch import end_other_rank\n"
        "end_other_rank(3, {'RANK': '0'}); end_other_rank(3, {})\n"
        "print('main returns', end=''); sys.stderr.write('and says'); end_other_rank(7, {'RANK': '1'})\n"
        "print('never')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered: the flushes are what count
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, env=env)
    assert (done.returncode, done.stdout, done.stderr) == (7, "main returns", "and says")
