"""Poses per CPU-minute against the peers' own pipelines: each trained as its docs say, for one time budget.

    python bench/peer_pipelines.py [--budget-s 120] [--budget-clock wall|cpu] [--seeds 0 1 2] [--num-poses 2000]
        [--contenders ours lucidrains diffusers] [--threads N] [--ours-flags "..."] [--peer-heading keep|canonical]
        [--json FILE] [--smoke]

The measurement in docs/speed.md (issue 21, item 1). The budget is the CPU the README quickstart's
training loop takes on 2 threads (``--contenders ours --threads 2 --budget-s 600 --seeds 0``
reports it: 193 CPU s, 100 s wall); every contender gets it on one thread, on the CPU clock, so
runs can share the 2 cores two at a time (about 1 h 15 min for three seeds at 1,000 poses, most
of it lucidrains' 1000-step sampler):

    python bench/peer_pipelines.py --budget-s 193 --budget-clock cpu --threads 1 --seeds 0 1 2 \\
        --num-poses 1000 --json bench/results/peer_pipelines.json

Each contender x seed runs in a fresh subprocess (its own RNG state, threads and Accelerate state;
every contender gets ``--threads``, default the cores this process may use, as ``unet1d train``
picks), trains for ``--budget-s`` seconds of training loop on the built-in poses (elapsed seconds;
``--budget-clock cpu`` counts the run's own CPU seconds instead, the fair clock on a machine others
are using), samples ``--num-poses`` poses with its own sampler, and hands the poses (radians) back;
this process scores every set with our evaluation
(:func:`unet1d.evaluation.quality.build_reference` on the built-in data, ``"auto"``, and
:func:`unet1d.evaluation.quality.score`, ``seed=0``: what ``unet1d eval`` computes, classifier test
included), beside the data and Gaussian baselines. Peers get the parameter count of our
network under ``--ours-flags`` (the README quickstart's 333k): the width within 20 % that comes
closest (lucidrains ``Unet1D`` dim 8: 347k; diffusers temporal ``UNet1DModel`` block widths
(16, 32, 80): 342k, its last stage widened in steps of 8 since (16, 32, 64) has 251k).

Contenders, as a user who follows each one's documentation would run them:

* ``ours``: ``unet1d train`` with the README quickstart's flags (``--ours-flags``, default
  ``--max_steps 2000 --batch_size 64 --base_channels 32 --lr 2e-3 --beta2 0.99``) through
  :class:`unet1d.training.loop.Trainer` at every other default (bf16 autocast where the CPU runs it natively,
  EMA, validation every 250 steps, checkpoints), probes and W&B off (``--final_eval_samples 0
  --quality_every 0``). It stops at
  ``max_steps`` or at the budget, whichever comes first, the way a SIGTERM stops it (the step ends,
  a checkpoint is written). Samples: ``unet1d eval``'s path: the last checkpoint's EMA weights,
  :func:`unet1d.evaluation.sampling.sample_poses` with the run's sampler (DPM-Solver++ 2M, 20 steps, by default).
* ``lucidrains``: denoising-diffusion-pytorch 2.3.4, ``Unet1D(dim, dim_mults=(1, 2, 4, 8), channels=1)``,
  ``GaussianDiffusion1D(seq_length=72)`` at its defaults (T = 1000, cosine schedule, ``pred_noise``,
  ``auto_normalize=True``, ``sampling_timesteps=None`` = all 1000 steps of ancestral DDPM), trained by
  its own ``Trainer1D.train()`` at its defaults (Adam lr 1e-4, betas (0.9, 0.99), batch 16, no
  accumulation, grad-norm clip 1.0, EMA 0.995 every 10 steps, fp32, its DataLoader with
  ``num_workers=cpu_count()``). Data as its README's 1D example says ("features are normalized from
  0 to 1"): each dimension min/max-scaled to [0, 1] over the training poses; samples, which its
  ``sample()`` returns in [0, 1], are mapped back. Samples: ``ema.ema_model.sample(batch_size)``.
* ``diffusers``: ``UNet1DModel`` (the ResNet-style temporal UNet of :func:`bench.peers.diffusers_temporal_unet`)
  with ``DDPMScheduler()`` at its defaults (T = 1000, linear betas 1e-4..0.02, epsilon, ``fixed_small``,
  ``clip_sample`` at 1), trained by the loop of diffusers' ``examples/unconditional_image_generation/
  train_unconditional.py`` at its argparse defaults and its README's command (``--use_ema
  --train_batch_size=16 --learning_rate=1e-4 --lr_warmup_steps=500 --mixed_precision=no``): AdamW
  (lr 1e-4, betas (0.95, 0.999), weight decay 1e-6, eps 1e-8), ``--lr_scheduler cosine`` with 500
  warm-up steps, ``accelerator.clip_grad_norm_(..., 1.0)``, ``EMAModel(decay=0.9999,
  use_ema_warmup=True, inv_gamma=1.0, power=3/4)`` stepped after each optimiser step,
  ``F.mse_loss(output.float(), noise.float())``, ``dataloader_num_workers=0``. Data as the example's
  ``Normalize([0.5], [0.5])`` leaves images: [-1, 1] per dimension (min/max of the training poses).
  Samples: ``DDPMPipeline`` itself on the EMA weights (``ema.copy_to``), ``num_inference_steps``
  1000 (the pipeline's and the example's ``--ddpm_num_inference_steps`` default), ``output_type="pt"``,
  whose ``(x / 2 + 0.5).clamp(0, 1)`` is mapped back.

Where a documented default could not be followed, and what is done instead:

* Time budget. ``Trainer1D.train()`` runs to ``train_num_steps`` (100,000): it runs unmodified, but
  its batch iterator ends the run at the budget (sets ``train_num_steps`` to the step in progress).
  diffusers' cosine schedule needs ``num_training_steps`` up front: its warm-up is kept (500 steps)
  and its half cosine to 0 runs over the budget's remaining wall time instead of a step count.
* Monitoring off in every contender: ``Trainer1D``'s ``save_and_sample_every=1000`` (a 25-pose,
  1000-step sample and a checkpoint every 1000 steps) and the example's per-epoch sample images,
  checkpoints and TensorBoard logging would spend the peers' budget on things ours also has off.
  ``Trainer1D``'s ``results_folder`` is a temporary folder, not ``./results``.
* Sampling batch: every contender samples in chunks of :data:`unet1d.evaluation.sampling.SAMPLE_CHUNK`
  (512) poses (``Trainer1D`` samples in groups of its training batch, the example 16 at a time):
  the same arithmetic per pose, fewer Python steps.
* Data on a pose's heading: ``ours`` trains on poses turned to heading 0 (its ``data.heading
  canonical`` default) and samples a random heading; the peers get the training poses as the
  generator made them (``--peer-heading canonical`` hands them ours' turned poses instead). The
  evaluation is heading-free, so this only measures what each pipeline must learn.
* ``--budget-clock cpu`` reads the training process's own CPU time; ``Trainer1D``'s DataLoader
  workers (separate processes) fall outside its budget, though inside its ``train_cpu_s``.
* ``DDPMPipeline`` draws ``(batch, in_channels, *sample_size)`` noise only for a tuple ``sample_size``;
  the 1D model's config gets ``sample_size=(72,)`` (the network itself ignores it).

Reported per contender x seed: parameters, optimiser steps, training wall and CPU seconds (the
process and its DataLoader workers), sampling wall and CPU seconds, network calls per pose (counted
by a forward hook), and the scores. Wall times on a shared machine mean little; the CPU seconds and
the steps do. ``--smoke`` shrinks everything (a tiny ``ours``, matched peers, T = 50 for the peers, a
few seconds each) to check the plumbing, not the numbers.

Sampling dominates: one call of the networks above on 512 poses costs, in CPU seconds on one
thread, ours 0.15 (bf16; 0.17 fp32), lucidrains 0.71, diffusers 0.19; ours makes 20 calls a pose
(DPM-Solver++ 2M), each peer 1000.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/peer_pipelines.py` from anywhere
from bench.arguments import json_path, non_negative_int, positive_float, positive_int, run_main  # noqa: E402
from bench.peers import diffusers_temporal_unet, load_lucidrains_1d  # noqa: E402
from unet1d.config import Config  # noqa: E402
from unet1d.config_sources import with_overrides  # noqa: E402
from unet1d.data import load_pose_data  # noqa: E402
from unet1d.evaluation import quality  # noqa: E402
from unet1d.evaluation.sampling import SAMPLE_CHUNK, sample_poses  # noqa: E402
from unet1d.model import UNet1D, count_parameters  # noqa: E402
from unet1d.training.launch import available_cores  # noqa: E402

CONTENDERS = ("ours", "lucidrains", "diffusers")
# The README quickstart's flags (333k parameters); docs/speed.md's peer tables were measured before --beta2 0.99
QUICKSTART = "--max_steps 2000 --batch_size 64 --base_channels 32 --lr 2e-3 --beta2 0.99"
SMOKE_OURS = "--max_steps 4 --batch_size 16 --base_channels 16 --builtin_samples 1000"
PEER_TIMESTEPS, SMOKE_TIMESTEPS = 1000, 50  # the peers' documented T and sampler steps; smoke: plumbing only
MATCH_TOLERANCE = 0.20  # the peers' widths come in steps (lucidrains 2, diffusers 8): no exact match
SCORE_KEYS = ("precision", "recall", "one_nn_accuracy", "frechet_distance", "poses_outside_limits_tol")
TABLE_KEYS = ("c2st_auc", "precision", "recall", "one_nn_accuracy", "frechet_distance", "poses_outside_limits_tol")
FAR = 10**9


# ----------------------------------------------------------------------------------- shared pieces


def ours_config(flags: str, seed: int, output_dir: Path, threads: int | None) -> Config:
    """``unet1d train`` with ``flags`` and this benchmark's fixed extras (no probes, no W&B, quiet)."""
    extra = ["--seed", str(seed), "--output_dir", str(output_dir), "--overwrite", "true", "--final_eval_samples", "0",
             "--quality_every", "0", "--wandb_mode", "disabled", "--progress", "none"]  # fmt: skip
    if threads:
        extra += ["--threads", str(threads)]
    return with_overrides(Config(), [*shlex.split(flags), *extra], origin="--ours-flags")


