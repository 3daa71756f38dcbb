"""`unet1d eval` and `unet1d sample`: read a run's checkpoint, which describes itself."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import typer

from unet1d.allocator import keep_freed_memory
from unet1d.cli.common import check_environment
from unet1d.cli.output import save_npz, writable_output
from unet1d.config import MIN_EVAL_SAMPLES, SEED_MAX
from unet1d.data.up_axis import run_up_axis
from unet1d.errors import UserError
from unet1d.metric_registry import eval_table

RunArgument = Annotated[
    Path, typer.Argument(help="A run's output_dir (its latest checkpoint) or one checkpoint directory.")
]
NumSamples = Annotated[
    int,
    typer.Option(
        "--num-samples", "--num_samples", min=MIN_EVAL_SAMPLES, max=1_000_000,
        help="Poses to draw (at most 1,000,000: the scores' cost grows with them).",
    ),
]  # fmt: skip
Seed = Annotated[int, typer.Option("--seed", min=0, max=SEED_MAX, help="Sampling seed (same seed, same poses).")]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
Raw = Annotated[bool, typer.Option("--raw", help="Use the raw weights instead of the EMA weights.")]


def checked_device(device: str) -> None:
    """Exit 2 with the choices unless this machine can run ``--device``. Called in the command, not as an
    option callback: that would load torch before the eval's fold processes fork."""
    from unet1d.precision import device_problem

    problem = device_problem(device)
    if problem is not None:
        raise UserError(f"--device {device}: {problem}")


def eval_command(
    ctx: typer.Context,
    run: RunArgument,
    num_samples: NumSamples = 2000,
    seed: Seed = 0,
    device: Device = "auto",
    raw: Raw = False,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="auto (fresh built-in draw, else val), val, train or a pose file/folder. "
            "Default: the run's evaluation.eval_reference (auto).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write the JSON (and its .png beside it) here instead of the run's eval/step-N.json, "
            "which is what `unet1d compare` reads.",
        ),
    ] = None,
) -> None:
    """Score a checkpoint's samples beside the data and Gaussian baselines; writes <run>/eval/step-N.json.

    Sampler, data and evaluation fields can follow as overrides, e.g. --sampler ddpm, --sample_steps 20,
    --clip_x0 null, --task_poses 0 (`unet1d config show` lists them); what the network learned with cannot change.
    """
    if out is not None:
        writable_output(out)  # before the work: an eval takes tens of seconds
        if out.suffix.lower() == ".png":  # the figure would replace the report
            raise UserError(
                f"--out {out}: the report is JSON and its figure goes beside it as {out.name}; name it .json"
            )
        figure = out.with_suffix(".png")
        if figure.exists() and not figure.is_file():
            raise UserError(f"--out {out}: its figure's place, {figure}, is no regular file (a device, pipe or folder)")
    from unet1d.evaluation.c2st import start_fold_workers

    start_fold_workers()  # first: the classifier's workers import scikit-learn on the other core while torch loads

    from unet1d.evaluation.evaluate import evaluate, keep_earlier, save_figure
    from unet1d.prior.api import divergence

    checked_device(device)

    keep_freed_memory()  # a fifth of eval's CPU time was page faults

    report, samples, ref = evaluate(
        run, num_samples=num_samples, seed=seed, device=device, ema=not raw, reference=reference, overrides=ctx.args
    )
    for note in report.notes:  # complete and denoise say the same of their --poses
        typer.echo(note)
    problem = divergence(samples)
    if problem is not None:  # the scores below then measure the divergence, not the model
        typer.echo(f"warning: {problem}", err=True)
    try:
        kept = keep_earlier(report.default_path(), report.to_dict()) if out is None else None
        drawing = time.perf_counter()  # the figure first: a report's JSON there means its picture is (keep_earlier)
        picture = save_figure(report, samples, ref, out)
        figure_seconds = time.perf_counter() - drawing
        path = report.save(out)
    except OSError as err:  # the run's own folder, read-only or full: the scores are lost, the way out is -o
        raise UserError(
            f"cannot write the report to {out or report.default_path()} ({err.strerror or err}); "
            "pass -o FILE to write it elsewhere"
        ) from None
    stages = {**report.stage_seconds, "figure": figure_seconds}
    payload = report.to_dict()
    sources = [payload, *(report.baselines.get(name, {}) for name in ("data", "gaussian", "nearest"))]
    typer.echo(f"checkpoint     {report.checkpoint} (step {report.step}, {report.weights} weights)")
    typer.echo(
        f"sampler        {report.sampler}, {report.sample_steps} steps, {report.num_samples} poses, "
        f"{report.compute_dtype} network"
    )
    loss = f"{report.val_loss:.4f}" if math.isfinite(report.val_loss) else "- (the run holds no validation poses)"
    typer.echo(f"reference      {report.reference}; val loss of the {report.weights} weights {loss}")
    typer.echo(f"{'':16}{'model':>9}{'data':>9}{'gaussian':>10}{'nearest':>9}")
    for metric in eval_table():  # the registry's lines: label, format and meaning in one place ("-": no value)
        if metric.task and metric.name not in payload:
            continue  # task scores off (evaluation.task_poses 0)
        cells = [metric.format(source.get(metric.name)) for source in sources]
        direction = f" ({metric.better} is better)" if metric.better else ""
        typer.echo(
            f"{metric.label:16}{cells[0]:>9}{cells[1]:>9}{cells[2]:>10}{cells[3]:>9}  {metric.meaning}{direction}"
        )
    if payload.get("family_shares"):
        shares = ", ".join(f"{name} {share:.0%}" for name, share in payload["family_shares"].items())
        typer.echo(f"families       {shares}")
    if payload.get("worst_joints"):
        worst = ", ".join(f"{name} {rate:.1%}" for name, rate in payload["worst_joints"].items())
        typer.echo(f"worst joints   {worst}")
    from unet1d.evaluation.quality import gaussian_verdict

    summary = gaussian_verdict(payload["beats_gaussian"], payload.get("uninformative", ()))
    typer.echo(f"limits         {payload.get('limits')}")
    if report.verdict_withheld:
        summary = f"verdict withheld: {report.verdict_withheld}"
    typer.echo(f"vs Gaussian    {summary}")
    if "completion_cm" in payload:
        typer.echo(f"prior tasks    {task_summary(payload, report.baselines)}")
        typer.echo(f"task verdict   {task_verdict(payload)}")
    tasks = f", {report.task_seconds:.1f} s prior tasks" if report.task_seconds else ""
    typer.echo(f"time           {report.sample_seconds:.1f} s sampling{tasks}, {report.eval_seconds:.1f} s in all")
    typer.echo(f"stages         {', '.join(f'{name} {seconds:.1f} s' for name, seconds in stages.items())}")
    typer.echo(f"wrote {path} and {picture}")
    if kept is not None:
        typer.echo(f"kept the earlier evaluation of step {report.step}, made with other settings, as {kept}")


