"""`PosePrior`: a trained run as a prior over poses, for code that fits bodies to images or IMUs.

    prior = PosePrior.load("runs/quickstart")
    hidden = parse_mask("legs", prior.pose_dim)
    completed = prior.complete(poses, hidden, hypotheses=10)   # (N, 10, D)
    cleaned = prior.denoise(noisy, noise_std=0.1)               # (N, 1, D)

Poses go in and come out as the data holds them: (N, D) axis-angle radians, D = 72 (SMPL) or 63
(body only), in the data's own up axis and heading. A run trained with ``data.heading canonical``
saw every pose turned to heading 0: inputs are turned there and the result turned back, so a
completed pose faces where its input faced. Observed components come back bit for bit.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from unet1d.body.heading import apply_heading, canonical_heading, has_root, heading_of
from unet1d.body.skeleton import COMPLETION_PARTS, joint_names_for_width
from unet1d.data.representation import NUMBERS_PER_JOINT, network_config
from unet1d.data.up_axis import run_up_axis
from unet1d.diffusion.completion import (
    DEFAULT_DENOISE_METHOD,
    DEFAULT_METHOD,
    DEFAULT_SHRINK,
    GRADIENT_METHODS,
    METHODS,
    guided_start,
    impute,
    shrink_hypotheses,
)
from unet1d.diffusion.schedules import NoiseSchedule
from unet1d.errors import UserError
from unet1d.precision import autocast, resolve_device, sampling_precision
from unet1d.store.checkpoints import load_for_eval

if TYPE_CHECKING:
    from unet1d.config import Config

CHUNK = 512  # rows (poses x hypotheses) per network batch: bounded activations, as sampling (no page-fault storms)


def parse_mask(spec: str, pose_dim: int) -> np.ndarray:
    """``"legs,left_wrist"`` -> (J,) bool, True for each joint to complete (J = 24 for width 72, 21 for 63).

    Names are :data:`COMPLETION_PARTS` and SMPL joint names, comma-separated, case-insensitive.
    """
    names = joint_names_for_width(pose_dim)
    allowed = f"allowed: parts {', '.join(COMPLETION_PARTS)}; joints {', '.join(names)}"
    hidden = np.zeros(len(names), dtype=bool)
    for item in (part.strip().lower() for part in spec.split(",")):
        if not item:
            continue
        if item in COMPLETION_PARTS:
            hidden[[names.index(joint) for joint in COMPLETION_PARTS[item]]] = True
        elif item in names:
            hidden[names.index(item)] = True
        else:
            raise UserError(f"--mask {spec!r}: {item!r} is no part or joint of a {pose_dim}-number pose; {allowed}")
    if not hidden.any():
        raise UserError(f"--mask {spec!r} hides nothing; {allowed}")
    if hidden.all():
        raise UserError(f"--mask {spec!r} hides every joint: nothing is left to complete from (use `unet1d sample`)")
    return hidden


class PosePrior:
    """A trained network with its run's config and statistics, completing and denoising poses."""

    def __init__(self, network: torch.nn.Module, config: Config, stats: Any, device: torch.device | str) -> None:
        self.network = network.eval()
        self.config = config
        self.stats = stats
        self.device = torch.device(device)
        self.schedule = NoiseSchedule.from_config(config.diffusion)
        self.pose_dim = config.model.pose_dim
        self.up_axis = run_up_axis(config.data, stats)
        self.joint_names = joint_names_for_width(self.pose_dim)
        self._numbers = NUMBERS_PER_JOINT[config.data.representation]  # network numbers per joint
        self._width = network_config(config).pose_dim

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto", ema: bool = True) -> PosePrior:
        """From a run folder (its latest checkpoint) or a checkpoint folder; EMA weights when the run has them."""

        torch_device = resolve_device(device)
        checkpoint = load_for_eval(path)
        network = checkpoint.build_model(ema=ema, device=torch_device)
        return cls(network, checkpoint.config, checkpoint.stats, torch_device)

    def complete(
        self,
        poses: np.ndarray,
        hidden: np.ndarray,
        *,
        hypotheses: int = 10,
        seed: int = 0,
        method: str | None = None,
        steps: int | None = None,
        shrink: float = DEFAULT_SHRINK,
    ) -> np.ndarray:
        """(N, hypotheses, D): the ``hidden`` joints ((J,) or (N, J) bool) of ``poses`` (N, D) drawn from the prior.

        ``method`` None is :data:`~unet1d.diffusion.completion.DEFAULT_METHOD`; ``steps`` None its default steps.
        ``shrink`` pulls each pose's hypotheses towards their mean (1: plain draws; see
        :func:`~unet1d.diffusion.completion.shrink_hypotheses`)."""
        if not 0.0 <= shrink <= 1.0:
            raise UserError(f"--shrink {shrink}: must be between 0 (every hypothesis the mean) and 1 (plain draws)")
        poses = self._check(poses)
        hidden = np.broadcast_to(np.asarray(hidden, dtype=bool), (len(poses), len(self.joint_names)))
        noise = np.where(np.repeat(hidden, self._numbers, axis=1), np.inf, 0.0)
        out = self._impute(poses, noise, hypotheses, seed, method or DEFAULT_METHOD, steps, shrink)
        observed = ~np.repeat(hidden, 3, axis=1)[:, None, :]
        return np.where(observed, poses[:, None, :], out)

    def denoise(
        self,
        poses: np.ndarray,
        *,
        noise_std: float,
        hypotheses: int = 1,
        seed: int = 0,
        method: str | None = None,
        steps: int | None = None,
    ) -> np.ndarray:
        """(N, hypotheses, D) clean poses given ``poses`` (N, D) with Gaussian noise of ``noise_std`` radians per
        axis-angle component. In the network's standardised units that noise is ``noise_std / std`` per
        component (for 6D rotations the same, a first-order approximation). ``method`` None is
        :data:`~unet1d.diffusion.completion.DEFAULT_DENOISE_METHOD`."""
        if not noise_std > 0:
            raise UserError(f"--noise-std {noise_std}: must be > 0 radians (the noise the poses carry)")
        poses = self._check(poses)
        inner = getattr(self.stats, "inner", self.stats)  # 6D statistics when the network sees 6D
        noise = np.broadcast_to(noise_std / np.asarray(inner.std, dtype=np.float64), (len(poses), self._width))
        return self._impute(poses, noise, hypotheses, seed, method or DEFAULT_DENOISE_METHOD, steps, 1.0)

    def _check(self, poses: np.ndarray) -> np.ndarray:
        poses = np.asarray(poses, dtype=np.float32)
        if poses.ndim != 2 or poses.shape[1] != self.pose_dim:
            raise UserError(
                f"poses of shape {poses.shape}: this run's poses are (N, {self.pose_dim}) axis-angle radians"
            )
        if not np.isfinite(poses).all():
            raise UserError("poses hold NaN or infinite values; allowed: finite axis-angle radians")
        return poses

    def _impute(
        self,
        poses: np.ndarray,
        noise: np.ndarray,
        hypotheses: int,
        seed: int,
        method: str,
        steps: int | None,
        shrink: float,
    ) -> np.ndarray:
        """Run :func:`impute` on every pose ``hypotheses`` times in the network's space, shrink each pose's
        hypotheses towards their mean by ``shrink``; -> (N, H, D) radians."""
        if method not in METHODS:
            raise UserError(f"--method {method!r}: allowed: {', '.join(METHODS)}")
        if hypotheses < 1:
            raise UserError(f"--hypotheses {hypotheses}: must be at least 1")
        turn = self.config.data.heading == "canonical" and has_root(poses)
        headings = heading_of(poses, self.up_axis) if turn else None
        network_poses = canonical_heading(poses, self.up_axis) if turn else poses
        inputs = np.asarray(self.stats.normalize(network_poses), dtype=np.float32)
        input_levels = np.asarray(np.broadcast_to(noise, inputs.shape), dtype=np.float32)
        encoded = np.repeat(inputs, hypotheses, axis=0)
        levels = np.repeat(input_levels, hypotheses, axis=0)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        prediction = self.config.diffusion.prediction
        drawn = []
        # No autograd bookkeeping where no gradient is taken (dps, dposer and guided take theirs).
        grad_mode = contextlib.nullcontext() if method in GRADIENT_METHODS else torch.inference_mode()
        with grad_mode, autocast(sampling_precision(self.config, self.device), self.device):
            starts = self._guided_starts(inputs, input_levels, hypotheses, generator) if method == "guided" else None
            for first in range(0, len(encoded), CHUNK):
                rows = slice(first, first + CHUNK)
                observed = torch.as_tensor(encoded[rows], device=self.device)
                level = torch.as_tensor(levels[rows], device=self.device)
                start = None if starts is None else starts[rows].to(self.device)
                out = impute(self.network, self.schedule, observed, level, method=method, steps=steps,
                             prediction=prediction, generator=generator, start=start)  # fmt: skip
                drawn.append(out.float().cpu())
        network_draws = torch.cat(drawn).view(len(poses), hypotheses, -1)
        known = torch.as_tensor(noise == 0)
        network_draws = shrink_hypotheses(network_draws, known, shrink).reshape(len(poses) * hypotheses, -1)
        decoded = np.asarray(self.stats.denormalize(network_draws.numpy()), dtype=np.float32)
        if turn:
            decoded = apply_heading(decoded, np.repeat(headings, hypotheses), self.up_axis)
        return decoded.reshape(len(poses), hypotheses, self.pose_dim)

    def _guided_starts(
        self, inputs: np.ndarray, levels: np.ndarray, hypotheses: int, generator: torch.Generator
    ) -> torch.Tensor:
        """``guided``'s start for each pose, computed once per pose (not per hypothesis) in chunks of CHUNK poses:
        its trajectories take gradients, and small batches are what threads and a loaded CPU handle worst.
        -> (N x hypotheses, W) on the CPU, each pose's start repeated for its hypotheses."""
        pieces = []
        for first in range(0, len(inputs), CHUNK):
            rows = slice(first, first + CHUNK)
            observed = torch.as_tensor(inputs[rows], device=self.device)
            level = torch.as_tensor(levels[rows], device=self.device)
            start = guided_start(self.network, self.schedule, observed, level,
                                 prediction=self.config.diffusion.prediction, generator=generator)  # fmt: skip
            pieces.append(start.float().cpu())
        return torch.cat(pieces).repeat_interleave(hypotheses, dim=0)
