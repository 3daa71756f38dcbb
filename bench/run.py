"""Speed you can quote: the training harness, the peers, sampling, quality per compute, the middle block, --help.

    python bench/run.py [--quick] [--device cpu|cuda] [--json FILE] [--checkpoint RUN] [--profile]

Everything is measured in this one process, side by side; throughput contenders run in
interleaved rounds (the order rotates each round) and ratios are medians of per-round ratios, so
a machine that is busy with other work slows every contender alike. Absolute times mean
something only on an otherwise idle GPU; on a CPU quote the ratios.

1. ``harness_efficiency``: samples/s of the real ``unet1d train`` loop (:class:`Trainer` at its
   defaults: EMA, clipping, per-step grad norm, per-block norms every 50 steps, TensorBoard
   logging) over a bare loop (forward, MSE, backward, AdamW) of the same network, batch and
   data. Validation, checkpoints and quality probes fall outside the measured windows.
2. ``vs_peers``: our loop's samples/s over a bare loop around lucidrains' ``Unet1D`` (6.05M) and
   diffusers' temporal ``UNet1DModel`` (6.20M), against our default 5.28M attention-8 network;
   ``vs_peers_network`` the same with our network in the bare loop too.
3. ``sampling``: poses/s and quality (``unet1d.evaluation.quality.score`` against the built-in
   reference) of DDPM-1000, DDIM-50, DDIM-20 and DPM-Solver++ 2M at 20 steps (fp32 and bf16
   autocast) from one checkpoint (trained here, small, or ``--checkpoint RUN``);
   ``ddim50_speedup``, ``ddim50_fd_ratio``, ``dpm20_speedup`` (over DDIM-50), ``dpm20_fd_ratio``.
4. ``quality_per_compute``: ours (conv, attention-8; the real loop) and both peers (a minimal
   DDPM loop) trained for the same wall-clock budget, sampled with our DDIM-50 and scored alike.
5. ``mid_block``: the middle block alone, conv vs attention-8 at 512 channels, lengths 18 to 1152:
   forward and forward+backward time, bytes saved for backward, and CUDA's peak memory.
6. ``scoring``: the classifier test's fifteen fits (five tests x three folds) in turn vs side by side in the
   fold processes ``unet1d eval`` uses (``c2st_parallel_speedup``; in a thread pool: ``c2st_threads_speedup``),
   and the two baselines scored vs read from their cache (``baselines_cached_speedup``).
7. ``help_s``: wall time of ``unet1d --help`` in a fresh process.

Peers need ``pip install -e '.[bench]'`` and ``pip install --no-deps denoising-diffusion-pytorch==2.3.4``;
a missing peer is reported as ``null`` with the reason, never dropped silently.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/run.py` from anywhere
from bench.arguments import json_path, run_main
from bench.mid_block import saved_activation_bytes
from bench.peers import diffusers_temporal_unet, lucidrains_unet
from unet1d.config import Config
from unet1d.config_sources import build_config, resolve_name, with_overrides
from unet1d.data import load_pose_data
from unet1d.diffusion import NoiseSchedule
from unet1d.evaluation import quality
from unet1d.evaluation.sampling import sample_poses
from unet1d.model import UNet1D, count_parameters
from unet1d.model.blocks import ResBlock1D, SelfAttention1D
from unet1d.training.loop import Trainer

PEERS: dict[str, Callable[[], torch.nn.Module]] = {"lucidrains": lucidrains_unet, "diffusers": diffusers_temporal_unet}
QUALITY_KEYS = ("frechet_distance", "precision", "recall", "poses_outside_limits_tol")


@dataclass(frozen=True)
class Settings:
    """How much of everything to run; ``quick`` fits 15 minutes on 2 loaded CPU cores."""

    base_channels: int = 128  # the default network: 5.80M parameters (conv)
    batch_size: int = 256  # the default batch
    rounds: int = 5
    steps: int = 20  # optimiser steps per contender per round
    warmup: int = 3
    sample_base_channels: int = 64  # the checkpoint the samplers are compared on
    sample_train_steps: int = 1000
    sample_poses: int = 2000
    budget_s: float = 300.0  # quality per compute: training seconds per contender
    budget_poses: int = 2000
    mid_batch: int = 32
    mid_lengths: tuple[int, ...] = (18, 36, 72, 144, 288, 576, 1152)
    mid_repeats: int = 5
    help_repeats: int = 5
    peak_size: int = 1024  # the roofline's square matrices (bf16 emulated at ~0.25 GFLOP/s: 8 s a 1024 product)


MODES = {
    "full": Settings(),
    "quick": Settings(
        rounds=3, steps=3, warmup=1, sample_base_channels=32, sample_train_steps=300, sample_poses=500,
        budget_s=40.0, budget_poses=256, mid_batch=8, mid_repeats=3, help_repeats=3,
    ),
    "smoke": Settings(
        base_channels=8, batch_size=32, rounds=2, steps=2, warmup=1, sample_base_channels=8, sample_train_steps=20,
        sample_poses=64, budget_s=2.0, budget_poses=64, mid_batch=2, mid_lengths=(18, 36), mid_repeats=1,
        help_repeats=1, peak_size=128,
    ),
}  # fmt: skip


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    """Seconds ``fn`` takes, device work included."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- training contenders