def task_summary(scores: dict, baselines: dict[str, dict]) -> str:
    """One line: the model's completion and denoising errors beside both baselines'."""
    others = [baselines.get(name, {}) for name in ("gaussian", "nearest")]

    def trio(key: str) -> str:
        gaussian, nearest = (other.get(key, float("nan")) for other in others)
        return f"{scores[key]:.2f} cm (gaussian {gaussian:.2f}, nearest {nearest:.2f})"

    return (
        f"completion {trio('completion_cm')}, best of hypotheses {scores['completion_best_cm']:.2f}; denoising "
        f"{trio('denoise_cm')}"
    )


def task_verdict(scores: dict) -> str:
    """One line: on which parts (and on denoising) the model's mean error is below both baselines'.

    "Ahead" means below both beyond the task poses' noise (both paired 95 % intervals of model minus baseline,
    the report's ``task_intervals``, below 0); every other part is named with its least favourable interval."""
    from unet1d.body.skeleton import COMPLETION_PARTS

    keys = {part: f"completion_cm_{part}" for part in COMPLETION_PARTS} | {"denoising": "denoise_cm"}
    intervals = scores["task_intervals"]
    ahead, within, behind = [], [], []
    for name, key in keys.items():
        gaps = intervals.get(key, {})
        if not gaps:
            continue
        if any(low is None for _, low, _ in gaps.values()):  # one task pose: no interval, nothing decided
            within.append(f"{name} (one pose, no interval)")
            continue
        if all(high < 0 for _, _, high in gaps.values()):
            ahead.append(name)
            continue
        lost = any(low > 0 for _, low, _ in gaps.values())  # a baseline ahead beyond noise
        worst = max(gaps, key=lambda baseline: gaps[baseline][1 if lost else 2])
        difference, low, high = gaps[worst]
        shown = f"{name} {difference:+.2f} [{low:+.2f}, {high:+.2f}] cm against {worst}"
        (behind if lost else within).append(shown)
    parts = [name for name in ahead if name != "denoising"]
    counts = {len(errors) for errors in scores.get("task_errors", {}).values()}
    poses = f", {counts.pop()} poses" if len(counts) == 1 else ""
    line = f"ahead of both baselines beyond the task poses' noise (paired 95 %{poses}) on {len(parts)} of "
    line += f"{len(COMPLETION_PARTS)} parts" + (" and on denoising" if "denoising" in ahead else ", not on denoising")
    for label, named in (("within noise", within), ("behind", behind)):
        if named:
            line += f"; {label}: {', '.join(named)}"
    return line


MAX_SAMPLES = 10_000_000  # `sample` holds every pose in memory: a typo of 10^11 ran until memory ran out


def sample_command(
    run: RunArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the .npz (key 'poses', radians).")] = Path(
        "samples.npz"
    ),
    num_samples: Annotated[
        int,
        typer.Option(
            "--num-samples",
            "--num_samples",
            min=1,
            max=MAX_SAMPLES,
            help="Poses to draw (at most 10,000,000: 2.7 GiB of float32 poses).",
        ),
    ] = 64,
    seed: Seed = 0,
    device: Device = "auto",
    raw: Raw = False,
) -> None:
    """Draw poses from a checkpoint with its own sampler settings; saves (N, pose_dim) axis-angle radians."""
    import numpy as np

    from unet1d.evaluation.evaluate import draw_samples, resolve_device
    from unet1d.prior.api import divergence
    from unet1d.store.checkpoints import load_for_eval

    writable_output(out, archive=True)
    checked_device(device)
    check_environment()
    keep_freed_memory()
    checkpoint = load_for_eval(run)
    poses = draw_samples(checkpoint, num_samples, seed=seed, device=resolve_device(device), ema=not raw)
    up_axis = run_up_axis(checkpoint.config.data, checkpoint.stats)  # as complete and denoise say theirs
    save_npz(out, poses=poses.astype(np.float32), step=np.int64(checkpoint.step), up_axis=np.array(up_axis))
    poses_said = f"{num_samples} pose{'s' * (num_samples != 1)}"
    typer.echo(f"wrote {poses_said} ({poses.shape[1]} numbers each) from step {checkpoint.step} to {out}")
    problem = divergence(poses)
    if problem is not None:
        typer.echo(f"warning: {problem}", err=True)
