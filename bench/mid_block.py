"""Speed and memory of UNet1D variants, measured side by side in one run.

    python bench/mid_block.py                       # CPU: ratios only are meaningful
    python bench/mid_block.py --device cuda --json bench/results/mid_block_cuda.json

Variants: conv middle vs attention middle (4 / 8 / 16 heads), each with the middle after two
downsamplings (18 positions, the default) and at full length 72 (``downsample=False``).
For each: parameters, training-step time (forward + backward + AdamW), sampling-step time
(forward, no grad), the bytes autograd saves for backward (device-independent activation
memory), and on CUDA the peak allocated memory. Times are medians over repeats after warm-up;
all ratios are against the default conv model measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from unet1d.model import UNet1D, count_parameters

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/mid_block.py` from anywhere
from bench.arguments import json_path, non_negative_int, positive_int, run_main


@dataclass
class Result:
    variant: str
    mid_structure: str
    heads: int
    mid_length: int
    parameters: int
    train_step_ms: float
    sample_step_ms: float
    saved_activation_mib: float
    peak_cuda_mib: float | None
    train_ratio: float = 1.0
    sample_ratio: float = 1.0
    activation_ratio: float = 1.0


VARIANTS = [
    ("conv", 8, True),
    ("attention", 4, True),
    ("attention", 8, True),
    ("attention", 16, True),
    ("conv", 8, False),
    ("attention", 8, False),
]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn, device: torch.device, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def saved_activation_bytes(model: torch.nn.Module, x: torch.Tensor, t: torch.Tensor) -> int:
    """Bytes of tensors autograd keeps for backward in one forward pass."""
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(x, t).sum()
    return total


def measure(structure: str, heads: int, downsample: bool, args: argparse.Namespace) -> Result:
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = UNet1D(
        base_channels=args.base_channels, mid_structure=structure, mid_num_heads=heads, downsample=downsample
    )
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(args.batch_size, 72, device=device)
    t = torch.randint(0, 1000, (args.batch_size,), device=device)

    def train_step() -> None:
        loss = (model(x, t) - x).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def sample_step() -> None:
        model(x, t)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model.train()
    train_ms = median_ms(train_step, device, args.warmup, args.repeats)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    model.eval()
    sample_ms = median_ms(sample_step, device, args.warmup, args.repeats)
    model.train()
    saved = saved_activation_bytes(model, x, t) / 2**20
    length = 72 // 4 if downsample else 72
    name = f"{structure}{'' if structure == 'conv' else f'-h{heads}'}-L{length}"
    return Result(name, structure, heads, length, count_parameters(model), train_ms, sample_ms, saved, peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=positive_int, default=256)
    parser.add_argument("--base-channels", type=positive_int, default=128)
    parser.add_argument("--warmup", type=non_negative_int, default=2)
    parser.add_argument("--repeats", type=positive_int, default=5)
    parser.add_argument("--json", type=json_path, default=Path("bench/results/mid_block.json"))
    args = parser.parse_args()
    if args.base_channels % 2:  # the network's group norms halve it
        parser.error(f"argument --base-channels: {args.base_channels}: must be even")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: this torch sees no CUDA device; allowed here: cpu")

    results = [measure(structure, heads, downsample, args) for structure, heads, downsample in VARIANTS]
    baseline = results[0]
    for result in results:
        result.train_ratio = result.train_step_ms / baseline.train_step_ms
        result.sample_ratio = result.sample_step_ms / baseline.sample_step_ms
        result.activation_ratio = result.saved_activation_mib / baseline.saved_activation_mib

    absolute = args.device.startswith("cuda")
    header = f"{'variant':<18}{'params':>11}{'train x':>9}{'sample x':>10}{'saved act MiB':>15}{'act x':>7}"
    if absolute:
        header += f"{'train ms':>10}{'sample ms':>11}{'peak MiB':>10}"
    print(f"device={args.device} batch={args.batch_size} base_channels={args.base_channels}")
    print(header)
    for r in results:
        row = (
            f"{r.variant:<18}{r.parameters:>11,}{r.train_ratio:>9.2f}{r.sample_ratio:>10.2f}"
            f"{r.saved_activation_mib:>15.1f}{r.activation_ratio:>7.2f}"
        )
        if absolute:
            row += f"{r.train_step_ms:>10.2f}{r.sample_step_ms:>11.2f}{r.peak_cuda_mib or 0:>10.1f}"
        print(row)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    environment = {
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if absolute else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "batch_size": args.batch_size,
        "base_channels": args.base_channels,
    }
    args.json.write_text(json.dumps({"environment": environment, "results": [asdict(r) for r in results]}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    run_main(main)
