"""bench/peer_pipelines.py: its --smoke run scores every contender it can build, and its two small helpers.

CI installs only the dev extra, so there ``ours`` runs alone and each missing peer is a skip that
names the package; with ``pip install -e '.[bench]'`` and denoising-diffusion-pytorch all three run.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from unet1d.config import Config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "peer_pipelines.py"
PEER_PACKAGES = {"lucidrains": "denoising-diffusion-pytorch", "diffusers": "diffusers"}


def load_script() -> ModuleType:
    """The script as a module, whatever sys.path holds (it puts the repository root there itself)."""
    spec = importlib.util.spec_from_file_location("peer_pipelines_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def missing(peer: str) -> str | None:
    try:
        metadata.version(PEER_PACKAGES[peer])
    except metadata.PackageNotFoundError:
        return f"{PEER_PACKAGES[peer]} is not installed (pip install -e '.[bench]'; see pyproject's bench extra)"
    return None


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One --smoke run with ours and every installed peer, one thread each."""
    out = tmp_path_factory.mktemp("peer-pipelines") / "result.json"
    contenders = ["ours", *[peer for peer in PEER_PACKAGES if missing(peer) is None]]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--threads", "1", "--contenders", *contenders, "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    result["stdout"] = done.stdout
    return result


def check_row(row: dict, calls_per_pose: int) -> None:
    assert row["steps"] >= 1 and row["parameters"] > 0 and row["train_s"] > 0 and row["sample_s"] > 0
    # The sampler ran as documented: ours its default (DPM-Solver++ 2M, 20 calls), a peer every step of its
    # (smoke-sized, T = 50) chain.
    assert row["calls_per_pose"] == calls_per_pose
    assert row["c2st_auc"] >= 0.5 - 0.1 and row["c2st_auc"] <= 1.0
    assert {"c2st_auc_legs", "c2st_auc_arms"} <= set(row)
    for key in ("precision", "recall", "one_nn_accuracy", "frechet_distance", "poses_outside_limits_tol"):
        assert math.isfinite(row[key]), key


@pytest.mark.slow
def test_smoke_scores_ours(smoke):
    (row,) = smoke["rows"]["ours"]
    check_row(row, calls_per_pose=Config().diffusion.sampling_steps)
    assert row["stopped_by"] == "max_steps" and row["steps"] == 4  # the smoke's --max_steps 4, well inside its budget
    assert smoke["summary"]["ours"]["c2st_auc"]["std"] == 0.0  # one seed
    assert "| ours |" in smoke["stdout"] and "| *gaussian baseline* |" in smoke["stdout"]


@pytest.mark.slow
@pytest.mark.parametrize("peer", sorted(PEER_PACKAGES))
def test_smoke_scores_peer(smoke, peer):
    reason = missing(peer)
    if reason:
        pytest.skip(reason)
    (row,) = smoke["rows"][peer]
    check_row(row, calls_per_pose=50)
    assert row["stopped_by"] == "budget" and row["precision_used"] == "fp32"
    assert row["parameters"] == smoke["peer_widths"][peer]["parameters"]


def test_min_max_scaling_round_trips_and_spans_the_unit_interval():
    script = load_script()
    poses = np.random.default_rng(0).normal(size=(200, 72))
    poses[:, 5] = 0.25  # a component that never moves must not divide by zero
    scale = script.MinMax(poses)
    unit = scale.to_unit(poses)
    assert unit.shape == (200, 1, 72)
    assert float(unit.min()) == 0.0 and float(unit[:, 0, :5].max()) == pytest.approx(1.0)
    np.testing.assert_allclose(scale.from_unit(unit), poses, atol=1e-5)


def test_matched_width_takes_the_closest_count_and_refuses_a_far_one(monkeypatch):
    script = load_script()
    # Linear(w, w) has w * w + w parameters: 30 -> 930, 32 -> 1056, 34 -> 1190.
    monkeypatch.setitem(script.PEER_WIDTHS, "toy", (lambda w: torch.nn.Linear(w, w), lambda: range(2, 200, 2)))
    assert script.matched_width("toy", 1000) == (32, 1056)
    assert script.matched_width("toy", 1150) == (34, 1190)
    monkeypatch.setitem(script.PEER_WIDTHS, "coarse", (lambda w: torch.nn.Linear(w, w), lambda: range(10, 200, 40)))
    with pytest.raises(SystemExit, match="within 20%"):
        script.matched_width("coarse", 1000)  # 10 -> 110, 50 -> 2550: neither within 20 %
    assert script.matched_width("coarse", 1000, tolerance=None) == (10, 110)


def test_diffusers_widths_grow_so_the_search_may_stop_at_the_first_larger_count():
    pytest.importorskip("diffusers")
    script = load_script()
    widths = script.diffusers_widths()
    counts = [script.count_parameters(script.diffusers_network(next(widths))) for _ in range(12)]  # w = 8, 16, 24
    assert all(a < b for a, b in itertools.pairwise(counts)), counts
    # The last stage's steps fill the gap between (w, 2w, 4w) and the next geometric width: 251k -> 562k at w = 16.
    _, count = script.matched_width("diffusers", 332_673, tolerance=0.05)
    assert abs(count - 332_673) < 0.05 * 332_673
