"""Which arithmetic a run uses: ``train.mixed_precision`` (``auto`` included) resolved against the hardware.

bf16 autocast pays only where the hardware multiplies bf16 natively: CPUs with AMX or AVX-512
BF16 (oneDNN then runs convolutions ~1.9x faster than fp32 here) and CUDA devices that support
bf16. Elsewhere bf16 is emulated and slower than fp32, so ``auto`` picks fp32 there. Training,
sampling and evaluation resolve the setting the same way, and reports name the result.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

PRECISIONS: tuple[str, ...] = ("auto", "no", "bf16", "fp16")


def cpu_has_native_bf16() -> bool:
    """AMX-BF16 or AVX512-BF16 on this CPU: torch's own probes, else the Linux CPU flags."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    if all(callable(probe) for probe in probes):
        return any(probe() for probe in probes)
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def device_problem(device: str) -> str | None:
    """Why ``device`` (``auto``, ``cpu``, ``cuda`` or ``cuda:N``) cannot run here; None when it can."""
    if device in ("auto", "cpu"):
        return None
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if match is None:
        return "not a device; use auto, cpu, cuda or cuda:N"
    if not torch.cuda.is_available():
        return "no CUDA device is available; use auto or cpu"
    count = torch.cuda.device_count()
    if int(match.group(1) or 0) >= count:
        return f"this machine has {count} CUDA device{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})"
    return None


def uses_cuda(device: str) -> bool:
    """Whether a run with ``train.device=device`` computes on CUDA: ``auto`` takes it where there is one."""
    return device != "cpu" and torch.cuda.is_available()


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when present, else the CPU; any other name as torch spells it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` runs bf16 arithmetic natively (not emulated through fp32)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return False


def resolve_precision(setting: str, device: torch.device | str) -> str:
    """``auto`` -> ``bf16`` where :func:`native_bf16`, else ``no`` (fp32); other settings unchanged."""
    if setting == "auto":
        return "bf16" if native_bf16(device) else "no"
    return setting


def precision_label(precision: str) -> str:
    """What reports print: ``fp32`` for ``no``, else the autocast dtype's name."""
    return "fp32" if precision == "no" else precision


@contextlib.contextmanager
def autocast(precision: str, device: torch.device | str) -> Iterator[None]:
    """Autocast for a resolved precision (``no``, ``bf16``, ``fp16``) on ``device``; ``no`` is a no-op."""
    device = torch.device(device)
    if precision == "no":
        yield
        return
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def sampling_precision(config: Any, device: torch.device | str) -> str:
    """A run config's ``diffusion.sample_precision`` resolved on ``device`` (``auto`` -> bf16 where native).

    Its own field, not ``train.mixed_precision``: bf16 sampling was measured lossless on one
    checkpoint (docs/speed.md), which says nothing about training in bf16. fp16 falls back to
    fp32 on the CPU, where it is not offered; the sampler's own arithmetic stays in fp32.
    """
    return runnable_precision(resolve_precision(config.diffusion.sample_precision, device), device)


def runnable_precision(precision: str, device: torch.device | str) -> str:
    """A resolved precision as ``device`` runs it: fp16, offered on CUDA only, is fp32 (``no``) elsewhere."""
    return "no" if precision == "fp16" and torch.device(device).type != "cuda" else precision
