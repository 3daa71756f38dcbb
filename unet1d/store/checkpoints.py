"""Checkpoints: self-describing directories under ``<output_dir>/checkpoints/step-<N>/``.

A checkpoint holds what evaluation needs, in formats that load without pickle::

    model.safetensors        raw weights (keys of a bare UNet1D)
    ema.safetensors          EMA weights (same keys), when optim.ema is on
    norm_stats.safetensors   mean/std the model was trained on
    config.yaml              the resolved config (rebuilds the network and the noise schedule)
    checkpoint.json          format version, step, loop counters, data position; written last

and what exact resume needs besides: Accelerate's full training state in ``accelerate/``
(optimiser, LR schedule, global RNGs of every rank, grad scaler; loaded with
``torch.load(weights_only=True)``) and ``rank-<r>.safetensors`` (each rank's noise generator).

Writes are atomic: everything goes to ``.tmp-step-<N>/`` and one ``rename`` publishes it, so a
run killed mid-write leaves a temp directory (ignored, and removed by the next save), never a
checkpoint that looks complete.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_file

from unet1d.errors import UserError

if TYPE_CHECKING:
    from accelerate import Accelerator
    from torch import nn

    from unet1d.config import Config
    from unet1d.data import NormStats
    from unet1d.diffusion import EMA

FORMAT_VERSION = 1
CHECKPOINTS_DIR = "checkpoints"
MARKER = "checkpoint.json"
MODEL_FILE = "model.safetensors"
EMA_FILE = "ema.safetensors"
STATS_FILE = "norm_stats.safetensors"
CONFIG_FILE = "config.yaml"
ACCELERATE_DIR = "accelerate"
EVAL_FILES = (MODEL_FILE, EMA_FILE, STATS_FILE, CONFIG_FILE, MARKER)
STEP_PATTERN = re.compile(r"^step-(\d+)$")


def checkpoint_step(path: Path) -> int | None:
    match = STEP_PATTERN.match(path.name)
    return int(match.group(1)) if match else None


def list_checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoints in ``output_dir``, oldest first."""
    root = Path(output_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if checkpoint_step(p) is not None and (p / MARKER).is_file()]
    return sorted(found, key=lambda p: checkpoint_step(p) or 0)


def latest_checkpoint(output_dir: Path) -> Path | None:
    found = list_checkpoints(output_dir)
    return found[-1] if found else None


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint directory, or the latest one of a run's output directory (for ``unet1d eval DIR``)."""
    path = Path(path).expanduser()
    if (path / MARKER).is_file():
        return path
    if path.is_dir():
        latest = latest_checkpoint(path)
        if latest is not None:
            return latest
        raise UserError(f"{path} holds no complete checkpoint (looked for {CHECKPOINTS_DIR}/step-<N>/{MARKER})")
    raise UserError(f"checkpoint {str(path)!r} does not exist")


def read_marker(checkpoint: Path) -> dict[str, Any]:
    data = json.loads((checkpoint / MARKER).read_text())
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise UserError(f"{checkpoint}: checkpoint format {version} is not the supported {FORMAT_VERSION}")
    return data


def read_config(checkpoint: Path) -> Config:
    import yaml

    from unet1d.config_sources import config_from_dict

    return config_from_dict(yaml.safe_load((checkpoint / CONFIG_FILE).read_text()), origin=str(checkpoint))


def _cpu_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().to("cpu").contiguous() for name, tensor in state.items()}


