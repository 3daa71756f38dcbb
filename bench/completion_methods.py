"""Which completion method: accuracy against cost, side by side on one checkpoint.

    python bench/completion_methods.py RUN [--poses 100] [--json FILE] [--threads N]

Every method of :mod:`unet1d.diffusion.completion` at a few step counts completes the seven
DPoser parts of the same held-out poses (10 hypotheses each) and denoises them at the evaluation's
noise levels, scored as ``unet1d eval`` scores them (:func:`unet1d.evaluation.tasks.score_tasks`),
beside the two baselines that need no network. Network calls per hypothesis and the wall time,
measured in this one process (on a busy CPU quote the time ratios, not the seconds), say what each
costs. The table is docs/quality.md's method table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from unet1d.data import load_pose_data
from unet1d.evaluation import quality
from unet1d.evaluation.tasks import score_tasks
from unet1d.prior import PosePrior

# (method, steps): network calls per hypothesis = steps (x4 for repaint's resampling; dps adds a backward pass)
CANDIDATES: tuple[tuple[str, int], ...] = (
    ("replace", 20),
    ("replace", 50),
    ("replace", 100),
    ("repaint", 10),
    ("repaint", 25),
    ("dps", 50),
    ("dposer", 50),
    ("dposer", 100),
)
CALLS = {"replace": 1, "repaint": 4, "dps": 1, "dposer": 1}


class FixedMethod:
    """A :class:`PosePrior` whose method and steps are fixed (what score_tasks calls)."""

    def __init__(self, prior: PosePrior, method: str, steps: int) -> None:
        self.prior, self.method, self.steps = prior, method, steps

    def complete(self, poses: np.ndarray, hidden: np.ndarray, hypotheses: int = 10, seed: int = 0, method=None):
        return self.prior.complete(
            poses, hidden, hypotheses=hypotheses, seed=seed, method=self.method, steps=self.steps
        )

    def denoise(self, poses: np.ndarray, noise_std: float = 0.1, hypotheses: int = 1, seed: int = 0):
        return self.prior.denoise(poses, noise_std=noise_std, hypotheses=hypotheses, seed=seed, method=self.method,
                                  steps=self.steps)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder or checkpoint")
    parser.add_argument("--poses", type=int, default=100, help="held-out poses per task")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    prior = PosePrior.load(args.run)
    config = prior.config
    splits = load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed)
    reference = quality.build_reference(config, splits, config.evaluation.eval_reference)
    rows = []
    _, baselines = score_tasks(None, reference, args.poses)
    for name, scores in baselines.items():
        rows.append({"method": f"baseline: {name}", "steps": 0, "calls": 0, "seconds": 0.0, **scores})
    for method, steps in CANDIDATES:
        started = time.perf_counter()
        scores, _ = score_tasks(FixedMethod(prior, method, steps), reference, args.poses)
        rows.append({"method": method, "steps": steps, "calls": steps * CALLS[method],
                     "seconds": time.perf_counter() - started, **scores})  # fmt: skip
        print(f"{method:>8} {steps:>4}: {rows[-1]['seconds']:.1f} s", flush=True)

    keys = ("completion_cm", "completion_best_cm", "completion_cm_legs", "completion_cm_trunk", "denoise_cm")
    print(f"\n{'method':>18} {'steps':>5} {'calls':>5} {'s':>7} " + " ".join(f"{k:>20}" for k in keys))
    for row in rows:
        print(f"{row['method']:>18} {row['steps']:>5} {row['calls']:>5} {row['seconds']:>7.1f} "
              + " ".join(f"{row.get(k, float('nan')):>20.2f}" for k in keys))  # fmt: skip
    if args.json:
        payload = {"run": str(args.run), "poses": args.poses, "rows": rows}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
