"""Which completion method: accuracy against cost, side by side on one checkpoint.

    python bench/completion_methods.py RUN [--poses 30] [--json FILE] [--threads N]

Every method of :mod:`unet1d.diffusion.completion` at a few step counts completes three of
DPoser's parts (a leg, both arms, the trunk) of the same held-out poses, 10 hypotheses each, and
denoises them at 0.1 rad, scored as ``unet1d eval`` scores them (:mod:`unet1d.evaluation.tasks`),
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
from unet1d.evaluation.tasks import mpjpe_cm, noisy_poses, part_mask, score_tasks, skeleton_joints, task_poses
from unet1d.prior import PosePrior

# (method, steps): network calls per hypothesis = steps (x4 for repaint's resampling; dps adds a backward pass)
CANDIDATES: tuple[tuple[str, int], ...] = (
    ("replace", 20),
    ("replace", 50),
    ("repaint", 5),
    ("repaint", 10),
    ("dps", 20),
    ("dposer", 50),
)
CALLS = {"replace": 1, "repaint": 4, "dps": 1, "dposer": 1}
PARTS = ("left_leg", "arms", "trunk")  # one limb, both arms, DPoser's trunk: the three kinds of part
HYPOTHESES = 10
NOISE_STD = 0.1


def score(prior: PosePrior, poses: np.ndarray, up: str, method: str, steps: int) -> dict[str, float]:
    """Mean-of-10 and best-of-10 completion error per part, and the denoising error, in cm."""
    row: dict[str, float] = {}
    for part in PARTS:
        hidden = part_mask(part, poses.shape[1])
        out = prior.complete(poses, hidden, hypotheses=HYPOTHESES, method=method, steps=steps)
        errors = mpjpe_cm(out, poses, skeleton_joints(hidden, poses.shape[1]), up)
        row[f"{part}_mean"], row[f"{part}_best"] = float(errors.mean()), float(errors.min(axis=1).mean())
    noisy = noisy_poses(poses, NOISE_STD, 0)
    denoised = prior.denoise(noisy, noise_std=NOISE_STD, method=method, steps=steps)
    row["denoise"] = float(mpjpe_cm(denoised[:, 0], poses, None, up).mean())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder or checkpoint")
    parser.add_argument("--poses", type=int, default=30, help="held-out poses per task")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    prior = PosePrior.load(args.run)
    config = prior.config
    splits = load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed)
    reference = quality.build_reference(config, splits, config.evaluation.eval_reference)
    poses = task_poses(reference, args.poses, seed=0)
    up = reference.up_axis
    _, baselines = score_tasks(None, reference, args.poses)  # the same poses (task_poses, seed 0)
    rows = [{"method": f"baseline: {name}", "steps": 0, "calls": 0, "seconds": 0.0,
             **{f"{part}_mean": scores[f"completion_cm_{part}"] for part in PARTS},
             **{f"{part}_best": scores[f"completion_best_cm_{part}"] for part in PARTS},
             "denoise": scores["denoise_cm_010"]} for name, scores in baselines.items()]  # fmt: skip
    for method, steps in CANDIDATES:
        started = time.perf_counter()
        scores = score(prior, poses, up, method, steps)
        rows.append({"method": method, "steps": steps, "calls": steps * CALLS[method],
                     "seconds": time.perf_counter() - started, **scores})  # fmt: skip
        print(f"{method:>8} {steps:>4}: {rows[-1]['seconds']:.1f} s", flush=True)

    keys = [f"{part}_{kind}" for part in PARTS for kind in ("mean", "best")] + ["denoise"]
    print(f"\n{'method':>18} {'steps':>5} {'calls':>5} {'s':>7} " + " ".join(f"{k:>12}" for k in keys))
    for row in rows:
        print(f"{row['method']:>18} {row['steps']:>5} {row['calls']:>5} {row['seconds']:>7.1f} "
              + " ".join(f"{row[k]:>12.2f}" for k in keys))  # fmt: skip
    if args.json:
        payload = {"run": str(args.run), "poses": args.poses, "hypotheses": HYPOTHESES, "rows": rows}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
