"""The figure of docs/amass.md: samples of a model trained on the AMASS-convention fixture, drawn standing.

    python bench/amass_figure.py RUN_DIR docs/amass_samples.png

Samples in the data's own convention (z-up world, random heading about z), above real poses of the
run's training data; each is drawn with the data's up axis up and turned to face the viewer, so
people stand. Front view only, small enough to commit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/amass_figure.py` from anywhere
from bench.arguments import json_path, positive_int, run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=json_path, help="the PNG to write (checked before the work, as --json is)")
    parser.add_argument("--count", type=positive_int, default=8)
    args = parser.parse_args()
    if args.out.suffix.lower() != ".png":  # matplotlib would add .png, or refuse the format, after the work
        parser.error(f"argument out: {args.out}: name it .png")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from unet1d.body.heading import canonical_heading, upright_share
    from unet1d.body.kinematics import upright_positions
    from unet1d.data import load_pose_data
    from unet1d.data.up_axis import run_up_axis
    from unet1d.evaluation.evaluate import draw_samples, resolve_device
    from unet1d.evaluation.figures import _draw_skeleton
    from unet1d.store.checkpoints import load_for_eval

    checkpoint = load_for_eval(args.run)
    up = run_up_axis(checkpoint.config.data, checkpoint.stats)
    samples = draw_samples(checkpoint, 256, seed=0, device=resolve_device("cpu"))
    data = checkpoint.config.data.model_copy(update={"heading": "keep"})
    real = load_pose_data(data, checkpoint.config.model.pose_dim, seed=0).val
    real = real[np.random.default_rng(0).choice(len(real), args.count, replace=False)]
    figure, axes = plt.subplots(2, args.count, figsize=(1.1 * args.count, 3.2), squeeze=False)
    for row, (name, poses, colour) in enumerate([("samples", samples[: args.count], "tab:blue"),
                                                  ("real (held out)", real, "tab:gray")]):  # fmt: skip
        positions = upright_positions(canonical_heading(poses, up), up)
        for column in range(args.count):
            _draw_skeleton(axes[row, column], positions[column], 0, colour)
        axes[row, 0].set_title(name, loc="left", fontsize=8)
    share = upright_share(samples, up)
    figure.suptitle(f"step {checkpoint.step}, up axis {up}: {share:.0%} of 256 samples upright", fontsize=9)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=60)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB); upright {share:.1%}")


if __name__ == "__main__":
    run_main(main)
