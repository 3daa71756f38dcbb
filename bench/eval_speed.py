"""What `unet1d eval` spends its time on, first against a reference and with its baselines cached, and
where the classifier test's folds run fastest.

    python bench/eval_speed.py RUN [--num-samples 2000] [--task-poses 32] [--json bench/results/eval_speed.json]
    python bench/eval_speed.py RUN --eval-only --against d2cd1af --rounds 2   # today's eval beside that commit's
    python bench/eval_speed.py RUN --eval-only --against d2cd1af --this HEAD  # both sides from commits
    python bench/eval_speed.py --folds-only                 # the fold pool alone, no checkpoint needed

Two parts, each side by side in one invocation (timings on a shared machine are noisy: read the
ratios, and the load average printed with them):

* **The eval.** ``unet1d eval RUN`` twice as a subprocess, on a fresh cache folder (the first run
  scores the baselines, the second reads them back): wall and CPU seconds (user + system, the
  eval's fold processes included), each stage's wall seconds from the report (``stage_seconds``),
  and start-up + figure + writing as the rest. Both runs must give the same scores.
  ``--against REV`` runs the same pair with the code of another commit (``git archive`` into a
  temporary folder, put first on ``PYTHONPATH``) beside today's, ``--rounds`` times, alternating
  which goes first, each first run on its own fresh cache: today's and the other's seconds side by
  side, and which scores differ between them (none, when a change only moves time).
* **The fold pool.** The model's classifier test at ``--fold-poses`` a side (whole body and four
  parts: 15 fits, the fits `unet1d eval` makes) under four settings: folds one at a time on one
  OpenMP thread, one at a time on every core's OpenMP thread, side by side in threads (one OpenMP
  thread each), side by side in processes (``c2st.start_fold_workers``, what ``unet1d eval`` uses).
  Per fit, from ``/proc/thread-self/schedstat``: seconds on a CPU, waiting for one (the machine's
  load) and blocked (neither: waiting on the GIL or a lock), and voluntary context switches; so a
  setting's loss can be told apart from the load. Speedups are against one at a time, one thread.
  The machine (CPU model, cores, SMT siblings) and the OpenMP runtimes loaded come with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from unet1d.evaluation import c2st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/eval_speed.py` from anywhere
from bench.arguments import json_path, non_negative_int, positive_int, run_main

SETTINGS = ("one at a time, 1 thread", "one at a time, all threads", "side by side, threads", "side by side, processes")


def machine() -> dict[str, Any]:
    """CPU model, cores this process may use, SMT siblings of core 0, the numeric libraries' thread pools."""
    from threadpoolctl import threadpool_info

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    siblings = Path("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list")
    return {
        "cpu": model or platform.processor(),
        "cores": len(os.sched_getaffinity(0)),
        "smt_siblings_of_cpu0": siblings.read_text().strip() if siblings.exists() else None,
        "flags_bf16": any(flag in cpuinfo for flag in ("avx512_bf16", "amx_bf16")),
        "python": platform.python_version(),
        "thread_pools": [
            {key: pool.get(key) for key in ("user_api", "internal_api", "prefix", "num_threads", "version")}
            for pool in threadpool_info()
        ],
        "load_average": os.getloadavg(),
    }


# ------------------------------------------------------------------------------------------------ the eval


def run_eval(
    run: Path, cache: Path, out: Path, num_samples: int, task_poses: int, source: Path | None = None
) -> dict[str, Any]:
    """One ``unet1d eval`` subprocess (``source``: another source tree's package instead of the installed one):
    wall, CPU (its children included), the report's stages and its scores, and the load average around it."""
    command = [sys.executable, "-m", "unet1d.cli", "eval", str(run.resolve()), "--num-samples", str(num_samples), "-o",
               str(out), "--cache_dir", str(cache), "--task_poses", str(task_poses)]  # fmt: skip
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source), *filter(None, [env.get("PYTHONPATH")])])
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    # in the source tree: `python -m` puts the working folder first on sys.path, before PYTHONPATH
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=source)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(out.read_text())
    stages = dict(report["stage_seconds"])
    stages["start-up, figure, writing"] = wall - report["eval_seconds"]
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "stages": stages,
        "task_seconds": report.get("task_seconds", 0.0),
        "load_average": [load, os.getloadavg()[0]],
        "scores": scores_of(report),
    }


def scores_of(report: dict[str, Any]) -> dict[str, Any]:
    """Every number a report scores, the baselines' included; its timings and file names left out."""
    skip = {"checkpoint", "overrides", "stage_seconds"}
    return {key: value for key, value in report.items() if key not in skip and "seconds" not in key}