def bench_config(settings: Settings, device: str, output_dir: Path, **fields: Any) -> Config:
    """``unet1d train``'s defaults, with validation, checkpoints and quality probes pushed past any window."""
    far = 10**9
    values = {
        "base_channels": settings.base_channels, "batch_size": settings.batch_size, "device": device,
        "output_dir": str(output_dir), "overwrite": True, "max_steps": far, "eval_every": far,
        "checkpoint_every": far, "quality_every": 0, "final_eval_samples": 0, "wandb_mode": "disabled",
        "progress": "none", **fields,
    }  # fmt: skip
    return build_config([(".".join(resolve_name(name)), value, "bench/run.py") for name, value in values.items()])


class HarnessRun:
    """The real training loop, driven ``steps`` at a time through :meth:`Trainer.train_until`.

    That is :meth:`Trainer.run` without its ending: the end-of-run validation, checkpoint and
    summary are excluded by definition (a run pays them once, not per step).
    """

    def __init__(self, config: Config) -> None:
        self.trainer = Trainer(config)
        self.batch_size = config.train.batch_size

    def steps(self, count: int) -> None:
        self.trainer.train_until(self.trainer.step + count)

    def close(self) -> None:
        self.trainer.close()


class BareRun:
    """The textbook DDPM step around any network ``(B, 1, L), (B,) -> (B, 1, L)``: forward, MSE, backward, AdamW.

    Same data tensor, batch, noise schedule, prediction target (eps, x0 or v, so our samplers read a
    peer's output right) and optimiser settings as the harness; nothing else.
    """

    def __init__(
        self, network: torch.nn.Module, data: torch.Tensor, batch_size: int, config: Config, *, bf16: bool = False
    ) -> None:
        device = data.device
        self.bf16 = bf16
        self.network = network.to(device).train()
        self.data, self.batch_size = data, batch_size
        optim = config.optim
        self.optimizer = torch.optim.AdamW(network.parameters(), lr=optim.lr, betas=(optim.beta1, optim.beta2))
        self.schedule = NoiseSchedule.from_config(config.diffusion)
        self.prediction = config.diffusion.prediction  # the target the samplers will read the output as
        self.generator = torch.Generator(device=device).manual_seed(0)

    def steps(self, count: int) -> None:
        data, device, batch = self.data, self.data.device, self.batch_size
        for _ in range(count):
            x0 = data[torch.randint(0, len(data), (batch,), generator=self.generator, device=device)]
            t = torch.randint(0, self.schedule.num_timesteps, (batch,), generator=self.generator, device=device)
            noise = torch.randn(x0.shape, generator=self.generator, device=device)
            x_t = self.schedule.add_noise(x0, noise, t)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.bf16):
                output = self.network(x_t[:, None, :], t)[:, 0, :]
            loss = F.mse_loss(output.float(), self.schedule.target(x0, noise, t, self.prediction))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()

    def close(self) -> None:
        pass


def build_peers() -> tuple[dict[str, torch.nn.Module], dict[str, str]]:
    """Each peer's network, seeded alike, or why it is missing."""
    built, missing = {}, {}
    for name, build in PEERS.items():
        try:
            torch.manual_seed(0)
            built[name] = build()
        except ImportError as err:
            missing[name] = str(err)
    return built, missing