def ours_parameters(flags: str) -> int:
    from unet1d.data.representation import network_config

    return count_parameters(UNet1D.from_config(network_config(ours_config(flags, 0, Path("unused"), None))))


def lucidrains_network(width: int) -> torch.nn.Module:
    return load_lucidrains_1d().Unet1D(width, dim_mults=(1, 2, 4, 8), channels=1)


Width = int | tuple[int, ...]  # lucidrains: its dim; diffusers: its three block widths


def diffusers_network(width: Width) -> torch.nn.Module:
    return diffusers_temporal_unet(width).inner  # the bare UNet1DModel: its pipeline reads `.sample` itself


def diffusers_widths() -> Iterator[tuple[int, int, int]]:
    """Block widths (w, 2w, c) in growing size: c runs from 4w in steps of 8 up to the next (w, 2w, 4w).

    Its GroupNorm(8) wants multiples of 8, so (w, 2w, 4w) alone jumps 251k -> 562k around the
    quickstart's 333k; widening the last stage alone fills the gap ((16, 32, 80): 342k).
    """
    for w in range(8, 257, 8):
        yield from ((w, 2 * w, c) for c in range(4 * w, 4 * (w + 8), 8))


# Widths each peer takes: lucidrains' sinusoidal embedding needs an even dim, diffusers' GroupNorm(8) multiples of 8.
PEER_WIDTHS: dict[str, tuple[Callable[[Any], torch.nn.Module], Callable[[], Iterable[Width]]]] = {
    "lucidrains": (lucidrains_network, lambda: range(4, 129, 2)),
    "diffusers": (diffusers_network, diffusers_widths),
}


