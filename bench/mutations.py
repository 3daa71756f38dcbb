"""Mutation check: each one-line bug (issues 10 and 19), introduced on its own, must make a test fail.

    python bench/mutations.py                 # all mutations; table + bench/results/mutations.json
    python bench/mutations.py ema sigint-143  # some of them, by id

For every mutation the tracked files are copied to a temporary folder (the working tree is never
touched), one exact snippet is replaced there (it must occur exactly once, so a drifted source
fails loudly instead of testing nothing), and the tests meant to catch it run against the copy
with this interpreter. A mutation is caught when pytest reports failures; the table lists the
tests that failed. ``--baseline`` first runs all the named tests on an unmutated copy (they
must pass, or a "caught" means nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/mutations.py` from anywhere
from bench.arguments import json_path, run_main

ROOT = Path(__file__).resolve().parents[1]
NUMBERS = "tests/training/test_loop_numbers.py::"


@dataclass
class Mutation:
    id: str
    bug: str
    path: str
    old: str
    new: str
    tests: list[str]


@dataclass
class Outcome:
    id: str
    bug: str
    caught: bool
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


MUTATIONS = [
    Mutation(
        "ema", "the EMA is never updated inside the training loop", "unet1d/training/loop.py",
        "            self.ema.update(training.network)\n", "            pass\n",
        [NUMBERS + "test_ema_weights_equal_the_closed_form_of_the_run"],
    ),
    Mutation(
        "grad-norm-after-clip", "train/grad_norm is logged after clipping", "unet1d/training/loop.py",
        "grad_norm.float().reshape(())",
        "torch.nn.utils.get_total_norm([p.grad for p in self.model.parameters()]).float().reshape(())",
        [NUMBERS + "test_logged_grad_norm_is_the_pre_clipping_norm",
         NUMBERS + "test_per_block_gradient_norms_are_each_blocks_gradients"],
    ),
    Mutation(
        "bucket", "every loss lands in the first timestep bucket", "unet1d/training/metrics.py",
        "bucket = (t.long() * self.num_buckets) // self.num_timesteps", "bucket = torch.zeros_like(t.long())",
        [NUMBERS + "test_timestep_bucket_losses_and_the_loss_match_a_hand_computation",
         NUMBERS + "test_timestep_buckets_on_a_fixed_batch"],
    ),
    Mutation(
        "block-norms-of-weights", "per-block gradient norms computed from the weights", "unet1d/training/metrics.py",
        "[p.grad for p in block.parameters() if p.grad is not None]",
        "[p.detach() for p in block.parameters() if p.grad is not None]",
        [NUMBERS + "test_per_block_gradient_norms_are_each_blocks_gradients"],
    ),
    Mutation(
        "lr-constant", "the run's lr ignores warm-up and cosine (constant factor)", "unet1d/training/optimization.py",
        "torch.optim.lr_scheduler.LambdaLR(optimizer, factor)",
        "torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)",
        [NUMBERS + "test_logged_lr_warms_up_then_follows_the_cosine",
         "tests/training/test_loop.py::test_lr_warms_up_then_decays_to_the_floor"],
    ),
    Mutation(
        "lr-never-stepped", "the run's lr ignores warm-up and cosine (scheduler never stepped)",
        "unet1d/training/loop.py", "        training.scheduler.step()\n", "        pass\n",
        [NUMBERS + "test_logged_lr_warms_up_then_follows_the_cosine"],
    ),
    Mutation(
        "accum-one-micro-batch", "gradient accumulation uses one micro-batch", "unet1d/training/loop.py",
        "for micro in range(accum):", "for micro in range(1):",
        [NUMBERS + "test_accumulated_gradient_equals_one_batch_k_times_larger",
         NUMBERS + "test_the_run_is_what_the_other_tests_assume"],
    ),
    Mutation(
        "mixed-precision-ignored", "mixed_precision is ignored (bf16 requested, fp32 run)", "unet1d/training/loop.py",
        "mixed_precision=self.precision,", 'mixed_precision="no",',
        [NUMBERS + "test_bf16_runs_the_forward_in_bf16"],
    ),
    Mutation(
        "sigint-143", "SIGINT exits 143 instead of 130", "unet1d/training/signals.py",
        "return 128 + (self.received or 0)", "return 128 + signal.SIGTERM",
        ["tests/training/test_signals.py::"
         "test_a_second_ctrl_c_stops_at_once_and_says_so_and_one_within_the_window_is_the_first_again"],
    ),
    Mutation(
        "compare-first-seed", "compare's variant mean is the first seed's value", "unet1d/compare/runs.py",
        "summary.mean[column] = statistics.fmean(values) if values else None",
        "summary.mean[column] = values[0] if values else None",
        ["tests/compare/test_runs.py"],
    ),
    Mutation(
        "eval-radians", "eval scores in radians instead of normalised units", "unet1d/evaluation/quality.py",
        "        return self.feature_stats.normalize(heading_free(poses, self.up_axis)).astype(np.float64)\n",
        "        return heading_free(poses, self.up_axis).astype(np.float64)\n",
        ["tests/evaluation/test_evaluate_scores.py::test_scores_are_computed_on_normalised_poses"],
    ),
    Mutation(
        "sample-facing-z", "`unet1d sample` leaves every canonical-heading sample facing +z",
        "unet1d/prior/api.py",
        '    if config.data.heading == "canonical":\n        poses = random_heading(',
        '    if False:\n        poses = random_heading(',
        ["tests/cli/test_evaluate.py::test_sample_gives_canonical_heading_poses_a_uniform_heading"],
    ),
    Mutation(
        "final-eval-raw", "the end-of-training evaluation scores the raw weights instead of the EMA's",
        "unet1d/training/loop.py",
        "final = self.probe.final(self.sampling_network(), ", "final = self.probe.final(self.network, ",
        ["tests/evaluation/test_probe.py::test_the_final_evaluation_scores_the_ema_weights"],
    ),
]  # fmt: skip


def copy_tree(target: Path) -> None:
    """The tracked files and the untracked, not-ignored ones (the working tree as git sees it)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def apply(mutation: Mutation, tree: Path) -> None:
    path = tree / mutation.path
    text = path.read_text()
    count = text.count(mutation.old)
    if count != 1:
        raise SystemExit(f"{mutation.id}: the snippet occurs {count} times in {mutation.path}; update the mutation")
    path.write_text(text.replace(mutation.old, mutation.new))