def interleaved(contenders: dict[str, Any], settings: Settings, device: torch.device) -> dict[str, list[float]]:
    """Samples/s of each contender per round; the order rotates each round so none always runs first."""
    for contender in contenders.values():
        contender.steps(settings.warmup)
    names = list(contenders)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(settings.rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            contender = contenders[name]
            seconds = timed(lambda c=contender: c.steps(settings.steps), device)
            rates[name].append(settings.steps * contender.batch_size / seconds)
    return rates


def ratio(rates: dict[str, list[float]], top: str, bottom: str) -> float:
    """Median over rounds of top/bottom measured in the same round."""
    return statistics.median(a / b for a, b in zip(rates[top], rates[bottom], strict=True))


def bench_training(
    settings: Settings, device: torch.device, root: Path, profile: bool, compile_mode: str | None = None
) -> dict[str, Any]:
    """Interleaved rounds of the harness, our bare loop (fp32 and bf16) and the peers' bare loops.

    With ``compile_mode`` the harness runs with ``train.compile`` in that mode and our bare networks
    are compiled alike (the peers stay eager), so ``harness_efficiency`` still compares like with like.
    """
    compiled = {"compile": True, "compile_mode": compile_mode} if compile_mode else {}
    harness = HarnessRun(bench_config(settings, device.type, root / "harness", **compiled))
    try:
        data = harness.trainer.batches.data
        config = harness.trainer.config
        torch.manual_seed(0)
        ours = UNet1D.from_config(config.model)
        torch.manual_seed(0)
        ours_bf16 = UNet1D.from_config(config.model)
        wrap = (lambda net: torch.compile(net, mode=compile_mode)) if compile_mode else (lambda net: net)
        contenders: dict[str, Any] = {
            "harness": harness,
            "bare": BareRun(wrap(ours), data, settings.batch_size, config),
            "bare-bf16": BareRun(wrap(ours_bf16), data, settings.batch_size, config, bf16=True),
        }
        peers, missing = build_peers() if settings.base_channels == 128 else ({}, {"all": "matched only at 5.8M"})
        for name, network in peers.items():
            contenders[name] = BareRun(network, data, settings.batch_size, config)
        networks = {"harness": harness.trainer.network, "bare": ours, "bare-bf16": ours_bf16, **peers}
        parameters = {name: count_parameters(network) for name, network in networks.items()}
        gflop = {name: gflop_per_sample(network, device) for name, network in networks.items()}
        rates = interleaved(contenders, settings, device)
        profile_table = profile_harness(harness, device) if profile else None
        # The harness runs train.mixed_precision as resolved here (auto: bf16 where native); its
        # efficiency is against the bare loop in the same arithmetic, like with like.
        harness_precision = harness.trainer.precision
    finally:
        harness.close()
    return {
        "samples_per_s": {name: statistics.median(r) for name, r in rates.items()},
        "samples_per_s_rounds": rates,
        "parameters": parameters,
        "gflop_per_sample": gflop,
        "bf16_speedup": ratio(rates, "bare-bf16", "bare"),
        "harness_efficiency": ratio(rates, "harness", "bare-bf16" if harness_precision == "bf16" else "bare"),
        "harness_precision": harness_precision,
        "vs_peers": {name: (ratio(rates, "harness", name) if name in peers else None) for name in PEERS},
        "vs_peers_network": {name: (ratio(rates, "bare", name) if name in peers else None) for name in PEERS},
        "peers_missing": missing,
        "profile": profile_table,
        "compile_mode": compile_mode,
    }


def gflop_per_sample(network: torch.nn.Module, device: torch.device) -> float:
    """Training GFLOP per pose (forward and backward, counted by torch's FlopCounterMode at batch 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    network = copy.deepcopy(network)  # the count must not touch the contender's weights or statistics
    x = torch.randn(2, 1, 72, device=device)
    t = torch.randint(0, 1000, (2,), device=device)
    with FlopCounterMode(display=False) as counter:
        network(x, t).sum().backward()
    return counter.get_total_flops() / 2 / 1e9


def profile_harness(harness: HarnessRun, device: torch.device, steps: int = 3) -> str:
    """torch.profiler's table of the harness's own steps, by self time (where the time goes)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        harness.steps(steps)
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort, row_limit=25)


# ------------------------------------------------------------------------------------ sampling


