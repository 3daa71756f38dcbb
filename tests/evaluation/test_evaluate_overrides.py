"""`unet1d eval RUN --field value`: what an evaluation may change, and the flags it refuses by name."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from unet1d.config import Config
from unet1d.errors import UserError
from unet1d.evaluation.evaluate import apply_overrides


def checkpoint() -> SimpleNamespace:
    return SimpleNamespace(config=Config(), path=Path("run/checkpoints/step-10"))


def test_sampling_data_and_evaluation_fields_change_the_evaluations_config():
    held = checkpoint()
    effective = apply_overrides(
        held, ["--sample_steps", "5", "--task_poses", "0", "--val_fraction", "0.2", "--clip_x0=null", "--sampler=ddim"]
    )
    # what the report records: the changes, not a repeat of the run's own value (task_poses 0 is a change here;
    # --sampler ddim too, from dpmpp_2m), by field, as the resolved values: however given, alike
    assert effective == ["--val_fraction", "0.2", "--clip_x0", "null", "--sample_steps", "5", "--sampler", "ddim",
                         "--task_poses", "0"]  # fmt: skip
    same = checkpoint()
    assert apply_overrides(same, ["--task_poses", str(Config().evaluation.task_poses), "--sampler", "dpmpp_2m"]) == []
    assert held.config.diffusion.sample_steps == 5 and held.config.evaluation.task_poses == 0
    assert held.config.data.val_fraction == 0.2 and held.config.diffusion.clip_x0 is None
    assert held.config.model == Config().model and held.config.optim == Config().optim


@pytest.mark.parametrize(
    "overrides",
    [
        ["--base_channels", "32", "--task_poses", "0"],  # only the refused flag is named
        ["--lr", "0.1"],  # training settings change nothing an evaluation does: a mistake to say so
        ["--prediction", "eps"],  # the network learned v: sampling it as eps draws noise
        ["--representation=rot6d"],
        ["--task_poses", "0", "--heading", "none"],
        ["--up_axis", "y"],  # walk K: a z-up run scored about y read every pose lying down (upright 0 %)
    ],
)
def test_what_the_network_learned_with_is_refused_naming_only_those_flags(overrides):
    held = checkpoint()
    with pytest.raises(UserError, match="not a setting an evaluation can change") as refused:
        apply_overrides(held, overrides)
    named = refused.value.args[0].split(":")[0]
    assert named == next(token.split("=")[0] for token in overrides if token.startswith("--") and token not in
                         ("--task_poses",))  # fmt: skip
    assert held.config == Config()  # unchanged


def test_threads_are_refused_with_what_bounds_an_evaluations_threads():
    # it said "not a setting an evaluation can change (the network and its training are the run's)": threads are not
    with pytest.raises(UserError, match=r"^--threads: a training setting; .* OMP_NUM_THREADS=N instead$"):
        apply_overrides(checkpoint(), ["--threads", "1"])
