"""The prior's energy as a fitting prior, against `denoise`: what docs/usage.md's energy figures come from.

    python bench/energy_fit.py RUN [--poses 200] [--steps 300] [--json out.json]

Held-out poses of the run's data get Gaussian noise of each level on the body numbers (the root is
left clean: the energy gives it no gradient); each is then fitted by Adam (lr 0.01) to the
noise-weighted data term ``||pose - noisy||^2 / (2 s^2)`` plus the energy averaged over 4 draws a step,
and denoised by ``PosePrior.denoise`` (the mean of 10 hypotheses). Prints the rms error per body number
against the clean poses (noisy / fitted / denoised) and the fit's seconds, and writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/energy_fit.py` from anywhere
from bench.arguments import json_path, positive_int, run_main
from unet1d.data import load_pose_data
from unet1d.prior import PosePrior

LEVELS = (0.05, 0.1, 0.2)  # noise std per body number, radians
DRAWS = 4  # energy draws averaged per step


def rms_body(poses: np.ndarray, clean: np.ndarray) -> float:
    return float(np.sqrt(((poses - clean)[:, 3:] ** 2).mean()))


def fit(prior: PosePrior, noisy: np.ndarray, std: float, steps: int) -> np.ndarray:
    """``noisy`` fitted by Adam to its noise-weighted data term plus the prior's energy (mean of DRAWS draws)."""
    target = torch.as_tensor(noisy)
    pose = target.clone().requires_grad_()
    optimizer = torch.optim.Adam([pose], lr=0.01)
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        optimizer.zero_grad()
        data = 0.5 * ((pose - target)[:, 3:] ** 2).sum(dim=1) / std**2
        energy = prior.energy(pose.repeat(DRAWS, 1), generator=generator).view(DRAWS, -1).mean(dim=0)
        (data + energy).sum().backward()
        optimizer.step()
    return pose.detach().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a run folder or checkpoint")
    parser.add_argument("--poses", type=positive_int, default=200, help="held-out poses (default 200)")
    parser.add_argument("--steps", type=positive_int, default=300, help="Adam steps per fit (default 300)")
    parser.add_argument("--json", type=json_path, help="write the rows here")
    args = parser.parse_args()
    torch.manual_seed(0)
    prior = PosePrior.load(args.run, device="cpu")
    config = prior.config
    held_out = load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed).val
    rng = np.random.default_rng(0)
    clean = held_out[rng.choice(len(held_out), min(args.poses, len(held_out)), replace=False)].astype(np.float32)
    rows = {}
    print(f"{'noise rad':>9}  {'noisy':>7}  {'fitted':>7}  {'denoise':>7}  {'fit s':>6}")
    for std in LEVELS:
        noisy = clean.copy()
        noisy[:, 3:] += rng.normal(0, std, noisy[:, 3:].shape).astype(np.float32)
        started = time.perf_counter()
        fitted = fit(prior, noisy, std, args.steps)
        seconds = time.perf_counter() - started
        denoised = prior.denoise(noisy, noise_std=std, hypotheses=10, seed=0).mean(axis=1)
        rows[str(std)] = {"noisy": rms_body(noisy, clean), "fitted": rms_body(fitted, clean),
                          "denoise_mean10": rms_body(denoised, clean), "seconds": seconds}  # fmt: skip
        row = rows[str(std)]
        print(f"{std:>9g}  {row['noisy']:7.4f}  {row['fitted']:7.4f}  {row['denoise_mean10']:7.4f}  {seconds:6.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    run_main(main)
