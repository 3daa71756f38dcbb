"""The classifier test's folds in turn, in a thread pool, and in the fold processes ``unet1d eval`` uses.

    python bench/c2st_pool.py FAKE.npy REAL.npy [--rounds 2]   # prints one JSON object

Run in a fresh interpreter on purpose: :func:`unet1d.evaluation.c2st.start_fold_workers` forks its
processes only while the process is one thread, which a process that has run torch never is again
(``bench/run.py`` calls this script for its ``scoring`` section). The three layouts alternate in each
round, so a machine that is busy with other work slows each alike; the AUCs must agree exactly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/c2st_pool.py` from anywhere
from bench.arguments import positive_int, run_main
from unet1d.evaluation import c2st  # imports no torch: its fold processes fork only from a one-thread process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fake", type=Path)
    parser.add_argument("real", type=Path)
    parser.add_argument("--rounds", type=positive_int, default=2)
    args = parser.parse_args()
    missing = [str(path) for path in (args.fake, args.real) if not path.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)} (.npy arrays of poses)")
    processes = c2st.start_fold_workers()  # before anything starts a thread
    fake, real = np.load(args.fake), np.load(args.real)
    pool, chosen = c2st._fold_processes, c2st.parallel_tests
    layouts = {
        "in_turn": (None, lambda count: 1),
        "threads": (None, chosen),
        **({"processes": (pool, chosen)} if processes else {}),
    }
    seconds: dict[str, list[float]] = {name: [] for name in layouts}
    aucs: dict[str, float] = {}
    try:
        c2st._fold_processes, c2st.parallel_tests = None, layouts["in_turn"][1]
        c2st.c2st_scores(fake[:30], real[:30], parts=False)  # scikit-learn imported here too, outside the clock
        for _ in range(args.rounds):
            for name, (processes_pool, workers) in layouts.items():
                c2st._fold_processes, c2st.parallel_tests = processes_pool, workers
                started = time.perf_counter()
                aucs[name] = c2st.c2st_scores(fake, real)[c2st.KEY]
                seconds[name].append(time.perf_counter() - started)
    finally:
        c2st._fold_processes, c2st.parallel_tests = pool, chosen
    print(json.dumps({"seconds": seconds, "auc": aucs, "cores": chosen(1 << 16), "processes": processes}))


if __name__ == "__main__":
    run_main(main)
