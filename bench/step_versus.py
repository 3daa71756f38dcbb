"""The real training loop with today's network, EMA and norms against an earlier commit's, side by side.

    python bench/step_versus.py [--rev 498ec97] [--base_channels 32] [--batch_size 64] [--rounds 6] [--steps 5]

Both contenders are :class:`~unet1d.training.loop.Trainer` runs (``bench/run.py``'s ``HarnessRun``: EMA,
clipping, per-step norms, logging) built in this one process from the same config and seed. The earlier
one gets ``unet1d/model/{blocks,unet}.py``, ``unet1d/diffusion/ema.py`` and ``unet1d/training/metrics.py``
as they were at ``--rev`` (read with ``git show``, loaded as private modules, swapped into the loop's
namespace while its Trainer is built and stepped). Rounds interleave, the order rotating, and the ratio is
the median of per-round ratios, so a machine shared with other work slows both alike.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/step_versus.py` from anywhere
from bench.arguments import positive_int, run_main  # noqa: E402

EARLIER = {
    "blocks": "unet1d/model/blocks.py",
    "unet": "unet1d/model/unet.py",
    "ema": "unet1d/diffusion/ema.py",
    "metrics": "unet1d/training/metrics.py",
}
DEFAULT_REV = "498ec97"  # the tree before the faster step (issue 30)


def load_earlier(rev: str, folder: Path) -> dict[str, types.ModuleType]:
    """The EARLIER files at ``rev`` as private modules (``unet`` importing its own ``blocks``)."""
    modules: dict[str, types.ModuleType] = {}
    for name, path in EARLIER.items():
        text = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True)
        source = text.stdout.replace("from unet1d.model.blocks import", "from earlier_blocks import")
        file = folder / f"earlier_{name}.py"
        file.write_text(source)
        spec = importlib.util.spec_from_file_location(f"earlier_{name}", file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"earlier_{name}"] = module
        spec.loader.exec_module(module)
        modules[name] = module
    return modules


@contextlib.contextmanager
def swapped(namespace: Any, values: dict[str, Any]) -> Iterator[None]:
    """``namespace``'s attributes set to ``values`` inside the block, restored after."""
    before = {name: getattr(namespace, name) for name in values}
    for name, value in values.items():
        setattr(namespace, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(namespace, name, value)


class Contender:
    """A HarnessRun whose steps run with ``names`` in the training modules that import them (empty: today's)."""

    def __init__(self, config: Any, names: dict[str, Any]) -> None:
        from bench.run import HarnessRun
        from unet1d.training import components, loop

        self.swaps = [(module, {k: v for k, v in names.items() if hasattr(module, k)}) for module in (loop, components)]
        with self.swapped():
            self.harness = HarnessRun(config)
        self.batch_size = self.harness.batch_size
        built = type(self.harness.trainer.network)
        if "UNet1D" in names and built is not names["UNet1D"]:  # the loop no longer builds it where we swap
            raise RuntimeError(f"the earlier contender built {built.__module__}.UNet1D, not the earlier network")

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for module, values in self.swaps:
                stack.enter_context(swapped(module, values))
            yield

    def steps(self, count: int) -> None:
        with self.swapped():
            self.harness.steps(count)

    def close(self) -> None:
        self.harness.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from bench.run import MODES, bench_config, interleaved, ratio

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", default=DEFAULT_REV, help="The earlier commit (default: %(default)s).")
    parser.add_argument("--base_channels", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--mid", default="attention-8")
    parser.add_argument("--threads", type=positive_int, help="torch threads (default: the training default).")
    parser.add_argument("--rounds", type=positive_int, default=6)
    parser.add_argument("--steps", type=positive_int, default=5, help="Steps per contender per round.")
    args = parser.parse_args(argv)
    settings = MODES["quick"].__class__(
        base_channels=args.base_channels, batch_size=args.batch_size, rounds=args.rounds, steps=args.steps, warmup=2
    )
    with tempfile.TemporaryDirectory(prefix="unet1d-versus-") as tmp:
        earlier = load_earlier(args.rev, Path(tmp))
        metrics = earlier["metrics"]
        names = {
            "UNet1D": earlier["unet"].UNet1D, "EMA": earlier["ema"].EMA,
            "block_grad_norms": metrics.block_grad_norms, "parameter_norm": metrics.parameter_norm,
        }  # fmt: skip

        def config(name: str) -> Any:
            fields: dict[str, Any] = {"mid": args.mid, "tensorboard": False}
            if args.threads:
                fields["threads"] = args.threads
            return bench_config(settings, "cpu", Path(tmp) / name, **fields)

        contenders = {"today": Contender(config("today"), {}), args.rev: Contender(config(args.rev), names)}
        try:
            load = os.getloadavg()[0]
            rates = interleaved(contenders, settings, torch.device("cpu"))
            precision = contenders["today"].harness.trainer.precision
        finally:
            for contender in contenders.values():
                # Accelerate's state is one per process: the first close resets it under the second.
                with contextlib.suppress(AttributeError):
                    contender.close()
    result = {
        "rev": args.rev, "threads": torch.get_num_threads(), "precision": precision, "load_at_start": load,
        "samples_per_s": {name: statistics.median(r) for name, r in rates.items()}, "rounds": rates,
        "speedup": ratio(rates, "today", args.rev),
        "speedup_rounds": [a / b for a, b in zip(rates["today"], rates[args.rev], strict=True)],
    }  # fmt: skip
    print(
        f"{args.base_channels} channels, batch {args.batch_size}, {args.mid}, {result['threads']} threads, "
        f"{precision}, load {load:.1f}: today {result['samples_per_s']['today']:.0f} poses/s, {args.rev} "
        f"{result['samples_per_s'][args.rev]:.0f}; today / {args.rev} = {result['speedup']:.3f} (median of "
        f"{args.rounds} rounds: {', '.join(f'{r:.2f}' for r in result['speedup_rounds'])})"
    )
    return result


if __name__ == "__main__":
    run_main(main)