def differing(first: dict[str, Any], second: dict[str, Any], prefix: str = "") -> list[str]:
    """The keys (dotted, nested dicts walked) whose values are not equal, NaN equal to NaN."""
    keys = []
    for key in sorted(set(first) | set(second)):
        a, b = first.get(key), second.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += differing(a, b, f"{prefix}{key}.")
        elif not (a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)):
            keys.append(f"{prefix}{key}")
    return keys


def bench_eval(run: Path, num_samples: int, task_poses: int, source: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        cache, out = Path(folder) / "cache", Path(folder) / "eval.json"
        first = run_eval(run, cache, out, num_samples, task_poses, source)
        cached = run_eval(run, cache, out, num_samples, task_poses, source)
    return {
        "run": str(run),
        "num_samples": num_samples,
        "task_poses": task_poses,
        "first": {key: value for key, value in first.items() if key != "scores"},
        "cached": {key: value for key, value in cached.items() if key != "scores"},
        "same_scores": first["scores"] == cached["scores"],
        "scores": first["scores"],
    }


def source_tree(revision: str, folder: Path) -> Path:
    """The package as of ``revision`` (``git archive``), unpacked under ``folder``."""
    repo = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "-C", str(repo), "archive", revision], check=True, capture_output=True).stdout
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    env = {**os.environ, "PYTHONPATH": str(folder)}
    found = subprocess.run([sys.executable, "-c", "import unet1d; print(unet1d.__file__)"], env=env, cwd=folder,
                           check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert Path(found).is_relative_to(folder), f"{revision}'s tree imports {found}, not its own package"
    return folder


def _tree(revision: str, folder: Path) -> Path:
    """A commit's package unpacked under ``folder``, or ``revision`` itself where it names a source folder
    (a tree made by hand: one commit's files with another's folder, to tell two changes apart)."""
    return Path(revision).resolve() if Path(revision).is_dir() else source_tree(revision, folder)


def bench_against(
    run: Path, num_samples: int, task_poses: int, revision: str, rounds: int, this: str | None = None
) -> dict[str, Any]:
    """Today's eval (first and cached) beside ``revision``'s, ``rounds`` times, alternating which goes first.

    ``this``: a commit for today's side too (the working tree may hold other people's unfinished edits)."""
    with tempfile.TemporaryDirectory() as folder:
        other = _tree(revision, Path(folder) / "source")
        ours = _tree(this, Path(folder) / "this") if this else None
        name = this or "today"
        sides: dict[str, list[dict[str, Any]]] = {name: [], revision: []}
        for round_ in range(rounds):
            order = [(name, ours), (revision, other)]
            for side, source in order if round_ % 2 == 0 else order[::-1]:
                result = bench_eval(run, num_samples, task_poses, source)
                print(f"round {round_ + 1}: {side}: first {result['first']['wall']:.1f} s, cached "
                      f"{result['cached']['wall']:.1f} s", file=sys.stderr, flush=True)  # fmt: skip
                sides[side].append(result)
    today, earlier = sides[name][0]["scores"], sides[revision][0]["scores"]
    return {
        "against": revision,
        "rounds": rounds,
        "sides": {side: [{k: v for k, v in r.items() if k != "scores"} for r in runs] for side, runs in sides.items()},
        "differing_scores": differing(today, earlier),
        "same_scores_every_round": all(r["scores"] == runs[0]["scores"] for runs in sides.values() for r in runs),
        "scores": {name: today, revision: earlier},
    }


# ------------------------------------------------------------------------------------------------ the folds


def _schedstat() -> np.ndarray:
    """This thread's seconds on a CPU and waiting for one, and the wall clock (all seconds)."""
    on_cpu, waiting = (int(v) for v in Path("/proc/thread-self/schedstat").read_text().split()[:2])
    return np.array([on_cpu / 1e9, waiting / 1e9, time.perf_counter()])


def timed_fold(x: np.ndarray, y: np.ndarray, folds: int, index: int, threads: int) -> dict[str, float]:
    """One of the eval's fold fits (:func:`c2st._fold_probability`) and where its wall time went."""
    switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
    start = _schedstat()
    c2st._fold_probability(x, y, folds, index, threads)
    on_cpu, waiting, wall = _schedstat() - start
    return {"on_cpu": on_cpu, "waiting": waiting, "blocked": max(wall - on_cpu - waiting, 0.0), "wall": wall,
            "voluntary_switches": resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw - switches}  # fmt: skip


def fold_tasks(poses: int) -> list[tuple[np.ndarray, np.ndarray, int, int]]:
    """The 15 fits of a model's classifier test at ``poses`` a side: built-in poses against a jittered copy of
    another draw (the set sizes and feature widths of an eval; the AUC itself is beside the point)."""
    from unet1d.config import Config
    from unet1d.evaluation.quality import _fresh_builtin, heading_free

    config = Config()
    real = heading_free(_fresh_builtin(config, 0)[0][:poses])
    fake = heading_free(_fresh_builtin(config, 1)[0][:poses])
    names = c2st.joint_names(real.shape[1])
    a = c2st.rotation_features(c2st.jittered(fake, c2st.JITTER_RAD, 0))
    b = c2st.rotation_features(c2st.jittered(real, c2st.JITTER_RAD, 1))
    groups = [list(range(len(names)))] + [
        [names.index(name) for name in members if name in names] for members in c2st.BODY_PARTS.values()
    ]
    tasks = []
    for joints in groups:
        x, y = c2st._stacked(a[:, joints].reshape(poses, -1), b[:, joints].reshape(poses, -1))
        tasks += [(x, y, c2st.FOLDS, index) for index in range(c2st.FOLDS)]
    return tasks


def run_folds(pool: Executor, tasks: list, threads: int) -> tuple[float, list[dict[str, float]]]:
    started = time.perf_counter()
    fits = [future.result() for future in [pool.submit(timed_fold, *task, threads) for task in tasks]]
    return time.perf_counter() - started, fits


def bench_folds(poses: int, rounds: int, skip_all_threads: bool = False) -> dict[str, Any]:
    """Each setting ``rounds`` times, interleaved (a busy machine slows all alike); per-fit means of the diagnostics."""
    cores = c2st.parallel_tests(1 << 16)
    tasks = fold_tasks(poses)
    processes = c2st._fold_processes
    assert processes is not None, "start_fold_workers() must run first, while this process is one thread"
    settings: dict[str, Callable[[], tuple[float, list]]] = {
        SETTINGS[0]: lambda: _in_threads(1, tasks, 1),
        SETTINGS[1]: lambda: _in_threads(1, tasks, cores),
        SETTINGS[2]: lambda: _in_threads(cores, tasks, 1),
        SETTINGS[3]: lambda: run_folds(processes, tasks, 1),
    }
    if skip_all_threads:  # OpenMP's spin-waiting on a busy machine: minutes where the others take seconds
        del settings[SETTINGS[1]]
    walls: dict[str, list[float]] = {name: [] for name in settings}
    fits: dict[str, list[dict[str, float]]] = {name: [] for name in settings}
    for round_ in range(rounds):
        for name, measure in settings.items():
            wall, per_fit = measure()
            print(f"round {round_ + 1}: {name}: {wall:.1f} s", file=sys.stderr, flush=True)
            walls[name].append(wall)
            fits[name] += per_fit
    serial = statistics.mean(walls[SETTINGS[0]])
    rows = {}
    for name in settings:
        per_fit = {key: statistics.mean(fit[key] for fit in fits[name]) for key in fits[name][0]}
        rows[name] = {
            "seconds": walls[name],
            "speedup": serial / statistics.mean(walls[name]),
            "per_fit": per_fit,
            "blocked_share": per_fit["blocked"] / per_fit["on_cpu"],
        }
    return {"poses": poses, "fits": len(tasks), "rounds": rounds, "cores": cores, "settings": rows}


def _in_threads(workers: int, tasks: list, threads: int) -> tuple[float, list]:
    with ThreadPoolExecutor(workers) as pool:
        return run_folds(pool, tasks, threads)


# ------------------------------------------------------------------------------------------------ report


def _wall_and_load(run: dict[str, Any]) -> str:
    return f"{run['wall']:.1f} s ({run['load_average'][0]:.1f}-{run['load_average'][1]:.1f})"


def table(result: dict[str, Any]) -> str:
    lines = [f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, SMT siblings of cpu0 "
             f"{result['machine']['smt_siblings_of_cpu0']}; load {result['machine']['load_average'][0]:.1f} at start, "
             f"{result['load_average_end'][0]:.1f} at end"]  # fmt: skip
    if "eval" in result:
        ev = result["eval"]
        lines += ["", f"unet1d eval of {ev['num_samples']} poses, task_poses {ev['task_poses']}: same scores both "
                  f"runs: {ev['same_scores']}", "", "| stage | first s | cached s |", "|---|---|---|"]  # fmt: skip
        first, cached = ev["first"]["stages"], ev["cached"]["stages"]
        lines += [f"| {stage} | {first[stage]:.1f} | {cached.get(stage, 0):.1f} |" for stage in first]
        lines.append(f"| **wall** | **{ev['first']['wall']:.1f}** | **{ev['cached']['wall']:.1f}** |")
        lines.append(f"| CPU (user + system) | {ev['first']['cpu']:.1f} | {ev['cached']['cpu']:.1f} |")
    if "against" in result:
        against = result["against"]
        names = list(against["sides"])
        lines += ["", f"today beside {against['against']}, {against['rounds']} rounds (load average before/after "
                  "each run in brackets)", "", f"| run | {' | '.join(names)} |", "|---|---|---|"]  # fmt: skip
        for kind in ("first", "cached"):
            cells = [" / ".join(_wall_and_load(r[kind]) for r in against["sides"][name]) for name in names]
            lines.append(f"| {kind} wall | {' | '.join(cells)} |")
            cpu = [" / ".join(f"{r[kind]['cpu']:.1f}" for r in against["sides"][name]) for name in names]
            lines.append(f"| {kind} CPU s | {' | '.join(cpu)} |")
        for name in names:
            stages = against["sides"][name][0]
            lines += ["", f"{name}, round 1 stages: first " + ", ".join(
                f"{k} {v:.1f}" for k, v in stages["first"]["stages"].items()) + "; cached " + ", ".join(
                f"{k} {v:.1f}" for k, v in stages["cached"]["stages"].items())]  # fmt: skip
        differ = against["differing_scores"]
        lines += ["", f"scores that differ between the two: {', '.join(differ) if differ else 'none'}; each side's "
                  f"scores the same every round: {against['same_scores_every_round']}"]  # fmt: skip
    if "folds" in result:
        folds = result["folds"]
        header = f"classifier folds: {folds['fits']} fits at {folds['poses']} poses a side, {folds['rounds']} rounds"
        lines += ["", header + " interleaved", ""]
        lines.append(
            "| setting | wall s (rounds) | speedup | per fit: on CPU s | waiting s | blocked s "
            "| blocked / on CPU "
            "| voluntary switches |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        for name, row in folds["settings"].items():
            fit = row["per_fit"]
            walls = " / ".join(f"{s:.1f}" for s in row["seconds"])
            cells = [
                name,
                walls,
                f"{row['speedup']:.2f}",
                f"{fit['on_cpu']:.2f}",
                f"{fit['waiting']:.2f}",
                f"{fit['blocked']:.2f}",
                f"{row['blocked_share']:.0%}",
                f"{fit['voluntary_switches']:.0f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, nargs="?", help="A run folder or checkpoint for the eval part.")
    parser.add_argument("--num-samples", type=positive_int, default=2000)
    parser.add_argument("--task-poses", type=non_negative_int, default=32)
    parser.add_argument("--fold-poses", type=positive_int, default=2000, help="Poses a side in the fold-pool part.")
    parser.add_argument(
        "--rounds", type=positive_int, default=2, help="Rounds of the fold-pool settings (or of --against)."
    )
    parser.add_argument("--folds-only", action="store_true", help="Only the fold pool (no checkpoint needed).")
    parser.add_argument("--eval-only", action="store_true", help="Only the eval.")
    parser.add_argument(
        "--against", metavar="REV", help="Also run the eval with this commit's code (or source folder), side by side."
    )
    parser.add_argument("--this", metavar="REV", help="With --against: today's side from this commit, not the tree.")
    parser.add_argument(
        "--skip-all-threads",
        action="store_true",
        help="Leave out one fold at a time on every core (a busy machine: OpenMP spins for minutes).",
    )
    parser.add_argument("--json", type=json_path, default=Path("bench/results/eval_speed.json"))
    args = parser.parse_args()
    if args.folds_only and args.eval_only:
        parser.error("--folds-only and --eval-only leave nothing to measure together: give one")
    if not args.folds_only and args.run is None:
        parser.error("RUN is needed unless --folds-only")
    if not args.eval_only and not c2st.start_fold_workers():  # first, while this process is one thread
        parser.error("fold processes could not start here (no fork, or threads already running)")
    result: dict[str, Any] = {"machine": machine(), "command": sys.argv}
    if not args.folds_only and args.against:
        result["against"] = bench_against(
            args.run, args.num_samples, args.task_poses, args.against, args.rounds, args.this
        )
    elif not args.folds_only:
        result["eval"] = bench_eval(args.run, args.num_samples, args.task_poses)
    if not args.eval_only:
        result["folds"] = bench_folds(args.fold_poses, args.rounds, args.skip_all_threads)
    result["load_average_end"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    run_main(main)