def run_tests(tree: Path, tests: list[str]) -> tuple[int, list[str], str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import unet1d; print(unet1d.__file__)"], cwd=tree, env=env, capture_output=True,
        text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not where.startswith(str(tree)):
        raise SystemExit(f"the copy's unet1d is not the one imported ({where})")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *tests],
        cwd=tree, env=env, capture_output=True, text=True,
    )  # fmt: skip
    failed = re.findall(r"^FAILED (\S+)", result.stdout, flags=re.MULTILINE)
    return result.returncode, failed, result.stdout[-3000:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ids", nargs="*", help="mutation ids (default: all)")
    parser.add_argument("--baseline", action="store_true", help="first check the tests pass unmutated")
    parser.add_argument("--json", type=json_path, default=ROOT / "bench/results/mutations.json")
    args = parser.parse_args()
    unknown = sorted(set(args.ids) - {m.id for m in MUTATIONS})
    if unknown:
        parser.error(f"unknown mutation {', '.join(unknown)}; allowed: {', '.join(m.id for m in MUTATIONS)}")
    chosen = [m for m in MUTATIONS if not args.ids or m.id in args.ids]

    outcomes = []
    with tempfile.TemporaryDirectory(prefix="unet1d-mutations-") as scratch:
        if args.baseline:
            tree = Path(scratch) / "baseline"
            copy_tree(tree)
            code, failed, tail = run_tests(tree, sorted({t for m in chosen for t in m.tests}))
            if code != 0:
                raise SystemExit(f"the tests fail without any mutation:\n{tail}")
            print("baseline: all named tests pass unmutated")
        for mutation in chosen:
            tree = Path(scratch) / mutation.id
            copy_tree(tree)
            apply(mutation, tree)
            started = time.perf_counter()
            code, failed, tail = run_tests(tree, mutation.tests)
            if code not in (0, 1):  # 2+: interrupted, an internal or a usage error -- not a verdict
                raise SystemExit(f"{mutation.id}: pytest exited {code}\n{tail}")
            outcomes.append(Outcome(mutation.id, mutation.bug, code == 1, failed, time.perf_counter() - started))
            shutil.rmtree(tree)

    print(f"{'mutation':<26}{'caught':>8}{'s':>6}  failing tests")
    for o in outcomes:
        names = ", ".join(name.split("::")[-1] for name in o.failed) or "-"
        print(f"{o.id:<26}{'yes' if o.caught else 'NO':>8}{o.seconds:>6.0f}  {names}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2) + "\n")
    print(f"wrote {args.json}")
    if not all(o.caught for o in outcomes):
        raise SystemExit("some mutations were not caught")


if __name__ == "__main__":
    run_main(main)
