"""bench/roofline.py: FLOP counts and shares in closed form, the profile's buckets, and a real profiled step."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from torch import nn

from bench import roofline


class TwoConvs(nn.Module):
    """(B, 1, L), t -> (B, 1, L): two 3-tap convolutions, FLOP countable by hand."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.first = nn.Conv1d(1, width, 3, padding=1)
        self.second = nn.Conv1d(width, 1, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x))


def test_train_flop_per_pose_is_forward_plus_the_gradients_backward_needs() -> None:
    length, width = 72, 4
    network = TwoConvs(width)
    first = 2 * length * width * 1 * 3  # multiply-adds x 2, per pose
    second = 2 * length * 1 * width * 3
    # The input needs no gradient: the first conv's backward is its weight gradient only (1x its forward);
    # the second's is the weight gradient and the gradient of its input (2x).
    expected = 2 * first + 3 * second
    assert roofline.train_flop_per_pose(network, length, torch.device("cpu")) == pytest.approx(expected)
    assert all(p.grad is None for p in network.parameters())  # counted on a copy


def test_roofline_row_is_rate_times_work_over_peak() -> None:
    row = roofline.roofline_row(poses_per_s=1000.0, flop_per_pose=4e7, peak_gflops=200.0)
    assert row == pytest.approx({"gflop_per_pose": 0.04, "achieved_gflops": 40.0, "share_of_peak": 0.2})
    rows = roofline.roofline_rows(
        {"harness": 1000.0, "bare": 500.0}, {"harness": 4e7, "bare": 4e7}, {"bf16": 400.0, "fp32": 100.0},
        {"harness": "bf16", "bare": "fp32"},
    )  # fmt: skip
    assert rows["harness"]["share_of_peak"] == pytest.approx(0.1) and rows["harness"]["peak"] == "bf16"
    assert rows["bare"]["share_of_peak"] == pytest.approx(0.2)


def test_contender_precision_follows_the_harness_setting() -> None:
    assert roofline.contender_precision("harness", "bf16") == "bf16"
    assert roofline.contender_precision("harness", "no") == "fp32"
    assert roofline.contender_precision("bare-bf16", "no") == "bf16"
    assert roofline.contender_precision("lucidrains", "bf16") == "fp32"


@dataclass
class Event:
    name: str
    self_cpu_time_total: float  # microseconds, as torch.profiler's
    cpu_parent: Event | None = None
    cpu_children: list[Event] = field(default_factory=list)


def test_events_land_in_their_phase_or_their_kind_and_the_rest_is_overhead() -> None:
    step = Event("Optimizer.step#AdamW.step", 100.0)
    ema = Event("roofline/ema", 10.0)
    norms = Event("roofline/grad_norm", 10.0)
    events = [
        step, ema, norms,
        Event("aten::_fused_adamw_", 2000.0, step), Event("aten::mul_", 1000.0, Event("aten::_foreach_mul_", 0, norms)),
        Event("aten::lerp_", 500.0, ema), Event("aten::convolution_backward", 40000.0), Event("aten::addmm", 3000.0),
        Event("aten::gelu", 6000.0), Event("aten::native_group_norm", 2500.0),
        Event("autograd::engine::evaluate_function: GeluBackward0", 300.0),
    ]  # fmt: skip
    assert roofline.bucket_of(events[-1]) is None  # bookkeeping, not an operator: overhead
    seconds = roofline.split_events(events, wall_s=0.06)
    assert seconds["optimiser"] == pytest.approx(0.002)
    assert seconds["grad_norm"] == pytest.approx(0.001)  # mul_ inside a foreach inside the named range
    assert seconds["ema"] == pytest.approx(0.0005)
    assert seconds["matrix"] == pytest.approx(0.043)
    assert seconds["norm_elementwise"] == pytest.approx(0.0085)
    assert seconds["overhead"] == pytest.approx(0.06 - 0.055)
    assert sum(seconds.values()) == pytest.approx(0.06)


def test_matmul_peak_measures_both_dtypes(single_thread: None) -> None:
    peaks = roofline.matmul_peak(torch.device("cpu"), size=64, repeats=2)  # 0.25 s a repeat
    assert peaks["fp32"] > 0 and peaks["bf16"] > 0 and peaks["bf16_native"] in (0.0, 1.0)


@pytest.mark.slow
def test_a_real_trainer_step_profile_splits_the_whole_step(tmp_path: Path, single_thread: None) -> None:
    from bench.run import MODES, HarnessRun, bench_config

    harness = HarnessRun(bench_config(MODES["smoke"], "cpu", tmp_path / "run", tensorboard=False))
    try:
        ema_update = harness.trainer.ema.update
        profile = roofline.step_profile(harness.trainer, harness.steps, steps=2)
        assert harness.trainer.ema.update == ema_update  # the named ranges are taken off again
        assert "update" not in vars(harness.trainer.ema) and "block_norms" not in vars(harness.trainer)
    finally:
        harness.close()
    assert sum(profile["share"].values()) == pytest.approx(1.0)
    for bucket in ("matrix", "norm_elementwise", "optimiser", "ema", "grad_norm"):
        assert profile["seconds_per_step"][bucket] > 0, bucket
    assert profile["kernels_per_step"] > 50
    assert harness.trainer.step == 3  # one warm-up step, then the two profiled


@pytest.mark.slow
def test_bench_section_at_smoke_size_fills_every_part(tmp_path: Path, single_thread: None, isolated_wandb) -> None:
    """bench/run.py --roofline's section end to end (smoke sizes): peaks, shares, profiles, the speed-up over
    the earlier tree, and a quickstart-shaped run's phases that add up to its wall time."""
    from bench.run import MODES

    rates, work = {"harness": 100.0, "bare-bf16": 90.0}, {"harness": 0.01, "bare-bf16": 0.01}
    training = {"samples_per_s": rates, "gflop_per_sample": work, "harness_precision": "no"}
    section = roofline.bench_section(training, MODES["smoke"], torch.device("cpu"), tmp_path)
    assert section["default"]["harness"]["peak"] == "fp32" and section["default"]["bare-bf16"]["peak"] == "bf16"
    assert section["default"]["harness"]["achieved_gflops"] == pytest.approx(1.0)
    assert section["quickstart"]["harness"]["achieved_gflops"] > 0
    assert set(section["profile"]) == {"default", "quickstart"}
    assert section["quickstart_vs_earlier"]["speedup"] > 0
    split = section["quickstart_split"]
    assert set(split["seconds"]) == {"startup", "steps", "validation", "probes", "checkpoints", "final_evaluation"}
    assert all(value > 0 for value in split["seconds"].values()), split["seconds"]
    assert split["projected_seconds"]["steps"] == pytest.approx(split["seconds"]["steps"] * 2000 / split["steps"])
    text = roofline.section_table(section)
    assert "share of peak" in text and "| final_evaluation |" in text and "today / 498ec97" in text
