"""The fault suite (``pytest -m faults``): damaged caches and checkpoints, full disks, kill -9, two writers.

Every test here is marked ``faults``; each prints what it did and what survived (``pytest -m faults -s``
shows it). Runs and readers are real processes; a full disk is a file-size limit (RLIMIT_FSIZE, with
SIGXFSZ ignored) in the process that writes, so its writes fail as they do on a full disk.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_RUN

ROOT = Path(__file__).resolve().parents[3]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.faults)


def said(what: str) -> None:
    """What a fault test did or found, for ``pytest -m faults -s``."""
    print(f"[faults] {what}", flush=True)


def file_size_limit(limit: int):
    """A ``preexec_fn``: writes past ``limit`` bytes fail with EFBIG, as on a full disk (no SIGXFSZ kill)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNET1D_", "WANDB_"))}
    return env | {"HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}


def train_command(output_dir: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "unet1d.cli", "train", *TINY_RUN, "--wandb_mode", "disabled",
            "--output_dir", str(output_dir), *flags]  # fmt: skip


def train(tmp_path: Path, output_dir: Path, *flags: str, limit: int | None = None) -> subprocess.CompletedProcess:
    """A tiny run as a real process (optionally under a file-size limit)."""
    return subprocess.run(
        train_command(output_dir, *flags), capture_output=True, text=True, env=environment(tmp_path), cwd=ROOT,
        timeout=300, preexec_fn=file_size_limit(limit) if limit else None,
    )  # fmt: skip


def survey(run_dir: Path) -> dict[str, object]:
    """What a run folder holds, checked the way readers check it: each checkpoint whole or its damage,
    leftovers of interrupted saves, whether config.yaml and summary.json read back."""
    from unet1d.store import checkpoints
    from unet1d.store.rundir import read_run_config
    from unet1d.store.summary import TrainResult

    root = run_dir / "checkpoints"
    found: dict[str, object] = {
        "checkpoints": {
            p.name: checkpoints.checkpoint_damage(p) or "whole" for p in checkpoints.list_checkpoints(run_dir)
        },
        "leftovers": sorted(p.name for p in root.glob(".*")) if root.is_dir() else [],
    }
    for name, read in (("config.yaml", read_run_config), ("summary.json", TrainResult.read)):
        if (run_dir / name).exists():
            try:
                read(run_dir / name)
                found[name] = "reads back"
            except Exception as err:  # reported, not raised: the survey says what is there
                found[name] = f"DAMAGED: {err}"
    return found


def show(run_dir: Path) -> dict[str, object]:
    found = survey(run_dir)
    said(f"survived in {run_dir.name}: {json.dumps(found)}")
    return found
