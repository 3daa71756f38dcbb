"""Where the test suite's time goes: CPU seconds per test, its own and its subprocesses'.

    python -m pytest -p bench.suite_cpu                 # every worker writes .suite-cpu/<pid>.json
    python bench/suite_cpu.py [--dir .suite-cpu] [--top 30] [--json out.json]   # the table

The suite runs on every core (pytest-xdist), so a test's wall time says little: it waits on
the others. CPU does not: ``getrusage`` of the worker (its own) and of the children it waited for
(the real ``unet1d train``, ``accelerate launch`` and sweep processes the standards ask for). The
sum over tests against the suite's wall time says whether it is CPU-bound (the cores' share) or
waits (more workers would help).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/suite_cpu.py` from anywhere
from bench.arguments import json_path, run_main

OUT = Path(os.environ.get("SUITE_CPU_DIR", ".suite-cpu"))
_rows: list[dict[str, float | str]] = []


def _cpu() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    own, children = _cpu()
    started = time.perf_counter()
    yield
    own_after, children_after = _cpu()
    _rows.append({"test": item.nodeid, "own_s": own_after - own, "children_s": children_after - children,
                  "wall_s": time.perf_counter() - started})  # fmt: skip


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _rows:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{os.getpid()}.json").write_text(json.dumps(_rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=OUT)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--json", type=json_path, default=None)
    args = parser.parse_args()
    rows = [row for path in sorted(args.dir.glob("*.json")) for row in json.loads(path.read_text())]
    if not rows:
        raise SystemExit(f"{args.dir}: no measurements; run `python -m pytest -p bench.suite_cpu` first")
    rows.sort(key=lambda row: -(row["own_s"] + row["children_s"]))
    own, children = sum(r["own_s"] for r in rows), sum(r["children_s"] for r in rows)
    print(f"{len(rows)} tests: {own + children:.0f} CPU s ({own:.0f} in the test processes, {children:.0f} in their "
          f"subprocesses), {sum(r['wall_s'] for r in rows):.0f} s of wall time summed over tests\n")  # fmt: skip
    print("| CPU s | own | subprocesses | wall s | test |\n|---|---|---|---|---|")
    for row in rows[: args.top]:
        print(f"| {row['own_s'] + row['children_s']:.1f} | {row['own_s']:.1f} | {row['children_s']:.1f} | "
              f"{row['wall_s']:.1f} | {row['test']} |")  # fmt: skip
    by_file: collections.Counter[str] = collections.Counter()
    for row in rows:
        by_file[str(row["test"]).split("::")[0]] += row["own_s"] + row["children_s"]
    print("\n| CPU s | test file |\n|---|---|")
    for name, seconds in by_file.most_common(args.top):
        print(f"| {seconds:.1f} | {name} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "by_file": dict(by_file)}, indent=1) + "\n")


if __name__ == "__main__":
    run_main(main)
