"""CUDA-only checks: run on a GPU machine (`pytest tests/scenarios/test_cuda.py`); skipped everywhere else."""

from __future__ import annotations

import pytest
import torch

from unet1d import UNet1D
from unet1d.diffusion import NoiseSchedule, diffusion_loss, sample

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("structure", ["conv", "attention"])
def test_cuda_forward_matches_cpu(structure: str) -> None:
    torch.manual_seed(0)
    model = UNet1D(base_channels=32, mid_structure=structure, mid_num_heads=8).eval()
    x, t = torch.randn(16, 72), torch.randint(0, 1000, (16,))
    expected = model(x, t)
    got = model.cuda()(x.cuda(), t.cuda()).cpu()
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("structure", ["conv", "attention"])
def test_mixed_precision_training_step_is_finite(structure: str, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = UNet1D(mid_structure=structure).cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    schedule = NoiseSchedule.cosine(1000)
    x0 = torch.randn(256, 72, device="cuda")
    losses = []
    for _ in range(20):
        with torch.autocast("cuda", dtype=dtype):
            output = diffusion_loss(model, schedule, x0)
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        losses.append(output.loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]


def test_sampling_on_cuda_is_reproducible() -> None:
    from unet1d.config import DiffusionConfig

    model = UNet1D(base_channels=32, mid_structure="attention").cuda()
    schedule, config = NoiseSchedule.cosine(1000), DiffusionConfig(sample_steps=20)
    first = sample(model, schedule, config, 64, 72, generator=torch.Generator("cuda").manual_seed(1), device="cuda")
    again = sample(model, schedule, config, 64, 72, generator=torch.Generator("cuda").manual_seed(1), device="cuda")
    assert first.device.type == "cuda" and torch.equal(first, again)


def test_validation_scores_a_network_alike_on_the_gpu_and_the_cpu() -> None:
    # its noise came from a generator on the poses' device: a GPU draws other numbers from one seed, so `unet1d
    # eval` on a CPU did not give back a GPU run's val/loss
    from unet1d.diffusion.validation import validation_loss

    torch.manual_seed(0)
    model, schedule, poses = UNet1D(base_channels=32).eval(), NoiseSchedule.cosine(1000), torch.randn(256, 72)
    on_cpu = validation_loss(model, schedule, poses, prediction="v", seed=3)
    on_gpu = validation_loss(model.cuda(), schedule, poses.cuda(), prediction="v", seed=3)
    assert on_gpu == pytest.approx(on_cpu, rel=1e-3)


def test_fp16_training_reports_the_scalers_skips_apart_from_non_finite_steps(tiny_config) -> None:
    # the scaler's first steps overflow on purpose: they were counted as non-finite, every fp16 run looked diverging
    from unet1d.training import train

    result = train(tiny_config("--max_steps", "30", "--mixed_precision", "fp16", "--device", "cuda"))
    assert result.exit_code == 0 and result.nonfinite_steps == 0