def train_small(settings: Settings, device: torch.device, root: Path) -> Path:
    """A small real run (``unet1d train``) to compare the samplers on; its run directory."""
    from unet1d.training import train

    out = root / "sampling-run"
    config = bench_config(
        settings, device.type, out, base_channels=settings.sample_base_channels,
        max_steps=settings.sample_train_steps, checkpoint_every=settings.sample_train_steps, tensorboard=False,
    )  # fmt: skip
    result = train(config)
    if result.exit_code:
        raise SystemExit(f"the sampling checkpoint's training failed (exit {result.exit_code})")
    return out


def bench_sampling(settings: Settings, device: torch.device, run: Path) -> dict[str, Any]:
    """Poses/s and quality of DDPM-1000, DDIM-50, DDIM-20 and DPM-Solver++ 2M (20; fp32, bf16), one checkpoint."""
    from unet1d.store.checkpoints import load_for_eval

    checkpoint = load_for_eval(run)
    base = checkpoint.config
    splits = load_pose_data(base.data, base.model.pose_dim, seed=base.data.data_seed)
    reference = quality.build_reference(base, splits, "auto")
    network = checkpoint.build_model(ema=True, device=device)
    samplers = {
        "ddim50": ["--sampler", "ddim", "--sample_steps", "50", "--sample_precision", "no"],
        "ddpm1000": ["--sampler", "ddpm", "--sample_precision", "no"],
        "ddim20": ["--sampler", "ddim", "--sample_steps", "20", "--sample_precision", "no"],
        "dpm20": ["--sampler", "dpmpp_2m", "--sample_steps", "20", "--sample_precision", "no"],
        "dpm20-bf16": ["--sampler", "dpmpp_2m", "--sample_steps", "20", "--sample_precision", "bf16"],
    }  # fp32 unless named: the speedups compare samplers, then bf16 separately
    rows: dict[str, dict[str, Any]] = {}
    for overrides in (samplers["ddim50"], samplers["dpm20-bf16"]):  # untimed: the first calls' library set-up (12 s
        warm = with_overrides(checkpoint.config, overrides)  # of a 0.3 s DDIM-50 once: a dpm20_speedup of 41)
        sample_poses(network, warm, checkpoint.stats, min(64, settings.sample_poses), seed=0, device=device)
    for name, overrides in [*samplers.items(), ("ddim50", samplers["ddim50"])]:  # DDIM-50 before and after
        config = with_overrides(checkpoint.config, overrides)
        holder: dict[str, Any] = {}

        def draw(config: Config = config, holder: dict[str, Any] = holder) -> None:
            count = settings.sample_poses
            holder["poses"] = sample_poses(network, config, checkpoint.stats, count, seed=0, device=device)

        seconds = timed(draw, device)
        row = rows.setdefault(name, {"seconds": []})
        row["seconds"].append(seconds)
        if "scores" not in row:
            # The rows report FD, precision, recall and limits: the classifier test is left out.
            scores = quality.score(holder["poses"], reference, seed=0, classifier=False)
            row["scores"] = {key: scores[key] for key in QUALITY_KEYS}
    for row in rows.values():
        row["seconds_rounds"] = row["seconds"]  # per-round figures, so a reader sees the spread
        row["seconds"] = statistics.mean(row["seconds"])
        row["poses_per_s"] = settings.sample_poses / row["seconds"]
    return {
        "checkpoint": str(checkpoint.path),
        "parameters": count_parameters(network),
        "num_poses": settings.sample_poses,
        "samplers": rows,
        "ddim50_speedup": rows["ddpm1000"]["seconds"] / rows["ddim50"]["seconds"],
        "ddim50_fd_ratio": rows["ddim50"]["scores"]["frechet_distance"]
        / rows["ddpm1000"]["scores"]["frechet_distance"],
        "dpm20_speedup": rows["ddim50"]["seconds"] / rows["dpm20"]["seconds"],
        "dpm20_bf16_speedup": rows["ddim50"]["seconds"] / rows["dpm20-bf16"]["seconds"],
        "dpm20_fd_ratio": rows["dpm20"]["scores"]["frechet_distance"] / rows["ddim50"]["scores"]["frechet_distance"],
    }


