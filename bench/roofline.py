"""How close a training step comes to what the cores can do, and where the rest of the time goes.

    python bench/roofline.py [--quick] [--threads N] [--json FILE]

Four measurements, each usable alone (``bench/run.py`` calls :func:`roofline_rows` and
:func:`step_profile` for its table):

1. ``matmul_peak``: the GFLOP/s of a square matrix product in fp32 and in bf16 on this device, best
   of a few repeats: the roof a step's arithmetic is held against. Where the CPU has no native bf16
   (no AMX or AVX-512 BF16) the bf16 figure is far below fp32 and ``auto`` precision trains in fp32.
2. ``train_flop_per_pose``: forward + backward FLOP per pose, counted by torch's ``FlopCounterMode``
   (matrix products and convolutions only: element-wise work is not counted, as in any roofline).
   Achieved GFLOP/s = poses/s x FLOP per pose; the share is that over the peak of the arithmetic the
   step runs in.
3. :func:`step_profile`: torch.profiler over a few of a :class:`~unet1d.training.loop.Trainer`'s steps, each
   operator's own time put in one bucket: matrix work (convolutions, matrix products, attention),
   normalisation + element-wise, the optimiser, the EMA, the gradient norms, and framework overhead (the
   wall time no operator accounts for: Python, autograd's engine, dispatch, the profiler's own cost).
4. :func:`quickstart_split`: a short run shaped like the README quickstart (same network, batch and
   lr; validations, probes and checkpoints at the same count per step as the full run) with the
   loop's phases timed from outside, and the 2,000-step run's wall time projected from it.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/roofline.py` from anywhere
from bench.arguments import json_path, non_negative_int, positive_int, run_main

MATRIX_OPS = (
    "conv", "mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "scaled_dot_product", "flash_attention",
    "mkldnn_convolution", "convolution_backward", "_efficient_attention",
)  # fmt: skip
BUCKETS = ("matrix", "norm_elementwise", "optimiser", "ema", "grad_norm", "overhead")
PHASES = {"Optimizer.step": "optimiser", "roofline/ema": "ema", "roofline/grad_norm": "grad_norm"}
QUICKSTART = {"base_channels": 32, "batch_size": 64, "lr": 2e-3, "beta2": 0.99, "max_steps": 2000}  # the README's


# ------------------------------------------------------------------------------------------ peaks


def matmul_gflops(
    dtype: torch.dtype, device: torch.device, size: int = 1024, repeats: int = 5, seconds: float = 0.25
) -> float:
    """Best GFLOP/s of ``size`` x ``size`` matrix products in ``dtype`` (best, not median: the roof).

    Each repeat runs products until ``seconds`` have passed, so the cost stays bounded where bf16 is
    emulated or the machine is busy.
    """
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    a @ b  # first call: library set-up
    best = 0.0
    for _ in range(repeats):
        calls = 0
        _sync(device)
        started = time.perf_counter()
        while True:
            a @ b
            calls += 1
            _sync(device)
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                break
        best = max(best, 2 * size**3 * calls / elapsed / 1e9)
    return best


def matmul_peak(device: torch.device, size: int = 1024, repeats: int = 5) -> dict[str, float]:
    """``{"fp32": GFLOP/s, "bf16": GFLOP/s}``, each the best of square products of ``size`` to 3 x ``size`` (a
    1024² product alone reached 208 of the 290+ fp32 GFLOP/s a network's convolutions did on a Zen 5 VM: a roof
    the step went through), and whether bf16 is native here (emulated bf16 takes ``size`` alone: minutes a
    product above it)."""
    native = _native_bf16(device)
    sizes = (size, 2 * size, 3 * size)
    bf16_sizes = sizes if native else sizes[:1]
    return {
        "fp32": max(matmul_gflops(torch.float32, device, n, repeats) for n in sizes),
        "bf16": max(matmul_gflops(torch.bfloat16, device, n, max(2, repeats // 2)) for n in bf16_sizes),
        "bf16_native": float(native),
        "sizes": [float(n) for n in sizes],
    }


def _native_bf16(device: torch.device) -> bool:
    from unet1d.precision import native_bf16

    return native_bf16(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------------- FLOP counting


def train_flop_per_pose(network: torch.nn.Module, pose_dim: int, device: torch.device, batch: int = 4) -> float:
    """Forward + backward FLOP per pose (FlopCounterMode at a small batch; FLOP scale with the batch)."""
    from torch.utils.flop_counter import FlopCounterMode

    network = copy.deepcopy(network).to(device)  # the count must not touch a contender's weights or gradients
    x = torch.randn(batch, 1, pose_dim, device=device)
    t = torch.randint(0, 1000, (batch,), device=device)
    with FlopCounterMode(display=False) as counter:
        network(x, t).float().square().mean().backward()
    return counter.get_total_flops() / batch


def roofline_row(poses_per_s: float, flop_per_pose: float, peak_gflops: float) -> dict[str, float]:
    """Achieved GFLOP/s and its share of ``peak_gflops``."""
    achieved = poses_per_s * flop_per_pose / 1e9
    return {"gflop_per_pose": flop_per_pose / 1e9, "achieved_gflops": achieved, "share_of_peak": achieved / peak_gflops}


def roofline_rows(
    samples_per_s: dict[str, float], flop_per_pose: dict[str, float], peaks: dict[str, float], precision: dict[str, str]
) -> dict[str, dict[str, float]]:
    """One :func:`roofline_row` per contender, against the peak of the arithmetic it runs in ('bf16' or 'fp32')."""
    return {
        name: {**roofline_row(rate, flop_per_pose[name], peaks[precision[name]]), "peak": precision[name]}
        for name, rate in samples_per_s.items()
        if name in flop_per_pose
    }


# ---------------------------------------------------------------------------------- step profile


def bucket_of(event: Any) -> str | None:
    """The bucket of one profiler event's own time: a phase it sits in, else matrix or element-wise work.

    ``None`` for events that are not operators (ranges, autograd's bookkeeping): their own time is
    framework overhead, which :func:`split_events` takes as the wall time operators leave over.
    """
    if not event.name.startswith("aten::"):
        return None
    parent = event.cpu_parent
    while parent is not None:
        for prefix, bucket in PHASES.items():
            if parent.name.startswith(prefix):
                return bucket
        parent = parent.cpu_parent
    op = event.name.removeprefix("aten::")
    return "matrix" if any(op == name or op.startswith(name) for name in MATRIX_OPS) else "norm_elementwise"


def split_events(events: list[Any], wall_s: float) -> dict[str, float]:
    """Seconds per bucket; ``overhead`` is the wall time no operator's own time accounts for."""
    seconds = dict.fromkeys(BUCKETS, 0.0)
    for event in events:
        bucket = bucket_of(event)
        if bucket is not None:
            seconds[bucket] += event.self_cpu_time_total / 1e6
    seconds["overhead"] = max(0.0, wall_s - sum(seconds.values()))
    return seconds


@contextmanager
def _ranges(trainer: Any) -> Iterator[None]:
    """Name the EMA update and the gradient-norm passes of ``trainer`` for the profiler (instance level only)."""
    from torch.profiler import record_function

    def named(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with record_function(name):
                return fn(*args, **kwargs)

        return call

    patched = []
    if getattr(trainer, "ema", None) is not None:
        patched.append((trainer.ema, "update"))
    patched += [(trainer.accelerator, "clip_grad_norm_"), (trainer.metrics, "block_norms")]
    saved = [(owner, attribute, owner.__dict__.get(attribute)) for owner, attribute in patched]
    for owner, attribute in patched:
        name = "roofline/ema" if attribute == "update" else "roofline/grad_norm"
        setattr(owner, attribute, named(name, getattr(owner, attribute)))
    try:
        yield
    finally:
        for owner, attribute, before in saved:
            if before is None:
                delattr(owner, attribute)  # the class's method again
            else:
                setattr(owner, attribute, before)


def step_profile(trainer: Any, run_steps: Callable[[int], None], steps: int = 5) -> dict[str, Any]:
    """Where a step's time goes: seconds per bucket per step and shares, over ``steps`` profiled steps.

    ``run_steps(n)`` runs n of the trainer's steps (``HarnessRun.steps``). The profiler slows small
    operators down, so the split's overhead share is an upper bound; ``step_s`` is the profiled step.
    """
    from torch.profiler import ProfilerActivity, profile

    run_steps(1)  # warm: nothing first-call in the profile
    with _ranges(trainer), profile(activities=[ProfilerActivity.CPU]) as prof:
        started = time.perf_counter()
        run_steps(steps)
        wall = time.perf_counter() - started
    seconds = split_events(list(prof.events()), wall)
    return {
        "steps": steps,
        "step_s": wall / steps,
        "seconds_per_step": {name: value / steps for name, value in seconds.items()},
        "share": {name: value / wall for name, value in seconds.items()},
        "kernels_per_step": sum(1 for e in prof.events() if e.name.startswith("aten::") and not e.cpu_children) / steps,
    }


# ------------------------------------------------------------------------------ quickstart split


def quickstart_split(steps: int, device: str = "cpu", threads: int | None = None, **overrides: Any) -> dict[str, Any]:
    """A quickstart-shaped run of ``steps`` steps, its wall time split into phases, and the 2,000-step projection.

    Validations, quality probes and checkpoints come as often per step as in the README's run (the
    cadences are scaled by steps / 2,000), so each phase's share carries over; the final evaluation is
    the real one. ``overrides`` (config fields, e.g. ``final_eval_samples``) shrink a phase for a smoke run.
    """
    from unet1d.config import Config
    from unet1d.config_sources import build_config, resolve_name
    from unet1d.evaluation.probe import QualityProbe
    from unet1d.training.loop import Trainer

    defaults, full = Config(), QUICKSTART["max_steps"]
    scale = steps / full

    def every(value: int) -> int:  # as many as in the full run: cadence steps / (full // value)
        return max(1, steps // max(1, full // value))

    with tempfile.TemporaryDirectory(prefix="unet1d-roofline-") as tmp:
        values: dict[str, Any] = {
            **QUICKSTART, "max_steps": steps, "device": device, "output_dir": str(Path(tmp) / "quickstart"),
            "eval_every": every(defaults.train.eval_every), "checkpoint_every": every(defaults.train.checkpoint_every),
            "quality_every": every(defaults.evaluation.quality_every or full), "wandb_mode": "disabled",
            "progress": "none", "threads": threads, **overrides,
        }  # fmt: skip
        config = build_config([(".".join(resolve_name(k)), v, "bench/roofline.py") for k, v in values.items()])
        timings: dict[str, float] = dict.fromkeys(("validation", "probes", "checkpoints", "final_evaluation"), 0.0)
        started = time.perf_counter()
        trainer = Trainer(config, QualityProbe)
        try:
            startup = time.perf_counter() - started

            def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
                def call(*args: Any, **kwargs: Any) -> Any:
                    begun = time.perf_counter()
                    try:
                        return fn(*args, **kwargs)
                    finally:
                        timings[name] += time.perf_counter() - begun

                return call

            trainer.validate = timed("validation", trainer.validate)  # type: ignore[method-assign]
            trainer.save = timed("checkpoints", trainer.save)  # type: ignore[method-assign]
            trainer.final_evaluation = timed("final_evaluation", trainer.final_evaluation)  # type: ignore[method-assign]
            if trainer.probe is not None:
                trainer.probe.probe = timed("probes", trainer.probe.probe)  # type: ignore[method-assign]
            run_started = time.perf_counter()
            trainer.run()
            run_s = time.perf_counter() - run_started
        finally:
            trainer.close()
    phases = {"startup": startup, "steps": run_s - sum(timings.values()), **timings}
    projected = {**phases, "steps": phases["steps"] / scale}  # the same counts of everything else
    return {
        "steps": steps,
        "seconds": phases,
        "projected_steps": full,
        "projected_seconds": projected,
        "projected_total_s": sum(projected.values()),
        "poses_per_s": steps * QUICKSTART["batch_size"] / phases["steps"],
    }


# ------------------------------------------------------------------------------- bench/run.py


def contender_precision(name: str, harness_precision: str) -> str:
    """The arithmetic a bench/run.py training contender runs in: the harness as resolved, bare-bf16 in bf16."""
    if name == "harness":
        return "bf16" if harness_precision == "bf16" else "fp32"
    return "bf16" if name.endswith("bf16") else "fp32"


def bench_section(training: dict[str, Any], settings: Any, device: torch.device, root: Path) -> dict[str, Any]:
    """bench/run.py's roofline: the peaks, every training contender's share, both networks' step profiles,
    the quickstart network's speed-up over the tree before the faster step, and the quickstart's time split."""
    from bench.run import HarnessRun, bench_config, interleaved

    peaks = matmul_peak(device, settings.peak_size)
    precision = {name: contender_precision(name, training["harness_precision"]) for name in training["samples_per_s"]}
    flop = {name: 1e9 * value for name, value in training["gflop_per_sample"].items()}
    section: dict[str, Any] = {
        "peaks": peaks, "default": roofline_rows(training["samples_per_s"], flop, peaks, precision),
    }  # fmt: skip
    small = {"base_channels": min(32, settings.base_channels), "batch_size": min(64, settings.batch_size)}
    networks = {"default": {}, "quickstart": small}
    profiles = {}
    for name, fields in networks.items():
        config = bench_config(settings, device.type, root / f"roofline-{name}", tensorboard=False, **fields)
        harness = HarnessRun(config)
        try:
            if name == "quickstart":
                rate = statistics.median(interleaved({"harness": harness}, settings, device)["harness"])
                arithmetic = contender_precision("harness", harness.trainer.precision)
                network = harness.trainer.network
                row = roofline_row(rate, train_flop_per_pose(network, network.pose_dim, device), peaks[arithmetic])
                section["quickstart"] = {"harness": {**row, "peak": arithmetic}}
            profiles[name] = step_profile(harness.trainer, harness.steps, steps=max(2, settings.steps))
        finally:
            harness.close()
    section["profile"] = profiles
    try:
        from bench.step_versus import main as versus

        argv = [f"--{key}={value}" for key, value in small.items()]
        section["quickstart_vs_earlier"] = versus([*argv, f"--rounds={settings.rounds}", f"--steps={settings.steps}"])
    except Exception as err:  # no git history (an exported tree): said, not hidden
        section["quickstart_vs_earlier"] = {"missing": f"{type(err).__name__}: {err}"}
    split_steps = {"full": 200, "quick": 40}.get(settings_mode(settings), 4)
    smoke = {"final_eval_samples": 64, "quality_samples": 32, "task_poses": 2, "builtin_samples": 2048}
    smoke = smoke if split_steps <= 4 else {}
    section["quickstart_split"] = quickstart_split(split_steps, device.type, **smoke)
    return section


def settings_mode(settings: Any) -> str:
    from bench.run import MODES

    return next((name for name, value in MODES.items() if value == settings), "custom")


def section_table(section: dict[str, Any]) -> str:
    """bench/run.py's printout of :func:`bench_section`."""
    rows = {f"{name} (default network)": row for name, row in section["default"].items()}
    rows.update({f"{name} (quickstart network)": row for name, row in section["quickstart"].items()})
    parts = [roofline_table(section["peaks"], rows), profile_table(section["profile"])]
    versus = section["quickstart_vs_earlier"]
    if "missing" in versus:
        parts.append(f"quickstart network vs the earlier tree: missing ({versus['missing']})")
    else:
        parts.append(
            f"quickstart network, the real loop, today / {versus['rev']}: {versus['speedup']:.2f}x "
            f"({versus['samples_per_s']['today']:.0f} vs {versus['samples_per_s'][versus['rev']]:.0f} poses/s)"
        )
    parts.append(split_table(section["quickstart_split"]))
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------- report


def profile_table(profiles: dict[str, dict[str, Any]]) -> str:
    """One row per profiled network: ms per step in each bucket and its share."""
    lines = [
        "| step profile | ms/step | " + " | ".join(BUCKETS) + " | operators/step |",
        "|---|---|" + "---|" * len(BUCKETS) + "---|",
    ]
    for name, prof in profiles.items():
        cells = " | ".join(f"{1000 * prof['seconds_per_step'][b]:.1f} ({prof['share'][b]:.0%})" for b in BUCKETS)
        lines.append(f"| {name} | {1000 * prof['step_s']:.1f} | {cells} | {prof['kernels_per_step']:.0f} |")
    return "\n".join(lines)


def roofline_table(peaks: dict[str, float], rows: dict[str, dict[str, Any]]) -> str:
    """The peaks, then each contender's achieved GFLOP/s and share."""
    native = "native" if peaks.get("bf16_native") else "emulated"
    lines = [
        f"matrix peak (best of {int(peaks['sizes'][0])}² to {int(peaks['sizes'][-1])}² products): fp32 "
        f"{peaks['fp32']:.1f} GFLOP/s, bf16 {peaks['bf16']:.1f} GFLOP/s ({native})",
        "",
        "| contender | GFLOP/pose (fwd+bwd) | achieved GFLOP/s | share of peak |",
        "|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['gflop_per_pose']:.4f} | {row['achieved_gflops']:.1f} | "
                     f"{row['share_of_peak']:.1%} of {row['peak']} |")  # fmt: skip
    return "\n".join(lines)


def split_table(split: dict[str, Any]) -> str:
    lines = [
        f"| quickstart phase ({split['steps']} steps measured; {split['projected_steps']} projected) | measured s | "
        "projected s |",
        "|---|---|---|",
    ]
    for name, value in split["seconds"].items():
        lines.append(f"| {name} | {value:.1f} | {split['projected_seconds'][name]:.1f} |")
    lines.append(f"| total | {sum(split['seconds'].values()):.1f} | {split['projected_total_s']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from unet1d.evaluation.c2st import start_fold_workers

    start_fold_workers()  # first, as `unet1d train` does: the quickstart split's probes fit their folds in processes
    from bench.run import MODES, HarnessRun, bench_config, interleaved

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="Fewer steps and rounds.")
    parser.add_argument("--threads", type=positive_int, help="torch threads (default: the training default).")
    parser.add_argument(
        "--split-steps", type=non_negative_int, default=200, help="Steps of the quickstart-shaped run (0: skip)."
    )
    parser.add_argument("--json", type=json_path, default=Path("bench/results/roofline.json"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    result: dict[str, Any] = {"threads": torch.get_num_threads(), "peaks": matmul_peak(device)}
    settings = MODES["quick" if args.quick else "full"]
    networks = {"default": {}, "quickstart": {"base_channels": 32, "batch_size": 64}}
    rows, profiles = {}, {}
    with tempfile.TemporaryDirectory(prefix="unet1d-roofline-") as tmp:
        for name, fields in networks.items():
            fields = {"base_channels": settings.base_channels, "batch_size": settings.batch_size, **fields}
            config = bench_config(settings, "cpu", Path(tmp) / name, **fields, tensorboard=False)
            if args.threads:
                config.train.threads = args.threads
            harness = HarnessRun(config)
            try:
                rates = interleaved({name: harness}, settings, device)[name]
                flop = train_flop_per_pose(harness.trainer.network, config.model.pose_dim, device)
                precision = "bf16" if harness.trainer.precision == "bf16" else "fp32"
                rows[name] = roofline_rows({name: statistics.median(rates)}, {name: flop}, result["peaks"],
                                           {name: precision})[name]  # fmt: skip
                profiles[name] = step_profile(harness.trainer, harness.steps, steps=3 if args.quick else 5)
            finally:
                harness.close()
    result.update(roofline=rows, profile=profiles)
    print(roofline_table(result["peaks"], rows) + "\n\n" + profile_table(profiles))
    from bench.step_versus import main as versus

    threads = [f"--threads={args.threads}"] if args.threads else []
    result["quickstart_vs_earlier"] = versus([*threads, f"--rounds={settings.rounds}", f"--steps={settings.steps}"])
    if args.split_steps:
        result["quickstart_split"] = quickstart_split(args.split_steps, threads=args.threads)
        print("\n" + split_table(result["quickstart_split"]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    run_main(main)
