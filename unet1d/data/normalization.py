"""Per-dimension standardisation of poses, fitted on the training split and kept with the weights.

Training sees ``(x - mean) / std``; samples are mapped back with ``x * std + mean``. A dimension
that never moves (the zero-filled SMPL hand joints of SMPL-H data) gets its std floored at
:data:`STD_FLOOR`, so it stays exactly at its mean instead of dividing by zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

STD_FLOOR = 1e-3


def _as_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, on any device
        value = value.detach().to("cpu").float().numpy()
    return np.asarray(value, dtype=np.float32)


@dataclass
class NormStats:
    """``mean`` and ``std``: (D,) float32; ``std`` >= STD_FLOOR everywhere."""

    mean: np.ndarray
    std: np.ndarray
    envelope: np.ndarray | None = None  # (D, 2) min and max of the training poses: joint limits for file data
    up_axis: str | None = None  # the world up the poses were fitted in ("y"/"z"); None in checkpoints before it

    def __post_init__(self) -> None:
        if self.envelope is not None:
            self.envelope = _as_numpy(self.envelope).reshape(-1, 2)
        self.mean = _as_numpy(self.mean).reshape(-1)
        self.std = np.maximum(_as_numpy(self.std).reshape(-1), STD_FLOOR).astype(np.float32)
        if self.mean.shape != self.std.shape:
            raise ValueError(f"mean {self.mean.shape} and std {self.std.shape} differ in shape")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.std).all()):
            raise ValueError("normalisation statistics contain NaN or Inf")

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def fit(cls, poses: np.ndarray, chunk: int = 1 << 16) -> NormStats:
        """Mean and std of (N, D) training poses: two passes in float64 over chunks of rows, so
        a few million AMASS frames need no full-size float64 copy."""
        poses = np.asarray(poses)
        if poses.ndim != 2 or poses.shape[0] == 0:
            raise ValueError(f"need (N, D) poses with N >= 1 to fit statistics, got shape {poses.shape}")
        blocks = range(0, poses.shape[0], chunk)
        mean = sum(poses[i : i + chunk].sum(axis=0, dtype=np.float64) for i in blocks) / poses.shape[0]
        squares = sum(((poses[i : i + chunk] - mean) ** 2).sum(axis=0) for i in blocks)
        return cls(mean, np.sqrt(squares / poses.shape[0]), envelope_of(poses, chunk))

    @classmethod
    def identity(cls, dim: int, envelope: np.ndarray | None = None) -> NormStats:
        """No-op statistics (mean 0, std 1), for ``normalize: false``."""
        return cls(np.zeros(dim, np.float32), np.ones(dim, np.float32), envelope)

    def _operands(self, x: Any) -> tuple[Any, Any, Any]:
        if x.shape[-1] != self.dim:
            raise ValueError(f"poses have {x.shape[-1]} numbers in the last dimension; the statistics {self.dim}")
        if isinstance(x, np.ndarray):
            x = x if x.dtype.kind == "f" else x.astype(np.float32)
            return x, self.mean.astype(x.dtype), self.std.astype(x.dtype)
        import torch

        x = x if x.is_floating_point() else x.float()
        mean = torch.as_tensor(self.mean, device=x.device, dtype=x.dtype)
        return x, mean, torch.as_tensor(self.std, device=x.device, dtype=x.dtype)

    def normalize(self, x: Any) -> Any:
        """``(x - mean) / std`` over the last dimension; numpy in, numpy out; a tensor stays on its device."""
        x, mean, std = self._operands(x)
        return (x - mean) / std

    def denormalize(self, x: Any) -> Any:
        """``x * std + mean``: the inverse of :meth:`normalize`."""
        x, mean, std = self._operands(x)
        return x * std + mean

    def to_tensors(self) -> dict[str, Any]:
        """``{"mean", "std"}`` as CPU float32 tensors, ready for safetensors."""
        import torch

        tensors = {"mean": torch.from_numpy(self.mean.copy()), "std": torch.from_numpy(self.std.copy())}
        if self.envelope is not None:
            tensors["envelope"] = torch.from_numpy(self.envelope.copy())
        if self.up_axis is not None:
            tensors["up_axis"] = torch.tensor(["x", "y", "z"].index(self.up_axis), dtype=torch.int64)
        return tensors

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, Any]) -> NormStats:
        """Inverse of :meth:`to_tensors`; accepts tensors (any device) or arrays."""
        missing = {"mean", "std"} - set(tensors)
        if missing:
            raise ValueError(f"normalisation statistics lack {sorted(missing)}")
        up = tensors.get("up_axis")
        if up is not None and int(up) not in (1, 2):
            raise ValueError(f"normalisation statistics name up axis {int(up)}; allowed: 1 (y) or 2 (z)")
        std = _as_numpy(tensors["std"])
        if std.size and std.min() < np.float32(STD_FLOOR):  # every fit floors it: changed after the save, not data
            raise ValueError(
                f"normalisation statistics hold a std of {std.min():.3g}, below the {STD_FLOOR} every fit stores"
            )
        return cls(tensors["mean"], tensors["std"], tensors.get("envelope"), None if up is None else "xyz"[int(up)])


def envelope_of(poses: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """(D, 2) per-dimension min and max of (N, D) poses, over chunks of rows (no full-size copy)."""
    blocks = range(0, poses.shape[0], chunk)
    low = np.min([poses[i : i + chunk].min(axis=0) for i in blocks], axis=0)
    high = np.max([poses[i : i + chunk].max(axis=0) for i in blocks], axis=0)
    return np.stack([low, high], axis=-1).astype(np.float32)
