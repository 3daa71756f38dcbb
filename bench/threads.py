"""Two training runs on one machine: how much they slow each other, before and after thread sharing.

    python bench/threads.py [--steps 30] [--json bench/results/threads.json]

Runs real ``unet1d train`` subprocesses (W&B off) and reads each run's summary (steps/s over
the whole run). Three settings, measured side by side in one invocation:

* ``solo``: one run alone, with every core (what a run gets by default when it is alone);
* ``pair, all cores each`` (before): two runs at once, each with every core — what two runs
  got before ``train.threads``: their OpenMP workers spin against each other;
* ``pair, cores/2 each`` (after): two runs at once, each with its share, as
  ``unet1d sweep local --parallel 2`` now gives them.

Ratios are per-run throughput against ``solo``; absolute numbers depend on the machine and
on whatever else it runs (the table states the core count).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from unet1d.training.launch import available_cores

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/threads.py` from anywhere
from bench.arguments import json_path, positive_int, run_main

RUN = [
    "--base_channels", "32", "--batch_size", "64", "--builtin_samples", "4096", "--eval_every", "100000",
    "--checkpoint_every", "100000", "--wandb_mode", "disabled", "--tensorboard", "false", "--progress", "none",
    "--quality_every", "0", "--final_eval_samples", "0",  # steps alone: a final evaluation took minutes a run
]  # fmt: skip


def run_together(count: int, threads: int, steps: int, root: Path) -> list[float]:
    """Start ``count`` runs at once with ``threads`` each; their steps/s over the whole run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNET1D_") and k != "OMP_NUM_THREADS"}
    env["UNET1D_THREADS"] = str(threads)
    dirs = [root / f"{count}x{threads}-{i}-{time.monotonic_ns()}" for i in range(count)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "unet1d.cli", "train", *RUN, "--max_steps", str(steps), "--output_dir", str(d)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for d in dirs
    ]
    if any(p.wait() for p in processes):
        raise SystemExit("a benchmark run failed")
    return [json.loads((d / "summary.json").read_text())["steps_per_s"] for d in dirs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=positive_int, default=30, help="Steps per run.")
    parser.add_argument("--json", type=json_path, default=Path("bench/results/threads.json"))
    args = parser.parse_args()
    cores = available_cores()
    settings = [("solo, all cores", 1, cores), ("pair, all cores each (before)", 2, cores)]
    settings.append(("pair, cores/2 each (after)", 2, max(1, cores // 2)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, count, threads in settings:
            rates = run_together(count, threads, args.steps, Path(tmp))
            rows.append({"setting": name, "runs": count, "threads_each": threads, "steps_per_s": rates})
    solo = rows[0]["steps_per_s"][0]
    print(f"{cores} cores, {args.steps} steps a run (base_channels 32, batch 64)")
    print(f"{'setting':32} {'threads':>7} {'steps/s per run':>18} {'vs solo':>8} {'total steps/s':>14}")
    for row in rows:
        mean = sum(row["steps_per_s"]) / len(row["steps_per_s"])
        row["ratio_to_solo"], row["total_steps_per_s"] = mean / solo, sum(row["steps_per_s"])
        rates = " / ".join(f"{r:.2f}" for r in row["steps_per_s"])
        total = row["total_steps_per_s"]
        print(f"{row['setting']:32} {row['threads_each']:>7} {rates:>18} {mean / solo:>8.2f} {total:>14.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    environment = {"cores": cores, "platform": platform.platform(), "steps": args.steps}
    args.json.write_text(json.dumps({"environment": environment, "results": rows}, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    run_main(main)
