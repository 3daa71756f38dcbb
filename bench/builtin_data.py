"""How fast the built-in pose set is generated (on a cache miss: every run and eval reads it from the cache after).

    python bench/builtin_data.py                    # table + bench/results/builtin_data.json

Times ``generate_builtin_poses`` at a few sizes, median over repeats after one warm-up call.
The target (20,000 poses in under 1 s on one CPU core, formerly a timed test) is reported as a
column, never asserted: a shared, loaded machine would make such an assertion flaky.
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

import numpy as np

from unet1d.data.builtin import generate_builtin_poses

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/builtin_data.py` from anywhere
from bench.arguments import json_path, positive_int, run_main

TARGET_POSES, TARGET_SECONDS = 20_000, 1.0


@dataclass
class Result:
    poses: int
    median_s: float
    poses_per_s: float
    within_target: bool | None  # None: not the target's size


def measure(poses: int, repeats: int) -> Result:
    times = []
    for repeat in range(repeats):
        start = time.perf_counter()
        generate_builtin_poses(poses, seed=5 + repeat)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    within = median < TARGET_SECONDS if poses == TARGET_POSES else None
    return Result(poses, median, poses / median, within)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=[1_000, 5_000, TARGET_POSES, 50_000])
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--json", type=json_path, default=Path("bench/results/builtin_data.json"))
    args = parser.parse_args()

    generate_builtin_poses(1_000, seed=0)  # warm up (imports, caches)
    results = [measure(size, args.repeats) for size in args.sizes]
    print(f"target: {TARGET_POSES:,} poses in < {TARGET_SECONDS:.1f} s")
    print(f"{'poses':>8}{'median s':>10}{'poses/s':>12}{'target':>8}")
    for r in results:
        target = "-" if r.within_target is None else ("met" if r.within_target else "MISSED")
        print(f"{r.poses:>8,}{r.median_s:>10.3f}{r.poses_per_s:>12,.0f}{target:>8}")
    environment = {
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "repeats": args.repeats,
        "target": {"poses": TARGET_POSES, "seconds": TARGET_SECONDS},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"environment": environment, "results": [asdict(r) for r in results]}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    run_main(main)
