"""AdamW and its learning-rate schedule: linear warm-up, then cosine decay to a floor (or constant)."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from unet1d.config import Config, OptimConfig


def lr_factor(step: int, *, warmup_steps: int, max_steps: int, schedule: str, min_lr_ratio: float) -> float:
    """Multiplier of the peak lr for optimiser step ``step`` (0-based).

    Warm-up rises linearly to 1 over ``warmup_steps``; cosine then falls to ``min_lr_ratio`` at
    ``max_steps``. A module-level function (bound with ``partial``), so LambdaLR's state holds no
    closure and the schedule is rebuilt from the config on resume.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def schedule_concerns(config: Config) -> list[str]:
    """What makes a run's schedule not the one its settings suggest: all of it warm-up, or one validation."""
    optim, train = config.optim, config.train
    concerns = []
    if optim.warmup_steps >= train.max_steps:
        ends = optim.lr * lr_factor(train.max_steps - 1, warmup_steps=optim.warmup_steps, max_steps=train.max_steps,
                                    schedule=optim.lr_schedule, min_lr_ratio=optim.min_lr_ratio)  # fmt: skip
        peak = f"its peak {optim.lr:.2e} unreached" if ends < optim.lr else "its peak at the last step alone"
        concerns.append(
            f"optim.warmup_steps={optim.warmup_steps} is not below train.max_steps={train.max_steps}: the whole run "
            f"warms up (its learning rate ends at {ends:.2e}, {peak}) and never decays; give fewer --warmup_steps"
        )
    if train.eval_every > train.max_steps:
        concerns.append(
            f"train.eval_every={train.eval_every} exceeds train.max_steps={train.max_steps}: the run validates once, "
            "at its last step, so its val loss curve is one point and `compare` reads steps to common as the run's "
            "length; give a smaller --eval_every"
        )
    return concerns


def build_optimizer(
    model: nn.Module, config: OptimConfig, max_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over all parameters, with norms and biases exempt from weight decay (the usual choice).

    The fused kernel (one pass over all tensors; on the CPU too) spends 3-7 % less CPU per quickstart
    step than the per-tensor loop PyTorch picks by default for CPU tensors (docs/speed.md).
    """
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        fused=True,
    )
    factor = partial(
        lr_factor,
        warmup_steps=config.warmup_steps,
        max_steps=max_steps,
        schedule=config.lr_schedule,
        min_lr_ratio=config.min_lr_ratio,
    )
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def extension_note(config: OptimConfig, step: int, before: int, after: int) -> str | None:
    """What a resume with another ``max_steps`` does to the learning rate at ``step``, for a person: the cosine
    is rebuilt over the new length, so the lr jumps where the old schedule had it (None when it does not move)."""
    if before == after or config.lr_schedule == "constant" or step < config.warmup_steps:
        return None
    factors = [
        lr_factor(step, warmup_steps=config.warmup_steps, max_steps=steps, schedule=config.lr_schedule,
                  min_lr_ratio=config.min_lr_ratio)
        for steps in (before, after)
    ]  # fmt: skip
    if math.isclose(factors[0], factors[1]):  # min_lr_ratio 1: the cosine is flat
        return None
    return (
        f"max_steps {before} -> {after}: the cosine schedule now spans {after} steps, so at step {step} the "
        f"learning rate moves from {config.lr * factors[0]:.2e} to {config.lr * factors[1]:.2e}; this run is not "
        f"one trained for {after} steps from the start"
    )
