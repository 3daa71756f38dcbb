"""Our UNet1D next to diffusers' UNet1DModel on the same 72-long pose input, measured in one run.

    pip install -e '.[bench]' && python -m bench.peers [--device cuda]

diffusers has no configuration of exactly our size, so two of its 1D UNets bracket ours
(2.6M and 10.5M parameters). Reported: parameters, training-step and sampling-step time relative
to our conv model, and the bytes autograd saves for backward.

The matched-size peers that ``bench/run.py`` trains are built here too: diffusers' ResNet-style
temporal UNet (:func:`diffusers_temporal_unet`) and lucidrains' ``Unet1D``
(:func:`lucidrains_unet`), whose 1D module is loaded without its package ``__init__`` (which
imports torchvision, not needed by the 1D network and without a CPU build beside our torch).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import types
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/peers.py` from anywhere
from bench.arguments import json_path, run_main
from bench.mid_block import median_ms, saved_activation_bytes
from unet1d.model import UNet1D, count_parameters


def diffusers_unet(channels: tuple[int, int, int]) -> torch.nn.Module:
    from diffusers import UNet1DModel

    model = UNet1DModel(
        sample_size=72, in_channels=1, out_channels=1, extra_in_channels=2 * channels[0], block_out_channels=channels,
        down_block_types=("DownBlock1DNoSkip", "DownBlock1D", "AttnDownBlock1D"),
        up_block_types=("AttnUpBlock1D", "UpBlock1D", "UpBlock1DNoSkip"),
        mid_block_type="UNetMidBlock1D", out_block_type=None, act_fn=None,
    )  # fmt: skip

    return _SampleOutput(model)  # (B, 1, 72), (B,) -> (B, 1, 72), like ours


class _SampleOutput(torch.nn.Module):
    """diffusers returns an output object; ours and lucidrains' return the tensor: (B, 1, L) -> (B, 1, L)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.inner(x, t).sample


def diffusers_temporal_unet(width: int | Sequence[int] = 80) -> torch.nn.Module:
    """diffusers' ResNet-style 1D UNet (Janner et al.'s temporal UNet: conv ResNet blocks, positional
    time embedding, like ours), widths (w, 2w, 4w) or the three given; width 80 has 6.20M parameters
    (ours: 5.80M; its GroupNorm needs multiples of 8, and 72 gives 5.02M)."""
    from diffusers import UNet1DModel

    channels = (width, 2 * width, 4 * width) if isinstance(width, int) else tuple(width)
    model = UNet1DModel(
        sample_size=72, in_channels=1, out_channels=1, block_out_channels=channels,
        down_block_types=("DownResnetBlock1D",) * 3, up_block_types=("UpResnetBlock1D",) * 2,
        mid_block_type="MidResTemporalBlock1D", out_block_type="OutConv1DBlock", time_embedding_type="positional",
        act_fn="mish", use_timestep_embedding=True, flip_sin_to_cos=False, freq_shift=1, extra_in_channels=0,
        norm_num_groups=8, layers_per_block=1, downsample_each_block=False,
    )  # fmt: skip
    return _SampleOutput(model)


def load_lucidrains_1d() -> types.ModuleType:
    """lucidrains' ``denoising_diffusion_pytorch_1d`` module, without running its package ``__init__``.

    The package ``__init__`` imports the 2D code and through it torchvision; the 1D module needs only
    torch, einops, ema-pytorch, accelerate and tqdm. A bare package object with the right ``__path__``
    stands in for the real one so the module's own ``from denoising_diffusion_pytorch.version import``
    resolves without it.
    """
    name = "denoising_diffusion_pytorch"
    module_name = f"{name}.denoising_diffusion_pytorch_1d"
    if module_name in sys.modules:
        return sys.modules[module_name]
    try:
        package_dir = Path(metadata.distribution("denoising-diffusion-pytorch").locate_file(name))
    except metadata.PackageNotFoundError:
        raise ImportError(
            "denoising-diffusion-pytorch is not installed: pip install --no-deps denoising-diffusion-pytorch==2.3.4 "
            "(its declared torchvision would replace a CPU torch with a CUDA build)"
        ) from None
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(package_dir)]
        sys.modules[name] = package
    spec = importlib.util.spec_from_file_location(module_name, package_dir / "denoising_diffusion_pytorch_1d.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no 1D module in {package_dir}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def lucidrains_unet(dim: int = 40) -> torch.nn.Module:
    """lucidrains' ``Unet1D`` (ResNet blocks, linear attention per stage, full attention in the middle)
    on one channel; dim 40 with mults (1, 2, 4, 8) has 6.05M parameters (ours: 5.80M; its time embedding
    needs an even dim, and 38 gives 5.49M)."""
    return load_lucidrains_1d().Unet1D(dim, dim_mults=(1, 2, 4, 8), channels=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=json_path, default=Path("bench/results/peers.json"))
    args = parser.parse_args()
    device = torch.device(args.device)
    builders = {
        "unet1d conv": lambda: UNet1D(mid_structure="conv"),
        "unet1d attention-8": lambda: UNet1D(mid_structure="attention"),
        "diffusers 32-64-128": lambda: diffusers_unet((32, 64, 128)),
        "diffusers 64-128-256": lambda: diffusers_unet((64, 128, 256)),
    }
    x = torch.randn(args.batch_size, 1, 72, device=device)
    t = torch.randint(0, 1000, (args.batch_size,), device=device)
    rows = []
    for name, build in builders.items():
        torch.manual_seed(0)
        model = build().to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def train_step(model: torch.nn.Module = model, optimizer: torch.optim.Optimizer = optimizer) -> None:
            loss = (model(x, t) - x).pow(2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        def sample_step(model: torch.nn.Module = model) -> None:
            with torch.no_grad():
                model(x, t)

        rows.append(
            {
                "model": name,
                "parameters": count_parameters(model),
                "train_step_ms": median_ms(train_step, device, 2, args.repeats),
                "sample_step_ms": median_ms(sample_step, device, 2, args.repeats),
                "saved_activation_mib": saved_activation_bytes(model, x, t) / 2**20,
            }
        )
    base = rows[0]
    print(f"device={args.device} batch={args.batch_size}")
    print(f"{'model':<22}{'params':>12}{'train x':>9}{'sample x':>10}{'saved act MiB':>15}")
    for row in rows:
        row["train_ratio"] = row["train_step_ms"] / base["train_step_ms"]
        row["sample_ratio"] = row["sample_step_ms"] / base["sample_step_ms"]
        print(
            f"{row['model']:<22}{row['parameters']:>12,}{row['train_ratio']:>9.2f}{row['sample_ratio']:>10.2f}"
            f"{row['saved_activation_mib']:>15.1f}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"device": args.device, "batch_size": args.batch_size, "rows": rows}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    run_main(main)