def save_checkpoint(
    accelerator: Accelerator,
    output_dir: Path,
    *,
    step: int,
    model: nn.Module,
    ema: EMA | None,
    config: Config,
    stats: NormStats,
    loop_state: dict[str, Any],
    rank_tensors: dict[str, torch.Tensor],
    keep: int,
) -> Path:
    """Write checkpoint ``step`` atomically and keep the last ``keep``; every rank must call this.

    ``model`` is the unwrapped network; ``loop_state`` JSON-able counters (the same on every
    rank); ``rank_tensors`` this rank's own state (its noise generator).
    """
    root = Path(output_dir) / CHECKPOINTS_DIR
    final, staging = root / f"step-{step}", root / f".tmp-step-{step}"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging / ACCELERATE_DIR), safe_serialization=True)
    save_file(_cpu_tensors(rank_tensors), str(staging / f"rank-{accelerator.process_index}.safetensors"))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        metadata = {"format": "pt", "unet1d_format_version": str(FORMAT_VERSION), "step": str(step)}
        save_file(_cpu_tensors(model.state_dict()), str(staging / MODEL_FILE), metadata=metadata)
        if ema is not None:
            save_file(_cpu_tensors(ema.module.state_dict()), str(staging / EMA_FILE), metadata=metadata)
        save_file(stats.to_tensors(), str(staging / STATS_FILE))
        (staging / CONFIG_FILE).write_text(config.to_yaml())
        marker = {
            "format_version": FORMAT_VERSION,
            "step": step,
            "world_size": accelerator.num_processes,
            "ema_updates": ema.num_updates if ema is not None else None,
            "loop": loop_state,
        }
        (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        _publish(staging, final)
        prune_checkpoints(output_dir, keep)
    accelerator.wait_for_everyone()
    return final


def _publish(staging: Path, final: Path) -> None:
    """Rename the finished staging directory into place (replacing a same-step checkpoint)."""
    if final.exists():
        retired = final.with_name(f".old-{final.name}")
        shutil.rmtree(retired, ignore_errors=True)
        final.rename(retired)
        staging.rename(final)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(final)


def prune_checkpoints(output_dir: Path, keep: int) -> None:
    """Keep the newest ``keep`` complete checkpoints; remove older ones and leftovers of killed writes."""
    complete = list_checkpoints(output_dir)
    for old in complete[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    root = Path(output_dir) / CHECKPOINTS_DIR
    for leftover in [*root.glob(".tmp-step-*"), *root.glob(".old-step-*")]:  # saves are never concurrent
        shutil.rmtree(leftover, ignore_errors=True)


@dataclass
class RestoredState:
    step: int
    loop: dict[str, Any]
    rank_tensors: dict[str, torch.Tensor]


def restore_checkpoint(accelerator: Accelerator, checkpoint: Path, *, ema: EMA | None) -> RestoredState:
    """Load everything a run needs to continue exactly where ``checkpoint`` left off (every rank)."""
    marker = read_marker(checkpoint)
    if marker["world_size"] != accelerator.num_processes:
        raise UserError(
            f"{checkpoint} was written by {marker['world_size']} processes; resume it with the same "
            f"number (now {accelerator.num_processes}), so every rank finds its data position and generator"
        )
    accelerator.load_state(str(checkpoint / ACCELERATE_DIR))
    if ema is not None:
        weights = load_file(str(checkpoint / EMA_FILE))
        state = {f"module.{name}": tensor for name, tensor in weights.items()}
        state["n_averaged"] = torch.tensor(marker["ema_updates"], dtype=torch.long)
        ema.load_state_dict(state)
    rank_tensors = load_file(str(checkpoint / f"rank-{accelerator.process_index}.safetensors"))
    return RestoredState(step=int(marker["step"]), loop=marker["loop"], rank_tensors=rank_tensors)


@dataclass
class EvalCheckpoint:
    """What evaluation needs from a checkpoint: no optimiser, no pickle."""

    path: Path
    step: int
    config: Config
    stats: NormStats
    model_weights: dict[str, torch.Tensor]
    ema_weights: dict[str, torch.Tensor] | None

    def build_model(self, *, ema: bool = True, device: str | torch.device = "cpu") -> nn.Module:
        """The network in eval mode, with EMA weights when asked for and present, else the raw ones."""
        from unet1d.data.representation import network_config
        from unet1d.model import UNet1D

        model = UNet1D.from_config(network_config(self.config))
        weights = self.ema_weights if ema and self.ema_weights is not None else self.model_weights
        model.load_state_dict(weights)
        return model.to(device).eval()


def load_for_eval(path: str | Path) -> EvalCheckpoint:
    """Read a checkpoint (or a run's latest) for evaluation or sampling; needs no other input."""
    from unet1d.data import NormStats

    checkpoint = find_checkpoint(path)
    marker = read_marker(checkpoint)
    from unet1d.data.representation import wrap_stats

    ema_path = checkpoint / EMA_FILE
    config = read_config(checkpoint)
    return EvalCheckpoint(
        path=checkpoint,
        step=int(marker["step"]),
        config=config,
        stats=wrap_stats(NormStats.from_tensors(load_file(str(checkpoint / STATS_FILE))), config.data.representation),
        model_weights=load_file(str(checkpoint / MODEL_FILE)),
        ema_weights=load_file(str(ema_path)) if ema_path.is_file() else None,
    )