def bench_scoring(settings: Settings, reference: quality.Reference, cache_dir: Path) -> dict[str, Any]:
    """What scoring costs: the classifier test's fifteen fold fits in turn, in a thread pool and in the fold
    processes ``unet1d eval`` runs them in (bench/c2st_pool.py, a fresh interpreter: the processes fork only
    from one that never ran torch), and the two baselines scored vs read back from the cache (``sample_poses``
    real poses against as many)."""
    count = settings.sample_poses
    real = reference.floor[:count]
    fake = real + 0.05 * torch.randn(real.shape, generator=torch.Generator().manual_seed(0)).numpy()
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(cache_dir / "c2st-fake.npy", fake)
    np.save(cache_dir / "c2st-real.npy", real)
    script = Path(__file__).resolve().parent / "c2st_pool.py"
    done = subprocess.run(
        [sys.executable, str(script), str(cache_dir / "c2st-fake.npy"), str(cache_dir / "c2st-real.npy")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    pools = json.loads(done.stdout)
    seconds = {f"c2st_{name}": rounds for name, rounds in pools["seconds"].items()}
    if len(set(pools["auc"].values())) != 1:
        raise RuntimeError(f"the classifier's layouts disagree: {pools['auc']}")
    reference.cache_dir = cache_dir
    for name in ("baselines_scored", "baselines_cached"):  # the first call fills the cache, the second reads it
        started = time.perf_counter()
        quality.baselines(reference, count)
        seconds[name] = [time.perf_counter() - started]
    mean = {name: statistics.mean(rounds) for name, rounds in seconds.items()}
    eval_pool = "c2st_processes" if pools["processes"] else "c2st_threads"
    return {
        "num_poses": count,
        "seconds": mean,
        "seconds_rounds": seconds,
        "cores": pools["cores"],
        "c2st_pool": eval_pool.removeprefix("c2st_"),
        "c2st_parallel_speedup": mean["c2st_in_turn"] / mean[eval_pool],
        "c2st_threads_speedup": mean["c2st_in_turn"] / mean["c2st_threads"],
        "baselines_cached_speedup": mean["baselines_scored"] / mean["baselines_cached"],
    }


# --------------------------------------------------------------------------- quality per compute


class _Flat(torch.nn.Module):
    """(B, L) -> (B, 1, L) -> network -> (B, L): how our samplers call a denoiser."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.inner(x[:, None, :], t)[:, 0, :]


def until(budget_s: float, contender: Any, device: torch.device, chunk: int = 2) -> tuple[int, float]:
    """Train ``chunk`` steps at a time until ``budget_s`` of training is spent; (steps, seconds)."""
    steps, seconds = 0, 0.0
    while seconds < budget_s:
        seconds += timed(lambda: contender.steps(chunk), device)
        steps += chunk
    return steps, seconds


def bench_quality_per_compute(
    settings: Settings, device: torch.device, root: Path, harness_rate: float
) -> dict[str, Any]:
    """Ours (both middles, the real loop) and the peers (a minimal loop) for one wall-clock budget each."""
    rows: dict[str, Any] = {}
    expected_steps = max(10, int(settings.budget_s * harness_rate / settings.batch_size))
    reference = None
    for mid in ("conv", "attention-8"):
        # max_steps = the steps the budget buys at the measured rate, so the lr schedule completes.
        config = bench_config(settings, device.type, root / f"qpc-{mid}", mid=mid, max_steps=expected_steps)
        harness = HarnessRun(config)
        try:
            steps, seconds = until(settings.budget_s, harness, device)
            splits = load_pose_data(config.data, config.model.pose_dim, seed=config.data.data_seed)
            reference = reference or quality.build_reference(config, splits, "auto")
            network, stats = harness.trainer.sampling_network(), harness.trainer.stats
            rows[f"ours {mid}"] = scored(network, config, stats, reference, settings, device, steps, seconds)
            data = harness.trainer.batches.data
        finally:
            harness.close()
    peers, missing = build_peers() if settings.base_channels == 128 else ({}, {})
    for name, network in peers.items():
        bare = BareRun(network, data, settings.batch_size, config)
        steps, seconds = until(settings.budget_s, bare, device)
        rows[name] = scored(_Flat(network), config, stats, reference, settings, device, steps, seconds)
    for name, reason in missing.items():
        rows[name] = {"missing": reason}
    return {"budget_s": settings.budget_s, "num_poses": settings.budget_poses, "rows": rows}


def scored(
    network: torch.nn.Module, config: Config, stats: Any, reference: quality.Reference, settings: Settings,
    device: torch.device, steps: int, seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """Training steps and seconds, and the quality of ``budget_poses`` DDIM-50 samples."""
    poses = sample_poses(network, config, stats, settings.budget_poses, seed=0, device=device)
    scores = quality.score(poses, reference, seed=0, classifier=False)  # QUALITY_KEYS: no classifier test
    return {"steps": steps, "train_s": seconds, **{key: scores[key] for key in QUALITY_KEYS}}


# --------------------------------------------------------------------------------- middle block


def bench_mid_block(settings: Settings, device: torch.device, channels: int = 512, heads: int = 8) -> list[dict]:
    """The middle block alone against length: the reference design's O(L) conv vs O(L^2) attention claim, measured."""
    time_dim = channels  # the default network's: 4 x base_channels
    torch.manual_seed(0)
    blocks = {
        "conv": ResBlock1D(channels, channels, time_dim).to(device),
        "attention": SelfAttention1D(channels, heads, time_dim).to(device),
    }
    rows = []
    for length in settings.mid_lengths:
        x = torch.randn(settings.mid_batch, channels, length, device=device, requires_grad=True)
        emb = torch.randn(settings.mid_batch, time_dim, device=device)
        for name, block in blocks.items():

            def forward(block: torch.nn.Module = block, x: torch.Tensor = x, emb: torch.Tensor = emb) -> None:
                with torch.no_grad():
                    block(x, emb)

            def backward(block: torch.nn.Module = block, x: torch.Tensor = x, emb: torch.Tensor = emb) -> None:
                block(x, emb).sum().backward()

            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            forward(), backward()  # warm-up
            forward_s = statistics.median(timed(forward, device) for _ in range(settings.mid_repeats))
            backward_s = statistics.median(timed(backward, device) for _ in range(settings.mid_repeats))
            peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
            saved = saved_activation_bytes(lambda a, b, block=block: block(a, b), x, emb) / 2**20
            rows.append(
                {"block": name, "length": length, "forward_ms": 1000 * forward_s, "train_ms": 1000 * backward_s,
                 "saved_mib": saved, "peak_cuda_mib": peak}
            )  # fmt: skip
            block.zero_grad(set_to_none=True)
    return rows


# ----------------------------------------------------------------------------------------- --help


def bench_help(repeats: int) -> float:
    """Median wall time of ``unet1d --help`` in a fresh process (the console script when installed)."""
    script = Path(sys.executable).with_name("unet1d")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "unet1d.cli"]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        env = {**os.environ, "COLUMNS": "100"}
        subprocess.run([*command, "--help"], check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ------------------------------------------------------------------------------------------ report


def environment(device: torch.device) -> dict[str, Any]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {
        "device": device.type, "device_name": name, "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
        "load_average_1m_at_start": load, "torch": torch.__version__, "python": platform.python_version(),
        "platform": platform.platform(),
    }  # fmt: skip


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def sampling_table(samp: dict[str, Any]) -> str:
    """Every sampler from one checkpoint: speed and quality."""
    lines = [
        f"| sampler ({samp['parameters']:,}-parameter checkpoint, {samp['num_poses']} poses) | poses/s | FD | "
        "precision | recall | outside limits |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in samp["samplers"].items():
        s = row["scores"]
        lines.append(f"| {name} | {row['poses_per_s']:.1f} | {s['frechet_distance']:.2f} | {s['precision']:.3f} | "
                     f"{s['recall']:.3f} | {s['poses_outside_limits_tol']:.1%} |")  # fmt: skip
    return "\n".join(lines)


def table(result: dict[str, Any]) -> str:
    """The one table, as the README shows it."""
    env, train = result["environment"], result["training"]
    lines = [
        f"device {env['device']} ({env['device_name']}), {env['cpu_count']} cores, {env['threads']} threads, "
        f"load {fmt(env['load_average_1m_at_start'], '.1f')} at start, torch {env['torch']}; mode {result['mode']}"
        + (f", compile_mode {train['compile_mode']}" if train.get("compile_mode") else ""),
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| harness_efficiency (unet1d train / bare loop, same net) | {fmt(result['harness_efficiency'])} | >= 0.95 |",
    ]
    for name in PEERS:
        lines.append(f"| vs_peers {name} (our train loop / their net, bare loop) | {fmt(result['vs_peers'][name])} "
                     f"| >= 1.3 |")  # fmt: skip
    for name in PEERS:
        lines.append(f"| vs_peers_network {name} (our net / theirs, both bare) | "
                     f"{fmt(train['vs_peers_network'][name])} | |")  # fmt: skip
    lines += [
        f"| bf16_speedup (our net, bf16 autocast / fp32, both bare) | {fmt(train['bf16_speedup'])} | |",
        f"| ddim50_speedup (DDPM-1000 time / DDIM-50) | {fmt(result.get('ddim50_speedup'), '.1f')} | >= 15 |",
        f"| ddim50_fd_ratio (DDIM-50 FD / DDPM-1000 FD) | {fmt(result.get('ddim50_fd_ratio'), '.3f')} | <= 1.10 |",
        f"| dpm20_speedup (DDIM-50 time / DPM-Solver++ 2M-20) | {fmt(result.get('dpm20_speedup'))} | |",
        f"| dpm20_bf16_speedup (DDIM-50 fp32 / DPM-20 bf16) | {fmt(result.get('dpm20_bf16_speedup'))} | |",
        f"| dpm20_fd_ratio (DPM-20 FD / DDIM-50 FD) | {fmt(result.get('dpm20_fd_ratio'), '.3f')} | |",
        f"| c2st_parallel_speedup (in turn / eval's fold processes) | {fmt(result.get('c2st_parallel_speedup'))} | |",
        f"| c2st_threads_speedup (in turn / a thread pool) | {fmt(result.get('c2st_threads_speedup'))} | |",
        f"| baselines_cached_speedup (scored / cached) | {fmt(result.get('baselines_cached_speedup'), '.0f')} | |",
        f"| unet1d --help | {fmt(result.get('help_s'))} s | |",
        "",
        "| training contender | parameters | GFLOP/pose (fwd+bwd) | samples/s (median of rounds) |",
        "|---|---|---|---|",
    ]
    for name, rate in train["samples_per_s"].items():
        lines.append(f"| {name} | {train['parameters'][name]:,} | {train['gflop_per_sample'][name]:.3f} | {rate:.1f} |")
    if "sampling" not in result:  # --only training
        return "\n".join(lines)
    lines += ["", sampling_table(result["sampling"])]
    qpc = result["quality_per_compute"]
    lines += [
        "",
        f"| same budget ({qpc['budget_s']:.0f} s training each, {qpc['num_poses']} poses, DDIM-50) | steps | FD | "
        "precision | recall | outside limits |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in qpc["rows"].items():
        if "missing" in row:
            lines.append(f"| {name} | missing: {row['missing'][:60]} | | | | |")
            continue
        lines.append(f"| {name} | {row['steps']} | {row['frechet_distance']:.2f} | {row['precision']:.3f} | "
                     f"{row['recall']:.3f} | {row['poses_outside_limits_tol']:.1%} |")  # fmt: skip
    absolute = env["device"] == "cuda"
    lines += ["", "| middle block, length | conv fwd+bwd x | attention fwd+bwd x | conv saved MiB | attention saved "
              "MiB |" + (" conv ms | attention ms | conv peak MiB | attention peak MiB |" if absolute else ""),
              "|---|---|---|---|---|" + ("---|---|---|---|" if absolute else "")]  # fmt: skip
    by = {(row["block"], row["length"]): row for row in result["mid_block"]}
    base = by[("conv", min(row["length"] for row in result["mid_block"]))]["train_ms"]
    for length in sorted({row["length"] for row in result["mid_block"]}):
        conv, attn = by[("conv", length)], by[("attention", length)]
        line = (f"| {length} | {conv['train_ms'] / base:.2f} | {attn['train_ms'] / base:.2f} | "
                f"{conv['saved_mib']:.1f} | {attn['saved_mib']:.1f} |")  # fmt: skip
        if absolute:
            line += (f" {conv['train_ms']:.2f} | {attn['train_ms']:.2f} | {fmt(conv['peak_cuda_mib'], '.1f')} | "
                     f"{fmt(attn['peak_cuda_mib'], '.1f')} |")  # fmt: skip
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from unet1d.evaluation.c2st import start_fold_workers

    start_fold_workers()  # first, as `unet1d train` does: the quickstart split's probes fit their folds in processes
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="Small settings: under 15 minutes on 2 CPU cores.")
    parser.add_argument("--smoke", action="store_true", help="Tiny settings: checks the plumbing, measures nothing.")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=json_path, default=Path("bench/results/run.json"))
    parser.add_argument("--checkpoint", help="Compare the samplers on this run (or checkpoint), not a new one.")
    parser.add_argument("--profile", action="store_true", help="Add torch.profiler's table of the harness's steps.")
    parser.add_argument(
        "--roofline", action="store_true",
        help="Add bench/roofline.py: matrix peaks, GFLOP/s and share per contender, step profiles, quickstart split.",
    )  # fmt: skip
    parser.add_argument(
        "--compile-mode", choices=["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"],
        help="Train the harness with train.compile in this mode (and compile our bare networks alike).",
    )  # fmt: skip
    parser.add_argument(
        "--only", choices=["all", "training", "sampling"], default="all",
        help="'training': the harness and the peers only; 'sampling': the samplers only (--checkpoint: a real run).",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: this torch sees no CUDA device; allowed here: cpu")
    if args.checkpoint is not None and not Path(args.checkpoint).exists():
        parser.error(f"--checkpoint {args.checkpoint}: no such run or checkpoint folder")
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    settings, device = MODES[mode], torch.device(args.device)
    started, cpu_started = time.perf_counter(), time.process_time()
    result: dict[str, Any] = {"mode": mode, "settings": asdict(settings), "environment": environment(device)}
    with tempfile.TemporaryDirectory(prefix="unet1d-bench-") as tmp:
        root = Path(tmp)
        if args.only in ("all", "training"):
            result["help_s"] = bench_help(settings.help_repeats)
            result["training"] = bench_training(settings, device, root, args.profile, args.compile_mode)
            result["harness_efficiency"] = result["training"]["harness_efficiency"]
            result["vs_peers"] = result["training"]["vs_peers"]
            if args.roofline:  # the matrix peaks, each contender's share, step profiles, the quickstart's time split
                from bench.roofline import bench_section

                result["roofline"] = bench_section(result["training"], settings, device, root)
    with tempfile.TemporaryDirectory(prefix="unet1d-bench-") as tmp:
        root = Path(tmp)
        if args.only in ("all", "sampling"):
            run = Path(args.checkpoint) if args.checkpoint else train_small(settings, device, root)
            result["sampling"] = bench_sampling(settings, device, run)
            result["ddim50_speedup"] = result["sampling"]["ddim50_speedup"]
            result["ddim50_fd_ratio"] = result["sampling"]["ddim50_fd_ratio"]
            for key in ("dpm20_speedup", "dpm20_bf16_speedup", "dpm20_fd_ratio"):
                result[key] = result["sampling"][key]
            config = Config()
            reference = quality.build_reference(config, load_pose_data(config.data, 72, seed=0), "auto")
            result["scoring"] = bench_scoring(settings, reference, root / "cache")
            for key in ("c2st_parallel_speedup", "c2st_threads_speedup", "baselines_cached_speedup"):
                result[key] = result["scoring"][key]
        if args.only == "all":
            harness_rate = result["training"]["samples_per_s"]["harness"]
            result["quality_per_compute"] = bench_quality_per_compute(settings, device, root, harness_rate)
            result["mid_block"] = bench_mid_block(settings, device)
    result["total_s"] = time.perf_counter() - started
    result["cpu_s"] = time.process_time() - cpu_started  # well under total_s x threads: the machine was shared
    if "training" in result:
        print(table(result))
    else:
        samp = result["sampling"]
        keys = ("ddim50_speedup", "ddim50_fd_ratio", "dpm20_speedup", "dpm20_bf16_speedup", "dpm20_fd_ratio")
        print(sampling_table(samp) + "\n" + ", ".join(f"{key} {samp[key]:.3f}" for key in keys))
    if "roofline" in result:
        from bench.roofline import section_table

        print("\n" + section_table(result["roofline"]))
    if result.get("training", {}).get("profile"):
        print("\n" + result["training"]["profile"])
    print(f"\ntotal {result['total_s']:.0f} s wall, {result['cpu_s']:.0f} s CPU")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    run_main(main)
