"""Samplers on one checkpoint over several sampling seeds: is a faster sampler within seed noise?

    python bench/sampler_seeds.py RUN --seeds 0,1,2 --num-samples 2000 --json out.json \
        --variants ddim50-fp32,dpm20-bf16,dpm20-fp32

One process, one thread, the reference built once, the variants interleaved per seed so load from
other work hits all alike. Each row: the CPU seconds of sampling (user + system, ``getrusage``)
and the scores ``unet1d eval`` prints for the model (baselines do not depend on the sampler).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/sampler_seeds.py` from anywhere
from bench.arguments import json_path, positive_int, run_main
from unet1d.config import MIN_EVAL_SAMPLES
from unet1d.data import load_pose_data
from unet1d.evaluation import quality
from unet1d.evaluation.sampling import sample_poses
from unet1d.store.checkpoints import load_for_eval

VARIANTS = {  # name: (sampler, steps, network arithmetic while sampling)
    "ddim50-fp32": ("ddim", 50, "no"),
    "ddim50-bf16": ("ddim", 50, "bf16"),
    "ddim100-bf16": ("ddim", 100, "bf16"),
    "dpm20-fp32": ("dpmpp_2m", 20, "no"),
    "dpm20-bf16": ("dpmpp_2m", 20, "bf16"),
    "dpm25-bf16": ("dpmpp_2m", 25, "bf16"),
    "dpm50-bf16": ("dpmpp_2m", 50, "bf16"),
}


def cpu_seconds() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--num-samples", type=positive_int, default=2000)
    parser.add_argument("--variants", default="ddim50-fp32,dpm20-bf16,dpm20-fp32")
    parser.add_argument("--json", type=json_path, default=Path("bench/results/sampler_seeds.json"))
    args = parser.parse_args(argv)
    if args.num_samples < MIN_EVAL_SAMPLES:  # the scores' classifier needs that many a side
        parser.error(f"argument --num-samples: {args.num_samples}: at least {MIN_EVAL_SAMPLES}")
    unknown = sorted(set(args.variants.split(",")) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {', '.join(unknown)}; allowed: {', '.join(VARIANTS)}")
    if not all(seed.strip().isdigit() for seed in args.seeds.split(",")):
        parser.error(f"--seeds {args.seeds!r}: allowed: whole numbers >= 0, comma-separated")
    torch.set_num_threads(1)
    checkpoint = load_for_eval(args.run)
    base = checkpoint.config
    splits = load_pose_data(base.data, base.model.pose_dim, seed=base.data.data_seed)
    reference = quality.build_reference(base, splits, base.evaluation.eval_reference)
    network = checkpoint.build_model(ema=True, device="cpu")
    rows: list[dict] = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for name in args.variants.split(","):
            sampler, steps, precision = VARIANTS[name]
            diffusion = base.diffusion.model_copy(
                update={"sampler": sampler, "sample_steps": steps, "sample_precision": precision}
            )
            config = base.model_copy(update={"diffusion": diffusion})
            (user, system), started = cpu_seconds(), time.perf_counter()
            poses = sample_poses(
                network, config, checkpoint.stats, args.num_samples, seed=seed, device=torch.device("cpu")
            )
            (user_end, system_end), wall = cpu_seconds(), time.perf_counter() - started
            scores = quality.score(poses, reference, seed=seed)
            numbers = {key: value for key, value in scores.items() if isinstance(value, (int, float))}
            row = {"variant": name, "seed": seed, "num_samples": args.num_samples,
                   "sample_cpu_s": user_end - user + system_end - system, "sample_sys_s": system_end - system,
                   "sample_wall_s": wall, **numbers}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"checkpoint": str(checkpoint.path), "rows": rows}, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    run_main(main)
