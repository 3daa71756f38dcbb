"""`unet1d train --num_processes N`: start the run through Accelerate's launcher ourselves.

Users should not need to remember ``accelerate launch --multi_gpu --num_processes ...``: when the
config asks for more than one process (or machine) and we are not already one rank of a
distributed launch, the CLI re-runs ``unet1d train`` with the same arguments under
Accelerate's launcher (:mod:`unet1d.training.launcher`: its own, ending in one line rather than
torchrun's traceback). Each rank then parses the same argv, finds itself
inside a launch, and trains. The same path serves GPUs (NCCL) and CPU processes (gloo).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping

import torch

from unet1d.config import Config
from unet1d.errors import UserError
from unet1d.precision import resolve_precision, uses_cuda
from unet1d.training.signals import run_passing_signals

# Set by torchrun / accelerate launch (and MPI) in every rank they start.
RANK_VARIABLES = ("LOCAL_RANK", "RANK", "WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
# Accelerate's single-process ("simple") launcher sets this in the one process it starts, and the
# rendezvous address only when it was asked for more than one process (or machine).
SIMPLE_LAUNCHER_MARK = "ACCELERATE_USE_CPU"
RENDEZVOUS_VARIABLES = ("MASTER_ADDR", "MASTER_PORT")


def inside_distributed_launch(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return any(name in env for name in RANK_VARIABLES)


def with_launched_world(config: Config, environ: Mapping[str, str] | None = None) -> Config:
    """``config`` with ``launch`` saying the world this process was launched into (torchrun's LOCAL_WORLD_SIZE
    and WORLD_SIZE), when a launcher other than ours started it: ``accelerate launch --multi_gpu
    --num_processes 2`` leaves ``launch.num_processes`` at 1, and the run it stores could then not be
    resumed by ``unet1d train --resume auto``, which starts the processes its stored config names."""
    env = os.environ if environ is None else environ
    try:
        local, world = int(env["LOCAL_WORLD_SIZE"]), int(env["WORLD_SIZE"])
    except (KeyError, ValueError):
        return config
    if (
        local < 1
        or world % local
        or (config.launch.num_processes, config.launch.num_machines) == (local, world // local)
    ):
        return config
    launched = config.model_copy(deep=True)
    launched.launch.num_machines = world // local  # first: machine_rank must stay below it
    launched.launch.num_processes = local
    return launched


def launch_shortfall(environ: Mapping[str, str] | None = None) -> str | None:
    """Why this process is a degraded launch, or None.

    ``accelerate launch --num_processes N`` (or ``--num_machines M``) without ``--multi_gpu`` (on a
    machine with one GPU or none, or with ``--cpu``) runs Accelerate's simple launcher: one process
    per launcher, with a rendezvous address set for the N it was asked for, and the joining left to
    MPI (``--mpirun_hostfile``, which sets the rank variables). Without it every launcher's process
    would quietly train a 1-process run of its own, all of them into the same folder.
    """
    env = os.environ if environ is None else environ
    asked_for_many = SIMPLE_LAUNCHER_MARK in env and RENDEZVOUS_VARIABLES[0] in env
    if not asked_for_many or inside_distributed_launch(env):
        return None
    return (
        f"accelerate launch was asked for several processes or machines (MASTER_ADDR={env['MASTER_ADDR']}) but "
        "started only this one, which joined no process group (its single-process launcher: no --multi_gpu, or "
        "--cpu, which never starts several; only MPI joins those). To train N processes here run "
        "`unet1d train --num_processes N ...` (it starts them for you, GPUs or CPU workers alike), or "
        "`accelerate launch --multi_gpu --num_processes N -m unet1d.cli train ...` (gloo on CPUs; add "
        "--num_machines M --machine_rank R --main_process_ip IP across machines); for one process, drop "
        "--num_processes from accelerate launch"
    )


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a container's share), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def default_threads(environ: Mapping[str, str] | None = None) -> int:
    """``OMP_NUM_THREADS`` if set, else this machine's cores split over the processes launched on it."""
    env = os.environ if environ is None else environ
    if env.get("OMP_NUM_THREADS", "").strip().isdigit() and int(env["OMP_NUM_THREADS"]) > 0:
        return int(env["OMP_NUM_THREADS"])
    local_processes = int(env.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, available_cores() // max(1, local_processes))


def apply_threads(threads: int | None, environ: Mapping[str, str] | None = None) -> int:
    """Set torch's intra-op threads to ``train.threads`` (null: :func:`default_threads`); return the number.

    More threads than the cores a run really has make OpenMP workers spin against each other's
    runs: two runs each using every core of a 2-core machine slow each other down many times over.
    """
    count = threads or default_threads(environ)
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


def needs_launcher(config: Config, environ: Mapping[str, str] | None = None) -> bool:
    """More than one process asked for, and nobody has started them yet."""
    launch = config.launch
    wants_many = launch.num_processes > 1 or launch.num_machines > 1
    return wants_many and not inside_distributed_launch(environ)


def launcher_command(config: Config, train_args: list[str]) -> list[str]:
    """The ``accelerate launch`` command line that runs ``unet1d train <train_args>`` on every rank.

    Accelerate's ``--num_processes`` counts processes on all machines; ours counts one machine's.
    ``--multi_gpu`` selects torch's elastic launcher for CPUs too: each rank then builds its
    Accelerator with ``cpu=True`` and gets gloo.
    """
    launch = config.launch
    if launch.num_machines > 1 and not launch.main_process_ip:
        raise UserError(
            f"launch.num_machines={launch.num_machines} needs launch.main_process_ip (the address of machine 0)"
        )
    gpus = torch.cuda.device_count() if uses_cuda(config.train.device) else 0
    if 0 < gpus < launch.num_processes:  # each rank takes cuda:LOCAL_RANK: the rest died on "invalid device ordinal"
        raise UserError(
            f"--num_processes {launch.num_processes}: this machine has {gpus} GPU{'s' * (gpus != 1)}, one per process; "
            f"give at most {gpus}, or --device cpu to train on the CPU's cores"
        )
    command = [
        sys.executable,
        "-m",
        "unet1d.training.launcher",  # accelerate.commands.launch's main, ending in the project's terms
        "--multi_gpu",
        "--num_processes",
        str(launch.num_processes * launch.num_machines),
        "--num_machines",
        str(launch.num_machines),
        "--machine_rank",
        str(launch.machine_rank),
        "--main_process_port",
        str(rendezvous_port(config)),
        "--mixed_precision",
        launcher_precision(config),
        "--dynamo_backend",
        "no",  # torch.compile is applied by the run itself (train.compile)
    ]
    if launch.main_process_ip:
        command += ["--main_process_ip", launch.main_process_ip]
    return [*command, "-m", "unet1d.cli", "train", *train_args]


def rendezvous_port(config: Config) -> int:
    """``launch.main_process_port``, except on one machine at the default port: there a port the OS has free, so
    two launches started at once on one machine do not both take 29500 (the second died in EADDRINUSE)."""
    launch = config.launch
    default = type(launch).model_fields["main_process_port"].default
    if launch.num_machines > 1 or launch.main_process_port != default:
        return launch.main_process_port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_launcher(config: Config, train_args: list[str]) -> int:
    """Run every local rank through Accelerate's launcher; return its exit code.

    SIGTERM is passed on to the launcher, which passes it to the ranks (they checkpoint and exit
    non-zero). Ctrl-C already reaches the ranks through the terminal, so we only keep waiting. Where
    Linux allows, the launcher gets SIGTERM when this process dies, however it dies (``kill -9``, an
    out-of-memory kill): its ranks checkpoint and stop instead of training on headless, holding the run.
    """
    code, forwarded = run_passing_signals(launcher_command(config, train_args))
    # torchrun reports ranks stopped by our signal as a failure (1); say what happened, like a single run.
    return 128 + forwarded[0] if forwarded and code else code


def end_other_rank(code: int, environ: Mapping[str, str] | None = None) -> None:
    """A launched rank other than the main one ends here with ``code``, without the interpreter's teardown. Its
    part of the run is on disk by now (checkpoints are fsynced before they count; it has no trackers), and torch's
    C++ teardown aborted now and then at exit ("terminate called without an active exception", SIGABRT) after the
    process group was left: the launcher then reported a finished run as failed (exit 134)."""
    env = os.environ if environ is None else environ
    if int(env.get("RANK", "0") or 0) > 0:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def launcher_precision(config: Config) -> str:
    """Accelerate's launcher knows no ``auto``: hand it what each rank will resolve ``auto`` to."""
    return resolve_precision(config.train.mixed_precision, "cuda" if uses_cuda(config.train.device) else "cpu")
