"""bench/gpu_check.sh is one prepared script for a lent GPU's few minutes: it must start nothing it cannot finish."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.mutations import ROOT

SCRIPT = ROOT / "bench" / "gpu_check.sh"


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    python = str(Path(sys.executable).parent)  # its python3 is this interpreter's
    environ = {**os.environ, "PATH": f"{python}:{os.environ['PATH']}", **(env or {})}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, env=environ,
                          cwd=cwd)  # fmt: skip


def test_help_prints_the_settings_and_an_argument_is_refused_before_any_work(tmp_path) -> None:
    shown = run("--help", cwd=tmp_path)
    assert shown.returncode == 0 and "DEVICE=cpu STEPS=20" in shown.stdout
    assert "PYTHON: the interpreter" in shown.stdout and "set -uo" not in shown.stdout  # the comment, not the code
    refused = run("--steps", "20", cwd=tmp_path)
    assert refused.returncode == 2 and "takes no arguments (--steps)" in refused.stderr
    assert not (tmp_path / "bench").exists()  # no results folder: nothing started


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without a GPU")
def test_cuda_without_a_gpu_is_refused_in_one_line(tmp_path) -> None:
    refused = run(env={"DEVICE": "cuda"}, cwd=tmp_path)
    assert refused.returncode == 2 and "torch sees no CUDA device; on a CPU: DEVICE=cpu" in refused.stderr
    assert not (tmp_path / "bench").exists()


def test_a_python_without_torch_is_named_not_taken_for_a_machine_without_a_gpu(tmp_path) -> None:
    """Walk E: with a bare `python3` first on PATH (no torch), DEVICE=cuda said 'torch sees no CUDA device'."""
    refused = run(env={"DEVICE": "cuda", "PYTHON": "/bin/false"}, cwd=tmp_path)
    assert refused.returncode == 2 and "/bin/false cannot import torch; activate the project's venv" in refused.stderr
    refused = run(env={"DEVICE": "cuda", "PYTHON": "no-such-python"}, cwd=tmp_path)
    assert refused.returncode == 2 and "no-such-python is no interpreter here" in refused.stderr
    assert not (tmp_path / "bench").exists()