def matched_width(name: str, target: int, tolerance: float | None = MATCH_TOLERANCE) -> tuple[Width, int]:
    """The width of peer ``name`` whose parameter count is closest to ``target``; (width, parameters).

    Widths are tried in growing size. Refused when the closest is further than ``tolerance`` (a
    fraction) from ``target``; None: take the closest.
    """
    build, widths = PEER_WIDTHS[name]
    best: tuple[Width, int] | None = None
    for width in widths():
        count = count_parameters(build(width))
        if best is None or abs(count - target) < abs(best[1] - target):
            best = (width, count)
        if count > target:  # counts grow with width: the next one is further away
            break
    assert best is not None
    if tolerance is not None and abs(best[1] - target) > tolerance * target:
        raise SystemExit(f"{name}: no width within {tolerance:.0%} of {target:,} parameters (closest {best})")
    return best


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (DataLoader workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Budget:
    """Training seconds on one clock: ``wall`` (elapsed) or ``cpu`` (this process's CPU time, every thread).

    The CPU clock is the fair one on a machine that others are using: a contender slowed by someone
    else's work loses wall time, not CPU time. Started when made.
    """

    def __init__(self, seconds: float, clock: str) -> None:
        self.read = time.perf_counter if clock == "wall" else time.process_time
        self.seconds, self.start = seconds, self.read()

    def fraction(self) -> float:
        return (self.read() - self.start) / self.seconds

    def spent(self) -> bool:
        return self.fraction() >= 1.0


class CallCounter:
    """Counts a module's forward calls (the sampler's network evaluations)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.calls = 0
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, *_: Any) -> None:
        self.calls += 1


def chunks(total: int) -> list[int]:
    return [min(SAMPLE_CHUNK, total - start) for start in range(0, total, SAMPLE_CHUNK)]


class MinMax:
    """Per-dimension min/max scaling of the training poses to [0, 1], the way both peers' docs want data."""

    def __init__(self, poses: np.ndarray) -> None:
        self.low = poses.min(axis=0)
        span = poses.max(axis=0) - self.low
        self.span = np.where(span > 0, span, 1.0)

    def to_unit(self, poses: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((poses - self.low) / self.span, dtype=torch.float32)[:, None, :]  # (N, 1, 72)

    def from_unit(self, unit: torch.Tensor) -> np.ndarray:
        return unit[:, 0, :].double().numpy() * self.span + self.low


# ------------------------------------------------------------------------------------- contenders


def run_ours(spec: dict[str, Any], work: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """The quickstart through the package's own Trainer; samples as ``unet1d eval`` draws them."""
    from unet1d.store.checkpoints import load_for_eval
    from unet1d.training.loop import Trainer

    config = ours_config(spec["ours_flags"], spec["seed"], work / "run", spec["threads"])
    trainer = Trainer(config)
    try:
        budget_step, device = trainer.train_step, trainer.device
        budget = Budget(spec["budget_s"], spec["clock"])

        def step(*, stop: bool) -> Any:  # the budget ends the run as a SIGTERM would: after this step
            return budget_step(stop=stop or budget.spent())

        trainer.train_step = step  # type: ignore[method-assign]
        cpu, started = cpu_seconds(), time.perf_counter()
        result = trainer.run()
        train_s, train_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    finally:
        trainer.close()
    checkpoint = load_for_eval(work / "run")
    network = checkpoint.build_model(ema=True, device=device)
    counter = CallCounter(network)
    cpu, started = cpu_seconds(), time.perf_counter()
    poses = sample_poses(network, checkpoint.config, checkpoint.stats, spec["num_poses"], seed=spec["seed"],
                         device=device)  # fmt: skip
    meta = {
        "parameters": result.num_parameters, "steps": result.final_step, "train_s": train_s, "train_cpu_s": train_cpu,
        "sample_s": time.perf_counter() - started, "sample_cpu_s": cpu_seconds() - cpu,
        "calls_per_pose": counter.calls / len(chunks(spec["num_poses"])), "precision_used": result.compute_dtype,
        "stopped_by": "budget" if result.preempted else "max_steps",
        "sampler": f"{checkpoint.config.diffusion.sampler}-{checkpoint.config.diffusion.sampling_steps}",
    }  # fmt: skip
    return poses, meta


def run_lucidrains(spec: dict[str, Any], poses: np.ndarray, work: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """``GaussianDiffusion1D`` + ``Trainer1D.train()`` at their defaults; ``ema_model.sample()``."""
    module = load_lucidrains_1d()
    scale = MinMax(poses)
    network = lucidrains_network(spec["width"])
    diffusion = module.GaussianDiffusion1D(network, seq_length=poses.shape[1], timesteps=spec["timesteps"])
    trainer = module.Trainer1D(
        diffusion, module.Dataset1D(scale.to_unit(poses)), results_folder=str(work / "results"),
        save_and_sample_every=FAR,  # monitoring off (see the module docstring)
    )  # fmt: skip
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    budget = Budget(spec["budget_s"], spec["clock"])
    batches = trainer.dl

    def until_deadline() -> Iterator[torch.Tensor]:
        for batch in batches:
            if budget.spent():
                trainer.train_num_steps = trainer.step + 1  # this step is the last: train() then returns
            yield batch

    trainer.dl = feed = until_deadline()
    cpu, started = cpu_seconds(), time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - started
    feed.close()
    batches.close()  # ends the DataLoader's last workers, so their CPU time counts
    gc.collect()
    train_cpu = cpu_seconds() - cpu
    ema = trainer.ema.ema_model.eval()
    counter = CallCounter(ema.model)
    torch.manual_seed(spec["seed"])  # its sampler draws from the global generator
    cpu, started = cpu_seconds(), time.perf_counter()
    with torch.no_grad():
        unit = torch.cat([ema.sample(batch_size=n) for n in chunks(spec["num_poses"])])
    meta = {
        "parameters": count_parameters(network), "steps": trainer.step, "train_s": train_s, "train_cpu_s": train_cpu,
        "sample_s": time.perf_counter() - started, "sample_cpu_s": cpu_seconds() - cpu,
        "calls_per_pose": counter.calls / len(chunks(spec["num_poses"])), "precision_used": "fp32",
        "stopped_by": "budget", "sampler": f"ddpm-{diffusion.sampling_timesteps}", "width": spec["width"],
    }  # fmt: skip
    return scale.from_unit(unit.cpu()), meta


def run_diffusers(spec: dict[str, Any], poses: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """The loop of diffusers' ``train_unconditional.py`` at its defaults; ``DDPMPipeline`` on the EMA weights."""
    import torch.nn.functional as F
    from accelerate import Accelerator
    from diffusers import DDPMPipeline, DDPMScheduler, UNet1DModel
    from diffusers.training_utils import EMAModel

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    scale = MinMax(poses)
    accelerator = Accelerator(gradient_accumulation_steps=1, mixed_precision="no")
    model = diffusers_network(spec["width"])
    model.register_to_config(sample_size=(poses.shape[1],))  # DDPMPipeline: noise of (B, C, *sample_size)
    noise_scheduler = DDPMScheduler(num_train_timesteps=spec["timesteps"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    data = scale.to_unit(poses) * 2 - 1  # [-1, 1]: the example's Normalize([0.5], [0.5]) on [0, 1] images
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True, num_workers=0)
    warmup, warm = 500, {}  # warm: the budget's fraction spent when the warm-up ended

    def lr_factor(step: int) -> float:  # the example's cosine-with-warm-up, its horizon the budget's time
        if step < warmup or budget is None:
            return step / warmup
        start = warm.setdefault("at", budget.fraction())
        progress = min(1.0, (budget.fraction() - start) / max(1e-9, 1.0 - start))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))

    budget: Budget | None = None

    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    model, optimizer, loader, lr_scheduler = accelerator.prepare(model, optimizer, loader, lr_scheduler)
    ema = EMAModel(model.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=3 / 4,
                   model_cls=UNet1DModel, model_config=model.config)  # fmt: skip
    step, budget = 0, Budget(spec["budget_s"], spec["clock"])
    cpu, started = cpu_seconds(), time.perf_counter()
    while not budget.spent():
        model.train()
        for clean in loader:
            noise = torch.randn(clean.shape, device=clean.device)
            timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(clean),), device=clean.device)
            noisy = noise_scheduler.add_noise(clean, noise, timesteps)
            with accelerator.accumulate(model):
                output = model(noisy, timesteps).sample
                loss = F.mse_loss(output.float(), noise.float())
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            if accelerator.sync_gradients:
                ema.step(model.parameters())
                step += 1
            if budget.spent():
                break
    train_s, train_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    unet = accelerator.unwrap_model(model).eval()
    ema.copy_to(unet.parameters())
    pipeline = DDPMPipeline(unet=unet, scheduler=noise_scheduler)
    pipeline.set_progress_bar_config(disable=True)
    counter = CallCounter(unet)
    generator = torch.Generator().manual_seed(spec["seed"])
    cpu, started = cpu_seconds(), time.perf_counter()
    with torch.no_grad():
        unit = torch.cat([
            pipeline(batch_size=n, generator=generator, num_inference_steps=spec["timesteps"], output_type="pt").images
            for n in chunks(spec["num_poses"])
        ])  # fmt: skip
    meta = {
        "parameters": count_parameters(unet), "steps": step, "train_s": train_s, "train_cpu_s": train_cpu,
        "sample_s": time.perf_counter() - started, "sample_cpu_s": cpu_seconds() - cpu,
        "calls_per_pose": counter.calls / len(chunks(spec["num_poses"])), "precision_used": "fp32",
        "stopped_by": "budget", "sampler": f"ddpm-{len(noise_scheduler.timesteps)}", "width": spec["width"],
    }  # fmt: skip
    return scale.from_unit(unit.cpu()), meta


def worker(spec: dict[str, Any]) -> None:
    """One contender x seed, in its own process: train, sample, write ``poses.npy`` and ``meta.json`` to ``out``."""
    out = Path(spec["out"])
    random.seed(spec["seed"])
    np.random.seed(spec["seed"])
    torch.manual_seed(spec["seed"])
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    with tempfile.TemporaryDirectory(prefix="peer-pipelines-") as tmp:
        work = Path(tmp)
        if spec["contender"] == "ours":
            poses, meta = run_ours(spec, work)
        else:
            data_config = ours_config(spec["ours_flags"], spec["seed"], work, None).data
            heading = {"heading": spec["peer_heading"]}
            splits = load_pose_data(data_config.model_copy(update=heading), 72, seed=data_config.data_seed)
            if spec["contender"] == "lucidrains":
                poses, meta = run_lucidrains(spec, splits.train, work)
            else:
                poses, meta = run_diffusers(spec, splits.train)
            meta["training_poses"] = len(splits.train)
    meta["threads"] = torch.get_num_threads()
    np.save(out / "poses.npy", np.asarray(poses, dtype=np.float32))
    (out / "meta.json").write_text(json.dumps(meta))


# ------------------------------------------------------------------------------------ the driver


def run_one(spec: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """``spec`` in a fresh subprocess; its poses and numbers."""
    with tempfile.TemporaryDirectory(prefix="peer-pipelines-out-") as out:
        spec = {**spec, "out": out}
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        if spec["threads"]:
            env["OMP_NUM_THREADS"] = str(spec["threads"])
        done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], env=env, cwd=out,
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            raise SystemExit(f"{spec['contender']} seed {spec['seed']} failed (exit {done.returncode}):\n"
                             f"{done.stderr[-4000:]}")  # fmt: skip
        return np.load(Path(out) / "poses.npy"), json.loads((Path(out) / "meta.json").read_text())


def picked(scores: dict[str, Any]) -> dict[str, Any]:
    """The scores a row keeps: the classifier test (whole pose and parts) and :data:`SCORE_KEYS`."""
    keys = [key for key in scores if key.startswith("c2st_auc")] + list(SCORE_KEYS)
    return {key: scores[key] for key in keys}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of every number in ``rows``."""
    numbers = {key for row in rows for key, value in row.items() if isinstance(value, (int, float))}
    out: dict[str, Any] = {}
    for key in sorted(numbers - {"seed"}):
        values = [float(row[key]) for row in rows if isinstance(row.get(key), (int, float))]
        out[key] = {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return out


def table(result: dict[str, Any]) -> str:
    head = ["contender", "params", "steps", "train CPU s", "sample s", "calls/pose", *TABLE_KEYS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, stats in result["summary"].items():

        def cell(key: str, spec: str = ".3f", stats: dict[str, Any] = stats) -> str:
            if key not in stats:
                return "-"
            return f"{stats[key]['mean']:{spec}} ± {stats[key]['std']:{spec}}"

        lines.append("| " + " | ".join([
            name, f"{stats['parameters']['mean']:,.0f}", cell("steps", ".0f"), cell("train_cpu_s", ".0f"),
            cell("sample_s", ".0f"), f"{stats['calls_per_pose']['mean']:.0f}", *[cell(key) for key in TABLE_KEYS],
        ]) + " |")  # fmt: skip
    for name, scores in result["baselines"].items():
        lines.append("| " + " | ".join([f"*{name} baseline*", "", "", "", "", "",
                                        *[f"{scores[key]:.3f}" for key in TABLE_KEYS]]) + " |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--budget-s", type=positive_float, default=120.0, help="Training seconds per contender and seed."
    )
    parser.add_argument(
        "--budget-clock", choices=("wall", "cpu"), default="wall",
        help="What --budget-s counts: elapsed seconds, or the run's CPU seconds (fair on a machine others are using).",
    )  # fmt: skip
    parser.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--num-poses", type=positive_int, default=2000, help="Poses each run samples and is scored on.")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--threads", type=positive_int, default=None, help="torch threads per run (default: cores).")
    parser.add_argument("--ours-flags", default=QUICKSTART, help="`unet1d train` flags for ours (the quickstart's).")
    parser.add_argument(
        "--peer-heading", choices=("keep", "canonical"), default="keep",
        help="Peers train on poses as generated (keep) or at heading 0 as ours does (canonical).",
    )  # fmt: skip
    parser.add_argument("--json", type=json_path, default=ROOT / "bench/results/peer_pipelines.json")
    parser.add_argument("--smoke", action="store_true", help="Tiny everything: checks the plumbing in seconds.")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return {}
    if args.smoke:
        args.budget_s, args.num_poses, args.seeds = min(args.budget_s, 2.0), min(args.num_poses, 64), args.seeds[:1]
        args.ours_flags = f"{args.ours_flags} {SMOKE_OURS}"
    timesteps = SMOKE_TIMESTEPS if args.smoke else PEER_TIMESTEPS
    threads = args.threads or available_cores()  # one number for every contender, as `unet1d train` would pick
    target = ours_parameters(args.ours_flags)
    tolerance = None if args.smoke else MATCH_TOLERANCE  # a tiny smoke network has no close lucidrains match
    widths = {name: matched_width(name, target, tolerance) for name in args.contenders if name in PEER_WIDTHS}
    print(f"parameters: ours {target:,}; " + "; ".join(f"{n} width {w}: {c:,}" for n, (w, c) in widths.items()))
    config = ours_config(args.ours_flags, 0, Path("unused"), None)
    splits = load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed)
    reference = quality.build_reference(config, splits, "auto")
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in args.contenders}
    for seed in args.seeds:  # seeds outermost: a machine that slows down part-way slows every contender alike
        for name in args.contenders:
            spec = {"contender": name, "seed": seed, "budget_s": args.budget_s, "clock": args.budget_clock,
                    "num_poses": args.num_poses, "threads": threads, "ours_flags": args.ours_flags,
                    "peer_heading": args.peer_heading, "timesteps": timesteps,
                    "width": widths.get(name, (None,))[0]}  # fmt: skip
            poses, meta = run_one(spec)
            scores = picked(quality.score(poses, reference, seed=0))
            rows[name].append({"contender": name, "seed": seed, **meta, **scores})
            print(f"{name} seed {seed}: {meta['steps']} steps in {meta['train_s']:.0f} s, sampled in "
                  f"{meta['sample_s']:.0f} s, C2ST AUC {scores['c2st_auc']:.3f}, FD {scores['frechet_distance']:.2f}",
                  flush=True)  # fmt: skip
    baselines = {name: picked(scores) for name, scores in quality.baselines(reference, args.num_poses).items()}
    result = {
        "command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cores": os.cpu_count(),
                    "torch": torch.__version__},
        "budget_s": args.budget_s, "budget_clock": args.budget_clock, "threads": threads, "num_poses": args.num_poses,
        "seeds": args.seeds, "ours_flags": args.ours_flags,
        "peer_heading": args.peer_heading, "peer_timesteps": timesteps, "ours_parameters": target,
        "peer_widths": {name: {"width": w, "parameters": c} for name, (w, c) in widths.items()},
        "rows": rows, "summary": {name: summary(runs) for name, runs in rows.items()}, "baselines": baselines,
        "smoke": args.smoke,
    }  # fmt: skip
    print(table(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    run_main(main)
