"""Our UNet1D next to diffusers' UNet1DModel on the same 72-long pose input, measured in one run.

    pip install -e '.[bench]' && python -m bench.peers [--device cuda]

diffusers has no configuration of exactly our size, so two of its 1D UNets bracket ours
(2.6M and 10.5M parameters). Reported: parameters, training-step and sampling-step time relative
to our conv model, and the bytes autograd saves for backward. (lucidrains' Unet1D is not here:
its package imports torchvision at import time, which has no matching CPU build beside torch
2.13 on our CI machines.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

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

    class Wrapped(torch.nn.Module):  # (B, 1, 72), (B,) -> (B, 1, 72), like ours
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.inner(x, t).sample

    return Wrapped()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=Path("bench/results/peers.json"))
    args = parser.parse_args()
    device = torch.device(args.device)
    builders = {
        "unet1d conv": lambda: UNet1D(mid_structure="conv"),
        "unet1d attention-h8": lambda: UNet1D(mid_structure="attention"),
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
    main()
