"""Which completion method: accuracy against cost, side by side on one checkpoint.

    python bench/completion_methods.py RUN [--poses 30] [--validation] [--parts all] [--json FILE] [--threads N]
        [--only METHODS] [--guided-check LEVELS|none]

Every candidate (method, steps, shrink) of :mod:`unet1d.diffusion.completion` completes DPoser's parts
of the same held-out poses, 10 hypotheses each, scored as ``unet1d eval`` scores them
(:mod:`unet1d.evaluation.tasks`: MPJPE of the hidden joints, mean and best of 10), beside the two
baselines that need no network, computed on the same poses. ``--validation`` takes the poses from
where no evaluation looks: for built-in runs the reference's second fresh draw (its ``floor``),
else the reference's poses that ``unet1d eval``'s task poses leave out; pick a default there, and
report on the task poses (the default). Network calls per hypothesis and the wall time, measured
in this one process (on a busy CPU quote the time ratios, not the seconds), say what each costs.
Denoising at 0.1 rad (one draw) is scored too unless ``--no-denoise``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from unet1d.body.skeleton import COMPLETION_PARTS
from unet1d.data import load_pose_data
from unet1d.diffusion import completion
from unet1d.diffusion.completion import GUIDED_STARTS, GUIDED_STEPS, RESAMPLE
from unet1d.evaluation import quality
from unet1d.evaluation.quality import heading_free
from unet1d.evaluation.tasks import (
    GaussianPrior,
    component_mask,
    mpjpe_cm,
    nearest_completions,
    noisy_poses,
    part_mask,
    skeleton_joints,
    task_poses,
)
from unet1d.prior import PosePrior

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/completion_methods.py` from anywhere
from bench.arguments import json_path, positive_int, run_main

# (method, steps, shrink): the hypotheses of a pose pulled towards their mean by shrink (1 = plain draws)
CANDIDATES: tuple[tuple[str, int, float], ...] = (
    ("replace", 20, 1.0),
    ("repaint", 5, 1.0),
    ("repaint", 5, 0.5),
    ("repaint", 10, 1.0),
    ("dps", 20, 1.0),
    ("dposer", 50, 1.0),
    ("anneal", 10, 1.0),
    ("anneal", 10, 0.5),
    ("guided", 5, 1.0),
    ("guided", 5, 0.5),
)
HYPOTHESES = 10
NOISE_STD = 0.1


def network_calls(method: str, steps: int) -> float:
    """Network evaluations per hypothesis (repaint's last step is not resampled; dps adds a backward pass; guided's
    shared trajectories, a backward pass with each of their calls but the last, and the pick's checks of each try
    run once per pose of HYPOTHESES)."""
    if method == "repaint":
        return (steps - 1) * RESAMPLE + 1
    per_pose = GUIDED_STARTS * (GUIDED_STEPS + len(completion.GUIDED_CHECK))
    return steps + per_pose / HYPOTHESES if method == "guided" else steps


def evaluation_poses(reference: quality.Reference, count: int, validation: bool, seed: int = 123) -> np.ndarray:
    """The task poses of ``unet1d eval`` (seed 0), or ``count`` validation poses no evaluation scores."""
    if not validation:
        return task_poses(reference, count, seed=0)
    if reference.name == "builtin-fresh":
        pool = np.asarray(reference.floor)
    else:
        scored = {row.tobytes() for row in np.asarray(task_poses(reference, 50, seed=0))}
        pool = np.array([row for row in np.asarray(reference.poses) if row.tobytes() not in scored])
    rows = np.random.default_rng(seed).choice(len(pool), min(count, len(pool)), replace=False)
    return pool[np.sort(rows)].astype(np.float32)


def baseline_rows(reference: quality.Reference, poses: np.ndarray, parts: tuple[str, ...]) -> list[dict]:
    """The Gaussian's conditional mean and the 10 nearest training poses, on these poses (heading-free)."""
    up, width = reference.up_axis, poses.shape[1]
    free = heading_free(poses, up).astype(np.float64)
    train = heading_free(reference.train, up).astype(np.float64)
    gaussian = GaussianPrior.fit(train)
    rows = {"gaussian": {}, "nearest": {}}
    for part in parts:
        joints = part_mask(part, width)
        scored, hidden = skeleton_joints(joints, width), component_mask(joints)
        error = mpjpe_cm(gaussian.conditional_mean(free, hidden), free, scored, up)
        rows["gaussian"][f"{part}_mean"] = rows["gaussian"][f"{part}_best"] = float(error.mean())
        error = mpjpe_cm(nearest_completions(free, hidden, train, HYPOTHESES), free, scored, up)
        rows["nearest"][f"{part}_mean"], rows["nearest"][f"{part}_best"] = error_pair(error)
    return [{"method": f"baseline: {name}", "steps": 0, "shrink": 1.0, "calls": 0, "seconds": 0.0, **scores}
            for name, scores in rows.items()]  # fmt: skip


