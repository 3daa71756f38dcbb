"""`unet1d eval` and `unet1d sample`: read a run's checkpoint, which describes itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

RunArgument = Annotated[
    Path, typer.Argument(help="A run's output_dir (its latest checkpoint) or one checkpoint directory.")
]
NumSamples = Annotated[int, typer.Option("--num-samples", "--num_samples", min=16, help="Poses to draw.")]
Seed = Annotated[int, typer.Option("--seed", help="Sampling seed (same seed, same poses).")]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
Raw = Annotated[bool, typer.Option("--raw", help="Use the raw weights instead of the EMA weights.")]

C2ST_PARTS = ("root", "legs", "arms", "spine_head")  # evaluation/c2st.py's BODY_PARTS, without importing numpy
# (key, label, format, note): the lines `unet1d eval` prints, model beside both baselines.
ROWS = [
    ("precision", "precision", "{:.3f}", "share of samples on the data (k-NN, higher is better)"),
    ("recall", "recall", "{:.3f}", "share of the data the samples reach (higher)"),
    ("density", "density", "{:.3f}", "k-NN density (~1 for real data)"),
    ("coverage", "coverage", "{:.3f}", "k-NN coverage (higher)"),
    ("one_nn_accuracy", "1-NN accuracy", "{:.3f}", "0.5 = indistinguishable from data, 1 = separable"),
    ("dnn_rad", "dNN", "{:.3f}", "rad, mean geodesic distance to the nearest training pose"),
    ("apd_cm", "APD", "{:.1f}", "cm, mean pairwise joint distance (diversity)"),
    ("poses_outside_limits_tol", "outside limits", "{:.1%}", "poses with an angle past a limit by > 0.05 rad"),
    ("poses_outside_limits", "outside (any)", "{:.1%}", "poses with any angle past a limit"),
    ("frechet_distance", "FD", "{:.3f}", "Fréchet distance of Gaussian fits"),
    ("mmd", "MMD", "{:.5f}", "RBF maximum mean discrepancy"),
    ("diversity_ratio", "diversity", "{:.3f}", "pairwise distance vs data (1 = as varied)"),
    ("family_share_error", "family error", "{:.1%}", "largest gap between a family's share and the data's"),
    ("c2st_auc", "C2ST AUC", "{:.3f}", "classifier two-sample test: 0.5 = indistinguishable, 1 = separable"),
    *((f"c2st_auc_{part}", f"  {part}", "{:.3f}", "the same test on this part's joints alone") for part in C2ST_PARTS),
]


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def eval_command(
    ctx: typer.Context,
    run: RunArgument,
    num_samples: NumSamples = 2000,
    seed: Seed = 0,
    device: Device = "auto",
    raw: Raw = False,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="auto (fresh built-in draw, else val), val, train or a pose file/folder."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the JSON here instead.")] = None,
) -> None:
    """Score a checkpoint's samples beside the data and Gaussian baselines; writes <run>/eval/step-N.json.

    Any config field can follow as an override for the sampling, e.g. --sampler ddpm, --sample_steps 20,
    --clip_x0 null.
    """
    from unet1d.evaluation.evaluate import evaluate, save_figure

    report, samples, ref = evaluate(
        run, num_samples=num_samples, seed=seed, device=device, ema=not raw, reference=reference, overrides=ctx.args
    )
    path = report.save(out)
    picture = save_figure(report, samples, ref, out)
    payload = report.to_dict()
    data, gaussian = report.baselines["data"], report.baselines["gaussian"]
    typer.echo(f"checkpoint     {report.checkpoint} (step {report.step}, {report.weights} weights)")
    typer.echo(f"sampler        {report.sampler}, {report.sample_steps} steps, {report.num_samples} poses")
    typer.echo(f"reference      {report.reference}; val loss {report.val_loss:.4f}")
    typer.echo(f"{'':16}{'model':>9}{'data':>9}{'gaussian':>10}")
    for key, label, fmt, note in ROWS:
        cells = [_cell(payload.get(key), fmt), _cell(data.get(key), fmt), _cell(gaussian.get(key), fmt)]
        typer.echo(f"{label:16}{cells[0]:>9}{cells[1]:>9}{cells[2]:>10}  {note}")
    if payload.get("family_shares"):
        shares = ", ".join(f"{name} {share:.0%}" for name, share in payload["family_shares"].items())
        typer.echo(f"families       {shares}")
    if payload.get("worst_joints"):
        worst = ", ".join(f"{name} {rate:.1%}" for name, rate in payload["worst_joints"].items())
        typer.echo(f"worst joints   {worst}")
    verdict = payload["beats_gaussian"]
    lost = [name for name, won in verdict.items() if not won]
    summary = "yes, on every structure-aware metric" if not lost else f"no: not better on {', '.join(lost)}"
    typer.echo(f"beats Gaussian {summary}")
    typer.echo(f"time           {report.sample_seconds:.1f} s sampling, {report.eval_seconds:.1f} s in all")
    typer.echo(f"wrote {path} and {picture}")


def sample_command(
    run: RunArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the .npz (key 'poses', radians).")] = Path(
        "samples.npz"
    ),
    num_samples: NumSamples = 64,
    seed: Seed = 0,
    device: Device = "auto",
    raw: Raw = False,
) -> None:
    """Draw poses from a checkpoint with its own sampler settings; saves (N, pose_dim) axis-angle radians."""
    import numpy as np

    from unet1d.evaluation.evaluate import draw_samples, resolve_device
    from unet1d.training.checkpoints import load_for_eval

    checkpoint = load_for_eval(run)
    poses = draw_samples(checkpoint, num_samples, seed=seed, device=resolve_device(device), ema=not raw)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, poses=poses.astype(np.float32), step=np.int64(checkpoint.step))
    typer.echo(f"wrote {num_samples} poses ({poses.shape[1]} numbers each) from step {checkpoint.step} to {out}")
