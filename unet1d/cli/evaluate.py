"""`unet1d eval` and `unet1d sample`: read a run's checkpoint, which describes itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

RunArgument = Annotated[
    Path, typer.Argument(help="A run's output_dir (its latest checkpoint) or one checkpoint directory.")
]
NumSamples = Annotated[int, typer.Option("--num-samples", "--num_samples", min=2, help="Poses to draw.")]
Seed = Annotated[int, typer.Option("--seed", help="Sampling seed (same seed, same poses).")]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
Raw = Annotated[bool, typer.Option("--raw", help="Use the raw weights instead of the EMA weights.")]


def eval_command(
    run: RunArgument, num_samples: NumSamples = 2000, seed: Seed = 0, device: Device = "auto", raw: Raw = False
) -> None:
    """Sample from a checkpoint and score the poses against held-out data; writes <run>/eval/step-N.json."""
    from unet1d.evaluation.evaluate import evaluate

    report = evaluate(run, num_samples=num_samples, seed=seed, device=device, ema=not raw)
    out = report.save()
    typer.echo(f"checkpoint      {report.checkpoint} (step {report.step}, {report.weights} weights)")
    typer.echo(f"sampler         {report.sampler}, {report.sample_steps} steps, {report.num_samples} poses")
    typer.echo(f"val loss        {report.val_loss:.4f}  (denoising MSE on {report.reference} poses)")
    typer.echo(f"Fréchet dist.   {report.frechet_distance:.4f}  (normalised poses; 0 = same Gaussian fit)")
    typer.echo(f"MMD (RBF)       {report.mmd:.5f}")
    typer.echo(f"diversity       {report.diversity_ratio:.3f}  (pairwise distance vs data; 1 = as varied)")
    outside = f"{report.limit_violation_rate:.2%} of angles, {report.poses_outside_limits:.1%} of poses"
    typer.echo(f"joint limits    {outside} outside")
    if report.family_shares is not None:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in report.family_shares.items())
        typer.echo(f"families        {report.family_coverage:.0%} covered: {shares}")
    typer.echo(f"sampling time   {report.sample_seconds:.2f} s")
    typer.echo(f"wrote {out}")


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