def error_pair(errors: np.ndarray) -> tuple[float, float]:
    """(N, H) errors -> (mean of H, best of H), averaged over the poses."""
    return float(errors.mean()), float(errors.min(axis=1).mean())


def score(prior: PosePrior, poses: np.ndarray, up: str, parts: tuple[str, ...], candidate: tuple, denoise: bool):
    """Mean-of-10 and best-of-10 completion error per part (one call for all parts), and one draw's denoising."""
    method, steps, shrink = candidate
    width = poses.shape[1]
    masks = {part: part_mask(part, width) for part in parts}
    hidden = np.repeat(np.stack(list(masks.values())), len(poses), axis=0)
    out = prior.complete(np.concatenate([poses] * len(parts)), hidden, hypotheses=HYPOTHESES, method=method,
                         steps=steps, shrink=shrink)  # fmt: skip
    row: dict[str, float] = {}
    for index, (part, joints) in enumerate(masks.items()):
        errors = mpjpe_cm(out[index * len(poses) : (index + 1) * len(poses)], poses, skeleton_joints(joints, width), up)
        row[f"{part}_mean"], row[f"{part}_best"] = error_pair(errors)
    if denoise:
        noisy = noisy_poses(poses, NOISE_STD, 0)
        denoised = prior.denoise(noisy, noise_std=NOISE_STD, method=method, steps=steps)
        row["denoise"] = float(mpjpe_cm(denoised[:, 0], poses, None, up).mean())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder or checkpoint")
    parser.add_argument("--poses", type=positive_int, default=30, help="held-out poses per task")
    parser.add_argument("--validation", action="store_true", help="poses no evaluation scores (to pick with)")
    parser.add_argument("--parts", default="left_leg,arms,trunk", help="comma-separated parts, or 'all'")
    parser.add_argument("--no-denoise", action="store_true")
    parser.add_argument("--only", default=None, help="comma-separated methods: run just these candidates")
    parser.add_argument("--json", type=json_path, default=None)
    parser.add_argument("--threads", type=positive_int, default=None)
    parser.add_argument(
        "--guided-check",
        default=None,
        help="guided's pick: comma-separated levels "
        "(fractions of the schedule; default GUIDED_CHECK), or 'none' for the tries' own misfit",
    )
    args = parser.parse_args()
    if args.guided_check is not None:
        try:
            levels = () if args.guided_check == "none" else tuple(map(float, args.guided_check.split(",")))
        except ValueError:
            levels = (math.nan,)
        if not all(0 < level <= 1 for level in levels):  # fractions of the schedule (NaN fails too)
            parser.error(f"argument --guided-check: {args.guided_check}: comma-separated fractions in (0, 1], or none")
        completion.GUIDED_CHECK = levels
    if args.threads:
        torch.set_num_threads(args.threads)
    parts = tuple(COMPLETION_PARTS) if args.parts == "all" else tuple(args.parts.split(","))
    unknown = sorted(set(parts) - set(COMPLETION_PARTS))
    if unknown:
        parser.error(f"--parts: unknown {', '.join(unknown)}; allowed: all, {', '.join(COMPLETION_PARTS)}")
    methods = {name for name, *_ in CANDIDATES}
    if args.only is not None and set(args.only.split(",")) - methods:
        parser.error(f"--only {args.only!r}: allowed: {', '.join(sorted(methods))}, comma-separated")

    prior = PosePrior.load(args.run)
    config = prior.config
    splits = load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed)
    reference = quality.build_reference(config, splits, config.evaluation.eval_reference)
    poses = evaluation_poses(reference, args.poses, args.validation)
    rows = baseline_rows(reference, poses, parts)
    chosen = [c for c in CANDIDATES if args.only is None or c[0] in args.only.split(",")]
    for candidate in chosen:
        started = time.perf_counter()
        scores = score(prior, poses, reference.up_axis, parts, candidate, not args.no_denoise)
        method, steps, shrink = candidate
        rows.append({"method": method, "steps": steps, "shrink": shrink, "calls": network_calls(method, steps),
                     "seconds": time.perf_counter() - started, **scores})  # fmt: skip
        print(f"{method:>8} {steps:>4} shrink {shrink}: {rows[-1]['seconds']:.1f} s", flush=True)

    keys = [f"{part}_{kind}" for part in parts for kind in ("mean", "best")]
    keys += [] if args.no_denoise else ["denoise"]
    print(f"\n{'method':>18} {'steps':>5} {'shrink':>6} {'calls':>5} {'s':>7} " + " ".join(f"{k:>14}" for k in keys))
    for row in rows:
        print(f"{row['method']:>18} {row['steps']:>5} {row['shrink']:>6} {row['calls']:>5} {row['seconds']:>7.1f} "
              + " ".join(f"{row.get(k, float('nan')):>14.2f}" for k in keys))  # fmt: skip
    if args.json:
        payload = {"run": str(args.run), "poses": args.poses, "validation": args.validation, "hypotheses": HYPOTHESES,
                   "guided_check": list(completion.GUIDED_CHECK), "rows": rows}  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    run_main(main)
