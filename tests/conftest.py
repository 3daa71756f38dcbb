"""Fixtures shared by the training tests: a tiny run's flags, one CPU thread, an isolated W&B.

Tiny runs take a few seconds on a 2-core CPU. One thread keeps them fast when other work shares
the machine (OpenMP threads spin against each other), and makes results identical whether a
run happens in this process or in a subprocess.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytest-xdist starts one worker per core (`-n auto`): each worker's math on one thread, or torch's and OpenMP's
# threads of two workers spin against each other (measured: a test's CPU seconds fell 4x on a busy 2-core
# machine). Subprocesses inherit it; tests that exercise the thread defaults pass their own environment.
# Set before any test module imports torch, which reads it once.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

TINY_RUN = [
    "--base_channels", "8", "--channel_mults", "1,2", "--batch_size", "32", "--builtin_samples", "512",
    "--num_timesteps", "100", "--sample_steps", "20", "--warmup_steps", "5", "--lr", "2e-3",
    "--log_every", "5", "--grad_norm_every", "5", "--eval_every", "10", "--checkpoint_every", "10",
    "--progress", "plain", "--quality_every", "0", "--final_eval_samples", "0",
    "--mixed_precision", "no",  # fp32 on every machine: `auto` would make results depend on the CPU
]  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that hold slow tests first, the rest after them (each group in its own order).

    pytest-xdist hands each worker whole files (``--dist loadfile``) in this order (pyproject's
    ``--no-loadscope-reorder``; its default puts files with the most tests first, which left the
    one-test files of minutes, bench/ and the AMASS acceptance, for the end): big files early, and
    the many quick ones to even out the workers' ends.
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: False (slow files) first


@pytest.fixture(scope="session", autouse=True)
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache folder (XDG_CACHE_HOME) for the whole session, never the user's own ~/.cache.

    Shared by every test and subprocess, and by pytest-xdist's workers (their temporary folders
    share a parent): a reference's baselines are scored once per session, not once per test.
    """
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "xdg-cache"
    folder.mkdir(exist_ok=True)
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(scope="session", autouse=True)
def folds_in_threads_in_this_process() -> Iterator[None]:
    """A command run in a test's own process (``main(["eval", ...])``) keeps its classifier folds in threads.

    `unet1d eval` and `unet1d train` fork the fold processes once and keep them for the life of the process
    (``c2st.start_fold_workers``): forked in a pytest worker, they would outlive the test and turn every later
    evaluation in that worker side by side whenever the machine looked busy. Subprocesses fork their own.
    """
    from unet1d.evaluation import c2st

    before, c2st.POOL = c2st.POOL, "threads"
    yield
    c2st.POOL = before


@pytest.fixture
def free_port() -> int:
    """A TCP port free on this host now: for a test's process group, so tests can run side by side (pytest -n)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def tiny_flags() -> list[str]:
    """Flags of a tiny run (a few seconds on a CPU), for runs started as subprocesses."""
    return list(TINY_RUN)


def isolate_wandb(monkeypatch: pytest.MonkeyPatch, home: Path) -> dict[str, str]:
    """Point HOME and W&B's own files at ``home``, drop credentials and UNET1D_ variables; the new environment."""
    home.mkdir(parents=True, exist_ok=True)
    settings = {
        "HOME": str(home),
        "WANDB_CONFIG_DIR": str(home / ".config" / "wandb"),
        "WANDB_CACHE_DIR": str(home / ".cache" / "wandb"),
        "WANDB_DATA_DIR": str(home / ".local" / "wandb"),
        "OMP_NUM_THREADS": "1",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_RUN_ID", "WANDB_BASE_URL", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("UNET1D_")]:
        monkeypatch.delenv(name)
    return dict(os.environ)


@pytest.fixture
def isolated_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment with no W&B credentials and W&B's own files under tmp_path; applied to this process too."""
    return isolate_wandb(monkeypatch, tmp_path / "home")


@pytest.fixture
def single_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_config(tmp_path: Path, isolated_wandb: dict[str, str], single_thread: None):
    """``tiny_config(*flags, output_dir=...)`` -> a resolved Config of a tiny run (W&B off unless asked)."""

    def make(*flags: str, output_dir: Path | None = None):
        return tiny_run_config(output_dir or tmp_path / "run", *flags)

    return make


def tiny_run_config(output_dir: Path, *flags: str):
    """A resolved Config of a tiny run into ``output_dir`` (W&B off unless ``flags`` ask), for any fixture scope."""
    from unet1d.config_sources import load_config

    args = [*TINY_RUN, "--output_dir", str(output_dir), "--wandb_mode", "disabled", *flags]
    return load_config(None, args, environ={})


@pytest.fixture
def start_cli(isolated_wandb: dict[str, str]):
    """``start_cli(*args, env=...)`` -> a running ``python -m unet1d.cli <args>`` (own session; output on .stdout).

    A subprocess gives W&B a fresh session: in one process, W&B reads its environment variables
    (WANDB_INIT_TIMEOUT, WANDB_BASE_URL) only once.
    """
    started: list[subprocess.Popen] = []

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "unet1d.cli", *args],
            env={**isolated_wandb, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:  # never leave a run (or its launched ranks) behind, whatever the test did
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
