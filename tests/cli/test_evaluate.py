"""`unet1d sample` on a checkpoint trained with canonical headings: it gives the poses their heading back."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from unet1d.cli import app
from unet1d.training import train


def headings(poses: np.ndarray) -> np.ndarray:
    """(N,) heading of each pose about SMPL's up axis (y), computed apart from the package: the angle
    from +z to the root's forward axis (SMPL's +z) projected on the ground plane."""
    forward = Rotation.from_rotvec(poses[:, :3].astype(np.float64)).apply([0.0, 0.0, 1.0])
    return np.arctan2(forward[:, 0], forward[:, 2])


@pytest.mark.slow  # a two-step run, then 2,000 poses
def test_sample_gives_canonical_heading_poses_a_uniform_heading(tiny_config, tmp_path):
    """The model only ever saw poses facing +z; `sample` must turn each one to a uniform random heading.

    Checked on the circle with a fixed seed: the Rayleigh test (no preferred direction) and a
    Kolmogorov-Smirnov test against uniform on [-pi, pi). Poses left facing +z fail both at once.
    """
    config = tiny_config("--max_steps", "2", "--checkpoint_every", "2", "--eval_every", "2")
    assert config.data.heading == "canonical"
    train(config)
    out = tmp_path / "poses.npz"
    args = ["sample", str(tmp_path / "run"), "--num-samples", "2000", "--seed", "3", "--device", "cpu", "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert str(np.load(out)["up_axis"]) == "y"  # the built-in poses' world, named as complete names it
    angle = headings(np.load(out)["poses"])
    n = len(angle)
    resultant = math.hypot(np.cos(angle).sum(), np.sin(angle).sum()) / n
    rayleigh_p = math.exp(-n * resultant**2)  # large-sample Rayleigh p-value
    uniform_p = stats.kstest(angle, stats.uniform(loc=-math.pi, scale=2 * math.pi).cdf).pvalue
    assert rayleigh_p > 1e-3 and uniform_p > 1e-3, (rayleigh_p, uniform_p)
    # every quarter of the circle holds about a quarter of the poses (binomial sd 1 % at n = 2000)
    quarters = np.histogram(angle, bins=4, range=(-math.pi, math.pi))[0] / n
    assert np.all(np.abs(quarters - 0.25) < 0.05), quarters


def test_sample_refuses_more_poses_than_memory_holds_before_reading_anything(tmp_path, capsys):
    # 10^11 poses (a typo) ran until memory ran out
    from unet1d.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["sample", str(tmp_path / "nowhere"), "--num-samples", "100000000000"])
    assert exited.value.code == 2 and "less than or equal to 10000000" in capsys.readouterr().err
