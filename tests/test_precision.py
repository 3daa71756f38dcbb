"""``train.mixed_precision auto``: bf16 where the hardware runs it natively, fp32 elsewhere, named in reports."""

from __future__ import annotations

import json

import pytest
import torch

from unet1d.config_sources import load_config
from unet1d.evaluation.probe import QualityProbe
from unet1d.precision import autocast, cpu_has_native_bf16, native_bf16, resolve_precision, sampling_precision
from unet1d.training import train
from unet1d.training.launch import launcher_precision


def flags_from_proc_cpuinfo() -> bool:
    with open("/proc/cpuinfo") as cpuinfo:
        text = cpuinfo.read()
    return "amx_bf16" in text or "avx512_bf16" in text


@pytest.mark.skipif(not __import__("os").path.exists("/proc/cpuinfo"), reason="needs Linux CPU flags")
def test_the_cpu_probe_agrees_with_the_kernels_cpu_flags() -> None:
    assert cpu_has_native_bf16() == flags_from_proc_cpuinfo()


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_exactly_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert resolve_precision("auto", "cpu") == ("bf16" if native else "no")
    for explicit in ("no", "bf16", "fp16"):
        assert resolve_precision(explicit, "cpu") == explicit


def test_cuda_without_a_device_is_not_native() -> None:
    if torch.cuda.is_available():
        assert native_bf16("cuda") == torch.cuda.is_bf16_supported(including_emulation=False)
    else:
        assert native_bf16("cuda") is False


def test_autocast_runs_the_network_in_bf16_and_no_leaves_it_fp32() -> None:
    """The autocast sampling runs under (training's is Accelerate's, tested in test_loop_numbers.py)."""
    layer = torch.nn.Conv1d(4, 4, 3)
    x = torch.randn(2, 4, 8)
    with autocast("bf16", "cpu"):
        assert layer(x).dtype == torch.bfloat16
    with autocast("no", "cpu"):
        assert layer(x).dtype == torch.float32


def test_sampling_and_the_launcher_resolve_auto_like_training() -> None:
    expected = "bf16" if cpu_has_native_bf16() else "no"
    default = load_config(None, [], environ={})
    assert default.diffusion.sample_precision == "auto" and default.train.mixed_precision == "auto"
    assert sampling_precision(default, torch.device("cpu")) == expected  # sampling has its own setting
    fp32 = load_config(None, ["--sample_precision", "no", "--mixed_precision", "bf16"], environ={})
    assert sampling_precision(fp32, torch.device("cpu")) == "no"
    if not torch.cuda.is_available():
        assert launcher_precision(load_config(None, ["--mixed_precision", "auto"], environ={})) == expected
    fp16 = load_config(None, ["--sample_precision", "fp16"], environ={})
    assert sampling_precision(fp16, torch.device("cpu")) == "no"  # fp16 is GPU-only; sampling falls back


@pytest.mark.slow  # a run with a final evaluation
def test_summary_and_final_eval_say_which_precision_ran(tiny_config, monkeypatch: pytest.MonkeyPatch) -> None:
    from unet1d.evaluation import quality

    monkeypatch.setattr(quality, "REFERENCE_POSES", 400)  # a smaller fresh reference: same code, faster
    config = tiny_config(
        "--max_steps", "4", "--mixed_precision", "auto", "--sample_precision", "no", "--final_eval_samples", "32",
        "--task_poses", "0",
    )  # fmt: skip
    result = train(config, probe=QualityProbe)  # the probe writes the final evaluation
    expected = "bf16" if cpu_has_native_bf16() else "fp32"
    assert result.compute_dtype == expected
    output_dir = config.train.output_dir
    assert json.loads((output_dir / "summary.json").read_text())["compute_dtype"] == expected
    assert json.loads((output_dir / "eval" / "step-4.json").read_text())["compute_dtype"] == "fp32"
